"""``hlsgen decompose MODEL.onnx --method M``: decompose every Conv/Dense layer into shift-add
graphs and print, per layer, the size, adders, depth, sum of adder widths and SQNR."""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from hlsgen.commands import options as opt

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_model(parser)
    opt.add_design_choice(parser)
    opt.add_quantization(parser)
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write the per-layer table and totals as JSON to FILE")
    opt.add_jobs(parser)


def run(args: argparse.Namespace) -> int:
    from hlsgen.commands.generate import design_source
    from hlsgen.decompose.report import design_costs, totals
    from hlsgen.design import apply_design
    from hlsgen.errors import InputError

    opt.check_jobs(args.jobs)
    method, design_file = design_source(args)
    methods = design_file.methods if design_file else method
    start = time.perf_counter()
    graph = opt.load_graph(args.model, opt.quantization_from_args(args))
    timings: dict[str, float] = {}
    design = apply_design(graph, methods, jobs=args.jobs, timings=timings)
    costs = design_costs(graph, design, timings)
    summary = totals(costs)
    summary["wall_seconds"] = round(time.perf_counter() - start, 3)
    _print_table(graph.name, costs, summary)
    if args.json is not None:
        data = {"model": graph.name,
                "method": str(design_file.path) if design_file else method,
                "layers": [c.to_json() for c in costs], "totals": summary}
        try:
            args.json.write_text(json.dumps(data, indent=2) + "\n")
        except OSError as err:
            raise InputError(f"cannot write --json file '{args.json}': {err}") from None
    return 0


def _print_table(name: str, costs, summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from hlsgen.names import markup

    console = Console(width=None if Console().is_terminal else 140)
    table = Table(title=f"{markup(name)}: shift-add decomposition", title_justify="left")
    for column in ("layer", "method", "rows", "cols", "groups", "nonzeros", "adders", "depth",
                   "sum of widths", "SQNR dB", "seconds"):
        table.add_column(column, justify="left" if column in ("layer", "method") else "right")
    for c in costs:
        sqnr = "exact" if math.isinf(c.sqnr_db) and c.sqnr_db > 0 else f"{c.sqnr_db:.1f}"
        table.add_row(markup(c.layer), markup(c.method), str(c.rows), str(c.cols), str(c.groups),
                      str(c.nonzeros), str(c.adders), str(c.depth), str(c.width_sum), sqnr,
                      f"{c.seconds:.2f}")
    table.add_section()
    table.add_row("total", "", "", "", "", str(summary["nonzeros"]), str(summary["adders"]),
                  str(summary["depth"]), str(summary["width_sum"]), "",
                  f"{summary['seconds']:.2f}")
    console.print(table)
    console.print(f"wall time {summary['wall_seconds']:.1f} s")
