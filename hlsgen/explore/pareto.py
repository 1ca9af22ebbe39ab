"""The product of a search: the Pareto front over (LUTs, latency, accuracy), as CSV, JSON and
a plot, plus the chosen design as the JSON ``hlsgen generate --design`` reads."""

from __future__ import annotations

import csv
import io
import json
from typing import Sequence

from hlsgen.design import DatapathKind
from hlsgen.explore.devices import Budget
from hlsgen.explore.problem import Evaluation

__all__ = ["pareto_front", "front_csv", "front_json", "design_json", "plot_front"]


def _dominates(a: Evaluation, b: Evaluation) -> bool:
    no_worse = a.luts <= b.luts and a.latency_cycles <= b.latency_cycles and a.metric >= b.metric
    better = a.luts < b.luts or a.latency_cycles < b.latency_cycles or a.metric > b.metric
    return no_worse and better


def pareto_front(evaluations: Sequence[Evaluation]) -> list[Evaluation]:
    """Feasible designs no other feasible design beats on all of LUTs, latency and accuracy."""
    feasible = [e for e in evaluations if e.feasible]
    front = [e for e in feasible if not any(_dominates(o, e) for o in feasible)]
    # One row per distinct point, in a stable order (LUTs, then latency, then genome).
    unique: dict[tuple, Evaluation] = {}
    for e in sorted(front, key=lambda e: (e.luts, e.latency_cycles, -e.metric, e.genome)):
        unique.setdefault((e.luts, e.latency_cycles, e.metric), e)
    return list(unique.values())


def _row(e: Evaluation, metric_name: str) -> dict:
    return {
        "luts": round(e.luts),
        "ffs": round(e.ffs),
        "dsps": round(e.dsps),
        "brams": e.brams,
        "latency_cycles": e.latency_cycles,
        "interval_cycles": e.interval_cycles,
        "adders": e.adders,
        metric_name: round(e.metric, 4),
        "accuracy_drop": round(e.accuracy_drop, 4),
        "methods": e.methods,
        "pipeline": e.pipeline,
    }


def front_csv(front: Sequence[Evaluation], metric_name: str) -> str:
    out = io.StringIO()
    fields = ["luts", "ffs", "dsps", "brams", "latency_cycles", "interval_cycles", "adders",
              metric_name, "accuracy_drop", "methods", "pipeline"]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for e in front:
        row = _row(e, metric_name)
        row["methods"] = ";".join(f"{k}={v}" for k, v in row["methods"].items())
        row["pipeline"] = ";".join(f"{k}={v}" for k, v in row["pipeline"].items())
        writer.writerow(row)
    return out.getvalue()


def front_json(front: Sequence[Evaluation], metric_name: str, extra: dict) -> str:
    return json.dumps({**extra, "front": [_row(e, metric_name) for e in front]}, indent=2) + "\n"


def design_json(chosen: Evaluation, metric_name: str, extra: dict) -> str:
    """The chosen design: ``methods``, ``pipeline`` and ``kinds`` (the datapath kind of every
    weight layer; the search does not vary it yet) are what ``hlsgen generate`` reads."""
    kinds = {name: DatapathKind.PARALLEL.value for name in chosen.methods}
    body = {**extra, **_row(chosen, metric_name), "kinds": kinds}
    return json.dumps(body, indent=2) + "\n"


def plot_front(path, evaluations: Sequence[Evaluation], front: Sequence[Evaluation],
               chosen: Evaluation | None, marks: dict[str, Evaluation], budget: Budget,
               metric_name: str, title: str) -> None:
    """LUTs vs latency of every evaluated design, coloured by accuracy; front, chosen design,
    the named reference designs (exact, po2) and the LUT budget marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5.0), dpi=120)
    feasible = [e for e in evaluations if e.feasible]
    infeasible = [e for e in evaluations if not e.feasible]
    if infeasible:
        ax.scatter([e.luts for e in infeasible], [e.latency_cycles for e in infeasible],
                   c="lightgrey", s=12, marker="x", label="infeasible")
    if feasible:
        points = ax.scatter([e.luts for e in feasible], [e.latency_cycles for e in feasible],
                            c=[e.metric for e in feasible], cmap="viridis", s=18,
                            label="feasible")
        fig.colorbar(points, ax=ax, label=f"{metric_name} (%)")
    if front:
        ordered = sorted(front, key=lambda e: e.luts)
        ax.plot([e.luts for e in ordered], [e.latency_cycles for e in ordered], "k--", lw=0.8,
                label="Pareto front")
    for (label, e), style in zip(marks.items(), "s^Dv"):
        ax.scatter([e.luts], [e.latency_cycles], marker=style, s=70, facecolors="none",
                   edgecolors="red", label=f"{label} ({e.metric:.1f}%)")
    if chosen is not None:
        ax.scatter([chosen.luts], [chosen.latency_cycles], marker="*", s=220, c="orange",
                   edgecolors="black", label=f"chosen ({chosen.metric:.1f}%)", zorder=5)
    if budget.limited:
        ax.axvline(budget.luts, color="red", lw=1.0, ls=":",
                   label=f"LUT budget ({budget.source})")
    ax.set_xlabel("LUTs (hlsgen cost model)")
    ax.set_ylabel("latency (cycles)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})  # no version/date stamp: deterministic bytes
    plt.close(fig)
