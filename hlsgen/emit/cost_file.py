"""``rtl/hlsgen_cost.json``: the cost model's figures beside the Verilog they describe, per
layer module with the names of its datapath modules, the part the project targets and (for a
``--name`` other than the default) the top module -- what ``make estimate``
(:mod:`hlsgen.verify.estimate`) compares yosys with and ``tb/run_sim.py`` simulates.

The file keeps its name under every ``--name``: it is where the tools look for the top."""

from __future__ import annotations

import json
from dataclasses import asdict

from hlsgen.emit.common import CoreName, identifier
from hlsgen.hw.module import ModulePlan
from hlsgen.hw.plan import HardwarePlan
from hlsgen.hw.resources import estimate_plan

__all__ = ["cost_json", "module_name", "stall_cycles"]

STALL_CYCLES = 20_000  # the testbench's default limit on cycles without a handshake


def module_name(module: ModulePlan, core: CoreName = CoreName()) -> str:
    """Verilog module of a layer: ``l<index>_<layer name as identifier>`` with the core's
    prefix (:meth:`CoreName.layer`), as the HLS side names its kernel."""
    return core.layer(f"l{module.index}_{identifier(module.name)}")


def cost_json(plan: HardwarePlan, datapath: dict[str, list[str]],
              part: str | None = None, core: CoreName = CoreName()) -> str:
    """The cost model's prediction per layer module, for ``hlsgen.verify.estimate``, with
    the names of each layer's datapath modules (``datapath``: so that per-module synthesis
    and the report need not parse names back)."""
    report = estimate_plan(plan)
    layers = {}
    for m in plan.modules:
        entry = asdict(report.layer(m.name))
        ident = module_name(m, core)
        layers[ident] = {"layer": entry.pop("name"), **entry,
                         "adder_levels_per_stage": plan.per_stage(m),
                         "datapath_modules": datapath[ident]}
    doc = {
        # No "top" means hlsgen_top: the default name's file is the same as before --name.
        **({} if core.is_default else {"top": core.top}),
        **({"part": part} if part else {}),  # estimate.json's fit verdict is for this part
        "total": {"luts": report.luts, "ffs": report.ffs, "dsps": report.dsps,
                  "brams": report.brams},
        "latency_cycles": report.latency_cycles,
        "interval_cycles": report.interval_cycles,
        # the testbench's limit on cycles without a handshake (tb/run_sim.py): a folded design
        # paces frames and computes for up to its latency between beats
        **({"stall_cycles": stall} if (stall := stall_cycles(report)) > STALL_CYCLES else {}),
        "layers": layers,
    }
    return json.dumps(doc, indent=2) + "\n"


def stall_cycles(report) -> int:
    """Cycles without a handshake the testbench must wait for: twice the longest silence of a
    correct design (the input pacer holds the next frame for up to an interval; the last
    output comes up to a latency after the last input), at least the default 20,000."""
    return max(STALL_CYCLES, 2 * max(report.latency_cycles, report.interval_cycles))
