"""A design: the IR with every Conv/Dense weight replaced by its shift-add graphs.

``apply_design(graph, methods)`` decomposes every weight layer and writes the graphs'
effective matrices back into the IR, exactly as :mod:`hlsgen.ir` prescribes for an
approximated matrix ``E`` with scale ``2**-k``: ``weight = E``, ``bias = bias << k``,
``shift = shift + k`` (per output row, since every Conv group has its own graph and its own
``k``).  With a folded scale (``lcc:fold=1``) ``E`` approximates ``weight * multiplier /
2**shift`` itself, so the requantization becomes ``multiplier = 1``, ``shift = k`` and
``bias = round(bias * multiplier * 2**(k - shift))``.  The reference executor, the exported
ONNX and the emitters all read the approximated network from ``Design.graph``.
"""

from __future__ import annotations

import enum
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from hlsgen.decompose.graph import ShiftAddGraph
from hlsgen.decompose.methods import (MethodSpec, Piece, assemble_pieces, layer_pieces,
                                      parse_method, solve_piece)
from hlsgen.errors import InputError
from hlsgen.ir import Conv, Dense, Graph

__all__ = [
    "DatapathKind", "LayerImpl", "Design", "apply_design", "approximated_layer", "weight_layers",
    "resolve_methods", "resolve_kinds", "design_kinds", "KindChoice", "DIGITS", "CHUNKS", "LANES",
]


class DatapathKind(enum.Enum):
    """What hardware computes a layer's shift-add graphs (``hlsgen.hw.plan.KINDS`` maps each
    kind to the module that builds, schedules and costs it)."""

    PARALLEL = "parallel"  # the graphs hard-wired, one output pixel per cycle
    SERIAL = "serial"  # the same graphs digit-serial: D bits per cycle, a word in W/D cycles
    MULTIPLEXED = "multiplexed"  # one shared adder tree, weight digit planes read from memory


# Digit sizes (bits per cycle) of a serial layer: powers of two keep digit indexing shift-only.
DIGITS = (1, 2, 4, 8, 16, 32)
# Chunks of a multiplexed layer: its tree covers 1/K of a channel's inputs, K cycles a plane.
CHUNKS = (1, 2, 4, 8)
# Lanes of a multiplexed layer: P trees side by side, each for a block of C/P output channels.
LANES = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class KindChoice:
    """A weight layer's datapath kind; for a serial layer its digit size ``digit``, for a
    multiplexed one its number of input chunks ``chunks`` (slower, smaller) or of ``lanes``
    (faster, larger), not both."""

    kind: DatapathKind = DatapathKind.PARALLEL
    digit: int = 0
    chunks: int = 1
    lanes: int = 1

    def __post_init__(self):
        if (self.kind is DatapathKind.SERIAL) != (self.digit in DIGITS):
            raise ValueError(f"{self.kind.value} layer with digit size {self.digit}")
        if self.chunks not in CHUNKS or (self.chunks > 1
                                         and self.kind is not DatapathKind.MULTIPLEXED):
            raise ValueError(f"{self.kind.value} layer with {self.chunks} chunks")
        if self.lanes not in LANES or (self.lanes > 1 and (
                self.kind is not DatapathKind.MULTIPLEXED or self.chunks > 1)):
            raise ValueError(f"{self.kind.value} layer with {self.lanes} lanes, "
                             f"{self.chunks} chunks")

    @property
    def label(self) -> str:
        """``parallel``, ``serial:D``, ``multiplexed``, ``multiplexed:K`` (K chunks) or
        ``multiplexed:xP`` (P lanes): the search's and the summary's spelling."""
        if self.digit:
            return f"{self.kind.value}:{self.digit}"
        if self.lanes > 1:
            return f"{self.kind.value}:x{self.lanes}"
        return self.kind.value + (f":{self.chunks}" if self.chunks > 1 else "")

    def to_json(self):
        if self.kind is DatapathKind.SERIAL:
            return {"kind": self.kind.value, "digit": self.digit}
        if self.chunks > 1:
            return {"kind": self.kind.value, "chunks": self.chunks}
        if self.lanes > 1:
            return {"kind": self.kind.value, "lanes": self.lanes}
        return self.kind.value

    @classmethod
    def parse(cls, layer: str, value) -> "KindChoice":
        """From design.json: ``"parallel"``, ``"serial:4"``, ``{"kind": "serial", "digit":
        4}``, ``"multiplexed:2"``, ``{"kind": "multiplexed", "chunks": 2}``,
        ``"multiplexed:x4"`` or ``{"kind": "multiplexed", "lanes": 4}`` (InputError naming the
        layer otherwise)."""
        if isinstance(value, KindChoice):
            return value
        digit = lanes = None
        if isinstance(value, dict):
            value, digit, lanes = (value.get("kind"), value.get("digit", value.get("chunks")),
                                   value.get("lanes"))
        elif isinstance(value, str) and ":" in value:
            value, _, digit = value.partition(":")
            if digit[:1] in ("x", "X"):
                digit, lanes = None, digit[1:]
        known = ", ".join(repr(k.value) for k in DatapathKind)
        try:
            kind = DatapathKind(value)
        except (ValueError, TypeError):
            raise InputError(f"layer {layer!r}: datapath kind {str(value)[:40]!r} is not known; "
                             f"use one of {known}") from None
        if kind is DatapathKind.MULTIPLEXED:
            if lanes is not None:
                count = _as_int(lanes)
                if count not in LANES or digit not in (None, 1, "1"):
                    raise InputError(f"layer {layer!r}: a multiplexed layer's lanes (trees side "
                                     f"by side) are one of {', '.join(map(str, LANES))}, "
                                     "without chunks")
                return cls(kind, lanes=count)
            if digit is None:
                return cls(kind)
            chunks = _as_int(digit)
            if chunks not in CHUNKS:
                raise InputError(f"layer {layer!r}: a multiplexed layer's chunks (cycles per "
                                 f"plane) are one of {', '.join(map(str, CHUNKS))}")
            return cls(kind, chunks=chunks)
        if kind is not DatapathKind.SERIAL:
            if digit is not None or lanes is not None:
                raise InputError(f"layer {layer!r}: a {kind.value} layer has no digit size")
            return cls(kind)
        digit = _as_int(digit)
        if digit not in DIGITS:
            raise InputError(f"layer {layer!r}: a serial layer needs a digit size (bits per "
                             f"cycle) among {', '.join(map(str, DIGITS))}")
        return cls(kind, digit)


def _as_int(value) -> int | None:
    """``value`` as an integer (from JSON or a ``kind:N`` spelling), None if it is not one."""
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, eq=False)
class LayerImpl:
    """How one weight layer is computed.

    ``graphs``: Conv -> one per group (rows = that group's output channels, inputs =
    KH*KW*Cin/groups in (kh, kw, ci) order, i.e. ``layer.group_matrices()``); Dense -> one
    graph whose inputs are the H*W*C input elements in IR order.  ``kind``: the datapath that
    computes them.
    """

    layer: str
    method: str  # canonical spec, e.g. "exact", "po2", "terms:2", "lcc:slice=4"
    graphs: tuple[ShiftAddGraph, ...]
    kind: DatapathKind = DatapathKind.PARALLEL
    digit: int = 0  # serial: bits per cycle (see KindChoice)
    chunks: int = 1  # multiplexed: input chunks, cycles per plane (see KindChoice)
    lanes: int = 1  # multiplexed: trees side by side (see KindChoice)

    @property
    def choice(self) -> KindChoice:
        return KindChoice(self.kind, self.digit, self.chunks, self.lanes)


@dataclass(frozen=True, eq=False)
class Design:
    """``graph``: the IR with approximated weights; ``impls``: weight layer name -> impl."""

    graph: Graph
    impls: dict[str, LayerImpl]


def weight_layers(graph: Graph) -> list[Conv | Dense]:
    """The layers that carry a weight matrix, in graph order."""
    return [layer for layer in graph.layers if isinstance(layer, (Conv, Dense))]


def resolve_methods(graph: Graph, methods: str | dict[str, str] | Path) -> dict[str, MethodSpec]:
    """Per weight layer: its parsed method (unlisted layers of a mapping get ``exact``)."""
    names = [layer.name for layer in weight_layers(graph)]
    if isinstance(methods, Path):
        methods = _read_methods_file(methods)
    if isinstance(methods, str):
        spec = parse_method(methods)
        return {name: spec for name in names}
    if not isinstance(methods, dict):
        raise InputError(f"methods must be a spec string, a dict or a JSON file, got {methods!r}")
    methods = _by_layer_name(graph, methods)
    resolved = {}
    for name in names:
        spec = methods.get(name, "exact")
        try:
            resolved[name] = parse_method(spec)
        except InputError as err:
            raise InputError(f"layer {name!r}: {err}") from None
    return resolved


def _by_layer_name(graph: Graph, methods: dict[str, str]) -> dict[str, str]:
    """Keys may name a layer as hlsgen does (``conv0``) or by its ONNX node (what ``hlsgen
    inspect`` shows beside it)."""
    layers = weight_layers(graph)
    alias = {layer.name: layer.name for layer in layers}
    for layer in layers:
        for node in layer.source:
            alias.setdefault(node, layer.name)
    unknown = [name for name in methods if name not in alias]
    if unknown:
        raise InputError(
            f"model {graph.name!r} has no Conv/Dense layer named {', '.join(map(repr, unknown))}; "
            f"its weight layers are: "
            + ", ".join(f"{layer.name} (ONNX {'/'.join(layer.source)})" for layer in layers))
    resolved: dict[str, str] = {}
    for key, spec in methods.items():
        name = alias[key]
        if name in resolved and resolved[name] != spec:
            raise InputError(f"layer {name!r} is given two methods ({resolved[name]!r} and "
                             f"{spec!r} under {key!r})")
        resolved[name] = spec
    return resolved


def resolve_kinds(graph: Graph, kinds: dict) -> dict[str, KindChoice]:
    """Per weight layer: its datapath kind.  ``kinds`` maps layer names to a
    :class:`KindChoice` or its design.json form (``"parallel"``, ``"serial:4"``,
    ``{"kind": "serial", "digit": 4}``); unlisted layers are parallel."""
    names = [layer.name for layer in weight_layers(graph)]
    unknown = [name for name in kinds if name not in names]
    if unknown:
        raise InputError(
            f"model {graph.name!r} has no Conv/Dense layer named {', '.join(map(repr, unknown))} "
            f"(in \"kinds\"); its weight layers are: {', '.join(names)}")
    return {name: KindChoice.parse(name, kinds.get(name, KindChoice())) for name in names}


def design_kinds(path: Path | None) -> dict:
    """The ``"kinds"`` object of a design.json (``{}`` without a file or without kinds: a
    design.json from before datapath kinds is all parallel)."""
    if path is None:
        return {}
    kinds = _read_json(path, "design file").get("kinds") or {}
    if not isinstance(kinds, dict):
        raise InputError(f"design file {str(path)!r}: \"kinds\" must map layer names to a "
                         "datapath kind such as \"parallel\"")
    return kinds


def _read_json(path: Path, what: str):
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{what} {str(path)!r} does not exist") from None
    except (OSError, ValueError) as err:
        raise InputError(f"{what} {str(path)!r} is not readable JSON: {err}") from None
    return data if isinstance(data, dict) else {}


def _read_methods_file(path: Path) -> dict[str, str]:
    if path.exists() and not path.is_file():  # a FIFO or device would block or never end
        raise InputError(f"methods file {str(path)!r} is not a regular file")
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"methods file {str(path)!r} does not exist") from None
    except RecursionError:
        raise InputError(f"methods file {str(path)!r} is not readable JSON (nested too "
                         "deeply)") from None
    except (OSError, ValueError) as err:
        raise InputError(f"methods file {str(path)!r} is not readable JSON: {err}") from None
    if isinstance(data, dict) and isinstance(data.get("methods"), dict):
        data = data["methods"]  # a design.json written by hlsgen explore
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise InputError(
            f"methods file {str(path)!r} must hold one JSON object "
            '{"layer name": "method spec", ...} or be a design.json from hlsgen explore'
        )
    return data


def apply_design(graph: Graph, methods: str | dict[str, str] | Path, *, jobs: int = 1,
                 timings: dict[str, float] | None = None,
                 kinds: dict[str, DatapathKind] | None = None) -> Design:
    """Decompose every Conv/Dense layer with its method and rebuild the IR around the graphs.

    ``methods``: one spec for every layer, a mapping {layer: spec} (unlisted layers: exact)
    or a JSON file holding that mapping.  ``jobs > 1`` decomposes layers in that many worker
    processes (the result is identical).  ``timings``, if given, receives each layer's
    decomposition time in seconds.  ``kinds``: datapath kind per layer (default parallel).
    """
    specs = resolve_methods(graph, methods)
    if kinds is None:
        kinds = design_kinds(methods) if isinstance(methods, Path) else {}
    kinds = resolve_kinds(graph, kinds)
    layers = weight_layers(graph)
    decomposed = decompose_layers(layers, specs, jobs)
    impls: dict[str, LayerImpl] = {}
    new_layers = []
    for layer in graph.layers:
        if layer.name not in decomposed:
            new_layers.append(layer)
            continue
        graphs, seconds = decomposed[layer.name]
        spec = specs[layer.name]
        choice = kinds[layer.name]
        impls[layer.name] = LayerImpl(layer.name, str(spec), graphs, choice.kind, choice.digit,
                                      choice.chunks, choice.lanes)
        new_layers.append(approximated_layer(layer, graphs, spec))
        if timings is not None:
            timings[layer.name] = seconds
    return Design(replace(graph, layers=tuple(new_layers)), impls)


def decompose_layers(layers: list[Conv | Dense], specs: dict[str, MethodSpec], jobs: int = 1
                     ) -> dict[str, tuple[tuple[ShiftAddGraph, ...], float]]:
    """{layer: (graphs, CPU seconds)}; the graphs are the same for every ``jobs``."""
    results = decompose_tasks([(layer, specs[layer.name]) for layer in layers], jobs)
    return {layer.name: result for layer, result in zip(layers, results)}


def decompose_tasks(tasks: list[tuple[Conv | Dense, MethodSpec]], jobs: int = 1, on_done=None
                    ) -> list[tuple[tuple[ShiftAddGraph, ...], float]]:
    """(graphs, CPU seconds) of every (layer, method) task, in order, all tasks' pieces sharing
    one pool of ``jobs`` processes.  ``on_done(piece, total_pieces)`` follows the progress."""
    pieces: list[Piece] = []
    spans = []
    for layer, spec in tasks:
        found = layer_pieces(layer, spec, split=jobs > 1)
        spans.append((len(pieces), len(pieces) + len(found)))
        pieces.extend(found)
    report = None if on_done is None else (lambda piece: on_done(piece, len(pieces)))
    solved = solve_pieces(pieces, jobs, report)
    results = []
    for (layer, _), (a, b) in zip(tasks, spans):
        graphs = assemble_pieces(pieces[a:b], [graph for graph, _ in solved[a:b]])[layer.name]
        results.append((graphs, sum(seconds for _, seconds in solved[a:b])))
    return results


def solve_pieces(pieces: list[Piece], jobs: int = 1, on_done=None
                 ) -> list[tuple[ShiftAddGraph, float]]:
    """(graph, CPU seconds) of every piece, in order.  With ``jobs > 1`` the pieces (groups,
    and the formulations of each exact search) run in that many forked processes, largest
    first.  ``on_done(piece)`` is called as each piece finishes."""
    if jobs <= 1 or len(pieces) <= 1:
        results = []
        for piece in pieces:
            results.append(_timed_piece(piece))
            if on_done is not None:
                on_done(piece)
        return results
    solved: list = [None] * len(pieces)
    for i, piece in enumerate(pieces):
        if piece.cached is not None:  # nothing to compute: keep it out of the pool
            solved[i] = (piece.cached, 0.0)
            if on_done is not None:
                on_done(piece)
    order = sorted((i for i in range(len(pieces)) if solved[i] is None),
                   key=lambda i: -pieces[i].work)
    if not order:
        return solved
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    try:
        futures = {pool.submit(_timed_piece, pieces[i]): i for i in order}
        for future in as_completed(futures):
            i = futures[future]
            solved[i] = future.result()
            if on_done is not None:
                on_done(pieces[i])
    except Exception:  # a piece failed: the others need not finish
        pool.shutdown(cancel_futures=True)
        raise
    except BaseException:
        # Ctrl-C or Terminated: stop the workers now (the executor's worker table is private;
        # there is no public call for this) and do not wait for the pool.  A worker killed
        # while it sent a result leaves half a message in the result pipe, and the pool's
        # shutdown(wait=True) would wait for the rest forever (so does the interpreter's exit:
        # signals.exit_process).
        for process in list((pool._processes or {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return solved


def _timed_piece(piece: Piece) -> tuple[ShiftAddGraph, float]:
    start = time.perf_counter()
    graph = solve_piece(piece)
    return graph, time.perf_counter() - start


def approximated_layer(layer: Conv | Dense, graphs: tuple[ShiftAddGraph, ...],
                       spec: MethodSpec) -> Conv | Dense:
    """The layer with its weight replaced by the graphs' effective matrices (see module doc)."""
    cout = layer.weight.shape[0]
    per = cout // len(graphs)
    matrices = [g.effective_matrix() for g in graphs]
    if any(m.dtype != np.int64 for m in matrices):
        raise InputError(f"layer {layer.name!r}: method {spec} produced weights beyond int64")
    weight = np.concatenate(matrices, axis=0).reshape(layer.weight.shape)
    frac = np.repeat(np.array([g.frac_bits for g in graphs], dtype=np.int64), per)
    rq = layer.requant
    if spec.folds_scale:
        bias = np.array([
            _round_half_up(int(b) * int(m), int(s) - int(k))
            for b, m, s, k in zip(layer.bias, rq.multiplier, rq.shift, frac)
        ], dtype=np.int64)
        requant = replace(rq, multiplier=np.ones_like(rq.multiplier), shift=frac.copy())
    else:
        if not frac.any() and np.array_equal(weight, layer.weight):
            return layer  # exact: the original layer, untouched
        bias = layer.bias.astype(np.int64) << frac
        requant = replace(rq, shift=rq.shift.astype(np.int64) + frac)
    return replace(layer, weight=weight, bias=bias, requant=requant)


def _round_half_up(value: int, shift: int) -> int:
    """``round(value / 2**shift)`` with halves rounded up (shift may be negative)."""
    if shift <= 0:
        return value << -shift
    return (value + (1 << (shift - 1))) >> shift

