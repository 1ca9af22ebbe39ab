"""The datapath netlist: straight-line integer arithmetic with exact ranges and widths.

A :class:`Datapath` is what every datapath kind builds for a layer and what the Verilog and the
resource model read: nodes in topological order (inputs: fields of the stage-0 register bus;
adders of shifted, optionally negated operands plus a constant; max; clamp), each with its exact
value range ``[lo, hi]`` and adder level.  Widths are the smallest two's-complement width holding
the range (``bit_width``); a partial sum may wrap, the final value always fits.
:func:`requant_tail` builds ``clamp((sum(coef * var) + const) >> shift, lo, hi)`` from CSD
shift-adds; :func:`evaluate` is the exact interpreter the tests run.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hlsgen import ir
from hlsgen.decompose.csd import csd_digits
from hlsgen.decompose.graph import bit_width

__all__ = ["Op", "Operand", "Node", "Datapath", "Netlist", "requant_tail", "balanced",
           "even_parity", "rounding", "evaluate"]


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


class Netlist:
    """Builds a :class:`Datapath` node by node; every method returns the new node's index."""

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


def requant_tail(net: Netlist, variables: list[tuple[int, int]], const: int, shift: int,
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


def _combine(net: Netlist, x: _Leaf, y: _Leaf) -> _Leaf:
    form = dict(x.form)
    for var, coef in y.form.items():
        form[var] = form.get(var, 0) + coef
    terms = [leaf.term for leaf in (x, y) if leaf.term is not None]
    addend = sum(leaf.const for leaf in (x, y) if leaf.term is None)  # a bare constant
    return _materialise(net, terms, form, addend, x.const + y.const)


def _materialise(net: Netlist, terms: list[Operand], form: dict[int, int], addend: int,
                 total: int) -> _Leaf:
    """An adder of ``terms + addend`` whose value is ``form + total`` (exact range)."""
    lo = hi = total
    for var, coef in form.items():
        v = net.nodes[var]
        lo += min(coef * v.lo, coef * v.hi)
        hi += max(coef * v.lo, coef * v.hi)
    node = net.add(tuple(terms), addend, lo, hi)
    return _Leaf(Operand(node), form, total)


def balanced(nodes: list[int], combine) -> int:
    while len(nodes) > 1:
        paired = [combine(nodes[i], nodes[i + 1]) for i in range(0, len(nodes) - 1, 2)]
        if len(nodes) % 2:
            paired.append(nodes[-1])
        nodes = paired
    return nodes[0]


def even_parity(rq: ir.Requant) -> int | None:
    """For ties to even: the zero point's parity (it is folded in before the shift)."""
    return int(rq.zero_point) & 1 if rq.rounding is ir.Rounding.HALF_EVEN else None


def rounding(shift: int, zero_point) -> int:
    """``2**(shift-1)`` (round half up) plus the output zero point, both before ``>> shift``."""
    return (1 << (shift - 1)) + (int(zero_point) << shift)


def evaluate(dp: Datapath, bus: np.ndarray) -> np.ndarray:
    """Evaluate ``dp`` exactly on stage-0 buses ``bus`` (integers [N, fields], one column per
    INPUT node in node order); returns int64 [N, outputs].  Every value is checked against its
    node's range (an AssertionError names the node otherwise)."""
    values: list[np.ndarray] = []
    inputs = iter(range(bus.shape[1]))
    for node in dp.nodes:
        if node.op is Op.INPUT:
            v = bus[:, next(inputs)]
        elif node.op is Op.CONST:
            v = np.full(bus.shape[0], node.const, dtype=object)
        elif node.op is Op.ADD:
            v = np.full(bus.shape[0], node.const, dtype=object)
            for op in node.operands:
                term = values[op.node] * (1 << op.shift)
                v = v - term if op.negate else v + term
        elif node.op is Op.MAX:
            v = np.maximum(values[node.operands[0].node], values[node.operands[1].node])
        else:  # CLAMP: floor shift, ties to even if asked, clamp to the bounds
            op = node.operands[0]
            shifted = values[op.node] * (1 << op.shift)
            total = node.shift + op.shift
            v = np.array([x >> total for x in shifted], dtype=object)
            if node.even_parity is not None and total > 0:  # zero point parity folded in
                tie = np.array([x % (1 << total) == 0 for x in shifted])
                odd = np.array([(int(q) ^ node.even_parity) & 1 == 1 for q in v])
                v = v - (tie & odd).astype(object)
            v = np.minimum(np.maximum(v, node.bounds[0]), node.bounds[1])
        v = np.asarray(v, dtype=object)
        assert ((v >= node.lo) & (v <= node.hi)).all(), f"{node} out of its range"
        values.append(v)
    return np.stack([values[n] for n in dp.outputs], axis=1).astype(np.int64)
