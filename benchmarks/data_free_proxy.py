"""How well does the data-free proxy predict the real top-1 drop?

For every uniform design of the search's ladder (one method on every layer, from exact to
po2) of each model: the real top-1 drop on the model's labelled samples, and data-free
measures on the smooth and class-seeking inputs of ``hlsgen/explore/synthetic.py`` (what
``hlsgen explore`` measures without ``--data``): the SQNR of the output logits against the
exact network's, the top-1 drop the search predicts from it, and the top-1 disagreement.  Prints a table,
writes ``OUT/data_free_proxy.json`` and the plot ``OUT/data_free_proxy.png`` (proxy vs real
drop; docs/explore.md shows it).

    python benchmarks/data_free_proxy.py --models kws_dscnn_int8 mnist8
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from bench_tables import print_markdown  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT.parent / "shared" / "models"
sys.path.insert(0, str(ROOT))
PIXEL_MODELS = ("mnist8", "resnet8_float")  # float models whose input is pixels 0..255


def study(name: str, samples: int, jobs: int) -> list[dict]:
    from hlsgen.design import apply_design
    from hlsgen.explore.evaluation import logit_sqnr_db, predicted_drop
    from hlsgen.explore.problem import DEFAULT_LADDER
    from hlsgen.explore.synthetic import synthetic_inputs
    from hlsgen.frontend import import_model
    from hlsgen.reference import execute, quantize_input

    folder = MODELS / name
    options = {"data_free_input_range": (0.0, 255.0)} if name in PIXEL_MODELS else {}
    graph = import_model(folder / "model.onnx", **options)
    zero_point = graph.tensor(graph.output).zero_point
    with np.load(folder / "data.npz") as data:
        x, y = quantize_input(graph, data["x"][:samples]), data["y"][:samples]
    synthetic = synthetic_inputs(graph, seed=0)  # what the data-free search uses
    exact = execute(graph, x).reshape(len(x), -1)
    exact_syn = execute(graph, synthetic).reshape(len(synthetic), -1)
    baseline = 100 * np.mean(exact.argmax(1) == y)
    rows = []
    for method in DEFAULT_LADDER:
        design = apply_design(graph, method, jobs=jobs).graph
        out = execute(design, x).reshape(len(x), -1)
        out_syn = execute(design, synthetic).reshape(len(synthetic), -1)
        differ = out_syn.argmax(1) != exact_syn.argmax(1)
        sqnr = logit_sqnr_db(out_syn, exact_syn, zero_point)
        rows.append({
            "model": name, "method": method,
            "real_drop": round(float(baseline - 100 * np.mean(out.argmax(1) == y)), 2),
            "real_flips": round(float(100 * np.mean(out.argmax(1) != exact.argmax(1))), 2),
            "real_logit_sqnr_db": round(logit_sqnr_db(out, exact, zero_point), 1),
            "synthetic_disagreement": round(float(100 * np.mean(differ)), 2),
            "logit_sqnr_db": round(sqnr, 1),
            "predicted_drop": round(predicted_drop(out_syn, exact_syn, zero_point), 2),
        })
        print(json.dumps(rows[-1]), flush=True)
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.2), dpi=120)
    for ax, key, label in ((axes[0], "predicted_drop",
                            "predicted drop from the logit SQNR (points), the search's proxy"),
                           (axes[1], "synthetic_disagreement",
                            "top-1 disagreement on the synthetic inputs (%)")):
        for model in dict.fromkeys(r["model"] for r in rows):
            mine = [r for r in rows if r["model"] == model]
            ax.scatter([r[key] for r in mine], [r["real_drop"] for r in mine], label=model, s=22)
        ax.axhline(1.0, color="red", ls=":", lw=1, label="1 point of real top-1")
        if key == "predicted_drop":
            ax.axvline(1.0, color="black", ls="--", lw=1, label="data-free bound at PP = 1")
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_xlabel(label)
        ax.set_ylabel("real top-1 drop (points)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("data-free proxy vs real top-1 drop, uniform designs of the search ladder")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["kws_dscnn_int8", "mnist8"])
    parser.add_argument("--samples", type=int, default=600, help="labelled samples per model")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [row for name in args.models for row in study(name, args.samples, args.jobs)]
    (args.out / "data_free_proxy.json").write_text(json.dumps(rows, indent=2) + "\n")
    plot(rows, args.out / "data_free_proxy.png")
    print_markdown(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
