"""How well does the data-free proxy predict the real top-1 drop?

For each model, designs from the search's ladder: every uniform design (one folded lcc rung
on every layer) and mixed ones, a rung per layer chosen to spend the fewest adders on a given
total of the per-layer logit errors measured on the synthetic inputs (a Lagrangian sweep:
the allocations a search explores), and with ``--pareto`` the Pareto designs of data-free
searches (``EXPDIR/pareto.json`` of ``hlsgen explore`` without ``--data``, seed 0).  Each design is scored on the model's labelled samples
(real top-1 drop, flipped predictions, logit SQNR) and by what ``hlsgen explore`` without
``--data`` measures on the inputs of ``hlsgen/explore/synthetic.py`` (seed 0): the RMS
error of the logits against the exact network's median decision margin (the margin SNR),
the drop the search predicts from it, and, for comparison, the logit SQNR the search used
before (1 point at 25 dB).  Prints a table, writes ``OUT/data_free_proxy.json`` and the plot
``OUT/data_free_proxy.png`` (docs/explore.md shows it).

    python benchmarks/data_free_proxy.py --models kws_dscnn_int8 resnet8_int8 mnist8
    python benchmarks/data_free_proxy.py --models kws_dscnn_int8 --pareto kws/pareto.json
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
UNIFORM = tuple(f"lcc:sqnr={s},fold=1" for s in (36, 32, 28, 25, 22, 19, 16, 13, 10))
PREVIOUS_SQNR_AT_ONE_POINT = 25.0  # the logit-SQNR proxy this one replaced


def study(name: str, samples: int | None, jobs: int, pareto: list[Path]) -> list[dict]:
    from hlsgen.explore.devices import Budget
    from hlsgen.explore.evaluation import (logit_sqnr_db, margin_snr_db, predicted_drop)
    from hlsgen.explore.problem import build_problem
    from hlsgen.explore.run import make_eval_data
    from hlsgen.frontend import import_model
    from hlsgen.reference import execute, quantize_input

    folder = MODELS / name
    options = {"data_free_input_range": (0.0, 255.0)} if name in PIXEL_MODELS else {}
    graph = import_model(folder / "model.onnx", **options)
    zero_point = graph.tensor(graph.output).zero_point
    with np.load(folder / "data.npz") as data:
        x, y = quantize_input(graph, data["x"][:samples]), data["y"][:samples]
    data = make_eval_data(graph, None, None, seed=0)  # what the data-free search measures on
    problem = build_problem(graph, data, max_accuracy_drop=1.0,
                            budget=Budget.unconstrained(), clock_mhz=200.0, cost_fn=None,
                            jobs=jobs)
    synthetic, exact_syn = data.x_ir, data.reference_out
    exact = execute(graph, x).reshape(len(x), -1)
    baseline = 100 * np.mean(exact.argmax(1) == y)
    names = problem.layer_names
    parallel = problem.uniform_genome("exact")[len(names):]  # pipeline and datapath genes

    def network(genes) -> object:
        return problem.design(tuple(genes) + parallel)[0].graph

    def syn_noise(genes) -> float:
        out = execute(network(genes), synthetic).reshape(len(synthetic), -1)
        return float(np.mean((out - exact_syn.astype(np.float64)) ** 2))

    # per (layer, rung): the logit error with that rung alone, then allocations over it
    exact_genes = [0] * len(names)
    noise = [[0.0] + [syn_noise(exact_genes[:i] + [g] + exact_genes[i + 1:])
                      for g in range(1, len(ladder))]
             for i, ladder in enumerate(problem.ladders)]
    designs = {m: problem.uniform_genome(m)[:len(names)] for m in UNIFORM}
    for weight in np.logspace(0.5, 3.0, 14):
        designs[f"mixed, lambda {weight:.0f}"] = tuple(
            min(range(len(ladder)), key=lambda g: ladder[g].adders + weight * noise[i][g])
            for i, ladder in enumerate(problem.ladders))
    for path in pareto:  # the fronts of data-free searches of this model
        doc = json.loads(path.read_text())
        if doc["model"] != graph.name:
            continue
        for k, point in enumerate(doc["front"]):
            designs[f"pareto {k}"] = tuple(
                [c.method for c in ladder].index(point["methods"][layer])
                for layer, ladder in zip(names, problem.ladders))
    exact_adders = sum(ladder[0].adders for ladder in problem.ladders)
    rows, seen = [], set()
    for label, genes in designs.items():
        if genes in seen or not any(genes):
            continue
        seen.add(genes)
        g = network(genes)
        out = execute(g, x).reshape(len(x), -1)
        out_syn = execute(g, synthetic).reshape(len(synthetic), -1)
        sqnr_syn = logit_sqnr_db(out_syn, exact_syn, zero_point)
        rows.append({
            "model": name, "design": label,
            "adders_vs_exact": round(sum(problem.ladders[i][r].adders
                                         for i, r in enumerate(genes)) / exact_adders, 3),
            "real_drop": round(float(baseline - 100 * np.mean(out.argmax(1) == y)), 2),
            "real_flips": round(float(100 * np.mean(out.argmax(1) != exact.argmax(1))), 2),
            "real_logit_sqnr_db": round(logit_sqnr_db(out, exact, zero_point), 1),
            "logit_sqnr_db": round(sqnr_syn, 1),
            "margin_snr_db": round(margin_snr_db(out_syn, exact_syn, data.margin), 1),
            "predicted_drop": round(predicted_drop(out_syn, exact_syn, data.margin), 2),
            "previous_predicted_drop": round(min(100.0, 10.0 ** (
                (PREVIOUS_SQNR_AT_ONE_POINT - sqnr_syn) / 10.0)), 2),
            "synthetic_disagreement": round(float(100 * np.mean(
                out_syn.argmax(1) != exact_syn.argmax(1))), 2),
            "margin": data.margin,
        })
        print(json.dumps(rows[-1]), flush=True)
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.2), dpi=120, sharey=True)
    for ax, key, label in ((axes[0], "predicted_drop",
                            "predicted drop (points): logit error vs decision margin"),
                           (axes[1], "previous_predicted_drop",
                            "predicted drop (points): logit SQNR, 1 point at 25 dB")):
        for model in dict.fromkeys(r["model"] for r in rows):
            mine = [r for r in rows if r["model"] == model]
            ax.scatter([r[key] for r in mine], [r["real_drop"] for r in mine], label=model, s=22)
        ax.axhline(1.0, color="red", ls=":", lw=1, label="1 point of real top-1")
        ax.axvline(1.0, color="black", ls="--", lw=1, label="data-free bound at PP = 1")
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_xlim(left=0.0)
        for model in dict.fromkeys(r["model"] for r in rows):
            mine = [r for r in rows if r["model"] == model and r["design"].startswith("pareto")]
            if mine:
                ax.scatter([r[key] for r in mine], [r["real_drop"] for r in mine], s=40,
                           facecolors="none", edgecolors="black", lw=0.6)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("real top-1 drop (points)")
    axes[0].legend(fontsize=7)
    fig.suptitle("data-free proxy vs real top-1 drop: uniform and mixed designs of the ladder, "
                 "circled: Pareto designs of the data-free searches")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+",
                        default=["kws_dscnn_int8", "resnet8_int8", "mnist8"])
    parser.add_argument("--samples", type=int, default=None,
                        help="labelled samples per model (default: all)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--pareto", type=Path, nargs="*", default=[],
                        help="pareto.json files of data-free searches (seed 0) to score too")
    parser.add_argument("--plot-only", action="store_true",
                        help="redraw OUT/data_free_proxy.png from OUT/data_free_proxy.json")
    args = parser.parse_args(argv)
    if args.plot_only:
        plot(json.loads((args.out / "data_free_proxy.json").read_text()),
             args.out / "data_free_proxy.png")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [row for name in args.models
            for row in study(name, args.samples, args.jobs, args.pareto)]
    (args.out / "data_free_proxy.json").write_text(json.dumps(rows, indent=2) + "\n")
    plot(rows, args.out / "data_free_proxy.png")
    print_markdown(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
