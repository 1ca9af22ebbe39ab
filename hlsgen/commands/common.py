"""Argument helpers shared by several commands: reading data files and importing a model."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import numpy as np

from hlsgen.errors import DataError, InputError
from hlsgen.names import terminal

__all__ = ["load_npz", "load_data", "check_regular_file", "check_labels", "check_input_range"]


# Largest array read from a data file (after decompression); checked from the .npy header
# before any memory is allocated, so a small archive cannot expand into gigabytes.
MAX_ARRAY_BYTES = 2 << 30


def check_regular_file(path: Path, what: str, error=DataError) -> Path:
    """``path`` if it is an existing regular file (not a directory, FIFO or device)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise error(f"{what} '{terminal(path)}' does not exist") from None
    except OSError as err:
        raise error(f"{what} '{terminal(path)}' cannot be read: {err.strerror}") from None
    if stat.S_ISDIR(mode):
        raise error(f"{what} '{terminal(path)}' is a directory; give a file")
    if not stat.S_ISREG(mode):
        raise error(f"{what} '{terminal(path)}' is not a regular file (a FIFO, socket or "
                    "device); copy the data to a file first")
    return path


def load_npz(path: Path, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Arrays of an .npz file (only those of ``names`` it holds, when given: other members
    are not even decompressed), with one clear error for every way the file can be wrong."""
    return _read_npz(path, names)[0]


def _read_npz(path: Path, names: tuple[str, ...] | None) -> tuple[dict[str, np.ndarray],
                                                                  list[str]]:
    """(the arrays wanted, the names of every member)."""
    path = check_regular_file(path, "data file")
    shown = terminal(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise DataError(f"data file '{shown}' is not a readable .npz archive "
                        f"({terminal(err)}); write it with numpy.savez") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"data file '{shown}' is a single .npy array, not an .npz archive; "
                        "write it with numpy.savez(path, x=samples, y=labels)")
    with archive as npz:
        wanted = npz.files if names is None else [n for n in names if n in npz.files]
        arrays = {}
        for key in wanted:
            _check_member_size(npz, key, shown)
            try:
                arrays[key] = npz[key]
            except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as err:
                raise DataError(f"data file '{shown}': array '{terminal(key)}' is not readable "
                                f"({terminal(err)}); write the file with numpy.savez "
                                "(numeric arrays, no objects)") from None
        return arrays, sorted(npz.files)


def _check_member_size(npz, key: str, shown: str) -> None:
    """Refuse an array whose header promises more than :data:`MAX_ARRAY_BYTES`."""
    try:
        with npz.zip.open(f"{key}.npy") as member:
            version = np.lib.format.read_magic(member)
            reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                      else np.lib.format.read_array_header_2_0)
            shape, _, dtype = reader(member)
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile):
        return  # np.load reports it when reading the array
    size = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if size > MAX_ARRAY_BYTES:
        raise DataError(f"data file '{shown}': array '{terminal(key)}' of shape {shape} and "
                        f"dtype {dtype} needs {size / 2**30:.1f} GiB, more than the "
                        f"{MAX_ARRAY_BYTES >> 30} GiB hlsgen reads; use fewer samples")


def load_data(path: Path, limit: int | None = None, *, need_labels: bool = False
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """``x`` (one row per sample, in the model's own layout) and optional labels ``y``
    (int64).  Refuses a scalar or non-numeric ``x`` and NaN or infinite samples."""
    if limit is not None and limit < 1:
        raise DataError(f"--limit must be >= 1, got {limit}")
    arrays, members = _read_npz(path, ("x", "y"))
    shown = terminal(path)
    if "x" not in arrays:
        members = [terminal(f, 40) for f in members][:10]
        raise DataError(f"data file '{shown}' has no array 'x' (it has: "
                        f"{', '.join(members) or 'nothing'}); store the samples as x")
    x = arrays["x"]
    y = arrays.get("y")
    if x.ndim == 0:
        raise DataError(f"data file '{shown}': x is a single number; store one sample per "
                        "row (shape [N, ...] in the model's input layout)")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise DataError(f"data file '{shown}': x has dtype {x.dtype}; store float samples (or "
                        "the quantized integers of an int8 model)")
    if need_labels and y is None:
        raise DataError(f"data file '{shown}' has no labels 'y'")
    if y is not None:
        y = _labels(y, len(x), shown)
    if limit is not None:
        x = x[:limit]
        y = None if y is None else y[:limit]
    if len(x) == 0:
        raise DataError(f"data file '{shown}' holds no samples")
    if np.issubdtype(x.dtype, np.floating):
        finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise DataError(f"data file '{shown}': {len(bad)} of {len(x)} samples hold NaN or "
                            f"infinite values (the first is sample {int(bad[0])}); remove or "
                            "repair them")
    return x, y


def _labels(y: np.ndarray, count: int, shown: str) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    if len(y) != count:
        raise DataError(f"data file '{shown}': {count} samples in x but {len(y)} labels in y")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"data file '{shown}': labels y must be integers, got {y.dtype}")
    if y.dtype == np.uint64 and len(y) and int(y.max()) > np.iinfo(np.int64).max:
        raise DataError(f"data file '{shown}': label {int(y.max())} (uint64) is not a class "
                        "index")
    return y.astype(np.int64)


def check_labels(y: np.ndarray | None, classes: int, path: Path) -> None:
    """Labels must be class indices of the model's output: 0 <= y < classes."""
    if y is None or not len(y):
        return
    bad = np.flatnonzero((y < 0) | (y >= classes))
    if len(bad):
        raise DataError(f"data file '{terminal(path)}': {len(bad)} label(s) are outside the "
                        f"model's {classes} classes 0..{classes - 1} (e.g. y[{int(bad[0])}] = "
                        f"{int(y[bad[0]])}); labels must be class indices")


def check_input_range(value_range) -> tuple[float, float] | None:
    """``--input-range LO HI`` as a tuple: two finite numbers, LO < HI (or None)."""
    if value_range is None:
        return None
    lo, hi = (float(v) for v in value_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi and max(abs(lo), abs(hi)) < 1e30):
        raise InputError(f"--input-range {lo:g} {hi:g}: the input range must be two finite "
                         "numbers LO < HI (the model input's min and max, e.g. 0 255 for "
                         "pixels)")
    return lo, hi
