"""Speed and fidelity of ``hlsgen evaluate`` on the real models in ../shared/models.

For each model: wall time of the whole evaluation (import, source model in onnxruntime,
numpy integer reference, exported integer ONNX in onnxruntime), the time of the two integer
runs alone, and the accuracy figures.  Float models are calibrated on their own data file.

    python benchmarks/bench_evaluate.py            # every model, every sample
    python benchmarks/bench_evaluate.py --quick    # int8 models, 50 samples (CI)
    python benchmarks/bench_evaluate.py --out bench_evaluate   # also .json and .csv
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
ALL = ("resnet8_int8", "kws_dscnn_int8", "mnist8", "resnet8_float", "kws_dscnn_float")
QUICK = ("resnet8_int8", "kws_dscnn_int8")
COLUMNS = ("model", "samples", "wall_s", "integer_s", "export_s", "source_top1", "integer_top1",
           "top1_agreement", "max_abs_diff", "export_matches")


def measure(name: str, limit: int | None) -> dict:
    from hlsgen.commands.common import load_data
    from hlsgen.commands.evaluate import evaluate
    from hlsgen.frontend import import_model
    from hlsgen.reference import execute, export_onnx, quantize_input, run_onnx

    folder = MODELS / name
    model, data = folder / "model.onnx", folder / "data.npz"
    calibration = None if name.endswith("int8") else data
    start = time.perf_counter()
    result = evaluate(model, data, calibration=calibration, limit=limit)
    wall = time.perf_counter() - start

    # The integer runs alone (the part this package owns), on the same samples.
    x, _ = load_data(data, limit)
    graph = import_model(model, calibration=load_data(data)[0] if calibration else None)
    x_ir = quantize_input(graph, x)
    start = time.perf_counter()
    execute(graph, x_ir)
    integer_s = time.perf_counter() - start
    start = time.perf_counter()
    run_onnx(export_onnx(graph), x_ir)
    export_s = time.perf_counter() - start
    row = {"model": name, "wall_s": round(wall, 2), "integer_s": round(integer_s, 2),
           "export_s": round(export_s, 2)}
    row.update({k: result.get(k, "") for k in COLUMNS if k not in row})
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="int8 models, 50 samples")
    parser.add_argument("--models", help=f"comma-separated subset of {','.join(ALL)}")
    parser.add_argument("--limit", type=int, help="samples per model (default: all)")
    parser.add_argument("--out", type=Path, help="write OUT.json and OUT.csv")
    args = parser.parse_args(argv)
    names = args.models.split(",") if args.models else (QUICK if args.quick else ALL)
    limit = args.limit or (50 if args.quick else None)
    rows = [measure(name, limit) for name in names]

    from rich.console import Console
    from rich.table import Table

    table = Table(title="hlsgen evaluate" + (" (quick)" if args.quick else ""))
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in rows:
        table.add_row(*(str(row[c]) for c in COLUMNS))
    Console(width=max(160, Console().width)).print(table)
    if args.out is not None:
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
        with args.out.with_suffix(".csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
