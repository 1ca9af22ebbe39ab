"""Per-layer MAC utilization of a whole network on the array: what the project README and
``results/utilization.json`` show (issue 11's fairness check: a strong baseline keeps its
PEs busy on the dense layers)."""

from __future__ import annotations

from hlsgen.systolic.nettiming import NetworkTiming
from hlsgen.systolic.network import NetworkPlan, Op

__all__ = ["utilization_rows", "utilization_markdown"]


def utilization_rows(plan: NetworkPlan, timing: NetworkTiming) -> list[dict]:
    """One row per step: op, items, cycles (its span, first issue to the next layer's), MACs
    and utilization = MACs / (PEs x cycles) for the steps on the array (None for the lanes'
    steps: MaxPool, Add, AvgPool)."""
    pes = plan.shape.pes
    rows = []
    for step, items, cycles in zip(plan.steps, timing.layer_items, timing.layer_cycles):
        on_array = step.op in (Op.MAC, Op.DW)
        rows.append({"layer": step.name, "op": step.op.name.lower(), "items": items,
                     "cycles": cycles, "macs": step.macs if on_array else 0,
                     "utilization": round(step.macs / (pes * cycles), 4) if on_array else None})
    return rows


def utilization_markdown(plan: NetworkPlan, timing: NetworkTiming) -> str:
    rows = utilization_rows(plan, timing)
    lines = ["| layer | op | items | cycles | MACs | MAC utilization |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        util = "-" if r["utilization"] is None else f"{100 * r['utilization']:.1f} %"
        lines.append(f"| {r['layer']} | {r['op']} | {r['items']:,} | {r['cycles']:,} | "
                     f"{r['macs']:,} | {util} |")
    macs = sum(r["macs"] for r in rows)
    total = 100 * macs / (plan.shape.pes * timing.compute_cycles)
    lines.append(f"| network | | | {timing.compute_cycles:,} | {macs:,} | {total:.1f} % |")
    return "\n".join(lines) + "\n"
