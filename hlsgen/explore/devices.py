"""Resource table of common Xilinx parts, and the budget a design must fit.

Counts are the device totals from the Xilinx product tables (LUTs, flip-flops, DSP slices,
36 Kb block RAMs; UltraRAM is not used by hlsgen).  A design may use at most
``UTILIZATION_CEILING`` of each: beyond roughly 80 % LUT utilization, placement and routing
of a streaming design get slow and the clock starts to suffer, so that is where we stop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hlsgen.errors import InputError

__all__ = ["Device", "Budget", "DEVICES", "UTILIZATION_CEILING", "LUT_MODEL_MARGIN", "device",
           "budget_for", "utilization"]

UTILIZATION_CEILING = 0.80
# The cost model's LUT count of folded designs has come out 1-8 % under yosys' (docs/hardware.md,
# "Folded designs on small parts"): a device's LUT budget keeps this share of the ceiling in
# reserve, so a design the search calls feasible still fits when synthesised.
LUT_MODEL_MARGIN = 0.05


@dataclass(frozen=True)
class Device:
    name: str  # family member, e.g. "xc7z020"
    part: str  # a full part number for Vivado, e.g. "xc7z020clg400-1"
    luts: int
    ffs: int
    dsps: int
    brams: int  # 36 Kb blocks


@dataclass(frozen=True)
class Budget:
    """Hard resource limits for the search (already including any utilization ceiling)."""

    luts: int
    ffs: int
    dsps: int
    brams: float
    source: str  # "xc7z020 x 0.80", "user" or "none"

    @classmethod
    def unconstrained(cls) -> "Budget":
        """No resource limit: only the accuracy bound constrains the search."""
        return cls(10**15, 10**15, 10**15, 1e15, "none")

    @property
    def limited(self) -> bool:
        return self.source != "none"

    def violations(self, luts: float, ffs: float, dsps: float, brams: float) -> dict[str, float]:
        """Relative overshoot per resource (only those that do not fit)."""
        out = {}
        for name, used, limit in (("luts", luts, self.luts), ("ffs", ffs, self.ffs),
                                  ("dsps", dsps, self.dsps), ("brams", brams, self.brams)):
            if used > limit:
                out[name] = (used - limit) / max(limit, 1)
        return out


DEVICES: dict[str, Device] = {
    d.name: d
    for d in (
        # Artix-7 / Spartan-7 / Zynq-7000: the TinyML boards (Arty A7-35T/100T, Arty S7-50,
        # Zybo Z7-10, Pynq-Z2 and ZedBoard)
        Device("xc7a35t", "xc7a35ticsg324-1l", 20_800, 41_600, 90, 50),
        Device("xc7a100t", "xc7a100tcsg324-1", 63_400, 126_800, 240, 135),
        Device("xc7a200t", "xc7a200tsbg484-1", 133_800, 267_600, 740, 365),
        Device("xc7s50", "xc7s50csga324-1", 32_600, 65_200, 120, 75),
        Device("xc7z010", "xc7z010clg400-1", 17_600, 35_200, 80, 60),
        Device("xc7z020", "xc7z020clg400-1", 53_200, 106_400, 220, 140),
        # Zynq UltraScale+ MPSoC, Kria K26 SOM
        Device("xczu2cg", "xczu2cg-sbva484-1-e", 47_232, 94_464, 240, 150),
        Device("xczu3eg", "xczu3eg-sbva484-1-e", 70_560, 141_120, 360, 216),
        Device("xczu7ev", "xczu7ev-ffvc1156-2-e", 230_400, 460_800, 1_728, 312),
        Device("xczu9eg", "xczu9eg-ffvb1156-2-e", 274_080, 548_160, 2_520, 912),
        Device("xck26", "xck26-sfvc784-2lv-c", 117_120, 234_240, 1_248, 144),
        # Kintex / Virtex UltraScale(+), Alveo U50, Versal AI Core (VCK190)
        Device("xcku115", "xcku115-flvb2104-2-e", 663_360, 1_326_720, 5_520, 2_160),
        Device("xcvu9p", "xcvu9p-flga2104-2l-e", 1_182_240, 2_364_480, 6_840, 2_160),
        Device("xcu50", "xcu50-fsvh2104-2-e", 871_680, 1_743_360, 5_952, 1_344),
        Device("xcvc1902", "xcvc1902-vsva2197-2mp-e-s", 899_840, 1_799_680, 1_968, 967),
    )
}


def device(name_or_part: str) -> Device:
    """Look a device up by family member ("xc7z020") or full part ("xc7z020clg400-1")."""
    key = name_or_part.lower()
    # Longest family name first, so a part number never matches a shorter family's prefix.
    for dev in sorted(DEVICES.values(), key=lambda d: -len(d.name)):
        if key == dev.name or key == dev.part.lower() or key.startswith(dev.name):
            if not re.fullmatch(r"[a-z0-9][a-z0-9_.\-]*", key):
                break
            return dev
    known = ", ".join(DEVICES)
    shown = name_or_part if re.fullmatch(r"[\w.\-]{1,64}", name_or_part) else "(not a part name)"
    raise InputError(f"unknown device '{shown}': known devices are {known} "
                     "(or give --lut-budget/--ff-budget/--dsp-budget/--bram-budget)")


def budget_for(dev: Device, ceiling: float = UTILIZATION_CEILING,
               lut_margin: float = LUT_MODEL_MARGIN) -> Budget:
    """The device's budget under ``ceiling``, the LUTs less ``lut_margin`` of that for the
    cost model's error."""
    margin = f", LUTs - {100 * lut_margin:g} % model margin" if lut_margin else ""
    return Budget(luts=int(dev.luts * ceiling * (1 - lut_margin)), ffs=int(dev.ffs * ceiling),
                  dsps=int(dev.dsps * ceiling), brams=dev.brams * ceiling,
                  source=f"{dev.name} x {ceiling:.2f}{margin}")


def utilization(used: dict, part: str, source: str) -> dict | None:
    """Use of each resource of ``part`` and the verdict under :data:`UTILIZATION_CEILING`:
    ``{"device", "source", "resources": {name: {"used", "available", "percent"}}, "fits",
    "verdict"}``.  ``used`` holds luts, ffs, dsps, brams; ``source`` says who counted them
    (the cost model, yosys).  None when the part is not in the table."""
    try:
        dev = device(part)
    except InputError:
        return None
    resources, over = {}, []
    for name, key, total in (("LUT", "luts", dev.luts), ("FF", "ffs", dev.ffs),
                             ("DSP", "dsps", dev.dsps), ("BRAM36", "brams", dev.brams)):
        value = float(used.get(key, 0) or 0)
        percent = 100.0 * value / total if total else float("inf")
        resources[name] = {"used": value, "available": total, "percent": round(percent, 2)}
        if percent > 100 * UTILIZATION_CEILING:
            over.append(f"{name} {percent:.0f} %")
    ceiling = f"{100 * UTILIZATION_CEILING:.0f} %"
    verdict = (f"fits {dev.name}: every resource under the {ceiling} ceiling ({source})"
               if not over else f"does NOT fit {dev.name} under the {ceiling} ceiling: "
               f"{', '.join(over)} ({source})")
    return {"device": dev.name, "source": source, "resources": resources, "fits": not over,
            "verdict": verdict}
