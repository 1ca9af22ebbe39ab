"""SQNR against adders for ``lcc`` and ``terms:K`` on the larger layers of the int8 models.

For every chosen layer (its integer weight matrix, rows = output channels):

* ``terms:K`` for K = 1..4 (K = 1 is ``po2``): every weight rounded to K signed digits;
* ``lcc`` at each ``terms:K`` point's own SQNR (the equal-SQNR comparison) and on a sweep of
  target SQNRs (the curve);
* ``lcc:slice=8`` (factor coding, LCC as published) on the same sweep, for reference.

Adders are those of the shift-add graph (CSE included for both ``terms`` and ``lcc``); the
SQNR is that of the effective matrix against the integer weights.  Writes a CSV/JSON of every
point and a PNG of the curves, and prints, per ``terms:K`` point, the adders ``lcc`` needs at
the same SQNR (ratio below 1: lcc dominates).

    python benchmarks/lcc_vs_terms.py                 # resnet8_int8 conv9 and conv10
    python benchmarks/lcc_vs_terms.py --quick         # two small layers, few points (CI)
    python benchmarks/lcc_vs_terms.py --out results/lcc_vs_terms
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
LAYERS = (("resnet8_int8", "conv9"), ("resnet8_int8", "conv10"))
QUICK_LAYERS = (("resnet8_int8", "conv4"), ("kws_dscnn_int8", "dense10"))
SWEEP = (12.0, 16.0, 20.0, 24.0, 28.0, 32.0, 36.0, 40.0)
QUICK_SWEEP = (15.0, 25.0, 35.0)
COLUMNS = ("model", "layer", "rows", "cols", "series", "method", "adders", "depth",
           "sqnr_db", "seconds")


def point(model: str, layer_name: str, matrix, method: str) -> dict:
    from hlsgen.decompose.methods import decompose
    from hlsgen.decompose.report import sqnr_db

    start = time.perf_counter()
    graph = decompose(matrix, method)
    seconds = time.perf_counter() - start
    approx = graph.effective_matrix() * 2.0 ** -graph.frac_bits
    series = "lcc factor coding" if "slice=" in method else method.split(":")[0]
    return {"model": model, "layer": layer_name, "rows": int(matrix.shape[0]),
            "cols": int(matrix.shape[1]), "series": series, "method": method,
            "adders": graph.adder_count, "depth": graph.depth,
            "sqnr_db": round(sqnr_db(matrix, approx), 3), "seconds": round(seconds, 2)}


def run_layer(model: str, layer_name: str, sweep) -> tuple[list[dict], list[dict]]:
    from hlsgen.decompose.methods import layer_matrices
    from hlsgen.frontend import import_model

    matrix = layer_matrices(import_model(MODELS / model / "model.onnx").layer(layer_name))[0]
    points, duels = [], []
    for k in (1, 2, 3, 4):
        terms = point(model, layer_name, matrix, f"terms:{k}")
        terms["series"] = "terms"
        points.append(terms)
        print(_format(points[-1]), flush=True)
        if terms["sqnr_db"] == float("inf"):
            continue  # exact already: nothing to approximate
        lcc = point(model, layer_name, matrix, f"lcc:sqnr={terms['sqnr_db']}")
        lcc["series"] = "lcc (equal SQNR)"
        points.append(lcc)
        print(_format(points[-1]), flush=True)
        duels.append({"model": model, "layer": layer_name, "terms": f"terms:{k}",
                      "sqnr_db": terms["sqnr_db"], "terms_adders": terms["adders"],
                      "lcc_adders": lcc["adders"], "lcc_sqnr_db": lcc["sqnr_db"],
                      "ratio": round(lcc["adders"] / terms["adders"], 4)})
    for sqnr in sweep:
        for method in (f"lcc:sqnr={sqnr:g}", f"lcc:sqnr={sqnr:g},slice=8"):
            points.append(point(model, layer_name, matrix, method))
            print(_format(points[-1]), flush=True)
    return points, duels


def _format(p: dict) -> str:
    return (f"{p['model']:<15} {p['layer']:<8} {p['series']:<18} {p['method']:<24} "
            f"adders {p['adders']:>6}  depth {p['depth']:>3}  SQNR {p['sqnr_db']:>7} dB  "
            f"{p['seconds']:>6.1f} s")


def plot(points: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = sorted({(p["model"], p["layer"]) for p in points})
    figure, axes = plt.subplots(1, len(layers), figsize=(6 * len(layers), 4.5), squeeze=False)
    styles = {"terms": "s-", "lcc": "o-", "lcc factor coding": "^--"}
    for axis, (model, layer) in zip(axes[0], layers):
        for series, style in styles.items():
            chosen = sorted((p for p in points if (p["model"], p["layer"]) == (model, layer)
                             and p["series"] == series and p["sqnr_db"] != float("inf")),
                            key=lambda p: p["adders"])
            if chosen:
                axis.plot([p["adders"] for p in chosen], [p["sqnr_db"] for p in chosen], style,
                          label=series)
        axis.set_title(f"{model} {layer}")
        axis.set_xlabel("adders")
        axis.set_ylabel("SQNR (dB)")
        axis.grid(True, alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two small layers, 3 sweep points")
    parser.add_argument("--out", type=Path, default=Path("lcc_vs_terms"),
                        help="prefix of the .csv, .json and .png written (default ./lcc_vs_terms)")
    args = parser.parse_args(argv)
    layers, sweep = (QUICK_LAYERS, QUICK_SWEEP) if args.quick else (LAYERS, SWEEP)
    points, duels = [], []
    for model, layer in layers:
        more_points, more_duels = run_layer(model, layer, sweep)
        points += more_points
        duels += more_duels
    print()
    for d in duels:
        print(f"{d['model']:<15} {d['layer']:<8} {d['terms']:<8} at {d['sqnr_db']:>6} dB: "
              f"terms {d['terms_adders']:>6} adders, lcc {d['lcc_adders']:>6} "
              f"(ratio {d['ratio']})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out.with_suffix(".csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(points)
    args.out.with_suffix(".json").write_text(
        json.dumps({"points": points, "equal_sqnr": duels}, indent=2) + "\n")
    plot(points, args.out.with_suffix(".png"))
    print(f"wrote {args.out.with_suffix('.csv')}, .json and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
