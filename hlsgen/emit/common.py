"""What every emitter needs to know about a design, computed once: names, widths, constants.

:func:`plan_design` turns a :class:`hlsgen.design.Design` into a :class:`DesignPlan`: one
frozen plan per IR layer (plus a :class:`ForkPlan` wherever a tensor feeds two layers), the
streams between them with their FIFO depths (read from the exact schedule of
:class:`hlsgen.hw.plan.HardwarePlan`, the plan the Verilog renders), and for every arithmetic step
the exact integer interval and two's-complement width of its result.  The HLS emitter renders
these plans; every emitter shares the naming (:func:`identifier`, :data:`TOP_NAME`), the
target (:class:`hlsgen.hw.target.Target`) and the template loading (:func:`template_env`) defined here.

Width rules (all intervals are exact, derived from the input types; ``bit_width`` of
:mod:`hlsgen.decompose.graph` gives the smallest two's-complement width holding one):

- the graphs read raw values ``x`` (:attr:`TensorPlan.values`; a padded Conv position holds
  the zero point); the input zero point is folded into the bias, ``bias' = bias - zero_point *
  rowsum(E)``, exactly as in the Verilog (an Add folds both zero points, an AvgPool
  ``-taps * zero_point``).
- shift-add nodes: ``ShiftAddGraph.node_widths`` over the raw input interval.
- a row (output tap) ``sign * (node << shift)``: :attr:`ChannelTap.value`.
- ``acc = row + bias'``, ``product = acc * multiplier`` (CSD shift-adds), ``rounded = product +
  (1 << (shift - 1))``, ``shifted = rounded >> shift`` (arithmetic), ``y = clamp(shifted +
  zero_point, lo, hi)``: the fields of :class:`Requant` (see the ``hlsgen.ir`` docstring).

Partial sums of a shift-add chain may be computed modulo ``2**width`` of its result: two's
complement wrap-around is exact whenever the final value fits, which it does by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence, Union

import jinja2
import numpy as np

import hlsgen
from hlsgen import ir
from hlsgen.decompose.csd import csd_digits
from hlsgen.decompose.graph import OutputTap, ShiftAddGraph, bit_width
from hlsgen.errors import InputError
from hlsgen.hw.plan import plan_hardware
from hlsgen.hw.target import Target

__all__ = [
    "Interval",
    "CsdTerm",
    "ConstMult",
    "TensorPlan",
    "BlockInput",
    "BlockPlan",
    "ChannelTap",
    "Requant",
    "AddChannel",
    "ConvPlan",
    "DensePlan",
    "MaxPoolPlan",
    "AvgPoolPlan",
    "AddPlan",
    "ForkPlan",
    "LayerPlan",
    "StreamPlan",
    "DesignPlan",
    "plan_design",
    "identifier",
    "templates_dir",
    "template_env",
    "TOP_NAME",
]

TOP_NAME = "hlsgen_top"
MIN_FIFO_DEPTH = 2


# -- exact integer intervals -------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """The closed integer range [lo, hi] of a value; ``width`` is its two's-complement width."""

    lo: int
    hi: int

    @property
    def width(self) -> int:
        return bit_width(self.lo, self.hi)

    def __add__(self, other: "Interval") -> "Interval":
        return Interval(self.lo + other.lo, self.hi + other.hi)

    def plus(self, constant: int) -> "Interval":
        return Interval(self.lo + constant, self.hi + constant)

    def shifted_left(self, shift: int) -> "Interval":
        return Interval(self.lo << shift, self.hi << shift)

    def floor_shifted_right(self, shift: int) -> "Interval":
        return Interval(self.lo >> shift, self.hi >> shift)

    def negated(self) -> "Interval":
        return Interval(-self.hi, -self.lo)

    def scaled(self, factor: int) -> "Interval":
        products = (self.lo * factor, self.hi * factor)
        return Interval(min(products), max(products))

    def hull(self, other: "Interval") -> "Interval":
        return Interval(min(self.lo, other.lo), max(self.hi, other.hi))



@dataclass(frozen=True)
class CsdTerm:
    """``(-1 if negate else 1) * (value << shift)``."""

    shift: int
    negate: bool


@dataclass(frozen=True)
class ConstMult:
    """Multiplication by a constant ``value >= 0`` as a sum of CSD terms (no multiplier)."""

    value: int
    terms: tuple[CsdTerm, ...]

    @classmethod
    def of(cls, value: int) -> "ConstMult":
        value = int(value)
        if value < 0:
            raise ValueError(f"constant multiplier must be >= 0, got {value}")
        digits = csd_digits(value)
        return cls(value, tuple(CsdTerm(bit, sign < 0) for bit, sign in digits))


# -- tensors and windows -----------------------------------------------------------------
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
    def size(self) -> int:
        return self.beats * self.channels

    @property
    def signed(self) -> bool:
        return self.dtype.signed

    @property
    def qmin(self) -> int:
        return self.dtype.qmin

    @property
    def qmax(self) -> int:
        return self.dtype.qmax

    @property
    def values(self) -> Interval:
        """Range of a raw value ``x`` (a padded Conv position holds the zero point)."""
        return Interval(self.qmin, self.qmax)

    def channel_bits(self, channel: int) -> tuple[int, int]:
        """(msb, lsb) of ``channel`` in a beat."""
        return 8 * channel + 7, 8 * channel


# -- matrices, taps and requantization ---------------------------------------------------
@dataclass(frozen=True)
class BlockInput:
    """Where graph input ``x[j]`` comes from: window tap (row, col) / Dense pixel (h, w)."""

    row: int
    col: int
    channel: int
    beat: int  # row * (window or tensor) width + col


@dataclass(frozen=True)
class BlockPlan:
    """One shift-add graph (a Conv group, or the Dense matrix) with exact node widths."""

    index: int
    graph: ShiftAddGraph
    inputs: tuple[BlockInput, ...]
    node_ranges: tuple[Interval, ...]
    outputs: tuple[int, ...]  # graph row r -> layer output channel

    @property
    def node_widths(self) -> tuple[int, ...]:
        return tuple(r.width for r in self.node_ranges)

    @property
    def adder_count(self) -> int:
        return self.graph.adder_count


@dataclass(frozen=True)
class ChannelTap:
    """Output channel ``channel`` is ``sign * (node << shift)`` of block ``block`` (or 0)."""

    channel: int
    block: int
    tap: OutputTap
    value: Interval


@dataclass(frozen=True)
class Requant:
    """``y = clamp(((acc * multiplier) + round) >> shift) + zero_point, lo, hi)`` for one
    channel, with ``acc = (row or window sum) + bias``; every interval is exact."""

    channel: int
    bias: int
    acc: Interval
    multiplier: ConstMult
    product: Interval
    round: int
    rounded: Interval
    shift: int
    shifted: Interval
    zero_point: int
    biased: Interval  # shifted + zero_point, before the clamp
    lo: int
    hi: int
    msb: int  # bits of this channel in the output beat
    lsb: int
    half_even: bool = False  # ties to even (ir.Rounding.HALF_EVEN) instead of half up

    @property
    def ties_to_even(self) -> bool:
        """Whether the shift must correct ties.  When ``shift`` exceeds the rounded value's
        width the only possible tie is a rounded value of 0, whose floor (0) is already even."""
        return self.half_even and self.shift == self.effective_shift

    @property
    def clamp_width(self) -> int:
        """Width holding both ``biased`` and the clamp bounds (the clamp's working type)."""
        return self.biased.hull(Interval(self.lo, self.hi)).width

    @property
    def effective_shift(self) -> int:
        """``shift`` capped at ``rounded.width - 1``: the same floor result (all sign bits),
        without shifting a value by its whole width or more."""
        return min(self.shift, self.rounded.width - 1)


@dataclass(frozen=True)
class AddChannel:
    """``acc = a * mult_a + b * mult_b + bias`` (``bias = -a.zp * mult_a - b.zp * mult_b``),
    then :class:`Requant`."""

    channel: int
    mult_a: ConstMult
    mult_b: ConstMult
    term_a: Interval
    term_b: Interval
    requant: Requant


# -- layer plans -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Process:
    name: str  # IR layer name (or tensor name for a fork)
    ident: str  # C / Verilog identifier of the function / module
    source: tuple[str, ...]  # ONNX node names, for comments
    inputs: tuple[TensorPlan, ...]
    output: TensorPlan
    in_streams: tuple[str, ...]
    out_streams: tuple[str, ...]


@dataclass(frozen=True)
class ConvPlan(_Process):
    kind = ir.LayerKind.CONV
    window: ir.Window
    groups: int
    method: str
    blocks: tuple[BlockPlan, ...]
    taps: tuple[ChannelTap, ...]  # per output channel
    requant: tuple[Requant, ...]  # per output channel (bias with the zero point folded in)
    values: Interval  # raw window values x
    pad_value: int  # the input zero point: a padded position contributes 0

    @property
    def adder_count(self) -> int:
        return sum(b.adder_count for b in self.blocks)


@dataclass(frozen=True)
class DensePlan(_Process):
    kind = ir.LayerKind.DENSE
    method: str
    blocks: tuple[BlockPlan, ...]  # exactly one; inputs index (h, w, c) of the input frame
    taps: tuple[ChannelTap, ...]
    requant: tuple[Requant, ...]
    values: Interval

    @property
    def adder_count(self) -> int:
        return sum(b.adder_count for b in self.blocks)


@dataclass(frozen=True)
class MaxPoolPlan(_Process):
    kind = ir.LayerKind.MAXPOOL
    window: ir.Window
    pad_value: int  # the input type's minimum: never wins against a real pixel


@dataclass(frozen=True)
class AvgPoolPlan(_Process):
    kind = ir.LayerKind.AVGPOOL
    window: ir.Window
    values: Interval
    sum: Interval  # sum over the window of the raw values x
    requant: tuple[Requant, ...]


@dataclass(frozen=True)
class AddPlan(_Process):
    kind = ir.LayerKind.ADD
    channels: tuple[AddChannel, ...]


@dataclass(frozen=True)
class ForkPlan(_Process):
    """Copies one stream to several (a tensor read by more than one layer)."""


LayerPlan = Union[ConvPlan, DensePlan, MaxPoolPlan, AvgPoolPlan, AddPlan]
ProcessPlan = Union[LayerPlan, ForkPlan]


@dataclass(frozen=True)
class StreamPlan:
    """A FIFO between two processes; ``depth`` in beats."""

    ident: str
    tensor: TensorPlan
    producer: str  # process ident, or TOP_NAME for the top-level input adapter
    consumer: str  # process ident, or TOP_NAME for the top-level output adapter
    depth: int


@dataclass(frozen=True)
class DesignPlan:
    name: str
    options: Target
    input: TensorPlan
    output: TensorPlan
    in_stream: str  # written by the AXI4-Stream input adapter
    out_stream: str  # read by the AXI4-Stream output adapter
    processes: tuple[ProcessPlan, ...]  # topological order
    streams: tuple[StreamPlan, ...]

    @property
    def layers(self) -> tuple[LayerPlan, ...]:
        return tuple(p for p in self.processes if not isinstance(p, ForkPlan))

    @property
    def forks(self) -> tuple[ForkPlan, ...]:
        return tuple(p for p in self.processes if isinstance(p, ForkPlan))

    def layer(self, name: str) -> LayerPlan:
        for plan in self.layers:
            if plan.name == name:
                return plan
        raise KeyError(name)

    def stream(self, ident: str) -> StreamPlan:
        for stream in self.streams:
            if stream.ident == ident:
                return stream
        raise KeyError(ident)


# -- naming ------------------------------------------------------------------------------
def identifier(name: str) -> str:
    """A C / Verilog identifier for an IR name: [A-Za-z0-9_], no leading digit, no '__'."""
    text = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
    text = re.sub(r"_+", "_", text)
    if not text or text[0].isdigit():
        text = "n" + ("_" + text if text else "")
    return text


class _Names:
    """Hands out unique identifiers (a suffix resolves collisions, in order of request)."""

    def __init__(self, reserved: Sequence[str] = ()):
        self.used = set(reserved)

    def take(self, wanted: str) -> str:
        name, k = wanted, 2
        while name.lower() in self.used:
            name, k = f"{wanted}_{k}", k + 1
        self.used.add(name.lower())
        return name


# -- templates ---------------------------------------------------------------------------
def templates_dir() -> Path:
    """``templates/``: packaged inside ``hlsgen`` (wheel) or beside it (source checkout)."""
    package = Path(hlsgen.__file__).resolve().parent
    for candidate in (package / "templates", package.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"hlsgen templates not found beside {package}; reinstall hlsgen")


def template_env(subdir: str) -> jinja2.Environment:
    """A strict Jinja2 environment over ``templates/<subdir>`` (unknown names raise)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / subdir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


# -- planning ----------------------------------------------------------------------------
def plan_design(design, options: Target | None = None) -> DesignPlan:
    """Plan a :class:`hlsgen.design.Design` (``.graph`` and ``.impls``) for HLS.

    The stream depths come from the hardware plan's exact schedule
    (:func:`hlsgen.hw.plan.plan_hardware`, the plan the Verilog renders): the two streams an Add
    reads get the depths of the Verilog Add's input FIFOs, every other stream the minimum.
    """
    options = options or Target()
    graph = design.graph
    graphs = {name: impl.graphs for name, impl in design.impls.items()}
    methods = {name: impl.method for name, impl in design.impls.items()}
    names = _Names(reserved=(TOP_NAME, "ap_clk", "ap_rst_n", "in_stream", "out_stream"))
    tensors = {t: _tensor_plan(graph.tensor(t)) for t in sorted(graph.tensors)}
    # tensor -> its readers as (process ident, input slot); TOP_NAME reads the graph output
    readers: dict[str, list[tuple[str, int]]] = {}
    layer_ident = {layer.name: names.take(f"l{i}_{identifier(layer.name)}")
                   for i, layer in enumerate(graph.layers)}
    for layer in graph.layers:
        for slot, t in enumerate(layer.inputs):
            readers.setdefault(t, []).append((layer_ident[layer.name], slot))
    readers.setdefault(graph.output, []).append((TOP_NAME, 0))

    streams: list[StreamPlan] = []
    processes: list[ProcessPlan] = []
    feed: dict[tuple[str, int], str] = {}  # (reader ident, slot) -> stream it reads
    produced = [(graph.input, TOP_NAME)] + [(layer.output, layer_ident[layer.name])
                                           for layer in graph.layers]
    fork_after: dict[str, ForkPlan] = {}
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
            streams.append(StreamPlan(stream, plan, producer, who[0][0], MIN_FIFO_DEPTH))
            feed[who[0]] = stream
            continue
        # One producer, one consumer per stream (a dataflow rule): copy through a fork.
        fork_ident = names.take(f"fork_{identifier(tensor)}")
        outs = tuple(names.take(f"s_{identifier(tensor)}_{k}") for k in range(len(who)))
        streams.append(StreamPlan(stream, plan, producer, fork_ident, MIN_FIFO_DEPTH))
        for reader, out in zip(who, outs):
            streams.append(StreamPlan(out, plan, fork_ident, reader[0], MIN_FIFO_DEPTH))
            feed[reader] = out
        fork_after[tensor] = ForkPlan(tensor, fork_ident, (), (plan,), plan, (stream,), outs)

    if graph.input in fork_after:
        processes.append(fork_after[graph.input])
    for layer in graph.layers:
        ident = layer_ident[layer.name]
        ins = tuple(feed[(ident, slot)] for slot in range(len(layer.inputs)))
        processes.append(_layer_plan(layer, ident, ins, (head[layer.output],), tensors,
                                     graphs, methods))
        if layer.output in fork_after:
            processes.append(fork_after[layer.output])

    hardware = plan_hardware(design, options)
    depths = {feed[(layer_ident[name], slot)]: depth
              for name, pair in hardware.schedule.fifo_depths.items()
              for slot, depth in enumerate(pair)}
    streams = [StreamPlan(s.ident, s.tensor, s.producer, s.consumer,
                          max(s.depth, depths.get(s.ident, 0))) for s in streams]
    return DesignPlan(
        name=graph.name, options=options, input=tensors[graph.input],
        output=tensors[graph.output], in_stream=head[graph.input],
        out_stream=feed[(TOP_NAME, 0)], processes=tuple(processes),
        streams=tuple(streams))


def _tensor_plan(tensor: ir.Tensor) -> TensorPlan:
    h, w, c = tensor.shape
    return TensorPlan(tensor.name, int(h), int(w), int(c), tensor.dtype, int(tensor.zero_point))


def _layer_plan(layer: ir.Layer, ident: str, in_streams, out_streams, tensors,
                graphs, methods) -> LayerPlan:
    inputs = tuple(tensors[t] for t in layer.inputs)
    output = tensors[layer.output]
    common = dict(name=layer.name, ident=ident, source=tuple(layer.source), inputs=inputs,
                  output=output, in_streams=in_streams, out_streams=out_streams)
    src = inputs[0]
    if isinstance(layer, ir.Conv):
        window = ir.window(layer, (src.height, src.width))
        blocks = _conv_blocks(layer, src, window, _graphs_for(layer, graphs))
        taps = _taps(blocks, output.channels)
        rowsums = layer.weight.reshape(layer.weight.shape[0], -1).sum(axis=1)
        return ConvPlan(**common, window=window, groups=layer.groups,
                        method=str(methods.get(layer.name, "exact")), blocks=blocks, taps=taps,
                        requant=_requants(layer.requant, _folded_bias(layer.bias, rowsums, src),
                                          [t.value for t in taps], output),
                        values=src.values, pad_value=src.zero_point)
    if isinstance(layer, ir.Dense):
        blocks = _dense_blocks(layer, src, _graphs_for(layer, graphs))
        taps = _taps(blocks, output.channels)
        bias = _folded_bias(layer.bias, layer.weight.sum(axis=1), src)
        return DensePlan(**common, method=str(methods.get(layer.name, "exact")), blocks=blocks,
                         taps=taps,
                         requant=_requants(layer.requant, bias, [t.value for t in taps], output),
                         values=src.values)
    if isinstance(layer, ir.MaxPool):
        return MaxPoolPlan(**common, window=ir.window(layer, (src.height, src.width)),
                           pad_value=src.qmin)
    if isinstance(layer, ir.AvgPool):
        window = ir.window(layer, (src.height, src.width))
        total = src.values.scaled(window.taps)
        bias = np.full(output.channels, -window.taps * src.zero_point, dtype=object)
        return AvgPoolPlan(**common, window=window, values=src.values, sum=total,
                           requant=_requants(layer.requant, bias, [total] * output.channels,
                                             output))
    if isinstance(layer, ir.Add):
        return AddPlan(**common, channels=_add_channels(layer, inputs, output))
    raise TypeError(f"no emitter plan for layer {layer.name!r} of type {type(layer).__name__}")


def _folded_bias(bias: np.ndarray, rowsums: np.ndarray, src: TensorPlan) -> np.ndarray:
    """``bias - zero_point * rowsum(E)``: ``bias + E @ (x - zp) == bias' + E @ x``, so the
    graphs read raw values (the input zero point folded into the bias, as in the Verilog)."""
    return bias.astype(object) - src.zero_point * rowsums.astype(object)


def _graphs_for(layer, graphs) -> tuple[ShiftAddGraph, ...]:
    found = graphs.get(layer.name)
    if found is None:
        raise KeyError(f"design has no shift-add graphs for weight layer {layer.name!r}")
    return tuple(found)


def _check_matrix(layer, index: int, graph: ShiftAddGraph, matrix: np.ndarray) -> None:
    # Internal invariant of a Design: the IR weight *is* the graph's effective matrix.
    effective = graph.effective_matrix()
    if effective.shape != matrix.shape or not np.array_equal(effective, matrix):
        raise AssertionError(f"layer {layer.name!r} block {index}: shift-add graph does not "
                             "compute the IR weight (the Design is inconsistent)")


def _block(index: int, graph: ShiftAddGraph, inputs, values: Interval, outputs) -> BlockPlan:
    ranges = graph.node_ranges(values.lo, values.hi)
    return BlockPlan(index, graph, tuple(inputs), tuple(Interval(lo, hi) for lo, hi in ranges),
                     tuple(outputs))


def _conv_blocks(layer: ir.Conv, src: TensorPlan, window: ir.Window, graphs
                 ) -> tuple[BlockPlan, ...]:
    matrices = layer.group_matrices()
    if len(graphs) != len(matrices):
        raise AssertionError(f"layer {layer.name!r}: {len(graphs)} graphs for "
                             f"{len(matrices)} groups")
    cig = src.channels // layer.groups
    per = layer.weight.shape[0] // layer.groups
    blocks = []
    for g, (graph, matrix) in enumerate(zip(graphs, matrices)):
        _check_matrix(layer, g, graph, matrix)
        inputs = [BlockInput(kh, kw, g * cig + ci, kh * window.kw + kw)
                  for kh in range(window.kh) for kw in range(window.kw)
                  for ci in range(cig)]
        blocks.append(_block(g, graph, inputs, src.values, range(g * per, (g + 1) * per)))
    return tuple(blocks)


def _dense_blocks(layer: ir.Dense, src: TensorPlan, graphs) -> tuple[BlockPlan, ...]:
    if len(graphs) != 1:
        raise AssertionError(f"layer {layer.name!r}: a Dense layer has one graph, "
                             f"got {len(graphs)}")
    _check_matrix(layer, 0, graphs[0], layer.weight)
    inputs = [BlockInput(h, w, c, h * src.width + w) for h in range(src.height)
              for w in range(src.width) for c in range(src.channels)]
    return (_block(0, graphs[0], inputs, src.values, range(layer.weight.shape[0])),)


def _taps(blocks: tuple[BlockPlan, ...], channels: int) -> tuple[ChannelTap, ...]:
    taps: list[ChannelTap | None] = [None] * channels
    for block in blocks:
        for row, channel in enumerate(block.outputs):
            tap = block.graph.outputs[row]
            if tap.node is None:
                value = Interval(0, 0)
            else:
                value = block.node_ranges[tap.node].shifted_left(tap.shift)
                value = value.negated() if tap.negate else value
            taps[channel] = ChannelTap(channel, block.index, tap, value)
    assert all(t is not None for t in taps)
    return tuple(taps)


def _requants(rq: ir.Requant, bias: np.ndarray, values: Sequence[Interval],
              output: TensorPlan) -> tuple[Requant, ...]:
    return tuple(_requant(rq, c, int(bias[c]), values[c], output) for c in range(output.channels))


def _requant(rq: ir.Requant, c: int, bias: int, value: Interval, output: TensorPlan) -> Requant:
    acc = value.plus(bias)
    mult = ConstMult.of(int(rq.multiplier[c]))
    shift = int(rq.shift[c])
    if shift < 1:
        raise AssertionError(f"requant shift {shift} < 1 (IR contract: shift >= 1)")
    product = acc.scaled(mult.value)
    rounding = 1 << (shift - 1)
    rounded = product.plus(rounding)
    shifted = rounded.floor_shifted_right(shift)
    msb, lsb = output.channel_bits(c)
    return Requant(channel=c, bias=bias, acc=acc, multiplier=mult, product=product,
                   round=rounding, rounded=rounded, shift=shift, shifted=shifted,
                   zero_point=int(rq.zero_point), biased=shifted.plus(int(rq.zero_point)),
                   lo=int(rq.lo), hi=int(rq.hi), msb=msb, lsb=lsb,
                   half_even=rq.rounding is ir.Rounding.HALF_EVEN)


def _add_channels(layer: ir.Add, inputs, output: TensorPlan) -> tuple[AddChannel, ...]:
    a, b = inputs
    channels = []
    for c in range(output.channels):
        ma, mb = ConstMult.of(int(layer.mult_a[c])), ConstMult.of(int(layer.mult_b[c]))
        ta, tb = a.values.scaled(ma.value), b.values.scaled(mb.value)
        bias = -a.zero_point * ma.value - b.zero_point * mb.value  # both zero points folded
        requant = _requant(layer.requant, c, bias, ta + tb, output)
        channels.append(AddChannel(c, ma, mb, ta, tb, requant))
    return tuple(channels)
