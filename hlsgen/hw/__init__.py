"""The one hardware plan of a design and what is computed from it.

- :mod:`~hlsgen.hw.target`: part, clock, adder levels between pipeline registers;
- :mod:`~hlsgen.hw.netlist`: datapath netlist types, builder and exact interpreter;
- :mod:`~hlsgen.hw.module`: a layer as a module (front end, window, line-buffer helpers);
- :mod:`~hlsgen.hw.parallel`: the *parallel* datapath kind (build, stages, resources);
- :mod:`~hlsgen.hw.plan`: :func:`plan_hardware` -> :class:`HardwarePlan`, the kinds table;
- :mod:`~hlsgen.hw.schedule`: the exact cycle schedule (latency, interval, FIFO/line depths);
- :mod:`~hlsgen.hw.resources`: the LUT/FF/DSP/BRAM model.
"""

from hlsgen.errors import CostModelError
from hlsgen.hw.module import Front, ModulePlan
from hlsgen.hw.plan import KINDS, HardwarePlan, plan_hardware
from hlsgen.hw.resources import CostReport, LayerCost, estimate_design, estimate_plan
from hlsgen.hw.schedule import Schedule
from hlsgen.hw.target import Target

__all__ = ["CostModelError", "Front", "ModulePlan", "KINDS", "HardwarePlan", "plan_hardware",
           "CostReport", "LayerCost", "estimate_design", "estimate_plan", "Schedule", "Target"]
