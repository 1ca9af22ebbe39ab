"""Exact decomposition: CSD digits, common-subexpression sharing, min-depth adder trees.

``decompose_exact(matrix)`` returns a graph whose effective matrix equals ``matrix`` exactly
(``frac_bits == 0``).  The sharing search (:mod:`hlsgen.decompose.cse`) is greedy, so the
method tries a few equivalent formulations and keeps the one with the fewest adders (then the
lowest depth):

* **orientation**: share across the rows of ``matrix`` or across the rows of ``matrix.T`` and
  transpose the graph back (:mod:`hlsgen.decompose.transpose`); more rows give more repeated
  patterns, so wide matrices usually do better transposed;
* **row differences**: a minimum spanning tree over the rows, where a row may be computed as
  ``row = ±parent + difference`` when the difference has fewer CSD digits than the row (one
  adder for the link; chains are limited to ``MAX_CHAIN`` links to bound the depth), as
  da4ml's graph-based pre-optimisation does.

Measured on the MLPerf Tiny models, sharing across the longer side with row differences wins
almost always, so that is the default; square matrices try both orientations when small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hlsgen.decompose.builder import GraphBuilder, Term
from hlsgen.decompose.csd import csd_digits, csd_weights
from hlsgen.decompose.cse import eliminate_common_subexpressions
from hlsgen.decompose.graph import ShiftAddGraph
from hlsgen.decompose.transpose import transpose_graph

__all__ = ["decompose_exact", "csd_rows", "row_tree", "RowTree", "MAX_CHAIN"]

MAX_CHAIN = 4  # at most this many row-difference links in a row (each one adder deep)
_PAIR_BUDGET = 3_000_000  # term pairs (per orientation) up to which every variant is tried


def csd_rows(matrix: np.ndarray) -> list[list[Term]]:
    """Every row of an integer matrix as its CSD terms ``sign * (x[col] << position)``."""
    matrix = np.asarray(matrix)
    cache: dict[int, list[tuple[int, int]]] = {}
    rows = []
    for row in matrix:
        terms = []
        for col in np.flatnonzero(row):
            value = int(row[col])
            digits = cache.get(value)
            if digits is None:
                digits = cache[value] = csd_digits(value)
            terms.extend(Term(int(col), position, sign) for position, sign in digits)
        rows.append(terms)
    return rows


@dataclass(frozen=True)
class RowTree:
    """``matrix[r] == differences[r] + sign[r] * matrix[parent[r]]`` (parent -1: no link);
    ``order`` lists every row after its parent."""

    differences: np.ndarray
    parent: np.ndarray
    sign: np.ndarray
    order: tuple[int, ...]


def row_tree(matrix: np.ndarray, max_chain: int = MAX_CHAIN) -> RowTree:
    """Prim's minimum spanning tree over the rows plus a zero root row.

    Linking a row to the root costs its CSD digits; linking it to a row p costs the digits
    of ``row ∓ p`` plus the one adder of the link.  Deterministic (first minimum wins).
    """
    matrix = np.asarray(matrix, dtype=np.int64)
    n = matrix.shape[0]
    cost = csd_weights(matrix).sum(axis=1)
    parent = np.full(n, -1)
    sign = np.zeros(n, dtype=np.int64)
    chain = np.zeros(n, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    order = []
    for _ in range(n):
        j = int(np.argmin(np.where(done, np.iinfo(np.int64).max, cost)))
        done[j] = True
        order.append(j)
        if chain[j] >= max_chain:
            continue
        for s in (1, -1):
            linked = csd_weights(matrix - s * matrix[j]).sum(axis=1) + 1
            better = ~done & (linked < cost)
            cost[better] = linked[better]
            parent[better], sign[better], chain[better] = j, s, chain[j] + 1
    differences = matrix.copy()
    linked_rows = parent >= 0
    differences[linked_rows] -= sign[linked_rows, None] * matrix[parent[linked_rows]]
    return RowTree(differences, parent, sign, tuple(order))


def _solve(matrix: np.ndarray, differences: bool, share: bool) -> ShiftAddGraph:
    builder = GraphBuilder(matrix.shape[1])
    if differences:
        tree = row_tree(matrix)
    else:
        n = matrix.shape[0]
        tree = RowTree(matrix, np.full(n, -1), np.zeros(n, dtype=np.int64), tuple(range(n)))
    if share:
        rows = eliminate_common_subexpressions(builder, tree.differences)
    else:
        rows = csd_rows(tree.differences)
    outputs = [None] * matrix.shape[0]
    for r in tree.order:
        terms = list(rows[r])
        if tree.parent[r] >= 0:
            tap = outputs[tree.parent[r]]
            if tap.node is not None:
                sign = (-1 if tap.negate else 1) * int(tree.sign[r])
                terms.append(Term(tap.node, tap.shift, sign))
        outputs[r] = builder.tree(terms)
    return builder.finish(outputs)


def _pair_count(matrix: np.ndarray) -> int:
    per_row = csd_weights(matrix).sum(axis=1)
    return int(np.sum(per_row * (per_row - 1) // 2))


def decompose_exact(matrix: np.ndarray, share: bool = True, transpose: bool | None = None,
                    differences: bool | None = None) -> ShiftAddGraph:
    """Exact shift-add graph of an integer matrix [rows, cols] (int64 entries).

    ``share``: common-subexpression elimination (False: plain CSD adder trees).
    ``transpose`` / ``differences``: force a formulation (see the module docstring).  By
    default the sharing runs across the longer side (transposed when cols > rows; both ways
    for a square matrix with few enough term pairs), with row differences, and the cheapest
    graph (adders, then depth) is kept.
    """
    matrix = np.asarray(matrix, dtype=np.int64)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {matrix.shape}")
    if not share:
        return _solve(matrix, False, False)
    rows, cols = matrix.shape
    if transpose is not None:
        orientations = [transpose]
    elif rows == cols and max(_pair_count(matrix), _pair_count(matrix.T)) <= _PAIR_BUDGET:
        orientations = [False, True]
    else:
        orientations = [cols > rows]
    variants = [True] if differences is None else [differences]
    best = None
    for t in orientations:
        for diff in variants:
            graph = (transpose_graph(_solve(matrix.T, diff, True)) if t
                     else _solve(matrix, diff, True))
            if best is None or (graph.adder_count, graph.depth) < (best.adder_count, best.depth):
                best = graph
    assert best is not None
    return best
