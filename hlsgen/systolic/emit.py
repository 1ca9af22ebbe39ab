"""Verilog of a :class:`~hlsgen.systolic.plan.SystolicPlan`: three modules from
``templates/systolic`` (the top with the same AXI4-Stream ports as hlsgen's designs, the PE
array, the accumulate/requantize lanes).

:func:`emit_systolic` returns ``{path relative to the project: text}``; this module only
prepares names, bit ranges and literal values from the plan -- the tables and widths are the
plan's, the timing the cycle model's.
"""

from __future__ import annotations

import json

import hlsgen
from hlsgen.emit.common import CoreName, template_env
from hlsgen.systolic.plan import SystolicPlan
from hlsgen.systolic.timing import cycle_model

__all__ = ["emit_systolic", "module_names"]

STALL_CYCLES = 20_000  # the testbench's default limit


def module_names(core: CoreName | None = None) -> dict[str, str]:
    """The top, array and accumulator module names of a core."""
    core = core or CoreName()
    return {"top": core.top, "array": core.primitive("sa_array"),
            "accum": core.primitive("sa_accum")}


def emit_systolic(plan: SystolicPlan, core: CoreName | None = None) -> dict[str, str]:
    """``rtl/*.v`` and ``rtl/hlsgen_cost.json`` (the top's name, the plan's figures)."""
    names = module_names(core)
    env = template_env("systolic")
    version = hlsgen.__version__
    common = _common(plan)
    files = {
        f"rtl/{names['array']}.v": env.get_template("array.v.j2").render(
            version=version, module=names["array"], **common, **_array_context(plan)),
        f"rtl/{names['accum']}.v": env.get_template("accum.v.j2").render(
            version=version, module=names["accum"], **common, **_accum_context(plan)),
        f"rtl/{names['top']}.v": env.get_template("top.v.j2").render(
            version=version, top=names["top"], array_module=names["array"],
            accum_module=names["accum"], **common, **_top_context(plan)),
    }
    files["rtl/hlsgen_cost.json"] = cost_file(names, plan.shape, cycle_model(plan), plan.macs)
    return files


def cost_file(names: dict, shape, timing, macs: int, pe: str | None = None) -> str:
    """``rtl/hlsgen_cost.json`` of a baseline project: what ``run_sim.py`` and yosys read
    (the top; no shift-add layers) and its timing (``pe``: named when not the DSP PE)."""
    extra = {"pe": pe} if pe else {}
    return json.dumps({
        "top": names["top"], "layers": {}, "arch": "systolic", **extra, "array": str(shape),
        "modules": names, "latency_cycles": timing.latency,
        "interval_cycles": timing.interval, "macs": macs,
        # the testbench's limit on cycles without a handshake: compute is silent for a while
        "stall_cycles": max(STALL_CYCLES, 2 * timing.interval),
    }, indent=2) + "\n"


# -- shared values -------------------------------------------------------------------------
def _bits(count: int) -> int:
    """Bits of a counter over ``0 .. count - 1`` (at least 1)."""
    return max(1, (count - 1).bit_length())


def _literal(value: int, width: int) -> str:
    """``value`` modulo ``2**width`` as a signed sized literal (exact under wrap-around)."""
    return f"$signed({width}'h{int(value) % (1 << width):x})"


def _common(plan: SystolicPlan) -> dict:
    rows, cols = plan.shape.rows, plan.shape.cols
    psum = plan.psum_width
    return {
        "rows": rows, "cols": cols, "rows_last": rows - 1, "tiles": plan.tiles,
        "pixels": plan.pixels, "m_last": plan.pixels - 1,
        "m_msb": _bits(plan.pixels) - 1, "ct_msb": _bits(plan.n_ct) - 1,
        "tid_msb": _bits(plan.tiles) - 1,
        "x_bus_msb": 9 * rows - 1, "psum_bus_msb": psum * cols - 1, "psum_msb": psum - 1,
        "lanes_msb": 8 * cols - 1,
    }


# -- the array -----------------------------------------------------------------------------
def _array_context(plan: SystolicPlan) -> dict:
    rows, cols = plan.shape.rows, plan.shape.cols
    pes = [{"col": c, "w_lo": 8 * c, "w_hi": 8 * c + 7} for c in range(cols)]
    row_list = []
    for r in range(rows):
        words = []
        for tile, word in enumerate(plan.weight_words[r]):
            value = sum((int(w) & 0xFF) << (8 * c) for c, w in enumerate(word))
            if value:
                words.append({"tile": tile, "hex": f"{value:x}"})
        row_list.append({
            "index": r, "x_lo": 9 * r, "x_hi": 9 * r + 8, "pes": pes, "words": words,
            "above": r - 1 if r else None,
            "delays": [{"to": d, "src": d - 1} for d in range(2, r + 1)] if r else None,
            "x_in": f"xd{r}[{r}]" if r else "x[8:0]",
            "tid_in": f"tid_d[{r}]" if r else "tid",
        })
    return {"row_list": row_list, "last_row": pes, "skew_rows": rows > 1,
            "skew_last": rows - 1, "word_msb": 8 * cols - 1, "word_bits": 8 * cols,
            "latency": rows + 1}


# -- accumulate and requantize ---------------------------------------------------------------
def _accum_context(plan: SystolicPlan) -> dict:
    cols, psum = plan.shape.cols, plan.psum_width
    acc, prod, mult = plan.acc_width, plan.prod_width, plan.mult_width
    shift_bits = max(1, int(max(max(s) for s in plan.lane_shift)).bit_length())
    q_bits = max(prod, 10) + 2  # q + round + zero point, with room for the clamp compare
    rq = plan.requant
    lanes = []
    for c in range(cols):
        lanes.append({
            "index": c, "psum_lo": psum * c, "psum_hi": psum * c + psum - 1,
            "bias": [{"ct": ct, "value": _literal(plan.lane_bias[ct][c], acc)}
                     for ct in range(plan.n_ct)],
            "mult": [{"ct": ct, "value": f"{mult}'d{plan.lane_mult[ct][c]}"}
                     for ct in range(plan.n_ct)],
            "shift": [{"ct": ct, "value": f"{shift_bits}'d{plan.lane_shift[ct][c]}"}
                      for ct in range(plan.n_ct)],
        })
    return {
        "lanes": lanes, "acc_msb": acc - 1, "mult_msb": mult - 1, "shift_msb": shift_bits - 1,
        "prod_msb": prod - 1, "prod_bits": prod, "prod_ones": f"{(1 << prod) - 1:x}",
        "q_msb": q_bits - 1, "zp_lit": _literal(rq.zero_point, q_bits),
        "lo_lit": _literal(rq.lo, q_bits), "hi_lit": _literal(rq.hi, q_bits),
        "lo_byte": f"8'h{rq.lo & 0xFF:02x}", "hi_byte": f"8'h{rq.hi & 0xFF:02x}",
        "zp": rq.zero_point, "lo": rq.lo, "hi": rq.hi, "half_even": plan.half_even,
        "rounding": "ties to even" if plan.half_even else "ties up",
    }


# -- the top -------------------------------------------------------------------------------
def _top_context(plan: SystolicPlan) -> dict:
    win, rows, cols = plan.window, plan.shape.rows, plan.shape.cols
    timing = cycle_model(plan)
    # Signed coordinates: window origins, tap positions and addresses (padding included).
    extent = max(win.padded_h * win.w + win.padded_w, win.padded_h, win.padded_w,
                 win.pt * win.w + win.pl + 1) + win.kh * win.w + win.kw
    coord_bits = extent.bit_length() + 1
    load_bits = _bits(plan.in_beats)
    port_list = []
    for p in range(plan.ports):
        taps = []
        for kt, entry in enumerate(plan.port_taps):
            tap = entry[p]
            if tap is not None:
                taps.append({"kt": kt, "kh": tap.kh, "kw": tap.kw, "off": tap.offset, "on": 1})
        port_list.append({"index": p, "taps": taps})
    zp9 = f"9'h{plan.pad_value & 0x1FF:03x}"
    row_list, select_rows = [], []
    for r in range(rows):
        sources = []
        for index, (port, ci) in enumerate(plan.row_sources[r]):
            hi, lo = 8 * ci + 7, 8 * ci
            ext = f"d2_{port}[{hi}]" if plan.input.dtype.signed else "1'b0"
            sources.append({"value": index,
                            "expr": f"(in2_{port} ? {{{ext}, d2_{port}[{hi}:{lo}]}} : {zp9})"})
        row_list.append({"index": r, "sources": sources})
        if len(sources) > 1:
            select_rows.append({"index": r, "msb": _bits(len(sources)) - 1})
    select_table = [
        {"kt": kt, "sels": [{"row": s["index"], "value": choice[s["index"]]} for s in select_rows]}
        for kt, choice in enumerate(plan.row_select)]
    m_bits, ct_bits = _bits(plan.pixels), _bits(plan.n_ct)
    return {
        "layer": plan.name, "kind": plan.kind.value,
        "in_shape": "x".join(map(str, plan.input.shape)),
        "out_shape": "x".join(map(str, plan.output.shape)),
        "in_msb": 8 * plan.cin - 1, "in_keep_msb": plan.cin - 1,
        "out_msb": 8 * plan.cout - 1, "out_keep_msb": plan.cout - 1, "out_bytes": plan.cout,
        "out_beats": plan.out_beats, "in_last": plan.in_beats - 1,
        "load_msb": load_bits - 1, "load_bits": load_bits,
        "n_ct": plan.n_ct, "n_kt": plan.n_kt, "items": timing.items, "ports": plan.ports,
        "latency": timing.latency, "interval": timing.interval,
        "ow_msb": _bits(win.wo) - 1, "ow_last": win.wo - 1,
        "kt_msb": _bits(plan.n_kt) - 1, "kt_last": plan.n_kt - 1, "ct_last": plan.n_ct - 1,
        "cw_msb": coord_bits - 1,
        "ih0": _literal(-win.pt, coord_bits), "iw0": _literal(-win.pl, coord_bits),
        "base0": _literal(-win.pt * win.w - win.pl, coord_bits),
        "sh": _literal(win.sh, coord_bits), "sw": _literal(win.sw, coord_bits),
        "row_step": _literal(win.sh * win.w, coord_bits),
        "in_h": win.h, "in_w": win.w,
        "port_list": port_list, "row_list": row_list, "select_rows": select_rows,
        "select_table": select_table, "zp": plan.pad_value,
        "array_latency": rows + 1, "array_latency_less1": rows,
        "tag_bits": m_bits + ct_bits + 4, "tag_valid": m_bits + ct_bits + 3,
        "tag_first": m_bits + ct_bits + 2, "tag_last": m_bits + ct_bits + 1,
        "tag_final": m_bits + ct_bits, "tag_ct_hi": m_bits + ct_bits - 1, "tag_ct_lo": m_bits,
        "out_tiles": list(range(plan.n_ct)), "omem_msb": 8 * cols * plan.n_ct - 1,
        "count_msb": plan.pixels.bit_length() - 1,
    }
