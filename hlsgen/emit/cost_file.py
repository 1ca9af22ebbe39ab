"""``rtl/hlsgen_cost.json``: the cost model's figures beside the Verilog they describe, per
layer module with the names of its datapath modules, and the part the project targets --
what ``make estimate`` (:mod:`hlsgen.verify.estimate`) compares yosys with."""

from __future__ import annotations

import json
from dataclasses import asdict

from hlsgen.emit.common import identifier
from hlsgen.hw.module import ModulePlan
from hlsgen.hw.plan import HardwarePlan
from hlsgen.hw.resources import estimate_plan

__all__ = ["cost_json", "module_name"]


def module_name(module: ModulePlan) -> str:
    """Verilog module of a layer: ``l<index>_<layer name as identifier>`` (as the HLS side)."""
    return f"l{module.index}_{identifier(module.name)}"


def cost_json(plan: HardwarePlan, datapath: dict[str, list[str]],
              part: str | None = None) -> str:
    """The cost model's prediction per layer module, for ``hlsgen.verify.estimate``, with
    the names of each layer's datapath modules (``datapath``: so that per-module synthesis
    and the report need not parse names back)."""
    report = estimate_plan(plan)
    layers = {}
    for m in plan.modules:
        entry = asdict(report.layer(m.name))
        ident = module_name(m)
        layers[ident] = {"layer": entry.pop("name"), **entry,
                         "adder_levels_per_stage": plan.per_stage(m),
                         "datapath_modules": datapath[ident]}
    doc = {
        **({"part": part} if part else {}),  # estimate.json's fit verdict is for this part
        "total": {"luts": report.luts, "ffs": report.ffs, "dsps": report.dsps,
                  "brams": report.brams},
        "latency_cycles": report.latency_cycles,
        "interval_cycles": report.interval_cycles,
        "layers": layers,
    }
    return json.dumps(doc, indent=2) + "\n"
