"""Models too big to hard-wire on xc7z020: generate, simulate, C-simulate and synthesise the
two networks of ``benchmarks/tinyml_models.py`` (MobileNetV1 0.25 as MLPerf Tiny VWW, ResNet-8
widened to 40-80-160) with a design of per-layer datapath kinds and methods.

For each model, one step at a time (the machine is shared; every step has a time limit):

1. build the int8 QDQ model and its 16 random samples (``tinyml_models.write_model``);
2. write the design (``DESIGNS`` below) to ``design.json`` and run ``hlsgen generate --design
   design.json --device xc7z020 --vectors data.npz --count 2 --jobs 1`` with an empty
   decomposition cache (cold wall time), then again with the cache it filled (warm);
3. the prediction of ``rtl/hlsgen_cost.json``: LUT/FF/BRAM per layer and in total, latency and
   interval in cycles (and microseconds at the design clock);
4. ``make sim`` (Verilator, the 2 frames, back to back and with random gaps): mismatches,
   simulated latency, Verilator build and simulation seconds;
5. ``make csim`` (g++): mismatches and seconds;
6. ``make estimate ESTIMATE_FLAGS="--per-module --jobs 1"`` (yosys): LUT/FF/BRAM/DSP and the
   verdict against the xc7z020's 80 % budget.

Writes ``benchmarks/results/big_models.json`` and the measured part of
``benchmarks/results/big_models.md`` (between its ``<!-- measured -->`` markers; the text
around them is kept).

    python benchmarks/big_models.py                          # both models, every step
    python benchmarks/big_models.py --models vww_mbv1_025 --steps generate,sim
    python benchmarks/big_models.py --predict-only           # designs' predictions only
    python benchmarks/big_models.py --breakdown              # predicted LUT/FF per part
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO / "benchmarks"))

import tinyml_models  # noqa: E402

DEVICE = "xc7z020"
BUDGET = {"luts": 42_560, "ffs": 85_120, "brams": 112}  # 80 % of xc7z020
STEP_LIMIT = 45 * 60  # seconds: a step that takes longer is stopped and reported as such
FRAMES = 2
LCC = "lcc:sqnr=25,fold=1"


def _vww_design() -> dict:
    """Every weight layer multiplexed (the cheapest kind for each of them, see
    big_models.md), lcc at 25 dB with the requantization folded into the weights; the trees
    split as rate allows (:func:`rate_matched`)."""
    layers = ["conv0"] + [f"{kind}{2 * b - 1 + (kind == 'conv')}" for b in range(1, 14)
                          for kind in ("dw", "conv")] + ["dense28"]
    return {"methods": {name: LCC for name in layers},
            "kinds": {name: "multiplexed" for name in layers}}


def _resnet_design() -> dict:
    layers = ["conv0", "conv1", "conv2", "conv4", "conv5", "conv6", "conv8", "conv9", "conv10",
              "dense13"]
    return {"methods": {name: LCC for name in layers},
            "kinds": {name: "multiplexed" for name in layers}}


DESIGNS = {"vww_mbv1_025": _vww_design, "resnet8_w40": _resnet_design}


def rate_matched(design: dict, model: Path) -> dict:
    """``design`` with each multiplexed tree split into the most chunks that keep the
    interval (the search's rule, :func:`hlsgen.explore.folding.rate_matched_chunks`)."""
    from hlsgen.design import apply_design
    from hlsgen.explore.folding import rate_matched_chunks
    from hlsgen.frontend import import_model
    from hlsgen.hw import plan_hardware

    applied = apply_design(import_model(model), design["methods"], kinds=design["kinds"])
    chunks = rate_matched_chunks(plan_hardware(applied))
    kinds = {name: (f"multiplexed:{chunks[name]}" if chunks.get(name, 1) > 1 else kind)
             for name, kind in design["kinds"].items()}
    return {**design, "kinds": kinds}


STEPS = ("generate", "sim", "csim", "estimate")


def _run(command: list[str], log: Path, env: dict | None = None, cwd: Path | None = None,
         limit: float = STEP_LIMIT) -> tuple[int | None, float]:
    """(exit status or None when stopped at ``limit``, wall seconds); output to ``log``."""
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
        try:
            status = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 15)  # the step's own process group only
            proc.wait()
            status = None
    return status, time.perf_counter() - start


def _env(**extra) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(extra)
    return env


def _generate(model: str, folder: Path, row: dict, warm: bool) -> bool:
    project = folder / "project"
    cache = folder / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    command = [sys.executable, "-m", "hlsgen", "generate", str(folder / "model.onnx"), "-o",
               str(project), "--design", str(folder / "design.json"), "--device", DEVICE,
               "--vectors", str(folder / "data.npz"), "--count", str(FRAMES), "--jobs", "1",
               "--force"]
    row["generate_command"] = _shown(command)
    runs = [("cold", folder / "generate_cold.log")] + ([("warm", folder / "generate.log")]
                                                      if warm else [])
    for label, log in runs:
        status, seconds = _run(command, log, _env(HLSGEN_CACHE=str(cache)))
        row[f"generate_{label}_seconds"] = round(seconds, 1)
        row[f"generate_{label}_status"] = status
        print(f"  generate ({label}): {seconds:.1f} s, exit {status}", flush=True)
        if status != 0:
            return False
    cost = json.loads((project / "rtl" / "hlsgen_cost.json").read_text())
    row["predicted"] = {**cost["total"], "latency_cycles": cost["latency_cycles"],
                        "interval_cycles": cost["interval_cycles"]}
    row["predicted_layers"] = {v["layer"]: {k: v[k] for k in ("front", "luts", "ffs", "brams")}
                               for v in cost["layers"].values()}
    return True


def _make(target: str, folder: Path, row: dict, extra: list[str] = ()) -> dict | None:
    project = folder / "project"
    command = ["make", "-C", str(project), target, f"PYTHON={sys.executable}", *extra]
    status, seconds = _run(command, folder / f"{target}.log", _env())
    row[f"{target}_wall_seconds"] = round(seconds, 1)
    row[f"{target}_status"] = "stopped after %d s" % STEP_LIMIT if status is None else status
    print(f"  make {target}: {seconds:.1f} s, exit {status}", flush=True)
    result = project / "results" / f"{target}.json"
    if status is None or not result.is_file():
        return None
    if result.stat().st_mtime < time.time() - seconds - 5:  # a stale file of an earlier run
        return None
    return json.loads(result.read_text())


def measure(model: str, work: Path, steps: tuple[str, ...], warm: bool) -> dict:
    folder = work / model
    meta = tinyml_models.write_model(model, folder)
    design = rate_matched(DESIGNS[model](), folder / "model.onnx")
    (folder / "design.json").write_text(json.dumps(design, indent=1) + "\n")
    row = {"model": model, "weights": meta["weights"], "macs": meta["macs"],
           "design": design, "device": DEVICE, "clock_mhz": 200.0}
    print(f"{model}: {meta['weights']:,} weights, {meta['macs']:,} MACs", flush=True)
    if "generate" in steps and not _generate(model, folder, row, warm):
        return row
    if "sim" in steps:
        sim = _make("sim", folder, row)
        if sim:
            row["sim"] = {k: sim.get(k) for k in ("frames", "mismatches", "latency_cycles",
                                                  "interval_cycles", "build_seconds",
                                                  "sim_seconds", "mismatches_back_to_back",
                                                  "mismatches_random_gaps")}
    if "csim" in steps:
        csim = _make("csim", folder, row)
        if csim:
            row["csim"] = csim
    if "estimate" in steps:
        estimate = _make("estimate", folder, row, ['ESTIMATE_FLAGS=--per-module --jobs 1'])
        if estimate:
            row["yosys"] = estimate["yosys"]
            row["yosys_fit"] = estimate.get("fit")
            row["yosys_layers"] = {v.get("predicted", {}).get("layer", k): v["yosys"]
                                   for k, v in estimate["layers"].items()}
    return row


def predict(model: str, work: Path) -> dict:
    """The design's prediction without writing a project (``hlsgen.hw.estimate_design``)."""
    from hlsgen.design import apply_design
    from hlsgen.frontend import import_model
    from hlsgen.hw.resources import estimate_design
    from hlsgen.hw.target import Target

    folder = work / model
    tinyml_models.write_model(model, folder)
    start = time.perf_counter()
    design = rate_matched(DESIGNS[model](), folder / "model.onnx")
    graph = import_model(folder / "model.onnx")
    applied = apply_design(graph, design["methods"], kinds=design["kinds"])
    report = estimate_design(applied, Target(part="xc7z020clg400-1"))
    return {"model": model, "design": design, "seconds": round(time.perf_counter() - start, 1),
            "predicted": {"luts": report.luts, "ffs": report.ffs, "brams": report.brams,
                          "dsps": report.dsps, "latency_cycles": report.latency_cycles,
                          "interval_cycles": report.interval_cycles},
            "predicted_layers": {x.name: {"front": x.front, "luts": x.luts, "ffs": x.ffs,
                                          "brams": x.brams} for x in report.layers}}


def breakdown(model: str, work: Path) -> str:
    """The design's predicted LUTs and FFs per layer and part
    (:func:`hlsgen.hw.resources.module_parts`), then per part over the network."""
    from hlsgen.design import apply_design
    from hlsgen.frontend import import_model
    from hlsgen.hw import plan_hardware
    from hlsgen.hw.resources import module_parts

    folder = work / model
    tinyml_models.write_model(model, folder)
    design = rate_matched(DESIGNS[model](), folder / "model.onnx")
    plan = plan_hardware(apply_design(import_model(folder / "model.onnx"), design["methods"],
                                      kinds=design["kinds"]))
    lines = [f"{model}: LUT / FF per part", ""]
    totals: dict[str, list[float]] = {}
    for m in plan.modules:
        parts = module_parts(plan, m)
        cells = [f"{k} {v[0]:,.0f}/{v[1]:,.0f}" for k, v in parts.items() if v[0] or v[1]]
        lines.append(f"{m.name} ({design['kinds'].get(m.name, m.kind.value)}): "
                     + ", ".join(cells))
        for k, v in parts.items():
            total = totals.setdefault(k, [0.0, 0.0])
            total[0] += v[0]
            total[1] += v[1]
    lines += ["", "total: " + ", ".join(f"{k} {v[0]:,.0f}/{v[1]:,.0f}"
                                       for k, v in sorted(totals.items(),
                                                          key=lambda kv: -kv[1][1]))]
    return "\n".join(lines)


# -- report -----------------------------------------------------------------------------------
def _n(value) -> str:
    if isinstance(value, bool) or value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{round(value):,}" if isinstance(value, (int, float)) else str(value)


def _pct(value, key) -> str:
    return f"{_n(value)} ({100 * value / BUDGET[key]:.0f} %)" if isinstance(
        value, (int, float)) else "-"


def _kinds(design: dict) -> str:
    pairs = sorted({(str(design["kinds"].get(k)), m) for k, m in design["methods"].items()})
    return "; ".join(f"{kind} {method}" for kind, method in pairs)


def table(rows: list[dict]) -> str:
    lines = ["| | " + " | ".join(r["model"] for r in rows) + " |",
             "|---|" + "---|" * len(rows)]

    def line(label, cell):
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in rows) + " |")

    budget = "xc7z020 80 %: 42,560 / 85,120 / 112"
    line("weights / MACs", lambda r: f"{_n(r['weights'])} / {_n(r['macs'])}")
    line("kinds and methods", lambda r: _kinds(r["design"]))
    line("generate wall s (cold / warm cache)", lambda r: (
        f"{_n(r.get('generate_cold_seconds'))} / {_n(r.get('generate_warm_seconds'))}"))
    for key, label in (("luts", "LUT"), ("ffs", "FF"), ("brams", "BRAM36")):
        line(f"predicted {label} (% of {budget.split(':')[0]})",
             lambda r, key=key: _pct(r.get("predicted", {}).get(key), key))
    for key, label in (("luts", "LUT"), ("ffs", "FF"), ("brams", "BRAM36"), ("dsps", "DSP")):
        line(f"yosys {label}", lambda r, key=key: (
            _pct(r["yosys"][key], key) if key in BUDGET and "yosys" in r
            else _n(r.get("yosys", {}).get(key))))
    line(f"fit ({budget})", _verdict)
    clock = lambda r: r.get("clock_mhz", 200.0)  # noqa: E731
    line("latency predicted: cycles (µs at 200 MHz)", lambda r: (
        f"{_n(r['predicted']['latency_cycles'])} "
        f"({r['predicted']['latency_cycles'] / clock(r):,.1f})" if "predicted" in r else "-"))
    line("interval predicted: cycles (frames/s)", lambda r: (
        f"{_n(r['predicted']['interval_cycles'])} "
        f"({clock(r) * 1e6 / r['predicted']['interval_cycles']:,.0f})" if "predicted" in r
        else "-"))
    line(f"make sim ({FRAMES} frames): mismatches", lambda r: _n(r.get("sim", {}).get(
        "mismatches")) if "sim" in r else str(r.get("sim_status", "-")))
    line("make sim: latency cycles (= predicted?)", _sim_latency)
    line("make sim: Verilator build s / sim s / wall s", lambda r: (
        f"{_n(r['sim'].get('build_seconds'))} / {_n(r['sim'].get('sim_seconds'))} / "
        f"{_n(r.get('sim_wall_seconds'))}" if "sim" in r else
        f"- / - / {_n(r.get('sim_wall_seconds'))}"))
    line("make csim: mismatches (compile s / run s)", lambda r: (
        f"{_n(r['csim'].get('mismatches'))} of {r['csim'].get('frames')} frames "
        f"({_n(r['csim'].get('compile_seconds'))} / {_n(r['csim'].get('run_seconds'))})"
        if "csim" in r else str(r.get("csim_status", "-"))))
    line("make estimate wall s", lambda r: _n(r.get("estimate_wall_seconds")))
    return "\n".join(lines) + "\n"


def _verdict(r: dict) -> str:
    figures = r.get("yosys") or r.get("predicted")
    if not figures:
        return "-"
    over = [f"{label} x{figures[key] / BUDGET[key]:.2f}"
            for key, label in (("luts", "LUT"), ("ffs", "FF"), ("brams", "BRAM"))
            if figures.get(key, 0) > BUDGET[key]]
    source = "yosys" if r.get("yosys") else "predicted"
    return f"fits ({source})" if not over else f"does not fit ({source}): " + ", ".join(over)


def _sim_latency(r: dict) -> str:
    sim = r.get("sim")
    if not sim or sim.get("latency_cycles") is None:
        return "-"
    same = sim["latency_cycles"] == r.get("predicted", {}).get("latency_cycles")
    return f"{_n(sim['latency_cycles'])} ({'yes' if same else 'NO'})"


def layer_table(row: dict) -> str:
    lines = [f"Per layer, {row['model']} (predicted; yosys where measured):", "",
             "| layer | front | kind | method | LUT | FF | BRAM36 | yosys LUT | yosys FF |",
             "|---|---|---|---|---:|---:|---:|---:|---:|"]
    yosys = row.get("yosys_layers", {})
    for name, p in row.get("predicted_layers", {}).items():
        y = yosys.get(name, {})
        kind = row["design"]["kinds"].get(name, "-")
        method = row["design"]["methods"].get(name, "-")
        lines.append(f"| {name} | {p['front']} | {kind} | {method} | {_n(p['luts'])} "
                     f"| {_n(p['ffs'])} | {_n(p['brams'])} | {_n(y.get('luts'))} "
                     f"| {_n(y.get('ffs'))} |")
    return "\n".join(lines) + "\n"


def write_report(rows: list[dict]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "big_models.json").write_text(json.dumps(rows, indent=1) + "\n")
    measured = ("<!-- measured: written by python benchmarks/big_models.py -->\n\n"
                + table(rows) + "\n" + "\n".join(layer_table(r) for r in rows)
                + "\n<!-- end measured -->")
    path = RESULTS / "big_models.md"
    text = path.read_text() if path.is_file() else "# Models too big to hard-wire\n\n"
    pattern = re.compile(r"<!-- measured.*?<!-- end measured -->", re.S)
    text = pattern.sub(lambda _: measured, text) if pattern.search(text) else (
        text + "\n" + measured + "\n")
    path.write_text(text)


def _shown(command: list[str]) -> str:
    words = ["python" if w == sys.executable else w for w in command]
    return " ".join(words)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(DESIGNS))
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "hlsgen_big_models")
    parser.add_argument("--no-warm", action="store_true", help="skip the warm generate run")
    parser.add_argument("--predict-only", action="store_true",
                        help="print each design's predicted resources and latency, no project")
    parser.add_argument("--breakdown", action="store_true",
                        help="print each design's predicted LUTs and FFs per layer and part")
    args = parser.parse_args(argv)
    models = args.models.split(",")
    if args.breakdown:
        for model in models:
            print(breakdown(model, args.work), flush=True)
        return 0
    if args.predict_only:
        for model in models:
            print(json.dumps(predict(model, args.work), indent=1), flush=True)
        return 0
    steps = tuple(s for s in args.steps.split(",") if s)
    previous = {}
    if (RESULTS / "big_models.json").is_file():  # keep the other models' rows
        previous = {r["model"]: r for r in json.loads((RESULTS / "big_models.json").read_text())}
    for model in models:
        row = measure(model, args.work, steps, warm=not args.no_warm)
        if "generate" not in steps:  # keep what earlier steps measured
            row = {**previous.get(model, {}), **row}
        previous[model] = row
        write_report([previous[m] for m in DESIGNS if m in previous])
    print(table([previous[m] for m in DESIGNS if m in previous]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
