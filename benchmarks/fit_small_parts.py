"""Does the search find a design that fits a small TinyML part?  ``hlsgen explore`` on the
shared labelled models under each device's budget (80 % ceiling), with parallel and
digit-serial and multiplexed (chunked or laned) layers to choose from.

For every (model, device) it records the chosen design (LUTs, FFs, BRAM, latency in cycles and
microseconds at the search clock, search and validation top-1 drop, datapath per layer) or, when
no design is feasible, the closest one the search evaluated (least total excess).  Figures are
the cost model's (exact latency, predicted resources); ``make estimate`` in a generated project
gives yosys' counts.  Writes ``benchmarks/results/fit_small_parts.json`` and ``.md``.

    python benchmarks/fit_small_parts.py                            # all models, both parts
    python benchmarks/fit_small_parts.py --models mnist8 --devices xc7z020
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO.parent / "shared" / "models"
RESULTS = REPO / "benchmarks" / "results"


def run(model: str, device: str, out: Path, args) -> dict:
    folder = MODELS / model
    data = folder / "data.npz"
    command = [sys.executable, "-m", "hlsgen", "explore", str(folder / "model.onnx"),
               "--data", str(data), "--max-accuracy-drop", str(args.max_accuracy_drop),
               "--device", device, "-o", str(out), "--force", "--seed", str(args.seed),
               "--jobs", str(args.jobs)]
    if not model.endswith("int8"):
        command += ["--calibration", str(data)]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    (out / "explore.log").write_text(proc.stdout + proc.stderr)
    row = {"model": model, "device": device, "seconds": round(seconds), "exit": proc.returncode,
           "command": " ".join(command[1:]).replace(str(REPO.parent), "..")}
    design = out / "design.json"
    if proc.returncode == 0 and design.is_file():
        doc = json.loads(design.read_text())
        row.update(feasible=True, **_figures(doc), clock_mhz=doc.get("clock_mhz"),
                   validation_drop=doc.get("validation_drop"), kinds=doc.get("kinds"))
        return row
    checkpoint = out / "checkpoint.json"
    if not checkpoint.is_file():
        row.update(feasible=False, error=(proc.stderr.strip().splitlines() or ["?"])[-1])
        return row
    evaluations = json.loads(checkpoint.read_text())["evaluations"]
    closest = min(evaluations, key=lambda e: sum(e["violations"].values()))
    row.update(feasible=False, closest=dict(_figures(closest), violations=closest["violations"],
                                            kinds=closest["kinds"]))
    return row


def _figures(doc: dict) -> dict:
    return {k: doc.get(k) for k in ("luts", "ffs", "brams", "latency_cycles", "interval_cycles",
                                    "adders", "accuracy_drop")}


def table(rows: list[dict]) -> str:
    lines = ["| model | device | feasible | LUTs | FFs | BRAM36 | latency (cycles) | latency (us) "
             "| drop (search) | drop (validation) | folded layers | search (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        figures = r if r.get("feasible") else r.get("closest", {})
        clock = r.get("clock_mhz") or 200.0
        latency = figures.get("latency_cycles")
        micro = f"{latency / clock:.1f}" if latency else "-"
        kinds = figures.get("kinds") or {}
        folded = sum(1 for v in kinds.values() if v != "parallel")
        lines.append(
            f"| {r['model']} | {r['device']} | {'yes' if r.get('feasible') else 'no (closest)'} "
            f"| {_n(figures.get('luts'))} | {_n(figures.get('ffs'))} | {figures.get('brams', '-')} "
            f"| {_n(latency)} | {micro} | {_d(figures.get('accuracy_drop'))} "
            f"| {_d(r.get('validation_drop'))} | {folded}/{len(kinds)} | {r['seconds']} |")
    return "\n".join(lines) + "\n"


def _n(value) -> str:
    return f"{round(value):,}" if isinstance(value, (int, float)) else "-"


def _d(value) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) else "-"


def write(rows: list[dict]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fit_small_parts.json").write_text(json.dumps(rows, indent=2) + "\n")
    (RESULTS / "fit_small_parts.md").write_text(
        "# Fit on small parts (`python benchmarks/fit_small_parts.py`)\n\n" + table(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mnist8,kws_dscnn_int8,resnet8_int8")
    parser.add_argument("--devices", default="xc7z020,xc7a100t")
    parser.add_argument("--max-accuracy-drop", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "hlsgen_fit_small_parts")
    args = parser.parse_args()
    rows = []
    for model in args.models.split(","):
        for device in args.devices.split(","):
            out = args.work / f"{model}_{device}"
            out.mkdir(parents=True, exist_ok=True)
            print(f"{model} on {device} ...", flush=True)
            rows.append(run(model, device, out, args))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
            write(rows)  # after every row: a long run stopped early keeps what it measured
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
