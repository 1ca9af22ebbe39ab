"""The hardware plan: per IR layer what is built (a :class:`ModulePlan`: front end, datapath
kind and netlist, window) and the exact schedule of the whole design.

:func:`plan_hardware` is the one lowering of a :class:`hlsgen.design.Design` to hardware; the
Verilog emitter, the HLS emitter (stream depths), the resource model, the latency model and the
tests all read the :class:`HardwarePlan` it returns.  A layer's datapath kind (its
``LayerImpl.kind``) selects the module that builds, stages and costs its datapath from
:data:`KINDS`.  Layers without weights are parallel, except that a design with folded weight
layers runs its Adds and global pools channel-serial where that costs no throughput
(:mod:`hlsgen.hw.channels`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import ModuleType

from hlsgen import ir
from hlsgen.design import DatapathKind
from hlsgen.hw import channels, multiplexed, parallel, serial
from hlsgen.hw.module import ModulePlan, front_of
from hlsgen.hw.schedule import Schedule, schedule, work
from hlsgen.hw.target import Target

__all__ = ["KINDS", "HardwarePlan", "plan_hardware"]

# Datapath kind -> the module that builds it (``build``), pipelines it (``stages``) and
# counts its resources (``resources``), optionally changing the layer's front end
# (``front``) and listing its memories (``memories``: priced by the resource model).  A new kind is one module here plus its templates.
KINDS: dict[DatapathKind, ModuleType] = {
    DatapathKind.PARALLEL: parallel,
    DatapathKind.SERIAL: serial,
    DatapathKind.MULTIPLEXED: multiplexed,
}


@dataclass(frozen=True, eq=False)
class HardwarePlan:
    """Everything the back ends render: modules in graph order, their pipelining, schedule."""

    graph: ir.Graph
    modules: tuple[ModulePlan, ...]
    levels: dict[str, int]  # per layer: adder levels between pipeline registers
    schedule: Schedule

    def per_stage(self, module: ModulePlan) -> int:
        return self.levels[module.name]

    def stages(self, module: ModulePlan) -> int:
        return KINDS[module.kind].stages(module, self.levels[module.name])

    def module(self, name: str) -> ModulePlan:
        for m in self.modules:
            if m.name == name:
                return m
        raise KeyError(name)

    def consumers(self, tensor: str) -> list[str]:
        """Layer names reading ``tensor`` (plus ``""`` for the top output port)."""
        names = [m.name for m in self.modules if tensor in m.layer.inputs]
        return names + ([""] if tensor == self.graph.output else [])


def plan_hardware(design, target: Target | None = None) -> HardwarePlan:
    """The hardware of a :class:`hlsgen.design.Design` (``.graph`` and ``.impls``)."""
    target = target or Target()
    graph = design.graph
    levels = {layer.name: target.adder_levels(layer.name) for layer in graph.layers}
    modules = tuple(_cached_module(layer, i, graph, design.impls.get(layer.name))
                    for i, layer in enumerate(graph.layers))
    modules = _channel_serial(modules, graph)
    stages = {m.name: KINDS[m.kind].stages(m, levels[m.name]) for m in modules}
    return HardwarePlan(graph, modules, levels, schedule(modules, graph, stages))


def _channel_serial(modules: tuple[ModulePlan, ...], graph: ir.Graph
                    ) -> tuple[ModulePlan, ...]:
    """Adds and global pools of a folded design made channel-serial (multiplexed) when their
    ``C`` cycles per item fit in the interval the other layers set."""
    if all(m.kind is DatapathKind.PARALLEL for m in modules):
        return modules
    candidates = {m.name for m in modules if channels.foldable(m.layer, m.front)}
    if not candidates:
        return modules
    h, w, _ = graph.tensor(graph.input).shape
    period = max([h * w] + [work(m) for m in modules if m.name not in candidates])
    return tuple(replace(m, kind=DatapathKind.MULTIPLEXED)
                 if m.name in candidates and channels.work(m) <= period else m
                 for m in modules)


def _module(layer: ir.Layer, index: int, graph: ir.Graph, impl) -> ModulePlan:
    inputs = tuple(graph.tensor(t) for t in layer.inputs)
    out = graph.tensor(layer.output)
    front_end = front_of(layer, index, graph)
    kind = impl.kind if impl is not None else DatapathKind.PARALLEL
    built_by = KINDS[kind]
    if hasattr(built_by, "front"):
        front_end = built_by.front(front_end)
    datapath = built_by.build(layer, front_end, inputs, out, impl)
    return ModulePlan(layer, index, kind, front_end.front, inputs, out, datapath,
                      front_end.window, front_end.pad, front_end.sum_bits,
                      impl.digit if impl is not None else 0,
                      impl.chunks if impl is not None else 1,
                      impl.lanes if impl is not None else 1)


_MODULE_CACHE: dict = {}


def _cached_module(layer, index, graph, impl) -> ModulePlan:
    # The search evaluates many designs sharing layers: key on the (immutable) IR objects.
    tensors = tuple(graph.tensor(t) for t in (*layer.inputs, layer.output))
    key = (id(layer), index, tuple(id(t) for t in tensors), id(impl))
    hit = _MODULE_CACHE.get(key)
    if hit is not None and hit[0] is layer and hit[1] is impl:
        return hit[2]
    module = _module(layer, index, graph, impl)
    if len(_MODULE_CACHE) > 2048:
        _MODULE_CACHE.clear()
    _MODULE_CACHE[key] = (layer, impl, module, tensors)
    return module
