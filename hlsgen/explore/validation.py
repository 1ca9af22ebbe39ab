"""Accuracy the search did not choose from: a seeded, class-stratified split of labelled data
into a search part (the accuracy bound is enforced on it) and a validation part (only
measured, after the search), and the validation top-1 of the designs the search reports.

A design picked as the best of hundreds on the same labels it is then scored on looks better
than it is; the validation figure is the one to trust.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hlsgen import ir
from hlsgen.errors import DataError

__all__ = ["Split", "stratified_split", "Validation", "validation_data", "validate"]

DEFAULT_FRACTION = 0.5


@dataclass(frozen=True)
class Split:
    """Indices into the labelled samples: disjoint, sorted, together all of them."""

    search: np.ndarray
    validation: np.ndarray


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> Split:
    """``fraction`` of every class (rounded, at least one sample of a class with two or more)
    to validation, the rest to the search; the same labels and seed give the same split."""
    labels = np.asarray(labels).reshape(-1)
    if not 0 < fraction < 1:
        raise DataError(f"--validation-fraction must lie strictly between 0 and 1, got "
                        f"{fraction}")
    rng = np.random.default_rng(seed)
    validation = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        rng.shuffle(members)
        count = int(round(len(members) * fraction))
        if len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        else:
            count = 0  # a lone sample stays with the search
        validation.extend(members[:count].tolist())
    chosen = np.zeros(len(labels), dtype=bool)
    chosen[validation] = True
    split = Split(np.flatnonzero(~chosen), np.flatnonzero(chosen))
    if len(split.search) == 0 or len(split.validation) == 0:
        raise DataError(f"{len(labels)} labelled samples cannot be split into a search and a "
                        "validation part; give more samples or --validation DATA.npz")
    return split


@dataclass(frozen=True, eq=False)
class Validation:
    """Held-out labelled samples (IR input order) and the exact network's top-1 on them."""

    x_ir: np.ndarray
    labels: np.ndarray
    baseline: float  # top-1 % of the exact integer network
    source: str  # "split" or "file"


def validation_data(graph: ir.Graph, x_ir: np.ndarray, labels: np.ndarray,
                    source: str) -> Validation:
    from hlsgen.reference import execute

    pred = _top1(execute(graph, x_ir), len(x_ir))
    return Validation(x_ir, labels, _percent(pred == labels), source)


def validate(problem, genomes, validation: Validation) -> dict[tuple[int, ...], float]:
    """Validation top-1 (%) of each genome's design (the numpy integer reference)."""
    from hlsgen.reference import execute

    out = {}
    for genome in dict.fromkeys(tuple(int(g) for g in genome) for genome in genomes):
        design, _ = problem.design(genome)
        pred = _top1(execute(design.graph, validation.x_ir), len(validation.x_ir))
        out[genome] = _percent(pred == validation.labels)
    return out


def _top1(out: np.ndarray, n: int) -> np.ndarray:
    return np.argmax(np.asarray(out).reshape(n, -1), axis=1)


def _percent(hits: np.ndarray) -> float:
    return 100.0 * float(np.mean(hits))
