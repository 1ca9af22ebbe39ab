"""Exact decomposition: CSD digits, common-subexpression sharing, min-depth adder trees.

``decompose_exact(matrix)`` returns a graph whose effective matrix equals ``matrix`` exactly
(``frac_bits == 0``).  The sharing search (:mod:`hlsgen.decompose.cse`) is greedy, so the
method tries a few equivalent formulations and keeps the one with the fewest adders (then the
lowest depth):

* **orientation**: share across the rows of ``matrix`` or across the rows of ``matrix.T`` and
  transpose the graph back (:mod:`hlsgen.decompose.transpose`); more rows give more repeated
  patterns, so wide matrices usually do better transposed;
* **row differences**: a minimum spanning tree over the rows, where a row may be computed as
  ``row = ±(parent << k) + difference`` (``k <= SHIFTED_PARENT``) when the difference has
  fewer CSD digits than the row (one adder for the link; chains are limited to ``MAX_CHAIN``
  links to bound the depth), as da4ml's graph-based pre-optimisation does with unshifted
  parents.  The shifted ones save 2-4 % on the depthwise layers of kws_dscnn_int8 (rows of
  nine weights); the digit count is only a proxy for the shared cost, so elsewhere they
  sometimes cost a few adders (net -111 adders on kws_dscnn_int8, +13 on resnet8_int8).

* **tie-breaks** among equally frequent patterns (:class:`~hlsgen.decompose.cse.TieBreak`):
  equally greedy paths that end a percent or so apart.

Measured on the MLPerf Tiny models, sharing across the longer side with row differences wins
almost always; near-square matrices also try the other side.  Formulations are tried in that
order while their summed term pairs (the cost driver of the search) stay within a budget, so
big layers take one run and small ones up to six.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hlsgen.decompose.builder import GraphBuilder, Term
from hlsgen.decompose.csd import csd_digits, csd_weights
from hlsgen.decompose.cse import TieBreak, eliminate_common_subexpressions
from hlsgen.decompose.graph import ShiftAddGraph
from hlsgen.decompose.transpose import transpose_graph

__all__ = ["decompose_exact", "formulations", "solve_formulation", "cheapest", "search_work",
           "Formulation", "csd_rows", "row_tree", "RowTree", "MAX_CHAIN", "SHIFTED_PARENT"]

Formulation = tuple[bool, TieBreak]  # (share across the transposed matrix, tie-break)

MAX_CHAIN = 4  # at most this many row-difference links in a row (each one adder deep)
SHIFTED_PARENT = 3  # a row may link to ±(parent << k), k <= 3
# Term pairs summed over the formulations tried for one matrix.  2.5 M lets a 64x64 int8 layer
# try the three tie-breaks of its longer side: on kws_dscnn_int8 and resnet8_int8 the other
# side's three runs (5 M) bought 9 adders out of 100,125 for 40 % more search time.
_WORK_BUDGET = 2_500_000
_SQUARE_RATIO = 1.5  # both orientations are tried when the sides differ less than this


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
    """``matrix[r] == differences[r] + sign[r] * matrix[parent[r]]`` (parent -1: no link;
    ``sign`` is ±2**k, a shifted parent); ``order`` lists every row after its parent."""

    differences: np.ndarray
    parent: np.ndarray
    sign: np.ndarray
    order: tuple[int, ...]


def row_tree(matrix: np.ndarray, max_chain: int = MAX_CHAIN,
             max_shift: int = SHIFTED_PARENT) -> RowTree:
    """Prim's minimum spanning tree over the rows plus a zero root row.

    Linking a row to the root costs its CSD digits; linking it to a row p costs the digits
    of ``row ∓ (p << k)`` (``k <= max_shift``) plus the one adder of the link.
    Deterministic (first minimum wins, smaller shifts first).
    """
    matrix = np.asarray(matrix, dtype=np.int64)
    n = matrix.shape[0]
    cost = csd_weights(matrix).sum(axis=1)
    factors = np.array([unit << k for k in range(max_shift + 1) for unit in (1, -1)])
    # every difference (and the popcount's 3/2 of it) fits a narrower type: less memory traffic
    bound = int(np.abs(matrix).max(initial=0)) << (max_shift + 2)
    narrow = np.int16 if bound < (1 << 14) else np.int32 if bound < (1 << 30) else np.int64
    candidates, factors = matrix.astype(narrow), factors.astype(narrow)
    parent = np.full(n, -1)
    sign = np.zeros(n, dtype=np.int64)
    chain = np.zeros(n, dtype=np.int64)
    done = np.zeros(n, dtype=bool)
    order = []
    for _ in range(n):
        j = int(np.argmin(np.where(done, np.iinfo(np.int64).max, cost)))
        done[j] = True
        order.append(j)
        rest = np.flatnonzero(~done)
        if chain[j] >= max_chain or not len(rest):
            continue
        # [factor, row]: digits of row - factor * row j, plus the link's adder
        linked = csd_weights(candidates[rest][None] - factors[:, None, None] * candidates[j]
                             ).sum(axis=2) + 1
        pick = np.argmin(linked, axis=0)  # the first factor reaching the minimum
        best = linked[pick, np.arange(len(rest))]
        better = best < cost[rest]
        rows = rest[better]
        cost[rows] = best[better]
        parent[rows], sign[rows], chain[rows] = j, factors[pick[better]], chain[j] + 1
    differences = matrix.copy()
    linked_rows = parent >= 0
    differences[linked_rows] -= sign[linked_rows, None] * matrix[parent[linked_rows]]
    return RowTree(differences, parent, sign, tuple(order))


def _solve(matrix: np.ndarray, differences: bool, share: bool,
           tie: TieBreak = TieBreak.KEY) -> ShiftAddGraph:
    builder = GraphBuilder(matrix.shape[1])
    if differences:
        tree = row_tree(matrix)
    else:
        n = matrix.shape[0]
        tree = RowTree(matrix, np.full(n, -1), np.zeros(n, dtype=np.int64), tuple(range(n)))
    if share:
        rows = eliminate_common_subexpressions(builder, tree.differences, tie)
    else:
        rows = csd_rows(tree.differences)
    outputs = [None] * matrix.shape[0]
    for r in tree.order:
        terms = list(rows[r])
        if tree.parent[r] >= 0:
            tap = outputs[tree.parent[r]]
            if tap.node is not None:
                factor = int(tree.sign[r])  # ±2**k
                sign = (-1 if tap.negate else 1) * (1 if factor > 0 else -1)
                terms.append(Term(tap.node, tap.shift + abs(factor).bit_length() - 1, sign))
        outputs[r] = builder.tree(terms)
    return builder.finish(outputs)


def search_work(matrix: np.ndarray, transpose: bool = False) -> int:
    """Term pairs the sharing search starts from: its cost driver (for scheduling)."""
    per_row = csd_weights(matrix.T if transpose else matrix).sum(axis=1)
    return int(np.sum(per_row * (per_row - 1) // 2))


def formulations(matrix: np.ndarray) -> list[Formulation]:
    """(transpose, tie-break) pairs to try, best first, within ``_WORK_BUDGET`` term pairs."""
    rows, cols = matrix.shape
    longer = cols > rows  # share across the longer side: more rows, more repeats
    sides = [longer]
    if max(rows, cols) <= _SQUARE_RATIO * min(rows, cols):
        sides.append(not longer)
    work = {t: search_work(matrix, t) for t in sides}
    chosen, spent = [], 0
    for t in sides:
        for tie in TieBreak:
            if chosen and spent + work[t] > _WORK_BUDGET:
                return chosen
            chosen.append((t, tie))
            spent += work[t]
    return chosen


def decompose_exact(matrix: np.ndarray, share: bool = True, transpose: bool | None = None,
                    differences: bool | None = None) -> ShiftAddGraph:
    """Exact shift-add graph of an integer matrix [rows, cols] (int64 entries).

    ``share``: common-subexpression elimination (False: plain CSD adder trees).
    ``transpose`` / ``differences``: force a formulation (see the module docstring).  By
    default the sharing runs across the longer side (and across the other one too for
    near-square matrices) with row differences, under every tie-break the work budget allows,
    and the cheapest graph (adders, then depth) is kept.
    """
    matrix = np.asarray(matrix, dtype=np.int64)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {matrix.shape}")
    if not share:
        return _solve(matrix, False, False)
    plan = formulations(matrix)
    if transpose is not None:
        plan = [(transpose, tie) for tie in TieBreak][: max(1, len(plan))]
    diff = True if differences is None else differences
    return cheapest([solve_formulation(matrix, f, diff) for f in plan])


def solve_formulation(matrix: np.ndarray, formulation: Formulation,
                      differences: bool = True) -> ShiftAddGraph:
    """The exact graph of ``matrix`` found by one formulation of the sharing search."""
    matrix = np.asarray(matrix, dtype=np.int64)
    transpose, tie = formulation
    if transpose:
        return transpose_graph(_solve(matrix.T, differences, True, tie))
    return _solve(matrix, differences, True, tie)


def cheapest(graphs: list[ShiftAddGraph]) -> ShiftAddGraph:
    """Fewest adders, then lowest depth; the first such graph (formulation order) wins."""
    best = graphs[0]
    for graph in graphs[1:]:
        if (graph.adder_count, graph.depth) < (best.adder_count, best.depth):
            best = graph
    return best
