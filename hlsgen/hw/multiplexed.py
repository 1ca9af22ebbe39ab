"""The *multiplexed* datapath kind: one adder tree shared by every output channel of a layer,
fed with the layer's weights as data -- signed digit planes read from on-chip memory.

For an output pixel the layer computes, channel after channel and plane after plane (most
significant first), ``a = 2 * a + sum_i d[o, i, b] * x[i]`` with ``d`` the canonical signed
digits (-1, 0, +1) of the channel's weights ``E[o, i]`` (the decomposed matrix, approximated
or exact).  The tree adds ``x[i]``, its complement or nothing per input (no multiplier
anywhere: a digit only selects) plus the number of complemented inputs (the ``+1`` of each
negation).  A pixel takes ``L = Cout * B`` cycles (``B`` planes per channel): approximation
that shortens the weights buys cycles directly.  With ``K`` chunks the tree covers
``ceil(N / K)`` inputs and a plane takes ``K`` cycles (``L = Cout * B * K``): a smaller tree
for layers whose pixels are few.

The requantization ``clamp((M[o] * (a + bias[o]) + R[o]) >> S)`` -- the multiplier and a
common shift ``S`` folded into ``M[o] = m[o] << (S - s[o])`` -- multiplies by a per-channel
constant without a multiplier: a *rescaler* runs Horner's rule over the radix-4 Booth digits
(-2..2) of ``M[o]``, ``p = 4 * p + d * u``, one digit per cycle (``J`` cycles); ``U`` of them
take channels in turn so that one is always free when a channel finishes every ``B`` cycles.
Folding ``m`` into the weights instead would cost its ~24 bits of planes in every channel.
The netlist is still the parallel kind's (the HLS C++ and the reference interpreter read it);
the Verilog and the cost model read :func:`engine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hlsgen import ir
from hlsgen.decompose.graph import bit_width
from hlsgen.hw import channels, parallel, serial
from hlsgen.hw.netlist import Netlist, Operand, even_parity, rounding

__all__ = ["build", "front", "stages", "resources", "memories", "engine", "Engine",
           "LUT_COEFFS", "resource_parts"]

# Calibrated against yosys ``synth_xilinx`` on the digits example (every weight layer
# multiplexed): the digit select is a LUT per input bit, a rescaler about two LUTs per bit.
LUT_COEFFS = {
    "tree": 1.0,  # per adder bit of the shared tree
    "select": 1.0,  # per bit of a selected input (x, its complement or 0)
    "requant": 2.0,  # per bit of M * u + R: rounding table and add
    "rescale": 2.0,  # per bit of a rescaler's partial product: digit select and add
    "table": 1.0,  # per LUT6 of the bias, rounding and Booth digit tables
    "group": 1.0,  # per LUT6 of the group multiplexer (a G:1 mux per input bit)
    "clamp": 1.0,  # per compared bit of the requantization, plus the 8-bit select
}

build = parallel.build
front = serial.front


@dataclass(frozen=True, eq=False)
class Engine:
    """What the hardware of a multiplexed layer holds (all from the IR layer, exact)."""

    inputs: int  # N: inputs of one channel (a group's window elements, (tap, ci) order)
    channels: int  # Cout
    groups: int  # Conv groups (1 for Dense): a channel reads its group's inputs
    group_inputs: int  # Cin / groups: input channels per group
    bus_inputs: tuple[int, ...]  # per input i: its element in the stage-0 bus for group 0
    chunks: int  # K: the tree adds chunk k's inputs k*n .. k*n + n - 1 in cycle k of a plane
    chunk_inputs: int  # n = ceil(N / K): the tree's inputs (past N: padding, digit 0)
    lanes: int  # P: trees side by side; lane l computes channels l*C/P .. (l+1)*C/P - 1
    planes: int  # B: digit planes per channel
    shift: int  # S: the common right shift of the requantization
    nonzero: np.ndarray  # bool [Cout, B, N]: digit != 0 (plane 0 = most significant)
    negative: np.ndarray  # bool [Cout, B, N]: digit == -1
    biases: tuple[int, ...]  # bias[o], zero point of the input folded in: u = a + bias[o]
    scales: tuple[int, ...]  # M[o] = m[o] << (S - s[o])
    roundings: tuple[int, ...]  # R[o]: rounding and output zero point, before >> S
    booth: np.ndarray  # int8 [Cout, J]: radix-4 Booth digits of M[o], most significant first
    value_range: tuple[int, int]  # exact range of M[o] * u + R[o] over every channel and input
    acc_range: tuple[int, int]  # exact range of the accumulator a at any plane
    u_range: tuple[int, int]  # exact range of u = a + bias[o]
    product_range: tuple[int, int]  # a bound on every partial product p of the rescaler
    bounds: tuple[int, int]
    even_parity: int | None
    input_signed: bool

    @property
    def lane_channels(self) -> int:
        """C / P: the channels of one lane, one after the other."""
        return self.channels // self.lanes

    @property
    def lane_groups(self) -> int:
        """Groups one lane visits: its channels span whole groups, or lie in one."""
        return max(1, self.lane_channels * self.groups // self.channels)

    @property
    def steps(self) -> int:
        """L: cycles per output pixel (one chunk of one plane of one channel of every lane
        per cycle)."""
        return self.lane_channels * self.planes * self.chunks

    @property
    def tree_levels(self) -> int:
        return max(1, (self.chunk_inputs - 1).bit_length())

    @property
    def digits(self) -> int:
        """J: Booth digits of the widest scale, one rescaler cycle each."""
        return self.booth.shape[1]

    @property
    def rescalers(self) -> int:
        """U: a rescaler is busy J + 1 cycles (load, J digits, read out) and channels finish
        every B * K cycles at the fastest."""
        return -(-(self.digits + 1) // (self.planes * self.chunks))

    @property
    def window_hold(self) -> int:
        """Cycles after an item's load that a grouped layer still reads the front end's window
        (each lane latches one of its groups' inputs at a time: the last group is latched
        ``(G - 1) * L / G`` cycles in, G the groups a lane visits); 0 for a layer whose lanes
        stay in one group each, or an ungrouped one: it copies the whole item when it loads."""
        g = self.lane_groups
        return (g - 1) * (self.steps // g) if g > 1 else 0

    def item_bits(self, bus_bits: int) -> int:
        """Bits the engine registers of its item: each lane's group inputs, or the whole bus."""
        return self.lanes * 8 * self.inputs if self.lane_groups > 1 else bus_bits

    def chunk(self, k: int) -> slice:
        return slice(k * self.chunk_inputs, min((k + 1) * self.chunk_inputs, self.inputs))

    def correction(self, o: int, b: int, k: int = 0) -> int:
        return int(self.negative[o, b, self.chunk(k)].sum())


def _weighted(module) -> bool:
    return isinstance(module.layer, (ir.Conv, ir.Dense))


def engine(module) -> Engine:
    return _engine(module.layer, module.inputs[0], module.chunks, module.lanes)


def lane_count(layer: ir.Conv | ir.Dense, lanes: int) -> int:
    """The most lanes, ``lanes`` halved until it fits, the layer can have: they split the output channels
    into equal blocks, each made of whole groups or lying within one group (so a lane's
    group follows one counter and its input multiplexer covers only its own groups)."""
    cout = int(np.asarray(layer.weight).shape[0])
    per_group = cout // (layer.groups if isinstance(layer, ir.Conv) else 1)
    count = max(1, lanes)
    while count > 1:  # halving keeps a power of two (the search's and design.json's counts)
        block = cout // count
        if cout % count == 0 and (block % per_group == 0 or per_group % block == 0):
            break
        count //= 2
    return count


@lru_cache(maxsize=256)
def _engine(layer: ir.Conv | ir.Dense, src: ir.Tensor, chunks: int = 1,
            lanes: int = 1) -> Engine:
    matrix = _dense_matrix(layer, src)
    rq = layer.requant
    cout, n = matrix.shape
    zp_in = src.zero_point
    common = max(int(v) for v in rq.shift)
    scales = tuple(int(m) << (common - int(s)) for m, s in zip(rq.multiplier, rq.shift))
    roundings = tuple(rounding(int(s), rq.zero_point) << (common - int(s)) for s in rq.shift)
    rowsums = matrix.sum(axis=1)
    biases = tuple(int(layer.bias[o]) - zp_in * int(rowsums[o]) for o in range(cout))
    rows = [[int(w) for w in matrix[o]] for o in range(cout)]
    digits = _csd_planes(rows)  # [B, Cout, N], least significant plane first
    planes = digits.shape[0]
    msb_first = digits[::-1].transpose(1, 0, 2)  # [Cout, B, N]
    nonzero = msb_first != 0
    negative = msb_first < 0
    lo_x, hi_x = src.dtype.qmin, src.dtype.qmax
    u_lo = [_extreme(row, lo_x, hi_x, min) + c for row, c in zip(rows, biases)]
    u_hi = [_extreme(row, lo_x, hi_x, max) + c for row, c in zip(rows, biases)]
    # M[o] >= 0, so M[o] * u is extreme where u is.
    v_lo = min(m * lo + r for m, lo, r in zip(scales, u_lo, roundings))
    v_hi = max(m * hi + r for m, hi, r in zip(scales, u_hi, roundings))
    groups = layer.groups if isinstance(layer, ir.Conv) else 1
    chunks = 1 if groups > 1 else max(1, min(chunks, n))  # grouped layers: one chunk
    per_chunk = -(-n // chunks)
    # The accumulator after chunk k of plane b holds each weight's digits of the planes before,
    # scaled down to plane b (P_b = 2 * P_(b-1) + d_b), plus plane b's digits of chunks 0..k.
    acc_lo = acc_hi = 0
    prefix = np.zeros((cout, n), dtype=object)
    chunk_of = np.arange(n) // per_chunk
    for b in range(planes):
        plane = msb_first[:, b, :].astype(object)
        base = 2 * prefix
        for k in range(chunks):
            coef = base + plane * (chunk_of <= k)
            acc_lo = min(acc_lo, int(np.minimum(coef * lo_x, coef * hi_x).sum(axis=1).min()))
            acc_hi = max(acc_hi, int(np.maximum(coef * lo_x, coef * hi_x).sum(axis=1).max()))
        prefix = base + plane
    booth = _booth_digits(scales)
    # A Booth prefix of M is (M >> 2k) + (bit 2k-1 of M), at most M; 4 * p before adding
    # the digit's term is at most M + 2 times u.
    u_abs = max(max(abs(v) for v in u_lo), max(abs(v) for v in u_hi))
    p_abs = (max(scales) + 2) * u_abs
    cig = src.shape[2] // groups if isinstance(layer, ir.Conv) else n
    if isinstance(layer, ir.Conv):
        cin = src.shape[2]
        bus = tuple((i // cig) * cin + i % cig for i in range(n))  # tap * Cin + ci
    else:
        bus = tuple(range(n))
    return Engine(n, cout, groups, cig, bus, chunks, per_chunk, lane_count(layer, lanes), planes,
                  common, nonzero, negative,
                  biases, scales, roundings, booth, (v_lo, v_hi), (acc_lo, acc_hi),
                  (min(u_lo), max(u_hi)), (-p_abs, p_abs), (int(rq.lo), int(rq.hi)),
                  even_parity(rq), src.dtype.signed)


def _booth_digits(scales: tuple[int, ...]) -> np.ndarray:
    """Radix-4 Booth digits of every (non-negative) scale: int8 [Cout, J], most significant
    first, ``M = sum_j d_j 4**(J-1-j)``; J covers the widest scale (at least one digit)."""
    count = max(1, (max(scales).bit_length() + 2) // 2)
    out = np.zeros((len(scales), count), dtype=np.int8)
    for o, m in enumerate(scales):
        for j in range(count):  # d_j = -2 b[2j+1] + b[2j] + b[2j-1]
            low = (m >> (2 * j - 1)) & 1 if j else 0
            out[o, count - 1 - j] = -2 * ((m >> (2 * j + 1)) & 1) + ((m >> (2 * j)) & 1) + low
    return out


def _extreme(row, lo_x: int, hi_x: int, pick) -> int:
    """min (or max) of sum(w * x) over x in [lo_x, hi_x] per input."""
    return sum(pick(w * lo_x, w * hi_x) for w in row)


def _csd_planes(folded: list[list[int]]) -> np.ndarray:
    """Canonical signed digits of every weight: int8 [B, Cout, N] (plane k: bit k)."""
    planes = []
    values = [[w for w in row] for row in folded]
    while any(any(row) for row in values):
        plane = []
        for row in values:
            digits = []
            for k, v in enumerate(row):
                d = 0 if not v & 1 else 2 - (v & 3)  # v mod 4 == 1: +1, == 3: -1
                digits.append(d)
                row[k] = (v - d) >> 1
            plane.append(digits)
        planes.append(plane)
    if not planes:
        return np.zeros((1, len(folded), len(folded[0]) if folded else 0), dtype=np.int8)
    return np.array(planes, dtype=np.int8)


def _dense_matrix(layer, src: ir.Tensor) -> np.ndarray:
    """[Cout, N]: each channel's weights over its group's inputs, (tap, ci) order."""
    weight = np.asarray(layer.weight, dtype=np.int64)
    return weight.reshape(weight.shape[0], -1)


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
    """Register stages of the tree: one after every ``per_stage`` levels (at least one);
    of a channel-serial Add or pool: of its lane (:mod:`hlsgen.hw.channels`)."""
    if not _weighted(module):
        return channels.stages(module, per_stage)
    e = engine(module)
    return max(1, -(-e.tree_levels // per_stage))


def resources(module, per_stage: int) -> tuple[float, float]:
    """(LUTs, FFs): per lane the tree and its pipeline registers, accumulator, tables,
    rescalers and clamp; once the captured item, the output register and counters (the digit
    memories: :func:`memories`)."""
    if not _weighted(module):
        return channels.resources(module, per_stage)
    parts = resource_parts(module, per_stage)
    return sum(p[0] for p in parts.values()), sum(p[1] for p in parts.values())


def resource_parts(module, per_stage: int) -> dict[str, tuple[float, float]]:
    """:func:`resources` of a Conv or Dense layer by part: {part: (LUTs, FFs)}."""
    e = engine(module)
    widths = tree_widths(e)
    tree_luts = tree_ffs = 0.0
    count = e.chunk_inputs
    levels_done = 0
    for k in range(1, e.tree_levels + 1):
        count = -(-count // 2)
        tree_luts += LUT_COEFFS["tree"] * count * widths[k]
        levels_done += 1
        if levels_done % per_stage == 0 or k == e.tree_levels:
            tree_ffs += count * widths[k]
    acc = bit_width(*e.acc_range)
    value = bit_width(*e.value_range)
    u_bits = bit_width(*e.u_range)
    p_bits = bit_width(*e.product_range)
    jbits = max(1, (e.digits - 1).bit_length())
    obits = max(1, (e.lane_channels - 1).bit_length())
    # tables read by a channel index: a LUT6 per 64 entries and bit (booth: per rescaler)
    tables = (-(-e.lane_channels // 64) * (u_bits + value)
              + e.rescalers * 3 * -(-(e.lane_channels << jbits) // 64))
    # the digit select, and with groups a multiplexer picking the channel's group
    n = e.chunk_inputs
    select = (LUT_COEFFS["select"] * 9 * n
              + LUT_COEFFS["group"] * 8 * n * -(-e.lane_groups // 4) * (e.lane_groups > 1)
              # the chunk select merges into the digit select's LUT for K = 2 (5 inputs)
              + LUT_COEFFS["group"] * 8 * n * (e.chunks - 2) / 2 * (e.chunks > 2))
    q_lo = e.value_range[0] >> e.shift
    q_hi = e.value_range[1] >> e.shift
    compares = int(q_lo < e.bounds[0]) + int(q_hi > e.bounds[1])
    rescale_luts = (LUT_COEFFS["requant"] * value + u_bits
                    + LUT_COEFFS["rescale"] * e.rescalers * p_bits
                    + LUT_COEFFS["table"] * tables
                    + LUT_COEFFS["clamp"] * (compares * bit_width(q_lo, q_hi) + 8))
    p = e.lanes  # every lane has its own tree, select, digit memory and rescalers
    return {
        "tree": (p * tree_luts, p * (tree_ffs + acc)),
        "select": (p * select, 0.0),
        "digit memory": (p * rom_luts(e), 0.0),
        "item": (0.0, e.item_bits(module.bus_bits)),  # the captured item x (or group xq)
        "rescalers": (p * rescale_luts, p * e.rescalers * (u_bits + p_bits + obits + jbits + 3)),
        "output": (0.0, 8 * e.channels + 2 * serial_counter_bits(e)),
    }


def serial_counter_bits(e: Engine) -> int:
    return max(1, (e.steps - 1).bit_length())


# yosys ``synth_xilinx`` (memory_libmap) puts a constant table in block RAM when its bits cost
# more as logic than the RAMB18s it needs: measured on random tables, a RAMB18 is worth about
# 8,000 bits (256 x 36 and 384 x 22 bits: one RAMB18; 256 x 22, 384 x 40, 288 x 78, 192 x 135,
# 160 x 296: logic; 256 x 72: a RAMB36; 256 x 135: two; 256 x 296: nine RAMB18s).
ROM_BITS_PER_RAMB18 = 8_000
# RAMB18 shapes (words, width): simple dual port 512 x 36, then the true-dual-port ones.
_RAMB18_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))


def rom_ramb18(words: int, width: int) -> int:
    """RAMB18s of a ``words`` x ``width`` constant table when yosys puts it in block RAM, else 0
    (it is logic: :func:`rom_luts`)."""
    blocks = min(-(-words // depth) * -(-width // bits) for depth, bits in _RAMB18_SHAPES)
    return blocks if words * width >= ROM_BITS_PER_RAMB18 * blocks else 0


def _rom_width(e: Engine) -> int:
    return 2 * e.chunk_inputs + correction_bits(e)


def rom_luts(e: Engine) -> int:
    """LUTs of one lane's digit memory when it is logic: about one per 16 words and bit
    (measured on ResNet-8 and KWS layers of 90 to 288 words: 13 to 18 words a LUT; random bits
    do not share logic)."""
    if rom_ramb18(e.steps, _rom_width(e)):
        return 0
    return _rom_width(e) * -(-e.steps // 16)


def memories(module) -> list[tuple[int, int, int]]:
    """(words, width, read ports) of each lane's digit memory when it is block RAM: one word
    per step, 2 bits per tree input plus the correction (else logic, :func:`rom_luts`)."""
    if not _weighted(module):
        return []
    e = engine(module)
    if not rom_ramb18(e.steps, _rom_width(e)):
        return []
    return [(e.steps, _rom_width(e), 1)] * e.lanes


def correction_bits(e: Engine) -> int:
    return bit_width(0, e.chunk_inputs)
