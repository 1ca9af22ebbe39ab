"""``hlsgen explore``: genetic search for per-layer decompositions under an accuracy bound and a
device budget; writes the Pareto front and the chosen design (design.json)."""

from __future__ import annotations

import argparse
import math
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from hlsgen.commands import options as opt
from hlsgen.errors import InputError, OutputExistsError
from hlsgen.names import terminal

__all__ = ["add_arguments", "add_search_arguments", "run", "search", "SearchOutcome"]

# What a search directory holds; an existing one is refused unless --force or --resume.
PRODUCTS = ("design.json", "pareto.csv", "pareto.json", "pareto.png", "checkpoint.json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_model(parser)
    opt.add_output(parser, "search directory: pareto.csv/json/png, design.json, checkpoint")
    add_search_arguments(parser)


def add_search_arguments(parser: argparse.ArgumentParser) -> None:
    """Every option of the search; ``build`` adds these too, so both mean the same."""
    opt.add_data(parser, required=False,
                 purpose="samples to measure accuracy on; without it, the error of the output "
                 "logits on synthetic inputs (a data-free proxy)")
    opt.add_quantization(parser)
    opt.add_target(parser, budget_default=True)
    opt.add_budget(parser)
    opt.add_search(parser)
    opt.add_jobs(parser)


@dataclass(frozen=True)
class SearchOutcome:
    graph: object  # ir.Graph
    result: object  # ExploreResult
    budget: object  # Budget
    quantization: opt.Quantization
    part: str
    clock_mhz: float


def explore_options(args):
    from hlsgen.explore.run import ExploreOptions

    for name in ("population", "generations", "limit"):
        opt.check_positive(f"--{name}", getattr(args, name))
    opt.check_jobs(args.jobs)
    if args.population < 4:
        raise InputError("--population must be >= 4 (the GA needs parents and offspring)")
    drop, margin = args.max_accuracy_drop, args.accuracy_margin
    if not drop == drop or drop < 0 or drop > 100:  # NaN fails the first test
        raise InputError(f"--max-accuracy-drop must be between 0 and 100 points, got {drop}")
    if not margin == margin or margin < 0 or margin > drop:
        raise InputError(f"--accuracy-margin must be between 0 and --max-accuracy-drop "
                         f"({drop:g}), got {margin}")
    _dev, _part, clock = opt.target_from_args(args, default_device=None)
    z = args.confidence
    if not z == z or not 0 <= z <= 10:
        raise InputError(f"--confidence must be between 0 and 10 standard errors, got {z}")
    return ExploreOptions(max_accuracy_drop=drop, accuracy_margin=margin, confidence_z=z,
                          logit_guard=args.logit_guard, population=args.population,
                          generations=args.generations, seed=args.seed, workers=args.jobs,
                          scheduler=args.scheduler, resume=args.resume, clock_mhz=clock)


def check_search_dir(outdir: Path, *, force: bool, resume: bool) -> None:
    """Refuse to overwrite an earlier search's products (before any slow step)."""
    if outdir.exists() and not outdir.is_dir():
        raise InputError(f"-o {terminal(outdir)} exists and is not a directory; choose "
                         "another -o")
    existing = [name for name in PRODUCTS if (outdir / name).exists()]
    if existing and not (force or resume):
        raise OutputExistsError(f"{terminal(outdir)} already holds the products of a search "
                                f"({', '.join(existing)}); pass --force to replace them, "
                                "--resume to continue that search, or choose another -o")


def search(args, outdir: Path) -> SearchOutcome:
    """The search as ``explore`` and ``build`` run it: import, search, write the products."""
    from rich.console import Console

    from hlsgen.commands.common import check_labels, load_data
    from hlsgen.explore.costing import explore_cost
    from hlsgen.explore.progress import ExploreProgress
    from hlsgen.explore.run import dump_json, explore, make_eval_data, write_products
    from hlsgen.explore.validation import stratified_split, validation_data
    from hlsgen.reference import quantize_input

    console = Console(stderr=True, width=None if Console(stderr=True).is_terminal else 160)
    options = explore_options(args)  # checks --device's spelling before the budget reads it
    budget = opt.budget_from_args(args)
    _dev, part, clock = opt.target_from_args(args)
    quantization = opt.quantization_from_args(args)
    check_search_dir(outdir, force=args.force, resume=args.resume)
    if args.resume:
        from hlsgen.explore.search import read_checkpoint

        read_checkpoint(outdir)  # a bad checkpoint fails before the slow steps
    graph = opt.load_graph(args.model, quantization)
    x_ir = labels = None
    validation = split = None
    if args.validation is not None:
        x_val, y_val = load_data(args.validation, need_labels=True)
        check_labels(y_val, graph.tensor(graph.output).size, args.validation)
        validation = validation_data(graph, quantize_input(graph, x_val), y_val, "file")
    if args.data is not None:
        x, labels = load_data(args.data, limit=args.limit)
        check_labels(labels, graph.tensor(graph.output).size, args.data)
        if labels is not None and validation is None:
            # The bound is enforced on one part; the other only measures what it chose.
            split = stratified_split(labels, args.validation_fraction, args.seed)
            validation = validation_data(graph, quantize_input(graph, x[split.validation]),
                                         labels[split.validation], "split")
            x, labels = x[split.search], labels[split.search]
        x_ir = quantize_input(graph, x)
    else:
        console.print("[yellow]note:[/] no --data: accuracy is a top-1 drop predicted from the "
                      "output logits' error on synthetic inputs against the exact network's "
                      "decision margins, a data-free proxy")
    data = make_eval_data(graph, x_ir, labels, options.seed)
    started = time.perf_counter()
    created = not outdir.exists()
    try:
        with ExploreProgress(console, options.generations) as progress:
            result = explore(graph, data, budget, options, outdir, cost_fn=explore_cost,
                             progress=progress, validation=validation)
    except BaseException:
        if created:  # e.g. an unreachable --scheduler: leave no empty OUTDIR behind
            _remove_if_empty(outdir)
        raise
    meta = {"model_sha256": opt.file_sha256(args.model), "device": args.device,
            "part": part, "quantization": quantization.record()}
    write_products(result, outdir, graph.name, budget, data.kind, meta)
    if split is not None:
        dump_json(outdir / "split.json", {
            "data": args.data.name, "data_sha256": opt.file_sha256(args.data),
            "limit": args.limit, "seed": args.seed, "fraction": args.validation_fraction,
            "search": split.search.tolist(), "validation": split.validation.tolist()})
    _print_summary(console, result, budget, time.perf_counter() - started)
    return SearchOutcome(graph, result, budget, quantization, part, clock)


def _remove_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


def run(args) -> int:
    from hlsgen.explore.run import NoFeasibleDesign

    outcome = search(args, args.outdir)
    if outcome.result.chosen is None:
        raise NoFeasibleDesign(no_design_message(outcome.result))
    design = args.outdir / "design.json"
    print(f"design: {terminal(design, None)}\npareto plot: "
          f"{terminal(args.outdir / 'pareto.png', None)}")
    print("next: " + terminal(shlex.join(
        ["hlsgen", "generate", str(args.model), "-o",
         str(args.outdir.with_name(args.outdir.name + "_project")), "--design", str(design)]
        + _quantization_words(outcome.quantization)), None))
    return 0


def _quantization_words(q: opt.Quantization) -> list[str]:
    if q.calibration is not None:
        return ["--calibration", str(q.calibration)]
    if q.input_range is not None:
        return ["--input-range", *(f"{v:g}" for v in q.input_range)]
    return []


def no_design_message(result) -> str:
    from hlsgen.explore.run import closest_designs

    lines = [f"no design meets every constraint among {len(result.evaluations)} evaluated; "
             "closest designs (constraint: relative excess):"]
    for e in closest_designs(result):
        fails = ", ".join(f"{k} +{v:.1%}" for k, v in sorted(e.violations.items()))
        lines.append(f"  LUTs {e.luts:.0f}, FFs {e.ffs:.0f}, latency {e.latency_cycles}, "
                     f"{result.metric_name} {e.metric:.2f}% -> fails {fails}")
    lines.append("relax --max-accuracy-drop, choose a larger --device, or raise the budgets")
    return "\n".join(lines)


def _print_summary(console, result, budget, seconds) -> None:
    from rich.table import Table

    from hlsgen.explore.run import summary_rows

    rows = summary_rows(result)
    limits = (f"budget {budget.source}: {budget.luts:,} LUTs, {budget.ffs:,} FFs"
              if budget.limited else "no resource budget")
    table = Table(title=f"explore: {len(result.evaluations)} designs evaluated in "
                  f"{seconds:.0f} s; {len(result.front)} on the Pareto front; {limits}")
    for key in rows[0] if rows else []:
        table.add_column(key, justify="left" if key in ("design", "fails") else "right")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
    data = result.problem.data
    if data.kind == "synthetic":
        from hlsgen.explore.evaluation import MARGIN_SNR_AT_ONE_POINT
        from hlsgen.explore.synthetic import MARGIN_SEEDS

        bound = MARGIN_SNR_AT_ONE_POINT - 10 * math.log10(max(result.problem.max_accuracy_drop,
                                                              1e-3))
        console.print(f"data-free: the RMS error of the output logits on {len(data.x_ir)} "
                      f"synthetic inputs had to stay >= {bound:.1f} dB below the exact "
                      f"network's median decision margin ({data.margin:g}, on the "
                      f"synthetic inputs of seeds {MARGIN_SEEDS[0]}-{MARGIN_SEEDS[-1]}; the "
                      "calibrated proxy for a top-1 drop "
                      f"of {result.max_accuracy_drop:g} points; docs/explore.md)")
    if result.validation is not None:
        v = result.validation
        console.print(f"validation: {len(v.labels)} labelled samples the search never saw "
                      f"({'held out of --data' if v.source == 'split' else '--validation'}); "
                      f"exact integer network {v.baseline:.2f} %")
        row = result.validation_row(result.chosen) if result.chosen is not None else {}
        if row.get("validation_exceeds_bound"):
            console.print(f"[bold red]warning:[/] the chosen design loses "
                          f"{row['validation_drop']:.2f} points on the validation samples, more "
                          f"than --max-accuracy-drop {result.max_accuracy_drop:g}; raise "
                          "--accuracy-margin or give more --data")
    if result.chosen is not None:
        methods = Table(title="chosen design, per layer")
        for column in ("layer", "method", "datapath", "adder levels per register"):
            methods.add_column(column)
        for layer, method in result.chosen.methods.items():
            methods.add_row(layer, method, result.chosen.kinds.get(layer, "parallel"),
                            str(result.chosen.pipeline.get(layer, "-")))
        console.print(methods)
