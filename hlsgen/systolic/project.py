"""A simulation project of one layer on the array: ``rtl/`` (:func:`emit_systolic`) and
``tb/`` -- hlsgen's own cocotb testbench and runner, unchanged, with vectors from the
reference executor -- so :func:`hlsgen.verify.sim.simulate` runs it like any hlsgen design.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hlsgen import ir
from hlsgen.emit.common import CoreName
from hlsgen.emit.rtl import testbench_files
from hlsgen.reference import execute
from hlsgen.systolic.emit import emit_systolic
from hlsgen.systolic.plan import ArrayShape, SystolicPlan, plan_layer
from hlsgen.verify.sim import write_vectors

__all__ = ["write_sim_project"]


def write_sim_project(outdir: Path, graph: ir.Graph, shape: ArrayShape, x_ir: np.ndarray,
                      core: CoreName | None = None) -> SystolicPlan:
    """Write ``outdir/rtl`` and ``outdir/tb`` for ``graph``'s single layer; the plan."""
    plan = plan_layer(graph, shape)
    outdir = Path(outdir)
    files = {**emit_systolic(plan, core), **testbench_files()}
    for rel, text in files.items():
        path = outdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    write_vectors(outdir / "tb", x_ir, execute(graph, x_ir))
    return plan



def _vector_text(values: np.ndarray) -> str:
    """One frame per line, IR order, decimal integers (what ``write_vectors`` writes)."""
    rows = np.asarray(values, dtype=np.int64).reshape(len(values), -1)
    return "".join(" ".join(map(str, r.tolist())) + "\n" for r in rows)


def network_project_files(graph: ir.Graph, shape: ArrayShape, x_ir: np.ndarray,
                          core: CoreName | None = None, depthwise: bool = True,
                          pe: str = "dsp", **plan_options):
    """The plan and ``{path: text}`` of a whole-network project: ``rtl/``, ``hls/`` (the same
    engine in HLS C++, :mod:`~hlsgen.systolic.nethls`) with a ``Makefile`` for ``make csim``,
    hlsgen's ``tb/`` with vectors from the reference executor, and a README saying how to
    simulate it (``pe``: ``"dsp"`` or ``"shiftadd"``, see
    :func:`~hlsgen.systolic.network.plan_network`; ``plan_options``: its other arguments)."""
    from hlsgen.systolic.netemit import emit_network
    from hlsgen.systolic.nethls import emit_network_hls
    from hlsgen.systolic.nettiming import network_cycle_model
    from hlsgen.systolic.network import plan_network
    from hlsgen.systolic.report import utilization_markdown, utilization_rows

    plan = plan_network(graph, shape, depthwise, pe, **plan_options)
    timing = network_cycle_model(plan)
    files = {**emit_network(plan, core), **emit_network_hls(plan, core), **testbench_files()}
    files["tb/input.txt"] = _vector_text(x_ir)
    files["tb/expected.txt"] = _vector_text(execute(graph, x_ir))
    if plan.weight_source == "stream":  # what the testbench feeds w_stream every frame
        from hlsgen.systolic.weights import weight_stream_text

        files["tb/weights.txt"] = weight_stream_text(plan)
    streamed = (
        "Weights: streamed from off-chip memory through the AXI4-Stream port `w_stream` "
        f"({plan.tiles * shape.rows:,} words of {shape.cols} int8 weights a frame, the order "
        "of `hlsgen.systolic.weights.weight_stream`: `tb/weights.txt`, which the testbench and "
        f"`make csim` stream every frame) into a {plan.ring_depth}-word ring buffer per array "
        "row; see docs/systolic-shiftadd.md, \"Weights from DDR\".\n\n"
        if plan.weight_source == "stream" else "")
    kind = ("shift-add PEs, no DSP: one Booth digit per PE and cycle, B cycles per beat"
            if pe == "shiftadd" else "DSP baseline")
    files["README.md"] = (
        f"# {graph.name} on a {shape} systolic array ({kind})\n\n"
        f"{len(plan.steps)} layers on one weight-stationary int8 array of {shape.pes} PEs; "
        f"latency {timing.latency:,} cycles, interval {timing.interval:,} (exact cycle model; "
        "see docs/systolic.md).\n\nSimulate (Verilator, hlsgen's testbench): "
        "`python tb/run_sim.py --sim verilator`; the result is in `results/sim.json`.\n\n"
        "C simulation of the same engine in HLS C++ (`hls/`, g++ and the ap_int headers of "
        "`$XILINX_HLS` or the hls4ml wheel): `make csim`; frames and mismatches against "
        "`tb/expected.txt` are in `results/csim.json`.\n\n" + streamed
        + "## Per-layer MAC utilization\n\ncycles = a layer's span (its first issue to the "
        "next layer's); utilization = its MACs / (PEs x cycles); also in "
        "`results/utilization.json`.\n\n" + utilization_markdown(plan, timing))
    files["results/utilization.json"] = json.dumps(
        {"array": str(shape), "pes": shape.pes, "latency_cycles": timing.latency,
         "layers": utilization_rows(plan, timing)}, indent=2) + "\n"
    return plan, files


def write_network_project(outdir: Path, graph: ir.Graph, shape: ArrayShape, x_ir: np.ndarray,
                          core: CoreName | None = None, depthwise: bool = True,
                          pe: str = "dsp", **plan_options):
    """Write ``outdir/rtl``, ``outdir/hls`` and ``outdir/tb`` for the whole ``graph`` on one
    array (:func:`network_project_files`); the plan
    (``depthwise``: channel-parallel depthwise Convs, else block-diagonal; ``pe``: ``"dsp"``
    or ``"shiftadd"`` PEs; ``plan_options``: more arguments of ``plan_network``)."""
    plan, files = network_project_files(graph, shape, x_ir, core, depthwise, pe, **plan_options)
    outdir = Path(outdir)
    for rel, text in files.items():
        path = outdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return plan
