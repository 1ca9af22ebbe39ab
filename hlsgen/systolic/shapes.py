"""Array shapes a part allows.  The strongest DSP baseline: the shape with the lowest exact
latency among those whose DSPs fit the part and whose block RAM stays under the search's
ceiling (:func:`best_shape`).  The shift-add engine: the shape, memory-copy budget, shared
reads and split lanes with the lowest exact latency whose estimated LUTs, FFs and block RAM
fit a budget
(:func:`best_shiftadd_engine`, the resource model of :mod:`hlsgen.systolic.netresources`).

A fair comparison gives the baseline every DSP a good shape can use (``R*C`` PE DSPs plus one
per lane, ``C`` lanes), so the shape depends on the part (xc7z020: 220 DSPs, xc7a100t: 240)
and on the network (its channel counts decide how well ``C`` columns and ``R`` rows tile).
Latency comes from :func:`network_cycle_model`, which equals the simulation; block RAM from
the plan's memories (an estimate; the comparison measures the chosen shape with yosys).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hlsgen import ir
from hlsgen.systolic.nettiming import network_cycle_model
from hlsgen.systolic.network import NetworkPlan, plan_network
from hlsgen.systolic.plan import ArrayShape

__all__ = ["best_shape", "candidate_shapes", "estimated_brams", "EngineChoice",
           "best_shiftadd_engine", "SHIFTADD_ROWS", "SHIFTADD_COLS", "COPY_KBITS_CHOICES"]

COLUMN_CHOICES = (8, 12, 16, 20, 24, 32)  # output channels of CNNs come in such multiples
MIN_ROWS = 4


def candidate_shapes(dsps: int) -> list[ArrayShape]:
    """For every column count, the most rows whose ``R*C + C`` DSPs fit ``dsps``."""
    shapes = []
    for cols in COLUMN_CHOICES:
        rows = dsps // cols - 1
        if rows >= MIN_ROWS:
            shapes.append(ArrayShape(rows, cols))
    return shapes


def estimated_brams(plan: NetworkPlan) -> float:
    """RAMB36 of the plan's memories: the activation memory (copies x banks of ``8 C``-bit
    words), the input buffer copies (as wide as the input's channels, at most ``C``) and one
    weight ROM per row (``8 C``-bit words, one per tile), each as RAMB36 of 512 x 72 bits or a
    RAMB18 half where a memory fits one.  The accumulators and buffers of the lanes add a few
    (kws_dscnn_int8 on 12x16: 101 estimated, 102.5 in yosys)."""
    cols = plan.shape.cols
    width = 8 * cols
    total = sum(_ramb36(width, depth) for depth in plan.bank_depth) * plan.act_copies
    height, width_px, channels = plan.graph_input.shape
    in_banks = math.ceil(channels / cols)
    total += plan.in_copies * in_banks * _ramb36(8 * min(channels, cols), height * width_px)
    total += plan.shape.rows * _ramb36(width, plan.tiles)
    return total


def _ramb36(width: int, depth: int) -> float:
    if depth <= 512 and width <= 36:
        return 0.5
    return math.ceil(width / 72) * math.ceil(depth / 512)


def best_shape(graph: ir.Graph, dsps: int, bram_budget: float) -> tuple[ArrayShape, int]:
    """The shape of :func:`candidate_shapes` with the lowest latency whose estimated block RAM
    fits ``bram_budget`` (ties: fewer DSPs), and that latency in cycles."""
    best: tuple[int, int, ArrayShape] | None = None
    for shape in candidate_shapes(dsps):
        plan = plan_network(graph, shape)
        if estimated_brams(plan) > bram_budget:
            continue
        key = (network_cycle_model(plan).latency, shape.pes + shape.cols, shape)
        if best is None or key[:2] < best[:2]:
            best = key
    if best is None:
        raise ValueError(f"no array shape fits {dsps} DSPs and {bram_budget:g} RAMB36")
    return best[2], best[0]


# The shift-add engine's candidates: rows (the summed depth of a column: more rows, fewer
# k-tiles), columns (output channels at once) and memory-copy budgets (Kbit per memory).
SHIFTADD_ROWS = (8, 16, 24, 32, 48, 64)
SHIFTADD_COLS = (4, 8, 12, 16)
COPY_KBITS_CHOICES = (144, 288, 576)


@dataclass(frozen=True)
class EngineChoice:
    shape: ArrayShape
    copy_bits: int
    share_reads: bool  # shared depthwise reads (plan_network's share_reads)
    split_lanes: bool  # lanes multiplying over two cycles (plan_network's split_lanes)
    latency: int  # cycles, the exact cycle model
    cost: object  # netresources.NetworkCost: the estimate the choice fitted
    candidates: int  # plans compared


def best_shiftadd_engine(graph: ir.Graph, budget,
                         copy_kbits: tuple[int, ...] = COPY_KBITS_CHOICES,
                         share_reads: tuple[bool, ...] = (True, False),
                         split_lanes: tuple[bool, ...] = (False, True)) -> EngineChoice:
    """The shift-add engine (shape, copy budget, shared depthwise reads or not, lanes
    multiplying in one cycle or two) with the lowest latency whose estimated LUTs, FFs and
    RAMB36 fit ``budget`` (an :class:`hlsgen.explore.devices.Budget`; 0 DSP by construction);
    ties: fewer LUTs.  Raises ``ValueError`` naming the smallest design's needs when none
    fits."""
    from hlsgen.systolic.netresources import estimate_network

    best, smallest, compared = None, None, 0
    for rows in SHIFTADD_ROWS:
        for cols in SHIFTADD_COLS:
            copies = None
            for kbits in copy_kbits:
                first = plan_network(graph, ArrayShape(rows, cols), pe="shiftadd",
                                     copy_bits=kbits * 1024, share_reads=share_reads[0],
                                     split_lanes=split_lanes[0])
                if (first.in_copies, first.act_copies) == copies:
                    continue  # a bigger budget that buys no more copies: the same design
                copies = (first.in_copies, first.act_copies)
                shares = share_reads if first.share_groups else share_reads[:1]
                plans = [first] + [
                    plan_network(graph, first.shape, pe="shiftadd", copy_bits=kbits * 1024,
                                 share_reads=share, split_lanes=split)
                    for share in shares for split in split_lanes
                    if (share, split) != (share_reads[0], split_lanes[0])]
                for plan in plans:
                    compared += 1
                    cost = estimate_network(plan)
                    total = cost.total
                    if smallest is None or total.luts < smallest[1].luts:
                        smallest = (plan.shape, total)
                    if budget.violations(total.luts, total.ffs, 0, total.brams):
                        continue
                    latency = network_cycle_model(plan).latency
                    key = (latency, total.luts)
                    if best is None or key < best[0]:
                        best = (key, EngineChoice(plan.shape, kbits * 1024,
                                                  bool(plan.share_groups), plan.lane_split,
                                                  latency, cost, 0))
    if best is None:
        shape, total = smallest
        raise ValueError(f"no shift-add array fits {budget.luts:,} LUTs, {budget.ffs:,} FFs "
                         f"and {budget.brams:g} RAMB36; the smallest, {shape}, needs about "
                         f"{total.luts:,.0f} LUTs, {total.ffs:,.0f} FFs and "
                         f"{total.brams:g} RAMB36")
    choice = best[1]
    return EngineChoice(choice.shape, choice.copy_bits, choice.share_reads,
                        choice.split_lanes, choice.latency, choice.cost, compared)

