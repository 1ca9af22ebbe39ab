"""Verilog of a :class:`~hlsgen.systolic.network.NetworkPlan`: the sequencer top, the shared
array (weights in one block-RAM ROM per row) and the shared lanes, from
``templates/systolic/net_*.v.j2`` (``plan.pe == "shiftadd"``: the array of
``net_array_shiftadd.v.j2``, its digit positions from :mod:`hlsgen.systolic.shiftadd`, and a
clock enable for the whole issue -> array -> lanes pipeline).

:func:`emit_network` returns ``{path relative to the project: text}``; this module only turns
the plan's tables into names, bit ranges and literals.
"""

from __future__ import annotations

import hlsgen
from hlsgen.emit.common import CoreName, template_env
from hlsgen.systolic.emit import _bits, _literal, cost_file, module_names
from hlsgen.systolic.network import NetworkPlan, Op, Vmode
from hlsgen.systolic.nettiming import network_cycle_model, release_delay
from hlsgen.systolic.shiftadd import booth_function, booth_window_function, split_digits

__all__ = ["emit_network", "psum_width", "address_width"]

DSP_A_BITS = 25  # DSP48E1 multiplier: 25-bit signed A ...
DSP_B_UNSIGNED = 17  # ... times 18-bit signed B: 17 bits of an unsigned multiplier


def emit_network(plan: NetworkPlan, core: CoreName | None = None) -> dict[str, str]:
    """``rtl/*.v`` and ``rtl/hlsgen_cost.json`` of the whole network on the array."""
    names = module_names(core)
    env = template_env("systolic")
    version = hlsgen.__version__
    common = _common(plan)
    timing = network_cycle_model(plan)
    shiftadd = plan.pe == "shiftadd"
    array = _shiftadd_array_context(plan) if shiftadd else _array_context(plan)
    files = {
        f"rtl/{names['array']}.v": env.get_template(
            "net_array_shiftadd.v.j2" if shiftadd else "net_array.v.j2").render(
            version=version, module=names["array"], **common, **array),
        f"rtl/{names['accum']}.v": env.get_template("net_accum.v.j2").render(
            version=version, module=names["accum"], **common, **_accum_context(plan)),
        f"rtl/{names['top']}.v": env.get_template("net_top.v.j2").render(
            version=version, top=names["top"], array_module=names["array"],
            accum_module=names["accum"], latency=timing.latency, interval=timing.interval,
            **common, **_top_context(plan)),
    }
    files["rtl/hlsgen_cost.json"] = cost_file(names, plan.shape, timing, plan.macs,
                                              "shiftadd" if shiftadd else None)
    return files


def _common(plan: NetworkPlan) -> dict:
    rows, cols = plan.shape.rows, plan.shape.cols
    psum = psum_width(plan)
    max_ct = max(plan.banks, max(s.n_ct for s in plan.steps))
    shiftadd = plan.pe == "shiftadd"
    stream = plan.weight_source == "stream"
    slots = plan.ring_depth if stream else plan.tiles  # words of a row's weight memory
    return {
        # shift-add: registers of the pipeline advance on ce (a beat's last cycle) only
        "shiftadd": shiftadd, "gate": "if (ce) " if shiftadd else "",
        "ce_and": "ce && " if shiftadd else "", "ph_msb": _ph_bits(plan) - 1,
        "array_ce": ".ce(ce), .ph(ph), .pos(pos), .pon(pon), " if shiftadd else "",
        "accum_ce": (".ce(ce), .ph0(ph == 0), " if plan.lane_split else ".ce(ce), ")
        if shiftadd else "",
        "flavour": "(shift-add PEs, no DSP)" if shiftadd else "(DSP baseline)",
        "rows": rows, "cols": cols, "rows_last": rows - 1, "tiles": plan.tiles,
        "pixels": plan.max_pixels, "m_last": plan.max_pixels - 1,
        "m_msb": _bits(plan.max_pixels) - 1, "ct_msb": _bits(max_ct) - 1,
        "gct_msb": _bits(plan.ct_total) - 1, "tid_msb": _bits(slots) - 1,
        "tid_bits": _bits(slots), "tiles_last": slots - 1,
        # streamed weights: the loader writes the rows' rings (plan.ring_depth words each)
        "weight_stream": stream, "issue": "go" if stream else "issuing",
        "array_load": ".wr_en(ring_fire), .wr_row(ring_row), .wr_slot(ring_slot), "
                      ".wr_data(w_stream_TDATA), " if stream else "",
        "ring_depth": plan.ring_depth, "ring_count_msb": _bits(plan.ring_depth + 1) - 1,
        "row_msb": _bits(rows) - 1, "row_bits": _bits(rows),
        "pass_msb": rows + 1,  # a tile's last item: issue -> I1, I2, I3, the skew's R - 1
        "ct_total": plan.ct_total,
        "x_bus_msb": 9 * rows - 1, "psum_bus_msb": psum * cols - 1, "psum_msb": psum - 1,
        "lanes_msb": 8 * cols - 1, "bx_msb": 9 * cols - 1,
    }


def _ph_bits(plan: NetworkPlan) -> int:
    """Bits of the beat's cycle counter ph (0 .. B - 1)."""
    return max(1, (max(plan.step_beats or (1,)) - 1).bit_length())


def psum_width(plan: NetworkPlan) -> int:
    """Bits of the array's partial sums (the resource model counts them too)."""
    from hlsgen.decompose.graph import bit_width
    from hlsgen.systolic.plan import PRODUCT_BOUND

    rows = plan.shape.rows
    return bit_width(-rows * PRODUCT_BOUND, rows * PRODUCT_BOUND)


def address_width(plan: NetworkPlan) -> int:
    """Bits of the front end's signed window arithmetic (cw)."""
    src = plan.graph_input
    depth = max(plan.bank_depth)
    bound = src.shape[0] * src.shape[1] + depth
    for s in plan.steps:
        win = s.window
        bound = max(bound, (win.padded_h + win.kh) * (win.w + win.padded_w + win.kw)
                    + s.in_base + depth)
    return bound.bit_length() + 2


# -- the array -------------------------------------------------------------------------------
def _array_context(plan: NetworkPlan) -> dict:
    rows, cols = plan.shape.rows, plan.shape.cols
    per_pe = plan.has_depthwise
    # xpe: row r's C values, 9 bits each, row-major
    pes = [{"col": c, "w_lo": 8 * c, "w_hi": 8 * c + 7, "suffix": f"_{c}" if per_pe else "",
            "xpe_lo": [9 * (r * cols + c) for r in range(rows)],
            "xpe_hi": [9 * (r * cols + c) + 8 for r in range(rows)]} for c in range(cols)]
    words = [[] for _ in range(rows)]
    for step in plan.steps:
        if step.op not in (Op.MAC, Op.DW) or plan.weight_source == "stream":
            continue
        for r in range(rows):
            for local, word in enumerate(step.words[r]):
                value = sum((int(w) & 0xFF) << (8 * c) for c, w in enumerate(word))
                words[r].append({"tile": step.tile_base + local, "hex": f"{value:x}"})
    row_list = []
    for r in range(rows):
        row_list.append({
            "index": r, "x_lo": 9 * r, "x_hi": 9 * r + 8, "pes": pes, "words": words[r],
            "above": r - 1 if r else None,
            "delays": [{"to": d, "src": d - 1} for d in range(2, r + 1)] if r else None,
            "x_in": f"xd{r}[{r}]" if r else "x[8:0]",
            "tid_in": f"tid_d[{r}]" if r else "tid",
        })
    return {"row_list": row_list, "last_row": pes, "skew_rows": rows > 1,
            "skew_last": rows - 1, "word_msb": 8 * cols - 1, "word_bits": 8 * cols,
            "latency": rows + 1, "per_pe": per_pe,
            "xpe_msb": 9 * rows * cols - 1}


def _shiftadd_array_context(plan: NetworkPlan) -> dict:
    """The DSP array's context: the same int8 weight ROMs (each PE takes its Booth digits
    from its weight's bits)."""
    return _array_context(plan)


# -- the lanes -------------------------------------------------------------------------------
def _q_bits(plan: NetworkPlan) -> int:
    return max(plan.prod_width, 10) + 2  # q + round + zero point, room for the clamp compare


def _accum_context(plan: NetworkPlan) -> dict:
    cols, psum = plan.shape.cols, psum_width(plan)
    acc, prod, mult = plan.acc_width, plan.prod_width, plan.mult_width
    half = split_digits(mult)
    shifts = [v for s in plan.steps for row in s.lane_shift for v in row]
    shift_bits = max(1, max(shifts).bit_length())
    scale = plan.scale_width
    lanes = []
    for c in range(cols):
        bias, mults, shift, scales = [], [], [], []
        for step in plan.steps:
            for ct in range(step.n_ct):
                g = step.ct_base + ct
                bias.append({"ct": g, "value": _literal(step.lane_bias[ct][c], acc)})
                mults.append({"ct": g, "value": f"{mult}'d{step.lane_mult[ct][c]}"})
                shift.append({"ct": g, "value": f"{shift_bits}'d{step.lane_shift[ct][c]}"})
                if step.op is Op.SCALE:
                    scales.append({"ct": g, "a": f"{scale}'d{step.lane_scale[0][ct][c]}",
                                   "b": f"{scale}'d{step.lane_scale[-1][ct][c]}"})
        lanes.append({"index": c, "psum_lo": psum * c, "psum_hi": psum * c + psum - 1,
                      "bx_lo": 9 * c, "bx_hi": 9 * c + 8, "bias": bias, "mult": mults,
                      "shift": shift, "scale": scales})
    # the accumulator memory holds the pixels of the steps that sum over several k-tiles
    acc_pixels = max([st.pixels for st in plan.steps if st.n_kt > 1] + [1])
    return {
        "acc_last": acc_pixels - 1, "acc_addr_msb": _bits(acc_pixels) - 1,
        "lanes": lanes, "acc_msb": acc - 1, "mult_msb": mult - 1, "shift_msb": shift_bits - 1,
        "prod_msb": prod - 1, "prod_bits": prod, "prod_ones": f"{(1 << prod) - 1:x}",
        "q_msb": _q_bits(plan) - 1, "racc_msb": plan.racc_width - 1,
        "scale_msb": scale - 1, "sp_msb": 9 + scale,
        # a DSP48E1 multiplies 25 x 18 bits signed: the multiplier's bits past 17 by shift-add
        "split_mult": (mult > DSP_B_UNSIGNED and plan.racc_width <= DSP_A_BITS
                       and plan.pe == "dsp"),
        "booth_function": (booth_window_function("booth_half", plan.racc_width, half, prod)
                           if plan.lane_split else
                           booth_function("booth", plan.racc_width, mult, prod))
        if plan.pe == "shiftadd" else "",
        "lane_split": plan.lane_split, "half_digits": half, "half_shift": 2 * half,
        "window_msb": 2 * half, "mext_msb": max(4 * half, mult) - 1, "mext_pad": max(
            4 * half, mult) - mult, "lo_msb": 2 * half - 1, "hi_lo": 2 * half - 1,
        "hi_msb": min(4 * half - 1, max(4 * half, mult) - 1),
        "mult_lo_bits": DSP_B_UNSIGNED, "mult_hi_msb": mult - DSP_B_UNSIGNED - 1,
    }


# -- the top ---------------------------------------------------------------------------------
def _top_context(plan: NetworkPlan) -> dict:
    rows, cols = plan.shape.rows, plan.shape.cols
    src, out = plan.graph_input, plan.graph_output
    in_beats = src.shape[0] * src.shape[1]
    depth = max(plan.bank_depth)
    cw = address_width(plan)
    addr_bits = _bits(max(in_beats, depth))
    q_bits = _q_bits(plan)
    word_bits = 8 * cols * plan.banks
    last = plan.steps[-1]
    m_bits = _bits(plan.max_pixels)
    ct_bits = _bits(max(plan.banks, max(s.n_ct for s in plan.steps)))
    gct_bits = _bits(plan.ct_total)
    fields = [  # name, bits, signed
        ("m_last", m_bits, False), ("ow_last", _bits(max(s.window.wo for s in plan.steps)), False),
        ("kt_first", _bits(plan.kt_total), False), ("kt_last", _bits(plan.kt_total), False),
        ("ct_last", ct_bits, False), ("gct_base", gct_bits, False),
        ("tile_base", _bits(plan.tiles), False),
        ("ih0", cw, True), ("iw0", cw, True), ("base0", cw, True), ("sh", cw, True),
        ("sw", cw, True), ("row_step", cw, True), ("in_h", cw, True), ("in_w", cw, True),
        ("in_base", cw, True), ("out_base", addr_bits, False), ("rin", 1, False),
        ("sgn", 1, False), ("sgn_b", 1, False), ("pad9", 9, False), ("last", 1, False),
        ("op_max", 1, False),
        ("op_scale", 1, False), ("vm_mult", 1, False), ("vm_raw", 1, False),
        ("half_even", 1, False), ("dw", 1, False), ("zp", q_bits, True), ("lo", q_bits, True),
        ("hi", q_bits, True)]
    if plan.pe == "shiftadd":
        fields.append(("tlast", _ph_bits(plan), False))  # B - 1: the beat's last cycle
        fields.append(("direct", 1, False))  # a copy per port read: reads at the beat's end
        fields.append(("terms", 3, False))  # T: the digit positions the step runs
        fields.append(("posmap", 8, False))  # position of cycle t at bits [2t + 1 : 2t]
        fields.append(("wshare", 1, False))  # depthwise: one read serves a run of ports
    if plan.weight_source == "stream":
        fields.append(("wt", 1, False))  # the step's tiles take weights from the rings
    descriptors = []
    for index, s in enumerate(plan.steps):
        win, rq = s.window, s.requant
        values = {
            "m_last": s.pixels - 1, "ow_last": win.wo - 1, "kt_first": s.kt_base,
            "kt_last": s.kt_base + s.n_kt - 1, "ct_last": s.n_ct - 1, "gct_base": s.ct_base,
            "tile_base": s.tile_base, "ih0": -win.pt, "iw0": -win.pl,
            "base0": -win.pt * win.w - win.pl, "sh": win.sh, "sw": win.sw,
            "row_step": win.sh * win.w, "in_h": win.h, "in_w": win.w, "in_base": s.in_base,
            "out_base": s.out_base, "rin": int(s.reads_input), "sgn": int(s.input.dtype.signed),
            "sgn_b": int((s.input_b or s.input).dtype.signed),
            "pad9": s.pad_value & 0x1FF, "last": int(s.to_output),
            "op_max": int(s.op is Op.MAX), "op_scale": int(s.op is Op.SCALE),
            "vm_mult": int(s.vmode is Vmode.MULT), "vm_raw": int(s.vmode is Vmode.RAW),
            "half_even": int(s.half_even), "dw": int(s.op is Op.DW),
            "zp": rq.zero_point if rq else 0, "lo": rq.lo if rq else 0, "hi": rq.hi if rq else 0,
            "tlast": plan.step_beats[index] - 1 if plan.step_beats else 0,
            "terms": len(plan.step_positions[index]) if plan.step_positions else 0,
            "posmap": sum(k << (2 * t) for t, k in enumerate(plan.step_positions[index]))
            if plan.step_positions else 0,
            "wshare": int(plan.step_shared[index]) if plan.step_shared else 0,
            "wt": int(s.op in (Op.MAC, Op.DW)),
            "direct": int(plan.step_reads[index] <= (
                plan.in_copies if s.reads_input else plan.act_copies)) if plan.step_reads else 1}
        descriptors.append({"index": index, "fields": [
            {"name": n, "value": _literal(values[n], b) if sg else f"{b}'d{values[n]}"}
            for n, b, sg in fields]})
    ports = []
    in_ports = plan.in_copies
    for p in range(plan.ports):
        taps = []
        for s in plan.steps:
            for kt, entry in enumerate(s.port_taps):
                tap = entry[p]
                if tap is not None:
                    taps.append({"kt": s.kt_base + kt, "kh": tap.kh, "kw": tap.kw,
                                 "off": _literal(tap.offset, cw)})
        shared = plan.pe == "shiftadd"  # every port holds its reads (see _read_memories)
        inbuf = shared or p < in_ports
        act = list(range(plan.banks)) if shared or p < plan.act_copies else []
        pad = word_bits - 8 * src.shape[2]
        in_reg = f"rd_in{p}" if shared and p < plan.in_copies else f"ri{p}"
        in_word = (f"{{{pad}'d0, {in_reg}}}" if pad else in_reg) if inbuf else f"{word_bits}'d0"
        act_word = ("{" + ", ".join(f"ra{p}_{b}" for b in reversed(act)) + "}"
                    if act else f"{word_bits}'d0")
        if shared and p < plan.act_copies:  # a copy's own port: its read register
            act_word = "{" + ", ".join(f"rd_act{p}_{b}" for b in reversed(act)) + "}"
        delay = p if plan.has_depthwise and p < rows else 0
        dw_source = _dw_source(plan, p) if shared else ""
        ports.append({"index": p, "dw_source": dw_source,
                      "taps": taps, "inbuf": inbuf, "act_banks": act,
                      "in_word": in_word, "act_word": act_word, "delay": delay,
                      "delays": list(range(2, delay + 1))})
    # Row sources: the union over MAC steps of the (port, channel) pairs a row reads.
    sources = [[] for _ in range(rows)]
    choice = {}
    for s in plan.steps:
        if s.op is not Op.MAC:
            continue
        for kt, sel in enumerate(s.plan.row_select):
            for r in range(rows):
                pair = s.plan.row_sources[r][sel[r]]
                if pair not in sources[r]:
                    sources[r].append(pair)
                choice[(s.kt_base + kt, r)] = sources[r].index(pair)
    row_list, select_rows = [], []
    for r in range(rows):
        pairs = sources[r] or [(0, 0)]
        exprs = [{"value": i, "expr": f"(in2_{port} ? {{d_sgn & d2_{port}[{8 * ci + 7}], "
                                      f"d2_{port}[{8 * ci + 7}:{8 * ci}]}} : d_pad9)"}
                 for i, (port, ci) in enumerate(pairs)]
        row_list.append({"index": r, "sources": exprs})
        if len(exprs) > 1:
            select_rows.append({"index": r, "msb": _bits(len(exprs)) - 1})
    select_table = [{"kt": kt, "sels": [{"row": sr["index"],
                                         "value": choice.get((kt, sr["index"]), 0)}
                                        for sr in select_rows]}
                    for kt in range(plan.kt_total)]
    out_pixels = last.pixels
    return {
        "network": plan.name, "layer_count": plan.layers,
        "layer_msb": _bits(plan.layers) - 1, "fields": [
            {"name": n, "msb": b - 1, "signed": "signed " if sg else ""} for n, b, sg in fields],
        "descriptors": descriptors,
        "step_list": [{"index": i, "kind": s.kind.value, "name": s.name, "op": s.op.value,
                       "n_ct": s.n_ct, "n_kt": s.n_kt, "pixels": s.pixels,
                        "item_count": s.items}
                      for i, s in enumerate(plan.steps)],
        "in_shape": "x".join(map(str, src.shape)), "out_shape": "x".join(map(str, out.shape)),
        "in_msb": 8 * src.shape[2] - 1, "in_keep_msb": src.shape[2] - 1,
        "out_msb": 8 * out.shape[2] - 1, "out_keep_msb": out.shape[2] - 1,
        "out_bytes": out.shape[2], "out_beats": out_pixels, "in_last": in_beats - 1,
        "load_msb": _bits(in_beats) - 1, "load_bits": _bits(in_beats),
        "in_copies": list(range(in_ports)), "act_copies": list(range(plan.act_copies)),
        "banks": [{"index": b, "last": d - 1} for b, d in enumerate(plan.bank_depth)],
        "addr_msb": addr_bits - 1, "addr_bits": addr_bits, "word_msb": word_bits - 1,
        "ow_msb": _bits(max(s.window.wo for s in plan.steps)) - 1,
        "kt_msb": _bits(plan.kt_total) - 1, "cw_msb": cw - 1,
        "port_list": ports, "row_list": row_list, "select_rows": select_rows,
        "select_table": select_table,
        "bank_slices": [{"index": b, "lo": 8 * cols * b, "hi": 8 * cols * b + 8 * cols - 1}
                        for b in range(plan.banks)],
        "lane_list": [{"bx_lo": 9 * c, "bx_hi": 9 * c + 8, "lo": 8 * c, "hi": 8 * c + 7}
                      for c in range(cols)],
        "array_latency": rows + 1, "array_latency_less1": rows,
        "per_pe": plan.has_depthwise, "xpe_msb": 9 * rows * cols - 1,
        "xpe_rows": [f"xpe3_{r}" if r < plan.ports else f"{9 * cols}'d0" for r in range(rows)],
        "tag_bits": m_bits + gct_bits + ct_bits + 5, "tag_valid": m_bits + gct_bits + ct_bits + 4,
        "tag_first": m_bits + gct_bits + ct_bits + 3, "tag_last": m_bits + gct_bits + ct_bits + 2,
        "tag_final": m_bits + gct_bits + ct_bits + 1, "tag_end": m_bits + gct_bits + ct_bits,
        "tag_ct_hi": m_bits + gct_bits + ct_bits - 1, "tag_ct_lo": m_bits + gct_bits,
        "tag_gct_hi": m_bits + gct_bits - 1, "tag_gct_lo": m_bits,
        "out_tiles": list(range(last.n_ct)), "out_m_last": out_pixels - 1,
        "out_m_msb": _bits(out_pixels) - 1, "omem_msb": 8 * cols * last.n_ct - 1,
        "count_msb": out_pixels.bit_length() - 1,
        "release_delay": release_delay(plan),
        "read_memories": _read_memories(plan, src.shape[2]) if plan.pe == "shiftadd" else [],
        "pos_cycles": list(range(min(4, 1 << _ph_bits(plan)))),
        "share_groups": [{"index": g, "reps": " | ".join(f"a2_{p}" for p in group),
                          "ct": _first_reading(group)}
                         for g, group in enumerate(plan.share_groups)],
        "dw_copies": [{"index": k, "ct": _read_tile(plan, k), "slots": [
            {"ph": c, "port": k + plan.act_copies * c,
             "ct": _read_tile(plan, k + plan.act_copies * c),
             **_dw_hold(plan, k + plan.act_copies * c)}
            for c in range(1, -(-(plan.ports - k) // plan.act_copies))]}
            for k in range(plan.act_copies)] if plan.pe == "shiftadd" else [],
    }


def _run_of(plan: NetworkPlan, port: int) -> int | None:
    return next((g for g, members in enumerate(plan.share_groups) if port in members), None)


def _dw_source(plan: NetworkPlan, port: int) -> str:
    """A depthwise port's word (its own bank of it): the bank mux of its copy or its hold
    register.  With shared reads, its run's word: a held run's ports load their own hold
    registers with it (:func:`_dw_hold`); a run a copy reads in its own slot (``g < K``)
    reaches its other ports through a mux."""
    k = plan.act_copies
    own = f"dwh{port}" if port >= k else f"rdb{port}"
    group = _run_of(plan, port)
    if group is None or group == port or group >= k:
        return own
    return f"(d_wshare ? rdb{group} : {own})"


def _dw_hold(plan: NetworkPlan, port: int) -> dict:
    """When hold register ``dwh<port>`` loads, and from which copy's bank mux: in the cycle
    after its own read, or, with shared reads, after the read of its run (``g >= K``)."""
    k = plan.act_copies
    own_ph, own_src = port // k, f"rdb{port % k}"
    group = _run_of(plan, port)
    if group is None or group < k or group == port:
        return {"cond": f"ph == {own_ph}", "src": own_src}
    run_ph, run_src = group // k, f"rdb{group % k}"
    src = own_src if run_src == own_src else f"(d_wshare ? {run_src} : {own_src})"
    return {"cond": f"ph == (d_wshare ? {run_ph} : {own_ph})", "src": src}


def _first_reading(group: tuple[int, ...]) -> str:
    """The channel tile of the first port of a run that reads (in2), else its last port's."""
    expr = f"pct2_{group[-1]}"
    for p in reversed(group[:-1]):
        expr = f"in2_{p} ? pct2_{p} : {expr}"
    return f"({expr})" if len(group) > 1 else expr


def _read_tile(plan: NetworkPlan, port: int) -> str:
    """The channel tile whose bank port ``port``'s read keeps (``vct_g`` for a run's read)."""
    return f"vct_{port}" if port < len(plan.share_groups) else f"pct2_{port}"


def _read_address(plan: NetworkPlan, memory: str, port: int) -> str:
    """The address port ``port`` reads; with shared depthwise reads (activation memory), port
    ``g`` of the first ones reads for run ``g`` (``av_g``)."""
    if memory == "act" and port < len(plan.share_groups):
        return f"av_{port}"
    return f"a2_{port}"


def _read_memories(plan: NetworkPlan, in_channels: int) -> list[dict]:
    """Shift-add: per memory (input buffer, activation banks) and copy ``k`` of ``K``, the
    ports it reads in cycle ``i`` of a shared beat (``k + K (i + 1)``; port ``k`` itself in the
    beat's last cycle but one), its read registers, and when each port ``p >= K`` takes its
    word into its hold register (cycle ``p // K``)."""
    memories = []
    for name, copies, regs in (
            ("in", plan.in_copies, lambda k: [(f"rd_in{k}", 8 * in_channels - 1, f"inbuf{k}")]),
            ("act", plan.act_copies, lambda k: [(f"rd_act{k}_{b}", 8 * plan.shape.cols - 1,
                                                 f"act{k}_{b}") for b in range(plan.banks)])):
        entries = []
        for k in range(copies):
            slots = [{"ph": i, "port": port, "addr": _read_address(plan, name, port)}
                     for i, port in enumerate(range(k + copies, plan.ports, copies))]
            entries.append({"index": k, "slots": slots, "addr": _read_address(plan, name, k),
                            "regs": [
                {"name": n, "msb": msb, "memory": mem} for n, msb, mem in regs(k)]})
        holds = {}
        for port in range(copies, plan.ports):
            k = port % copies
            if name == "in":
                pairs = [(f"ri{port}", f"rd_in{k}")]
            else:
                pairs = [(f"ra{port}_{b}", f"rd_act{k}_{b}") for b in range(plan.banks)]
            holds.setdefault(port // copies, []).extend(
                {"dst": d, "src": src} for d, src in pairs)
        memories.append({"name": name, "copies": entries, "holds": [
            {"ph": ph, "assigns": assigns} for ph, assigns in sorted(holds.items())]})
    return memories
