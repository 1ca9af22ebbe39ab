"""One genome's evaluation: the design's cost (the resource and latency model), its accuracy
on the search data (the integer network, layer prefixes cached), the constraints it violates,
and the record the checkpoint and the Pareto files keep (:class:`Evaluation`)."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from hlsgen import ir
from hlsgen.errors import CostModelError
from hlsgen.explore.problem import Problem

__all__ = ["Evaluation", "evaluate_genome", "fitness", "sampling_margin", "expected_flips",
           "run_network",
           "logit_sqnr_db", "decision_margin", "margin_snr_db", "predicted_drop",
           "MARGIN_SNR_AT_ONE_POINT"]


@dataclass(frozen=True)
class Evaluation:
    genome: tuple[int, ...]
    methods: dict[str, str]
    pipeline: dict[str, int]
    kinds: dict[str, str]  # layer -> "parallel", "serial:D", "multiplexed" or "multiplexed:K"
    luts: float
    ffs: float
    dsps: float
    brams: float
    latency_cycles: int
    interval_cycles: int
    adders: int
    metric: float  # top-1 % (labelled), agreement % with the exact network, or 100 - predicted drop
    accuracy_drop: float  # baseline - metric, in points
    violations: dict[str, float] = field(default_factory=dict)  # constraint -> relative excess

    @property
    def feasible(self) -> bool:
        return not self.violations

    def to_json(self) -> dict:
        """Plain JSON data (the explore checkpoint); :meth:`from_json` reads it back exactly."""
        return {"genome": list(self.genome), "methods": dict(self.methods),
                "pipeline": dict(self.pipeline), "kinds": dict(self.kinds),
                "luts": self.luts, "ffs": self.ffs,
                "dsps": self.dsps, "brams": self.brams, "latency_cycles": self.latency_cycles,
                "interval_cycles": self.interval_cycles, "adders": self.adders,
                "metric": self.metric, "accuracy_drop": self.accuracy_drop,
                "violations": dict(self.violations)}

    @classmethod
    def from_json(cls, doc: object) -> "Evaluation":
        """The evaluation :meth:`to_json` wrote; ValueError for anything else."""
        if not isinstance(doc, dict) or set(doc) != _EVALUATION_FIELDS:
            raise ValueError("an evaluation is not an object with the expected fields")
        genome, methods, pipeline, kinds, violations = (
            doc["genome"], doc["methods"], doc["pipeline"], doc["kinds"], doc["violations"])
        if not (isinstance(genome, list) and all(_is_int(g) and g >= 0 for g in genome)
                and _str_map(methods, str) and _str_map(pipeline, int)
                and _str_map(kinds, str) and _str_map(violations, float)):
            raise ValueError("an evaluation's genome, methods, pipeline, kinds or violations "
                             "are malformed")
        numbers = {k: doc[k] for k in ("luts", "ffs", "dsps", "brams", "metric",
                                       "accuracy_drop")}
        counts = {k: doc[k] for k in ("latency_cycles", "interval_cycles", "adders")}
        if not all(_is_number(v) for v in numbers.values()) or not all(
                _is_int(v) for v in counts.values()):
            raise ValueError("an evaluation's costs are not numbers")
        return cls(tuple(genome), dict(methods), dict(pipeline), dict(kinds),
                   **{k: float(v) for k, v in numbers.items()}, **counts,
                   violations={k: float(v) for k, v in violations.items()})


_EVALUATION_FIELDS = {"genome", "methods", "pipeline", "kinds", "luts", "ffs", "dsps", "brams",
                      "latency_cycles", "interval_cycles", "adders", "metric", "accuracy_drop",
                      "violations"}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _str_map(value, kind) -> bool:
    check = _is_int if kind is int else _is_number if kind is float else (
        lambda v: isinstance(v, str))
    return isinstance(value, dict) and all(isinstance(k, str) and check(v)
                                           for k, v in value.items())


class PrefixCache:
    """Activations after the first k layers, keyed by the genes that decide them (LRU, bytes)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.entries: OrderedDict[tuple, dict[str, np.ndarray]] = OrderedDict()
        self.bytes = 0

    def get(self, key):
        value = self.entries.get(key)
        if value is not None:
            self.entries.move_to_end(key)
        return value

    def put(self, key, values: dict[str, np.ndarray]) -> None:
        size = sum(v.nbytes for v in values.values())
        if size > self.max_bytes or key in self.entries:
            return
        self.entries[key] = values
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, old = self.entries.popitem(last=False)
            self.bytes -= sum(v.nbytes for v in old.values())


_CACHES: dict[int, PrefixCache] = {}


def run_network(problem: Problem, design_graph: ir.Graph, genome) -> np.ndarray:
    """The design's outputs [samples, classes], reusing cached activations of an unchanged
    prefix."""
    from hlsgen.reference.executor import run_layer

    cache = _CACHES.setdefault(id(problem), PrefixCache(problem.prefix_cache_bytes))
    order = {name: i for i, name in enumerate(problem.layer_names)}
    layers = design_graph.layers
    # The activations after layer i depend only on the ladder genes of weight layers <= i.
    keys, genes = [], []
    for i, layer in enumerate(layers):
        if layer.name in order:
            genes.append(genome[order[layer.name]])
        keys.append((i, tuple(genes)))
    live = _live_after(design_graph)
    start, values = 0, None
    for i in range(len(layers) - 1, -1, -1):
        hit = cache.get(keys[i])
        if hit is not None:
            start, values = i + 1, {k: v.astype(np.int64) for k, v in hit.items()}
            break
    if values is None:
        h, w, c = design_graph.tensor(design_graph.input).shape
        x = problem.data.x_ir
        values = {design_graph.input: x.reshape(x.shape[0], h * w, c)}
    for i in range(start, len(layers)):
        layer = layers[i]
        values[layer.output] = run_layer(design_graph, layer, values)
        values = {name: v for name, v in values.items() if name in live[i]}
        if layer.name in order and i + 1 < len(layers):
            cache.put(keys[i], {k: _compact(v) for k, v in values.items()})
    return values[design_graph.output].reshape(problem.data.x_ir.shape[0], -1)


def _compact(v: np.ndarray) -> np.ndarray:
    """Activations are 8-bit: store them as int16 in the cache, not int64."""
    return v.astype(np.int16)


def _live_after(graph: ir.Graph) -> list[set[str]]:
    """Tensors still needed after each layer (including the graph output)."""
    last_use = {graph.output: len(graph.layers)}
    for i, layer in enumerate(graph.layers):
        for name in layer.inputs:
            last_use[name] = i
    return [{name for name, last in last_use.items() if last > i and _made_by(graph, name, i)}
            for i in range(len(graph.layers))]


def _made_by(graph: ir.Graph, name: str, i: int) -> bool:
    if name == graph.input:
        return True
    return any(layer.output == name for layer in graph.layers[: i + 1])


def evaluate_genome(problem: Problem, genome) -> Evaluation:
    genome = tuple(int(g) for g in genome)
    design, pipeline = problem.design(genome)
    try:
        report = problem.cost_fn(design, pipeline, problem.clock_mhz)
    except CostModelError:  # e.g. a line buffer deeper than the model is calibrated for
        return _unbuildable(problem, genome, pipeline)
    out = run_network(problem, design.graph, genome)
    pred = np.argmax(out, axis=1)
    data = problem.data
    if data.labels is not None:
        metric = 100.0 * float(np.mean(pred == data.labels))
    elif data.kind == "synthetic":
        metric = 100.0 - predicted_drop(out, data.reference_out, data.margin)
    else:
        metric = 100.0 * float(np.mean(pred == data.reference_pred))
    drop = data.baseline - metric
    violations = dict(problem.budget.violations(report.luts, report.ffs, report.dsps,
                                                report.brams))
    # No credit for samples the design gets right by luck where the exact network did not:
    # the search would pick exactly those designs.  Then the sampling margin on top.
    expected = (expected_flips(out, data.reference_out)
                if problem.logit_guard and data.reference_out is not None else 0.0)
    needed = max(drop, 0.0) + sampling_margin(pred, data.reference_pred, problem.confidence_z,
                                              expected)
    if needed > problem.max_accuracy_drop + 1e-9:
        violations["accuracy"] = (needed - problem.max_accuracy_drop) / max(
            problem.max_accuracy_drop, 0.1)
    chosen, _ = problem.decode(genome)
    return Evaluation(
        genome=genome,
        methods={name: cand.method for name, cand in chosen.items()},
        pipeline=pipeline,
        kinds={name: choice.label for name, choice in problem.kinds(genome).items()},
        luts=float(report.luts), ffs=float(report.ffs), dsps=float(report.dsps),
        brams=float(report.brams),
        latency_cycles=int(report.latency_cycles), interval_cycles=int(report.interval_cycles),
        adders=sum(c.adders for c in chosen.values()),
        metric=metric, accuracy_drop=drop, violations=violations,
    )


def _unbuildable(problem: Problem, genome, pipeline) -> Evaluation:
    """A design the cost model cannot price: infeasible below every priced design."""
    chosen, _ = problem.decode(genome)
    return Evaluation(
        genome=genome, methods={name: cand.method for name, cand in chosen.items()},
        pipeline=pipeline,
        kinds={name: choice.label for name, choice in problem.kinds(genome).items()},
        luts=0.0, ffs=0.0, dsps=0.0, brams=0.0, latency_cycles=0, interval_cycles=0,
        adders=sum(c.adders for c in chosen.values()), metric=0.0,
        accuracy_drop=problem.data.baseline, violations={"cost model": 1e3})


# The data-free bound: how far (dB) the RMS error of a design's output logits must stay below
# the typical decision margin of the exact network on the synthetic inputs (the median gap
# between its two largest logits) for a predicted top-1 drop of 1 point; every 10 dB less
# predicts 10x the drop.  A flip needs noise as large as the sample's margin, so a network
# whose decisions are wide tolerates more noise than the logits' power alone says.
# Calibrated on the study of docs/explore.md ("Data-free proxy").
MARGIN_SNR_AT_ONE_POINT = 9.0


def logit_sqnr_db(out: np.ndarray, reference: np.ndarray, zero_point: int = 0) -> float:
    """SQNR (dB) of ``out`` against ``reference`` (the exact network's outputs; both integer,
    the output zero point taken out of the signal); inf when they are equal."""
    ref = reference.astype(np.float64) - zero_point
    noise = float(np.sum((out.astype(np.float64) - reference) ** 2))
    if noise == 0:
        return float("inf")
    return 10.0 * float(np.log10(max(float(np.sum(ref ** 2)), 1e-9) / noise))


def decision_margin(reference: np.ndarray, zero_point: int = 0) -> float:
    """The exact network's typical decision margin on ``reference`` [samples, classes]: the
    median gap between the two largest outputs, at least 1 (integer logits: a smaller
    median means most inputs tie, and 1 keeps the bound strict).  A single output has no
    gap: its RMS (zero point taken out) stands in."""
    ref = reference.astype(np.float64)
    if ref.shape[1] < 2:
        return max(float(np.sqrt(np.mean((ref - zero_point) ** 2))), 1.0)
    top2 = np.sort(ref, axis=1)[:, -2:]
    return max(float(np.median(top2[:, 1] - top2[:, 0])), 1.0)


def margin_snr_db(out: np.ndarray, reference: np.ndarray, margin: float) -> float:
    """``margin`` (:func:`decision_margin`) against the RMS error of ``out``, in dB; inf when
    ``out`` equals ``reference``."""
    noise = float(np.mean((out.astype(np.float64) - reference) ** 2))
    if noise == 0:
        return float("inf")
    return 10.0 * float(np.log10(margin ** 2 / noise))


def predicted_drop(out: np.ndarray, reference: np.ndarray, margin: float) -> float:
    """The top-1 drop (points, at most 100) predicted from the logits' error against the
    decision margin: ``10 ** ((MARGIN_SNR_AT_ONE_POINT - margin_snr_db) / 10)``, 0 for an
    exact design."""
    snr = margin_snr_db(out, reference, margin)
    if snr == float("inf"):
        return 0.0
    return min(100.0, 10.0 ** ((MARGIN_SNR_AT_ONE_POINT - snr) / 10.0))


def sampling_margin(pred: np.ndarray, reference_pred: np.ndarray, z: float,
                    expected: float = 0.0) -> float:
    """``z`` standard errors (percentage points) of the measured drop.

    The drop is the mean of a per-sample difference that is non-zero only where the design's
    top-1 differs from the exact network's; with ``f`` such flips among ``n`` samples its
    standard error is at most ``sqrt(f) / n``.  A design that flips many predictions can look
    harmless on the samples by luck -- and the search, picking the best of hundreds, finds
    such luck -- so the bound must hold with this margin to spare.  ``f`` is at least
    ``expected`` (:func:`expected_flips`): the search can pick designs whose few observed
    flips are luck, not designs whose logits are closer to the exact network's than they are.
    """
    if z <= 0:
        return 0.0
    flips = max(float(np.count_nonzero(pred != reference_pred)), expected)
    return 100.0 * z * float(np.sqrt(flips)) / len(pred)


_ERFC = np.frompyfunc(math.erfc, 1, 1)


def expected_flips(out: np.ndarray, reference: np.ndarray) -> float:
    """How many top-1 predictions the design's output noise is expected to flip.

    The noise ``out - reference`` is modelled as independent and normal per logit with the
    variance it has over all samples and classes (sigma); class ``j`` overtakes a sample's top
    class with probability ``Phi(-gap_j / (sigma sqrt 2))`` (``gap_j`` = the exact network's
    top logit minus class ``j``'s; a tie counts one half), and a sample flips with the sum of
    these, at most 1.  Unlike the observed flips this does not depend on which samples the
    noise happened to hit, and unlike the logit SQNR it weighs the noise against each
    sample's own margin."""
    noise = out.astype(np.float64) - reference
    sigma = float(np.sqrt(np.mean(noise ** 2)))
    if sigma == 0.0:
        return 0.0
    ref = reference.astype(np.float64)
    top = np.argmax(ref, axis=1)
    gaps = ref[np.arange(len(ref)), top][:, None] - ref
    p = 0.5 * _ERFC(gaps / (2.0 * sigma)).astype(np.float64)
    p[np.arange(len(ref)), top] = 0.0  # the top class does not overtake itself
    return float(np.sum(np.minimum(np.sum(p, axis=1), 1.0)))


def fitness(evaluation: Evaluation) -> float:
    """Feasible designs: lower latency first, then fewer LUTs.  Infeasible: below every
    feasible design, ordered by how far they miss (so the GA climbs towards feasibility)."""
    if evaluation.feasible:
        return -(evaluation.latency_cycles + evaluation.luts / 1e9)
    return -1e12 * (1.0 + sum(evaluation.violations.values()))
