"""Common-subexpression elimination (CSE) across the rows of a constant integer matrix.

Every row is a sum of signed, shifted terms ``sign * (node << shift)``, initially the CSD
digits of its weights.  Two terms of one row form a *pattern* ``x_a + s * (x_b << d)`` once
their common shift and sign are factored out.  Greedy, as Hcub and da4ml do: repeatedly take
the pattern that occurs most often across all rows, build it with one adder, and substitute it
everywhere it occurs (non-overlapping); a pattern occurring ``c`` times saves ``c - 1`` adders.
Stop when no pattern occurs twice.  Ties go to the shallowest adder, then the smallest pattern
(by first node, second node, relative shift, sign), so the result is deterministic.

Bookkeeping, chosen so layers with hundreds of rows and columns take seconds:

* all terms live in two dense int8 tensors (``[node, row, bit]`` to find a pattern's
  occurrences, ``[row, node, bit]`` to list a row), so every step is a few numpy calls;
* input-input patterns have exact dense counts, decremented when digits are consumed (they
  never gain occurrences: substitutions only add terms of new nodes), and the best one is an
  ``argmax``;
* a pattern involving a created node is pushed on a heap with its count when its terms
  appear; later substitutions can only consume terms, so the pushed count stays an upper bound,
  and it is re-counted when it reaches the top (lazy greedy: exact, since nothing below an
  upper bound that is itself the true count can beat it).
"""

from __future__ import annotations

import heapq
from collections import Counter

import numpy as np

from hlsgen.decompose.builder import GraphBuilder, Term
from hlsgen.decompose.csd import csd_digits

__all__ = ["eliminate_common_subexpressions"]

_D_BITS = 8  # relative shifts in [-127, 127]
_D_OFFSET = 1 << (_D_BITS - 1)
_NODE_BITS = 32


def _pack(a, b, d, negative):
    """Pattern key (works on ints and int64 arrays); orders like (a, b, d, negative)."""
    return ((((a << _NODE_BITS) | b) << _D_BITS | (d + _D_OFFSET)) << 1) | negative


def _unpack(key: int) -> tuple[int, int, int, int]:
    s = -1 if key & 1 else 1
    key >>= 1
    d = (key & ((1 << _D_BITS) - 1)) - _D_OFFSET
    key >>= _D_BITS
    return key >> _NODE_BITS, key & ((1 << _NODE_BITS) - 1), d, s


def _canonical(node1, shift1, sign1, node2, shift2, sign2):
    """(first node, second node, d, sign product < 0), the first term being the one with the
    smaller (node, shift); vectorised."""
    swap = (node2 < node1) | ((node2 == node1) & (shift2 < shift1))
    a = np.where(swap, node2, node1)
    b = np.where(swap, node1, node2)
    d = np.where(swap, shift1 - shift2, shift2 - shift1)
    return a, b, d, (sign1 * sign2) < 0


class _Engine:
    def __init__(self, builder: GraphBuilder, matrix: np.ndarray):
        self.builder = builder
        rows, n = matrix.shape
        self.n, self.rows = n, rows
        table = {int(v): csd_digits(int(v)) for v in np.unique(matrix)}
        self.bits = 1 + max((pos for digits in table.values() for pos, _ in digits), default=0)
        self.width = self.bits + 2  # created terms sit at the lower shift of their pair
        self.capacity = n + max(16, n)
        self.by_node = np.zeros((self.capacity, rows, self.width), dtype=np.int8)
        self.by_row = np.zeros((rows, self.capacity, self.width), dtype=np.int8)
        for value, digits in table.items():
            r, c = np.nonzero(matrix == value)
            for pos, sign in digits:
                self.by_node[c, r, pos] = sign
                self.by_row[r, c, pos] = sign
        self.span = 2 * self.bits - 1
        self.counts = np.zeros(n * n * self.span * 2, dtype=np.int32)
        self.heap: list[tuple[int, int, int]] = []
        self.present: set[int] = set()  # created nodes that occur in some row
        self._count_input_pairs()

    # -- storage -------------------------------------------------------------------------------
    def _ensure(self, node: int, shift: int) -> None:
        capacity, width = self.capacity, self.width
        while node >= capacity:
            capacity *= 2
        while shift >= width:
            width += 4
        if (capacity, width) == (self.capacity, self.width):
            return
        by_node = np.zeros((capacity, self.rows, width), dtype=np.int8)
        by_node[: self.capacity, :, : self.width] = self.by_node
        self.by_node = by_node
        self.by_row = np.ascontiguousarray(by_node.transpose(1, 0, 2))
        self.capacity, self.width = capacity, width

    def _set(self, row: int, node: int, shift: int, sign: int) -> None:
        self.by_node[node, row, shift] = sign
        self.by_row[row, node, shift] = sign

    def _row_terms(self, row: int, inputs_only: bool = False):
        block = self.by_row[row, : self.n, : self.bits] if inputs_only else self.by_row[row]
        node, bit = np.nonzero(block)
        return node, bit, block[node, bit].astype(np.int64)

    # -- input-input patterns: exact dense counts ----------------------------------------------
    def _flat(self, a, b, d, negative):
        return ((a * self.n + b) * self.span + d + (self.bits - 1)) * 2 + negative

    def _count_input_pairs(self) -> None:
        cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        pending: list[np.ndarray] = []
        size = 0
        for row in range(self.rows):
            node, bit, sign = self._row_terms(row, inputs_only=True)
            t = len(node)
            if t >= 2:
                if t not in cache:
                    cache[t] = np.triu_indices(t, 1)
                i, j = cache[t]
                # nonzero() lists terms by (node, bit): i < j is already the canonical order
                pending.append(self._flat(node[i], node[j], bit[j] - bit[i],
                                          sign[i] * sign[j] < 0))
                size += len(i)
            if pending and (size > 4_000_000 or row == self.rows - 1):
                flat = np.concatenate(pending)
                self.counts += np.bincount(flat, minlength=self.counts.size).astype(np.int32)
                pending, size = [], 0

    def _best_input_pattern(self) -> tuple[int, int]:
        """(count, key) of the most frequent input-input pattern (first in key order)."""
        flat = int(np.argmax(self.counts))
        count = int(self.counts[flat])
        rest, negative = divmod(flat, 2)
        rest, d = divmod(rest, self.span)
        a, b = divmod(rest, self.n)
        return count, _pack(a, b, d - (self.bits - 1), negative)

    def _forget_input_pairs(self, row: int, gone: np.ndarray) -> None:
        """Decrement the counts of every input pair that held a just-removed digit.

        ``gone`` is [k, 3] (node, bit, sign) of the input digits removed from ``row``.
        """
        node, bit, sign = self._row_terms(row, inputs_only=True)  # what remains
        g_node, g_bit, g_sign = gone[:, 0], gone[:, 1], gone[:, 2]
        parts = []
        if len(node):
            k = len(gone)
            a, b, d, neg = _canonical(np.repeat(g_node, len(node)), np.repeat(g_bit, len(node)),
                                      np.repeat(g_sign, len(node)), np.tile(node, k),
                                      np.tile(bit, k), np.tile(sign, k))
            parts.append(self._flat(a, b, d, neg))
        if len(gone) > 1:
            i, j = np.triu_indices(len(gone), 1)
            a, b, d, neg = _canonical(g_node[i], g_bit[i], g_sign[i], g_node[j], g_bit[j],
                                      g_sign[j])
            parts.append(self._flat(a, b, d, neg))
        if parts:
            np.subtract.at(self.counts, np.concatenate(parts), 1)

    # -- the greedy loop -----------------------------------------------------------------------
    def _push(self, key: int, count: int) -> None:
        a, b, _, _ = _unpack(key)
        depth = 1 + max(self.builder.depth(a), self.builder.depth(b))
        heapq.heappush(self.heap, (-count, depth, key))

    def _best_created_pattern(self):
        """(count, depth, key, occurrences) of the best pattern with a created node, or None."""
        while self.heap:
            negative, depth, key = self.heap[0]
            found = self._occurrences(*_unpack(key))
            if len(found[0]) == -negative:
                return -negative, depth, key, found
            heapq.heappop(self.heap)
            if len(found[0]) >= 2:
                self._push(key, len(found[0]))
        return None

    def run(self) -> None:
        while True:
            count, key = self._best_input_pattern()
            created = self._best_created_pattern()
            # input patterns have depth 1, the shallowest possible: they win ties
            if created is not None and created[0] > count:
                heapq.heappop(self.heap)
                found = created[3]
                key = created[2]
            elif count >= 2:
                found = self._occurrences(*_unpack(key))
            else:
                return
            if len(found[0]) < 2:  # counted occurrences overlapped: unusable
                a, b, d, s = _unpack(key)
                if b < self.n:
                    self.counts[self._flat(a, b, d, s < 0)] = 0
                continue
            self._substitute(*_unpack(key), found)

    # -- occurrences and substitution ----------------------------------------------------------
    def _occurrences(self, a: int, b: int, d: int, s: int):
        """Rows, first-term shifts and first-term signs of every non-overlapping occurrence."""
        lo, hi = max(0, -d), min(self.width, self.width - d)
        first = self.by_node[a, :, lo:hi]
        second = self.by_node[b, :, lo + d:hi + d]
        rows, offsets = np.nonzero((first != 0) & (second == s * first))
        signs = first[rows, offsets].astype(np.int64)
        shifts = offsets + lo
        if a == b and len(rows) > 1:  # (x << t) +- (x << t+d) chains: t, t+d, t+2d, ...
            keep, used = [], set()
            for i, (r, t) in enumerate(zip(rows.tolist(), shifts.tolist())):
                if (r, t) not in used and (r, t + d) not in used:
                    used.update(((r, t), (r, t + d)))
                    keep.append(i)
            rows, shifts, signs = rows[keep], shifts[keep], signs[keep]
        return rows, shifts, signs

    def _substitute(self, a: int, b: int, d: int, s: int, found) -> None:
        rows, shifts, signs = found
        low = min(0, d)
        made = self.builder.add(Term(a, -low, 1), Term(b, d - low, s))
        fresh = made.node not in self.present
        self._ensure(made.node, int(shifts.max()) + low + made.shift + 1)
        removed: dict[int, list[tuple[int, int, int]]] = {}
        for r, t, g in zip(rows.tolist(), shifts.tolist(), signs.tolist()):
            for node, shift, sign in ((a, t, g), (b, t + d, g * s)):
                self._set(r, node, shift, 0)
                if node < self.n:
                    removed.setdefault(r, []).append((node, shift, sign))
        added: dict[int, list[tuple[int, int, int]]] = {}
        for r, t, g in zip(rows.tolist(), shifts.tolist(), signs.tolist()):
            term = self._insert(r, made.node, t + low + made.shift, g * made.sign)
            if term is not None:
                added.setdefault(r, []).append(term)
                fresh = fresh and term[1] == t + low + made.shift  # no merge happened
        self.present.add(made.node)
        for r, gone in removed.items():
            self._forget_input_pairs(r, np.array(gone, dtype=np.int64))
        self._push_new_patterns(added, fresh)

    def _insert(self, row: int, node: int, shift: int, sign: int):
        """Add a created-node term, merging x + x = x << 1 and x - x = 0; returns the term
        finally added (None if it cancelled)."""
        while True:
            self._ensure(node, shift + 1)
            other = int(self.by_row[row, node, shift])
            if other == 0:
                self._set(row, node, shift, sign)
                return (node, shift, sign)
            self._set(row, node, shift, 0)
            if other != sign:
                return None
            shift += 1

    def _push_new_patterns(self, added, fresh: bool) -> None:
        """Push every pattern formed by a just-added term with its count.

        A fresh node occurs only in these rows, so pairs counted here bound each pattern's
        count from above; otherwise (the adder existed, or a merge made the term) every
        pattern is counted over all rows.
        """
        local: Counter[int] = Counter()
        for row, terms in added.items():
            node, bit, sign = self._row_terms(row)
            new = np.array(terms, dtype=np.int64)
            for index, (tn, ts, tg) in enumerate(terms):
                # skip the term itself and earlier new terms (that pair was counted there)
                skip = np.zeros(len(node), dtype=bool)
                for en, es, _ in new[: index + 1].tolist():
                    skip |= (node == en) & (bit == es)
                keep = ~skip
                if not keep.any():
                    continue
                a, b, d, neg = _canonical(np.full(keep.sum(), tn), np.full(keep.sum(), ts),
                                          np.full(keep.sum(), tg), node[keep], bit[keep],
                                          sign[keep])
                local.update(_pack(a, b, d, neg.astype(np.int64)).tolist())
        for key, count in local.items():
            if not fresh:
                count = len(self._occurrences(*_unpack(key))[0])
            if count >= 2:
                self._push(key, count)

    def remaining(self) -> list[list[Term]]:
        result = []
        for row in range(self.rows):
            node, bit, sign = self._row_terms(row)
            result.append([Term(int(n), int(t), int(g)) for n, t, g in zip(node, bit, sign)])
        return result


def eliminate_common_subexpressions(builder: GraphBuilder, matrix: np.ndarray
                                    ) -> list[list[Term]]:
    """Share two-term patterns across the rows of an integer matrix [rows, builder.n_inputs]
    (adders go into ``builder``, which must not hold adders yet).  Returns the remaining terms
    of every row; each row's terms sum to that row of ``matrix`` exactly."""
    if builder.adders:
        raise ValueError("eliminate_common_subexpressions needs a fresh builder")
    engine = _Engine(builder, np.asarray(matrix, dtype=np.int64))
    engine.run()
    return engine.remaining()
