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

An entry is data, never code: an ``.npz`` of integer arrays (read with
``allow_pickle=False``) holding its own key, validated node by node before it becomes a
:class:`ShiftAddGraph`; anything else (corrupt, tampered, a FIFO) counts as a miss.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from hlsgen.decompose.graph import Adder, Operand, OutputTap, ShiftAddGraph

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


# Shifts beyond this are not produced by any method; an entry claiming one is not trusted.
MAX_SHIFT = 256


def _path(key: str) -> Path:
    return _directory() / key[:2] / f"{key}.npz"


def load(key: str) -> ShiftAddGraph | None:
    """The graph stored under ``key``, or None (absent, unreadable or invalid: recompute)."""
    if not enabled():
        return None
    path = _path(key)
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None  # a FIFO or device would block or never end
        with np.load(path, allow_pickle=False) as npz:
            return _graph_from_arrays(key, {name: npz[name] for name in
                                            ("key", "meta", "adders", "outputs")})
    except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile):
        return None


def _graph_from_arrays(key: str, arrays: dict[str, np.ndarray]) -> ShiftAddGraph | None:
    stored_key, meta, adders, outputs = (arrays[k] for k in ("key", "meta", "adders", "outputs"))
    if stored_key.dtype != np.uint8 or bytes(stored_key.tobytes()) != key.encode():
        return None
    if not all(a.dtype == np.int64 for a in (meta, adders, outputs)):
        return None
    if meta.shape != (2,) or adders.ndim != 2 or adders.shape[1] != 6 or (
            outputs.ndim != 2 or outputs.shape[1] != 3):
        return None
    n_inputs, frac_bits = (int(v) for v in meta)
    if n_inputs < 0 or not -MAX_SHIFT <= frac_bits <= MAX_SHIFT:
        return None
    built = []
    for i, (a, sa, na, b, sb, nb) in enumerate(adders.tolist()):
        operands = ((a, sa, na), (b, sb, nb))
        if not all(0 <= node < n_inputs + i and 0 <= shift <= MAX_SHIFT and neg in (0, 1)
                   for node, shift, neg in operands):
            return None
        built.append(Adder(Operand(a, sa, bool(na)), Operand(b, sb, bool(nb))))
    taps = []
    for node, shift, neg in outputs.tolist():
        if not (-1 <= node < n_inputs + len(built) and 0 <= shift <= MAX_SHIFT
                and neg in (0, 1)):
            return None
        taps.append(OutputTap(None if node < 0 else node, shift, bool(neg)))
    return ShiftAddGraph(n_inputs, tuple(built), tuple(taps), frac_bits)


def _graph_arrays(key: str, graph: ShiftAddGraph) -> dict[str, np.ndarray]:
    adders = [(d.a.node, d.a.shift, int(d.a.negate), d.b.node, d.b.shift, int(d.b.negate))
              for d in graph.adders]
    outputs = [(-1 if t.node is None else t.node, t.shift, int(t.negate)) for t in graph.outputs]
    return {"key": np.frombuffer(key.encode(), dtype=np.uint8),
            "meta": np.array([graph.n_inputs, graph.frac_bits], dtype=np.int64),
            "adders": np.array(adders, dtype=np.int64).reshape(-1, 6),
            "outputs": np.array(outputs, dtype=np.int64).reshape(-1, 3)}


def store(key: str, graph: ShiftAddGraph) -> None:
    if not enabled():
        return
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{key}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            np.savez(fh, **_graph_arrays(key, graph))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only or full disk only costs the next run its time
