"""Resource table of common Xilinx parts, and the budget a design must fit.

Counts are the device totals from the Xilinx product tables (LUTs, flip-flops, DSP slices,
36 Kb block RAMs; UltraRAM is not used by hlsgen).  A design may use at most
``UTILIZATION_CEILING`` of each: beyond roughly 80 % LUT utilization, placement and routing
of a streaming design get slow and the clock starts to suffer, so that is where we stop.
"""

from __future__ import annotations

from dataclasses import dataclass

from hlsgen.errors import InputError

__all__ = ["Device", "Budget", "DEVICES", "UTILIZATION_CEILING", "device", "budget_for"]

UTILIZATION_CEILING = 0.80


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
        Device("xc7z020", "xc7z020clg400-1", 53_200, 106_400, 220, 140),
        Device("xc7a100t", "xc7a100tcsg324-1", 63_400, 126_800, 240, 135),
        Device("xc7a200t", "xc7a200tsbg484-1", 133_800, 267_600, 740, 365),
        Device("xczu3eg", "xczu3eg-sbva484-1-e", 70_560, 141_120, 360, 216),
        Device("xczu7ev", "xczu7ev-ffvc1156-2-e", 230_400, 460_800, 1_728, 312),
        Device("xczu9eg", "xczu9eg-ffvb1156-2-e", 274_080, 548_160, 2_520, 912),
        Device("xcku115", "xcku115-flvb2104-2-e", 663_360, 1_326_720, 5_520, 2_160),
        Device("xcvu9p", "xcvu9p-flga2104-2L-e", 1_182_240, 2_364_480, 6_840, 2_160),
    )
}


def device(name_or_part: str) -> Device:
    """Look a device up by family member ("xc7z020") or full part ("xc7z020clg400-1")."""
    key = name_or_part.lower()
    for dev in DEVICES.values():
        if key == dev.name or key == dev.part.lower() or key.startswith(dev.name):
            return dev
    known = ", ".join(DEVICES)
    raise InputError(f"unknown device '{name_or_part}': known devices are {known} "
                     "(or give --lut-budget/--ff-budget/--dsp-budget/--bram-budget)")


def budget_for(dev: Device, ceiling: float = UTILIZATION_CEILING) -> Budget:
    return Budget(luts=int(dev.luts * ceiling), ffs=int(dev.ffs * ceiling),
                  dsps=int(dev.dsps * ceiling), brams=dev.brams * ceiling,
                  source=f"{dev.name} x {ceiling:.2f}")
