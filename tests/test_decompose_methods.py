"""Method specs and the decompositions behind them: exactness, approximation targets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hlsgen.decompose.csd import csd_weights, round_matrix_to_terms
from hlsgen.decompose.exact import decompose_exact, row_tree
from hlsgen.decompose.lcc import LccParams, _digit_coding, balance_rows, decompose_lcc
from hlsgen.decompose.methods import MethodKind, decompose, decompose_layer, parse_method
from hlsgen.decompose.report import sqnr_db
from hlsgen.errors import InputError

int_matrices = arrays(np.int64, st.tuples(st.integers(1, 7), st.integers(1, 9)),
                      elements=st.integers(-300, 300))


@pytest.mark.parametrize("spec, canonical", [
    ("exact", "exact"), ("po2", "po2"), ("terms:3", "terms:3"), ("lcc", "lcc"),
    ("lcc:sqnr=30", "lcc"), ("lcc:sqnr=25.5,fold=1", "lcc:sqnr=25.5,fold=1"),
    ("lcc:fold=1,slice=4,terms=3", "lcc:slice=4,terms=3,fold=1"), (" po2 ", "po2"),
    ("lcc:dc=0,sqnr=20", "lcc:sqnr=20,dc=0"), ("lcc:dc=1", "lcc"),
])
def test_canonical_spec(spec, canonical):
    parsed = parse_method(spec)
    assert str(parsed) == canonical
    assert parse_method(str(parsed)) == parsed


@pytest.mark.parametrize("spec, message", [
    ("csd", "unknown method"), ("terms", "unknown method"), ("terms:0", "K in 'terms:K'"),
    ("terms:x", "K in 'terms:K'"), ("exact:1", "unknown method"), ("lcc:sqnr", "bad lcc option"),
    ("lcc:speed=3", "bad lcc option"), ("lcc:sqnr=-3", "positive number of dB"),
    ("lcc:sqnr=nan", "positive number of dB"), ("lcc:terms=1", "terms must be an integer >= 2"),
    ("lcc:fold=2", "fold must be 0 or 1"), ("lcc:slice=2,slice=3", "given twice"),
    ("lcc:dc=-1", "dc must be a number >= 0"),
])
def test_bad_specs_are_rejected_with_a_reason(spec, message):
    with pytest.raises(InputError, match=message):
        parse_method(spec)


@settings(max_examples=60, deadline=None)
@given(int_matrices, st.booleans(), st.booleans())
def test_exact_is_exact_in_every_formulation(matrix, transpose, differences):
    graph = decompose_exact(matrix, transpose=transpose, differences=differences)
    assert graph.frac_bits == 0
    assert np.array_equal(graph.effective_matrix(), matrix)
    x = np.random.default_rng(0).integers(-128, 128, size=(matrix.shape[1], 3))
    assert np.array_equal(graph.evaluate(x), matrix @ x)


@settings(max_examples=40, deadline=None)
@given(int_matrices)
def test_row_tree_differences_rebuild_the_rows(matrix):
    tree = row_tree(matrix)
    rebuilt = {}
    for r in tree.order:
        p = tree.parent[r]
        rebuilt[r] = tree.differences[r] + (tree.sign[r] * rebuilt[p] if p >= 0 else 0)
    assert all(np.array_equal(rebuilt[r], matrix[r]) for r in range(len(matrix)))
    # a link is only taken when it is cheaper than the row itself
    linked = tree.parent >= 0
    assert np.all(csd_weights(tree.differences[linked]).sum(axis=1) + 1
                  < csd_weights(matrix[linked]).sum(axis=1))


def test_row_tree_links_a_shifted_parent():
    matrix = np.array([[3, -5, 7], [12, -20, 28], [-6, 10, -13]])
    tree = row_tree(matrix)
    assert (tree.parent[1], tree.sign[1]) == (0, 4) and not tree.differences[1].any()
    assert (tree.parent[2], tree.sign[2]) == (0, -2)
    assert np.array_equal(tree.differences[2], [0, 0, 1])
    assert np.array_equal(decompose_exact(matrix).effective_matrix(), matrix)
    plain = row_tree(matrix, max_shift=0)
    assert plain.parent[1] == -1 or plain.sign[1] in (1, -1)


def test_sharing_saves_adders_on_a_real_sized_matrix():
    matrix = np.random.default_rng(1).integers(-127, 128, size=(24, 40))
    plain = decompose_exact(matrix, share=False)
    shared = decompose_exact(matrix)
    assert np.array_equal(shared.effective_matrix(), matrix)
    # plain CSD trees: one adder per digit beyond the first of each row (no reuse at all
    # except identical adders) -- sharing must do clearly better
    assert plain.adder_count <= int(csd_weights(matrix).sum()) - len(matrix)
    assert shared.adder_count < 0.8 * plain.adder_count


@settings(max_examples=40, deadline=None)
@given(int_matrices, st.integers(1, 3))
def test_terms_and_po2_compute_the_rounded_matrix(matrix, k):
    graph = decompose(matrix, f"terms:{k}")
    assert np.array_equal(graph.effective_matrix(), round_matrix_to_terms(matrix, k))
    assert np.array_equal(decompose(matrix, "po2").effective_matrix(),
                          round_matrix_to_terms(matrix, 1))


def test_enough_terms_is_exact():
    matrix = np.random.default_rng(2).integers(-127, 128, size=(6, 10))
    assert np.array_equal(decompose(matrix, "terms:4").effective_matrix(), matrix)


@pytest.mark.parametrize("spec", ["lcc:sqnr=12", "lcc:sqnr=30", "lcc:sqnr=45",
                                  "lcc:sqnr=25,slice=3,factors=64",
                                  "lcc:sqnr=20,slice=5,terms=3,factors=64"])
def test_lcc_reaches_its_sqnr_on_real_valued_matrices(spec):
    target = np.random.default_rng(3).normal(size=(12, 20)) * 0.01
    graph = decompose(target, spec)
    approx = graph.effective_matrix() * 2.0 ** -graph.frac_bits
    wanted = parse_method(spec).lcc.sqnr
    assert sqnr_db(target, approx) >= wanted
    x = np.random.default_rng(4).integers(-128, 128, size=(20, 5))
    assert np.array_equal(graph.evaluate(x), graph.effective_matrix() @ x)


def test_lcc_is_deterministic_and_more_sqnr_costs_more():
    target = np.random.default_rng(5).normal(size=(16, 24))
    costs = []
    for sqnr in (10.0, 20.0, 30.0):
        first = decompose_lcc(target, LccParams(sqnr=sqnr))
        again = decompose_lcc(target, LccParams(sqnr=sqnr))
        assert np.array_equal(first.effective_matrix(), again.effective_matrix())
        assert first.adder_count == again.adder_count
        costs.append(first.adder_count)
    assert costs[0] < costs[1] < costs[2]


def test_lcc_beats_terms_at_equal_sqnr():
    # the heavy-tailed, correlated-free weights of a trained layer are mimicked by a
    # Laplacian draw; terms:2 fixes two digits per weight, lcc spends digits where they help
    weights = np.clip(np.rint(np.random.default_rng(6).laplace(scale=25, size=(32, 48))),
                      -127, 127).astype(np.int64)
    terms = decompose(weights, "terms:2")
    terms_sqnr = sqnr_db(weights, terms.effective_matrix())
    lcc = decompose(weights, f"lcc:sqnr={terms_sqnr:.3f}")
    lcc_sqnr = sqnr_db(weights, lcc.effective_matrix() * 2.0 ** -lcc.frac_bits)
    assert lcc_sqnr >= terms_sqnr - 1e-9
    assert lcc.adder_count < terms.adder_count


def test_balancing_cancels_row_sums_only_where_it_pays():
    target = np.random.default_rng(8).normal(size=(20, 30)) * 40
    approx, worth = _digit_coding(target, 18.0)
    balanced = balance_rows(target, approx, 1.0, worth)
    assert np.array_equal(balance_rows(target, approx, 0.0, worth), approx)

    def objective(e):  # what balancing minimises: |e|^2 + weight * (row sum of e)^2
        return np.sum(e**2, axis=1) + np.sum(e, axis=1) ** 2

    before, after = objective(target - approx), objective(target - balanced)
    added = csd_weights(balanced - approx).sum(axis=1)  # terms added per row (<= 4)
    assert np.all(after <= before) and np.all(added <= 4)
    # every added term removed at least as much as the last digit the greedy bought
    assert np.all(before - after >= worth * added - 1e-6)
    assert np.abs(np.sum(target - balanced, axis=1)).mean() < np.abs(
        np.sum(target - approx, axis=1)).mean()


def test_integer_methods_refuse_real_matrices():
    with pytest.raises(ValueError, match="integer matrix"):
        decompose(np.ones((2, 2)) * 0.5, "exact")


def test_decompose_layer_gives_one_graph_per_group():
    from factory import random_graph
    from hlsgen.ir import Conv

    graph = random_graph(7, ("dwconv",), max_channels=5)
    layer = next(x for x in graph.layers if isinstance(x, Conv))
    graphs = decompose_layer(layer, "exact")
    assert len(graphs) == layer.groups
    for matrix, g in zip(layer.group_matrices(), graphs):
        assert np.array_equal(g.effective_matrix(), matrix)
    assert parse_method("lcc:fold=1").folds_scale and parse_method("lcc:fold=1").kind is (
        MethodKind.LCC)
    assert not math.isnan(sqnr_db(np.ones(3), np.zeros(3)))
