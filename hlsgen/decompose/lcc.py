"""Linear computation coding (LCC): approximate a real matrix by power-of-two terms that reuse
already-computed sums, to a target SQNR.

Two codings share the matching-pursuit core (Müller et al., "Linear computation coding"):

``slice=0`` (default) -- *digit coding*: matching pursuit over the codebook of the inputs,
  globally greedy: the signed power of two that removes the most squared error anywhere in
  the matrix is added next, until the whole matrix reaches the target SQNR.  Big weights get
  many terms and small ones few, unlike ``terms:K``.  Each row's errors are then balanced to
  cancel where that pays (:func:`balance_rows`: inputs after a ReLU have a large mean).  The
  chosen terms are computed by common-subexpression elimination
  (:mod:`hlsgen.decompose.cse`), which builds the sums that several rows share once and
  reuses them: the codebook of already-computed sums.

``slice=W`` (W >= 1) -- *factor coding*, LCC as published: the columns are cut into slices of
  ``W``; within a slice each row is built up in steps, a step adding ``terms - 1`` codewords
  times signed powers of two, where the codebook holds the slice's inputs and every partial
  sum already computed for any row of the slice.  A step is a sparse factor whose row holds
  at most ``terms`` powers of two, so each row is a product of such factors; each row then
  sums its slices.  The step with the largest error reduction is taken next (lazily
  re-ranked: codebooks only grow, so steps only get better), up to ``factors`` steps per
  (row, slice).

On CNN weight matrices at 15-40 dB digit coding needs clearly fewer adders than factor
coding (row-sharing of digit pairs is worth more than codeword reuse inside a row; see
docs/decompose.md), hence the default.  Both are deterministic and exact about what they
compute: the approximation lives in integers in units of ``2**-frac_bits`` and the graph's
effective matrix is exactly that approximation.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, replace

import numpy as np

from hlsgen.decompose.builder import GraphBuilder, Term
from hlsgen.decompose.exact import decompose_exact
from hlsgen.decompose.graph import ShiftAddGraph

__all__ = ["LccParams", "decompose_lcc", "choose_frac_bits", "digit_coding", "balance_rows"]

_BALANCE_TERMS = 4  # balancing terms per row at most


@dataclass(frozen=True)
class LccParams:
    """``sqnr``: target SQNR in dB of the whole matrix; ``slice``: 0 for digit coding, else
    columns per slice of factor coding; ``terms``: signed powers of two per factor row (>= 2)
    and ``factors``: steps per (row, slice), both for factor coding only; ``fold``: approximate
    weight * requant scale instead of the integer weight (a layer-level choice)."""

    slice: int = 0
    terms: int = 2
    factors: int = 16
    sqnr: float = 30.0
    fold: bool = False
    dc: float = 1.0


def choose_frac_bits(target: np.ndarray, sqnr_db: float, minimum: int = 0) -> int:
    """Fractional bits so that the integer grid is well below the noise the SQNR allows.

    The largest entry of ``target * 2**frac_bits`` gets about ``sqnr/6 + 4`` bits: rounding to
    that grid alone is then > 20 dB below the requested SQNR.
    """
    peak = float(np.max(np.abs(target))) if target.size else 0.0
    if peak == 0.0:
        return minimum
    wanted = math.ceil(sqnr_db / 6.02) + 4
    return max(minimum, wanted - math.floor(math.log2(peak)))


class _Slice:
    """Codebook and per-row state of one column slice (private working data)."""

    def __init__(self, columns: np.ndarray, target: np.ndarray):
        width = len(columns)
        self.columns = columns
        self.target = target  # [rows, width] scaled target
        self.approx = np.zeros(target.shape, dtype=np.int64)
        self.term: list[Term | None] = [None] * target.shape[0]
        self.steps = [0] * target.shape[0]
        self.vectors = np.zeros((0, width), dtype=np.int64)
        self.terms: list[Term] = []
        self.seen: set[bytes] = set()
        self._norms: np.ndarray | None = None  # squared codeword norms, rebuilt on growth
        for i, col in enumerate(columns):
            unit = np.zeros(width, dtype=np.int64)
            unit[i] = 1
            self.add_codeword(unit, Term(int(col), 0, 1))

    def add_codeword(self, vector: np.ndarray, term: Term) -> None:
        if not vector.any():
            return
        # c, -c and c << k give the same scaled codewords: keep one of them
        common = int(np.bitwise_or.reduce(np.abs(vector)))
        odd = vector >> ((common & -common).bit_length() - 1)
        key = (odd if odd[np.flatnonzero(odd)[0]] > 0 else -odd).tobytes()
        if key in self.seen:
            return
        self.seen.add(key)
        self.vectors = np.vstack([self.vectors, vector])
        self.terms.append(term)
        self._norms = None

    def norms(self) -> np.ndarray:
        if self._norms is None:
            self._norms = np.sum(self.vectors.astype(np.float64) ** 2, axis=1)
        return self._norms

    def best_step(self, row: int, count: int):
        """Matching pursuit: ``count`` codewords for the row; (gain, [(index, k, sign)], new
        approximation)."""
        residual = self.target[row] - self.approx[row]
        approx = self.approx[row].copy()
        picks = []
        gain = 0.0
        vectors = self.vectors.astype(np.float64)
        norms = self.norms()
        for _ in range(count):
            dots = vectors @ residual
            step_gain, power = _best_po2_gain(dots, norms)
            index = int(np.argmax(step_gain))
            if step_gain[index] <= 1e-12:
                break
            sign = 1 if dots[index] > 0 else -1
            k = int(power[index])
            picks.append((index, k, sign))
            delta = self.vectors[index] * (sign << k)
            approx += delta
            residual = residual - delta
            gain += float(step_gain[index])
        return gain, picks, approx


def _best_po2_gain(dots: np.ndarray, norms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a coefficient ±2**k (k >= 0) on each codeword: the best error reduction, and k.

    Subtracting ``a * c`` from a residual ``e`` reduces ``|e|**2`` by ``2a<e,c> - a**2 |c|**2``,
    best at ``a = <e,c> / |c|**2``; the best power of two is one of the two around it.
    """
    magnitude = np.abs(dots)
    ratio = magnitude / norms
    with np.errstate(divide="ignore"):
        low = np.floor(np.log2(np.maximum(ratio, 1e-300)))
    low = np.maximum(low, 0.0)
    high = low + 1.0
    gain_low = 2.0 * np.exp2(low) * magnitude - np.exp2(2.0 * low) * norms
    gain_high = 2.0 * np.exp2(high) * magnitude - np.exp2(2.0 * high) * norms
    use_high = gain_high > gain_low
    return np.where(use_high, gain_high, gain_low), np.where(use_high, high, low).astype(int)


def decompose_lcc(target: np.ndarray, params: LccParams, frac_bits: int | None = None
                  ) -> ShiftAddGraph:
    """Approximate ``target * 2**frac_bits`` [rows, cols] with a shift-add graph."""
    target = np.asarray(target, dtype=np.float64)
    if frac_bits is None:
        frac_bits = choose_frac_bits(target, params.sqnr, 1 if params.fold else 0)
    scaled = target * 2.0**frac_bits
    if params.slice == 0:
        approx, worth = _digit_coding(scaled, params.sqnr)
        approx = balance_rows(scaled, approx, params.dc, worth)
        # balancing may trade a little squared error for cancelling sums: top it up again
        approx = _digit_coding(scaled, params.sqnr, start=approx)[0]
        # Drop the power of two all entries share (the finest grid was not needed): the
        # same real matrix with narrower adders.
        common = int(np.bitwise_or.reduce(np.abs(approx).reshape(-1), initial=0))
        spare = (common & -common).bit_length() - 1 if common else frac_bits
        drop = max(0, min(spare, frac_bits - (1 if params.fold else 0)))
        return replace(decompose_exact(approx >> drop), frac_bits=frac_bits - drop)
    return _factor_coding(scaled, params, frac_bits)


def digit_coding(scaled: np.ndarray, sqnr_db: float) -> np.ndarray:
    """Integer matrix approximating ``scaled`` to ``sqnr_db``, built greedily from signed
    powers of two: always the one term (anywhere) that removes the most squared error.

    A term on entry i changes its residual r to r - p, p the power of two nearest to r, and
    removes r**2 - (r - p)**2 (nothing once |r| <= 1/2).  Ties go to the lower index.
    """
    return _digit_coding(scaled, sqnr_db)[0]


def _digit_coding(scaled: np.ndarray, sqnr_db: float, start: np.ndarray | None = None
                  ) -> tuple[np.ndarray, float]:
    """:func:`digit_coding` (continuing from ``start`` if given) and the error removed by its
    last term (its marginal gain)."""
    flat = np.asarray(scaled, dtype=np.float64).reshape(-1)
    approx = np.zeros(flat.shape, dtype=np.int64)
    if start is not None:
        approx[:] = np.asarray(start).reshape(-1)
    budget = float(np.sum(flat**2)) * 10.0 ** (-sqnr_db / 10.0)
    error = float(np.sum((flat - approx) ** 2))
    _, gain = _best_term(flat - approx)
    heap = [(-g, i) for i, g in enumerate(gain.tolist()) if g > 0]
    heapq.heapify(heap)
    last = 0.0
    values = flat.tolist()
    current = approx.tolist()
    while heap and error > budget:
        negative, i = heapq.heappop(heap)
        step, last = _scalar_term(values[i] - current[i])
        current[i] += step
        error -= last
        _, gain = _scalar_term(values[i] - current[i])
        if gain > 0:
            heapq.heappush(heap, (-gain, i))
    approx[:] = current
    return approx.reshape(np.shape(scaled)), last


def _scalar_term(residual: float) -> tuple[int, float]:
    """:func:`_best_term` for one residual, in plain Python (the greedy's inner loop)."""
    magnitude = abs(residual)
    if magnitude <= 0.5:
        return 0, 0.0
    low = 1 << (max(int(magnitude), 1).bit_length() - 1)  # largest power of two <= magnitude
    step = low if magnitude - low <= 2 * low - magnitude else 2 * low
    gain = max(magnitude * magnitude - (magnitude - step) ** 2, 0.0)
    return (step if residual > 0 else -step), gain


def balance_rows(scaled: np.ndarray, approx: np.ndarray, weight: float, worth: float,
                 max_terms: int = _BALANCE_TERMS) -> np.ndarray:
    """Add signed powers of two that make each row's errors cancel, where that pays.

    Activations after a ReLU are all >= 0: with mean m and spread s per input, a row's
    output error has variance about ``s**2 * |e|**2 + m**2 * (sum e)**2``.  The SQNR of the
    weights sees only the first part; ``weight`` = (m/s)**2 adds the second.  A term p on
    entry i changes that objective by ``(1+weight) p**2 - 2p (e_i + weight * sum e)``; the best
    one per row is added while it removes at least ``worth`` (the gain of the last term the
    greedy took, so a balancing term is never a worse buy), at most ``max_terms`` per row.
    Data-free.
    """
    approx = approx.copy()
    if weight <= 0:
        return approx
    for row in range(scaled.shape[0]):
        for _ in range(max_terms):
            error = scaled[row] - approx[row]
            total = float(error.sum())
            ideal = (error + weight * total) / (1.0 + weight)
            step, _ = _best_term(ideal)
            gain = 2.0 * step * (error + weight * total) - (1.0 + weight) * step.astype(float)**2
            best = int(np.argmax(gain))
            if step[best] == 0 or gain[best] < max(worth, 1e-12):
                break
            approx[row, best] += int(step[best])
    return approx


def _best_term(residual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The signed power of two (>= 1 in magnitude) nearest to each residual, and the squared
    error it removes (0 when no power of two helps, i.e. |residual| <= 1/2)."""
    magnitude = np.abs(residual)
    with np.errstate(divide="ignore"):
        low = np.exp2(np.floor(np.log2(np.maximum(magnitude, 1.0))))
    step = np.where(magnitude - low <= 2.0 * low - magnitude, low, 2.0 * low)
    gain = np.maximum(magnitude**2 - (magnitude - step) ** 2, 0.0)
    return np.where(residual < 0, -step, step).astype(np.int64), gain


def _factor_coding(scaled: np.ndarray, params: LccParams, frac_bits: int) -> ShiftAddGraph:
    rows, cols = scaled.shape
    builder = GraphBuilder(cols)
    slices = [_Slice(np.arange(start, min(start + params.slice, cols)),
                     scaled[:, start:start + params.slice])
              for start in range(0, cols, params.slice)]
    signal = float(np.sum(scaled**2))
    budget = signal * 10.0 ** (-params.sqnr / 10.0)
    error = signal
    per_step = params.terms - 1
    heap = []
    for s, sl in enumerate(slices):
        for r in range(rows):
            if sl.target[r].any():
                gain = sl.best_step(r, per_step)[0]
                heap.append((-gain, s, r))
    heapq.heapify(heap)
    while heap and error > budget:
        _, s, r = heapq.heappop(heap)
        sl = slices[s]
        gain, picks, approx = sl.best_step(r, per_step)
        if not picks:
            continue
        if heap and gain < -heap[0][0] - 1e-9:  # codebooks grew: re-rank, try the next one
            heapq.heappush(heap, (-gain, s, r))
            continue
        parts = [] if sl.term[r] is None else [sl.term[r]]
        for index, k, sign in picks:
            base = sl.terms[index]
            parts.append(Term(base.node, base.shift + k, base.sign * sign))
        tap = builder.tree(parts)
        assert tap.node is not None
        sl.term[r] = Term(tap.node, tap.shift, -1 if tap.negate else 1)
        error += float(np.sum((sl.target[r] - approx) ** 2) - np.sum(
            (sl.target[r] - sl.approx[r]) ** 2))
        sl.approx[r] = approx
        sl.steps[r] += 1
        sl.add_codeword(approx, sl.term[r])
        if sl.steps[r] < params.factors:
            heapq.heappush(heap, (-sl.best_step(r, per_step)[0], s, r))
    outputs = [builder.tree([sl.term[r] for sl in slices if sl.term[r] is not None])
               for r in range(rows)]
    return builder.finish(outputs, frac_bits)
