"""A simulation project of one layer on the array: ``rtl/`` (:func:`emit_systolic`) and
``tb/`` -- hlsgen's own cocotb testbench and runner, unchanged, with vectors from the
reference executor -- so :func:`hlsgen.verify.sim.simulate` runs it like any hlsgen design.
"""

from __future__ import annotations

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


def write_network_project(outdir: Path, graph: ir.Graph, shape: ArrayShape, x_ir: np.ndarray,
                          core: CoreName | None = None, depthwise: bool = True):
    """Write ``outdir/rtl`` and ``outdir/tb`` for the whole ``graph`` on one array; the plan
    (``depthwise``: channel-parallel depthwise Convs, else block-diagonal)."""
    from hlsgen.systolic.netemit import emit_network
    from hlsgen.systolic.network import plan_network

    plan = plan_network(graph, shape, depthwise)
    outdir = Path(outdir)
    files = {**emit_network(plan, core), **testbench_files()}
    for rel, text in files.items():
        path = outdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    write_vectors(outdir / "tb", x_ir, execute(graph, x_ir))
    return plan
