"""Vitis HLS C++ for a design: one kernel header per layer, the dataflow top, a C testbench.

:func:`emit_hls` returns ``{path relative to the project: text}`` for ``hls/``.  Every shift-add
graph becomes straight-line ``ap_int`` code of the exact widths planned in
:mod:`hlsgen.emit.common`; constant multiplications (requantization, Add multipliers) are CSD
shift-adds too, so no kernel contains a ``*``.  This module prepares names and operand lists;
the C++ text lives in ``templates/hls``.
"""

from __future__ import annotations

from dataclasses import dataclass

import jinja2

import hlsgen
from hlsgen import ir
from hlsgen.emit import common
from hlsgen.emit.common import (
    TOP_NAME,
    AddPlan,
    AvgPoolPlan,
    BlockPlan,
    ConvPlan,
    DensePlan,
    DesignPlan,
    ForkPlan,
    MaxPoolPlan,
    Requant,
    TensorPlan,
)
from hlsgen.hw.target import Target

__all__ = ["emit_hls", "render_hls", "c_literal"]

_TEMPLATES = {
    ConvPlan: "layer_conv.h.j2",
    DensePlan: "layer_dense.h.j2",
    MaxPoolPlan: "layer_maxpool.h.j2",
    AvgPoolPlan: "layer_avgpool.h.j2",
    AddPlan: "layer_add.h.j2",
    ForkPlan: "fork.h.j2",
}
_STATIC = ("hlsgen_ops.h", "csim_compat/ap_axi_sdata.h")


def emit_hls(design, options: Target | None = None) -> dict[str, str]:
    """``hls/`` files of a :class:`hlsgen.design.Design`."""
    return render_hls(common.plan_design(design, options or Target()))


def render_hls(plan: DesignPlan) -> dict[str, str]:
    env = _environment()
    files: dict[str, str] = {}
    for process in plan.processes:
        template = env.get_template(_TEMPLATES[type(process)])
        files[f"hls/{process.ident}.h"] = _tidy(template.render(**_process_context(process)))
    top = dict(
        top=TOP_NAME, name=plan.name, version=hlsgen.__version__, input=plan.input,
        output=plan.output, output_last=plan.output.beats - 1, processes=plan.processes,
        streams=plan.streams, in_stream=plan.in_stream, out_stream=plan.out_stream,
        part=plan.options.part, period=_period(plan.options),
    )
    for name in ("hlsgen_top.h", "hlsgen_top.cpp", "tb_hlsgen_top.cpp", "hls_config.cfg",
                 "build_prj.tcl"):
        files[f"hls/{name}"] = _tidy(env.get_template(f"{name}.j2").render(**top))
    for name in _STATIC:
        files[f"hls/{name}"] = (common.templates_dir() / "hls" / name).read_text()
    return files


def c_literal(value: int) -> str:
    """A C++ integer literal: plain within int32, ``LL`` beyond (|value| < 2**63)."""
    value = int(value)
    if -(1 << 31) < value < (1 << 31):
        return str(value)
    if not -(1 << 63) < value < (1 << 63):
        raise AssertionError(f"constant {value} does not fit a 64-bit literal")
    return f"{value}LL"


def _environment() -> jinja2.Environment:
    env = common.template_env("hls")
    env.filters["lit"] = c_literal
    return env


def _tidy(text: str) -> str:
    """Strip trailing blanks and the empty lines macros leave before a closing brace."""
    lines = [line.rstrip() for line in text.split("\n")]
    kept: list[str] = []
    for line in lines:
        if kept and not kept[-1] and (not line or line.lstrip().startswith("}")):
            kept.pop()
        kept.append(line)
    return "\n".join(kept)


def _period(options: Target) -> str:
    return f"{options.clock_period_ns:.3f}"


# -- prepared code -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Op:
    """``const ap_int<width> name = func<width>(args);`` with a primitive of hlsgen_ops.h."""

    name: str
    width: int
    func: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class _Input:
    name: str
    width: int
    index: tuple[int, ...]


@dataclass(frozen=True)
class _Block:
    index: int
    adder_count: int
    inputs: tuple[_Input, ...]
    ops: tuple[_Op, ...]


@dataclass(frozen=True)
class _Channel:
    """One output channel: ``ops`` end with ``result``, stored in beat bits [msb:lsb]."""

    index: int
    comment: str
    ops: tuple[_Op, ...]
    result: str
    msb: int
    lsb: int
    acc_width: int  # pooling: width of the window sum, named acc_name
    acc_name: str


@dataclass(frozen=True)
class _Unpack:
    channel: int
    msb: int
    lsb: int
    signed: bool


@dataclass(frozen=True)
class _Geometry:
    """Window walk constants, all precomputed (templates do no arithmetic)."""

    ident: str
    kernel_h: int
    kernel_w: int
    stride_h: int
    stride_w: int
    pads: str
    taps: int
    steps: int
    pad_top: int
    row_end: int
    pad_left: int
    col_end: int
    padded_w: int
    kh_last: int
    kw_last: int
    sh_last: int
    sw_last: int
    wp_last: int
    line_rows: int
    line_last: int
    channels: int
    value_width: int
    pad_value: int
    in_bits: int
    out_bits: int
    beats: int
    is_global: bool


_Term = tuple  # (operand name, left shift, negate)


def _pair(name: str, width: int, a: _Term, b: _Term) -> _Op:
    (na, sa, nega), (nb, sb, negb) = a, b
    if nega and negb:
        return _Op(name, width, "hlsgen_nadd", (na, str(sa), nb, str(sb)))
    if nega:  # -a + b == b - a
        return _Op(name, width, "hlsgen_sub", (nb, str(sb), na, str(sa)))
    return _Op(name, width, "hlsgen_sub" if negb else "hlsgen_add", (na, str(sa), nb, str(sb)))


def _sum_ops(name: str, width: int, terms) -> list[_Op]:
    """Ops computing ``sum(+-(operand << shift))`` into ``name`` (a chain for > 2 terms).

    A term shifted by the whole width or more is 0 modulo ``2**width``: it is left out.
    """
    terms = [(n, int(s), bool(neg)) for n, s, neg in terms if s < width]
    if not terms:
        return [_Op(name, width, "hlsgen_zero", ())]
    if len(terms) == 1:
        n, s, neg = terms[0]
        return [_Op(name, width, "hlsgen_minus" if neg else "hlsgen_shl", (n, str(s)))]
    ops = []
    partial = terms[0]
    for k, term in enumerate(terms[1:], start=1):
        target = name if k == len(terms) - 1 else f"{name}_{k}"
        ops.append(_pair(target, width, partial, term))
        partial = (target, 0, False)
    return ops


def _requant_ops(acc: str, rq: Requant) -> list[_Op]:
    """acc -> clamp(((acc * multiplier) + round) >> shift) + zero point, lo, hi)."""
    ops = _sum_ops(f"{acc}_prod", rq.product.width,
                   [(acc, t.shift, t.negate) for t in rq.multiplier.terms])
    ops += [
        _Op(f"{acc}_round", rq.rounded.width, "hlsgen_offset",
            (f"{acc}_prod", c_literal(rq.round))),
        _Op(f"{acc}_shift", rq.shifted.width,
            "hlsgen_shr_even" if rq.ties_to_even else "hlsgen_shr",
            (f"{acc}_round", str(rq.effective_shift))),
        _Op(f"{acc}_zp", rq.clamp_width, "hlsgen_offset",
            (f"{acc}_shift", c_literal(rq.zero_point))),
        _Op(f"{acc}_y", rq.clamp_width, "hlsgen_clamp",
            (f"{acc}_zp", c_literal(rq.lo), c_literal(rq.hi))),
    ]
    return ops


def _channel(name: str, comment: str, ops: list[_Op], rq: Requant, acc_width: int = 0
             ) -> _Channel:
    return _Channel(rq.channel, comment, tuple(ops + _requant_ops(name, rq)), f"{name}_y",
                    rq.msb, rq.lsb, acc_width, name)


def _requant_comment(rq: Requant) -> str:
    return (f"requantize x{rq.multiplier.value} >> {rq.shift}, zero point {rq.zero_point}, "
            f"clamp [{rq.lo}, {rq.hi}]")


def _node_name(block: int, node: int) -> str:
    return f"b{block}_n{node}"


def _live_nodes(block: BlockPlan) -> set[int]:
    """Nodes some output depends on (dead adders are not emitted)."""
    graph = block.graph
    live: set[int] = set()
    stack = [tap.node for tap in graph.outputs if tap.node is not None]
    while stack:
        node = stack.pop()
        if node in live:
            continue
        live.add(node)
        if node >= graph.n_inputs:
            adder = graph.adders[node - graph.n_inputs]
            stack += [adder.a.node, adder.b.node]
    return live


def _block(block: BlockPlan, dense: bool) -> _Block:
    graph, widths = block.graph, block.node_widths
    live = _live_nodes(block)
    inputs = []
    for j, src in enumerate(block.inputs):
        if j in live:
            index = (src.beat, src.channel) if dense else (src.row, src.col, src.channel)
            inputs.append(_Input(_node_name(block.index, j), widths[j], index))
    ops: list[_Op] = []
    for i, adder in enumerate(graph.adders):
        node = graph.n_inputs + i
        if node in live:
            terms = [(_node_name(block.index, op.node), op.shift, op.negate)
                     for op in (adder.a, adder.b)]
            ops += _sum_ops(_node_name(block.index, node), widths[node], terms)
    return _Block(block.index, graph.adder_count, tuple(inputs), tuple(ops))


def _matrix_channels(plan) -> tuple[_Channel, ...]:
    """Conv / Dense: acc = row of the shift-add graph + bias, then requantization."""
    channels = []
    for tap, rq in zip(plan.taps, plan.requant):
        acc = f"c{rq.channel}_acc"
        t = tap.tap
        terms = [] if t.node is None else [(_node_name(tap.block, t.node), t.shift, t.negate)]
        ops = _sum_ops(f"{acc}_row", rq.acc.width, terms)
        ops.append(_Op(acc, rq.acc.width, "hlsgen_offset", (f"{acc}_row", c_literal(rq.bias))))
        channels.append(_channel(acc, f"bias {rq.bias}, {_requant_comment(rq)}", ops, rq))
    return tuple(channels)


def _pool_channels(plan: AvgPoolPlan) -> tuple[_Channel, ...]:
    """AvgPool: the template sums the window into ``<acc_name>_sum``; then the bias (the
    folded zero point) and requantization."""
    channels = []
    for rq in plan.requant:
        acc = f"c{rq.channel}_acc"
        ops = [_Op(acc, rq.acc.width, "hlsgen_offset", (f"{acc}_sum", c_literal(rq.bias)))]
        channels.append(_channel(acc, f"bias {rq.bias}, {_requant_comment(rq)}", ops, rq,
                                 plan.sum.width))
    return tuple(channels)


def _unpack(tensor: TensorPlan) -> tuple[_Unpack, ...]:
    return tuple(_Unpack(c, *tensor.channel_bits(c), tensor.signed)
                 for c in range(tensor.channels))


def _geometry(ident: str, window: ir.Window, src: TensorPlan, out: TensorPlan,
              value_width: int, pad_value: int) -> _Geometry:
    w = window
    return _Geometry(
        ident=ident, kernel_h=w.kh, kernel_w=w.kw, stride_h=w.sh, stride_w=w.sw,
        pads=f"(top {w.pt}, left {w.pl}, bottom {w.pb}, right {w.pr})",
        taps=w.taps, steps=w.padded_h * w.padded_w, pad_top=w.pt, row_end=w.pt + w.h,
        pad_left=w.pl, col_end=w.pl + w.w, padded_w=w.padded_w,
        kh_last=w.kh - 1, kw_last=w.kw - 1, sh_last=w.sh - 1,
        sw_last=w.sw - 1, wp_last=w.padded_w - 1, line_rows=w.kh - 1,
        line_last=w.kh - 2, channels=src.channels, value_width=value_width,
        pad_value=pad_value, in_bits=src.bits, out_bits=out.bits, beats=src.beats,
        is_global=w.is_global)


def _process_context(p) -> dict:
    src, out = p.inputs[0], p.output
    if isinstance(p, ConvPlan):
        return dict(p=p, g=_geometry(p.ident, p.window, src, out, p.values.width, p.pad_value),
                    unpack=_unpack(src),
                    blocks=[_block(b, dense=False) for b in p.blocks],
                    channels=_matrix_channels(p))
    if isinstance(p, DensePlan):
        return dict(p=p, in_bits=src.bits, out_bits=out.bits, beats=src.beats,
                    beats_last=src.beats - 1, in_channels=src.channels,
                    value_width=p.values.width, unpack=_unpack(src),
                    blocks=[_block(b, dense=True) for b in p.blocks],
                    channels=_matrix_channels(p))
    if isinstance(p, MaxPoolPlan):
        return dict(p=p, g=_geometry(p.ident, p.window, src, out, src.values.width,
                                     p.pad_value),
                    unpack=_unpack(src), outputs=_unpack(out))
    if isinstance(p, AvgPoolPlan):
        return dict(p=p, g=_geometry(p.ident, p.window, src, out, p.values.width, 0),
                    unpack=_unpack(src), channels=_pool_channels(p))
    if isinstance(p, AddPlan):
        return _add_context(p)
    if isinstance(p, ForkPlan):
        return dict(p=p)
    raise TypeError(f"no HLS template for {type(p).__name__}")


def _add_context(p: AddPlan) -> dict:
    a, b = p.inputs
    sides = [dict(bits=t.bits, width=t.values.width, unpack=_unpack(t))
             for t in (a, b)]
    channels = []
    for ch in p.channels:
        rq = ch.requant
        acc = f"c{ch.channel}_acc"
        ops = _sum_ops(f"{acc}_a", ch.term_a.width,
                       [(f"xa[{ch.channel}]", t.shift, t.negate) for t in ch.mult_a.terms])
        ops += _sum_ops(f"{acc}_b", ch.term_b.width,
                        [(f"xb[{ch.channel}]", t.shift, t.negate) for t in ch.mult_b.terms])
        ops += _sum_ops(f"{acc}_ab", rq.acc.width,
                        [(f"{acc}_a", 0, False), (f"{acc}_b", 0, False)])
        ops.append(_Op(acc, rq.acc.width, "hlsgen_offset", (f"{acc}_ab", c_literal(rq.bias))))
        comment = (f"a x{ch.mult_a.value} + b x{ch.mult_b.value}, "
                   f"{_requant_comment(rq)}")
        channels.append(_channel(acc, comment, ops, rq))
    return dict(p=p, a=sides[0], b=sides[1], out_bits=p.output.bits, beats=p.output.beats,
                channels=channels)
