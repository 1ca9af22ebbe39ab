"""``hlsgen explore`` as a library call: build the problem, search, and write the products.

Steps (each visible in :func:`explore`): import the model -> pick the evaluation data (labels,
unlabelled, or synthetic) -> compute every layer's ladder once -> genetic search (workers or a
Dask cluster, checkpointed per generation) -> Pareto front, chosen design, uniform baselines ->
``pareto.csv``, ``pareto.json``, ``pareto.png``, ``design.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hlsgen import ir
from hlsgen.errors import HlsgenError
from hlsgen.design import DatapathKind, KindChoice
from hlsgen.explore.costing import pipeline_choices
from hlsgen.explore.devices import Budget
from hlsgen.explore.pareto import (design_json, front_csv, front_json, pareto_front,
                                   plot_front)
from hlsgen.explore.evaluation import (MARGIN_SNR_AT_ONE_POINT, Evaluation, decision_margin,
                                       fitness)
from hlsgen.explore.problem import DEFAULT_LADDER, EvalData, Problem, build_problem
from hlsgen.explore.search import fingerprint_of, genetic_search
from hlsgen.explore.synthetic import MARGIN_SEEDS, synthetic_inputs
from hlsgen.explore.validation import Validation, validate
from hlsgen.explore.workers import Evaluator

__all__ = ["ExploreOptions", "ExploreResult", "NoFeasibleDesign", "explore", "make_eval_data"]

class NoFeasibleDesign(HlsgenError):
    """No evaluated design met every constraint."""

    exit_code = 4


@dataclass(frozen=True)
class ExploreOptions:
    max_accuracy_drop: float = 1.0
    accuracy_margin: float = 0.0  # the bound is enforced this much tighter on the search data
    confidence_z: float = 2.0  # ... and with this many standard errors of the drop to spare
    logit_guard: bool = True  # ... counting at least the flips the logits' noise predicts
    population: int = 16
    generations: int = 12
    seed: int = 0
    workers: int = 2
    scheduler: str | None = None
    resume: bool = False
    clock_mhz: float = 200.0
    ladder: tuple[str, ...] = DEFAULT_LADDER


@dataclass(frozen=True, eq=False)
class ExploreResult:
    problem: Problem
    evaluations: list[Evaluation]
    front: list[Evaluation]
    chosen: Evaluation | None
    baselines: dict[str, Evaluation]  # "exact", "po2", "best uniform (<method>)"
    metric_name: str
    validation: Validation | None = None  # held-out labelled samples, if any
    validation_top1: dict = field(default_factory=dict)  # genome -> top-1 % on them
    max_accuracy_drop: float = 1.0  # the user's bound (the search enforced it minus a margin)

    def validation_row(self, e: Evaluation) -> dict:
        """Validation figures of one design (empty without validation data)."""
        if self.validation is None or e.genome not in self.validation_top1:
            return {}
        top1 = self.validation_top1[e.genome]
        drop = self.validation.baseline - top1
        return {"validation_top1": round(top1, 4), "validation_drop": round(drop, 4),
                "validation_exceeds_bound": bool(drop > self.max_accuracy_drop + 1e-9)}


def make_eval_data(graph: ir.Graph, x_ir: np.ndarray | None, labels: np.ndarray | None,
                   seed: int) -> EvalData:
    """Labelled data -> top-1 vs labels; unlabelled -> agreement with the exact network;
    none -> the output logits' error against the exact network's decision margin on synthetic
    inputs (random fields and class-seeking inputs, :mod:`hlsgen.explore.synthetic`) as a
    predicted top-1 drop; the margin is measured on the inputs of every ``MARGIN_SEEDS``."""
    from hlsgen.reference import execute

    kind = "labelled" if labels is not None else "unlabelled"
    if x_ir is None:
        x_ir = synthetic_inputs(graph, seed)
        kind = "synthetic"
    out = execute(graph, x_ir).reshape(x_ir.shape[0], -1)
    reference_pred = np.argmax(out, axis=1)
    baseline = 100.0 * float(np.mean(reference_pred == labels)) if labels is not None else 100.0
    zero_point = graph.tensor(graph.output).zero_point
    margin_out = out
    if kind == "synthetic":  # the exact network's margin, the same whatever the seed
        margin_out = np.concatenate([
            out if s == seed else execute(graph, synthetic_inputs(graph, s)).reshape(
                -1, out.shape[1])
            for s in MARGIN_SEEDS])
    return EvalData(x_ir, labels, reference_pred, baseline, kind, out, zero_point,
                    decision_margin(margin_out, zero_point))


def explore(graph: ir.Graph, data: EvalData, budget: Budget, options: ExploreOptions,
            outdir: Path, *, cost_fn, progress=None,
            validation: Validation | None = None) -> ExploreResult:
    """The search; ``validation`` (labelled samples it never sees) is measured afterwards for
    the front, the chosen design and the baselines."""
    outdir.mkdir(parents=True, exist_ok=True)
    enforced = options.max_accuracy_drop - options.accuracy_margin
    confidence_z = options.confidence_z
    if data.kind == "synthetic":  # not a sample of real data: no sampling margin
        confidence_z = 0.0
    problem = build_problem(graph, data, max_accuracy_drop=enforced,
                            budget=budget, clock_mhz=options.clock_mhz, cost_fn=cost_fn,
                            ladder=options.ladder,
                            pipeline_choices=pipeline_choices(options.clock_mhz),
                            progress=progress.ladder if progress else None,
                            jobs=1 if options.scheduler else options.workers,
                            confidence_z=confidence_z,
                            logit_guard=options.logit_guard and data.kind != "synthetic")
    fingerprint = fingerprint_of(
        graph=_graph_digest(graph), data=_array_digest(data.x_ir), kind=data.kind,
        # the data-free proxy's calibration: a checkpoint scored by another is not reused
        proxy=[data.margin, MARGIN_SNR_AT_ONE_POINT] if data.kind == "synthetic" else None,
        options={k: v for k, v in options.__dict__.items()
                 if k not in ("workers", "scheduler", "resume", "generations")},
        budget=budget.__dict__)
    baselines_wanted = {"exact": problem.uniform_genome("exact"),
                        "po2": problem.uniform_genome("po2")}
    uniform = {m: problem.uniform_genome(m) for m in options.ladder}
    # Small parts need folded designs: start from digit-serial and multiplexed ones too
    # (a multiplexed layer's cycles shrink with its folded weights' planes: the folded lcc
    # rungs are its natural partners).
    multiplexed = KindChoice(DatapathKind.MULTIPLEXED)
    folded = [problem.uniform_genome("exact", datapath=KindChoice(DatapathKind.SERIAL, 1))]
    first = ("exact", "lcc:sqnr=25,fold=1", "lcc:sqnr=16,fold=1", "po2")
    folded += [problem.uniform_genome(m, datapath=multiplexed) for m in first
               if m in options.ladder]
    # rate-matched: each tree as small as the interval allows (late layers have few pixels),
    # and the smallest designs, every tree over an eighth of its inputs
    folded += [problem.rate_matched_genome(m) for m in ("exact", "lcc:sqnr=25,fold=1")
               if m in options.ladder]
    # and faster ones: every layer's pixel at most 1/2 .. 1/8 of that interval (lanes)
    folded += [problem.rate_matched_genome("exact", speedup) for speedup in (2, 4, 8)]
    folded += [problem.uniform_genome("exact", datapath=KindChoice(DatapathKind.MULTIPLEXED,
                                                                   chunks=8))]
    # every rung multiplexed too (evaluated after the search if the population is full)
    later = [problem.uniform_genome(m, datapath=multiplexed) for m in options.ladder
             if m not in first]
    seeds = list(baselines_wanted.values()) + folded + list(uniform.values()) + later
    with Evaluator(problem, options.workers, options.scheduler) as evaluator:
        state = genetic_search(
            gene_space=problem.gene_space, seeds=seeds, evaluate_batch=evaluator.map,
            fitness=fitness, population_size=options.population,
            generations=options.generations, seed=options.seed, checkpoint_dir=outdir,
            fingerprint=fingerprint, resume=options.resume,
            on_generation=progress.generation if progress else None,
            neighbours=problem.neighbours, encode=Evaluation.to_json,
            decode=Evaluation.from_json)
        missing = [g for g in seeds if g not in state.evaluations]
        for genome, result in zip(missing, evaluator.map(missing)):
            state.evaluations[genome] = result
    evaluations = [state.evaluations[g] for g in sorted(state.evaluations)]
    front = pareto_front(evaluations)
    feasible = [e for e in evaluations if e.feasible]
    chosen = max(feasible, key=fitness) if feasible else None
    baselines = {name: state.evaluations[g] for name, g in baselines_wanted.items()}
    uniform_ok = [state.evaluations[g] for g in uniform.values() if state.evaluations[g].feasible]
    if uniform_ok:
        best = max(uniform_ok, key=fitness)
        baselines[f"best uniform ({_uniform_label(best)})"] = best
    # synthetic: 100 - the predicted top-1 drop (hlsgen.explore.evaluation.predicted_drop)
    metric_name = ("top1" if data.labels is not None else
                   "proxy" if data.kind == "synthetic" else "agreement")
    measured = {}
    if validation is not None:
        shown = front + ([chosen] if chosen else []) + list(baselines.values())
        measured = validate(problem, [e.genome for e in shown], validation)
    return ExploreResult(problem, evaluations, front, chosen, baselines, metric_name,
                         validation, measured, options.max_accuracy_drop)


def write_products(result: ExploreResult, outdir: Path, model_name: str, budget: Budget,
                   data_kind: str, meta: dict | None = None) -> None:
    """``meta``: what the search was run for (model hash, device, part, quantization), written
    into design.json so ``hlsgen generate --design`` can use and check it."""
    extra = {"model": model_name, **(meta or {}), "metric": result.metric_name,
             "data": data_kind,
             "samples": int(result.problem.data.x_ir.shape[0]),
             "baseline": round(result.problem.data.baseline, 4),
             "max_accuracy_drop": result.max_accuracy_drop,
             "accuracy_margin": round(result.max_accuracy_drop
                                      - result.problem.max_accuracy_drop, 6),
             "clock_mhz": result.problem.clock_mhz, "budget": budget.__dict__}
    if result.validation is not None:
        extra["validation"] = {"source": result.validation.source,
                               "samples": int(len(result.validation.labels)),
                               "baseline": round(result.validation.baseline, 4)}
    rows = result.validation_row
    _write(outdir / "pareto.csv", front_csv(result.front, result.metric_name, rows))
    _write(outdir / "pareto.json", front_json(result.front, result.metric_name, extra, rows))
    if result.chosen is not None:
        _write(outdir / "design.json", design_json(result.chosen, result.metric_name, extra,
                                                   rows))
    marks = {k: v for k, v in result.baselines.items() if k in ("exact", "po2")}
    plot_front(outdir / "pareto.png", result.evaluations, result.front, result.chosen, marks,
               budget, result.metric_name, f"{model_name}: {len(result.evaluations)} designs")


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:  # a full disk, an interrupt: no half-written file stays behind
        tmp.unlink(missing_ok=True)
        raise


def _uniform_label(e: Evaluation) -> str:
    methods = sorted(set(e.methods.values()))
    return methods[0] if len(methods) == 1 else "+".join(methods)


def _graph_digest(graph: ir.Graph) -> str:
    h = hashlib.sha256()
    for layer in graph.layers:
        h.update(layer.name.encode())
        for attr in ("weight", "bias"):
            value = getattr(layer, attr, None)
            if value is not None:
                h.update(np.ascontiguousarray(value).tobytes())
    return h.hexdigest()


def _array_digest(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


def summary_rows(result: ExploreResult) -> list[dict]:
    rows = []
    named = ([("chosen", result.chosen)] if result.chosen else []) + list(
        result.baselines.items())
    for name, e in named:
        metric = "top-1" if result.metric_name == "top1" else result.metric_name
        row = {"design": name, "LUTs": f"{round(e.luts):,}", "FFs": f"{round(e.ffs):,}",
               "latency (cycles)": e.latency_cycles, "adders": f"{e.adders:,}",
               metric: f"{e.metric:.2f} %", "drop (points)": f"{e.accuracy_drop:.2f}"}
        if result.validation is not None:
            v = result.validation_row(e)
            row["validation top-1"] = f"{v['validation_top1']:.2f} %" if v else "-"
            row["validation drop"] = f"{v['validation_drop']:.2f}" if v else "-"
        row["feasible"] = "yes" if e.feasible else "no"
        row["fails"] = ", ".join(sorted(e.violations)) or "-"
        rows.append(row)
    return rows


def closest_designs(result: ExploreResult, count: int = 5) -> list[Evaluation]:
    """When nothing is feasible: the designs that miss the constraints by the least."""
    return sorted(result.evaluations, key=lambda e: (sum(e.violations.values()),
                                                      e.latency_cycles))[:count]


def dump_json(path: Path, payload: dict) -> None:
    _write(path, json.dumps(payload, indent=2) + "\n")
