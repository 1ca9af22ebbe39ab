"""On-disk cache of decomposed matrices: the same matrix and method give the same graph.

Decompositions are deterministic functions of (integer or real matrix, method), and the exact
sharing search is the slow part of ``generate``, ``decompose`` and the ``explore`` ladders.
Users run those commands again and again on one model (another clock, another budget, the
chosen design after a search), so each group's graph is kept under
``$HLSGEN_CACHE/decompose`` (default ``~/.cache/hlsgen``, shared with the Verilator object
cache).  The key hashes the matrix (shape, dtype, bytes), the canonical method spec and the
source of the ``hlsgen.decompose`` package itself, so any change to the algorithms starts a
fresh cache.  ``HLSGEN_DECOMPOSE_CACHE=0`` turns it off.  Entries are written atomically and
an unreadable entry is recomputed, so a cache problem can cost time but never a result.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import lru_cache
from pathlib import Path

import numpy as np

from hlsgen.decompose.graph import ShiftAddGraph

__all__ = ["cache_key", "load", "store", "enabled"]


def enabled() -> bool:
    return os.environ.get("HLSGEN_DECOMPOSE_CACHE", "1") not in ("0", "off", "no", "")


def _directory() -> Path:
    root = Path(os.environ.get("HLSGEN_CACHE", Path.home() / ".cache" / "hlsgen"))
    return root / "decompose"


@lru_cache(maxsize=1)
def _algorithm_digest() -> str:
    """Hash of this package's sources: an algorithm change invalidates every entry."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(matrix: np.ndarray, method: str) -> str:
    matrix = np.ascontiguousarray(matrix)
    digest = hashlib.sha256()
    digest.update(_algorithm_digest().encode())
    digest.update(repr((method, matrix.shape, matrix.dtype.str)).encode())
    digest.update(matrix.tobytes())
    return digest.hexdigest()


def load(key: str) -> ShiftAddGraph | None:
    if not enabled():
        return None
    path = _directory() / key[:2] / key
    try:
        with path.open("rb") as fh:
            graph = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return None
    return graph if isinstance(graph, ShiftAddGraph) else None


def store(key: str, graph: ShiftAddGraph) -> None:
    if not enabled():
        return
    path = _directory() / key[:2] / key
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{key}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(graph, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only or full disk only costs the next run its time
