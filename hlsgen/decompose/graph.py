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
    # v needs len(v) + 1 bits, where len counts the magnitude bits of v (of ~v if negative).
    return max((v if v >= 0 else ~v).bit_length() for v in (int(lo), int(hi))) + 1


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
        """[n_nodes, n_inputs]: node k equals ``node_forms[k] @ x``.

        int64 when every coefficient fits (object array of Python ints otherwise).  Memory is
        n_nodes * n_inputs, so big layers should use :meth:`effective_matrix` and
        :meth:`node_ranges`, which never hold more than the nodes still needed.
        """
        dtype = np.int64 if self._fits_int64(1) else object
        forms = np.zeros((self.n_inputs + len(self.adders), self.n_inputs), dtype=dtype)
        forms[np.arange(self.n_inputs), np.arange(self.n_inputs)] = 1
        for i, add in enumerate(self.adders):
            forms[self.n_inputs + i] = _term(forms, add.a) + _term(forms, add.b)
        return forms

    def effective_matrix(self) -> np.ndarray:
        """[n_outputs, n_inputs] int64 (object if it would overflow) with evaluate(x) == E @ x."""
        return self._effective.copy()

    @cached_property
    def _effective(self) -> np.ndarray:
        return self._sweep(None, None)[0]

    @cached_property
    def _coefficient_bounds(self) -> list[int]:
        """Per node: sum of |coefficients| (exact Python ints), for overflow decisions."""
        bound = [1] * self.n_inputs
        for add in self.adders:
            bound.append((bound[add.a.node] << add.a.shift) + (bound[add.b.node] << add.b.shift))
        return bound

    def _fits_int64(self, input_magnitude: int) -> bool:
        bounds = self._coefficient_bounds
        taps = [bounds[t.node] << t.shift for t in self.outputs if t.node is not None]
        peak = max(bounds + taps, default=1)  # output taps shift too
        return peak * max(1, input_magnitude) < (1 << 62)

    def _sweep(self, input_lo, input_hi):
        """One pass over the adders: effective matrix and, given input bounds, node ranges.

        A node's form (its coefficient vector over the inputs) is dropped as soon as no later
        adder reads it, so memory stays at the live nodes, not all of them.
        """
        with_ranges = input_lo is not None
        magnitude = 1
        if with_ranges:
            lo = np.broadcast_to(np.asarray(input_lo, dtype=object), (self.n_inputs,))
            hi = np.broadcast_to(np.asarray(input_hi, dtype=object), (self.n_inputs,))
            magnitude = max([abs(int(v)) for v in lo] + [abs(int(v)) for v in hi] + [1])
        dtype = np.int64 if self._fits_int64(magnitude) else object
        if with_ranges:
            lo, hi = lo.astype(dtype), hi.astype(dtype)
        n = self.n_inputs
        last_use = [-1] * (n + len(self.adders))
        for i, add in enumerate(self.adders):
            last_use[add.a.node] = last_use[add.b.node] = i
        taps: dict[int, list[int]] = {}
        for r, tap in enumerate(self.outputs):
            if tap.node is not None:
                taps.setdefault(tap.node, []).append(r)
        matrix = np.zeros((self.n_outputs, n), dtype=dtype)
        node_lo: list[int] = []
        node_hi: list[int] = []
        forms: dict[int, np.ndarray] = {}

        def visit(node: int, form: np.ndarray) -> None:
            for r in taps.get(node, ()):
                tap = self.outputs[r]
                matrix[r] = _signed_shift(form, tap.shift, tap.negate)
            if with_ranges:
                pos, neg = np.where(form > 0, form, 0), np.where(form < 0, form, 0)
                node_lo.append(int(pos @ lo + neg @ hi))
                node_hi.append(int(pos @ hi + neg @ lo))

        for i in range(n):
            form = np.zeros(n, dtype=dtype)
            form[i] = 1
            visit(i, form)
            if last_use[i] >= 0:
                forms[i] = form
        for i, add in enumerate(self.adders):
            form = (_signed_shift(forms[add.a.node], add.a.shift, add.a.negate)
                    + _signed_shift(forms[add.b.node], add.b.shift, add.b.negate))
            for operand in (add.a.node, add.b.node):
                if last_use[operand] == i:
                    forms.pop(operand, None)
            visit(n + i, form)
            if last_use[n + i] >= 0:
                forms[n + i] = form
        return matrix, node_lo, node_hi

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
        _, lo, hi = self._sweep(input_lo, input_hi)
        return list(zip(lo, hi))

    def node_widths(self, input_lo, input_hi) -> list[int]:
        return [bit_width(lo, hi) for lo, hi in self.node_ranges(input_lo, input_hi)]

    def adder_width_sum(self, input_lo, input_hi) -> int:
        """Sum of adder output widths: the LUT proxy (one LUT per result bit on Xilinx carry)."""
        widths = self.node_widths(input_lo, input_hi)
        return int(sum(widths[self.n_inputs:]))


def _term(forms: np.ndarray, op: Operand) -> np.ndarray:
    value = forms[op.node] * (1 << op.shift)
    return -value if op.negate else value


def _signed_shift(form: np.ndarray, shift: int, negate: bool) -> np.ndarray:
    value = form * (1 << shift) if shift else form
    return -value if negate else value


def _apply(values: list[np.ndarray], op: Operand) -> np.ndarray:
    value = values[op.node] << op.shift
    return -value if op.negate else value
