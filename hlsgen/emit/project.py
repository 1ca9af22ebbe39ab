"""The generated project directory: HLS and RTL sources, vectors, reference ONNX, scripts.

:func:`project_files` assembles ``{relative path: text or bytes}`` for one design; nothing here
touches the disk (:mod:`hlsgen.emit.writer` does).  Test vectors come from
:func:`reference_vectors`: onnxruntime running the design's integer ONNX export, checked equal
to the numpy executor -- the two references must agree exactly before any hardware is
compared with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

import hlsgen
from hlsgen.emit import common, rtl
from hlsgen.emit.common import CoreName
from hlsgen.emit.dataflow import MIN_FIFO_DEPTH, DataflowPlan, plan_dataflow
from hlsgen.errors import CostModelError
from hlsgen.hw.resources import estimate_design
from hlsgen.hw.target import Target
from hlsgen.emit.hls import render_hls

__all__ = ["Vectors", "ProjectInfo", "reference_vectors", "random_inputs", "project_files",
           "vector_text", "check_printable"]

_PRINTABLE_TEXT = re.compile(r"[\t\n\x20-\x7e]*")


@dataclass(frozen=True, eq=False)
class Vectors:
    """Test frames in IR order: ``inputs`` int64 [N, H*W*C], ``expected`` int64 [N, size]."""

    inputs: np.ndarray
    expected: np.ndarray
    origin: str  # where the inputs came from, for the README
    onnx_model: bytes  # the integer ONNX that produced ``expected``


@dataclass(frozen=True)
class ProjectInfo:
    """Provenance written into the README: nothing that changes between identical runs."""

    model: str  # the source model's file name
    model_sha256: str
    command: str  # an hlsgen command line that regenerates the project
    accuracy: str = ""  # how accurate the design is, and on what data (from hlsgen explore)


def random_inputs(graph, count: int, seed: int = 0) -> np.ndarray:
    """int64 [count, H*W*C], uniform over the input type's range, a pure function of seed."""
    tensor = graph.tensor(graph.input)
    rng = np.random.default_rng(seed)
    return rng.integers(tensor.dtype.qmin, tensor.dtype.qmax + 1, size=(count, tensor.size),
                        dtype=np.int64)


def reference_vectors(design, x_ir: np.ndarray, origin: str) -> Vectors:
    """Expected outputs of ``x_ir`` from onnxruntime on ``export_onnx(design.graph)``."""
    from hlsgen.reference import execute, export_onnx, run_onnx

    x_ir = np.asarray(x_ir, dtype=np.int64)
    model = export_onnx(design.graph)
    n = x_ir.shape[0]
    expected = np.asarray(run_onnx(model, x_ir)).reshape(n, -1)
    numpy_ref = np.asarray(execute(design.graph, x_ir)).reshape(n, -1)
    if not np.array_equal(expected, numpy_ref):
        bad = int(np.sum(np.any(expected != numpy_ref, axis=1)))
        raise AssertionError(f"internal error: onnxruntime and the numpy executor disagree on "
                             f"{bad} of {n} frames of '{design.graph.name}'; please report it")
    return Vectors(x_ir, expected.astype(np.int64), origin, model.SerializeToString())


def vector_text(rows: np.ndarray) -> str:
    """One frame per line, space-separated decimal integers."""
    return "".join(" ".join(str(int(v)) for v in row) + "\n" for row in np.asarray(rows))


def project_files(design, options: Target, vectors: Vectors, info: ProjectInfo,
                  core: CoreName | None = None) -> dict[str, str | bytes]:
    """Every file of the project directory, keyed by its path relative to the project;
    ``core``: the name its modules and functions carry (``--name``, default ``hlsgen``)."""
    core = core or CoreName()
    plan = plan_dataflow(design, options, core)
    files: dict[str, str | bytes] = dict(render_hls(plan))
    files.update(rtl.emit_rtl(design, options, core))
    files.update(rtl.testbench_files())
    files["tb/input.txt"] = vector_text(vectors.inputs)
    files["tb/expected.txt"] = vector_text(vectors.expected)
    files["reference/design_int.onnx"] = vectors.onnx_model
    context = _context(plan, design, vectors, info)
    env = common.template_env("project")
    for name in ("Makefile", "README.md", "vivado/build_bitstream.tcl", "vivado/package_ip.tcl",
                 "vivado/constraints.xdc"):
        files[name] = env.get_template(f"{name}.j2").render(**context)
    check_printable(files)
    return files


def check_printable(files: dict[str, str | bytes]) -> None:
    """Every text file is printable ASCII lines: a model name that slipped past the
    ``printable`` filter must not reach a compiler (internal invariant)."""
    for path, text in files.items():
        if isinstance(text, str) and not _PRINTABLE_TEXT.fullmatch(text):
            bad = _PRINTABLE_TEXT.sub("", text)[:1]
            raise AssertionError(f"internal error: generated file {path} holds the character "
                                 f"{bad!r}; please report it")


def _cost_report(design, options: Target):
    """Predicted resources and latency of the Verilog from the hardware plan, or the reason
    why there are none (the resource model raises rather than guess)."""
    try:
        return estimate_design(design, options), None
    except CostModelError as err:
        return None, str(err)


@dataclass(frozen=True)
class _Use:
    resource: str
    predicted: str
    available: str
    percent: str


def _fit(report, part: str) -> dict | None:
    """Predicted use of each resource of the part and the fit verdict (None when the part is
    not in the device table or there is no prediction)."""
    from hlsgen.explore.devices import utilization

    if report is None:
        return None
    used = {"luts": report.luts, "ffs": report.ffs, "dsps": report.dsps, "brams": report.brams}
    fit = utilization(used, part, "hlsgen cost model")
    if fit is None:
        return None
    rows = [_Use(name, f"{r['used']:,.0f}" if name != "BRAM36" else f"{r['used']:g}",
                 f"{r['available']:,}", f"{r['percent']:.1f} %")
            for name, r in fit["resources"].items()]
    return {"device": fit["device"], "rows": rows, "verdict": fit["verdict"]}


@dataclass(frozen=True)
class _LayerRow:
    index: int
    name: str
    kind: str
    shape: str
    method: str
    adders: str
    source: tuple[str, ...]  # ONNX node names, raw (templates apply |printable)


def _shape(t) -> str:
    return f"{t.height}x{t.width}x{t.channels}"


def _layer_rows(plan: DataflowPlan) -> list[_LayerRow]:
    rows = []
    for i, p in enumerate(plan.layers):
        ins = " + ".join(_shape(t) for t in p.inputs)
        rows.append(_LayerRow(
            index=i, name=p.name, kind=p.kind.value, shape=f"{ins} -> {_shape(p.output)}",
            method=p.method, adders=str(p.adder_count) if p.method != "-" else "-",
            source=tuple(p.source)))
    return rows


def _context(plan: DataflowPlan, design, vectors: Vectors, info: ProjectInfo) -> dict:
    options = plan.target
    residual = [s for s in plan.streams if s.depth > MIN_FIFO_DEPTH]  # the Adds' FIFOs
    report, no_report = _cost_report(design, options)
    graph = design.graph
    return dict(
        input_q=graph.tensor(graph.input), output_q=graph.tensor(graph.output),
        float_input=graph.source_input_dtype.startswith("float"),
        fit=_fit(report, options.part),
        name=plan.name, core=plan.core, top=plan.core.top, version=hlsgen.__version__,
        part=options.part, clock_mhz=f"{options.clock_mhz:g}",
        period=f"{options.clock_period_ns:.3f}",
        input=plan.input, output=plan.output, layers=_layer_rows(plan),
        adders=sum(p.adder_count for p in plan.layers), forks=plan.forks, residual=residual,
        frames=int(vectors.inputs.shape[0]), origin=vectors.origin, info=info,
        cost=report, no_cost=no_report, levels=options.adder_levels(),
    )
