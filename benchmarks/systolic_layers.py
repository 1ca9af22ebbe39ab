"""Single layers on the DSP systolic baseline: cycle model, Verilator and yosys side by side.

For a synthetic anchor (3x3 conv 16->16 on 16x16, pad 1) and every Conv / Dense layer of the
shared int8 models (kws_dscnn_int8, resnet8_int8), on one array shape (default 12x16):
tiles, cycles and MAC utilization from the cycle model; with ``--sim`` the layer simulated in
Verilator on real activations (the model's own data through the reference executor; random
int8 for the anchor) -- mismatches and measured latency beside the model's; with ``--yosys``
the DSP / LUT / FF / BRAM counts of ``synth_xilinx``.  Utilization = layer MACs / (R * C *
cycles) over three spans: the array's feed cycles (tiling efficiency), the layer's compute
run (first issue -> last output beat) and the whole latency (load included).

    python benchmarks/systolic_layers.py [--array 12x16] [--sim] [--yosys] [--quick]
                                         [--only NAME,...] [--out DIR]

Writes ``systolic_layers.json`` and ``systolic_layers.md`` under ``--out`` (default
``benchmarks/results``) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO.parent / "shared" / "models"
sys.path.insert(0, str(REPO))

from hlsgen import ir  # noqa: E402
from hlsgen.reference import execute, quantize_input  # noqa: E402
from hlsgen.systolic import (ArrayShape, cycle_model, emit_systolic, module_names,  # noqa: E402
                             plan_layer, write_sim_project)
from hlsgen.systolic.layers import conv_graph, single_layer_graph  # noqa: E402

FRAMES = 3  # the testbench's interval is the last pair's: frame 1 -> 2 is steady
SEED = 0


def cases(quick: bool):
    """(name, single-layer graph, input frames int64 [FRAMES, size])."""
    anchor = conv_graph((16, 16, 16), 16, (3, 3), pads=(1, 1, 1, 1), seed=1)
    rng = np.random.default_rng(SEED)
    yield "anchor_conv3x3_16_16x16", anchor, rng.integers(-128, 128, (FRAMES, 16 * 16 * 16))
    if quick:
        return
    from hlsgen.frontend import import_model

    for model in ("kws_dscnn_int8", "resnet8_int8"):
        if not (MODELS / model).is_dir():
            print(f"skipping {model}: {MODELS / model} not found", file=sys.stderr)
            continue
        graph = import_model(MODELS / model / "model.onnx")
        data = np.load(MODELS / model / "data.npz")["x"][:FRAMES]
        values = execute(graph, quantize_input(graph, data), return_all=True)
        for layer in graph.layers:
            if isinstance(layer, (ir.Conv, ir.Dense)):
                yield (f"{model}.{layer.name}", single_layer_graph(graph, layer.name),
                       values[layer.input].reshape(FRAMES, -1))


def geometry(graph: ir.Graph) -> str:
    layer = graph.layers[0]
    src, out = graph.tensor(layer.input), graph.tensor(layer.output)
    text = f"{'x'.join(map(str, src.shape))} -> {'x'.join(map(str, out.shape))}"
    if isinstance(layer, ir.Conv):
        kh, kw = layer.kernel
        text += f", {kh}x{kw}/{layer.stride[0]}"
        if layer.groups > 1:
            text += f", groups {layer.groups}"
    return text


def measure(name, graph, x, shape: ArrayShape, sim: bool, yosys: bool, work: Path) -> dict:
    plan = plan_layer(graph, shape)
    timing = cycle_model(plan)
    pes = shape.pes
    row = {
        "case": name, "geometry": geometry(graph), "macs": plan.macs,
        "tiles": f"{plan.n_ct}x{plan.n_kt}", "ports": plan.ports, "items": timing.items,
        "latency_cycles": timing.latency, "interval_cycles": timing.interval,
        "compute_cycles": timing.compute_cycles,
        "util_feed": round(timing.utilization(pes, timing.items), 4),
        "util_compute": round(timing.utilization(pes, timing.compute_cycles), 4),
        "util_latency": round(timing.utilization(pes, timing.latency), 4),
    }
    project = work / name.replace(".", "_")
    shutil.rmtree(project, ignore_errors=True)
    if sim:
        from hlsgen.verify.sim import simulate

        write_sim_project(project, graph, shape, x)
        started = time.perf_counter()
        result = simulate(project, check=False)
        row.update(sim_mismatches=result.mismatches, sim_latency=result.latency_cycles,
                   sim_interval=result.interval_cycles,
                   sim_seconds=round(time.perf_counter() - started, 1))
    if yosys:
        from hlsgen.verify.estimate import run_yosys

        rtl = project / "rtl"
        rtl.mkdir(parents=True, exist_ok=True)
        for rel, text in emit_systolic(plan).items():
            (project / rel).write_text(text)
        started = time.perf_counter()
        report = run_yosys(rtl)
        names = module_names()
        row.update(dsps=report.total.dsps, dsps_array=report.modules[names["array"]].dsps,
                   dsps_requant=report.modules[names["accum"]].dsps, luts=report.total.luts,
                   ffs=report.total.ffs, brams=report.total.brams,
                   yosys_seconds=round(time.perf_counter() - started, 1))
    return row


COLUMNS = [("case", "case"), ("geometry", "geometry"), ("macs", "MACs"),
           ("tiles", "tiles ct x kt"), ("ports", "ports"), ("items", "feed cycles"),
           ("latency_cycles", "latency"), ("interval_cycles", "interval"),
           ("util_feed", "util feed"),
           ("util_compute", "util compute"), ("util_latency", "util latency"),
           ("sim_latency", "sim latency"), ("sim_interval", "sim interval"),
           ("sim_mismatches", "mismatches"),
           ("dsps_array", "DSP array"), ("dsps_requant", "DSP requant"), ("luts", "LUTs"),
           ("ffs", "FFs"), ("brams", "BRAM36")]


def table(rows: list[dict]) -> str:
    cols = [(key, title) for key, title in COLUMNS if any(key in r for r in rows)]
    lines = ["| " + " | ".join(title for _, title in cols) + " |",
             "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        cells = []
        for key, _ in cols:
            value = r.get(key, "")
            cells.append(f"{value:.1%}" if key.startswith("util") else
                         f"{value:,}" if isinstance(value, int) and key != "ports" else
                         str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--array", default="12x16", help="ROWSxCOLS (default 12x16)")
    parser.add_argument("--sim", action="store_true", help="simulate every layer (Verilator)")
    parser.add_argument("--yosys", action="store_true", help="synthesise every layer (yosys)")
    parser.add_argument("--quick", action="store_true", help="the anchor layer only")
    parser.add_argument("--only", default="", help="comma-separated substrings of case names")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    shape = ArrayShape.parse(args.array)
    wanted = [w for w in args.only.split(",") if w]
    rows = []
    with tempfile.TemporaryDirectory(prefix="systolic_bench_") as tmp:
        for name, graph, x in cases(args.quick):
            if wanted and not any(w in name for w in wanted):
                continue
            rows.append(measure(name, graph, x, shape, args.sim, args.yosys, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    text = table(rows)
    (args.out / "systolic_layers.json").write_text(json.dumps(
        {"array": str(shape), "frames": FRAMES, "rows": rows}, indent=2) + "\n")
    (args.out / "systolic_layers.md").write_text(
        f"Single layers on a {shape} array (`python benchmarks/systolic_layers.py`)\n\n"
        + text + "\n")
    print(text)
    bad = [r["case"] for r in rows if r.get("sim_mismatches") or
           ("sim_latency" in r and (r["sim_latency"], r["sim_interval"])
            != (r["latency_cycles"], r["interval_cycles"]))]
    if bad:
        print(f"simulation disagrees with the reference or the cycle model: {bad}",
              file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
