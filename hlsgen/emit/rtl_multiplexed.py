"""Verilog of a multiplexed-kind layer (:mod:`hlsgen.hw.multiplexed`): the layer's digit
planes as memory contents, the shared tree level by level, the accumulator, the shift-add
rescalers (Booth digits of each channel's scale) and the one clamp every channel goes through
(``templates/rtl/layer_multiplexed.v.j2``)."""

from __future__ import annotations

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
    levels, names = [], [f"g0_{i}" for i in range(n)]
    for k in range(1, e.tree_levels + 1):
        nodes = [f"{names[j]} + {names[j + 1]}" if j + 1 < len(names) else names[j]
                 for j in range(0, len(names), 2)]
        register = k % per_stage == 0 or k == e.tree_levels
        levels.append(dict(k=k, nodes=nodes, width=9 + k, register=register))
        names = [f"g{k}_{j}" for j in range(len(nodes))]
    cbits = multiplexed.correction_bits(e)
    rom = []
    for o in range(e.channels):
        for b in range(e.planes):
            for k in range(e.chunks):
                word = e.correction(o, b, k) << (2 * n)
                for j, i in enumerate(range(k * n, min((k + 1) * n, e.inputs))):
                    if e.nonzero[o, b, i]:
                        word |= 1 << j
                    if e.negative[o, b, i]:
                        word |= 1 << (n + j)
                rom.append(f"{word:x}")
    acc_bits = max(bit_width(*e.acc_range), 9 + e.tree_levels + 1)
    value_bits = bit_width(*e.value_range)
    u_bits = bit_width(*e.u_range)
    p_bits = bit_width(*e.product_range)
    bias_sum_bits = max([acc_bits, u_bits] + [bit_width(c, c) for c in e.biases]) + 1
    sum_bits = max([p_bits, value_bits] + [bit_width(c, c) for c in e.roundings]) + 1
    jbits = max(1, (e.digits - 1).bit_length())
    obits = max(1, (e.channels - 1).bit_length())
    codes = {-2: 6, -1: 5, 0: 0, 1: 1, 2: 2}  # {negative, two, one}
    booth = [0] * (1 << (obits + jbits))
    for o in range(e.channels):
        for j in range(e.digits):
            booth[(o << jbits) | j] = codes[int(e.booth[o, j])]
    rbits = max(1, (e.rescalers - 1).bit_length())
    net, _, out = multiplexed.clamp_node(e)
    dp = Datapath(tuple(net.nodes), (out,))
    clamp_wire = wire(out, dp, lambda k: "v")
    src = m.inputs[0]
    extend, group_fields, chunk_fields = [], [], []
    if e.chunks > 1:  # tree input j reads input k * n + j in chunk k: a K:1 multiplexer
        for j in range(n):
            chunk_fields.append([f"x[{8 * e.bus_inputs[i] + 7}:{8 * e.bus_inputs[i]}]"
                                 if i < e.inputs else "8'd0"
                                 for i in range(j, e.chunks * n, n)])
            field, top = f"xc_{j}[k0]", f"xc_{j}[k0][7]"
            extend.append(f"{{{top}, {field}}}" if src.dtype.signed else f"{{1'b0, {field}}}")
    # with one chunk, tree input i is input i: element b of group 0 (group g: + g * Cin/G),
    # grouped: latched from the front end's window d0 one group at a time
    for i, b in enumerate(e.bus_inputs if e.chunks == 1 else ()):
        if e.groups > 1:  # a G:1 multiplexer on the group index
            group_fields.append([f"d0[{8 * (b + g * e.group_inputs) + 7}:"
                                 f"{8 * (b + g * e.group_inputs)}]" for g in range(e.groups)])
            field, top = f"xq_{i}", f"xq_{i}[7]"
        else:
            field, top = f"x[{8 * b + 7}:{8 * b}]", f"x[{8 * b + 7}]"
        extend.append(f"{{{top}, {field}}}" if src.dtype.signed else f"{{1'b0, {field}}}")
    gbits = max(1, (e.groups - 1).bit_length())
    kbits = max(1, (e.chunks - 1).bit_length())
    steps = e.steps
    tbits = max(1, (steps - 1).bit_length())
    pbits = max(1, (e.planes - 1).bit_length())
    out_bits = 8 * e.channels

    def shift_in(new: str, name: str = "sv") -> str:
        return new if stages == 1 else f"{{{name}[{stages - 1}:1], {new}}}"

    return dict(
        name=m.name, source=m.layer.source, kind=m.layer.kind.value, front=m.front.value,
        in_shapes=[t.shape for t in m.inputs], out_shape=m.output.shape,
        in_msb=8 * src.shape[2] - 1, out_bits=out_bits, out_msb=out_bits - 1,
        bus_msb=m.bus_bits - 1, inputs=n, channels=e.channels, planes=e.planes, steps=steps,
        tree_levels=e.tree_levels, per_stage=per_stage, stages=stages,
        tbits=tbits, tmsb=tbits - 1, last=f"{tbits}'d{steps - 1}",
        pbits=pbits, pmsb=pbits - 1, last_plane=f"{pbits}'d{e.planes - 1}",
        obits=obits, omsb=obits - 1, rom=rom, rom_bits=2 * n + cbits, rom_msb=2 * n + cbits - 1,
        cmsb=cbits - 1, extend=extend, levels=levels, root=names[0], acc_bits=acc_bits,
        sum_bits=sum_bits, value_bits=value_bits, shift=e.shift,
        biases=[literal(c, bias_sum_bits) for c in e.biases], bias_sum_bits=bias_sum_bits,
        roundings=[literal(c, sum_bits) for c in e.roundings], clamp_wire=clamp_wire,
        u_bits=u_bits, p_bits=p_bits, booth=booth, digits=e.digits, rescalers=e.rescalers,
        jbits=jbits, jmsb=jbits - 1, last_digit=f"{jbits}'d{e.digits - 1}",
        rbits=rbits, rmsb=rbits - 1, booth_index=lambda k: f"{{o_{k}, j_{k}}}",
        y_shift=(clamp_wire.name if e.channels == 1
                 else f"{{{clamp_wire.name}, y[{out_bits - 1}:8]}}"),
        shift_in=shift_in, multiplexed=True, groups=e.groups,
        per_group=e.channels // e.groups, group_fields=group_fields, gbits=gbits,
        gmsb=gbits - 1, last_in_group=f"{obits}'d{e.channels // e.groups - 1}",
        chunks=e.chunks, chunk_fields=chunk_fields, kbits=kbits, kmsb=kbits - 1,
        last_chunk=f"{kbits}'d{e.chunks - 1}")
