"""Transposition of a shift-add graph (Tellegen's principle).

A graph computing ``y = E @ x`` turned around computes ``z -> E.T @ z``: every edge is
reversed, every adder becomes a fan-out point and every fan-out point a sum.  A node used ``f``
times becomes a sum of ``f`` terms (``f - 1`` adders), so the transposed graph has
``adders + n_outputs - n_inputs`` adders when every node is used.  The exact method uses this
to run the sharing search on whichever of ``E`` and ``E.T`` has more rows (more rows means
more repeated patterns) and still return a graph for ``E``.
"""

from __future__ import annotations

from hlsgen.decompose.builder import GraphBuilder, Term
from hlsgen.decompose.graph import ShiftAddGraph

__all__ = ["transpose_graph"]


def transpose_graph(graph: ShiftAddGraph) -> ShiftAddGraph:
    """The graph of ``effective_matrix().T`` (same ``frac_bits``)."""
    builder = GraphBuilder(graph.n_outputs)
    uses: list[list[Term]] = [[] for _ in range(graph.n_inputs + graph.adder_count)]
    for row, tap in enumerate(graph.outputs):
        if tap.node is not None:
            uses[tap.node].append(Term(row, tap.shift, -1 if tap.negate else 1))
    # Walk the adders backwards: when adder u is reached, every use of u is known.
    for index in range(graph.adder_count - 1, -1, -1):
        node = graph.n_inputs + index
        if not uses[node]:
            continue
        total = builder.tree(uses[node])
        assert total.node is not None
        sign = -1 if total.negate else 1
        for operand in (graph.adders[index].a, graph.adders[index].b):
            uses[operand.node].append(Term(total.node, total.shift + operand.shift,
                                           -sign if operand.negate else sign))
    outputs = [builder.tree(uses[i]) for i in range(graph.n_inputs)]
    return builder.finish(outputs, graph.frac_bits)
