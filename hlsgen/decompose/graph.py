"""The shift-add graph: the common output of every decomposition method.

Node ids: ``0 .. n_inputs-1`` are the inputs ``x[0..n_inputs-1]``; node ``n_inputs + i`` is
``adders[i]``.  An adder computes ``sign_a * (node_a << shift_a) + sign_b * (node_b << shift_b)``
with non-negative left shifts only, so every node is an exact integer linear form of ``x``.
Output row ``r`` is ``sign * (node << shift)`` or zero (``node is None``).

``effective_matrix()`` is the integer matrix ``E`` with ``evaluate(x) == E @ x`` exactly; the
real-valued matrix the graph approximates is ``E * 2**-frac_bits``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["Operand", "Adder", "OutputTap", "ShiftAddGraph", "bit_width"]


def bit_width(lo: int, hi: int) -> int:
    """Bits of the smallest two's-complement integer type holding every value in [lo, hi]."""
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


@dataclass(frozen=True)
class Operand:
    node: int
    shift: int = 0  # left shift, >= 0
    negate: bool = False


@dataclass(frozen=True)
class Adder:
    a: Operand
    b: Operand


@dataclass(frozen=True)
class OutputTap:
    node: int | None  # None: the row is identically zero
    shift: int = 0
    negate: bool = False


@dataclass(frozen=True, eq=False)
class ShiftAddGraph:
    n_inputs: int
    adders: tuple[Adder, ...]
    outputs: tuple[OutputTap, ...]
    frac_bits: int = 0

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    @property
    def adder_count(self) -> int:
        return len(self.adders)

    # -- exact semantics -------------------------------------------------------------------
    @cached_property
    def node_forms(self) -> np.ndarray:
        """[n_nodes, n_inputs] object array: node k equals ``node_forms[k] @ x`` (Python ints)."""
        forms = np.zeros((self.n_inputs + len(self.adders), self.n_inputs), dtype=object)
        forms[:] = 0
        for i in range(self.n_inputs):
            forms[i, i] = 1
        for i, add in enumerate(self.adders):
            forms[self.n_inputs + i] = _term(forms, add.a) + _term(forms, add.b)
        return forms

    def effective_matrix(self) -> np.ndarray:
        """[n_outputs, n_inputs] int64 (object if it would overflow) with evaluate(x) == E @ x."""
        rows = np.zeros((self.n_outputs, self.n_inputs), dtype=object)
        rows[:] = 0
        for r, tap in enumerate(self.outputs):
            if tap.node is not None:
                rows[r] = _term(self.node_forms, Operand(tap.node, tap.shift, tap.negate))
        try:
            return rows.astype(np.int64)
        except OverflowError:  # pragma: no cover - only for absurd shifts
            return rows

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """Run the graph on integer inputs ``x`` of shape [n_inputs, ...] (int64)."""
        x = np.asarray(x, dtype=np.int64)
        values: list[np.ndarray] = [x[i] for i in range(self.n_inputs)]
        for add in self.adders:
            values.append(_apply(values, add.a) + _apply(values, add.b))
        zero = np.zeros_like(x[0]) if self.n_inputs else np.zeros((), dtype=np.int64)
        out = [zero if t.node is None else _apply(values, Operand(t.node, t.shift, t.negate))
               for t in self.outputs]
        return np.stack(out) if out else np.zeros((0,) + zero.shape, dtype=np.int64)

    # -- structure and cost ----------------------------------------------------------------
    @cached_property
    def node_depths(self) -> tuple[int, ...]:
        """Adder depth of every node (inputs are depth 0)."""
        depth = [0] * self.n_inputs
        for add in self.adders:
            depth.append(1 + max(depth[add.a.node], depth[add.b.node]))
        return tuple(depth)

    @property
    def depth(self) -> int:
        taps = [self.node_depths[t.node] for t in self.outputs if t.node is not None]
        return max(taps, default=0)

    def node_ranges(self, input_lo: np.ndarray | int, input_hi: np.ndarray | int
                    ) -> list[tuple[int, int]]:
        """Exact (min, max) of every node when each input i lies in [input_lo[i], input_hi[i]]."""
        lo = np.broadcast_to(np.asarray(input_lo, dtype=object), (self.n_inputs,))
        hi = np.broadcast_to(np.asarray(input_hi, dtype=object), (self.n_inputs,))
        ranges = []
        for form in self.node_forms:
            pos = np.where(form > 0, form, 0)
            neg = np.where(form < 0, form, 0)
            ranges.append((int(pos @ lo + neg @ hi), int(pos @ hi + neg @ lo)))
        return ranges

    def node_widths(self, input_lo, input_hi) -> list[int]:
        return [bit_width(lo, hi) for lo, hi in self.node_ranges(input_lo, input_hi)]

    def adder_width_sum(self, input_lo, input_hi) -> int:
        """Sum of adder output widths: the LUT proxy (one LUT per result bit on Xilinx carry)."""
        widths = self.node_widths(input_lo, input_hi)
        return int(sum(widths[self.n_inputs:]))


def _term(forms: np.ndarray, op: Operand) -> np.ndarray:
    value = forms[op.node] * (1 << op.shift)
    return -value if op.negate else value


def _apply(values: list[np.ndarray], op: Operand) -> np.ndarray:
    value = values[op.node] << op.shift
    return -value if op.negate else value
