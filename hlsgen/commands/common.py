"""Argument helpers shared by several commands: reading data files and importing a model."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from hlsgen.errors import DataError

__all__ = ["load_npz", "load_data"]


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz file, with one clear error for every way it can be wrong."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file '{path}' does not exist")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise DataError(f"data file '{path}' is not a readable .npz archive ({err}); "
                        "write it with numpy.savez") from None


def load_data(path: Path, limit: int | None = None, *, need_labels: bool = False
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """``x`` (one row per sample, in the model's own layout) and optional labels ``y``."""
    arrays = load_npz(path)
    if "x" not in arrays:
        raise DataError(f"data file '{path}' has no array 'x' (it has: "
                        f"{', '.join(sorted(arrays)) or 'nothing'}); store the samples as x")
    x = arrays["x"]
    y = arrays.get("y")
    if need_labels and y is None:
        raise DataError(f"data file '{path}' has no labels 'y'")
    if y is not None:
        y = np.asarray(y).reshape(-1)
        if len(y) != len(x):
            raise DataError(f"data file '{path}': {len(x)} samples in x but {len(y)} labels in y")
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"data file '{path}': labels y must be integers, got {y.dtype}")
    if limit is not None:
        if limit < 1:
            raise DataError(f"--limit must be >= 1, got {limit}")
        x = x[:limit]
        y = None if y is None else y[:limit]
    if len(x) == 0:
        raise DataError(f"data file '{path}' holds no samples")
    return x, y
