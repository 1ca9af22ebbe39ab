"""Whole shared models on one systolic array: exactness, per-layer utilization, latency.

For every model: the numpy emulation of the plan against the reference executor on real
frames, the exact cycle model per layer (items, cycles, MAC utilization), the total latency
in cycles and in microseconds at 143 MHz next to fpgaConvNet's xc7z020 anchors; with
``--sim`` the Verilog of the whole network in Verilator on ``--frames`` real frames (0
mismatches and simulated latency = model asserted).  Writes ``systolic_network.json``.

    python benchmarks/systolic_network.py [--array 12x16] [--sim mnist8,kws_dscnn_int8]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from hlsgen.frontend import import_model
from hlsgen.reference import execute, quantize_input
from hlsgen.systolic import ArrayShape
from hlsgen.systolic.netemu import emulate_network
from hlsgen.systolic.nettiming import network_cycle_model
from hlsgen.systolic.network import plan_network

MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
IMPORT = {"mnist8": {"data_free_input_range": (0.0, 255.0)}}  # a float model: 0..255 pixels
ANCHOR_MS = {"kws_dscnn_int8": 0.324, "resnet8_int8": 0.411}  # fpgaConvNet, xc7z020, 143 MHz
CLOCK_MHZ = 143.0


def run_model(name: str, shape: ArrayShape, frames: int, sim: bool, workdir: Path,
              depthwise: bool = True) -> dict:
    folder = MODELS / name
    graph = import_model(folder / "model.onnx", **IMPORT.get(name, {}))
    x = quantize_input(graph, np.load(folder / "data.npz")["x"][:frames])
    plan = plan_network(graph, shape, depthwise)
    exact = np.array_equal(emulate_network(plan, x).reshape(len(x), -1),
                           execute(graph, x).reshape(len(x), -1))
    timing = network_cycle_model(plan)
    layers = [{"layer": s.name, "kind": s.kind.value, "op": s.op.value, "items": s.items,
               "cycles": c, "macs": s.macs,
               "utilization": s.macs / (shape.pes * c) if s.macs else None}
              for s, c in zip(plan.steps, timing.layer_cycles)]
    row = {"model": name, "array": str(shape), "depthwise": depthwise, "frames": frames,
           "emulation_exact": exact,
           "latency_cycles": timing.latency, "compute_cycles": timing.compute_cycles,
           "interval_cycles": timing.interval, "macs": plan.macs,
           "latency_us": timing.latency / CLOCK_MHZ,
           "utilization_compute": plan.macs / (shape.pes * timing.compute_cycles),
           "anchor_ms": ANCHOR_MS.get(name), "layers": layers}
    if sim:
        from hlsgen.systolic.project import write_network_project
        from hlsgen.verify.sim import simulate

        where = workdir / name
        shutil.rmtree(where, ignore_errors=True)
        write_network_project(where, graph, shape, x, depthwise=depthwise)
        start = time.time()
        result = simulate(where, seed=1)
        report = json.loads((where / "results" / "sim.json").read_text())
        row.update(sim_mismatches=result.mismatches,
                   sim_mismatches_random_gaps=report.get("mismatches_random_gaps"),
                   sim_latency=result.latency_cycles, sim_interval=result.interval_cycles,
                   sim_frame_latency=list(result.frame_latency_cycles),
                   sim_seconds=round(time.time() - start, 1))
        assert result.mismatches == 0 and result.latency_cycles == timing.latency, row
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--array", default="12x16")
    parser.add_argument("--models", default="mnist8,kws_dscnn_int8,resnet8_int8")
    parser.add_argument("--sim", default="", help="comma-separated models to simulate")
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--block-diagonal", action="store_true",
                        help="run depthwise Convs block-diagonally (no channel-parallel mode)")
    parser.add_argument("--out", default="systolic_network.json")
    args = parser.parse_args(argv)
    shape = ArrayShape.parse(args.array)
    simulated = {m for m in args.sim.split(",") if m}
    rows = []
    workdir = Path(tempfile.gettempdir()) / "hlsgen_systolic_network"
    for name in args.models.split(","):
        row = run_model(name, shape, args.frames, name in simulated, workdir,
                        not args.block_diagonal)
        rows.append(row)
        print(f"\n{name} on {shape}: emulation exact {row['emulation_exact']}, latency "
              f"{row['latency_cycles']:,} cycles = {row['latency_us']:.1f} us at "
              f"{CLOCK_MHZ:.0f} MHz (fpgaConvNet: {row['anchor_ms'] or '-'} ms), compute "
              f"utilization {100 * row['utilization_compute']:.1f} %"
              + (f", sim latency {row['sim_latency']:,}, mismatches {row['sim_mismatches']}"
                 f"/{row['sim_mismatches_random_gaps']} ({row['sim_seconds']} s)"
                 if "sim_latency" in row else ""))
        print("| layer | op | items | cycles | MAC util |")
        print("|---|---|---:|---:|---:|")
        for layer in row["layers"]:
            util = layer["utilization"]
            print(f"| {layer['layer']} | {layer['op']} | {layer['items']:,} | "
                  f"{layer['cycles']:,} | {'-' if util is None else f'{100 * util:.1f} %'} |")
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
