"""Linear computation coding (LCC): a real matrix as a product of sparse power-of-two factors.

Idea (Müller et al., "Linear computation coding"): cut the columns of the target ``T``
[rows, cols] into slices of ``slice`` columns.  Within a slice every row is computed in
*factors* (stages): in each stage a row's partial result is updated to itself plus ``terms-1``
codewords scaled by signed powers of two, where the codebook holds the slice's inputs and every
partial result already computed for any row of the slice in an earlier stage.  A stage is one
sparse factor matrix whose rows have at most ``terms`` signed powers of two; the product of the
factors approximates the slice.  Because a narrow slice lives in a low-dimensional space, the
codebook of other rows' sums quickly gets dense there, and a few terms reach a precision that
per-weight rounding needs many digits for.  The slice results of each row are then summed with
a minimum-depth tree.

Greedy and deterministic: each stage proposes, for every (row, slice), the best ``terms-1``
codewords by matching pursuit; proposals are taken in order of decreasing error reduction
until the whole matrix reaches the target SQNR (or no proposal helps, or ``factors`` stages
are done).  All arithmetic on the approximation is exact integer arithmetic in units of
``2**-frac_bits``; the effective matrix is exact by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hlsgen.decompose.builder import GraphBuilder, Term
from hlsgen.decompose.graph import ShiftAddGraph

__all__ = ["LccParams", "decompose_lcc", "choose_frac_bits"]


@dataclass(frozen=True)
class LccParams:
    """``slice``: columns per slice; ``terms``: signed powers of two per factor row (>= 2);
    ``factors``: maximum number of stages; ``sqnr``: target SQNR in dB for the whole matrix;
    ``fold``: approximate weight * requant scale instead of the integer weight (layer level)."""

    slice: int = 8
    terms: int = 2
    factors: int = 8
    sqnr: float = 40.0
    fold: bool = False


def choose_frac_bits(target: np.ndarray, sqnr_db: float, minimum: int = 0) -> int:
    """Fractional bits so that the integer grid is well below the noise the SQNR allows.

    The largest entry of ``target * 2**frac_bits`` gets about ``sqnr/6 + 4`` bits: the target's
    own rounding noise is then > 20 dB under the requested SQNR.
    """
    peak = float(np.max(np.abs(target))) if target.size else 0.0
    if peak == 0.0:
        return minimum
    wanted = math.ceil(sqnr_db / 6.02) + 4
    return max(minimum, wanted - math.floor(math.log2(peak)))


@dataclass
class _Slice:
    """Mutable working state of one column slice (private to the algorithm)."""

    columns: np.ndarray  # global input indices
    forms: list[np.ndarray]  # codeword vectors over this slice's columns (int64)
    terms: list[Term]  # the graph term equal to each codeword
    seen: set[bytes]  # normalised codewords already in the codebook
    approx: np.ndarray  # [rows, width] int64 current approximation per row
    approx_term: list[Term | None]  # its term (None while zero)


def decompose_lcc(target: np.ndarray, params: LccParams, frac_bits: int | None = None
                  ) -> ShiftAddGraph:
    """Approximate ``target * 2**frac_bits`` [rows, cols] with a shift-add graph."""
    target = np.asarray(target, dtype=np.float64)
    rows, cols = target.shape
    if frac_bits is None:
        frac_bits = choose_frac_bits(target, params.sqnr, 1 if params.fold else 0)
    scaled = target * 2.0**frac_bits
    builder = GraphBuilder(cols)
    slices = [_new_slice(np.arange(start, min(start + params.slice, cols)), rows)
              for start in range(0, cols, params.slice)]
    budget = float(np.sum(scaled**2)) * 10.0 ** (-params.sqnr / 10.0)
    error = float(np.sum(scaled**2))
    for _ in range(params.factors):
        if error <= budget:
            break
        proposals = []  # (gain, slice index, row, new terms)
        for index, sl in enumerate(slices):
            proposals.extend(_propose(index, sl, scaled[:, sl.columns], params.terms))
        proposals.sort(key=lambda p: (-p[0], p[1], p[2]))
        if not proposals:
            break
        updated: list[tuple[_Slice, int]] = []
        for gain, index, row, new_terms, new_vector in proposals:
            if error <= budget:
                break
            sl = slices[index]
            previous = sl.approx_term[row]
            parts = ([previous] if previous is not None else []) + new_terms
            sl.approx_term[row] = _sum_terms(builder, parts)
            sl.approx[row] = new_vector
            error -= gain
            updated.append((sl, row))
        # Codewords made in this stage become usable from the next stage on (factor order).
        for sl, row in updated:
            _add_codeword(sl, sl.approx[row], sl.approx_term[row])
    outputs = []
    for row in range(rows):
        parts = [sl.approx_term[row] for sl in slices if sl.approx_term[row] is not None]
        outputs.append(builder.tree(parts))
    return builder.finish(outputs, frac_bits)


def _new_slice(columns: np.ndarray, rows: int) -> _Slice:
    width = len(columns)
    sl = _Slice(columns, [], [], set(), np.zeros((rows, width), dtype=np.int64), [None] * rows)
    for i, col in enumerate(columns):
        unit = np.zeros(width, dtype=np.int64)
        unit[i] = 1
        _add_codeword(sl, unit, Term(int(col), 0, 1))
    return sl


def _add_codeword(sl: _Slice, vector: np.ndarray, term: Term | None) -> None:
    if term is None or not vector.any():
        return
    # c, -c and c << k span the same scaled codewords: keep one of them.
    odd = vector >> int(_trailing_zeros(vector))
    lead = odd[np.flatnonzero(odd)[0]]
    key = (odd if lead > 0 else -odd).tobytes()
    if key in sl.seen:
        return
    sl.seen.add(key)
    sl.forms.append(vector.copy())
    sl.terms.append(term)


def _trailing_zeros(vector: np.ndarray) -> int:
    common = 0
    for value in vector:
        common |= int(value)
    return (common & -common).bit_length() - 1


def _propose(index: int, sl: _Slice, target: np.ndarray, terms: int):
    """Best update of every row of the slice by matching pursuit over the current codebook."""
    codebook = np.array(sl.forms, dtype=np.int64)  # [M, width]
    norms = np.sum(codebook.astype(np.float64) ** 2, axis=1)
    residual = target - sl.approx  # [rows, width]
    vectors = sl.approx.copy()
    chosen: list[list[Term]] = [[] for _ in range(target.shape[0])]
    gains = np.zeros(target.shape[0])
    picks = terms - 1 if sl.approx_term[0] is not None or sl.approx.any() else terms
    for step in range(terms):
        active = np.array([(len(chosen[r]) < (terms - 1 if sl.approx_term[r] is not None
                                              else terms)) for r in range(target.shape[0])])
        if not active.any():
            break
        dots = residual @ codebook.T.astype(np.float64)  # [rows, M]
        gain, power = _best_po2_gain(dots, norms)
        best = np.argmax(gain, axis=1)
        rows_ = np.arange(target.shape[0])
        best_gain = gain[rows_, best]
        for r in np.flatnonzero(active & (best_gain > 1e-9)):
            m = int(best[r])
            k = int(power[r, m])
            sign = 1 if dots[r, m] > 0 else -1
            base = sl.terms[m]
            chosen[r].append(Term(base.node, base.shift + k, base.sign * sign))
            step_vector = codebook[m] * (sign << k)
            vectors[r] += step_vector
            residual[r] -= step_vector
            gains[r] += best_gain[r]
    del picks
    out = []
    for r in range(target.shape[0]):
        if chosen[r]:
            out.append((float(gains[r]), index, r, chosen[r], vectors[r]))
    return out


def _best_po2_gain(dots: np.ndarray, norms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For coefficient ±2**k (k >= 0) on each codeword: the best error reduction and its k.

    Subtracting ``a * c`` from a residual ``e`` reduces ``|e|**2`` by ``2*a*<e,c> - a**2*|c|**2``;
    the optimum over powers of two is one of the two around ``|<e,c>| / |c|**2``.
    """
    magnitude = np.abs(dots)
    ratio = magnitude / norms
    with np.errstate(divide="ignore"):
        low = np.floor(np.log2(np.maximum(ratio, 1e-300)))
    low = np.maximum(low, 0)
    high = low + 1
    gain_low = 2 * np.exp2(low) * magnitude - np.exp2(2 * low) * norms
    gain_high = 2 * np.exp2(high) * magnitude - np.exp2(2 * high) * norms
    use_high = gain_high > gain_low
    return np.where(use_high, gain_high, gain_low), np.where(use_high, high, low).astype(np.int64)


def _sum_terms(builder: GraphBuilder, parts: list[Term]) -> Term:
    tap = builder.tree(parts)
    assert tap.node is not None
    return Term(tap.node, tap.shift, -1 if tap.negate else 1)
