"""Verilog context of a channel-serial Add or global pool (:mod:`hlsgen.hw.channels`): the
one-channel lane's datapath, the channel multiplexer's fields and the sequencer
(``templates/rtl/layer_channels.v.j2``)."""

from __future__ import annotations

from hlsgen.hw import channels
from hlsgen.hw.module import Front, ModulePlan

__all__ = ["channels_context"]


def channels_context(m: ModulePlan, module_context) -> dict:
    """A channel-serial Add or global pool (:mod:`hlsgen.hw.channels`): its lane as the
    datapath, the channel multiplexer's fields and the sequencer.  ``module_context(dp=,
    bus_bits=)`` is the parallel layer context of a datapath (:mod:`hlsgen.emit.rtl`)."""
    c = channels.steps(m)
    context = module_context(dp=channels.lane(m), bus_bits=channels.lane_bits(m))
    if m.front is Front.PAIR:
        fields = [dict(width=8, slices=[f"{8 * (k * c + i) + 7}:{8 * (k * c + i)}"
                                        for i in range(c)]) for k in (0, 1)]
    else:
        b = m.sum_bits
        fields = [dict(width=b, slices=[f"{b * i + b - 1}:{b * i}" for i in range(c)])]
    cbits = max(1, (c - 1).bit_length())
    stages = context["stages"]
    out_bits = context["out_bits"]
    byte = context["outputs"][0]

    def shift_in(new: str, name: str) -> str:
        return new if stages == 1 else f"{{{name}[{stages - 1}:1], {new}}}"

    return dict(context, channels_serial=True, channels=c, cbits=cbits, cmsb=cbits - 1,
                last=f"{cbits}'d{c - 1}", fields=fields,
                lane_msb=channels.lane_bits(m) - 1, shift_in=shift_in,
                y_shift=byte if c == 1 else f"{{{byte}, y[{out_bits - 1}:8]}}")
