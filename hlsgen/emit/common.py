"""What every emitter needs to know about a design, computed once: names, widths, constants.

:func:`plan_design` turns a :class:`hlsgen.design.Design` into a :class:`DesignPlan`: one
frozen plan per IR layer (plus a :class:`ForkPlan` wherever a tensor feeds two layers), the
streams between them with their FIFO depths, and for every arithmetic step the exact integer
interval and two's-complement width of its result.  The HLS emitter renders these plans; every
emitter shares the naming (:func:`identifier`, :data:`TOP_NAME`), the options
(:class:`EmitOptions`) and the template loading (:func:`template_env`) defined here.  (The
Verilog emitter schedules its own registers, so it renders :class:`hlsgen.cost.HardwarePlan`.)

Width rules (all intervals are exact, derived from the input types; ``bit_width`` of
:mod:`hlsgen.decompose.graph` gives the smallest two's-complement width holding one):

- ``xc = x - zero_point`` (a padded Conv position is 0): :attr:`TensorPlan.centred`.
- shift-add nodes: ``ShiftAddGraph.node_widths`` over the centred input interval.
- a row (output tap) ``sign * (node << shift)``: :attr:`ChannelTap.value`.
- ``acc = row + bias``, ``product = acc * multiplier`` (CSD shift-adds), ``rounded = product +
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
from hlsgen.names import digest, printable
from hlsgen.decompose.csd import csd_digits
from hlsgen.decompose.graph import OutputTap, ShiftAddGraph, bit_width
from hlsgen.errors import InputError

__all__ = [
    "EmitOptions",
    "Interval",
    "CsdTerm",
    "ConstMult",
    "TensorPlan",
    "Window",
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
    "plan_graph",
    "identifier",
    "templates_dir",
    "template_env",
    "TOP_NAME",
    "FIFO_SLACK_PER_LAYER",
]

TOP_NAME = "hlsgen_top"
# Longest identifier made from a model name (prefixes and suffixes come on top).
MAX_IDENTIFIER = 48
# Beats a layer may hold in flight (pipeline registers, its in/out stream slots) beyond what
# its window needs; residual FIFOs add this per layer of the longer branch.
FIFO_SLACK_PER_LAYER = 32
MIN_FIFO_DEPTH = 2


# -- options -----------------------------------------------------------------------------
@dataclass(frozen=True)
class EmitOptions:
    """Target options shared by every emitter.

    ``pipeline``: register every N adder levels of a shift-add tree (None: chosen from the
    clock, see :meth:`adder_levels`); ``layer_pipeline``: per-layer overrides as sorted
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
        ``pipeline``, else ~1.6 ns per carry-chain adder level plus routing (7-series)."""
        overrides = dict(self.layer_pipeline)
        if layer in overrides:
            return overrides[layer]
        if self.pipeline is not None:
            return self.pipeline
        return max(1, int(self.clock_period_ns / 1.6))


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
    def centred(self) -> Interval:
        """Range of ``x - zero_point``, widened to hold 0 (a padded Conv tap)."""
        return Interval(self.qmin - self.zero_point, self.qmax - self.zero_point).hull(
            Interval(0, 0))

    def channel_bits(self, channel: int) -> tuple[int, int]:
        """(msb, lsb) of ``channel`` in a beat."""
        return 8 * channel + 7, 8 * channel


@dataclass(frozen=True)
class Window:
    """Sliding-window geometry for a line-buffer implementation.

    The layer walks the *padded* input in raster order, one position per step (``steps``);
    a padded position reads no beat.  An output is due at padded position (r, c) when
    ``r >= kernel_h - 1``, ``c >= kernel_w - 1`` and both are on the stride grid.
    ``is_global`` (kernel == input, no padding): a plain reduction over the whole frame.
    """

    in_h: int
    in_w: int
    kernel_h: int
    kernel_w: int
    stride_h: int
    stride_w: int
    pad_top: int
    pad_left: int
    pad_bottom: int
    pad_right: int

    @property
    def padded_h(self) -> int:
        return self.in_h + self.pad_top + self.pad_bottom

    @property
    def padded_w(self) -> int:
        return self.in_w + self.pad_left + self.pad_right

    @property
    def out_h(self) -> int:
        return (self.padded_h - self.kernel_h) // self.stride_h + 1

    @property
    def out_w(self) -> int:
        return (self.padded_w - self.kernel_w) // self.stride_w + 1

    @property
    def steps(self) -> int:
        return self.padded_h * self.padded_w

    @property
    def is_global(self) -> bool:
        return ((self.kernel_h, self.kernel_w) == (self.in_h, self.in_w)
                and (self.pad_top, self.pad_left, self.pad_bottom, self.pad_right) == (0,) * 4)

    @property
    def taps(self) -> int:
        return self.kernel_h * self.kernel_w

    def beats_needed(self) -> np.ndarray:
        """int64 [out_h*out_w]: input beats read before output beat k (raster) is written."""
        if self.is_global:
            return np.full(self.out_h * self.out_w, self.in_h * self.in_w, dtype=np.int64)
        r = np.arange(self.out_h) * self.stride_h + self.kernel_h - 1  # padded row of output
        c = np.arange(self.out_w) * self.stride_w + self.kernel_w - 1
        full_rows = np.clip(r - self.pad_top, 0, self.in_h)  # real rows strictly above r
        in_row = (r - self.pad_top >= 0) & (r - self.pad_top < self.in_h)
        cols = np.clip(c - self.pad_left + 1, 0, self.in_w)  # real pixels of row r up to c
        before = full_rows[:, None] * self.in_w + np.where(in_row[:, None], cols[None, :], 0)
        return before.reshape(-1).astype(np.int64)


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
    """``acc = (a - a.zp) * mult_a + (b - b.zp) * mult_b`` then :class:`Requant` (mult 1)."""

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
    window: Window
    groups: int
    method: str
    blocks: tuple[BlockPlan, ...]
    taps: tuple[ChannelTap, ...]  # per output channel
    requant: tuple[Requant, ...]  # per output channel
    centred: Interval  # x - zero_point (window values)

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
    centred: Interval

    @property
    def adder_count(self) -> int:
        return sum(b.adder_count for b in self.blocks)


@dataclass(frozen=True)
class MaxPoolPlan(_Process):
    kind = ir.LayerKind.MAXPOOL
    window: Window
    pad_value: int  # the input type's minimum: never wins against a real pixel


@dataclass(frozen=True)
class AvgPoolPlan(_Process):
    kind = ir.LayerKind.AVGPOOL
    window: Window
    centred: Interval
    sum: Interval  # sum over the window of x - zero_point
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
    options: EmitOptions
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
    if len(text) > MAX_IDENTIFIER:  # file names (hls/<ident>.h), tool limits
        text = f"{text[: MAX_IDENTIFIER - 9].rstrip('_')}_{digest(name)}"
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
    """A strict Jinja2 environment over ``templates/<subdir>`` (unknown names raise).

    The filter ``printable`` (:func:`hlsgen.names.printable`) is applied to every name that
    comes from the model or the command line, comments included."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / subdir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["printable"] = printable
    return env


# -- planning ----------------------------------------------------------------------------
def plan_design(design, options: EmitOptions | None = None) -> DesignPlan:
    """Plan a :class:`hlsgen.design.Design` (``.graph`` and ``.impls``)."""
    graphs = {name: impl.graphs for name, impl in design.impls.items()}
    methods = {name: impl.method for name, impl in design.impls.items()}
    return plan_graph(design.graph, graphs, methods, options or EmitOptions())


def plan_graph(graph: ir.Graph, graphs: Mapping[str, Sequence[ShiftAddGraph]],
               methods: Mapping[str, str], options: EmitOptions) -> DesignPlan:
    """Plan an IR graph whose Conv/Dense layers are computed by ``graphs[layer]``."""
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

    depths = _residual_depths(graph, layer_ident, feed)
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
        window = _window(src, layer.kernel, layer.stride, layer.pads)
        blocks = _conv_blocks(layer, src, window, _graphs_for(layer, graphs))
        taps = _taps(blocks, output.channels)
        return ConvPlan(**common, window=window, groups=layer.groups,
                        method=str(methods.get(layer.name, "exact")), blocks=blocks, taps=taps,
                        requant=_requants(layer.requant, layer.bias, [t.value for t in taps],
                                          output),
                        centred=src.centred)
    if isinstance(layer, ir.Dense):
        blocks = _dense_blocks(layer, src, _graphs_for(layer, graphs))
        taps = _taps(blocks, output.channels)
        return DensePlan(**common, method=str(methods.get(layer.name, "exact")), blocks=blocks,
                         taps=taps,
                         requant=_requants(layer.requant, layer.bias,
                                           [t.value for t in taps], output),
                         centred=src.centred)
    if isinstance(layer, ir.MaxPool):
        return MaxPoolPlan(**common, window=_window(src, layer.kernel, layer.stride, layer.pads),
                           pad_value=src.qmin)
    if isinstance(layer, ir.AvgPool):
        window = _window(src, layer.kernel, layer.stride, (0, 0, 0, 0))
        centred = Interval(src.qmin - src.zero_point, src.qmax - src.zero_point)
        total = centred.scaled(window.taps)
        return AvgPoolPlan(**common, window=window, centred=centred, sum=total,
                           requant=_requants(layer.requant, np.zeros(output.channels, np.int64),
                                             [total] * output.channels, output))
    if isinstance(layer, ir.Add):
        return AddPlan(**common, channels=_add_channels(layer, inputs, output))
    raise TypeError(f"no emitter plan for layer {layer.name!r} of type {type(layer).__name__}")


def _window(src: TensorPlan, kernel, stride, pads) -> Window:
    return Window(src.height, src.width, int(kernel[0]), int(kernel[1]), int(stride[0]),
                  int(stride[1]), *(int(p) for p in pads))


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


def _block(index: int, graph: ShiftAddGraph, inputs, centred: Interval, outputs) -> BlockPlan:
    ranges = graph.node_ranges(centred.lo, centred.hi)
    return BlockPlan(index, graph, tuple(inputs), tuple(Interval(lo, hi) for lo, hi in ranges),
                     tuple(outputs))


def _conv_blocks(layer: ir.Conv, src: TensorPlan, window: Window, graphs) -> tuple[BlockPlan, ...]:
    matrices = layer.group_matrices()
    if len(graphs) != len(matrices):
        raise AssertionError(f"layer {layer.name!r}: {len(graphs)} graphs for "
                             f"{len(matrices)} groups")
    cig = src.channels // layer.groups
    per = layer.weight.shape[0] // layer.groups
    blocks = []
    for g, (graph, matrix) in enumerate(zip(graphs, matrices)):
        _check_matrix(layer, g, graph, matrix)
        inputs = [BlockInput(kh, kw, g * cig + ci, kh * window.kernel_w + kw)
                  for kh in range(window.kernel_h) for kw in range(window.kernel_w)
                  for ci in range(cig)]
        blocks.append(_block(g, graph, inputs, src.centred, range(g * per, (g + 1) * per)))
    return tuple(blocks)


def _dense_blocks(layer: ir.Dense, src: TensorPlan, graphs) -> tuple[BlockPlan, ...]:
    if len(graphs) != 1:
        raise AssertionError(f"layer {layer.name!r}: a Dense layer has one graph, "
                             f"got {len(graphs)}")
    _check_matrix(layer, 0, graphs[0], layer.weight)
    inputs = [BlockInput(h, w, c, h * src.width + w) for h in range(src.height)
              for w in range(src.width) for c in range(src.channels)]
    return (_block(0, graphs[0], inputs, src.centred, range(layer.weight.shape[0])),)


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
    ca = Interval(a.qmin - a.zero_point, a.qmax - a.zero_point)
    cb = Interval(b.qmin - b.zero_point, b.qmax - b.zero_point)
    channels = []
    for c in range(output.channels):
        ma, mb = ConstMult.of(int(layer.mult_a[c])), ConstMult.of(int(layer.mult_b[c]))
        ta, tb = ca.scaled(ma.value), cb.scaled(mb.value)
        requant = _requant(layer.requant, c, 0, ta + tb, output)
        channels.append(AddChannel(c, ma, mb, ta, tb, requant))
    return tuple(channels)


# -- residual FIFO sizing ----------------------------------------------------------------
def _beats_needed(layer: ir.Layer, graph: ir.Graph) -> np.ndarray:
    """int64 [output beats]: input beats (per input) read before each output beat."""
    out = graph.tensor(layer.output)
    src = graph.tensor(layer.inputs[0])
    if isinstance(layer, (ir.Conv, ir.MaxPool, ir.AvgPool)):
        pads = getattr(layer, "pads", (0, 0, 0, 0))
        kernel = layer.kernel
        return Window(src.shape[0], src.shape[1], kernel[0], kernel[1], layer.stride[0],
                      layer.stride[1], *pads).beats_needed()
    if isinstance(layer, ir.Dense):
        return np.full(out.shape[0] * out.shape[1], src.shape[0] * src.shape[1], np.int64)
    return np.arange(1, out.shape[0] * out.shape[1] + 1, dtype=np.int64)  # Add: beat by beat


def _branch(graph: ir.Graph, tensor: str) -> tuple[str, list[ir.Layer]] | None:
    """Walk up single-input layers from ``tensor`` to a tensor with several readers."""
    path: list[ir.Layer] = []
    while len(graph.consumers(tensor)) < 2:
        layer = graph.producer(tensor)
        if layer is None or len(layer.inputs) != 1:
            return None
        path.append(layer)
        tensor = layer.input
    return tensor, path


def _residual_depths(graph: ir.Graph, layer_ident, feed) -> dict[str, int]:
    """Depth of the fork streams feeding each Add's two branches.

    While the Add waits for the slower branch (the one whose windows need more of the fork
    tensor before emitting a beat), the fork keeps writing the faster branch's stream; that
    stream must hold the difference in beats, plus slack for the pipelines of the slow branch.
    An Add whose branches do not meet at one fork through single-input layers gets the whole
    frame of each input tensor as its FIFO: always enough.
    """
    depths: dict[str, int] = {}
    for layer in graph.layers:
        if not isinstance(layer, ir.Add):
            continue
        ident = layer_ident[layer.name]
        walks = [_branch(graph, t) for t in layer.inputs]
        if any(w is None for w in walks) or walks[0][0] != walks[1][0]:
            for slot, t in enumerate(layer.inputs):
                stream = feed[(ident, slot)]
                size = graph.tensor(t).shape[0] * graph.tensor(t).shape[1]
                depths[stream] = max(depths.get(stream, 0), size + FIFO_SLACK_PER_LAYER)
            continue
        needs = []
        for _, path in walks:
            beats = np.arange(1, graph.tensor(layer.output).shape[0]
                              * graph.tensor(layer.output).shape[1] + 1, dtype=np.int64)
            for step in path:  # from the Add back to the fork
                beats = _beats_needed(step, graph)[beats - 1]
            needs.append(beats)
        for k, (_, path) in enumerate(walks):
            other = 1 - k
            lag = int(np.max(needs[other] - needs[k]))
            path = walks[k][1]
            reader = (layer_ident[path[-1].name], 0) if path else (ident, k)
            stream = feed[reader]
            depth = max(lag, 0) + FIFO_SLACK_PER_LAYER * (len(walks[other][1]) + 1)
            depths[stream] = max(depths.get(stream, 0), depth)
    return depths
