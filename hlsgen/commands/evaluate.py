"""``hlsgen evaluate``: the source model (onnxruntime) against hlsgen's exact integer reference.

Runs the source model, the numpy integer reference and -- as a cross-check that must hold
exactly -- the exported integer ONNX in onnxruntime on the same samples, then reports top-1,
top-1 agreement and the largest difference of the logits in integer units.  With
``--method`` it also evaluates an approximated design (shift-add weights) of the network.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from hlsgen import ir
from hlsgen.errors import DataError, InputError

__all__ = ["add_arguments", "run", "evaluate", "EvaluationMismatch"]


class EvaluationMismatch(RuntimeError):
    """Internal error: the exported integer ONNX and the numpy executor disagree (a bug)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hlsgen.commands import options as opt

    opt.add_model(parser)
    opt.add_data(parser, required=True, purpose="samples to evaluate")
    opt.add_quantization(parser)
    opt.add_design_choice(parser)
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write the results as JSON")


def run(args: argparse.Namespace) -> int:
    from hlsgen.commands import options as opt

    started = time.perf_counter()
    quantization = opt.quantization_from_args(args)
    method = args.method
    if args.design is not None:
        method = str(args.design)
    elif method is not None and not method.strip():
        raise InputError("--method is empty; give exact, po2, terms:K, lcc[:...] or a design "
                         "file")
    result = evaluate(args.model, args.data, calibration=quantization.calibration,
                      input_range=quantization.input_range, limit=args.limit, method=method,
                      show_progress=True)
    _print_table(result, args.model, time.perf_counter() - started)
    if args.json is not None:
        _write_json(args.json, result)
    return 0


def evaluate(
    model_path: Path,
    data_path: Path,
    *,
    calibration: Path | None = None,
    input_range: tuple[float, float] | None = None,
    limit: int | None = None,
    method: str | None = None,
    show_progress: bool = False,
) -> dict:
    """The numbers ``hlsgen evaluate`` reports, as a JSON-ready dict (see docs/reference.md)."""
    from hlsgen.commands.common import check_input_range, check_labels, load_data
    from hlsgen.frontend import import_model, load_onnx
    from hlsgen.reference import execute, export_onnx, quantize_input, run_onnx
    from hlsgen.reference.source import check_source_data, run_source

    if calibration is not None and input_range is not None:
        raise InputError("give --calibration or --input-range, not both (--input-range is "
                         "the data-free alternative to calibration samples)")
    check_input_range(input_range)
    if method is not None and not method.strip():
        raise InputError("--method is empty; give exact, po2, terms:K, lcc[:...] or a JSON "
                         "file of per-layer methods")
    x, y = load_data(Path(data_path), limit)
    model = load_onnx(model_path)
    try:
        check_source_data(model, x)  # shape and dtype errors before the slower steps
    except DataError as err:
        raise DataError(f"{data_path}: {err}") from None
    cal_x = load_data(Path(calibration))[0] if calibration is not None else None
    graph = import_model(model, calibration=cal_x,
                         data_free_input_range=tuple(input_range) if input_range else None)
    check_labels(y, graph.tensor(graph.output).size, Path(data_path))
    design = _design_graph(graph, method) if method is not None else None
    n = len(x)
    with _progress(show_progress) as task:
        source = run_source(model, graph, x, progress=task("source model (onnxruntime)", n))
        x_ir = quantize_input(graph, x)
        integer = execute(graph, x_ir, progress=task("integer reference (numpy)", n))
        checked, expected = graph, integer
        if design is not None:
            expected = execute(design, x_ir, progress=task(f"design '{method}' (numpy)", n))
            checked = design
        exported = run_onnx(export_onnx(checked), x_ir,
                            progress=task("exported integer ONNX (onnxruntime)", n))
    _check_export(checked, exported, expected)

    source_flat = source.reshape(n, -1)
    integer_flat = integer.reshape(n, -1)
    if source_flat.shape != integer_flat.shape:
        raise EvaluationMismatch(
            f"internal error: source tensor '{graph.output_source}' has {source_flat.shape[1]} "
            f"values per sample, IR output '{graph.output}' has {integer_flat.shape[1]}")
    source_q, units = _source_in_integer_units(graph, source_flat)
    source_top, integer_top = source_flat.argmax(axis=1), integer_flat.argmax(axis=1)
    result: dict = {"model": str(model_path), "samples": n}
    if y is not None:
        result["source_top1"] = _percent(source_top == y)
        result["integer_top1"] = _percent(integer_top == y)
    result["top1_agreement"] = _percent(integer_top == source_top)
    result["max_abs_diff"] = int(np.abs(integer_flat - source_q).max())
    result["max_abs_diff_units"] = units
    result["export_matches"] = True  # _check_export raised otherwise
    if design is not None:
        design_top = expected.reshape(n, -1).argmax(axis=1)
        result["design_method"] = method
        if y is not None:
            result["design_top1"] = _percent(design_top == y)
        result["design_agreement"] = _percent(design_top == integer_top)
    result["notes"] = list(graph.notes)
    return result


# -- steps ----------------------------------------------------------------------------------
def _design_graph(graph: ir.Graph, method: str) -> ir.Graph:
    from hlsgen.design import apply_design

    spec: str | Path | dict = method
    if method.endswith(".json") or Path(method).is_file():
        from hlsgen.commands.generate import read_design_file

        spec = read_design_file(Path(method)).methods  # design.json or {layer: method}
    return apply_design(graph, spec).graph


def _check_export(graph: ir.Graph, exported: np.ndarray, expected: np.ndarray) -> None:
    if exported.shape == expected.shape and np.array_equal(exported, expected):
        return
    if exported.shape != expected.shape:
        detail = f"shapes {exported.shape} vs {expected.shape}"
    else:
        wrong = np.argwhere(exported != expected)
        first = tuple(int(i) for i in wrong[0])
        detail = (f"{len(wrong)} element(s) differ, first at {first}: onnxruntime "
                  f"{exported[first]} vs numpy {expected[first]}")
    raise EvaluationMismatch(
        f"internal error: the exported integer ONNX of '{graph.name}' disagrees with the numpy "
        f"executor ({detail}); please report this with the model")


def _source_in_integer_units(graph: ir.Graph, source: np.ndarray) -> tuple[np.ndarray, str]:
    """The source outputs in the IR output's integer units, and a sentence saying how."""
    from hlsgen.reference.executor import quantize_linear

    out = graph.tensor(graph.output)
    if np.issubdtype(source.dtype, np.floating):
        units = (f"integer units of IR output '{graph.output}': the float source logits "
                 f"'{graph.output_source}' quantized with its scale {out.scale:.9g} and zero "
                 f"point {out.zero_point} (round half to even, saturate to {out.dtype.value})")
        return quantize_linear(source, out), units
    units = f"integer units: the source model's quantized logits '{graph.output_source}'"
    return source.astype(np.int64), units


def _percent(hits: np.ndarray) -> float:
    return round(100.0 * float(np.mean(hits)), 4)


# -- output ---------------------------------------------------------------------------------
@contextmanager
def _progress(enabled: bool):
    """Yields ``task(label, total) -> advance(k)``; a rich progress bar on a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True,
                  disable=not (enabled and console.is_terminal)) as bar:

        def task(label: str, total: int) -> Callable[[int], None]:
            task_id = bar.add_task(label, total=total)
            return lambda k: bar.advance(task_id, k)

        yield task


def _print_table(result: dict, model: Path, seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    from hlsgen.names import markup

    table = Table(title=f"{markup(model.parent.name)}/{markup(model.name)}: {seconds:.1f} s")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key in ("model", "notes", "max_abs_diff_units"):
            continue
        text = f"{value:.2f} %" if isinstance(value, float) else str(value)
        table.add_row(key, text)
    console = Console()
    console.print(table)
    console.print(f"max_abs_diff is in {result['max_abs_diff_units']}")
    for note in result["notes"]:
        console.print(f"note: {markup(note, None)}")


def _write_json(path: Path, result: dict) -> None:
    try:
        path.write_text(json.dumps(result, indent=2) + "\n")
    except OSError as err:
        raise InputError(f"cannot write --json file '{path}': {err.strerror}; check that the "
                         "directory exists and is writable") from None
