"""Common-subexpression elimination (CSE) across the rows of a constant matrix.

Every row is a sum of signed, shifted terms ``sign * (node << shift)`` (initially the CSD
digits of its weights).  Two terms of one row form a *pattern* ``x_a + s * (x_b << d)`` once
their common shift and sign are factored out.  Greedy, as Hcub and da4ml do: repeatedly take
the pattern that occurs most often across all rows, build it with one adder, and substitute
it everywhere it occurs; each substitution turns two terms into one, so a pattern occurring
``c`` times saves ``c - 1`` adders.  Stop when no pattern occurs twice.  Ties go to the
pattern whose adder is shallowest (then to the smallest key), which keeps depth down and makes
the result deterministic.

Pair counts are kept up to date incrementally (removing or adding a term in a row touches only
the pairs it forms with the row's other terms) and the most frequent pattern comes from a
lazily cleaned max-heap, so the cost is about (row length) dictionary updates per substitution.
"""

from __future__ import annotations

import heapq

from hlsgen.decompose.builder import GraphBuilder, Term

__all__ = ["eliminate_common_subexpressions"]

_SHIFT_BITS = 8  # relative shifts are in [-127, 127]: far beyond any real weight
_SHIFT_OFFSET = 1 << (_SHIFT_BITS - 1)
_NODE_BITS = 32


def _key(a: int, sa: int, ga: int, b: int, sb: int, gb: int) -> tuple[int, int, int]:
    """(pattern key, base shift, base sign) of the pair of terms (a, sa, ga), (b, sb, gb).

    Canonical order: smaller node first; for the same node, smaller shift first.  The key packs
    (first node, second node, second shift - first shift, sign product) into one int.
    """
    if b < a or (b == a and sb < sa):
        a, sa, ga, b, sb, gb = b, sb, gb, a, sa, ga
    d = sb - sa
    key = ((((a << _NODE_BITS) | b) << _SHIFT_BITS) | (d + _SHIFT_OFFSET)) << 1 | (ga != gb)
    return key, sa, ga


def _unpack(key: int) -> tuple[int, int, int, int]:
    negative = key & 1
    key >>= 1
    d = (key & ((1 << _SHIFT_BITS) - 1)) - _SHIFT_OFFSET
    key >>= _SHIFT_BITS
    b = key & ((1 << _NODE_BITS) - 1)
    a = key >> _NODE_BITS
    return a, b, d, -1 if negative else 1


class _Rows:
    """Rows as {(node, shift): sign} plus the pair-pattern counts over all rows."""

    def __init__(self, builder: GraphBuilder, rows: list[list[Term]]):
        self.builder = builder
        self.rows: list[dict[tuple[int, int], int]] = [{} for _ in rows]
        self.counts: dict[int, int] = {}
        self.heap: list[tuple[int, int, int]] = []
        for r, terms in enumerate(rows):
            for term in terms:
                self._insert(r, term.node, term.shift, term.sign, push=False)
        for key, count in self.counts.items():
            if count >= 2:
                self._push(key, count)

    def _push(self, key: int, count: int) -> None:
        a, b, d, _ = _unpack(key)
        depth = 1 + max(self.builder.depth(a), self.builder.depth(b))
        heapq.heappush(self.heap, (-count, depth, key))

    def _insert(self, r: int, node: int, shift: int, sign: int, push: bool = True) -> None:
        """Add a term to row r, merging with an equal (node, shift) term (x + x = x << 1)."""
        row = self.rows[r]
        while (node, shift) in row:
            other = row[(node, shift)]
            self._remove(r, node, shift)
            if other != sign:
                return  # x - x == 0
            shift += 1
        counts = self.counts
        for (node2, shift2), sign2 in row.items():
            key = _key(node, shift, sign, node2, shift2, sign2)[0]
            count = counts.get(key, 0) + 1
            counts[key] = count
            if push and count >= 2:
                self._push(key, count)
        row[(node, shift)] = sign

    def _remove(self, r: int, node: int, shift: int) -> None:
        row = self.rows[r]
        sign = row.pop((node, shift))
        counts = self.counts
        for (node2, shift2), sign2 in row.items():
            key = _key(node, shift, sign, node2, shift2, sign2)[0]
            counts[key] -= 1

    def pop_best(self) -> int | None:
        """The most frequent pattern still occurring at least twice (None if there is none)."""
        while self.heap:
            negative, _, key = heapq.heappop(self.heap)
            count = self.counts.get(key, 0)
            if count == -negative:
                return key
            if count >= 2:
                self._push(key, count)  # stale entry: re-queue with the current count
        return None

    def substitute(self, key: int) -> int:
        """Replace every non-overlapping occurrence of a pattern by one new node; returns how
        many occurrences were replaced (nothing is built if fewer than two remain)."""
        a, b, d, s = _unpack(key)
        found = []
        for r, row in enumerate(self.rows):
            used = set()
            for (node, shift), sign in list(row.items()):
                if node != a or (node, shift) in used:
                    continue
                partner = (b, shift + d)
                if partner in used or partner == (node, shift) or row.get(partner) != sign * s:
                    continue
                used.update(((node, shift), partner))
                found.append((r, shift, sign))
        if len(found) < 2:
            return 0
        low = min(0, d)  # x_a << (-d) + s * x_b when d < 0
        made = self.builder.add(Term(a, -low, 1), Term(b, d - low, s))
        for r, shift, sign in found:
            self._remove(r, a, shift)
            self._remove(r, b, shift + d)
            base = shift + low
            self._insert(r, made.node, base + made.shift, sign * made.sign)
        return len(found)

    def terms(self) -> list[list[Term]]:
        return [[Term(node, shift, sign) for (node, shift), sign in sorted(row.items())]
                for row in self.rows]


def eliminate_common_subexpressions(builder: GraphBuilder, rows: list[list[Term]]
                                    ) -> list[list[Term]]:
    """Share two-term patterns across ``rows`` (adders go into ``builder``); returns the
    remaining terms of every row, whose sums equal the original rows exactly."""
    state = _Rows(builder, rows)
    while True:
        key = state.pop_best()
        if key is None:
            break
        state.substitute(key)
    return state.terms()
