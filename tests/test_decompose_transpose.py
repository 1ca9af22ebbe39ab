"""Graph transposition and the CSE engine's contract."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hlsgen.decompose.builder import GraphBuilder, Term
from hlsgen.decompose.cse import eliminate_common_subexpressions
from hlsgen.decompose.transpose import transpose_graph
from test_decompose_graph import graphs


@settings(max_examples=150, deadline=None)
@given(graphs(max_shift=6))
def test_transposed_graph_computes_the_transposed_matrix(graph):
    transposed = transpose_graph(graph)
    assert np.array_equal(transposed.effective_matrix(), graph.effective_matrix().T)
    assert transposed.frac_bits == graph.frac_bits
    # Tellegen: a node used f times costs f - 1 adders once turned around
    uses = [0] * (graph.n_inputs + graph.adder_count)
    for add in graph.adders:
        uses[add.a.node] += 1
        uses[add.b.node] += 1
    for tap in graph.outputs:
        if tap.node is not None:
            uses[tap.node] += 1
    assert transposed.adder_count <= sum(max(u - 1, 0) for u in uses)


@settings(max_examples=60, deadline=None)
@given(arrays(np.int64, st.tuples(st.integers(1, 8), st.integers(1, 8)),
              elements=st.integers(-200, 200)))
def test_cse_leaves_rows_that_sum_to_the_matrix(matrix):
    builder = GraphBuilder(matrix.shape[1])
    rows = eliminate_common_subexpressions(builder, matrix)
    graph = builder.finish([builder.tree(terms) for terms in rows])
    assert np.array_equal(graph.effective_matrix(), matrix)
    # no pattern is left that occurs twice: the greedy ran to the end
    seen = {}
    for r, terms in enumerate(rows):
        for i, t1 in enumerate(terms):
            for t2 in terms[i + 1:]:
                a, b = sorted([t1, t2], key=lambda t: (t.node, t.shift))
                key = (a.node, b.node, b.shift - a.shift, a.sign * b.sign)
                seen.setdefault(key, []).append((r, a, b))
    for key, places in seen.items():
        disjoint = {(r, (a.node, a.shift)) for r, a, _ in places} | {
            (r, (b.node, b.shift)) for r, _, b in places}
        assert len(places) < 2 or len(disjoint) < 4, key


def test_builder_shares_equal_adders():
    builder = GraphBuilder(2)
    first = builder.add(Term(0, 1, 1), Term(1, 3, -1))
    second = builder.add(Term(1, 5, 1), Term(0, 3, -1))  # -(x0<<3) + (x1<<5) = -(first << 2)
    assert len(builder.adders) == 1
    assert (second.node, second.shift, second.sign) == (first.node, first.shift + 2, -first.sign)
