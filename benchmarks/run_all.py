"""``make bench``: for every model in ../shared/models, explore -> generate -> make sim ->
make estimate, and a markdown table of what was measured.

Every figure in the table comes from a file a step wrote (evaluate.json, pareto.json,
design.json, results/sim.json, results/estimate.json) or from the wall clock around the step;
nothing is typed in.  Writes ``benchmarks/results/bench.md`` and ``bench.json``.

    python benchmarks/run_all.py [--models a,b] [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO.parent / "shared" / "models"


def run(cmd: list[str], log: Path, env=None) -> float:
    """Run a step, teeing its output to ``log``; returns wall seconds; raises on failure."""
    started = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = log.read_text().splitlines()[-15:]
        raise RuntimeError(f"step failed ({proc.returncode}): {' '.join(cmd)}\n" +
                           "\n".join(tail))
    return seconds


def hlsgen(*args: str) -> list[str]:
    return [sys.executable, "-m", "hlsgen", *args]


def bench_model(name: str, out: Path, quick: bool) -> dict:
    model_dir = MODELS / name
    model, data = model_dir / "model.onnx", model_dir / "data.npz"
    work = out / name
    work.mkdir(parents=True, exist_ok=True)
    row: dict = {"model": name}
    is_float = "float" in name or name == "mnist8"
    cal = ["--calibration", str(work / "calibration.npz")] if is_float else []
    if is_float:  # calibration: the first 200 samples of the same file, unlabelled
        import numpy as np

        with np.load(data) as npz:
            np.savez(work / "calibration.npz", x=npz["x"][:200])
    limit = ["--limit", "100"] if quick else []
    row["evaluate_s"] = run(hlsgen("evaluate", str(model), "--data", str(data), *cal, *limit,
                                   "--json", str(work / "evaluate.json")), work / "evaluate.log")
    evaluation = json.loads((work / "evaluate.json").read_text())
    row["source_top1"] = evaluation.get("source_top1")
    row["int8_top1"] = evaluation.get("integer_top1")
    search = ["--population", "6", "--generations", "2"] if quick else []
    row["explore_s"] = run(hlsgen("explore", str(model), "-o", str(work / "explore"), "--data",
                                  str(data), *cal, *limit, *search, "--max-accuracy-drop", "1.0",
                                  "--force"), work / "explore.log")
    design = json.loads((work / "explore" / "design.json").read_text())
    row["design_top1"] = design.get("top1")
    row["predicted_luts"] = design.get("luts")
    row["predicted_ffs"] = design.get("ffs")
    row["predicted_latency"] = design.get("latency_cycles")
    row["adders"] = design.get("adders")
    project = work / "project"
    row["generate_s"] = run(hlsgen("generate", str(model), "-o", str(project), "--design",
                                   str(work / "explore" / "design.json"), *cal, "--vectors",
                                   str(data), "--count", "20", "--force"), work / "generate.log")
    env = dict(os.environ)
    row["sim_s"] = run(["make", "-C", str(project), "sim", f"PYTHON={sys.executable}"],
                       work / "sim.log", env)
    sim = json.loads((project / "results" / "sim.json").read_text())
    row.update(sim_frames=sim["frames"], mismatches=sim["mismatches"],
               latency_cycles=sim["latency_cycles"], interval_cycles=sim["interval_cycles"])
    row["estimate_s"] = run(["make", "-C", str(project), "estimate", f"PYTHON={sys.executable}"],
                            work / "estimate.log", env)
    estimate = json.loads((project / "results" / "estimate.json").read_text())
    yosys = estimate.get("yosys", estimate)
    row.update(yosys_luts=yosys.get("luts"), yosys_ffs=yosys.get("ffs"),
               yosys_dsps=yosys.get("dsps"))
    return row


COLUMNS = [
    ("model", "model"), ("source_top1", "source top-1"), ("int8_top1", "int8 top-1"),
    ("design_top1", "design top-1"), ("adders", "adders"), ("predicted_luts", "LUT pred"),
    ("yosys_luts", "LUT yosys"), ("predicted_ffs", "FF pred"), ("yosys_ffs", "FF yosys"),
    ("yosys_dsps", "DSP"), ("predicted_latency", "latency pred"),
    ("latency_cycles", "latency sim"), ("interval_cycles", "interval sim"),
    ("mismatches", "mismatches"), ("explore_s", "explore s"), ("generate_s", "generate s"),
    ("sim_s", "sim s (build+run)"), ("estimate_s", "yosys s"),
]


def markdown(rows: list[dict]) -> str:
    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.2f}"
        return str(v)

    lines = ["| " + " | ".join(title for _, title in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(fmt(row.get(key)) for key, _ in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated subset of ../shared/models")
    parser.add_argument("--quick", action="store_true",
                        help="100 samples, a 2-generation search: checks the pipeline runs")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    if not MODELS.is_dir():
        print(f"bench: {MODELS} not found; make bench needs ../shared/models", file=sys.stderr)
        return 2
    names = args.models.split(",") if args.models else sorted(p.name for p in MODELS.iterdir()
                                                               if (p / "model.onnx").exists())
    args.out.mkdir(parents=True, exist_ok=True)
    rows, failed = [], []
    for name in names:
        print(f"== {name}", flush=True)
        try:
            rows.append(bench_model(name, args.out, args.quick))
        except RuntimeError as err:
            print(err, file=sys.stderr)
            failed.append(name)
            rows.append({"model": name + " (FAILED)"})
        table = markdown(rows)
        (args.out / "bench.md").write_text(table)
        (args.out / "bench.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(table)
    if failed:
        print(f"bench: failed for {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
