"""The co-design problem the GA solves: genes, candidate ladders, decoding and seeds.

Genome layout (evaluating one: :mod:`hlsgen.explore.evaluation`): for every weight layer (Conv/Dense, graph order) one gene choosing a rung of that
layer's *ladder* of decompositions, then one gene per weight layer choosing how many adder
levels sit between pipeline registers in its trees, then one gene per weight layer choosing
its datapath (:data:`DATAPATH_CHOICES`: parallel, or digit-serial at D bits per cycle).  Decoding and evaluating a genome are pure
functions of the genome and the (immutable) problem, so any process can evaluate any genome.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from hlsgen import ir
from hlsgen.decompose.methods import parse_method
from hlsgen.design import (CHUNKS, LANES, DatapathKind, Design, KindChoice, LayerImpl,
                           approximated_layer, decompose_tasks, weight_layers)
from hlsgen.errors import CostModelError
from hlsgen.hw import multiplexed
from hlsgen.hw.plan import plan_hardware
from hlsgen.explore.folding import rate_matched_kinds
from hlsgen.explore.devices import Budget

__all__ = [
    "DEFAULT_LADDER",
    "PIPELINE_CHOICES",
    "DATAPATH_CHOICES",
    "Candidate",
    "EvalData",
    "Problem",
    "build_problem",
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
# choice), then adder trees shared by the output channels: 16, 8, 4 or 2 side by side (lanes),
# one over all of a channel's inputs, or one over 1/2, 1/4, 1/8 of them (late layers have few
# pixels: their time is cheap).
DATAPATH_CHOICES = ((KindChoice(),) + tuple(KindChoice(DatapathKind.SERIAL, d)
                                            for d in (16, 8, 4, 2, 1))
                    + tuple(KindChoice(DatapathKind.MULTIPLEXED, lanes=p) for p in LANES[:0:-1])
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
    Synthetic inputs (no data at all): metric = 100 - the top-1 drop predicted from the output
    logits' error against the exact network's decision ``margin`` on them
    (:func:`hlsgen.explore.evaluation.predicted_drop`).
    """

    x_ir: np.ndarray
    labels: np.ndarray | None
    reference_pred: np.ndarray  # exact integer network's top-1 per sample
    baseline: float  # the exact network's metric value (top-1 %, or 100 for agreement)
    kind: str  # "labelled", "unlabelled" or "synthetic"
    reference_out: np.ndarray | None = None  # the exact network's outputs [samples, classes]
    output_zero_point: int = 0
    margin: float = 1.0  # synthetic: the exact network's median top-2 logit gap (MARGIN_SEEDS)


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
    # Real samples: the sampling margin counts at least the flips the output logits' noise
    # predicts (evaluation.expected_flips), not only the ones the samples happened to show.
    logit_guard: bool = False
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
        """The datapath of every weight layer (a grouped Conv's tree is not chunked; lanes as
        many as divide the layer's channels)."""
        n = len(self.ladders)
        out = {}
        for ladder, g in zip(self.ladders, genome[2 * n:3 * n]):
            choice, layer = self.datapath_choices[g], ladder[0].layer
            if layer.name in self.grouped:
                choice = replace(choice, chunks=1)
            if choice.lanes > 1:
                choice = replace(choice, lanes=multiplexed.lane_count(layer, choice.lanes))
            out[layer.name] = choice
        return out

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
                                                  chunks=choice.chunks, lanes=choice.lanes)
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

    def rate_matched_genome(self, method: str, speedup: int = 1) -> tuple[int, ...]:
        """``method`` multiplexed everywhere, each layer matched to ``1/speedup`` of the
        interval the one-tree design has: a layer with time to spare gets a tree over a
        chunk of its inputs (as many chunks as fit), a layer over that period gets as few
        lanes as bring it under (layers with few pixels get small trees at no cost in
        throughput).  ``speedup`` 1 is the search's smallest fast seed; 2, 4, 8 seed faster
        and larger designs along the Pareto front."""
        whole = KindChoice(DatapathKind.MULTIPLEXED)
        genome = list(self.uniform_genome(method, datapath=whole))
        design, _ = self.design(tuple(genome))
        try:
            plan = plan_hardware(design)
        except CostModelError:  # not timeable: the uniform design, as the search would see it
            return tuple(genome)
        n = len(self.ladders)
        for name, choice in rate_matched_kinds(plan, speedup).items():
            i = self.layer_names.index(name)
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


def build_problem(graph: ir.Graph, data: EvalData, *, max_accuracy_drop: float, budget: Budget,
                  clock_mhz: float, cost_fn, ladder=DEFAULT_LADDER,
                  pipeline_choices=PIPELINE_CHOICES, progress=None, jobs: int = 1,
                  confidence_z: float = 0.0, logit_guard: bool = False) -> Problem:
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
                   budget, clock_mhz, cost_fn, confidence_z=confidence_z,
                   logit_guard=logit_guard)


def _sqnr_db(exact_weight: np.ndarray, new_layer, old_layer) -> float:
    """SQNR of the approximated layer's real weights (weight * requant scale) vs the exact ones."""
    def real(layer):
        scale = layer.requant.multiplier * np.exp2(-layer.requant.shift.astype(np.float64))
        return layer.weight.reshape(layer.weight.shape[0], -1) * scale[:, None]
    ref, got = real(old_layer), real(new_layer)
    noise = float(np.sum((ref - got) ** 2))
    signal = float(np.sum(ref ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(signal / noise)
