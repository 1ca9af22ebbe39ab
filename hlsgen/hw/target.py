"""The target of a design: FPGA part, clock, and adder levels between pipeline registers.

Every stage that needs them (the hardware plan, the emitters, the search) reads a
:class:`Target`; ``hlsgen explore`` writes per-layer pipeline levels into design.json.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hlsgen.errors import InputError

__all__ = ["Target", "NS_PER_ADDER_LEVEL"]

NS_PER_ADDER_LEVEL = 1.6  # one carry-chain adder level plus routing (7-series, measured)


@dataclass(frozen=True)
class Target:
    """Part, clock and pipelining of a design.

    ``pipeline``: register every N adder levels of a datapath (None: chosen from the clock,
    see :meth:`adder_levels`); ``layer_pipeline``: per-layer overrides as sorted
    ``(layer name, N)`` pairs (what ``hlsgen explore`` writes to design.json).
    """

    part: str = "xc7z020clg400-1"
    clock_mhz: float = 200.0
    pipeline: int | None = None
    layer_pipeline: tuple[tuple[str, int], ...] = ()

    def __post_init__(self):
        if not isinstance(self.part, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]+", self.part):
            raise InputError(f"--part {self.part!r} is not an FPGA part name; "
                             "use e.g. xc7z020clg400-1")
        if (isinstance(self.clock_mhz, bool) or not isinstance(self.clock_mhz, (int, float))
                or not 1 <= self.clock_mhz <= 1000):
            raise InputError(f"--clock-mhz {self.clock_mhz!r} is out of range; "
                             "give a frequency in MHz between 1 and 1000, e.g. 200")
        for where, levels in [("pipeline", self.pipeline)] + list(self.layer_pipeline):
            if levels is not None and (isinstance(levels, bool) or not isinstance(levels, int)
                                       or levels < 1):
                raise InputError(f"pipeline levels for {where!r} must be an integer >= 1 "
                                 f"(adder levels between registers), got {levels!r}")
        if list(self.layer_pipeline) != sorted(dict(self.layer_pipeline).items()):
            raise ValueError("layer_pipeline must be sorted (layer, levels) pairs, one per layer")

    @property
    def clock_period_ns(self) -> float:
        return 1000.0 / self.clock_mhz

    @property
    def adder_levels_per_stage(self) -> int:
        """Adder levels between registers for layers without an override."""
        return self.adder_levels()

    def adder_levels(self, layer: str | None = None) -> int:
        """Adder levels between pipeline registers for ``layer``: its override, else
        ``pipeline``, else ``floor(clock period / 1.6 ns)`` (3 at 200 MHz)."""
        overrides = dict(self.layer_pipeline)
        if layer in overrides:
            return overrides[layer]
        if self.pipeline is not None:
            return self.pipeline
        return max(1, int(self.clock_period_ns / NS_PER_ADDER_LEVEL))
