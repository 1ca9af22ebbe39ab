"""ShiftAddGraph: evaluation == effective matrix, exact widths, depth (property tests)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hlsgen.decompose.graph import Adder, Operand, OutputTap, ShiftAddGraph, bit_width


@st.composite
def graphs(draw, max_inputs=5, max_adders=12, max_shift=20):
    n = draw(st.integers(1, max_inputs))
    adders = []
    for i in range(draw(st.integers(0, max_adders))):
        nodes = st.integers(0, n + i - 1)
        ops = [Operand(draw(nodes), draw(st.integers(0, max_shift)), draw(st.booleans()))
               for _ in range(2)]
        adders.append(Adder(*ops))
    taps = [OutputTap(draw(st.one_of(st.none(), st.integers(0, n + len(adders) - 1))),
                      draw(st.integers(0, 4)), draw(st.booleans()))
            for _ in range(draw(st.integers(1, 4)))]
    return ShiftAddGraph(n, tuple(adders), tuple(taps), draw(st.integers(0, 3)))


def _python_eval(graph: ShiftAddGraph, x: list[int]) -> list[int]:
    values = list(x)
    for add in graph.adders:
        terms = [(-1 if op.negate else 1) * (values[op.node] << op.shift) for op in (add.a, add.b)]
        values.append(sum(terms))
    return [0 if t.node is None else (-1 if t.negate else 1) * (values[t.node] << t.shift)
            for t in graph.outputs]


@settings(max_examples=200, deadline=None)
@given(graphs(), st.data())
def test_evaluate_equals_effective_matrix(graph, data):
    x = np.array(data.draw(st.lists(st.integers(-128, 127), min_size=graph.n_inputs,
                                    max_size=graph.n_inputs)), dtype=np.int64)
    matrix = graph.effective_matrix()
    expected = _python_eval(graph, [int(v) for v in x])
    assert [int(v) for v in matrix.astype(object) @ x.astype(object)] == expected
    if matrix.dtype == np.int64 and max(map(abs, expected), default=0) < 1 << 55:
        assert graph.evaluate(x).tolist() == expected


@settings(max_examples=100, deadline=None)
@given(graphs(max_shift=70))
def test_huge_shifts_fall_back_to_python_ints(graph):
    matrix = graph.effective_matrix()
    forms = graph.node_forms
    for r, tap in enumerate(graph.outputs):
        row = [0] * graph.n_inputs if tap.node is None else [
            (-1 if tap.negate else 1) * (int(v) << tap.shift) for v in forms[tap.node]]
        assert [int(v) for v in matrix[r]] == row


@settings(max_examples=100, deadline=None)
@given(graphs(max_inputs=3, max_adders=6, max_shift=3), st.data())
def test_node_ranges_are_exact(graph, data):
    lo = np.array(data.draw(st.lists(st.integers(-8, 3), min_size=graph.n_inputs,
                                     max_size=graph.n_inputs)))
    hi = lo + np.array(data.draw(st.lists(st.integers(0, 5), min_size=graph.n_inputs,
                                          max_size=graph.n_inputs)))
    grid = np.array(np.meshgrid(*[np.arange(a, b + 1) for a, b in zip(lo, hi)],
                                indexing="ij")).reshape(graph.n_inputs, -1)
    values = [list(grid[i]) for i in range(graph.n_inputs)]
    for add in graph.adders:
        a = (-1 if add.a.negate else 1) * (np.array(values[add.a.node]) << add.a.shift)
        b = (-1 if add.b.negate else 1) * (np.array(values[add.b.node]) << add.b.shift)
        values.append(list(a + b))
    ranges = graph.node_ranges(lo, hi)
    assert ranges == [(int(min(v)), int(max(v))) for v in values]
    widths = graph.node_widths(lo, hi)
    assert widths == [bit_width(a, b) for a, b in ranges]
    assert graph.adder_width_sum(lo, hi) == sum(widths[graph.n_inputs:])


def test_bit_width_and_depth():
    assert [bit_width(0, 0), bit_width(-1, 0), bit_width(0, 1), bit_width(-128, 127),
            bit_width(-129, 0), bit_width(0, 128)] == [1, 1, 2, 8, 9, 9]
    # ((x0 + x1) + x2) - x0: depth 3 for row 0, row 1 is x2 << 1 (depth 0)
    graph = ShiftAddGraph(3, (Adder(Operand(0), Operand(1)), Adder(Operand(3), Operand(2)),
                              Adder(Operand(4), Operand(0, 0, True))),
                          (OutputTap(5), OutputTap(2, 1)))
    assert graph.depth == 3 and graph.node_depths == (0, 0, 0, 1, 2, 3)
    assert graph.effective_matrix().tolist() == [[0, 1, 1], [0, 0, 2]]
    # node 5 = (x0 + x1 + x2) - x0 == x1 + x2: exact range, not interval-arithmetic widening
    assert graph.node_ranges(-4, 3)[5] == (-8, 6)


def test_output_tap_shift_beyond_int64_is_kept_exact():
    # node 1 = x + (x << 61) fits int64, but the tap shifts it past 2**63
    graph = ShiftAddGraph(1, (Adder(Operand(0), Operand(0, 61)),), (OutputTap(1, 2),))
    assert [int(v) for v in graph.effective_matrix()[0]] == [(1 + (1 << 61)) << 2]
