"""The product of a search: the Pareto front over (LUTs, latency, accuracy), as CSV, JSON and
a plot, plus the chosen design as the JSON ``hlsgen generate --design`` reads."""

from __future__ import annotations

import csv
import io
import json
from typing import Sequence

from hlsgen.design import KindChoice
from hlsgen.explore.devices import Budget
from hlsgen.explore.evaluation import Evaluation

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


def _no_validation(_e: Evaluation) -> dict:
    return {}


def _row(e: Evaluation, metric_name: str, extra=_no_validation) -> dict:
    """One design's figures; ``extra(e)`` adds its validation figures when there are any."""
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
        **extra(e),
        "methods": e.methods,
        "pipeline": e.pipeline,
        "kinds": e.kinds,
    }


def front_csv(front: Sequence[Evaluation], metric_name: str, extra=_no_validation) -> str:
    out = io.StringIO()
    validation = ["validation_top1", "validation_drop", "validation_exceeds_bound"]
    has_validation = any(extra(e) for e in front)
    fields = (["luts", "ffs", "dsps", "brams", "latency_cycles", "interval_cycles", "adders",
               metric_name, "accuracy_drop"] + (validation if has_validation else [])
              + ["methods", "pipeline", "kinds"])
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for e in front:
        row = _row(e, metric_name, extra)
        row["methods"] = ";".join(f"{k}={v}" for k, v in row["methods"].items())
        row["pipeline"] = ";".join(f"{k}={v}" for k, v in row["pipeline"].items())
        row["kinds"] = ";".join(f"{k}={v}" for k, v in row["kinds"].items())
        writer.writerow(row)
    return out.getvalue()


def front_json(front: Sequence[Evaluation], metric_name: str, meta: dict,
               extra=_no_validation) -> str:
    return json.dumps({**meta, "front": [_row(e, metric_name, extra) for e in front]},
                      indent=2) + "\n"


def design_json(chosen: Evaluation, metric_name: str, meta: dict, extra=_no_validation) -> str:
    """The chosen design: ``methods``, ``pipeline`` and ``kinds`` (the datapath of every
    weight layer: ``"parallel"`` or ``{"kind": "serial", "digit": D}``) are what ``hlsgen
    generate`` reads."""
    kinds = {name: KindChoice.parse(name, label).to_json()
             for name, label in chosen.kinds.items()}
    body = {**meta, **_row(chosen, metric_name, extra), "kinds": kinds}
    return json.dumps(body, indent=2) + "\n"


def staircase(points: Sequence[tuple[float, float]], *, maximize_y: bool
              ) -> list[tuple[float, float]]:
    """The 2-D Pareto front of (x to minimize, y to minimize or maximize), sorted by x: only
    points no other point beats on both axes (a staircase never visits a dominated point)."""
    sign = -1.0 if maximize_y else 1.0
    best = float("inf")
    out = []
    for x, y in sorted(set(points), key=lambda p: (p[0], sign * p[1])):
        if sign * y < best:
            best = sign * y
            out.append((x, y))
    return out


def plot_front(path, evaluations: Sequence[Evaluation], front: Sequence[Evaluation],
               chosen: Evaluation | None, marks: dict[str, Evaluation], budget: Budget,
               metric_name: str, title: str) -> None:
    """Two views of every evaluated design: LUTs vs accuracy and LUTs vs latency, each with
    its own 2-D Pareto staircase over the feasible designs; the chosen design, the named
    reference designs (exact, po2) and the LUT budget marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    del front  # the 3-objective front has no faithful 2-D line; each panel draws its own
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.6), dpi=120)
    feasible = [e for e in evaluations if e.feasible]
    infeasible = [e for e in evaluations if not e.feasible]
    views = ((axes[0], lambda e: e.metric, f"{metric_name} (%)", True),
             (axes[1], lambda e: e.latency_cycles, "latency (cycles)", False))
    for ax, y_of, y_label, maximize in views:
        if infeasible:
            ax.scatter([e.luts for e in infeasible], [y_of(e) for e in infeasible],
                       c="lightgrey", s=12, marker="x", label="infeasible")
        if feasible:
            ax.scatter([e.luts for e in feasible], [y_of(e) for e in feasible], c="tab:blue",
                       s=14, alpha=0.6, label="feasible")
            steps = staircase([(e.luts, y_of(e)) for e in feasible], maximize_y=maximize)
            ax.step([x for x, _ in steps], [y for _, y in steps], "k-", lw=0.9,
                    where="post", label="Pareto front (these two axes)")
        for (label, e), style in zip(marks.items(), "s^Dv"):
            ax.scatter([e.luts], [y_of(e)], marker=style, s=70, facecolors="none",
                       edgecolors="red", label=f"{label} ({e.metric:.1f}%)")
        if chosen is not None:
            ax.scatter([chosen.luts], [y_of(chosen)], marker="*", s=220, c="orange",
                       edgecolors="black", label=f"chosen ({chosen.metric:.1f}%)", zorder=5)
        if budget.limited:
            ax.axvline(budget.luts, color="red", lw=1.0, ls=":",
                       label=f"LUT budget ({budget.source})")
        ax.set_xlabel("LUTs (hlsgen cost model)")
        ax.set_ylabel(y_label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})  # no version/date stamp: deterministic bytes
    plt.close(fig)
