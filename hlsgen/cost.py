"""hlsgen's cost model: the hardware plan of the generated Verilog, its exact schedule, and a
LUT/FF/BRAM prediction -- fast enough for the genetic search (no synthesis tool inside).

The Verilog emitter (:mod:`hlsgen.emit.rtl`) renders exactly the :class:`HardwarePlan` built
here, so widths, pipeline registers, line-buffer rows and FIFO depths cannot disagree between
the estimate and the hardware.  The architecture and the timing rules are written down in
``docs/hardware.md``; in short, with ``S = ceil(L / N)`` pipeline stages for a datapath of
``L`` adder levels and ``N`` levels per stage:

- pixel front (1x1, no padding): beat accepted at ``a`` -> output offered at ``a + S + 2``;
- window front (line buffer): output ``n`` emitted at ``e[n] = max(e[n-1] + 1, a[trig] + 1)``
  (``trig`` = last pixel its window reads) -> offered at ``e[n] + S + 3``;
- vector (Dense) and sum (global AvgPool) fronts: last beat of a frame at ``a`` -> ``a + S + 2``;
- pair front (Add): pop ``p[k] = max(p[k-1] + 1, a_A[k] + 1, a_B[k] + 1)`` -> ``p[k] + S + 2``;
- forks are wires.  Line buffers and FIFOs are sized from this schedule so that, with the input
  offered back to back and the output always ready, no layer ever stalls its producer: the
  latency is then exact, and so is the interval (the input beats per frame), checked over
  several streamed frames.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from hlsgen import ir
from hlsgen.decompose.csd import csd_digits
from hlsgen.decompose.graph import ShiftAddGraph, bit_width
from hlsgen.errors import HlsgenError, UnsupportedModelError

__all__ = [
    "CostModelError",
    "Front",
    "Op",
    "Operand",
    "Node",
    "Datapath",
    "WindowShape",
    "ModulePlan",
    "Schedule",
    "HardwarePlan",
    "LayerCost",
    "CostReport",
    "adder_levels_per_stage",
    "plan_hardware",
    "estimate_design",
    "estimate_plan",
]

DEFAULT_ADDER_LEVELS = 3  # EmitOptions' default at 200 MHz: ~1.6 ns per carry-chain level
_FRAMES = 3  # frames streamed by the schedule to check that it repeats every input frame


class CostModelError(HlsgenError):
    """The cost model cannot give an exact figure for this design (it never guesses)."""


# -- the datapath netlist ----------------------------------------------------------------
class Front(enum.Enum):
    """How a layer gathers the operands of one output pixel."""

    PIXEL = "pixel"  # 1x1 window, no padding: one input beat
    WINDOW = "window"  # line buffer + sliding window
    VECTOR = "vector"  # the whole frame (Dense)
    SUM = "sum"  # per-channel running sum over the frame (global AvgPool)
    PAIR = "pair"  # one beat from each of two FIFOs (Add)


class Op(enum.Enum):
    INPUT = "input"  # a field of the stage-0 register bus
    ADD = "add"  # sum of shifted, optionally negated operands plus a constant
    MAX = "max"  # larger of two operands
    CLAMP = "clamp"  # arithmetic right shift, then clamp to [lo, hi]: an 8-bit result
    CONST = "const"


@dataclass(frozen=True)
class Operand:
    node: int
    shift: int = 0  # left shift
    negate: bool = False


@dataclass(frozen=True)
class Node:
    """One value of a datapath.  ``lo``/``hi``: its exact range; ``level``: adder depth."""

    op: Op
    level: int
    lo: int
    hi: int
    operands: tuple[Operand, ...] = ()
    const: int = 0  # ADD: addend; CONST: the value
    bit: int = 0  # INPUT: lsb of the field in the stage-0 bus
    bits: int = 8  # INPUT: field width
    signed: bool = True  # INPUT: field is two's complement (else unsigned)
    shift: int = 0  # CLAMP: arithmetic right shift of the operand (< 0: left shift)
    bounds: tuple[int, int] = (0, 0)  # CLAMP: (lo, hi)
    # CLAMP with ties to even (ir.Rounding.HALF_EVEN): parity of the output zero point folded
    # into the shifted value (None: round half up)
    even_parity: int | None = None

    @property
    def width(self) -> int:
        return bit_width(self.lo, self.hi)


@dataclass(frozen=True, eq=False)
class Datapath:
    """Straight-line arithmetic from the stage-0 bus to one 8-bit result per output channel.

    A node of level ``l >= 1`` is computed in stage ``(l - 1) // N``; values crossing a stage
    boundary are registered.  Output channel ``c`` is the low 8 bits of ``nodes[outputs[c]]``.
    """

    nodes: tuple[Node, ...]
    outputs: tuple[int, ...]

    @cached_property
    def levels(self) -> int:
        return max((self.nodes[n].level for n in self.outputs), default=0)

    @cached_property
    def live(self) -> tuple[bool, ...]:
        live = [False] * len(self.nodes)
        for n in self.outputs:
            live[n] = True
        for n in range(len(self.nodes) - 1, -1, -1):
            if live[n]:
                for op in self.nodes[n].operands:
                    live[op.node] = True
        return tuple(live)

    def stages(self, per_stage: int) -> int:
        return -(-self.levels // per_stage)

    def register_stages(self, per_stage: int) -> tuple[tuple[int, ...], ...]:
        """Per node: the stages (1..S) at which a registered copy of it exists."""
        last = [-1] * len(self.nodes)  # latest stage a copy is needed at
        home = [self.home_stage(n, per_stage) for n in range(len(self.nodes))]
        for n, node in enumerate(self.nodes):
            if not self.live[n]:
                continue
            for op in node.operands:
                last[op.node] = max(last[op.node], home[n])
        stages = self.stages(per_stage)
        for n in self.outputs:
            last[n] = max(last[n], stages)
        result = []
        for n, node in enumerate(self.nodes):
            if node.op is Op.CONST or last[n] <= home[n]:
                result.append(())
            else:
                result.append(tuple(range(home[n] + 1, last[n] + 1)))
        return tuple(result)

    def home_stage(self, n: int, per_stage: int) -> int:
        """Stage whose combinational logic computes node n (stage-0 registers: 0)."""
        level = self.nodes[n].level
        return 0 if level == 0 else (level - 1) // per_stage

    def clamp_input_range(self, n: int) -> tuple[int, int]:
        """CLAMP node n: exact range of its shifted operand, before the clamp."""
        node = self.nodes[n]
        op = node.operands[0]
        src = self.nodes[op.node]
        total = node.shift + op.shift
        return (src.lo << op.shift) >> total, (src.hi << op.shift) >> total


class _Netlist:
    def __init__(self):
        self.nodes: list[Node] = []

    def _push(self, node: Node) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    def input(self, bit: int, bits: int, signed: bool, span: tuple[int, int] | None = None) -> int:
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        lo, hi = span or (lo, hi)
        return self._push(Node(Op.INPUT, 0, lo, hi, bit=bit, bits=bits, signed=signed))

    def sum2(self, x: int, y: int) -> int:
        a, b = self.nodes[x], self.nodes[y]
        return self.add((Operand(x), Operand(y)), 0, a.lo + b.lo, a.hi + b.hi)

    def const(self, value: int) -> int:
        return self._push(Node(Op.CONST, 0, value, value, const=value))

    def add(self, operands: tuple[Operand, ...], const: int, lo: int, hi: int) -> int:
        level = 1 + max(self.nodes[op.node].level for op in operands)
        return self._push(Node(Op.ADD, level, lo, hi, operands=operands, const=const))

    def maximum(self, a: int, b: int) -> int:
        na, nb = self.nodes[a], self.nodes[b]
        level = 1 + max(na.level, nb.level)
        return self._push(Node(Op.MAX, level, max(na.lo, nb.lo), max(na.hi, nb.hi),
                               operands=(Operand(a), Operand(b))))

    def clamp(self, operand: Operand, shift: int, lo: int, hi: int,
              even_parity: int | None = None) -> int:
        src = self.nodes[operand.node]
        q_lo = (src.lo << operand.shift) >> shift
        q_hi = (src.hi << operand.shift) >> shift
        if even_parity is not None:  # a tie with an odd floor steps down by one
            q_lo -= 1
        return self._push(Node(Op.CLAMP, src.level + 1, min(max(q_lo, lo), hi),
                               max(min(q_hi, hi), lo), operands=(operand,),
                               shift=shift - operand.shift, bounds=(lo, hi),
                               even_parity=even_parity))


@dataclass
class _Leaf:
    """A partial sum of a requantization: ``sum(form[v] * v) + const``.  ``term`` is how it
    enters an adder (a node with a shift and sign); None for a bare constant."""

    term: Operand | None
    form: dict[int, int]
    const: int


def _requant_tail(net: _Netlist, variables: list[tuple[int, int]], const: int, shift: int,
                  lo: int, hi: int, even_parity: int | None = None) -> int:
    """``clamp((sum(coef * var) + const) >> shift, lo, hi)`` as CSD shift-adds.

    The terms are summed by a balanced tree (depth ``ceil(log2(terms))``); every partial sum
    is a linear form of independent variables, so its range (and width) is exact.
    """
    leaves: list[_Leaf] = []
    for node, coef in variables:
        sign = -1 if coef < 0 else 1
        for bit, digit in csd_digits(abs(coef)):
            value = sign * digit
            leaves.append(_Leaf(Operand(node, bit, value < 0), {node: value << bit}, 0))
    if not leaves:
        value = const >> shift
        if even_parity is not None and const % (1 << shift) == 0 and (value ^ even_parity) & 1:
            value -= 1  # a constant tie with an odd floor: to even
        return net.const(min(max(value, lo), hi))
    if const:
        leaves.append(_Leaf(None, {}, const))
    while len(leaves) > 1:
        paired = [_combine(net, leaves[i], leaves[i + 1]) for i in range(0, len(leaves) - 1, 2)]
        if len(leaves) % 2:
            paired.append(leaves[-1])
        leaves = paired
    final = leaves[0]
    if final.term.negate:  # a lone negated term still needs its adder
        final = _materialise(net, [final.term], final.form, 0, final.const)
    return net.clamp(final.term, shift, lo, hi, even_parity)


def _combine(net: _Netlist, x: _Leaf, y: _Leaf) -> _Leaf:
    form = dict(x.form)
    for var, coef in y.form.items():
        form[var] = form.get(var, 0) + coef
    terms = [leaf.term for leaf in (x, y) if leaf.term is not None]
    addend = sum(leaf.const for leaf in (x, y) if leaf.term is None)  # a bare constant
    return _materialise(net, terms, form, addend, x.const + y.const)


def _materialise(net: _Netlist, terms: list[Operand], form: dict[int, int], addend: int,
                 total: int) -> _Leaf:
    """An adder of ``terms + addend`` whose value is ``form + total`` (exact range)."""
    lo = hi = total
    for var, coef in form.items():
        v = net.nodes[var]
        lo += min(coef * v.lo, coef * v.hi)
        hi += max(coef * v.lo, coef * v.hi)
    node = net.add(tuple(terms), addend, lo, hi)
    return _Leaf(Operand(node), form, total)


def _balanced(nodes: list[int], combine) -> int:
    while len(nodes) > 1:
        paired = [combine(nodes[i], nodes[i + 1]) for i in range(0, len(nodes) - 1, 2)]
        if len(nodes) % 2:
            paired.append(nodes[-1])
        nodes = paired
    return nodes[0]


@lru_cache(maxsize=4096)
def _graph_ranges(graph: ShiftAddGraph, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact (min, max) of every node when every input lies in [lo, hi] (int64 fast path)."""
    n = graph.n_inputs
    count = n + graph.adder_count
    bound = max(abs(lo), abs(hi), 1)
    magnitude = [1.0] * n  # upper bound of sum |coefficients| per node
    for add in graph.adders:
        magnitude.append(magnitude[add.a.node] * 2.0 ** add.a.shift
                         + magnitude[add.b.node] * 2.0 ** add.b.shift)
    if max(magnitude, default=0.0) * bound >= 2.0 ** 61:
        ranges = graph.node_ranges(lo, hi)  # exact Python integers
        return (np.array([r[0] for r in ranges], dtype=object),
                np.array([r[1] for r in ranges], dtype=object))
    forms = np.zeros((count, n), dtype=np.int64)
    forms[np.arange(n), np.arange(n)] = 1
    for k, add in enumerate(graph.adders):
        a = forms[add.a.node] << add.a.shift
        b = forms[add.b.node] << add.b.shift
        forms[n + k] = (-a if add.a.negate else a) + (-b if add.b.negate else b)
    pos = np.where(forms > 0, forms, 0).sum(axis=1)
    neg = np.where(forms < 0, forms, 0).sum(axis=1)
    return pos * lo + neg * hi, pos * hi + neg * lo


def _matrix_datapath(net: _Netlist, graphs, locate, in_range, layer, rowsums,
                     zp_in: int) -> list[int]:
    """Conv / Dense: shift-add graphs on the raw inputs, then bias and requantization.

    The input zero point is folded into the bias (``acc = bias - zp * rowsum(E) + E @ x``),
    so the graphs read raw 8-bit values and a padded position simply holds ``zp``.
    """
    rq = layer.requant
    outputs: list[int] = []
    for g, graph in enumerate(graphs):
        lows, highs = _graph_ranges(graph, *in_range)
        signed = in_range[0] < 0
        ids = [net.input(locate(g, i), 8, signed) for i in range(graph.n_inputs)]
        for k, add in enumerate(graph.adders):
            operands = tuple(Operand(ids[op.node], op.shift, op.negate) for op in (add.a, add.b))
            ids.append(net.add(operands, 0, int(lows[graph.n_inputs + k]),
                               int(highs[graph.n_inputs + k])))
        for tap in graph.outputs:
            o = len(outputs)
            m, s = int(rq.multiplier[o]), int(rq.shift[o])
            bias = int(layer.bias[o]) - zp_in * int(rowsums[o])
            const = m * bias + _rounding(s, rq.zero_point)
            variables = []
            if tap.node is not None and m:
                coef = (-m if tap.negate else m) << tap.shift
                variables.append((ids[tap.node], coef))
            outputs.append(_requant_tail(net, variables, const, s, int(rq.lo), int(rq.hi),
                                         _even_parity(rq)))
    return outputs


# -- layers as modules -------------------------------------------------------------------
@dataclass(frozen=True)
class WindowShape:
    h: int
    w: int
    kh: int
    kw: int
    sh: int
    sw: int
    pt: int
    pl: int
    pb: int
    pr: int

    @property
    def ho(self) -> int:
        return (self.h + self.pt + self.pb - self.kh) // self.sh + 1

    @property
    def wo(self) -> int:
        return (self.w + self.pl + self.pr - self.kw) // self.sw + 1

    def trigger(self) -> np.ndarray:
        """Per output pixel (raster): in-frame index of the last input pixel its window reads."""
        rows = np.minimum(np.arange(self.ho) * self.sh - self.pt + self.kh - 1, self.h - 1)
        cols = np.minimum(np.arange(self.wo) * self.sw - self.pl + self.kw - 1, self.w - 1)
        return (rows[:, None] * self.w + cols[None, :]).reshape(-1)

    def fixed_bank(self) -> int | None:
        """The line-buffer bank of every window's first column when it is always the same
        (stride a multiple of the kernel width: no bank rotation is needed), else None."""
        starts = {(j * self.sw - self.pl) % self.kw for j in range(self.wo)}
        return starts.pop() if len(starts) == 1 else None

    def oldest_row(self) -> np.ndarray:
        """Per output pixel: the first input row its window reads."""
        rows = np.maximum(np.arange(self.ho) * self.sh - self.pt, 0)
        return np.repeat(rows, self.wo)


@dataclass(frozen=True, eq=False)
class ModulePlan:
    """One IR layer as a hardware module: front end + datapath + output register slice."""

    layer: ir.Layer
    index: int
    front: Front
    inputs: tuple[ir.Tensor, ...]
    output: ir.Tensor
    datapath: Datapath
    window: WindowShape | None = None  # PIXEL / WINDOW geometry
    pad: int = 0  # WINDOW: value of a padded position (per channel)
    sum_bits: int = 0  # SUM: accumulator width per channel

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def in_beats(self) -> int:
        h, w, _ = self.inputs[0].shape
        return h * w


def _module(layer: ir.Layer, index: int, graph: ir.Graph, impls) -> ModulePlan:
    inputs = tuple(graph.tensor(t) for t in layer.inputs)
    out = graph.tensor(layer.output)
    if isinstance(layer, ir.Dense):
        return _dense_module(layer, index, inputs, out, impls)
    if isinstance(layer, ir.Add):
        return _add_module(layer, index, inputs, out)
    h, w, _ = inputs[0].shape
    shape = WindowShape(h, w, *layer.kernel, *layer.stride, *getattr(layer, "pads", (0,) * 4))
    _check_window(layer, index, graph, shape)
    if isinstance(layer, ir.AvgPool) and layer.kernel == (h, w):
        return _global_pool_module(layer, index, inputs, out)
    return _window_module(layer, index, inputs, out, shape, impls)


def _dense_module(layer: ir.Dense, index, inputs, out, impls) -> ModulePlan:
    src = inputs[0]
    net = _Netlist()
    outs = _matrix_datapath(net, _graphs(layer, impls, 1), lambda g, i: 8 * i,
                            (src.dtype.qmin, src.dtype.qmax), layer, layer.weight.sum(axis=1),
                            src.zero_point)
    return ModulePlan(layer, index, Front.VECTOR, inputs, out, Datapath(tuple(net.nodes),
                                                                         tuple(outs)))


def _add_module(layer: ir.Add, index, inputs, out) -> ModulePlan:
    """``acc = ma * (a - za) + mb * (b - zb)``: both zero points folded into the constant."""
    a, b = inputs
    rq = layer.requant
    net = _Netlist()
    outs = []
    for c in range(out.shape[2]):
        na = net.input(8 * c, 8, a.dtype.signed)
        nb = net.input(8 * (a.shape[2] + c), 8, b.dtype.signed)
        m, s = int(rq.multiplier[c]), int(rq.shift[c])
        ma, mb = int(layer.mult_a[c]) * m, int(layer.mult_b[c]) * m
        const = -a.zero_point * ma - b.zero_point * mb + _rounding(s, rq.zero_point)
        outs.append(_requant_tail(net, [(na, ma), (nb, mb)], const, s, int(rq.lo), int(rq.hi),
                                  _even_parity(rq)))
    return ModulePlan(layer, index, Front.PAIR, inputs, out, Datapath(tuple(net.nodes),
                                                                       tuple(outs)))


def _global_pool_module(layer: ir.AvgPool, index, inputs, out) -> ModulePlan:
    """Global AvgPool: the front end sums each channel over the frame (exact width)."""
    src = inputs[0]
    h, w, c = src.shape
    lo, hi = h * w * src.dtype.qmin, h * w * src.dtype.qmax
    bits = max(9, bit_width(lo, hi))
    rq = layer.requant
    net = _Netlist()
    outs = []
    for ch in range(c):
        total = net.input(bits * ch, bits, True, (lo, hi))
        m, s = int(rq.multiplier[ch]), int(rq.shift[ch])
        const = -m * h * w * src.zero_point + _rounding(s, rq.zero_point)
        outs.append(_requant_tail(net, [(total, m)], const, s, int(rq.lo), int(rq.hi),
                                  _even_parity(rq)))
    return ModulePlan(layer, index, Front.SUM, inputs, out,
                      Datapath(tuple(net.nodes), tuple(outs)), sum_bits=bits)


def _window_module(layer, index, inputs, out, shape: WindowShape, impls) -> ModulePlan:
    """Conv, MaxPool, windowed AvgPool: the window bus holds tap k = kh*KW + kw, channel c
    at bits ``8 * (k * C + c)``."""
    src = inputs[0]
    cin = src.shape[2]
    taps = shape.kh * shape.kw
    net = _Netlist()
    pad = src.zero_point  # contributes 0 once the zero point is folded into the bias
    if isinstance(layer, ir.Conv):
        cig = cin // layer.groups

        def locate(g: int, i: int) -> int:
            tap, ci = divmod(i, cig)
            return 8 * (tap * cin + g * cig + ci)

        rowsums = layer.weight.reshape(layer.weight.shape[0], -1).sum(axis=1)
        outs = _matrix_datapath(net, _graphs(layer, impls, layer.groups), locate,
                                (src.dtype.qmin, src.dtype.qmax), layer, rowsums,
                                src.zero_point)
    elif isinstance(layer, ir.MaxPool):
        pad = src.dtype.qmin  # never wins against a real pixel
        outs = [_balanced([net.input(8 * (k * cin + c), 8, src.dtype.signed)
                           for k in range(taps)], net.maximum) for c in range(cin)]
    else:  # windowed AvgPool: sum the window, then requantize once
        rq = layer.requant
        outs = []
        for c in range(cin):
            leaves = [net.input(8 * (k * cin + c), 8, src.dtype.signed) for k in range(taps)]
            total = _balanced(leaves, net.sum2)
            m, s = int(rq.multiplier[c]), int(rq.shift[c])
            const = -m * taps * src.zero_point + _rounding(s, rq.zero_point)
            outs.append(_requant_tail(net, [(total, m)], const, s, int(rq.lo), int(rq.hi),
                                  _even_parity(rq)))
    plain = (shape.kh, shape.kw) == (1, 1) and not any((shape.pt, shape.pl, shape.pb, shape.pr))
    return ModulePlan(layer, index, Front.PIXEL if plain else Front.WINDOW, inputs, out,
                      Datapath(tuple(net.nodes), tuple(outs)), window=shape, pad=pad)


def _even_parity(rq: ir.Requant) -> int | None:
    """For ties to even: the zero point's parity (it is folded in before the shift)."""
    return int(rq.zero_point) & 1 if rq.rounding is ir.Rounding.HALF_EVEN else None


def _rounding(shift: int, zero_point) -> int:
    """``2**(shift-1)`` (round half up) plus the output zero point, both before ``>> shift``."""
    return (1 << (shift - 1)) + (int(zero_point) << shift)


def _graphs(layer, impls, count: int) -> tuple[ShiftAddGraph, ...]:
    impl = impls.get(layer.name)
    if impl is None:
        raise KeyError(f"design has no shift-add graphs for weight layer {layer.name!r}")
    graphs = tuple(impl.graphs)
    if len(graphs) != count:
        raise AssertionError(f"layer {layer.name!r}: {len(graphs)} graphs, expected {count}")
    return graphs


def _check_window(layer, index: int, graph: ir.Graph, s: WindowShape) -> None:
    why = None
    if s.pt >= s.kh or s.pb >= s.kh or s.pl >= s.kw or s.pr >= s.kw:
        why = (f"padding {(s.pt, s.pl, s.pb, s.pr)} is not smaller than the kernel "
               f"{(s.kh, s.kw)}, so some window would read padding only")
    elif s.ho < 1 or s.wo < 1:
        why = f"kernel {(s.kh, s.kw)} is larger than the padded input"
    if why:
        raise UnsupportedModelError(graph.name, [(index, layer.name, layer.kind.value,
                                                  why + "; the streaming hardware needs "
                                                  "every window to touch the frame")])


# -- the schedule ------------------------------------------------------------------------
@dataclass(frozen=True)
class Schedule:
    """Exact cycle timing with the input offered back to back and the output always ready.

    ``layer_latency``: from the layer's first input beat to its last output beat (frame 0).
    ``rows``: line-buffer row slots per WINDOW layer; ``fifo_depths``: (a, b) per Add.
    ``paced``: the top admits a frame only every ``interval_cycles`` (more than its beats).
    """

    latency_cycles: int
    interval_cycles: int
    layer_latency: dict[str, int]
    rows: dict[str, int]
    fifo_depths: dict[str, tuple[int, int]]
    paced: bool = False


def _serial(ready: np.ndarray) -> np.ndarray:
    """``x[n] = max(x[n-1] + 1, ready[n])``: one event per cycle, in order."""
    steps = np.arange(ready.shape[0], dtype=np.int64)
    return steps + np.maximum.accumulate(ready - steps)


def _module_times(m: ModulePlan, arrivals: list[np.ndarray], frames: int, stages: int,
                  sizes: dict) -> np.ndarray:
    """Output offer times of ``m`` for ``frames`` frames of input offer times ``arrivals``."""
    a = arrivals[0]
    beats = m.in_beats
    if m.front is Front.PIXEL:
        s = m.window
        rows, cols = np.divmod(np.arange(beats), s.w)
        keep = ((rows % s.sh == 0) & (rows // s.sh < s.ho) & (cols % s.sw == 0)
                & (cols // s.sw < s.wo))
        return a[np.tile(keep, frames)] + stages + 2
    if m.front in (Front.VECTOR, Front.SUM):
        return a[beats - 1 :: beats] + stages + 2
    if m.front is Front.PAIR:
        b = arrivals[1]
        pops = _serial(np.maximum(a, b) + 1)
        depths = tuple(max(2, int(np.max(np.arange(x.shape[0])
                                          - np.searchsorted(pops, x, side="left"))) + 1)
                       for x in (a, b))
        sizes[m.name] = tuple(max(d, old) for d, old in zip(depths, sizes.get(m.name, (0, 0))))
        return pops + stages + 2
    # WINDOW
    s = m.window
    per = s.ho * s.wo
    offsets = np.repeat(np.arange(frames, dtype=np.int64) * beats, per)
    emits = _serial(a[np.tile(s.trigger(), frames) + offsets] + 1)
    # Row slots: the writer never blocks if it stays < R rows ahead of the oldest row of the
    # emitter's current output (the first output not yet emitted when the beat arrives).
    current = np.searchsorted(emits, a, side="left")
    oldest_in = np.tile(s.oldest_row(), frames) + np.repeat(np.arange(frames) * s.h, per)
    oldest = np.append(oldest_in, frames * s.h)[current]
    rows = np.arange(a.shape[0]) // s.w
    need = int(np.max(rows - oldest)) + 1
    sizes[m.name] = max(s.kh, need, sizes.get(m.name, 0))
    return emits + stages + 3


def _work(m: ModulePlan) -> int:
    """Cycles per frame a module needs at least (one output, or one pop, per cycle)."""
    if m.front is Front.WINDOW:
        return m.window.ho * m.window.wo
    return m.in_beats


def _schedule(modules: tuple[ModulePlan, ...], graph: ir.Graph,
              per_stage: dict[str, int]) -> Schedule:
    h, w, _ = graph.tensor(graph.input).shape
    beats = h * w
    # A layer with more outputs than the input has beats per frame (padding wider than the
    # kernel needs) cannot keep pace with a back-to-back input; the top then admits a new
    # frame only every `period` cycles (hlsgen_top's input pacer), so nothing ever stalls.
    period = max([beats] + [_work(m) for m in modules])
    frames = _FRAMES
    rows: dict[str, int] = {}
    fifos: dict[str, tuple[int, int]] = {}
    times = {graph.input: (np.arange(beats, dtype=np.int64)[None, :]
                           + period * np.arange(frames, dtype=np.int64)[:, None]).reshape(-1)}
    first: dict[str, int] = {}
    for m in modules:
        arrivals = [times[t] for t in m.layer.inputs]
        sizes = fifos if m.front is Front.PAIR else rows
        times[m.layer.output] = _module_times(m, arrivals, frames,
                                              m.datapath.stages(per_stage[m.name]), sizes)
        first[m.name] = int(min(x[0] for x in arrivals))
    for name, t in times.items():
        n = t.shape[0] // frames
        if not np.array_equal(t[2 * n :] - t[n : 2 * n], np.full(n, period)):
            raise CostModelError(
                f"tensor {name!r}: the schedule does not repeat every {period} cycles; "
                "the cost model cannot time this design exactly")
    out = times[graph.output]
    per_frame = out.shape[0] // frames
    layer_latency = {}
    for m in modules:
        t = times[m.layer.output]
        layer_latency[m.name] = int(t[t.shape[0] // frames - 1]) - first[m.name]
    return Schedule(int(out[per_frame - 1] - times[graph.input][0]), period,
                    layer_latency, rows, fifos, paced=period > beats)


# -- the plan ----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class HardwarePlan:
    """Everything the Verilog emitter renders: modules in graph order, forks, schedule."""

    graph: ir.Graph
    modules: tuple[ModulePlan, ...]
    levels: dict[str, int]  # per layer: adder levels between pipeline registers
    schedule: Schedule

    def per_stage(self, module: ModulePlan) -> int:
        return self.levels[module.name]

    def stages(self, module: ModulePlan) -> int:
        return module.datapath.stages(self.levels[module.name])

    def consumers(self, tensor: str) -> list[str]:
        """Layer names reading ``tensor`` (plus ``""`` for the top output port)."""
        names = [m.name for m in self.modules if tensor in m.layer.inputs]
        return names + ([""] if tensor == self.graph.output else [])


def adder_levels_per_stage(options, layer: str | None = None) -> int:
    """Adder levels between pipeline registers for ``layer`` from emit options (duck-typed:
    ``options.adder_levels(layer)`` as :class:`hlsgen.emit.common.EmitOptions` has, else an
    ``adder_levels_per_stage`` attribute; None: the 200 MHz default)."""
    if options is None:
        return DEFAULT_ADDER_LEVELS
    if callable(getattr(options, "adder_levels", None)):
        return int(options.adder_levels(layer))
    return int(getattr(options, "adder_levels_per_stage", None) or DEFAULT_ADDER_LEVELS)


def plan_hardware(design, options=None) -> HardwarePlan:
    """The hardware of a :class:`hlsgen.design.Design` (``.graph`` and ``.impls``)."""
    graph = design.graph
    levels = {layer.name: adder_levels_per_stage(options, layer.name) for layer in graph.layers}
    modules = tuple(_cached_module(layer, i, graph, design.impls.get(layer.name))
                    for i, layer in enumerate(graph.layers))
    return HardwarePlan(graph, modules, levels, _schedule(modules, graph, levels))


_MODULE_CACHE: dict = {}


def _cached_module(layer, index, graph, impl) -> ModulePlan:
    # The GA evaluates many designs sharing layers: key on the (immutable) IR objects.
    tensors = tuple(graph.tensor(t) for t in (*layer.inputs, layer.output))
    key = (id(layer), index, tuple(id(t) for t in tensors), id(impl))
    hit = _MODULE_CACHE.get(key)
    if hit is not None and hit[0] is layer and hit[1] is impl:
        return hit[2]
    module = _module(layer, index, graph, {layer.name: impl} if impl else {})
    if len(_MODULE_CACHE) > 2048:
        _MODULE_CACHE.clear()
    _MODULE_CACHE[key] = (layer, impl, module, tensors)
    return module


# -- resources ---------------------------------------------------------------------------
# LUTs and FFs are predicted from structural counts (adder bits that need a carry-chain LUT,
# register bits that survive constant/unused-bit removal, mux inputs, distributed-RAM bits)
# times coefficients calibrated against yosys ``synth_xilinx`` (YoWASP 0.70, 7-series,
# hierarchy kept) -- see docs/hardware.md for the calibration and the measured ratios.
_LUT_COEFFS = {
    "adder": 1.0,  # per adder result bit that needs carry logic
    "max": 2.0,  # per bit of a max (compare + select)
    "clamp": 1.0,  # per compared bit, plus the 8-bit select
    "mux": 1.0,  # per LUT6 of the line buffer's row/bank/pad selection
    "lutram": 1.0,  # per LUT of distributed RAM
    "control": 1.0,  # counters and handshakes (per-front constants below)
}
_FF_COEFFS = {"register": 1.0}
_CONTROL_LUTS = {Front.PIXEL: 50, Front.WINDOW: 90, Front.VECTOR: 10, Front.SUM: 10,
                 Front.PAIR: 60}
_PORT_LUTS = 17  # address adder and bank select of one line-buffer read port


@dataclass(frozen=True)
class LayerCost:
    """Predicted resources of one layer's module (front end, datapath, output slice)."""

    name: str  # IR layer name
    front: str
    luts: int
    ffs: int
    dsps: int
    brams: float  # RAMB36 equivalents
    stages: int
    latency_cycles: int  # first input beat to last output beat of this layer (frame 0)


@dataclass(frozen=True)
class CostReport:
    layers: tuple[LayerCost, ...]
    luts: int
    ffs: int
    dsps: int
    brams: float
    latency_cycles: int
    interval_cycles: int

    def layer(self, name: str) -> LayerCost:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)


def estimate_design(design, options=None) -> CostReport:
    """LUT/FF/DSP/BRAM and exact latency/interval of the Verilog for ``design``."""
    return estimate_plan(plan_hardware(design, options))


def estimate_plan(plan: HardwarePlan) -> CostReport:
    layers = []
    for m in plan.modules:
        luts, ffs, brams = _module_resources(plan, m)
        layers.append(LayerCost(m.name, m.front.value, luts, ffs, 0, brams, plan.stages(m),
                                plan.schedule.layer_latency[m.name]))
    luts = sum(x.luts for x in layers)
    ffs = sum(x.ffs for x in layers)
    for tensor in [plan.graph.input] + [m.layer.output for m in plan.modules]:
        readers = len(plan.consumers(tensor))
        if readers > 1:  # a fork: one 'taken' flag per reader
            luts += 2 * readers + 2
            ffs += readers
    luts += 8 + (24 if plan.schedule.paced else 0)  # TLAST counter, input pacer
    ffs += bit_width(0, _out_beats(plan)) + (2 * 16 if plan.schedule.paced else 0)
    return CostReport(tuple(layers), luts, ffs, 0, sum(x.brams for x in layers),
                      plan.schedule.latency_cycles, plan.schedule.interval_cycles)


def _out_beats(plan: HardwarePlan) -> int:
    h, w, _ = plan.graph.tensor(plan.graph.output).shape
    return h * w


def _module_resources(plan: HardwarePlan, m: ModulePlan) -> tuple[int, int, float]:
    dp = m.datapath
    bits = _datapath_bits(dp, plan.per_stage(m))
    luts = (_LUT_COEFFS["adder"] * bits["adder"] + _LUT_COEFFS["max"] * bits["max"]
            + _LUT_COEFFS["clamp"] * bits["clamp"])
    ffs = bits["register"] + plan.stages(m)
    front_luts, front_ffs, brams = _front_resources(plan, m)
    out_bits = 8 * m.output.shape[2]
    luts += front_luts + out_bits + 4  # skid select
    ffs += front_ffs + 2 * out_bits + 2  # skid registers
    return int(round(luts)), int(round(_FF_COEFFS["register"] * ffs)), brams


def _trailing_zeros(value: int) -> int:
    return (value & -value).bit_length() - 1 if value else 1 << 30


@lru_cache(maxsize=4096)  # the GA re-evaluates designs that share layers
def _datapath_bits(dp: Datapath, per_stage: int) -> dict[str, int]:
    """Structural counts: carry-chain bits of adders, bits of max/clamp logic, and register
    bits of the pipeline -- bits that are known zeros, constant sign bits or never read by a
    consumer do not count (synthesis removes them)."""
    nodes, live = dp.nodes, dp.live
    tz = [0] * len(nodes)
    for n, node in enumerate(nodes):
        if node.op is Op.ADD:
            starts = [tz[o.node] + o.shift for o in node.operands]
            tz[n] = min(starts + ([_trailing_zeros(node.const)] if node.const else []))
        elif node.op is Op.MAX:
            tz[n] = min(tz[o.node] for o in node.operands)
        elif node.op is Op.CONST:
            tz[n] = _trailing_zeros(node.const)
    top = [-1] * len(nodes)  # highest bit any consumer reads
    low = [1 << 30] * len(nodes)  # lowest bit a register copy must keep
    for n in dp.outputs:
        top[n] = max(top[n], min(7, nodes[n].width - 1))
        low[n] = min(low[n], tz[n])
    for n in range(len(nodes) - 1, -1, -1):
        node = nodes[n]
        if not live[n]:
            continue
        for o in node.operands:
            src = nodes[o.node]
            if node.op is Op.ADD:
                top[o.node] = max(top[o.node], min(src.width - 1, node.width - 1 - o.shift))
                low[o.node] = min(low[o.node], tz[o.node])
            elif node.op is Op.MAX:
                top[o.node] = src.width - 1
                low[o.node] = min(low[o.node], tz[o.node])
            else:  # CLAMP reads bits [max(shift, 0), width - 1] of its source (all of them
                top[o.node] = src.width - 1  # when ties to even test the bits shifted out)
                first = 0 if node.even_parity is not None else min(node.shift, src.width - 1)
                low[o.node] = min(low[o.node], max(tz[o.node], first))
    counts = {"adder": 0, "max": 0, "clamp": 0, "register": 0}
    copies = dp.register_stages(per_stage)
    for n, node in enumerate(nodes):
        if not live[n] or node.op is Op.CONST:
            continue
        hi_bit = top[n]
        if node.lo >= 0:  # a non-negative value's sign bit is a constant 0
            hi_bit = min(hi_bit, max(node.hi, 1).bit_length() - 1)
        if node.op is Op.ADD:
            starts = sorted([tz[o.node] + o.shift for o in node.operands]
                            + ([_trailing_zeros(node.const)] if node.const else []))
            start = starts[1] if len(starts) > 1 else starts[0]
            counts["adder"] += max(0, hi_bit - start + 1)
        elif node.op is Op.MAX:
            counts["max"] += node.width
        elif node.op is Op.CLAMP:
            q_lo, q_hi = dp.clamp_input_range(n)
            qbits = bit_width(q_lo, q_hi)
            compares = int(q_lo < node.bounds[0]) + int(q_hi > node.bounds[1])
            counts["clamp"] += compares * qbits + (8 if compares else 0)
        width = 8 if node.op is Op.CLAMP else max(0, hi_bit - min(low[n], hi_bit + 1) + 1)
        counts["register"] += width * len(copies[n])
    return counts


def _lutram_luts(depth: int, width: int) -> int:
    """LUTs of a distributed RAM (7-series SLICEM): RAM32M = 32 x 6 bits, RAM64M = 64 x 3,
    RAM128X1D / RAM256X1D per bit beyond.  Deeper memories are where synthesis may switch to
    block RAM, which this model has not been calibrated for: it says so instead of guessing."""
    if depth <= 32:
        return 4 * -(-width // 6)
    if depth <= 64:
        return 4 * -(-width // 3)
    if depth <= 256:
        return (4 if depth <= 128 else 8) * width
    raise CostModelError(
        f"a {depth}-word line buffer / FIFO is beyond the distributed-RAM sizes the resource "
        "model is calibrated for (<= 256 words); its LUT/BRAM count would be a guess")


def _mux_luts(inputs: int) -> int:
    """LUT6s per bit of an ``inputs``:1 multiplexer (MUXF7/F8 combine four-input slices)."""
    return 0 if inputs <= 1 else -(-inputs // 4)


def _front_resources(plan: HardwarePlan, m: ModulePlan) -> tuple[float, float, float]:
    """(LUTs, FFs, BRAM36) of the front end, from the primitive's structure."""
    h, w, c = m.inputs[0].shape
    pw = 8 * c
    control = _LUT_COEFFS["control"] * _CONTROL_LUTS[m.front]
    if m.front is Front.PIXEL:
        counter = bit_width(0, max(h, w, m.window.sh, m.window.sw) + 1)
        return control, pw + 1 + 6 * counter, 0.0
    if m.front is Front.VECTOR:
        return control, m.in_beats * pw + 1 + bit_width(0, m.in_beats), 0.0
    if m.front is Front.SUM:
        bits = c * m.sum_bits  # an adder and a clear-on-last-beat select per accumulator bit
        return control + 2 * bits, 2 * bits + 1 + bit_width(0, m.in_beats), 0.0
    if m.front is Front.PAIR:
        da, db = plan.schedule.fifo_depths[m.name]
        wa, wb = 8 * m.inputs[0].shape[2], 8 * m.inputs[1].shape[2]
        ram = _LUT_COEFFS["lutram"] * (_lutram_luts(da, wa) + _lutram_luts(db, wb))
        counters = 3 * (bit_width(0, da) + bit_width(0, db))
        return control + ram, wa + wb + 1 + counters, 0.0
    s = m.window
    rows = plan.schedule.rows[m.name]
    taps = s.kh * s.kw
    depth = rows * -(-w // s.kw)  # words per bank: every row slot
    ram = _LUT_COEFFS["lutram"] * s.kw * s.kh * _lutram_luts(depth, pw)  # a read port per row
    select = 1 if s.fixed_bank() is not None else _mux_luts(s.kw + 1)  # banks + padding
    mux = _LUT_COEFFS["mux"] * taps * pw * select
    ports = _PORT_LUTS * taps  # read address of every (row, bank) port
    counters = 6 * 8 + 3 * bit_width(0, rows + h + s.kh + s.sh)
    ffs = 2 * taps * pw + taps * bit_width(0, s.kw) + counters + s.kh + 4
    return control + ram + mux + ports, ffs, 0.0
