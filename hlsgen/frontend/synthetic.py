"""Data-free activation ranges: synthetic inputs over the input range, run through the float
model.

Without calibration data the only knowledge is the range [lo, hi] of the input values.  Two
kinds of synthetic input are drawn (deterministically, from a fixed seed):

* random fields: random values on a coarse grid of random size (1x1, a constant, up to full
  resolution, white noise) bilinearly interpolated over the IR input's (H, W); half of them
  are then thresholded to two levels (sharp full-contrast edges, like strokes and silhouettes);
  each sample uses either the full range or a random sub-range;
* class-seeking inputs: for each output (class), a black-box hill climb on a 7x7 grid that
  maximizes that output's margin over the others.  Random inputs rarely make a network
  confident, so alone they underestimate the ranges of deep layers and of the logits (on
  mnist8 the logits by 2-3x); these inputs stand in for the "real" data a network responds to.

Each activation's range is the 0.01 / 99.99 percentile of its values over all samples (the
extreme tail of random inputs is much wider than that of real data); the logits use the full
min/max, because a clipped logit loses the top-1 decision.  docs/quantization.md has the
measurements behind each choice.
"""

from __future__ import annotations

import numpy as np
import onnx

from hlsgen.errors import QuantizationError
from hlsgen.frontend.lowered import LoweredGraph
from hlsgen.frontend.probe import SourceRunner, source_activations

__all__ = [
    "random_fields",
    "class_seeking_inputs",
    "data_free_ranges",
    "DATA_FREE_SAMPLES",
    "DATA_FREE_PERCENTILE",
    "resize_grid",
]

DATA_FREE_SAMPLES = 256  # random fields
DATA_FREE_PERCENTILE = 99.99
SEEK_GRID = 7  # coarse grid of the class-seeking search
SEEK_STEPS = 300  # hill-climb steps per class
SEEK_MAX_CLASSES = 16  # bounds the search time on models with many outputs
DATA_FREE_SEED = 0  # fixed: the same model gives the same design


def data_free_ranges(model: onnx.ModelProto, lowered: LoweredGraph, names: list[str],
                     value_range: tuple[float, float],
                     percentile: float = DATA_FREE_PERCENTILE) -> dict[str, tuple[float, float]]:
    """(lo, hi) of each tensor in ``names`` over the synthetic inputs; the model input gets
    ``value_range`` itself."""
    lo, hi = _check_range(value_range)
    rng = np.random.default_rng(DATA_FREE_SEED)
    samples = np.concatenate([random_fields(lowered, (lo, hi), DATA_FREE_SAMPLES, rng),
                              class_seeking_inputs(model, lowered, (lo, hi), rng)])
    onnx_names = [n for n in names if n != lowered.input]
    values = {n: [] for n in onnx_names}
    for sample in source_activations(model, onnx_names, samples):
        for n in onnx_names:
            values[n].append(np.asarray(sample[n], dtype=np.float32).reshape(-1))
    ranges = {}
    for n in onnx_names:
        v = np.concatenate(values[n])
        p = 100.0 if n == lowered.output else percentile
        ranges[n] = (float(np.percentile(v, 100 - p)), float(np.percentile(v, p)))
    if lowered.input in names:
        ranges[lowered.input] = (lo, hi)
    return ranges


def random_fields(lowered: LoweredGraph, value_range: tuple[float, float], count: int,
                  rng: np.random.Generator) -> np.ndarray:
    """``count`` random smooth / two-level fields, flat rows in the source input layout."""
    lo, hi = value_range
    h, w, c = lowered.tensors[lowered.input].shape
    fields = []
    for _ in range(count):
        a, b = (lo, hi) if rng.random() < 0.5 else tuple(np.sort(rng.uniform(lo, hi, 2)))
        grid = (int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1)))
        field = resize_grid(rng.uniform(a, b, size=grid + (c,)), h, w)
        if rng.random() < 0.5:
            field = np.where(field > rng.uniform(a, b), b, a)
        fields.append(field)
    return _to_source(lowered, fields)


def class_seeking_inputs(model: onnx.ModelProto, lowered: LoweredGraph,
                         value_range: tuple[float, float],
                         rng: np.random.Generator) -> np.ndarray:
    """One input per output (up to :data:`SEEK_MAX_CLASSES`) found by a hill climb that
    maximizes ``y[o] - max(y[others])`` of the float model's output ``y``."""
    lo, hi = value_range
    h, w, c = lowered.tensors[lowered.input].shape
    grid = (min(SEEK_GRID, h), min(SEEK_GRID, w), c)
    runner = SourceRunner(model, [lowered.output])

    def margin(coarse: np.ndarray, o: int) -> float:
        y = runner.run(_to_source(lowered, [resize_grid(coarse, h, w)])[0])
        y = np.asarray(y[lowered.output], dtype=np.float64).reshape(-1)
        return float(y[o] - np.delete(y, o).max()) if y.size > 1 else float(y[o])

    n_out = int(np.prod(lowered.tensors[lowered.output].shape))
    targets = np.unique(np.linspace(0, n_out - 1, min(n_out, SEEK_MAX_CLASSES)).astype(int))
    found = []
    for o in targets:
        coarse = rng.uniform(lo, hi, size=grid)
        best = margin(coarse, o)
        for _ in range(SEEK_STEPS):
            trial = coarse.copy()
            cell = tuple(int(rng.integers(0, n)) for n in grid)
            trial[cell] = (lo, hi, rng.uniform(lo, hi))[int(rng.integers(0, 3))]
            score = margin(trial, o)
            if score > best:
                best, coarse = score, trial
        found.append(resize_grid(coarse, h, w))
    return _to_source(lowered, found)


def _check_range(value_range) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise QuantizationError(f"data-free input range {value_range!r} is not two numbers "
                                "(lo, hi)") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise QuantizationError(f"data-free input range [{lo}, {hi}] is empty or not finite; "
                                "give the model input's (min, max), e.g. 0 255 for pixels")
    return lo, hi


def _to_source(lowered: LoweredGraph, fields: list[np.ndarray]) -> np.ndarray:
    """IR-layout (H, W, C) fields -> flat rows in the source model's input layout."""
    perm = np.asarray(lowered.input_permutation)
    rows = np.empty((len(fields), perm.size), dtype=np.float64)
    for i, field in enumerate(fields):
        rows[i, perm] = field.reshape(-1)
    return rows


def resize_grid(coarse: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear interpolation of a [gh, gw, C] grid to [h, w, C] (corners aligned)."""
    out = coarse
    for axis, size in ((0, h), (1, w)):
        n = out.shape[axis]
        if n == size:
            continue
        pos = np.linspace(0, n - 1, size)
        left = np.floor(pos).astype(int)
        right = np.minimum(left + 1, n - 1)
        frac = (pos - left).reshape([-1 if a == axis else 1 for a in range(3)])
        out = np.take(out, left, axis=axis) * (1 - frac) + np.take(out, right, axis=axis) * frac
    return out
