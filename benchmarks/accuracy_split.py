"""Does the accuracy bound hold on data the search never saw?

For each model and split seed: ``hlsgen explore --data`` (half the labelled samples search,
half validate), then the chosen design's search and validation drop and its predicted LUTs.
With ``--data-free``: ``hlsgen explore`` without any data, then ``hlsgen evaluate --design``
on every labelled sample (the drop a user would see) and the design's adders against the exact
design's.  Prints a table and writes ``OUT/accuracy_split.csv`` and ``.json``.

    python benchmarks/accuracy_split.py --models kws_dscnn_int8 mnist8 --seeds 0 1 2
    python benchmarks/accuracy_split.py --models kws_dscnn_int8 --data-free
    python benchmarks/accuracy_split.py --quick      # the shipped example, one seed (CI-sized)
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from bench_tables import print_markdown  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT.parent / "shared" / "models"
sys.path.insert(0, str(ROOT))
PIXEL_MODELS = ("mnist8", "resnet8_float")  # float models whose input is pixels 0..255


def model_files(name: str) -> tuple[Path, Path, list[str]]:
    """(model, labelled data, extra import options) of a shared model or the example."""
    if name == "example":
        ex = ROOT / "examples"
        return (ex / "digits_cnn.onnx", ex / "digits_test.npz",
                ["--calibration", str(ex / "digits_calib.npz")])
    folder = MODELS / name
    if name in PIXEL_MODELS:  # float models on raw pixels: data-free quantization
        return folder / "model.onnx", folder / "data.npz", ["--input-range", "0", "255"]
    if "float" in name:
        raise SystemExit(f"{name}: no known input range for a data-free import")
    return folder / "model.onnx", folder / "data.npz", []


def run(argv: list[str]) -> int:
    from hlsgen.cli import main

    return main(argv)


def exact_adders(model: Path, extra: list[str], out: Path) -> int:
    report = out / "exact_decompose.json"
    assert run(["decompose", str(model), "--method", "exact", "--json", str(report),
                *extra]) == 0
    return json.loads(report.read_text())["totals"]["adders"]


def labelled(name: str, seed: int, out: Path, search: list[str]) -> dict:
    model, data, extra = model_files(name)
    where = out / f"{name}_seed{seed}"
    started = time.perf_counter()
    code = run(["explore", str(model), "-o", str(where), "--data", str(data), "--seed",
                str(seed), "--force", *extra, *search])
    row = {"model": name, "seed": seed, "mode": "labelled", "exit": code,
           "seconds": round(time.perf_counter() - started)}
    if code == 0:
        d = json.loads((where / "design.json").read_text())
        row.update(luts=d["luts"], adders=d["adders"], search_drop=d["accuracy_drop"],
                   validation_drop=d["validation_drop"],
                   validation_top1=d["validation_top1"],
                   validation_baseline=d["validation"]["baseline"])
    return row


def data_free(name: str, seed: int, out: Path, search: list[str]) -> dict:
    model, data, extra = model_files(name)
    where = out / f"{name}_free_seed{seed}"
    started = time.perf_counter()
    code = run(["explore", str(model), "-o", str(where), "--seed", str(seed), "--force",
                *extra, *search])
    row = {"model": name, "seed": seed, "mode": "data-free", "exit": code,
           "seconds": round(time.perf_counter() - started)}
    if code == 0:
        d = json.loads((where / "design.json").read_text())
        report = where / "evaluate.json"
        assert run(["evaluate", str(model), "--data", str(data), "--design",
                    str(where / "design.json"), "--json", str(report), *extra]) == 0
        e = json.loads(report.read_text())
        exact = exact_adders(model, extra, where)
        row.update(luts=d["luts"], adders=d["adders"], adders_vs_exact=round(
            d["adders"] / exact, 3), real_drop=round(e["integer_top1"] - e["design_top1"], 2),
            real_top1=e["design_top1"], real_baseline=e["integer_top1"])
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["kws_dscnn_int8", "resnet8_int8",
                                                        "mnist8"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--data-free", action="store_true",
                        help="search without data, then evaluate on every labelled sample")
    parser.add_argument("--quick", action="store_true",
                        help="the shipped example, one seed, a short search")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" /
                        "accuracy_split")
    args = parser.parse_args(argv)
    search = ["--jobs", "2"]
    if args.quick:
        args.models, args.seeds = ["example"], [0]
        search += ["--generations", "2", "--population", "6"]
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.models:
        for seed in args.seeds:
            job = data_free if args.data_free else labelled
            rows.append(job(name, seed, args.out, search))
            print(json.dumps(rows[-1]), flush=True)
    fields = sorted({k for row in rows for k in row}, key=lambda k: list(rows[0]).index(k)
                    if k in rows[0] else 99)
    with open(args.out / "accuracy_split.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    (args.out / "accuracy_split.json").write_text(json.dumps(rows, indent=2) + "\n")
    print_markdown(rows, fields)
    return 0


if __name__ == "__main__":
    sys.exit(main())
