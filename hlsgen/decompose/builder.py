"""Incremental construction of a :class:`ShiftAddGraph` from signed, shifted terms.

Every method ends the same way: each output row is a list of *terms* ``sign * (node << shift)``
that must be summed.  :class:`GraphBuilder` turns such lists into adders, reusing an adder when
the same one was already built (hash-consing: free sharing across rows), and sums each row
with a minimum-depth tree (always combine the two shallowest terms, like Huffman coding by
depth), which is optimal for the depth of that row given the depths of its terms.
"""

from __future__ import annotations

import heapq
from typing import NamedTuple

from hlsgen.decompose.graph import Adder, Operand, OutputTap, ShiftAddGraph

__all__ = ["Term", "GraphBuilder"]


class Term(NamedTuple):
    """``sign * (node << shift)`` with sign +1 or -1 and shift >= 0."""

    node: int
    shift: int
    sign: int


class GraphBuilder:
    """Collects adders over ``n_inputs`` inputs; :meth:`finish` freezes them into a graph."""

    def __init__(self, n_inputs: int):
        self.n_inputs = n_inputs
        self.adders: list[Adder] = []
        self.depths: list[int] = [0] * n_inputs
        self._known: dict[Adder, int] = {}

    def depth(self, node: int) -> int:
        return self.depths[node]

    def add(self, a: Term, b: Term) -> Term:
        """A term equal to ``a + b``, built with one adder (or none if it already exists).

        The common shift and, when both terms are negative, the common sign are factored out
        of the adder, so the adder's own operands have one zero shift, at most one negation
        (on the operand with the larger (node, shift)); that normal form is what makes equal
        sub-sums, up to sign and shift, hash to the same adder.
        """
        base = min(a.shift, b.shift)
        if a.sign < 0 and b.sign > 0:
            a, b = b, a  # positive operand first: a - b
        sign = -1 if a.sign < 0 else 1  # both negative -> -(|a| + |b|)
        left = Operand(a.node, a.shift - base, False)
        right = Operand(b.node, b.shift - base, (b.sign < 0) != (sign < 0))
        if (right.node, right.shift) < (left.node, left.shift):
            # one canonical order, so equal sums hash alike: a + b == b + a, a - b == -(b - a)
            if right.negate:
                sign = -sign
            left, right = Operand(right.node, right.shift), Operand(left.node, left.shift,
                                                                  right.negate)
        adder = Adder(left, right)
        node = self._known.get(adder)
        if node is None:
            node = self.n_inputs + len(self.adders)
            self.adders.append(adder)
            self.depths.append(1 + max(self.depths[left.node], self.depths[right.node]))
            self._known[adder] = node
        return Term(node, base, sign)

    def tree(self, terms: list[Term]) -> OutputTap:
        """The output tap summing ``terms`` with a minimum-depth tree (deterministic order)."""
        if not terms:
            return OutputTap(None)
        heap = [(self.depths[t.node], i, t) for i, t in enumerate(terms)]
        heapq.heapify(heap)
        counter = len(heap)
        while len(heap) > 1:
            _, _, a = heapq.heappop(heap)
            _, _, b = heapq.heappop(heap)
            total = self.add(a, b)
            heapq.heappush(heap, (self.depths[total.node], counter, total))
            counter += 1
        last = heap[0][2]
        return OutputTap(last.node, last.shift, last.sign < 0)

    def finish(self, outputs: list[OutputTap], frac_bits: int = 0) -> ShiftAddGraph:
        return ShiftAddGraph(self.n_inputs, tuple(self.adders), tuple(outputs), frac_bits)
