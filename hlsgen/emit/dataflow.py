"""The HLS top as a dataflow graph: one process per hardware module, forks, and the streams
between them, read from the hardware plan.

:func:`plan_dataflow` turns a :class:`hlsgen.design.Design` into a :class:`DataflowPlan`.  Each
layer process renders one :class:`hlsgen.hw.module.ModulePlan` of the
:class:`hlsgen.hw.plan.HardwarePlan` -- the same netlist, widths and constants as the Verilog
module.  Stream depths come from the plan's exact schedule: the two streams an Add reads are as
deep as the Verilog Add's input FIFOs, every other stream has the minimum depth.  A dataflow
stream has one producer and one consumer, so a tensor read by several layers goes through a
fork process.  Kernels and forks carry the core's prefix (:meth:`CoreName.layer`), so two
cores' functions do not clash when linked into one program.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from hlsgen import ir
from hlsgen.emit.common import CoreName, Names, identifier
from hlsgen.errors import InputError
from hlsgen.hw.module import ModulePlan
from hlsgen.hw.plan import HardwarePlan, plan_hardware
from hlsgen.hw.target import Target

__all__ = ["TensorPlan", "LayerProcess", "ForkProcess", "StreamPlan", "DataflowPlan",
           "plan_dataflow", "MIN_FIFO_DEPTH"]

MIN_FIFO_DEPTH = 2


@dataclass(frozen=True)
class TensorPlan:
    """An activation on a stream: one beat per pixel, channel c in bits [8c+7 : 8c]."""

    name: str
    height: int
    width: int
    channels: int
    dtype: ir.DType
    zero_point: int

    @property
    def bits(self) -> int:
        return 8 * self.channels

    @property
    def beats(self) -> int:
        return self.height * self.width

    @property
    def signed(self) -> bool:
        return self.dtype.signed


@dataclass(frozen=True)
class LayerProcess:
    """One layer's kernel: renders ``module``; reads ``in_streams``, writes ``out_streams``."""

    name: str  # IR layer name
    ident: str  # C identifier of the kernel function
    source: tuple[str, ...]  # ONNX node names, for comments
    inputs: tuple[TensorPlan, ...]
    output: TensorPlan
    in_streams: tuple[str, ...]
    out_streams: tuple[str, ...]
    module: ModulePlan
    method: str  # decomposition method ("-" for layers without weights)
    adder_count: int  # adders of its shift-add graphs (0 without weights)

    @property
    def kind(self) -> ir.LayerKind:
        return self.module.layer.kind


@dataclass(frozen=True)
class ForkProcess:
    """Copies one stream to several (a tensor read by more than one layer)."""

    name: str  # the tensor
    ident: str
    output: TensorPlan
    in_streams: tuple[str, ...]
    out_streams: tuple[str, ...]


Process = Union[LayerProcess, ForkProcess]


@dataclass(frozen=True)
class StreamPlan:
    """A FIFO between two processes; ``depth`` in beats."""

    ident: str
    tensor: TensorPlan
    producer: str  # process ident, or the top's name for the top-level input adapter
    consumer: str  # process ident, or the top's name for the top-level output adapter
    depth: int


@dataclass(frozen=True)
class DataflowPlan:
    name: str  # the model's
    core: CoreName  # the generated core's (--name)
    target: Target
    hardware: HardwarePlan
    input: TensorPlan
    output: TensorPlan
    in_stream: str  # written by the AXI4-Stream input adapter
    out_stream: str  # read by the AXI4-Stream output adapter
    processes: tuple[Process, ...]  # topological order
    streams: tuple[StreamPlan, ...]

    @property
    def layers(self) -> tuple[LayerProcess, ...]:
        return tuple(p for p in self.processes if isinstance(p, LayerProcess))

    @property
    def forks(self) -> tuple[ForkProcess, ...]:
        return tuple(p for p in self.processes if isinstance(p, ForkProcess))

    def layer(self, name: str) -> LayerProcess:
        for plan in self.layers:
            if plan.name == name:
                return plan
        raise KeyError(name)

    def stream(self, ident: str) -> StreamPlan:
        for stream in self.streams:
            if stream.ident == ident:
                return stream
        raise KeyError(ident)


def plan_dataflow(design, target: Target | None = None,
                  core: CoreName | None = None) -> DataflowPlan:
    """The HLS dataflow of a :class:`hlsgen.design.Design` (see the module docstring)."""
    target = target or Target()
    core = core or CoreName()
    top = core.top
    hardware = plan_hardware(design, target)
    graph = design.graph
    names = Names(reserved=(top, "ap_clk", "ap_rst_n", "in_stream", "out_stream"))
    tensors = {t: _tensor_plan(graph.tensor(t)) for t in sorted(graph.tensors)}
    # tensor -> its readers as (process ident, input slot); the top reads the graph output
    readers: dict[str, list[tuple[str, int]]] = {}
    layer_ident = {m.name: names.take(core.layer(f"l{m.index}_{identifier(m.name)}"))
                   for m in hardware.modules}
    for layer in graph.layers:
        for slot, t in enumerate(layer.inputs):
            readers.setdefault(t, []).append((layer_ident[layer.name], slot))
    readers.setdefault(graph.output, []).append((top, 0))

    streams: list[tuple[str, TensorPlan, str, str]] = []  # (ident, tensor, producer, consumer)
    feed: dict[tuple[str, int], str] = {}  # (reader ident, slot) -> stream it reads
    produced = [(graph.input, top)] + [(layer.output, layer_ident[layer.name])
                                      for layer in graph.layers]
    fork_after: dict[str, ForkProcess] = {}
    head: dict[str, str] = {}  # tensor -> stream its producer writes
    for tensor, producer in produced:
        plan = tensors[tensor]
        who = readers.get(tensor, [])
        if not who:
            raise InputError(f"model {graph.name!r}: tensor {tensor!r} is computed but never "
                             "used; remove the dangling layer before generating")
        stream = names.take(f"s_{identifier(tensor)}")
        head[tensor] = stream
        if len(who) == 1:
            streams.append((stream, plan, producer, who[0][0]))
            feed[who[0]] = stream
            continue
        # One producer, one consumer per stream (a dataflow rule): copy through a fork.
        fork_ident = names.take(core.layer(f"fork_{identifier(tensor)}"))
        outs = tuple(names.take(f"s_{identifier(tensor)}_{k}") for k in range(len(who)))
        streams.append((stream, plan, producer, fork_ident))
        for reader, out in zip(who, outs):
            streams.append((out, plan, fork_ident, reader[0]))
            feed[reader] = out
        fork_after[tensor] = ForkProcess(tensor, fork_ident, plan, (stream,), outs)

    processes: list[Process] = []
    if graph.input in fork_after:
        processes.append(fork_after[graph.input])
    for m in hardware.modules:
        ident = layer_ident[m.name]
        impl = design.impls.get(m.name)
        processes.append(LayerProcess(
            name=m.name, ident=ident, source=tuple(m.layer.source),
            inputs=tuple(tensors[t] for t in m.layer.inputs), output=tensors[m.layer.output],
            in_streams=tuple(feed[(ident, slot)] for slot in range(len(m.layer.inputs))),
            out_streams=(head[m.layer.output],), module=m,
            method=impl.method if impl else "-",
            adder_count=sum(g.adder_count for g in impl.graphs) if impl else 0))
        if m.layer.output in fork_after:
            processes.append(fork_after[m.layer.output])

    depths = {feed[(layer_ident[name], slot)]: depth
              for name, pair in hardware.schedule.fifo_depths.items()
              for slot, depth in enumerate(pair)}
    return DataflowPlan(
        name=graph.name, core=core, target=target, hardware=hardware,
        input=tensors[graph.input], output=tensors[graph.output], in_stream=head[graph.input],
        out_stream=feed[(top, 0)], processes=tuple(processes),
        streams=tuple(StreamPlan(*s, depths.get(s[0], MIN_FIFO_DEPTH)) for s in streams))


def _tensor_plan(tensor: ir.Tensor) -> TensorPlan:
    h, w, c = tensor.shape
    return TensorPlan(tensor.name, int(h), int(w), int(c), tensor.dtype, int(tensor.zero_point))
