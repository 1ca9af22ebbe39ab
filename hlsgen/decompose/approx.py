"""Per-weight approximations: power-of-two (``po2``) and K signed digits (``terms:K``).

Each weight is rounded on its own (:mod:`hlsgen.decompose.csd`), then the rounded integer
matrix is decomposed exactly, common subexpressions included, so the adders counted are
those of the approximated matrix and nothing else.  ``frac_bits`` stays 0: the rounded
weights are in the same units as the original ones.
"""

from __future__ import annotations

import numpy as np

from hlsgen.decompose.csd import round_matrix_to_terms
from hlsgen.decompose.exact import decompose_exact
from hlsgen.decompose.graph import ShiftAddGraph

__all__ = ["decompose_terms", "decompose_po2"]


def decompose_terms(matrix: np.ndarray, terms: int) -> ShiftAddGraph:
    """Every weight rounded to at most ``terms`` non-zero CSD digits, then decomposed."""
    if terms < 1:
        raise ValueError(f"terms must be >= 1, got {terms}")
    return decompose_exact(round_matrix_to_terms(matrix, terms))


def decompose_po2(matrix: np.ndarray) -> ShiftAddGraph:
    """Every weight rounded to the nearest signed power of two (or zero), then decomposed."""
    return decompose_terms(matrix, 1)
