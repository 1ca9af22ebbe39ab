"""Vitis HLS C++ for a design: one kernel header per layer, the dataflow top, a C testbench.

:func:`emit_hls` returns ``{path relative to the project: text}`` for ``hls/``.  Each kernel
renders one module of the hardware plan (:mod:`hlsgen.emit.dataflow`): its front end as a
loop (``templates/hls/layer_<front>.h.j2``), then its datapath netlist node for node as
straight-line ``ap_int`` code -- node ``nK`` of the exact width the Verilog wire ``nK`` has,
with the same constants (zero points folded into them), so no kernel contains a ``*``.  This
module prepares names and operand lists; the C++ text lives in ``templates/hls``.

The top function, its files (``<name>_top.cpp``, ``.h``, ``tb_<name>_top.cpp``), header guard,
types, constants and helpers carry the core's name (``--name``), the kernels its prefix: two
cores link into one program.  ``hlsgen_ops.h`` is shared: inline templates, the same text in
every core.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jinja2

import hlsgen
from hlsgen import ir
from hlsgen.decompose.graph import bit_width
from hlsgen.emit import common
from hlsgen.emit.common import CoreName
from hlsgen.emit.dataflow import DataflowPlan, ForkProcess, LayerProcess, plan_dataflow
from hlsgen.hw.module import Front, ModulePlan
from hlsgen.hw.netlist import Datapath, Op
from hlsgen.hw.target import Target

__all__ = ["emit_hls", "render_hls", "c_literal"]

_TEMPLATES = {
    Front.PIXEL: "layer_window.h.j2",  # a 1x1 window walk
    Front.WINDOW: "layer_window.h.j2",
    Front.FETCH: "layer_window.h.j2",  # the C++ window walk serves both line buffers
    Front.VECTOR: "layer_vector.h.j2",
    Front.SUM: "layer_sum.h.j2",
    Front.PAIR: "layer_pair.h.j2",
}
_STATIC = ("hlsgen_ops.h", "csim_compat/ap_axi_sdata.h")
# ap_int.h's widest type unless AP_INT_MAX_W is defined before its first include (a stream
# of more than 128 channels is wider); Vitis HLS accepts up to 4096.
AP_INT_DEFAULT_MAX_W = 1024
_AP_WIDTH = re.compile(r"\bap_u?int<(\d+)>")


def emit_hls(design, target: Target | None = None,
             core: CoreName | None = None) -> dict[str, str]:
    """``hls/`` files of a :class:`hlsgen.design.Design` (core: its name, default hlsgen)."""
    return render_hls(plan_dataflow(design, target, core))


def render_hls(plan: DataflowPlan) -> dict[str, str]:
    env = _environment()
    files: dict[str, str] = {}
    for process in plan.processes:
        if isinstance(process, ForkProcess):
            text = env.get_template("fork.h.j2").render(p=process)
        else:
            template = env.get_template(_TEMPLATES[process.module.front])
            text = template.render(**_layer_context(process))
        files[f"hls/{process.ident}.h"] = _tidy(text)
    core = plan.core
    top = dict(
        top=core.top, prefix=core.name, name=plan.name, version=hlsgen.__version__,
        input=plan.input, output=plan.output, output_last=plan.output.beats - 1,
        processes=plan.processes, streams=plan.streams, in_stream=plan.in_stream,
        out_stream=plan.out_stream, part=plan.target.part,
        period=f"{plan.target.clock_period_ns:.3f}", ap_int_max_w=0,
    )
    # template -> file: the top's files are named after it
    outputs = {"hlsgen_top.h": f"{core.top}.h", "hlsgen_top.cpp": f"{core.top}.cpp",
               "tb_hlsgen_top.cpp": f"tb_{core.top}.cpp", "hls_config.cfg": "hls_config.cfg",
               "build_prj.tcl": "build_prj.tcl"}
    for template, name in outputs.items():
        files[f"hls/{name}"] = _tidy(env.get_template(f"{template}.j2").render(**top))
    widest = max((int(w) for text in files.values() for w in _AP_WIDTH.findall(text)), default=0)
    if widest > AP_INT_DEFAULT_MAX_W:  # ap_int.h refuses wider types unless told before
        top["ap_int_max_w"] = -(-widest // 1024) * 1024
        files[f"hls/{core.top}.h"] = _tidy(env.get_template("hlsgen_top.h.j2").render(**top))
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


# -- prepared code -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Op:
    """``const ap_int<width> name = func<width>(args);`` with a primitive of hlsgen_ops.h, or
    (``func`` empty) ``const ap_int<width> name = args[0];``."""

    name: str
    width: int
    func: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class _Output:
    """Output channel ``channel``: bits [msb:lsb] of the output beat get ``value``."""

    channel: int
    msb: int
    lsb: int
    value: str


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


def _wrapped(value: int, width: int) -> int:
    """``value`` modulo ``2**width`` as a signed number: the same bits in ``width`` bits."""
    value = int(value) % (1 << width)
    return value - (1 << width) if value >> (width - 1) else value


def _datapath_ops(dp: Datapath, source) -> list[_Op]:
    """Every live node of ``dp`` as ops; ``source(node)`` is the C expression of an INPUT."""
    ops: list[_Op] = []
    for n, node in enumerate(dp.nodes):
        if not dp.live[n] or node.op is Op.CONST:
            continue
        name = f"n{n}"
        if node.op is Op.INPUT:
            ops.append(_Op(name, node.width, "", (source(node),)))
        elif node.op is Op.ADD:
            terms = [(f"n{o.node}", o.shift, o.negate) for o in node.operands]
            const = _wrapped(node.const, node.width)
            if not const:
                ops += _sum_ops(name, node.width, terms)
            else:
                ops += _sum_ops(f"{name}_t", node.width, terms)
                ops.append(_Op(name, node.width, "hlsgen_offset",
                               (f"{name}_t", c_literal(const))))
        elif node.op is Op.MAX:
            a, b = node.operands
            ops.append(_Op(name, node.width, "hlsgen_max", (f"n{a.node}", f"n{b.node}")))
        else:
            ops += _clamp_ops(dp, n)
    return ops


def _clamp_ops(dp: Datapath, n: int) -> list[_Op]:
    """CLAMP ``nK``: ``q = floor(src * 2**-shift)`` (ties to even if asked: a tie with a floor
    of the wrong parity steps down by one), then clamp to the bounds (the 8 output bits)."""
    node = dp.nodes[n]
    src = f"n{node.operands[0].node}"
    width = dp.nodes[node.operands[0].node].width
    lo, hi = node.bounds
    q_lo, q_hi = dp.clamp_input_range(n)
    even = node.even_parity
    q = bit_width(min(q_lo - (even is not None), lo), max(q_hi, hi))
    name, shift = f"n{n}", node.shift
    if even is not None and shift >= 0:
        ops = [_Op(f"{name}_q", q, "hlsgen_shr_tie", (src, str(shift), str(even)))]
    elif shift > 0:
        ops = [_Op(f"{name}_q", q, "hlsgen_shr", (src, str(min(shift, width - 1))))]
    else:  # a left shift: every value is a tie and its floor is even
        ops = [_Op(f"{name}_q", q, "hlsgen_shl", (src, str(-shift)))]
        if even:  # an even floor is wrong exactly when the zero point is odd
            ops = [_Op(f"{name}_s", q, "hlsgen_shl", (src, str(-shift))),
                   _Op(f"{name}_q", q, "hlsgen_offset", (f"{name}_s", "-1"))]
    return ops + [_Op(name, q, "hlsgen_clamp", (f"{name}_q", c_literal(lo), c_literal(hi)))]


def _outputs(dp: Datapath) -> tuple[_Output, ...]:
    outs = []
    for c, n in enumerate(dp.outputs):
        node = dp.nodes[n]
        value = (f"{node.const % 256}" if node.op is Op.CONST else f"(ap_uint<8>)n{n}")
        outs.append(_Output(c, 8 * c + 7, 8 * c, value))
    return tuple(outs)


def _unpack(tensor) -> tuple[_Unpack, ...]:
    return tuple(_Unpack(c, 8 * c + 7, 8 * c, tensor.signed) for c in range(tensor.channels))


def _geometry(ident: str, w: ir.Window, channels: int) -> _Geometry:
    return _Geometry(
        ident=ident, kernel_h=w.kh, kernel_w=w.kw, taps=w.taps, steps=w.padded_h * w.padded_w,
        pad_top=w.pt, row_end=w.pt + w.h, pad_left=w.pl, col_end=w.pl + w.w,
        padded_w=w.padded_w, kh_last=w.kh - 1, kw_last=w.kw - 1, sh_last=w.sh - 1,
        sw_last=w.sw - 1, wp_last=w.padded_w - 1, line_rows=w.kh - 1, line_last=w.kh - 2,
        channels=channels)


def _describe(p: LayerProcess) -> str:
    """One line about the layer for the kernel's header comment."""
    layer, m = p.module.layer, p.module
    channels = f"{p.inputs[0].channels} -> {p.output.channels} channels"
    if m.window is not None:
        w = m.window
        shape = (f"{w.kh}x{w.kw}, stride {w.sh}x{w.sw}, pads (top {w.pt}, left {w.pl}, "
                 f"bottom {w.pb}, right {w.pr})")
        groups = f", {layer.groups} group(s)" if isinstance(layer, ir.Conv) else ""
        text = f"{layer.kind.value} {shape}{groups}, {channels}"
    else:
        text = f"{layer.kind.value}, {channels}"
    if p.method != "-":
        text += f"; method {p.method}: {p.adder_count} adders"
    return text


def _layer_context(p: LayerProcess) -> dict:
    m: ModulePlan = p.module
    src = p.inputs[0]
    channels = src.channels
    value_width = bit_width(src.dtype.qmin, src.dtype.qmax)  # raw values
    if m.front in (Front.PIXEL, Front.WINDOW, Front.FETCH):
        kw = m.window.kw

        def source(node) -> str:
            tap, c = divmod(node.bit // 8, channels)
            return f"win[{tap // kw}][{tap % kw}][{c}]"
    elif m.front is Front.VECTOR:
        def source(node) -> str:
            beat, c = divmod(node.bit // 8, channels)
            return f"buf[{beat}][{c}]"
    elif m.front is Front.SUM:
        def source(node) -> str:
            return f"sum[{node.bit // m.sum_bits}]"
    else:  # PAIR: the a channels, then the b channels
        def source(node) -> str:
            field = node.bit // 8
            return f"xa[{field}]" if field < channels else f"xb[{field - channels}]"
    context = dict(
        p=p, describe=_describe(p), in_bits=src.bits, out_bits=p.output.bits,
        beats=src.beats, beats_last=src.beats - 1, channels=channels, value_width=value_width,
        unpack=_unpack(src), ops=_datapath_ops(m.datapath, source), outputs=_outputs(m.datapath),
        kind=_kind_note(m), nodes=sum(m.datapath.live), levels=m.datapath.levels)
    if m.front in (Front.PIXEL, Front.WINDOW, Front.FETCH):
        context.update(g=_geometry(p.ident, m.window, channels), pad_value=m.pad)
    elif m.front is Front.SUM:
        context.update(sum_bits=m.sum_bits)
    elif m.front is Front.PAIR:
        b = p.inputs[1]
        context.update(b_bits=b.bits, b_channels=b.channels, unpack_b=_unpack(b),
                       b_width=bit_width(b.dtype.qmin, b.dtype.qmax))
    return context


def _kind_note(m) -> str:
    """The datapath kind as the C++ computes it: a serial layer's digit-serial form is built
    by the Verilog only; this C++ computes the same exact values one output per cycle."""
    if m.digit:
        return f"serial:{m.digit} (digit-serial in the Verilog; here one output per iteration)"
    if m.kind.value == "multiplexed":
        return "multiplexed (one shared adder tree in the Verilog; here one output per iteration)"
    return m.kind.value
