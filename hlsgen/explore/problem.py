"""The co-design problem the GA solves: genes, candidate ladders, and one genome's evaluation.

Genome layout: for every weight layer (Conv/Dense, graph order) one gene choosing a rung of that
layer's *ladder* of decompositions, then one gene per weight layer choosing how many adder
levels sit between pipeline registers in its trees, then one gene per weight layer choosing
its datapath (:data:`DATAPATH_CHOICES`: parallel, or digit-serial at D bits per cycle).  Decoding and evaluating a genome are pure
functions of the genome and the (immutable) problem, so any process can evaluate any genome.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace

import numpy as np

from hlsgen import ir
from hlsgen.decompose.methods import parse_method
from hlsgen.design import (CHUNKS, DatapathKind, Design, KindChoice, LayerImpl,
                           approximated_layer, decompose_tasks, weight_layers)
from hlsgen.errors import CostModelError
from hlsgen.hw.plan import plan_hardware
from hlsgen.explore.folding import rate_matched_chunks
from hlsgen.explore.devices import Budget

__all__ = [
    "DEFAULT_LADDER",
    "PIPELINE_CHOICES",
    "DATAPATH_CHOICES",
    "Candidate",
    "EvalData",
    "Problem",
    "Evaluation",
    "build_problem",
    "evaluate_genome",
]

# From expensive and exact to cheap and coarse; each layer keeps the rungs that differ.
# Folded lcc rungs (fold=1) approximate weight * requant scale, so the layer's requantization
# is a shift instead of a 24-bit constant multiplication per channel (~200 LUTs a channel):
# they are the cheap end.  terms:2 and unfolded lcc stay as the classic alternatives.
DEFAULT_LADDER = (
    "exact",
    "terms:2",
    "lcc",
    "lcc:sqnr=36,fold=1",
    "lcc:sqnr=32,fold=1",
    "lcc:sqnr=28,fold=1",
    "lcc:sqnr=25,fold=1",
    "lcc:sqnr=22,fold=1",
    "lcc:sqnr=19,fold=1",
    "lcc:sqnr=16,fold=1",
    "lcc:sqnr=13,fold=1",
    "lcc:sqnr=10,fold=1",
    "lcc:sqnr=7,fold=1",
    "po2",
)
# Adder levels between pipeline registers (fewer levels: shorter paths, more cycles and FFs).
PIPELINE_CHOICES = (1, 2, 3, 4)
# How a weight layer is built, from fastest and largest to slowest and smallest: parallel,
# digit-serial (digits of 32 bits cost more than the parallel adders they replace: not a
# choice), then one adder tree shared by every output channel, over all of a channel's inputs
# or over 1/2, 1/4, 1/8 of them (late layers have few pixels: their time is cheap).
DATAPATH_CHOICES = ((KindChoice(),) + tuple(KindChoice(DatapathKind.SERIAL, d)
                                            for d in (16, 8, 4, 2, 1))
                    + tuple(KindChoice(DatapathKind.MULTIPLEXED, chunks=k) for k in CHUNKS))


@dataclass(frozen=True, eq=False)
class Candidate:
    """One rung of a layer's ladder, computed once."""

    method: str
    impl: LayerImpl
    layer: ir.Conv | ir.Dense  # the IR layer with this rung's effective weights
    adders: int
    depth: int
    sqnr_db: float


@dataclass(frozen=True, eq=False)
class EvalData:
    """Samples the accuracy is measured on (IR input order) and the reference to meet.

    ``labels`` given: metric = top-1 (%) on labels, bound = drop vs the exact integer network.
    No labels: metric = top-1 agreement (%) with the exact integer network's predictions.
    """

    x_ir: np.ndarray
    labels: np.ndarray | None
    reference_pred: np.ndarray  # exact integer network's top-1 per sample
    baseline: float  # the exact network's metric value (top-1 %, or 100 for agreement)
    kind: str  # "labelled", "unlabelled" or "synthetic"


@dataclass(frozen=True, eq=False)
class Problem:
    graph: ir.Graph  # exact (unapproximated) integer network
    ladders: tuple[tuple[Candidate, ...], ...]  # per weight layer, in graph order
    pipeline_choices: tuple[int, ...]
    data: EvalData
    max_accuracy_drop: float  # percentage points
    budget: Budget
    clock_mhz: float
    cost_fn: object  # (design, pipeline: dict[str, int], clock_mhz) -> hlsgen.hw CostReport
    prefix_cache_bytes: int = 256 << 20
    # The bound must hold with this many standard errors to spare (0: on the samples only).
    confidence_z: float = 0.0
    datapath_choices: tuple[KindChoice, ...] = DATAPATH_CHOICES
    # (layer, rung, datapath) -> LayerImpl: one object per choice, so the hardware plan's
    # module cache (keyed on the impl) hits across genomes
    _impls: dict = field(default_factory=dict, repr=False)

    @property
    def layer_names(self) -> list[str]:
        return [ladder[0].impl.layer for ladder in self.ladders]

    @property
    def grouped(self) -> frozenset[str]:
        """Weight layers with Conv groups (their multiplexed tree is one group's inputs)."""
        return frozenset(layer.name for layer in self.graph.layers
                         if isinstance(layer, ir.Conv) and layer.groups > 1)

    @property
    def gene_space(self) -> list[int]:
        n = len(self.ladders)
        return ([len(ladder) for ladder in self.ladders] + [len(self.pipeline_choices)] * n
                + [len(self.datapath_choices)] * n)

    def decode(self, genome) -> tuple[dict[str, Candidate], dict[str, int]]:
        n = len(self.ladders)
        chosen = {ladder[0].impl.layer: ladder[g] for ladder, g in zip(self.ladders, genome[:n])}
        pipeline = {name: self.pipeline_choices[g]
                    for name, g in zip(self.layer_names, genome[n:2 * n])}
        return chosen, pipeline

    def kinds(self, genome) -> dict[str, KindChoice]:
        """The datapath of every weight layer (a grouped Conv's tree is not chunked)."""
        n = len(self.ladders)
        return {name: (replace(self.datapath_choices[g], chunks=1) if name in self.grouped
                       else self.datapath_choices[g])
                for name, g in zip(self.layer_names, genome[2 * n:3 * n])}

    def design(self, genome) -> tuple[Design, dict[str, int]]:
        chosen, pipeline = self.decode(genome)
        kinds = self.kinds(genome)
        layers = tuple(chosen[layer.name].layer if layer.name in chosen else layer
                       for layer in self.graph.layers)
        impls = {name: self._impl(cand, kinds[name]) for name, cand in chosen.items()}
        return Design(replace(self.graph, layers=layers), impls), pipeline

    def _impl(self, cand: Candidate, choice: KindChoice) -> LayerImpl:
        key = (id(cand), choice)
        impl = self._impls.get(key)
        if impl is None:
            impl = self._impls[key] = replace(cand.impl, kind=choice.kind, digit=choice.digit,
                                                  chunks=choice.chunks)
        return impl

    def neighbours(self, genome) -> list[tuple[int, ...]]:
        """Local-search moves from a genome: one layer one or two rungs further down its ladder
        (cheaper, coarser), one layer's adder trees at the most levels per pipeline stage
        (fewest cycles), or one layer's datapath one step faster or smaller."""
        genome = tuple(int(g) for g in genome)
        n = len(self.ladders)
        moves = []
        for i, ladder in enumerate(self.ladders):
            for step in (1, 2):
                if genome[i] + step < len(ladder):
                    moves.append(genome[:i] + (genome[i] + step,) + genome[i + 1:])
        deepest = len(self.pipeline_choices) - 1
        for i in range(n, 2 * n):
            if genome[i] != deepest:
                moves.append(genome[:i] + (deepest,) + genome[i + 1:])
        for i in range(2 * n, 3 * n):
            for step in (-1, 1):
                if 0 <= genome[i] + step < len(self.datapath_choices):
                    moves.append(genome[:i] + (genome[i] + step,) + genome[i + 1:])
        return moves

    def rate_matched_genome(self, method: str) -> tuple[int, ...]:
        """``method`` multiplexed everywhere, each layer's tree split into as many chunks as
        fit in the interval the unchunked design has: layers with few pixels get small trees
        at no cost in throughput (the search's smallest fast seed)."""
        whole = KindChoice(DatapathKind.MULTIPLEXED)
        genome = list(self.uniform_genome(method, datapath=whole))
        design, _ = self.design(tuple(genome))
        try:
            plan = plan_hardware(design)
        except CostModelError:  # not timeable: the uniform design, as the search would see it
            return tuple(genome)
        n = len(self.ladders)
        for name, chunks in rate_matched_chunks(plan).items():
            i = self.layer_names.index(name)
            choice = KindChoice(DatapathKind.MULTIPLEXED, chunks=chunks)
            genome[2 * n + i] = self.datapath_choices.index(choice)
        return tuple(genome)

    def uniform_genome(self, method: str, pipeline_levels: int | None = None,
                       datapath: KindChoice = KindChoice()) -> tuple[int, ...]:
        """The genome that uses ``method`` and ``datapath`` everywhere (nearest cheaper rung
        where the method is absent)."""
        method = str(parse_method(method))  # canonical spelling, as the rungs store it
        genes = []
        for ladder in self.ladders:
            methods = [c.method for c in ladder]
            genes.append(methods.index(method) if method in methods else len(ladder) - 1)
        levels = pipeline_levels or max(self.pipeline_choices)
        n = len(self.ladders)
        return (tuple(genes) + (self.pipeline_choices.index(levels),) * n
                + (self.datapath_choices.index(datapath),) * n)


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
    metric: float  # top-1 % (labelled) or agreement % with the exact network
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


def build_problem(graph: ir.Graph, data: EvalData, *, max_accuracy_drop: float, budget: Budget,
                  clock_mhz: float, cost_fn, ladder=DEFAULT_LADDER,
                  pipeline_choices=PIPELINE_CHOICES, progress=None, jobs: int = 1,
                  confidence_z: float = 0.0) -> Problem:
    """Compute every layer's ladder once (the expensive part: decompositions), in ``jobs``
    processes; the result does not depend on ``jobs``."""
    layers = weight_layers(graph)
    tasks = [(layer, parse_method(method)) for layer in layers for method in ladder]
    on_done = None
    if progress is not None:
        def on_done(piece, total):
            progress(piece.layer, str(piece.spec), total)
    decomposed = decompose_tasks(tasks, jobs, on_done)
    results = [(graphs, approximated_layer(layer, graphs, spec))
               for (layer, spec), (graphs, _) in zip(tasks, decomposed)]
    ladders = []
    for index, layer in enumerate(layers):
        rungs: list[Candidate] = []
        seen_matrices: list[np.ndarray] = []
        for k, method in enumerate(ladder):
            graphs, new_layer = results[index * len(ladder) + k]
            spec = parse_method(method)
            # Two rungs with the same effective network are the same choice: keep the cheaper.
            key = np.concatenate([new_layer.weight.reshape(-1), new_layer.bias,
                                  new_layer.requant.shift, new_layer.requant.multiplier])
            adders = sum(g.adder_count for g in graphs)
            duplicate = next((i for i, m in enumerate(seen_matrices)
                              if m.shape == key.shape and np.array_equal(m, key)), None)
            cand = Candidate(str(spec), LayerImpl(layer.name, str(spec), graphs), new_layer,
                             adders, max(g.depth for g in graphs),
                             _sqnr_db(layer.weight, new_layer, layer))
            if duplicate is not None:
                if adders < rungs[duplicate].adders:
                    rungs[duplicate] = cand
                continue
            seen_matrices.append(key)
            rungs.append(cand)
        ladders.append(tuple(rungs))
    return Problem(graph, tuple(ladders), tuple(pipeline_choices), data, max_accuracy_drop,
                   budget, clock_mhz, cost_fn, confidence_z=confidence_z)


def _sqnr_db(exact_weight: np.ndarray, new_layer, old_layer) -> float:
    """SQNR of the approximated layer's real weights (weight * requant scale) vs the exact ones."""
    def real(layer):
        scale = layer.requant.multiplier * np.exp2(-layer.requant.shift.astype(np.float64))
        return layer.weight.reshape(layer.weight.shape[0], -1) * scale[:, None]
    ref, got = real(old_layer), real(new_layer)
    noise = float(np.sum((ref - got) ** 2))
    signal = float(np.sum(ref ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(signal / noise)


# -- evaluation -----------------------------------------------------------------------------
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
    """Top-1 predictions of the design, reusing cached activations of an unchanged prefix."""
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
    out = values[design_graph.output].reshape(problem.data.x_ir.shape[0], -1)
    return np.argmax(out, axis=1)


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
    pred = run_network(problem, design.graph, genome)
    data = problem.data
    if data.labels is not None:
        metric = 100.0 * float(np.mean(pred == data.labels))
    else:
        metric = 100.0 * float(np.mean(pred == data.reference_pred))
    drop = data.baseline - metric
    violations = dict(problem.budget.violations(report.luts, report.ffs, report.dsps,
                                                report.brams))
    # No credit for samples the design gets right by luck where the exact network did not:
    # the search would pick exactly those designs.  Then the sampling margin on top.
    needed = max(drop, 0.0) + sampling_margin(pred, data.reference_pred, problem.confidence_z)
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


def sampling_margin(pred: np.ndarray, reference_pred: np.ndarray, z: float) -> float:
    """``z`` standard errors (percentage points) of the measured drop.

    The drop is the mean of a per-sample difference that is non-zero only where the design's
    top-1 differs from the exact network's; with ``f`` such flips among ``n`` samples its
    standard error is at most ``sqrt(f) / n``.  A design that flips many predictions can look
    harmless on the samples by luck -- and the search, picking the best of hundreds, finds
    such luck -- so the bound must hold with this margin to spare.
    """
    if z <= 0:
        return 0.0
    flips = int(np.count_nonzero(pred != reference_pred))
    return 100.0 * z * float(np.sqrt(flips)) / len(pred)


def fitness(evaluation: Evaluation) -> float:
    """Feasible designs: lower latency first, then fewer LUTs.  Infeasible: below every
    feasible design, ordered by how far they miss (so the GA climbs towards feasibility)."""
    if evaluation.feasible:
        return -(evaluation.latency_cycles + evaluation.luts / 1e9)
    return -1e12 * (1.0 + sum(evaluation.violations.values()))
