"""RTL simulation of a generated project with its cocotb testbench.

:func:`simulate` runs ``tb/run_sim.py`` (the same runner ``make sim`` uses) in a subprocess and
returns the figures it wrote to ``results/sim.json``.  :func:`write_sim_project` lays out the
part of a project the simulation needs (``rtl/``, ``tb/`` with vectors) -- enough for tests
and benchmarks that do not need the full project writer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hlsgen.emit.rtl import emit_rtl, testbench_files
from hlsgen.errors import HlsgenError, ToolMissingError
from hlsgen.reference import execute

__all__ = ["SimResult", "SimulationError", "simulate", "write_vectors", "write_sim_project"]


class SimulationError(HlsgenError):
    """The RTL simulation failed (mismatches, a stuck design, or a build error)."""


@dataclass(frozen=True)
class SimResult:
    simulator: str
    frames: int
    mismatches: int
    latency_cycles: int
    interval_cycles: int | None
    build_seconds: float
    sim_seconds: float
    frame_latency_cycles: tuple[int, ...]


def write_vectors(tb_dir: Path, x_ir: np.ndarray, expected: np.ndarray) -> None:
    """``input.txt`` / ``expected.txt``: one frame per line, IR order, decimal integers."""
    tb_dir = Path(tb_dir)
    tb_dir.mkdir(parents=True, exist_ok=True)
    for name, values in (("input.txt", x_ir), ("expected.txt", expected)):
        rows = np.asarray(values, dtype=np.int64).reshape(len(values), -1)
        (tb_dir / name).write_text("".join(" ".join(map(str, r.tolist())) + "\n" for r in rows))


def write_sim_project(outdir: Path, design, x_ir: np.ndarray, options=None,
                      core=None) -> Path:
    """Write ``rtl/`` and ``tb/`` (testbench + vectors from the reference executor);
    ``core``: the :class:`hlsgen.emit.common.CoreName` of the modules (default ``hlsgen``)."""
    outdir = Path(outdir)
    files = {**emit_rtl(design, options, core), **testbench_files()}
    for rel, text in files.items():
        path = outdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    write_vectors(outdir / "tb", x_ir, execute(design.graph, x_ir))
    return outdir


def simulate(project_dir: Path, simulator: str = "verilator", frames: int = 0, seed: int = 1,
             timeout: float | None = None, check: bool = True) -> SimResult:
    """Run the project's testbench; with ``check`` raise :class:`SimulationError` on failure."""
    project_dir = Path(project_dir)
    runner = project_dir / "tb" / "run_sim.py"
    if not runner.is_file():
        raise SimulationError(f"{runner} does not exist; generate the project first")
    cmd = [sys.executable, str(runner), "--sim", simulator, "--frames", str(frames),
           "--seed", str(seed)]
    proc = subprocess.run(cmd, cwd=project_dir, capture_output=True, text=True, timeout=timeout)
    if proc.returncode == 3:
        raise ToolMissingError(proc.stderr.strip() or f"{simulator} is not installed")
    report_path = project_dir / "results" / "sim.json"
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise SimulationError(f"RTL simulation of {project_dir} failed "
                              f"(exit {proc.returncode}):\n{tail}")
    if not report_path.is_file():
        raise SimulationError(f"{simulator} wrote no {report_path}:\n{proc.stderr[-4000:]}")
    data = json.loads(report_path.read_text())
    return SimResult(
        simulator=data["simulator"], frames=data["frames"], mismatches=data["mismatches"],
        latency_cycles=data["latency_cycles"], interval_cycles=data["interval_cycles"],
        build_seconds=data.get("build_seconds", 0.0), sim_seconds=data.get("sim_seconds", 0.0),
        frame_latency_cycles=tuple(data.get("frame_latency_cycles", ())))
