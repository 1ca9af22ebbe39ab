"""The *multiplexed* datapath kind: one adder tree shared by every output channel of a layer,
fed with the layer's weights as data -- signed digit planes read from on-chip memory.

For an output pixel the layer computes, channel after channel and plane after plane (most
significant first), ``acc = 2 * acc + sum_i d[o, i, b] * x[i]`` with ``d`` the canonical
signed digits (-1, 0, +1) of the channel's *folded* weights ``F[o, i] = m[o] * E[o, i] <<
(S - s[o])`` -- the requantization multiplier and a common shift ``S`` folded in, so the
requantization left is ``clamp((acc + C[o]) >> S)``, exactly as the IR defines it.  The tree
adds ``x[i]``, its complement or nothing per input (no multiplier anywhere: a digit only
selects) plus the number of complemented inputs (the ``+1`` of each negation).  A pixel takes
``L = Cout * B`` cycles (``B`` planes per channel): approximation that shortens the folded
weights buys cycles directly.  The netlist is still the parallel kind's (the HLS C++ and the
reference interpreter read it); the Verilog and the cost model read :func:`engine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hlsgen import ir
from hlsgen.decompose.csd import csd_digits
from hlsgen.decompose.graph import bit_width
from hlsgen.hw import parallel, serial
from hlsgen.hw.netlist import Netlist, Operand, even_parity, rounding

__all__ = ["build", "front", "stages", "resources", "memories", "engine", "Engine",
           "LUT_COEFFS"]

LUT_COEFFS = {
    "tree": 1.0,  # per adder bit of the shared tree (the digit select rides in its LUTs)
    "accumulator": 1.0,  # per bit of the accumulator's shift-add and the constant's adder
    "clamp": 1.0,  # per compared bit of the requantization, plus the 8-bit select
    "rom": 1.0,  # per LUT of a constant table in distributed ROM
}

build = parallel.build
front = serial.front


@dataclass(frozen=True, eq=False)
class Engine:
    """What the hardware of a multiplexed layer holds (all from the IR layer, exact)."""

    inputs: int  # N: window (or vector) elements, in stage-0 bus order
    channels: int  # Cout
    planes: int  # B: digit planes per channel
    shift: int  # S: the common right shift of the requantization
    nonzero: np.ndarray  # bool [Cout, B, N]: digit != 0 (plane 0 = most significant)
    negative: np.ndarray  # bool [Cout, B, N]: digit == -1
    constants: tuple[int, ...]  # C[o]
    value_range: tuple[int, int]  # exact range of acc + C over every channel and input
    acc_range: tuple[int, int]  # exact range of the accumulator at any plane
    bounds: tuple[int, int]
    even_parity: int | None
    input_signed: bool

    @property
    def steps(self) -> int:
        """L: cycles per output pixel (one plane of one channel per cycle)."""
        return self.channels * self.planes

    @property
    def tree_levels(self) -> int:
        return max(1, (self.inputs - 1).bit_length())

    def correction(self, o: int, b: int) -> int:
        return int(self.negative[o, b].sum())


def engine(module) -> Engine:
    return _engine(module.layer, module.inputs[0])


@lru_cache(maxsize=256)
def _engine(layer: ir.Conv | ir.Dense, src: ir.Tensor) -> Engine:
    matrix = _dense_matrix(layer, src)
    rq = layer.requant
    cout, n = matrix.shape
    zp_in = src.zero_point
    multipliers = [int(v) for v in rq.multiplier]
    shifts = [int(v) for v in rq.shift]
    common = max(shifts)
    folded = [[int(w) * multipliers[o] << (common - shifts[o]) for w in matrix[o]]
              for o in range(cout)]
    rowsums = matrix.sum(axis=1)
    constants = []
    for o in range(cout):
        bias = int(layer.bias[o]) - zp_in * int(rowsums[o])
        const = multipliers[o] * bias + rounding(shifts[o], rq.zero_point)
        constants.append(const << (common - shifts[o]))
    planes = max([max((bit for w in row if w for bit, _ in csd_digits(abs(w))), default=-1)
                  for row in folded] + [0]) + 1
    nonzero = np.zeros((cout, planes, n), dtype=bool)
    negative = np.zeros((cout, planes, n), dtype=bool)
    for o, row in enumerate(folded):
        for i, w in enumerate(row):
            for bit, digit in csd_digits(abs(w)):
                plane = planes - 1 - bit
                nonzero[o, plane, i] = True
                negative[o, plane, i] = (digit < 0) != (w < 0)
    lo_x, hi_x = src.dtype.qmin, src.dtype.qmax
    v_lo = v_hi = None
    acc_lo = acc_hi = 0
    for o, row in enumerate(folded):
        lo = sum(min(w * lo_x, w * hi_x) for w in row)
        hi = sum(max(w * lo_x, w * hi_x) for w in row)
        v_lo = lo + constants[o] if v_lo is None else min(v_lo, lo + constants[o])
        v_hi = hi + constants[o] if v_hi is None else max(v_hi, hi + constants[o])
        # partial accumulations: the digits of planes 0..b, scaled to their own weight
        for b in range(planes):
            part = [_prefix(w, planes, b) for w in row]
            acc_lo = min(acc_lo, sum(min(p * lo_x, p * hi_x) for p in part))
            acc_hi = max(acc_hi, sum(max(p * lo_x, p * hi_x) for p in part))
    return Engine(n, cout, planes, common, nonzero, negative, tuple(constants),
                  (v_lo, v_hi), (acc_lo, acc_hi), (int(rq.lo), int(rq.hi)), even_parity(rq),
                  src.dtype.signed)


def _prefix(w: int, planes: int, b: int) -> int:
    """The value the accumulator holds for weight ``w`` after planes 0..b (MSB first)."""
    sign = -1 if w < 0 else 1
    kept = sum(d << bit for bit, d in csd_digits(abs(w)) if planes - 1 - bit <= b)
    return sign * (kept >> (planes - 1 - b))


def _dense_matrix(layer, src: ir.Tensor) -> np.ndarray:
    """[Cout, N] weights over the stage-0 bus elements (Conv groups as a block matrix)."""
    if isinstance(layer, ir.Dense):
        return np.asarray(layer.weight, dtype=np.int64)
    cout, kh, kw, cig = layer.weight.shape
    cin = src.shape[2]
    per = cout // layer.groups
    matrix = np.zeros((cout, kh * kw * cin), dtype=np.int64)
    for o in range(cout):
        g = o // per
        for tap in range(kh * kw):
            kr, kc = divmod(tap, kw)
            matrix[o, tap * cin + g * cig : tap * cin + (g + 1) * cig] = layer.weight[o, kr, kc]
    return matrix


def clamp_node(e: Engine):
    """A one-value netlist ``clamp((v) >> S)``: the requantization every channel shares."""
    net = Netlist()
    v = net.input(0, bit_width(*e.value_range), True, e.value_range)
    out = net.clamp(Operand(v), e.shift, *e.bounds, e.even_parity)
    return net, v, out


def tree_widths(e: Engine) -> list[int]:
    """Width of a node at tree level k (0: a selected input, 9 bits)."""
    return [9 + k for k in range(e.tree_levels + 1)]


def stages(module, per_stage: int) -> int:
    """Register stages of the tree: one after every ``per_stage`` levels (at least one)."""
    e = engine(module)
    return max(1, -(-e.tree_levels // per_stage))


def resources(module, per_stage: int) -> tuple[float, float]:
    """(LUTs, FFs): the tree and its pipeline registers, accumulator, constant and clamp,
    the captured item, the output register and counters (the digit memory: :func:`memories`)."""
    e = engine(module)
    widths = tree_widths(e)
    luts = ffs = 0.0
    count = e.inputs
    levels_done = 0
    for k in range(1, e.tree_levels + 1):
        count = -(-count // 2)
        luts += LUT_COEFFS["tree"] * count * widths[k]
        levels_done += 1
        if levels_done % per_stage == 0 or k == e.tree_levels:
            ffs += count * widths[k]
    acc = bit_width(*e.acc_range)
    value = bit_width(*e.value_range)
    luts += LUT_COEFFS["accumulator"] * (acc + value)
    ffs += acc + 8 * e.channels + 8 * e.inputs + 2 * serial_counter_bits(e)
    q_lo = e.value_range[0] >> e.shift
    q_hi = e.value_range[1] >> e.shift
    compares = int(q_lo < e.bounds[0]) + int(q_hi > e.bounds[1])
    luts += LUT_COEFFS["clamp"] * (compares * bit_width(q_lo, q_hi) + 8 + e.channels // 4)
    luts += LUT_COEFFS["rom"] * value * -(-e.channels // 64)  # C[o], distributed ROM
    return luts, ffs


def serial_counter_bits(e: Engine) -> int:
    return max(1, (e.steps - 1).bit_length())


def memories(module) -> list[tuple[int, int, int]]:
    """(words, width, read ports) of the digit memory: one word per step, 2 bits per input
    plus the correction."""
    e = engine(module)
    return [(e.steps, 2 * e.inputs + correction_bits(e), 1)]


def correction_bits(e: Engine) -> int:
    return bit_width(0, e.inputs)
