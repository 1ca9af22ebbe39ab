"""Method specs (``"exact"``, ``"po2"``, ``"terms:K"``, ``"lcc[:key=value,...]"``) and dispatch.

Grammar (strict; anything else is an :class:`~hlsgen.errors.InputError`)::

    exact                         CSD digits + common-subexpression sharing, exact
    po2                           every weight -> nearest signed power of two
    terms:K                       every weight -> at most K signed digits (K >= 1)
    lcc                           linear computation coding, default parameters
    lcc:key=value[,key=value...]  keys: sqnr (dB > 0), slice (int >= 0), terms (int >= 2),
                                  factors (int >= 1), fold (0 or 1), dc (number >= 0);
                                  see hlsgen.decompose.lcc.LccParams

:func:`parse_method` returns a frozen :class:`MethodSpec` whose ``str()`` is the canonical
spec (keys in a fixed order, defaults omitted), so equal methods compare equal as strings.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, fields, replace

import numpy as np

from hlsgen.decompose import cache
from hlsgen.decompose.approx import decompose_terms
from hlsgen.decompose.csd import round_matrix_to_terms
from hlsgen.decompose.exact import (Formulation, cheapest, decompose_exact, formulations,
                                    search_work, solve_formulation)
from hlsgen.decompose.graph import ShiftAddGraph
from hlsgen.decompose.lcc import LccParams, decompose_lcc
from hlsgen.errors import InputError
from hlsgen.ir import Conv, Dense

__all__ = [
    "MethodKind",
    "MethodSpec",
    "parse_method",
    "decompose",
    "decompose_layer",
    "layer_matrices",
    "layer_targets",
    "Piece",
    "layer_pieces",
    "solve_piece",
    "assemble_pieces",
]


class MethodKind(enum.Enum):
    EXACT = "exact"
    PO2 = "po2"
    TERMS = "terms"
    LCC = "lcc"


@dataclass(frozen=True)
class MethodSpec:
    kind: MethodKind
    terms: int = 0  # TERMS only: digits kept per weight
    lcc: LccParams | None = None  # LCC only

    @property
    def folds_scale(self) -> bool:
        """True if the method approximates weight * requant scale (the IR requant changes)."""
        return self.lcc is not None and self.lcc.fold

    @property
    def is_exact(self) -> bool:
        return self.kind is MethodKind.EXACT

    def __str__(self) -> str:
        if self.kind is MethodKind.TERMS:
            return f"terms:{self.terms}"
        if self.kind is MethodKind.LCC:
            assert self.lcc is not None
            changed = [
                f"{f.name}={_format_value(getattr(self.lcc, f.name))}"
                for f in fields(LccParams)
                if getattr(self.lcc, f.name) != f.default
            ]
            return "lcc:" + ",".join(changed) if changed else "lcc"
        return self.kind.value


def _format_value(value) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def parse_method(spec: str | MethodSpec) -> MethodSpec:
    """Parse a method spec string strictly (see the module docstring)."""
    if isinstance(spec, MethodSpec):
        return spec
    if not isinstance(spec, str):
        raise InputError(f"method must be a string like 'exact' or 'terms:2', got {spec!r}")
    text = spec.strip()
    name, sep, rest = text.partition(":")
    if name in ("exact", "po2") and not sep:
        return MethodSpec(MethodKind(name))
    if name == "terms" and sep:
        if not rest.isdigit() or int(rest) < 1:
            raise InputError(f"method {spec!r}: K in 'terms:K' must be an integer >= 1")
        return MethodSpec(MethodKind.TERMS, terms=int(rest))
    if name == "lcc":
        return MethodSpec(MethodKind.LCC, lcc=_parse_lcc(spec, rest if sep else ""))
    raise InputError(
        f"unknown method {spec!r}; expected 'exact', 'po2', 'terms:K' or "
        "'lcc[:sqnr=DB,slice=W,terms=S,factors=P,fold=0|1,dc=W]'"
    )


def _parse_lcc(spec: str, rest: str) -> LccParams:
    params = LccParams()
    if not rest:
        return params
    known = {f.name: f for f in fields(LccParams)}
    seen = set()
    for item in rest.split(","):
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or key not in known:
            raise InputError(
                f"method {spec!r}: bad lcc option {item!r}; options are "
                + ", ".join(f"{k}=..." for k in known)
            )
        if key in seen:
            raise InputError(f"method {spec!r}: lcc option {key!r} given twice")
        seen.add(key)
        params = replace(params, **{key: _parse_lcc_value(spec, key, value)})
    return params


def _parse_lcc_value(spec: str, key: str, value: str):
    if key == "dc":
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and number >= 0):
            raise InputError(f"method {spec!r}: dc must be a number >= 0, got {value!r}")
        return number
    if key == "sqnr":
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and number > 0):
            raise InputError(
                f"method {spec!r}: sqnr must be a positive number of dB, got {value!r}")
        return number
    if key == "fold":
        if value not in ("0", "1"):
            raise InputError(f"method {spec!r}: {key} must be 0 or 1, got {value!r}")
        return value == "1"
    least = {"slice": 0, "terms": 2, "factors": 1}[key]  # the int options
    if not value.isdigit() or int(value) < least:
        raise InputError(f"method {spec!r}: {key} must be an integer >= {least}, got {value!r}")
    return int(value)


def decompose(matrix: np.ndarray, method: str | MethodSpec) -> ShiftAddGraph:
    """Shift-add graph of one constant matrix [rows, cols].

    ``exact``/``po2``/``terms:K`` need an integer matrix; ``lcc`` accepts a real one and
    approximates ``matrix * 2**frac_bits`` with the graph's effective matrix.
    """
    spec = parse_method(method)
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {matrix.shape}")
    if spec.kind is MethodKind.LCC:
        assert spec.lcc is not None
        return decompose_lcc(matrix.astype(np.float64), spec.lcc)
    if not np.issubdtype(matrix.dtype, np.integer):
        raise ValueError(f"method {spec} needs an integer matrix, got dtype {matrix.dtype}")
    if spec.kind is MethodKind.EXACT:
        return decompose_exact(matrix)
    if spec.kind is MethodKind.PO2:
        return decompose_terms(matrix, 1)
    return decompose_terms(matrix, spec.terms)


def layer_matrices(layer: Conv | Dense) -> list[np.ndarray]:
    """The integer matrices of a layer: one per Conv group, or the Dense weight."""
    if isinstance(layer, Conv):
        return layer.group_matrices()
    if isinstance(layer, Dense):
        return [layer.weight]
    raise TypeError(f"layer {layer.name!r} ({layer.kind.value}) has no weight matrix")


def layer_targets(layer: Conv | Dense, spec: MethodSpec) -> list[np.ndarray]:
    """The matrices a method approximates for a layer, one per group.

    Normally the integer weights; with a folded scale (``lcc:fold=1``) each row is multiplied
    by its real requantization scale ``multiplier / 2**shift``.
    """
    matrices = layer_matrices(layer)
    if not spec.folds_scale:
        return matrices
    scale = layer.requant.multiplier.astype(np.float64) * np.exp2(
        -layer.requant.shift.astype(np.float64))
    per = matrices[0].shape[0]
    return [m * scale[g * per:(g + 1) * per, None] for g, m in enumerate(matrices)]


def decompose_layer(layer: Conv | Dense, method: str | MethodSpec) -> tuple[ShiftAddGraph, ...]:
    """One graph per Conv group (inputs in (kh, kw, ci) order) or one for a Dense layer
    (through the decomposition cache, :mod:`hlsgen.decompose.cache`)."""
    pieces = layer_pieces(layer, method, split=False)
    return assemble_pieces(pieces, [solve_piece(p) for p in pieces])[layer.name]


# -- independent pieces, for running one layer's work in several processes -----------------
_SPLIT_WORK = 50_000  # term pairs below which an exact search stays one piece (~10 ms)

@dataclass(frozen=True, eq=False)
class Piece:
    """An independently solvable part of a layer's decomposition: one group's target, and for
    ``exact``/``po2``/``terms:K`` one formulation of the sharing search on the (rounded)
    integer matrix (the cheapest graph over a group's pieces is kept, exactly as
    :func:`decompose_exact` does in one process)."""

    layer: str
    group: int
    target: np.ndarray
    spec: MethodSpec
    formulation: Formulation | None = None
    key: str = ""  # the group's decomposition-cache key
    cached: ShiftAddGraph | None = None  # the group's graph, found in the cache

    @property
    def work(self) -> int:
        """Relative cost, to hand out the largest pieces first."""
        if self.cached is not None:
            return 0
        if self.formulation is not None:
            return search_work(self.target, self.formulation[0])
        return int(self.target.size)


def layer_pieces(layer: Conv | Dense, method: str | MethodSpec, split: bool = True
                 ) -> list[Piece]:
    """A layer's decomposition as pieces (``split``: one per exact formulation)."""
    spec = parse_method(method)
    pieces = []
    for group, target in enumerate(layer_targets(layer, spec)):
        key = cache.cache_key(target, str(spec))
        hit = cache.load(key)
        if hit is not None:
            pieces.append(Piece(layer.name, group, target, spec, key=key, cached=hit))
            continue
        if spec.kind is MethodKind.LCC or not split:
            pieces.append(Piece(layer.name, group, target, spec, key=key))
            continue
        # exact, po2 and terms:K all end in the exact search on an integer matrix
        matrix = np.asarray(target, dtype=np.int64)
        if not spec.is_exact:
            matrix = round_matrix_to_terms(matrix, 1 if spec.kind is MethodKind.PO2
                                           else spec.terms)
        if search_work(matrix) < _SPLIT_WORK:  # small: one piece, not worth a round trip each
            pieces.append(Piece(layer.name, group, target, spec, key=key))
            continue
        pieces.extend(Piece(layer.name, group, matrix, spec, f, key=key)
                      for f in formulations(matrix))
    return pieces


def solve_piece(piece: Piece) -> ShiftAddGraph:
    if piece.cached is not None:
        return piece.cached
    if piece.formulation is None:
        return decompose(piece.target, piece.spec)
    return solve_formulation(piece.target, piece.formulation)


def assemble_pieces(pieces: list[Piece], graphs: list[ShiftAddGraph]
                    ) -> dict[str, tuple[ShiftAddGraph, ...]]:
    """{layer: one graph per group} from solved pieces (given in :func:`layer_pieces` order)."""
    per_group: dict[tuple[str, int], list[tuple[Piece, ShiftAddGraph]]] = {}
    for piece, graph in zip(pieces, graphs):
        per_group.setdefault((piece.layer, piece.group), []).append((piece, graph))
    result: dict[str, list[ShiftAddGraph]] = {}
    for (layer, _group), found in per_group.items():
        best = cheapest([graph for _, graph in found])
        first = found[0][0]
        if first.cached is None and first.key:
            cache.store(first.key, best)
        result.setdefault(layer, []).append(best)
    return {layer: tuple(found) for layer, found in result.items()}
