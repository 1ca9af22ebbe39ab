"""Per-layer cost and fidelity of a design: what ``hlsgen decompose`` prints.

Costs are exact properties of the shift-add graphs: adder count, adder depth, and the sum of
adder output widths (the LUT proxy: one LUT per result bit on Xilinx carry chains), with node
widths derived exactly from the layer's input range ``x - zero_point``.  Fidelity is the SQNR
of the effective matrix ``E * 2**-frac_bits`` against the real matrix the method approximates
(the integer weights, or weight * requant scale for a folded method); ``inf`` when exact.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from hlsgen.decompose.methods import layer_targets, parse_method
from hlsgen.ir import Conv, Dense, Graph

__all__ = ["LayerCost", "layer_cost", "design_costs", "totals", "sqnr_db"]


@dataclass(frozen=True)
class LayerCost:
    layer: str
    method: str
    rows: int  # output channels
    cols: int  # inputs per output (KH*KW*Cin/groups, or H*W*C)
    groups: int
    nonzeros: int  # nonzero weights of the original layer
    adders: int
    depth: int  # adder levels of the deepest output
    width_sum: int  # sum of adder output widths in bits (LUT proxy)
    sqnr_db: float  # inf when the layer is exact
    seconds: float = 0.0  # decomposition time

    def to_json(self) -> dict:
        data = asdict(self)
        data["sqnr_db"] = None if math.isinf(self.sqnr_db) else round(self.sqnr_db, 3)
        data["seconds"] = round(self.seconds, 3)
        return data


def sqnr_db(target: np.ndarray, approx: np.ndarray) -> float:
    """10 log10(|target|^2 / |target - approx|^2); inf when equal, -inf for a zero target."""
    target = np.asarray(target, dtype=np.float64)
    noise = float(np.sum((target - np.asarray(approx, dtype=np.float64)) ** 2))
    signal = float(np.sum(target**2))
    if noise == 0.0:
        return math.inf
    return -math.inf if signal == 0.0 else 10.0 * math.log10(signal / noise)


def layer_cost(graph: Graph, layer: Conv | Dense, graphs, method: str,
               seconds: float = 0.0) -> LayerCost:
    """Cost of one layer's graphs; ``layer`` is the *original* layer (for targets, inputs)."""
    spec = parse_method(method)
    source = graph.tensor(layer.input)
    lo = source.dtype.qmin - source.zero_point
    hi = source.dtype.qmax - source.zero_point
    targets = layer_targets(layer, spec)
    approx = [g.effective_matrix() * 2.0 ** -g.frac_bits for g in graphs]
    exact = all(np.array_equal(t, g.effective_matrix()) and g.frac_bits == 0
                for t, g in zip(targets, graphs))
    return LayerCost(
        layer=layer.name,
        method=str(spec),
        rows=int(layer.weight.shape[0]),
        cols=int(targets[0].shape[1]),
        groups=len(graphs),
        nonzeros=int(np.count_nonzero(layer.weight)),
        adders=sum(g.adder_count for g in graphs),
        depth=max((g.depth for g in graphs), default=0),
        width_sum=sum(g.adder_width_sum(lo, hi) for g in graphs),
        sqnr_db=math.inf if exact else sqnr_db(np.concatenate(targets), np.concatenate(approx)),
        seconds=seconds,
    )


def design_costs(graph: Graph, design, timings: dict[str, float] | None = None
                 ) -> list[LayerCost]:
    """One :class:`LayerCost` per weight layer of ``design`` (built from ``graph``)."""
    timings = timings or {}
    return [layer_cost(graph, graph.layer(name), impl.graphs, impl.method,
                       timings.get(name, 0.0))
            for name, impl in design.impls.items()]


def totals(costs: list[LayerCost]) -> dict:
    """Sums over layers (depth: the maximum; SQNR is per layer only)."""
    return {
        "layers": len(costs),
        "nonzeros": sum(c.nonzeros for c in costs),
        "adders": sum(c.adders for c in costs),
        "depth": max((c.depth for c in costs), default=0),
        "width_sum": sum(c.width_sum for c in costs),
        "seconds": round(sum(c.seconds for c in costs), 3),
    }
