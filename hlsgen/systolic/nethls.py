"""Vitis HLS C++ of a :class:`~hlsgen.systolic.network.NetworkPlan`: the same engine as
``rtl/`` (:mod:`~hlsgen.systolic.netemit`), read from the same plan, for ``make csim``.

The top function keeps the hard-wired flow's AXI4-Stream interface (one beat per pixel,
TLAST on a frame's last beat).  It loads a frame into the input buffer, runs the plan's steps
one after the other -- each issues its items (pixel inner, then k-tile, then column tile) from
its descriptor, as the Verilog sequencer does -- and streams the output buffer out.  Every
table is the plan's: per-step descriptors, per-k-tile port taps and row sources, per-column-
tile lane constants, per-row weight ROMs; widths are the plan's (``acc_width``,
``racc_width``, ``mult_width``, ``scale_width``, ``prod_width``).  ``pe == "shiftadd"``: a PE
adds its weight's radix-4 Booth digits (:func:`~hlsgen.systolic.shiftadd.term_code`, the digits
the Verilog PEs take from their weights' bits), and the lanes' requantization multiply is a loop of shifts and
adds -- that C++ has no ``*`` at all.

:func:`emit_network_hls` returns ``{path relative to the project: text}``: ``hls/<top>.h``,
``hls/<top>.cpp``, ``hls/tb_<top>.cpp`` (hlsgen's C testbench, ``templates/hls``),
``hls/csim_compat/ap_axi_sdata.h`` and the project's ``Makefile`` (``make csim``).  This
module only turns the plan into table rows and names; the C++ text lives in
``templates/systolic/nethls_*.j2``.
"""

from __future__ import annotations

import math

import hlsgen
from hlsgen import ir
from hlsgen.decompose.graph import bit_width
from hlsgen.emit.common import CoreName, template_env, templates_dir
from hlsgen.emit.dataflow import TensorPlan
from hlsgen.emit.hls import AP_INT_DEFAULT_MAX_W, c_literal
from hlsgen.systolic.network import NetworkPlan, Op, Vmode
from hlsgen.systolic.plan import PRODUCT_BOUND
from hlsgen.systolic.shiftadd import MAX_TERMS, term_code
from hlsgen.systolic.weights import weight_stream

__all__ = ["emit_network_hls"]

# op and vmode codes of the step descriptors (the C++ names them the same)
OP_CODES = {Op.MAC: "OP_MAC", Op.DW: "OP_DW", Op.MAX: "OP_MAX", Op.SCALE: "OP_SCALE"}
VMODE_CODES = {Vmode.MULT: "VM_MULT", Vmode.SHIFT: "VM_SHIFT", Vmode.RAW: "VM_RAW"}


def emit_network_hls(plan: NetworkPlan, core: CoreName | None = None) -> dict[str, str]:
    """``hls/`` and the ``Makefile`` of ``plan``'s C simulation project."""
    core = core or CoreName()
    context = _context(plan, core)
    env = template_env("systolic")
    env.filters["lit"] = c_literal
    files = {
        f"hls/{core.top}.h": env.get_template("nethls_top.h.j2").render(**context),
        f"hls/{core.top}.cpp": env.get_template("nethls_top.cpp.j2").render(**context),
        "Makefile": env.get_template("nethls_Makefile.j2").render(**context),
    }
    # the hard-wired flow's testbench: the header defines the names it reads
    tb_options = {"weight_stream": True} if context["weight_stream"] else {}
    files[f"hls/tb_{core.top}.cpp"] = template_env("hls").get_template(
        "tb_hlsgen_top.cpp.j2").render(top=core.top, prefix=core.name, **tb_options)
    compat = "csim_compat/ap_axi_sdata.h"
    files[f"hls/{compat}"] = (templates_dir() / "hls" / compat).read_text()
    return files


def _context(plan: NetworkPlan, core: CoreName) -> dict:
    rows, cols = plan.shape.rows, plan.shape.cols
    src, out = plan.graph_input, plan.graph_output
    last = plan.steps[-1]
    in_banks = math.ceil(src.shape[2] / cols)
    steps, scale_rows = _step_rows(plan)
    prod = plan.prod_width
    stream_bits = max(8 * src.shape[2], 8 * out.shape[2], 8 * cols * last.n_ct)
    streamed = plan.weight_source == "stream"
    if streamed:  # the C++ reads a tile's words at its first item: the stream's order
        order = [(tile, row) for tile, row, _ in weight_stream(plan)]
        assert order == [(t, r) for t in range(plan.tiles) for r in range(rows)], order[:4]
    return {
        "top": core.top, "prefix": core.name, "name": plan.name, "version": hlsgen.__version__,
        "shiftadd": plan.pe == "shiftadd",
        "flavour": "shift-add PEs, no multiply" if plan.pe == "shiftadd" else "DSP baseline",
        "input": _tensor_plan(src), "output": _tensor_plan(out),
        # ap_int.h refuses types wider than 1024 bits unless told before its first include
        "ap_int_max_w": -(-stream_bits // 1024) * 1024
        if stream_bits > AP_INT_DEFAULT_MAX_W else 0,
        "rows": rows, "cols": cols, "ports": plan.ports, "banks": plan.banks,
        "in_banks": in_banks, "bank_depth": list(plan.bank_depth),
        "out_tiles": last.n_ct, "out_beats": last.pixels,
        "acc_pixels": max([s.pixels for s in plan.steps if s.n_kt > 1] + [1]),
        "max_items": max(s.items for s in plan.steps), "max_terms": MAX_TERMS,
        "widths": {
            "product": bit_width(-PRODUCT_BOUND, PRODUCT_BOUND),
            "psum": bit_width(-rows * PRODUCT_BOUND, rows * PRODUCT_BOUND),
            "acc": plan.acc_width, "racc": plan.racc_width, "mult": plan.mult_width,
            "scale": plan.scale_width, "scaled": plan.scale_width + 10, "prod": prod,
            # q = v >> shift, + round + zero point, compared with the bounds: as the lanes
            "q": max(prod, 10) + 2,
            "shift": max(v for s in plan.steps for row in s.lane_shift for v in row
                         ).bit_length()},
        "step_fields": [name for name, _ in steps[0]["fields"]],
        "steps": steps, "step_count": len(steps),
        "step_list": [{"index": i, "kind": s.kind.value, "name": s.name, "op": s.op.value,
                       "n_ct": s.n_ct, "n_kt": s.n_kt, "pixels": s.pixels, "item_count": s.items,
                       "terms": plan.step_terms[i]} for i, s in enumerate(plan.steps)],
        "kt_total": plan.kt_total, "ct_total": plan.ct_total, "tiles": plan.tiles,
        "port_taps": _port_tap_rows(plan), "row_sources": _row_source_rows(plan),
        "lane_bias": _lane_rows(plan, "lane_bias"), "lane_mult": _lane_rows(plan, "lane_mult"),
        "lane_shift": _lane_rows(plan, "lane_shift"),
        "scale_rows": scale_rows or [[0] * cols],
        "weight_rom": [] if streamed else _weight_rom(plan), "weight_stream": streamed,
        "weight_param": f"hls::stream<{core.name}_w_word>& w_stream" if streamed else "",
        "weight_read": "w_tile[r][c]" if streamed else "WEIGHT_ROM[r][tile][c]",
        "weight_words": plan.tiles * rows if streamed else 0,
        "booth_digits": [[term_code(w - 256 if w > 127 else w, t) for t in range(MAX_TERMS)]
                      for w in range(256)],
    }


def _tensor_plan(tensor: ir.Tensor) -> TensorPlan:
    h, w, c = tensor.shape
    return TensorPlan(tensor.name, int(h), int(w), int(c), tensor.dtype,
                      int(tensor.zero_point))


def _step_rows(plan: NetworkPlan) -> tuple[list[dict], list[list[int]]]:
    """One descriptor per step (name, value pairs in the C struct's order) and the SCALE
    steps' per-tap lane multipliers, row ``scale_base + ct * n_kt + kt``."""
    steps, scale_rows = [], []
    for index, s in enumerate(plan.steps):
        win, rq = s.window, s.requant
        scale_base = len(scale_rows)
        if s.op is Op.SCALE:
            scale_rows += [list(s.lane_scale[kt][ct]) for ct in range(s.n_ct)
                           for kt in range(s.n_kt)]
        fields = [
            ("op", OP_CODES[s.op]), ("vmode", VMODE_CODES[s.vmode]),
            ("n_ct", s.n_ct), ("n_kt", s.n_kt), ("pixels", s.pixels), ("items", s.items),
            ("wo", win.wo), ("in_h", win.h), ("in_w", win.w), ("sh", win.sh), ("sw", win.sw),
            # the window's top-left input pixel and its address, at output pixel 0
            ("ih0", -win.pt), ("iw0", -win.pl), ("base0", -win.pt * win.w - win.pl),
            ("row_step", win.sh * win.w),
            ("in_base", s.in_base), ("out_base", s.out_base),
            ("reads_input", _bool(s.reads_input)), ("to_output", _bool(s.to_output)),
            ("sgn", _bool(s.input.dtype.signed)),
            ("sgn_b", _bool((s.input_b or s.input).dtype.signed)),
            ("pad", s.pad_value), ("kt_base", s.kt_base), ("ct_base", s.ct_base),
            ("tile_base", s.tile_base), ("scale_base", scale_base),
            ("terms", plan.step_terms[index]), ("half_even", _bool(s.half_even)),
            ("zp", rq.zero_point if rq else 0), ("lo", rq.lo if rq else 0),
            ("hi", rq.hi if rq else 0)]
        steps.append({"index": index, "name": s.name, "fields": fields})
    return steps, scale_rows


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _port_tap_rows(plan: NetworkPlan) -> list[list[tuple]]:
    """``[global k-tile][port]``: (valid, kh, kw, address offset); an unused port reads
    padding."""
    table = []
    for s in plan.steps:
        for entry in s.port_taps:
            table.append([("false", 0, 0, 0) if tap is None else
                          ("true", tap.kh, tap.kw, tap.offset) for tap in entry])
    return table


def _row_source_rows(plan: NetworkPlan) -> list[list[tuple[int, int]]]:
    """``[global k-tile][row]``: the (port, input channel) a MAC step's row reads (the layer
    plan's ``row_sources[r][row_select[kt][r]]``); (0, 0) for other steps (unused)."""
    rows = plan.shape.rows
    table = []
    for s in plan.steps:
        for kt in range(s.n_kt):
            if s.op is Op.MAC:
                table.append([s.plan.row_sources[r][s.plan.row_select[kt][r]]
                              for r in range(rows)])
            else:
                table.append([(0, 0)] * rows)
    return table


def _lane_rows(plan: NetworkPlan, field: str) -> list[list[str]]:
    """``[global column tile][lane]`` of a lane table, as C literals."""
    return [[c_literal(v) for v in getattr(s, field)[ct]]
            for s in plan.steps for ct in range(s.n_ct)]


def _weight_rom(plan: NetworkPlan) -> list[list[list[int]]]:
    """``[row][tile][column]``: every MAC / DW step's weight words at its ``tile_base``
    (one zero tile when no step uses the array)."""
    rows, cols = plan.shape.rows, plan.shape.cols
    rom = [[[0] * cols for _ in range(plan.tiles)] for _ in range(rows)]
    for s in plan.steps:
        if s.op not in (Op.MAC, Op.DW):
            continue
        for r in range(rows):
            for local, word in enumerate(s.words[r]):
                rom[r][s.tile_base + local] = [int(w) for w in word]
    return rom
