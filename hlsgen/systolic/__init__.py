"""A DSP systolic-array baseline (issue 11): an R x C weight-stationary array of int8
multiply-accumulate PEs, computed exactly as the IR defines it -- one Conv or Dense layer, or a
whole network run layer by layer on the one array.

- :mod:`~hlsgen.systolic.plan`: :func:`plan_layer` -> :class:`SystolicPlan` (tiling, im2col
  tables, weight ROM words, folded bias, exact widths), :class:`ArrayShape`;
- :mod:`~hlsgen.systolic.timing`: :func:`cycle_model` -> :class:`Timing` (exact latency and
  interval, what ``make sim`` measures);
- :mod:`~hlsgen.systolic.emulate`: :func:`emulate`, a numpy model of the array's dataflow;
- :mod:`~hlsgen.systolic.emit`: :func:`emit_systolic`, the Verilog (``templates/systolic``);
- :mod:`~hlsgen.systolic.project`: :func:`write_sim_project` for hlsgen's own testbench;
- whole networks: :func:`plan_network` -> :class:`NetworkPlan` (:mod:`.network`, depthwise
  Convs channel-parallel: :mod:`.depthwise`), :func:`network_cycle_model` (:mod:`.nettiming`),
  :func:`emulate_network` (:mod:`.netemu`), :func:`emit_network` (:mod:`.netemit`),
  :func:`write_network_project`.

See ``docs/systolic.md``.
"""

from hlsgen.systolic.emit import emit_systolic, module_names
from hlsgen.systolic.emulate import emulate
from hlsgen.systolic.plan import ArrayShape, SystolicError, SystolicPlan, plan_layer
from hlsgen.systolic.netemit import emit_network
from hlsgen.systolic.netemu import emulate_network
from hlsgen.systolic.nettiming import NetworkTiming, network_cycle_model
from hlsgen.systolic.network import NetworkPlan, plan_network
from hlsgen.systolic.project import write_network_project, write_sim_project
from hlsgen.systolic.timing import Timing, cycle_model

__all__ = ["ArrayShape", "SystolicError", "SystolicPlan", "plan_layer", "Timing",
           "cycle_model", "emulate", "emit_systolic", "module_names", "write_sim_project",
           "NetworkPlan", "plan_network", "NetworkTiming", "network_cycle_model",
           "emulate_network", "emit_network", "write_network_project"]
