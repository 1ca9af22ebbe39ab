"""Exact decomposition: canonical signed digits per weight, adder trees per row.

``decompose_exact(matrix)`` returns a graph whose effective matrix equals ``matrix`` exactly
(``frac_bits == 0``).  With ``share=True`` (the default) two-term common subexpressions are
shared across the rows first (:mod:`hlsgen.decompose.cse`).
"""

from __future__ import annotations

import numpy as np

from hlsgen.decompose.builder import GraphBuilder, Term
from hlsgen.decompose.csd import csd_digits
from hlsgen.decompose.cse import eliminate_common_subexpressions
from hlsgen.decompose.graph import ShiftAddGraph
from hlsgen.decompose.transpose import transpose_graph

__all__ = ["decompose_exact", "csd_rows"]


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


def decompose_exact(matrix: np.ndarray, share: bool = True, transpose: bool | None = False
                    ) -> ShiftAddGraph:
    """Exact shift-add graph of an integer matrix [rows, cols] (int64 entries).

    ``transpose=True`` solves ``matrix.T`` and transposes the graph back.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {matrix.shape}")
    if transpose:
        return transpose_graph(decompose_exact(matrix.T, share, False))
    builder = GraphBuilder(matrix.shape[1])
    if share:
        rows = eliminate_common_subexpressions(builder, matrix)
    else:
        rows = csd_rows(matrix)
    return builder.finish([builder.tree(terms) for terms in rows])
