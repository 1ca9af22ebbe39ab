"""Channel-serial Add and global AvgPool: the multiplexed kind of the layers without weights.

A residual Add or a global average pool applies the same constants to every channel (ONNX
scales are per tensor), so one channel's datapath -- the parallel kind's netlist of a
one-channel copy of the layer, its *lane* -- can serve every channel in turn: the module
captures the front end's item, feeds channel ``c`` to the lane in cycle ``c`` and shifts each
result byte into the output register.  An item takes ``C`` cycles instead of one, and the
constant multiplications of all but one channel disappear (a 64-channel Add is about 17 K LUTs
hard-wired, a few hundred channel-serial).

:func:`plan_channel_serial` decides per design: a foldable layer is channel-serial when the
design already has a folded weight layer and the ``C`` cycles per item do not lengthen the
design's interval, so the choice costs latency only (``C`` cycles per item) and never
throughput.  ``ModulePlan.datapath`` stays the all-channel netlist (the HLS C++ reads it); the
Verilog and the cost model read :func:`lane`.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np

from hlsgen import ir
from hlsgen.decompose.graph import bit_width
from hlsgen.hw import parallel
from hlsgen.hw.module import Front, FrontEnd
from hlsgen.hw.netlist import Datapath

__all__ = ["foldable", "lane", "steps", "stages", "resources", "work", "LUT_COEFFS"]

LUT_COEFFS = {
    "select": 1.0,  # per LUT6 of the channel multiplexer (a C:1 mux per lane input bit)
    "control": 40.0,  # channel counter, load and done logic
}


def foldable(layer: ir.Layer, front: Front) -> bool:
    """An Add, or a global AvgPool, whose constants are the same for every channel."""
    if isinstance(layer, ir.Add):
        arrays = (layer.mult_a, layer.mult_b, layer.requant.multiplier, layer.requant.shift)
    elif isinstance(layer, ir.AvgPool) and front is Front.SUM:
        arrays = (layer.requant.multiplier, layer.requant.shift)
    else:
        return False
    return all(np.all(np.asarray(a) == np.asarray(a).reshape(-1)[0]) for a in arrays)


def steps(module) -> int:
    """Cycles per item: one per channel."""
    return module.output.shape[2]


def work(module) -> int:
    """Cycles per frame: ``C`` per item (an Add has one item per pixel, a global pool one)."""
    items = module.in_beats if module.front is Front.PAIR else 1
    return max(module.in_beats, items * steps(module))


def lane(module) -> Datapath:
    """The one-channel netlist every channel goes through (stage-0 bus: the channel's
    fields, ``a`` then ``b`` for an Add, the running sum for a pool)."""
    return _lane(module.layer, module.inputs, module.output, module.sum_bits)


@lru_cache(maxsize=256)
def _lane(layer, inputs: tuple[ir.Tensor, ...], out: ir.Tensor, sum_bits: int) -> Datapath:
    one = [replace(t, shape=(*t.shape[:2], 1)) for t in inputs]
    rq = layer.requant
    rq1 = replace(rq, multiplier=np.asarray(rq.multiplier)[:1], shift=np.asarray(rq.shift)[:1])
    if isinstance(layer, ir.Add):
        layer1 = replace(layer, mult_a=np.asarray(layer.mult_a)[:1],
                         mult_b=np.asarray(layer.mult_b)[:1], requant=rq1)
        front = FrontEnd(Front.PAIR)
    else:
        layer1 = replace(layer, requant=rq1)
        front = FrontEnd(Front.SUM, sum_bits=sum_bits)
    return parallel.build(layer1, front, tuple(one), replace(out, shape=(*out.shape[:2], 1)),
                          None)


def lane_bits(module) -> int:
    """Width of the lane's stage-0 bus: one channel's fields."""
    return module.sum_bits if module.front is Front.SUM else 16


def stages(module, per_stage: int) -> int:
    return lane(module).stages(per_stage)


def resources(module, per_stage: int) -> tuple[float, float]:
    """(LUTs, FFs): the lane, the channel multiplexer, the captured item, the output
    register and the counters."""
    luts, ffs = parallel.datapath_resources(lane(module), per_stage)
    c = steps(module)
    luts += LUT_COEFFS["select"] * lane_bits(module) * -(-c // 4) + LUT_COEFFS["control"]
    counter = bit_width(0, c)
    ffs += module.bus_bits + 8 * c + 2 * counter + 2 * per_stage + 4
    return luts, ffs
