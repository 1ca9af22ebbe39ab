"""``hlsgen explore``: genetic search for per-layer decompositions under an accuracy bound and a
device budget; writes the Pareto front and the chosen design."""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from hlsgen.errors import InputError, OutputExistsError
from hlsgen.names import terminal



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="ONNX model (float or int8 QDQ)")
    parser.add_argument("-o", "--out", type=Path, required=True, dest="outdir",
                        help="directory for pareto.csv/json/png, design.json, checkpoint")
    add_search_arguments(parser)
    parser.add_argument("--force", action="store_true",
                        help="replace the products of an earlier search in OUTDIR")


def add_search_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``explore`` and ``build``."""
    from hlsgen.explore.run import ExploreOptions

    d = ExploreOptions()
    parser.add_argument("--data", type=Path,
                        help="samples to measure accuracy on (.npz with x, optional y); "
                        "without it, agreement on synthetic inputs (a data-free proxy)")
    parser.add_argument("--limit", type=int, help="use only the first N samples of --data")
    parser.add_argument("--calibration", type=Path,
                        help="float models: unlabelled samples for activation ranges")
    parser.add_argument("--max-accuracy-drop", type=float, default=d.max_accuracy_drop,
                        metavar="PP", help="allowed top-1 drop (percentage points) against the "
                        "exact integer network, or agreement loss without labels "
                        f"(default {d.max_accuracy_drop})")
    group = parser.add_argument_group("resource budget (default: none, accuracy bound only)")
    group.add_argument("--device", help="Xilinx part or family member, e.g. xc7z020, xczu3eg")
    group.add_argument("--lut-budget", type=int)
    group.add_argument("--ff-budget", type=int)
    group.add_argument("--dsp-budget", type=int)
    group.add_argument("--bram-budget", type=float)
    parser.add_argument("--clock-mhz", type=float, default=d.clock_mhz)
    parser.add_argument("--population", type=int, default=d.population)
    parser.add_argument("--generations", type=int, default=d.generations)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--workers", type=int, default=d.workers,
                        help=f"evaluation processes (default {d.workers})")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="Dask distributed scheduler address (needs hlsgen[dask])")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from OUTDIR/checkpoint.json")


def budget_from_args(args):
    from hlsgen.explore.devices import Budget, budget_for, device

    explicit = [args.lut_budget, args.ff_budget, args.dsp_budget, args.bram_budget]
    if args.device and any(v is not None for v in explicit):
        raise InputError("give either --device or the --*-budget options, not both")
    if any(v is not None for v in explicit):
        missing = [name for name, v in zip(("--lut-budget", "--ff-budget", "--dsp-budget",
                                            "--bram-budget"), explicit) if v is None]
        if missing:
            raise InputError(f"a custom budget needs all four limits; missing {', '.join(missing)}")
        if min(explicit) < 0:
            raise InputError("budgets must be >= 0")
        return Budget(args.lut_budget, args.ff_budget, args.dsp_budget, args.bram_budget, "user")
    if args.device:
        return budget_for(device(args.device))
    return Budget.unconstrained()


def options_from_args(args):
    from hlsgen.explore.run import ExploreOptions

    for name in ("population", "generations", "workers"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.population < 4:
        raise InputError("--population must be >= 4 (the GA needs parents and offspring)")
    if not args.max_accuracy_drop >= 0:  # also refuses nan
        raise InputError(f"--max-accuracy-drop must be a number >= 0 (percentage points), "
                         f"got {args.max_accuracy_drop}")
    if not 0 < args.clock_mhz < float("inf"):
        raise InputError(f"--clock-mhz must be a positive number, got {args.clock_mhz}")
    return ExploreOptions(max_accuracy_drop=args.max_accuracy_drop, population=args.population,
                          generations=args.generations, seed=args.seed, workers=args.workers,
                          scheduler=args.scheduler, resume=args.resume,
                          clock_mhz=args.clock_mhz)


def run_explore(args):
    """Shared by ``explore`` and ``build``: returns (graph, result, budget)."""
    from rich.console import Console

    from hlsgen.commands.common import check_labels, load_data, load_graph
    from hlsgen.explore.costing import explore_cost
    from hlsgen.explore.progress import ExploreProgress
    from hlsgen.explore.run import explore, make_eval_data, write_products
    from hlsgen.reference import quantize_input

    console = Console(stderr=True)
    budget = budget_from_args(args)
    options = options_from_args(args)
    _check_outdir(Path(args.outdir), force=getattr(args, "force", False), resume=args.resume)
    if args.resume:
        from hlsgen.explore.search import read_checkpoint

        read_checkpoint(Path(args.outdir))  # a bad checkpoint fails before the slow steps
    graph = load_graph(args.model, args.calibration)
    x_ir = labels = None
    if args.data is not None:
        x, labels = load_data(args.data, limit=args.limit)
        check_labels(labels, graph.tensor(graph.output).size, args.data)
        x_ir = quantize_input(graph, x)
    else:
        warnings.warn("no --data: accuracy is measured as agreement with the exact integer "
                      "network on synthetic inputs drawn from the input range, a data-free "
                      "proxy for real accuracy", stacklevel=1)
        console.print("[yellow]warning:[/] no --data: top-1 agreement on synthetic inputs is "
                      "a data-free proxy for accuracy")
    data = make_eval_data(graph, x_ir, labels, options.seed)
    started = time.perf_counter()
    created = not Path(args.outdir).exists()
    try:
        with ExploreProgress(console, options.generations) as progress:
            result = explore(graph, data, budget, options, args.outdir, cost_fn=explore_cost,
                             progress=progress)
    except BaseException:
        if created:  # e.g. an unreachable --scheduler: leave no empty OUTDIR behind
            _remove_if_empty(Path(args.outdir))
        raise
    write_products(result, args.outdir, graph.name, budget, data.kind)
    _print_summary(console, result, budget, time.perf_counter() - started)
    return graph, result, budget


# What a search writes into OUTDIR (checkpoint.json is continued by --resume).
PRODUCTS = ("design.json", "pareto.csv", "pareto.json", "pareto.png", "checkpoint.json")


def _check_outdir(outdir: Path, *, force: bool, resume: bool) -> None:
    """Refuse to overwrite an earlier search's products without --force (or --resume)."""
    if outdir.exists() and not outdir.is_dir():
        raise InputError(f"-o {terminal(outdir)} exists and is not a directory; choose another "
                         "-o")
    found = [name for name in PRODUCTS if (outdir / name).exists()]
    if found and not (force or resume):
        raise OutputExistsError(f"{terminal(outdir)} holds the products of an earlier search "
                                f"({', '.join(found)}); pass --resume to continue it, --force "
                                "to replace them, or choose another -o")


def _remove_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


def run(args) -> int:
    from hlsgen.explore.run import NoFeasibleDesign

    _graph, result, _budget = run_explore(args)
    if result.chosen is None:
        raise NoFeasibleDesign(_no_design_message(result))
    print(f"design: {terminal(args.outdir / 'design.json', None)}")
    return 0


def _no_design_message(result) -> str:
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
    limits = (f"budget {budget.source}: {budget.luts} LUTs, {budget.ffs} FFs" if budget.limited
              else "no resource budget")
    table = Table(title=f"explore: {len(result.evaluations)} designs evaluated in "
                  f"{seconds:.0f} s; {len(result.front)} on the Pareto front; {limits}")
    for key in rows[0] if rows else []:
        table.add_column(key, justify="right" if key not in ("design", "fails") else "left")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
