"""The resource model of the whole-network shift-add engine (``--arch systolic --pe
shiftadd``): LUTs, FFs and RAMB36 of its three modules from the plan alone, fast enough to
rank array shapes and memory-copy budgets (no synthesis tool inside).

- **Block RAM** is counted memory by memory as the Xilinx 7-series primitives tile it (a
  RAMB36 as 32Kx1 .. 512x72, a RAMB18 as half of one, the cheapest tiling), memories that
  take at most :data:`LUTRAM_LUTS` LUTs as LUT RAM kept there (yosys's choice on every
  measured design): the rows' weight ROMs, the input buffer and activation-bank copies, the
  lanes' partial-sum memories and, past :data:`ROM_TABLE_DEPTH` column tiles, their
  multiplier tables.
- **LUTs and FFs** are a sum of structural counts (bits of adders, of multiplexers, of
  registers; :func:`features`) each weighted by a coefficient calibrated against yosys
  ``synth_xilinx`` (YoWASP 0.70) one module at a time on designs listed in
  ``benchmarks/engine_resources.py``, which also reports the error on designs kept out of
  the calibration (docs/systolic-shiftadd.md, "Resource model").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hlsgen.systolic.netemit import address_width, psum_width
from hlsgen.systolic.network import NetworkPlan, Op
from hlsgen.systolic.shiftadd import split_digits

__all__ = ["Resources", "NetworkCost", "estimate_network", "features", "memory_brams",
           "lutram_luts", "COEFFICIENTS", "LUTRAM_LUTS", "ROM_TABLE_DEPTH"]

LUTRAM_LUTS = 64  # yosys keeps a memory in LUT RAM up to about this many LUTs, else BRAM
ROM_TABLE_DEPTH = 256  # a lane's multiplier table deeper than this goes to a block RAM
# RAMB36 aspect ratios (depth, width); a RAMB18 offers the same widths at half the depth
_RAMB36 = ((32768, 1), (16384, 2), (8192, 4), (4096, 9), (2048, 18), (1024, 36), (512, 72))
_RAMB18 = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))

# Per part and resource, the weight of each structural count of :func:`features` (fitted by
# ``python benchmarks/engine_resources.py --fit`` on its "fit" designs).
COEFFICIENTS: dict[str, dict[str, dict[str, float]]] = {
    "array": {
        "luts": {"pe_bits": 3.0177, "pe_shift_bits": 1.0347, "const": 203.311},
        "ffs": {"pe_bits": 0.6685, "pe_shift_bits": 0.4421, "row_bits": 0.9704, "const": 45.1309},
    },
    "lanes": {
        "luts": {"booth_bits": 3.3526, "split_bits": 3.5194, "scale_bits": 1.9176, "lane_bits": 2.1107, "table_bits": 2.2389, "lutram_luts": 3.2326, "const": 630.309},
        "ffs": {"split_bits": 0.6592, "scale_bits": 0.1231, "lane_bits": 2.0769, "table_bits": 0.0298, "lutram_luts": 0.7291, "const": 84.4402},
    },
    "top": {
        "luts": {"port_bits": 4.4041, "dw_bank_bits": 0.0911, "window": 525.572, "source_bits": 0.3757, "table_bits": 0.5013, "lutram_luts": 2.1081},
        "ffs": {"port_bits": 5.0518, "word_bits": 0.0918, "source_bits": 0.1352, "table_bits": 0.2417, "lutram_luts": 0.6777},
    },
}


@dataclass(frozen=True)
class Resources:
    luts: float
    ffs: float
    brams: float  # RAMB36 equivalents

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.luts + other.luts, self.ffs + other.ffs, self.brams + other.brams)


@dataclass(frozen=True)
class NetworkCost:
    parts: dict[str, Resources]  # "array", "lanes", "top"

    @property
    def total(self) -> Resources:
        return self.parts["array"] + self.parts["lanes"] + self.parts["top"]


def lutram_luts(depth: int, width: int) -> int:
    """LUTs of a simple dual-port LUT RAM: RAM32M (32 x 6 bits) or RAM64M (64 x 3), 4 LUTs
    each."""
    if depth <= 32:
        return 4 * math.ceil(width / 6)
    return 4 * math.ceil(depth / 64) * math.ceil(width / 3)


def memory_brams(depth: int, width: int, block: bool = False) -> float:
    """RAMB36 equivalents of one ``depth`` x ``width`` memory (0 when it stays in LUT RAM;
    ``block``: marked ``rom_style = "block"``, as the weight ROMs are)."""
    if width <= 0 or (not block and lutram_luts(depth, width) <= LUTRAM_LUTS):
        return 0.0
    whole = min(math.ceil(depth / d) * math.ceil(width / w) for d, w in _RAMB36)
    half = min(math.ceil(depth / d) * math.ceil(width / w) for d, w in _RAMB18) / 2
    return min(whole, half)


def features(plan: NetworkPlan) -> dict[str, dict[str, float]]:
    """Per part, the structural counts its LUTs and FFs are made of."""
    rows, cols = plan.shape.rows, plan.shape.cols
    pes, psum, word = rows * cols, psum_width(plan), 8 * cols
    per_pe = 1.0 if plan.has_depthwise else 0.0
    acc, racc, mult, prod = plan.acc_width, plan.racc_width, plan.mult_width, plan.prod_width
    cw = address_width(plan)
    ports, banks = plan.ports, plan.banks
    copies = plan.in_copies + plan.act_copies
    shared_reads = sum(max(0, plan.ports - k) for k in (plan.in_copies, plan.act_copies))
    sources = 0
    for s in plan.steps:
        if s.op is Op.MAC:
            sources += sum(len(r) for r in s.plan.row_sources)
    # the lanes' per-tile tables (bias, multiplier, shift) as LUT ROMs, 64 words a LUT; a deep
    # multiplier table goes to block RAM (see _memories)
    table_width = acc + 6 + (0 if plan.ct_total > ROM_TABLE_DEPTH else mult)
    scales = plan.scale_width if any(s.op is Op.SCALE for s in plan.steps) else 0
    lutram = {part: luts for part, (_, luts) in _memory_costs(plan).items()}
    return {
        "array": {
            "pe_bits": pes * psum,  # a PE: one adder and its operand mux per sum bit
            "pe_shift_bits": per_pe * pes * psum,  # depthwise: each PE shifts its own input
            "row_bits": rows * (word + 9),  # per row: weight word and input registers
            "skew_bits": 9 * rows * (rows - 1) / 2 * (1 - per_pe),  # the row skew of x
        },
        "lanes": {
            # the requantization multiply: all its digits, or half of them used twice
            "booth_bits": cols * racc * (split_digits(mult) if plan.lane_split
                                         else mult // 2 + 1),
            "split_bits": cols * (prod + 2 * split_digits(mult)) if plan.lane_split else 0,
            "scale_bits": cols * 9 * (scales + 10) if scales > 1 else 0,  # Add's x * scale
            "lane_bits": cols * (acc + prod),  # accumulate, round, clamp
            "table_bits": cols * plan.ct_total * table_width / 64,
            "lutram_luts": lutram["lanes"],
        },
        "top": {
            "port_bits": ports * cw,  # window arithmetic and bounds of every read port
            "word_bits": ports * word * banks / 4,  # a port's word from its memory copy
            "dw_bank_bits": per_pe * ports * word * banks / 4,  # depthwise: a port's bank
            "share_bits": shared_reads * (cw + word * banks / 4) + copies * cw,
            # depthwise reads shared by runs of ports (run addresses, tiles, hold loads): a
            # cost yosys puts between 230 and 1,460 LUTs on the measured designs
            "window": 1.0 if plan.share_groups else 0.0,
            "source_bits": 9 * (sources + cols),  # the rows' and lanes' value muxes
            "table_bits": (plan.layers * 400 + plan.kt_total * ports * cw) / 16,
            "lutram_luts": lutram["top"],
        },
    }


def _memories(plan: NetworkPlan) -> list[tuple[str, int, int, int, bool]]:
    """Every memory of the design: (part, depth, width, how many, block-RAM-only)."""
    rows, cols = plan.shape.rows, plan.shape.cols
    height, width, channels = plan.graph_input.shape
    last = plan.steps[-1]
    acc_pixels = max([s.pixels for s in plan.steps if s.n_kt > 1] + [1])
    weight_words = plan.ring_depth if plan.weight_source == "stream" else plan.tiles
    out = [("array", weight_words, 8 * cols, rows, True),  # weight ROMs or rings, one a row
           ("lanes", acc_pixels, plan.acc_width, cols, False),  # partial sums, one per lane
           ("top", height * width, 8 * min(channels, cols),
            plan.in_copies * math.ceil(channels / cols), False),  # input buffer copies
           ("top", last.pixels, 8 * cols, last.n_ct, False)]  # the output buffer
    out += [("top", depth, 8 * cols, plan.act_copies, False) for depth in plan.bank_depth]
    if plan.ct_total > ROM_TABLE_DEPTH:  # a deep multiplier table: yosys makes it a BRAM ROM
        out.append(("lanes", plan.ct_total, plan.mult_width, cols, True))
    return out


def _memory_costs(plan: NetworkPlan) -> dict[str, tuple[float, float]]:
    """Per part, (RAMB36, LUTs of LUT RAM)."""
    costs = {"array": [0.0, 0.0], "lanes": [0.0, 0.0], "top": [0.0, 0.0]}
    for part, depth, width, count, block in _memories(plan):
        brams = memory_brams(depth, width, block)
        costs[part][0] += count * brams
        if brams == 0:
            costs[part][1] += count * lutram_luts(depth, width)
    return {part: (b, l) for part, (b, l) in costs.items()}


def estimate_network(plan: NetworkPlan) -> NetworkCost:
    """LUTs, FFs and RAMB36 of the shift-add engine's array, lanes and top."""
    if plan.pe != "shiftadd":
        raise ValueError("the resource model covers the shift-add engine (pe='shiftadd')")
    counts, memories = features(plan), _memory_costs(plan)
    parts = {}
    for part, values in counts.items():
        coeffs = COEFFICIENTS.get(part, {})
        luts = sum(coeffs.get("luts", {}).get(k, 0.0) * v for k, v in values.items())
        ffs = sum(coeffs.get("ffs", {}).get(k, 0.0) * v for k, v in values.items())
        parts[part] = Resources(luts + coeffs.get("luts", {}).get("const", 0.0),
                                ffs + coeffs.get("ffs", {}).get("const", 0.0), memories[part][0])
    return NetworkCost(parts)
