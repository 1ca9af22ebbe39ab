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
from hlsgen.emit import common
from hlsgen.emit.common import (
    TOP_NAME,
    AddPlan,
    AvgPoolPlan,
    BlockPlan,
    ConstMult,
    ConvPlan,
    DensePlan,
    DesignPlan,
    EmitOptions,
    ForkPlan,
    MaxPoolPlan,
    Requant,
    TensorPlan,
    Window,
)

__all__ = ["emit_hls", "render_hls", "c_literal"]

_TEMPLATES = {
    ConvPlan: "layer_conv.h.j2",
    DensePlan: "layer_dense.h.j2",
    MaxPoolPlan: "layer_maxpool.h.j2",
    AvgPoolPlan: "layer_avgpool.h.j2",
    AddPlan: "layer_add.h.j2",
    ForkPlan: "fork.h.j2",
}
_STATIC = ("csim_compat/ap_axi_sdata.h",)


def emit_hls(design, options: EmitOptions | None = None) -> dict[str, str]:
    """``hls/`` files of a :class:`hlsgen.design.Design`."""
    return render_hls(common.plan_design(design, options or EmitOptions()))


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


def _signed_term(value: int) -> str:
    """`` + v`` / `` - v`` / nothing, to append a constant to an expression."""
    value = int(value)
    if value == 0:
        return ""
    return f" + {c_literal(value)}" if value > 0 else f" - {c_literal(-value)}"


def _environment() -> jinja2.Environment:
    env = common.template_env("hls")
    env.filters["lit"] = c_literal
    env.filters["term"] = _signed_term
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


def _period(options: EmitOptions) -> str:
    return f"{options.clock_period_ns:.3f}"


# -- prepared code -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Operand:
    name: str
    shift: int
    negate: bool


@dataclass(frozen=True)
class _Input:
    name: str
    width: int
    index: tuple[int, ...]


@dataclass(frozen=True)
class _Adder:
    name: str
    width: int
    operands: tuple[_Operand, ...]


@dataclass(frozen=True)
class _Block:
    index: int
    adder_count: int
    inputs: tuple[_Input, ...]
    adders: tuple[_Adder, ...]


@dataclass(frozen=True)
class _Channel:
    """One output channel: ``acc_name = sum(tap) + bias`` then ``requant``."""

    index: int
    acc_name: str
    tap: tuple[_Operand, ...]
    product: tuple[_Operand, ...]
    requant: Requant
    term_a: tuple[_Operand, ...] = ()  # Add only
    term_b: tuple[_Operand, ...] = ()
    add: object = None  # Add only: the AddChannel


@dataclass(frozen=True)
class _Unpack:
    channel: int
    msb: int
    lsb: int
    signed: bool
    offset: int  # added after unpacking (-zero point, or 0)


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


def _operands(terms, name: str, width: int) -> tuple[_Operand, ...]:
    # A term shifted by the whole result width or more is 0 modulo 2**width: leave it out.
    return tuple(_Operand(name, t.shift, t.negate) for t in terms if t.shift < width)


def _const_mult(name: str, mult: ConstMult, width: int) -> tuple[_Operand, ...]:
    return _operands(mult.terms, name, width)


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


def _block(block: BlockPlan, dense_width: int | None) -> _Block:
    graph, widths = block.graph, block.node_widths
    live = _live_nodes(block)
    inputs = []
    for j, src in enumerate(block.inputs):
        if j in live:
            index = (src.beat, src.channel) if dense_width is not None else (
                src.row, src.col, src.channel)
            inputs.append(_Input(_node_name(block.index, j), widths[j], index))
    adders = []
    for i, adder in enumerate(graph.adders):
        node = graph.n_inputs + i
        if node not in live:
            continue
        width = widths[node]
        ops = tuple(_Operand(_node_name(block.index, op.node), op.shift, op.negate)
                    for op in (adder.a, adder.b) if op.shift < width)
        adders.append(_Adder(_node_name(block.index, node), width, ops))
    return _Block(block.index, graph.adder_count, tuple(inputs), tuple(adders))


def _channels(plan, requants) -> tuple[_Channel, ...]:
    channels = []
    for tap, rq in zip(plan.taps, requants):
        acc = f"c{rq.channel}_acc"
        t = tap.tap
        ops = () if t.node is None else _operands(
            [t], _node_name(tap.block, t.node), rq.acc.width)
        channels.append(_Channel(rq.channel, acc, ops, _const_mult(acc, rq.multiplier,
                                                                     rq.product.width), rq))
    return tuple(channels)


def _pool_channels(requants) -> tuple[_Channel, ...]:
    return tuple(_Channel(rq.channel, f"c{rq.channel}_acc", (),
                          _const_mult(f"c{rq.channel}_acc", rq.multiplier, rq.product.width), rq)
                 for rq in requants)


def _unpack(tensor: TensorPlan, offset: int) -> tuple[_Unpack, ...]:
    return tuple(_Unpack(c, *tensor.channel_bits(c), tensor.signed, offset)
                 for c in range(tensor.channels))


def _outputs(tensor: TensorPlan) -> tuple[_Unpack, ...]:
    return _unpack(tensor, 0)


def _geometry(ident: str, window: Window, src: TensorPlan, out: TensorPlan, value_width: int,
              pad_value: int) -> _Geometry:
    w = window
    return _Geometry(
        ident=ident, kernel_h=w.kernel_h, kernel_w=w.kernel_w, stride_h=w.stride_h,
        stride_w=w.stride_w,
        pads=f"(top {w.pad_top}, left {w.pad_left}, bottom {w.pad_bottom}, right {w.pad_right})",
        taps=w.taps, steps=w.steps, pad_top=w.pad_top, row_end=w.pad_top + w.in_h,
        pad_left=w.pad_left, col_end=w.pad_left + w.in_w, padded_w=w.padded_w,
        kh_last=w.kernel_h - 1, kw_last=w.kernel_w - 1, sh_last=w.stride_h - 1,
        sw_last=w.stride_w - 1, wp_last=w.padded_w - 1, line_rows=w.kernel_h - 1,
        line_last=w.kernel_h - 2, channels=src.channels, value_width=value_width,
        pad_value=pad_value, in_bits=src.bits, out_bits=out.bits, beats=src.beats,
        is_global=w.is_global)


def _process_context(p) -> dict:
    src, out = p.inputs[0], p.output
    if isinstance(p, ConvPlan):
        width = p.centred.width
        return dict(p=p, g=_geometry(p.ident, p.window, src, out, width, 0),
                    unpack=_unpack(src, -src.zero_point),
                    blocks=[_block(b, None) for b in p.blocks],
                    channels=_channels(p, p.requant))
    if isinstance(p, DensePlan):
        return dict(p=p, in_bits=src.bits, out_bits=out.bits, beats=src.beats,
                    beats_last=src.beats - 1, in_channels=src.channels,
                    value_width=p.centred.width, unpack=_unpack(src, -src.zero_point),
                    blocks=[_block(b, src.width) for b in p.blocks],
                    channels=_channels(p, p.requant))
    if isinstance(p, MaxPoolPlan):
        width = common.Interval(src.qmin, src.qmax).width  # raw values: no zero point
        return dict(p=p, g=_geometry(p.ident, p.window, src, out, width, p.pad_value),
                    unpack=_unpack(src, 0), outputs=_outputs(out))
    if isinstance(p, AvgPoolPlan):
        return dict(p=p, g=_geometry(p.ident, p.window, src, out, p.centred.width, 0),
                    unpack=_unpack(src, -src.zero_point), channels=_pool_channels(p.requant))
    if isinstance(p, AddPlan):
        return _add_context(p)
    if isinstance(p, ForkPlan):
        return dict(p=p)
    raise TypeError(f"no HLS template for {type(p).__name__}")


def _add_context(p: AddPlan) -> dict:
    a, b = p.inputs
    sides = []
    for name, tensor in (("xa", a), ("xb", b)):
        sides.append(dict(bits=tensor.bits, width=tensor.centred.width,
                          unpack=_unpack(tensor, -tensor.zero_point), name=name))
    channels = []
    for ch in p.channels:
        rq = ch.requant
        acc = f"c{ch.channel}_acc"
        term_a = _const_mult(f"xa[{ch.channel}]", ch.mult_a, ch.term_a.width)
        term_b = _const_mult(f"xb[{ch.channel}]", ch.mult_b, ch.term_b.width)
        tap = (_Operand(f"{acc}_a", 0, False), _Operand(f"{acc}_b", 0, False))
        channels.append(_Channel(ch.channel, acc, tap,
                                 _const_mult(acc, rq.multiplier, rq.product.width), rq,
                                 term_a=term_a, term_b=term_b, add=ch))
    return dict(p=p, a=sides[0], b=sides[1], out_bits=p.output.bits, beats=p.output.beats,
                channels=channels)
