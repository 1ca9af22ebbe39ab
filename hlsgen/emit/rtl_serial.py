"""Verilog of a serial-kind layer (:mod:`hlsgen.hw.serial`): the same netlist as the parallel
kind, computed ``D`` bits per cycle.

:func:`serial_context` prepares the names, digit-register copies, shift histories, adders and
requantizations of one layer for ``templates/rtl/layer_serial.v.j2``; the front end, the
output slice and the requantization's rounding are the parallel kind's.
"""

from __future__ import annotations

from hlsgen.hw import serial
from hlsgen.hw.module import ModulePlan
from hlsgen.hw.netlist import Op
from hlsgen.hw.plan import HardwarePlan

__all__ = ["serial_context"]


def serial_context(plan: HardwarePlan, m: ModulePlan, wire, primitive, params) -> dict:
    """Template context of serial module ``m`` (the caller adds its module names);
    ``wire`` builds a requantization's clamp (:func:`hlsgen.emit.rtl._wire`),
    ``primitive``/``params`` describe its front end."""
    dp, digit = m.datapath, m.digit
    per_stage = plan.per_stage(m)
    home, stages = serial.home_stages(dp, per_stage)
    copies = serial.register_stages(dp, per_stage)
    digits = serial.word_digits(dp, digit)
    word = digits * digit
    tbits = max(1, (digits - 1).bit_length())
    log_digit = digit.bit_length() - 1

    def ref(n: int, stage: int) -> str:
        return f"n{n}" if stage == home[n] else f"n{n}_s{stage}"

    inputs, adders, regs, clamps, clamp_wires = [], [], [], [], []
    history: dict[str, dict] = {}
    for n, node in enumerate(dp.nodes):
        if not dp.live[n] or node.op is Op.CONST:
            continue
        for s in copies[n]:
            regs.append(dict(name=ref(n, s), src=ref(n, s - 1)))
        if node.op is Op.INPUT:
            inputs.append(_input(n, node, word, _digit_index(0, log_digit)))
        elif node.op is Op.ADD:
            stage = home[n]
            terms = []
            for op in node.operands:
                src = ref(op.node, stage)
                if op.shift:
                    q = -(-op.shift // digit)
                    h = history.setdefault(src, dict(src=src, stage=stage, q=0))
                    h["q"] = max(h["q"], q)
                terms.append((src, op.shift, op.negate))
            streams, k = serial.adder_streams(node, word)
            cbits = serial.carry_bits(streams)
            adders.append(dict(node=n, stage=stage, raw=terms, cbits=cbits, cmsb=cbits - 1,
                               smsb=digit + cbits - 1, cin=k if k <= 1 else 0,
                               kdigits=f"{k:x}" if k > 1 else "",
                               kindex=_digit_index(stage, log_digit)))
        elif node.op is Op.CLAMP:
            src = node.operands[0].node
            width = dp.nodes[src].width
            value = f"d{n}_x"
            source = ref(src, stages)
            shift_in = source if digits == 1 else f"{{{source}, d{n}[{word - 1}:{digit}]}}"
            clamps.append(dict(node=n, msb=width - 1, value=value, shift_in=shift_in))
            clamp_wires.append(wire(n, dp, lambda k, value=value: value))
    for h in history.values():
        h.update(bits=h["q"] * digit, msb=h["q"] * digit - 1, cat_msb=(h["q"] + 1) * digit - 1)
    for a in adders:
        a["terms"] = [_operand(src, shift, negate, digit, history) for src, shift, negate
                      in a.pop("raw")]
        if a["kdigits"]:
            a["terms"].append(f"n{a['node']}_kd")
    outputs = []
    for n in dp.outputs:
        node = dp.nodes[n]
        outputs.append(f"8'h{node.const % 256:02x}" if node.op is Op.CONST else f"n{n}")
    ins = m.inputs
    return dict(
        name=m.name, source=m.layer.source, kind=m.layer.kind.value,
        front=m.front.value, primitive=primitive, params=params, stages=stages,
        valid_shift="busy" if stages == 1 else f"{{vs[{stages - 1}:1], busy}}",
        digit=digit, digits=digits, word=word, tbits=tbits, tmsb=tbits - 1,
        last=f"{tbits}'d{digits - 1}", levels=dp.levels, per_stage=per_stage,
        in_msb=8 * ins[0].shape[2] - 1, out_bits=8 * m.output.shape[2],
        out_msb=8 * m.output.shape[2] - 1, bus_msb=m.bus_bits - 1,
        in_shapes=[t.shape for t in ins], out_shape=m.output.shape, inputs=inputs,
        histories=list(history.values()), adders=adders, regs=regs, clamps=clamps,
        clamp_wires=clamp_wires, outputs=list(reversed(outputs)), parts=[])


def _input(n: int, node, word: int, index: str) -> dict:
    """An input field as a word (sign- or zero-extended) and its current digit's index."""
    if word <= node.bits:  # bits above the word do not change any value modulo 2**word
        return dict(node=n, extended=f"x[{node.bit + word - 1}:{node.bit}]", index=index)
    field = f"x[{node.bit + node.bits - 1}:{node.bit}]"
    top = f"x[{node.bit + node.bits - 1}]" if node.signed else "1'b0"
    extended = f"{{{{{word - node.bits}{{{top}}}}}, {field}}}"
    return dict(node=n, extended=extended, index=index)


def _operand(src: str, shift: int, negate: bool, digit: int, history: dict) -> str:
    """A D-bit operand digit (self-determined width): ``src`` delayed by ``shift`` bits."""
    if shift:
        top = history[src]["q"] * digit - shift  # lsb of the shifted digit in c_<src>
        value = f"c_{src}[{top + digit - 1}:{top}]"
    else:
        value = src
    return f"{{~{value}}}" if negate else f"{{{value}}}"


def _digit_index(stage: int, log_digit: int) -> str:
    """Bit index of the current digit in a word-wide constant: ``t * D``, no multiplier."""
    return f"{{t{stage}, {log_digit}'d0}}" if log_digit else f"t{stage}"
