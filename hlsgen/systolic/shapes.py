"""The strongest DSP baseline a part allows: the array shape with the lowest exact latency
among those whose DSPs fit the part and whose block RAM stays under the search's ceiling.

A fair comparison gives the baseline every DSP a good shape can use (``R*C`` PE DSPs plus one
per lane, ``C`` lanes), so the shape depends on the part (xc7z020: 220 DSPs, xc7a100t: 240)
and on the network (its channel counts decide how well ``C`` columns and ``R`` rows tile).
Latency comes from :func:`network_cycle_model`, which equals the simulation; block RAM from
the plan's memories (an estimate; the comparison measures the chosen shape with yosys).
"""

from __future__ import annotations

import math

from hlsgen import ir
from hlsgen.systolic.nettiming import network_cycle_model
from hlsgen.systolic.network import NetworkPlan, plan_network
from hlsgen.systolic.plan import ArrayShape

__all__ = ["best_shape", "candidate_shapes", "estimated_brams"]

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
