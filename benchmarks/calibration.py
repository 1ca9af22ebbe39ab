"""Calibration of the resource model: predicted LUT/FF (``hlsgen.hw``) against yosys
``synth_xilinx`` on the generated Verilog, per layer front end and in total.

Prints the markdown table pasted into docs/hardware.md ("Calibration") and writes
``benchmarks/results/calibration.json`` and ``.csv``.  Every figure comes from the hardware plan
or from a yosys run; nothing is typed in.

    python benchmarks/calibration.py                  # the shipped example, exact and po2
    python benchmarks/calibration.py --quick          # the shipped example, exact only (CI)
    python benchmarks/calibration.py --models mnist8  # ../shared/models/<name> too (slow)
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO.parent / "shared" / "models"
EXAMPLE = REPO / "examples" / "digits_cnn.onnx"
COLUMNS = ("design", "part", "layers", "pred_luts", "yosys_luts", "lut_ratio", "pred_ffs",
           "yosys_ffs", "ff_ratio")


def load(name: str):
    """(IR graph, label) of the shipped example or a model of ../shared/models."""
    import numpy as np

    from hlsgen.frontend import import_model

    if name == "digits":
        with np.load(REPO / "examples" / "digits_calib.npz") as data:
            return import_model(EXAMPLE, calibration=data["x"])
    folder = MODELS / name
    calibration = None
    if not name.endswith("int8"):
        with np.load(folder / "data.npz") as data:
            calibration = data["x"][:200]
    return import_model(folder / "model.onnx", calibration=calibration)


def measure(name: str, method: str, jobs: int) -> list[dict]:
    """Rows per front end and one total row for one design."""
    from hlsgen.design import apply_design
    from hlsgen.emit.rtl import emit_rtl, module_name
    from hlsgen.emit.writer import write_tree
    from hlsgen.hw import estimate_plan, plan_hardware
    from hlsgen.verify.estimate import PER_MODULE_ABOVE, run_yosys

    design = apply_design(load(name), method, jobs=jobs)
    plan = plan_hardware(design)
    report = estimate_plan(plan)
    with tempfile.TemporaryDirectory(prefix="hlsgen_calibration_") as tmp:
        root = write_tree(Path(tmp) / "project", emit_rtl(design))
        yosys = run_yosys(root / "rtl", per_module=report.luts > PER_MODULE_ABOVE, jobs=jobs)
    label = f"{name} {method}"
    groups: dict[str, list] = {}
    for m in plan.modules:
        groups.setdefault(m.front.value, []).append(m)
    rows = []
    for front, modules in sorted(groups.items()):
        pred = [report.layer(m.name) for m in modules]
        got = [yosys.modules[module_name(m)] for m in modules]
        rows.append(_row(label, front, len(modules), sum(p.luts for p in pred),
                         sum(g.luts for g in got), sum(p.ffs for p in pred),
                         sum(g.ffs for g in got)))
    rows.append(_row(label, "total", len(plan.modules), report.luts, yosys.total.luts,
                     report.ffs, yosys.total.ffs))
    return rows


def _row(design, part, layers, pred_luts, yosys_luts, pred_ffs, yosys_ffs) -> dict:
    return dict(design=design, part=part, layers=layers, pred_luts=int(pred_luts),
                yosys_luts=int(yosys_luts), lut_ratio=round(yosys_luts / max(pred_luts, 1), 3),
                pred_ffs=int(pred_ffs), yosys_ffs=int(yosys_ffs),
                ff_ratio=round(yosys_ffs / max(pred_ffs, 1), 3))


def table(rows: list[dict]) -> str:
    head = ("| design | front end | layers | LUT predicted | LUT yosys | ratio | FF predicted "
            "| FF yosys | ratio |")
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['design']} | {r['part']} | {r['layers']} | {r['pred_luts']:,} | "
                     f"{r['yosys_luts']:,} | {r['lut_ratio']:.3f} | {r['pred_ffs']:,} | "
                     f"{r['yosys_ffs']:,} | {r['ff_ratio']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the example, exact only")
    parser.add_argument("--models", default="", help="comma-separated ../shared/models names")
    parser.add_argument("--methods", default="exact,po2", help="decomposition methods")
    parser.add_argument("--jobs", type=int, default=2, help="decomposition and yosys processes")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    methods = ["exact"] if args.quick else args.methods.split(",")
    names = ["digits"] + [n for n in args.models.split(",") if n]
    rows = []
    for name in names:
        for method in methods:
            start = time.perf_counter()
            rows += measure(name, method, args.jobs)
            print(f"{name} {method}: {time.perf_counter() - start:.0f} s", flush=True)
    print(table(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "calibration.json").write_text(json.dumps(rows, indent=2) + "\n")
    with (args.out / "calibration.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
