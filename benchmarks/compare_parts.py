"""``make bench``, the head-to-head: ``hlsgen compare`` (the searched multiplier-less design
against the DSP systolic-array baseline, both simulated exactly and synthesised by yosys) for
the shared labelled models on the small parts, and one table of their ``compare.json``.

Writes ``benchmarks/results/compare/<model>_<device>/`` (the command's own products) and
``benchmarks/results/compare.md`` / ``compare.json``.

    python benchmarks/compare_parts.py                                   # every pair
    python benchmarks/compare_parts.py --models mnist8 --devices xc7z020 --frames 5
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO.parent / "shared" / "models"
RESULTS = REPO / "benchmarks" / "results"


def compare(model: str, device: str, args) -> dict:
    folder = MODELS / model
    out = RESULTS / "compare" / f"{model}_{device}"
    command = [sys.executable, "-m", "hlsgen", "compare", str(folder / "model.onnx"),
               "--device", device, "-o", str(out), "--force", "--data", str(folder / "data.npz"),
               "--frames", str(args.frames), "--seed", str(args.seed), "--jobs", str(args.jobs),
               "--max-accuracy-drop", "1.0"]
    if not model.endswith("int8"):
        command += ["--calibration", str(folder / "data.npz")]
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    (out / "compare.log").write_text(proc.stdout + proc.stderr)
    row = {"model": model, "device": device, "exit": proc.returncode,
           "seconds": round(time.perf_counter() - started)}
    if proc.returncode == 0:
        row.update(json.loads((out / "compare.json").read_text()))
    return row


def table(rows: list[dict]) -> str:
    lines = ["| model | device | baseline cycles | design cycles | latency ratio | baseline "
             "LUT / DSP | design LUT / DSP | top-1 baseline / design / design validation | "
             "mismatches | fits (baseline, design) |", "|---" * 10 + "|"]
    for r in rows:
        if r["exit"] != 0:
            lines.append(f"| {r['model']} | {r['device']} | failed (exit {r['exit']}, "
                         "see compare.log) |" + " |" * 7)
            continue
        b, d = r["baseline"], r["design"]
        lines.append(
            f"| {r['model']} | {r['device']} | {b['latency_cycles']:,} | {d['latency_cycles']:,} "
            f"| {r['latency_ratio']:.3f} | {b['luts']:,} / {b['dsps']} | {d['luts']:,} / "
            f"{d['dsps']} | {b.get('top1')} / {d.get('top1')} / {d.get('validation_top1')} | "
            f"{b['mismatches']} + {d['mismatches']} | {b['fits']}, {d['fits']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="mnist8,kws_dscnn_int8,resnet8_int8")
    parser.add_argument("--devices", default="xc7z020,xc7a100t")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    rows = []
    for model in args.models.split(","):
        for device in args.devices.split(","):
            print(f"{model} on {device} ...", flush=True)
            rows.append(compare(model, device, args))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "compare.json").write_text(json.dumps(rows, indent=2) + "\n")
    (RESULTS / "compare.md").write_text(table(rows))
    print(table(rows))
    return 0 if all(r["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
