"""Verilog of a multiplexed-kind layer (:mod:`hlsgen.hw.multiplexed`): the layer's digit
planes as memory contents, the shared tree level by level, the accumulator, the shift-add
rescalers (Booth digits of each channel's scale) and the one clamp every channel goes through
(``templates/rtl/layer_multiplexed.v.j2``)."""

from __future__ import annotations

from dataclasses import replace

from hlsgen.decompose.graph import bit_width
from hlsgen.hw import multiplexed
from hlsgen.hw.module import ModulePlan
from hlsgen.hw.netlist import Datapath
from hlsgen.hw.plan import HardwarePlan

__all__ = ["multiplexed_context"]


def multiplexed_context(plan: HardwarePlan, m: ModulePlan, wire, literal) -> dict:
    """Template context of multiplexed module ``m`` (the caller adds its module names and
    front end); ``wire`` renders the clamp (:func:`hlsgen.emit.rtl._wire`), ``literal`` a
    signed sized constant."""
    e = multiplexed.engine(m)
    per_stage = plan.per_stage(m)
    stages = plan.stages(m)
    n = e.chunk_inputs  # the tree's inputs
    cbits = multiplexed.correction_bits(e)
    acc_bits = max(bit_width(*e.acc_range), 9 + e.tree_levels + 1)
    value_bits = bit_width(*e.value_range)
    u_bits = bit_width(*e.u_range)
    p_bits = bit_width(*e.product_range)
    bias_sum_bits = max([acc_bits, u_bits] + [bit_width(c, c) for c in e.biases]) + 1
    sum_bits = max([p_bits, value_bits] + [bit_width(c, c) for c in e.roundings]) + 1
    jbits = max(1, (e.digits - 1).bit_length())
    cl = e.lane_channels
    obits = max(1, (cl - 1).bit_length())
    rbits = max(1, (e.rescalers - 1).bit_length())
    net, _, out = multiplexed.clamp_node(e)
    dp = Datapath(tuple(net.nodes), (out,))
    clamp_wire = wire(out, dp, lambda k: "v")
    lanes = [_lane(e, lane, "" if e.lanes == 1 else f"l{lane}_", m.inputs[0].dtype.signed,
                   dict(n=n, jbits=jbits, obits=obits, per_stage=per_stage,
                        bias_sum_bits=bias_sum_bits, sum_bits=sum_bits), clamp_wire, literal)
             for lane in range(e.lanes)]
    src = m.inputs[0]
    gbits = max(1, (e.lane_groups - 1).bit_length())
    kbits = max(1, (e.chunks - 1).bit_length())
    steps = e.steps
    tbits = max(1, (steps - 1).bit_length())
    pbits = max(1, (e.planes - 1).bit_length())
    out_bits = 8 * e.channels
    lane_bits = 8 * cl

    def shift_in(new: str, name: str = "sv") -> str:
        return new if stages == 1 else f"{{{name}[{stages - 1}:1], {new}}}"

    return dict(
        name=m.name, source=m.layer.source, kind=m.layer.kind.value, front=m.front.value,
        in_shapes=[t.shape for t in m.inputs], out_shape=m.output.shape,
        in_msb=8 * src.shape[2] - 1, out_bits=out_bits, out_msb=out_bits - 1,
        bus_msb=m.bus_bits - 1, inputs=n, channels=e.channels, planes=e.planes, steps=steps,
        lanes=lanes, lane_channels=cl, lane_msb=lane_bits - 1,
        tree_levels=e.tree_levels, per_stage=per_stage, stages=stages,
        tbits=tbits, tmsb=tbits - 1, last=f"{tbits}'d{steps - 1}",
        pbits=pbits, pmsb=pbits - 1, last_plane=f"{pbits}'d{e.planes - 1}",
        obits=obits, omsb=obits - 1, rom_bits=2 * n + cbits, rom_msb=2 * n + cbits - 1,
        cmsb=cbits - 1, acc_bits=acc_bits,
        sum_bits=sum_bits, value_bits=value_bits, shift=e.shift, bias_sum_bits=bias_sum_bits,
        u_bits=u_bits, p_bits=p_bits, digits=e.digits, rescalers=e.rescalers,
        jbits=jbits, jmsb=jbits - 1, last_digit=f"{jbits}'d{e.digits - 1}",
        rbits=rbits, rmsb=rbits - 1, last_channel=f"{obits}'d{cl - 1}",
        shift_in=shift_in, multiplexed=True, groups=e.lane_groups,
        gbits=gbits, gmsb=gbits - 1, last_in_group=f"{obits}'d{min(e.channels // e.groups, cl) - 1}",
        chunks=e.chunks, kbits=kbits, kmsb=kbits - 1, last_chunk=f"{kbits}'d{e.chunks - 1}")


def _lane(e, lane: int, prefix: str, signed: bool, sizes: dict, clamp_wire, literal) -> dict:
    """Template context of one lane: its channels' digit memory, the fields its tree reads,
    its tree's levels, bias, rounding and Booth tables, its clamp; names start with
    ``prefix``."""
    n, jbits, obits = sizes["n"], sizes["jbits"], sizes["obits"]
    channels = range(lane * e.lane_channels, (lane + 1) * e.lane_channels)
    levels, names = [], [f"{prefix}g0_{i}" for i in range(n)]
    for k in range(1, e.tree_levels + 1):
        nodes = [f"{names[j]} + {names[j + 1]}" if j + 1 < len(names) else names[j]
                 for j in range(0, len(names), 2)]
        register = k % sizes["per_stage"] == 0 or k == e.tree_levels
        levels.append(dict(k=k, nodes=nodes, width=9 + k, register=register,
                           names=[f"{prefix}g{k}_{j}" for j in range(len(nodes))]))
        names = levels[-1]["names"]
    rom = []
    for o in channels:
        for b in range(e.planes):
            for k in range(e.chunks):
                word = e.correction(o, b, k) << (2 * n)
                for j, i in enumerate(range(k * n, min((k + 1) * n, e.inputs))):
                    if e.nonzero[o, b, i]:
                        word |= 1 << j
                    if e.negative[o, b, i]:
                        word |= 1 << (n + j)
                rom.append(f"{word:x}")
    codes = {-2: 6, -1: 5, 0: 0, 1: 1, 2: 2}  # {negative, two, one}
    booth = [0] * (1 << (obits + jbits))
    for t, o in enumerate(channels):
        for j in range(e.digits):
            booth[(t << jbits) | j] = codes[int(e.booth[o, j])]
    extend, group_fields, chunk_fields = [], [], []
    if e.chunks > 1:  # tree input j reads input k * n + j in chunk k: a K:1 multiplexer
        for j in range(n):
            chunk_fields.append([f"x[{8 * e.bus_inputs[i] + 7}:{8 * e.bus_inputs[i]}]"
                                 if i < e.inputs else "8'd0"
                                 for i in range(j, e.chunks * n, n)])
            field, top = f"{prefix}xc_{j}[k0]", f"{prefix}xc_{j}[k0][7]"
            extend.append(f"{{{top}, {field}}}" if signed else f"{{1'b0, {field}}}")
    # with one chunk, tree input i is input i: element b of group 0 (group g: + g * Cin/G);
    # the lane's first channel is in group g0, its groups are g0 .. g0 + lane_groups - 1.
    # Visiting several groups, the lane latches its group's inputs from the front end's
    # window d0 one group at a time (xq); else it reads the captured item x.
    first = channels[0] * e.groups // e.channels
    for i, b in enumerate(e.bus_inputs if e.chunks == 1 else ()):
        bits = [(8 * (b + g * e.group_inputs) + 7, 8 * (b + g * e.group_inputs))
                for g in range(first, first + e.lane_groups)]
        if e.lane_groups > 1:  # a multiplexer on the group index
            group_fields.append([f"d0[{hi}:{lo}]" for hi, lo in bits])
            field, top = f"{prefix}xq_{i}", f"{prefix}xq_{i}[7]"
        else:
            field, top = f"x[{bits[0][0]}:{bits[0][1]}]", f"x[{bits[0][0]}]"
        extend.append(f"{{{top}, {field}}}" if signed else f"{{1'b0, {field}}}")
    lane_bits = 8 * e.lane_channels
    clamp = replace(clamp_wire, name=f"{prefix}{clamp_wire.name}",
                    terms=(replace(clamp_wire.terms[0], src=f"{prefix}v"),))
    return dict(
        p=prefix, rom=rom, booth=booth, extend=extend, group_fields=group_fields,
        chunk_fields=chunk_fields, levels=levels, root=names[0], clamp_wire=clamp,
        biases=[literal(e.biases[o], sizes["bias_sum_bits"]) for o in channels],
        roundings=[literal(e.roundings[o], sizes["sum_bits"]) for o in channels],
        y_shift=(clamp.name if e.lane_channels == 1
                 else f"{{{clamp.name}, {prefix}y[{lane_bits - 1}:8]}}"))
