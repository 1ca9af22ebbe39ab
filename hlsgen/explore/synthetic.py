"""Synthetic inputs for the data-free search (``hlsgen explore`` without ``--data``).

The same two kinds of input the data-free calibration uses (:mod:`hlsgen.frontend.synthetic`),
drawn directly in the IR's integer input domain:

* random fields: smooth random fields of random coarseness (from a constant to white noise),
  half of them thresholded to two levels, over the full range or a random sub-range;
* class-seeking inputs: per output class, a hill climb on a coarse grid that maximizes that
  class's margin in the exact integer network (inputs the network is sure about, as it is
  about most real samples), each then perturbed into several variants.

The search measures a design by the RMS error of its output logits against the exact
network's on these inputs, relative to the exact network's median decision margin on them
(:func:`hlsgen.explore.evaluation.predicted_drop`).  Everything is drawn from
``seed``: the same model and seed give the same inputs.  The margin is a property of the
exact network, so it is measured on the inputs of the fixed :data:`MARGIN_SEEDS` together
(about 1,900 inputs), whatever the search's seed: on the ~470 inputs of one seed the median
gap moved by a whole integer step between seeds (resnet8_int8: 8-10), and the bound with it.
"""

from __future__ import annotations

import numpy as np

from hlsgen import ir
from hlsgen.frontend.synthetic import resize_grid

__all__ = ["synthetic_inputs", "FIELDS", "SEEK_STEPS", "SEEK_MAX_CLASSES", "MARGIN_SEEDS"]

FIELDS = 384  # random fields
SEEK_GRID = 7
SEEK_STEPS = 200  # hill-climb steps (all classes climb together, one batch per step)
SEEK_MAX_CLASSES = 16
VARIANTS = 8  # perturbed copies of each class-seeking input
MARGIN_SEEDS = (0, 1, 2, 3)  # the inputs the decision margin is measured on, for every seed


def synthetic_inputs(graph: ir.Graph, seed: int) -> np.ndarray:
    """int64 [N, H*W*C] in the IR input's integer range: random fields, then class-seeking
    inputs and their perturbed variants."""
    rng = np.random.default_rng(seed)
    tensor = graph.tensor(graph.input)
    lo, hi = tensor.dtype.qmin, tensor.dtype.qmax
    fields = [_field(tensor.shape, lo, hi, rng) for _ in range(FIELDS)]
    seekers = _class_seeking(graph, lo, hi, rng)
    variants = [np.clip(s + rng.normal(0, rng.uniform(1, 12), s.shape), lo, hi)
                for s in seekers for _ in range(VARIANTS)]
    rows = np.rint(np.stack([f.reshape(-1) for f in fields + seekers + variants]))
    _, first = np.unique(rows, axis=0, return_index=True)  # constant fields repeat
    return rows[np.sort(first)].astype(np.int64)


def _field(shape, lo: int, hi: int, rng: np.random.Generator) -> np.ndarray:
    h, w, c = shape
    a, b = (lo, hi) if rng.random() < 0.5 else tuple(np.sort(rng.uniform(lo, hi, 2)))
    grid = (int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1)), c)
    field = resize_grid(rng.uniform(a, b, size=grid), h, w)
    if rng.random() < 0.5:
        field = np.where(field > rng.uniform(a, b), b, a)
    return field


def _class_seeking(graph: ir.Graph, lo: int, hi: int, rng: np.random.Generator
                   ) -> list[np.ndarray]:
    from hlsgen.reference import execute

    h, w, c = graph.tensor(graph.input).shape
    n_out = graph.tensor(graph.output).size
    if n_out < 2:
        return []
    targets = np.unique(np.linspace(0, n_out - 1, min(n_out, SEEK_MAX_CLASSES)).astype(int))
    grid = (min(SEEK_GRID, h), min(SEEK_GRID, w), c)

    def margins(coarse: list[np.ndarray]) -> np.ndarray:
        x = np.rint(np.stack([resize_grid(g, h, w).reshape(-1) for g in coarse]))
        y = execute(graph, x.astype(np.int64)).reshape(len(coarse), -1).astype(np.float64)
        own = y[np.arange(len(coarse)), targets]
        y[np.arange(len(coarse)), targets] = -np.inf
        return own - y.max(axis=1)

    coarse = [rng.uniform(lo, hi, size=grid) for _ in targets]
    best = margins(coarse)
    for _ in range(SEEK_STEPS):
        trials = []
        for g in coarse:
            trial = g.copy()
            cell = tuple(int(rng.integers(0, n)) for n in grid)
            trial[cell] = (lo, hi, rng.uniform(lo, hi))[int(rng.integers(0, 3))]
            trials.append(trial)
        score = margins(trials)
        for k in np.flatnonzero(score > best):
            best[k], coarse[k] = score[k], trials[k]
    return [resize_grid(g, h, w) for g in coarse]
