"""Data-free activation ranges: synthetic inputs over the input range, run through the float
model.

Without calibration data the only knowledge is the range [lo, hi] of the input values.  The
inputs drawn here are random *smooth fields* over the IR input's (H, W) grid -- random values
on a coarse grid of random size (1x1, i.e. a constant, up to the full resolution, i.e. white
noise), bilinearly interpolated, each sample with its own random sub-range of [lo, hi] -- so
that they contain flat regions, edges and textures at every scale as real images and
spectrograms do.  Each activation's range is then a high percentile of its values over these
samples (the extreme tail of random inputs is far wider than that of real data).
docs/quantization.md compares this with plain uniform noise on the real models.
"""

from __future__ import annotations

import numpy as np
import onnx

from hlsgen.frontend.lowered import LoweredGraph
from hlsgen.frontend.probe import source_activations

__all__ = ["synthetic_inputs", "data_free_ranges", "DATA_FREE_SAMPLES", "DATA_FREE_PERCENTILE"]

DATA_FREE_SAMPLES = 64
DATA_FREE_PERCENTILE = 99.99
DATA_FREE_SEED = 0  # fixed: the same model gives the same design


def synthetic_inputs(lowered: LoweredGraph, value_range: tuple[float, float],
                     count: int = DATA_FREE_SAMPLES, seed: int = DATA_FREE_SEED) -> np.ndarray:
    """``count`` smooth random inputs in the source model's input layout (flat rows)."""
    lo, hi = float(value_range[0]), float(value_range[1])
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        from hlsgen.errors import QuantizationError

        raise QuantizationError(f"data-free input range [{lo}, {hi}] is empty or not finite; "
                                "give the model input's (min, max), e.g. 0 255 for pixels")
    rng = np.random.default_rng(seed)
    h, w, c = lowered.tensors[lowered.input].shape
    perm = np.asarray(lowered.input_permutation)
    rows = np.empty((count, h * w * c), dtype=np.float64)
    for i in range(count):
        a, b = np.sort(rng.uniform(lo, hi, size=2))
        if rng.random() < 0.5:  # half of the samples use the full range
            a, b = lo, hi
        grid_h = int(rng.integers(1, h + 1)) if h > 1 else 1
        grid_w = int(rng.integers(1, w + 1)) if w > 1 else 1
        coarse = rng.uniform(a, b, size=(grid_h, grid_w, c))
        field = _resize(coarse, h, w)
        if rng.random() < 0.5:  # two-level: sharp full-contrast edges (strokes, silhouettes)
            field = np.where(field > rng.uniform(a, b), b, a)
        rows[i, perm] = field.reshape(-1)  # IR (H, W, C) order -> source layout
    return rows


def data_free_ranges(model: onnx.ModelProto, lowered: LoweredGraph, names: list[str],
                     value_range: tuple[float, float],
                     percentile: float = DATA_FREE_PERCENTILE) -> dict[str, tuple[float, float]]:
    """(lo, hi) of each tensor in ``names`` over synthetic inputs; the input itself gets
    ``value_range``."""
    samples = synthetic_inputs(lowered, value_range)
    onnx_names = [n for n in names if n != lowered.input]
    values = {n: [] for n in onnx_names}
    for sample in source_activations(model, onnx_names, samples):
        for n in onnx_names:
            values[n].append(np.asarray(sample[n], dtype=np.float64).reshape(-1))
    ranges = {}
    for n in onnx_names:
        v = np.concatenate(values[n])
        p = 100.0 if n == lowered.output else percentile
        ranges[n] = (float(np.percentile(v, 100 - p)), float(np.percentile(v, p)))
    if lowered.input in names:
        ranges[lowered.input] = (float(value_range[0]), float(value_range[1]))
    return ranges


def _resize(coarse: np.ndarray, h: int, w: int) -> np.ndarray:
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
