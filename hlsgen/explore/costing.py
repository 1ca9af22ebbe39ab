"""The search's view of hlsgen's cost model: a design plus per-layer pipelining -> resources
and exact latency, and the pipelining choices the target clock allows."""

from __future__ import annotations

from hlsgen.hw.resources import CostReport, estimate_design
from hlsgen.hw.target import Target

__all__ = ["explore_cost", "pipeline_choices"]


def explore_cost(design, pipeline: dict[str, int], clock_mhz: float) -> CostReport:
    options = Target(clock_mhz=clock_mhz, layer_pipeline=tuple(sorted(pipeline.items())))
    return estimate_design(design, options)


def pipeline_choices(clock_mhz: float) -> tuple[int, ...]:
    """Adder levels between registers from 1 up to what the clock period allows."""
    return tuple(range(1, Target(clock_mhz=clock_mhz).adder_levels() + 1))
