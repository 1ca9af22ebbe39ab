"""Common-subexpression elimination (CSE) across the rows of a constant integer matrix.

Every row is a sum of signed, shifted terms ``sign * (node << shift)``, initially the CSD
digits of its weights.  Two terms of one row form a *pattern* ``x_a + s * (x_b << d)`` once
their common shift and sign are factored out.  Greedy, as Hcub and da4ml do: repeatedly take
the pattern that occurs most often across all rows, build it with one adder, and substitute it
everywhere it occurs (non-overlapping); a pattern occurring ``c`` times saves ``c - 1`` adders.
Stop when no pattern occurs twice.  Ties go to the pattern summing the most input digits
(its two nodes' digits together: a pattern of created nodes before one of two inputs), then to
a fixed :class:`TieBreak` rule, so the result is deterministic.  Growing the biggest shared
sums first measured 1.5-2 % fewer adders on square int8 layers than taking the shallowest
adder first, for about one more level of adder depth.

Bookkeeping, chosen so layers with hundreds of rows and columns take seconds:

* input digits live in two dense int8 tensors (``[input, row, bit]`` to find a pattern's
  occurrences, ``[row, input, bit]`` to list a row) and terms of created nodes in small
  dicts; pairs are enumerated and keyed with numpy, a few calls per substitution;
* input-input patterns have exact dense counts, decremented when digits are consumed (they
  never gain occurrences: substitutions only add terms of new nodes), and the best one is an
  ``argmax``;
* a pattern involving a created node is counted when its terms appear (exact then: the
  node is new) and every pair broken up later is tallied in a C-backed ``Counter`` fed with
  vectorised keys, so its count is always known; queued patterns wait in per-count lists
  and are re-filed when found stale, so only the top count level is ever sorted.
"""

from __future__ import annotations

import enum
import heapq
from collections import Counter
from itertools import chain

import numpy as np

from hlsgen.decompose.builder import GraphBuilder, Term
from hlsgen.decompose.csd import csd_digits
from hlsgen.decompose.patterns import canonical, pack, scramble, unpack

__all__ = ["eliminate_common_subexpressions", "TieBreak"]


class TieBreak(enum.Enum):
    """Order among equally frequent (and equally deep) patterns."""

    KEY = "key"  # smallest (first node, second node, shift, sign)
    FAR = "far"  # widest relative shift first
    SCRAMBLED = "scrambled"  # a fixed pseudo-random order (a hash of the key)


_SHIFT_BITS = 8  # a term's shift is below 256
_LOST_LIMIT = 2_000_000  # entries in the lost-pairs tally before it is pruned
_RECENT_LIMIT = 2048  # newly tracked keys checked by np.isin before a merge into ``known``


class _Engine:
    def __init__(self, builder: GraphBuilder, matrix: np.ndarray, tie: TieBreak):
        self.builder = builder
        self.digits: dict[int, int] = {}  # created node -> input digits it sums
        self.tie = tie
        rows, n = matrix.shape
        self.n, self.rows = n, rows
        table = {int(v): csd_digits(int(v)) for v in np.unique(matrix)}
        self.bits = 1 + max((pos for digits in table.values() for pos, _ in digits), default=0)
        self.by_node = np.zeros((n, rows, self.bits), dtype=np.int8)  # input digits
        self.by_row = np.zeros((rows, n, self.bits), dtype=np.int8)  # the same, row-major
        for value, digits in table.items():
            r, c = np.nonzero(matrix == value)
            for pos, sign in digits:
                self.by_node[c, r, pos] = sign
                self.by_row[r, c, pos] = sign
        # terms of created nodes: per row {node << _SHIFT_BITS | shift: sign} (int keys, so a
        # row converts to arrays at C speed) and per node {row: {shift: sign}}
        self.row_created: list[dict[int, int]] = [{} for _ in range(rows)]
        self.node_created: dict[int, dict[int, dict[int, int]]] = {}
        self.span = 2 * self.bits - 1
        self.counts = np.zeros(n * n * self.span * 2, dtype=np.int32)  # input-input pairs
        # A pattern with a created node is tracked while it occurs at least twice: its count
        # is tracked[key] - lost[key], lost tallying every pair broken up (pruned now and
        # then to the tracked keys, so memory stays bounded).
        self.tracked: dict[int, int] = {}
        self.lost: Counter[int] = Counter()
        self.lost_limit = _LOST_LIMIT  # tally size that triggers the next prune
        self.known = np.zeros(0, dtype=np.int64)  # sorted keys tracked so far (a superset)
        self.recent: list[int] = []  # keys tracked since ``known`` was last rebuilt
        self.levels: dict[int, list[int]] = {}  # queued created patterns by (stale) count
        self.ready: list[tuple[int, int, int]] = []  # (-digits, tie, key), all at ready_level
        self.ready_level = 0
        self._count_input_pairs()

    # -- storage -------------------------------------------------------------------------------
    def _term(self, row: int, node: int, shift: int) -> int:
        """Sign of the term (node << shift) in a row, 0 if absent."""
        if node < self.n:
            return int(self.by_row[row, node, shift]) if 0 <= shift < self.bits else 0
        return self.row_created[row].get(node << _SHIFT_BITS | shift, 0)

    def _set(self, row: int, node: int, shift: int, sign: int) -> None:
        if node < self.n:
            self.by_node[node, row, shift] = sign
            self.by_row[row, node, shift] = sign
            return
        per_row = self.node_created.setdefault(node, {}).setdefault(row, {})
        if sign:
            self.row_created[row][node << _SHIFT_BITS | shift] = sign
            per_row[shift] = sign
        else:
            del self.row_created[row][node << _SHIFT_BITS | shift]
            del per_row[shift]
            if not per_row:
                del self.node_created[node][row]

    def _created_arrays(self, rows: list[int]):
        """(row position, node, shift, sign) arrays of the created-node terms of ``rows``."""
        dicts = [self.row_created[row] for row in rows]
        sizes = np.array([len(d) for d in dicts], dtype=np.int64)
        total = int(sizes.sum())
        packed = np.fromiter(chain.from_iterable(dicts), dtype=np.int64, count=total)
        sign = np.fromiter(chain.from_iterable(d.values() for d in dicts), dtype=np.int64,
                           count=total)
        where = np.repeat(np.arange(len(rows)), sizes)
        return where, packed >> _SHIFT_BITS, packed & ((1 << _SHIFT_BITS) - 1), sign

    def _row_terms(self, row: int, inputs_only: bool = False):
        """(node, shift, sign) int64 arrays of a row's terms, inputs first."""
        node, bit = np.nonzero(self.by_row[row])
        sign = self.by_row[row, node, bit].astype(np.int64)
        if inputs_only or not self.row_created[row]:
            return node, bit, sign
        _, c_node, c_bit, c_sign = self._created_arrays([row])
        return (np.concatenate([node, c_node]), np.concatenate([bit, c_bit]),
                np.concatenate([sign, c_sign]))

    # -- pattern counts ------------------------------------------------------------------------
    def _flat(self, a, b, d, negative):
        """Index of an input-input pattern in ``counts``."""
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

    def _gather(self, rows: list[int]):
        """Every term of the given rows: (row position in ``rows``, node, shift, sign) arrays,
        grouped by row, plus each row's [start, end) segment."""
        where, node, bit = np.nonzero(self.by_row[rows])
        sign = self.by_row[np.asarray(rows)[where], node, bit].astype(np.int64)
        c_where, c_node, c_bit, c_sign = self._created_arrays(rows)
        if len(c_where):
            where = np.concatenate([where, c_where])
            node = np.concatenate([node, c_node])
            bit = np.concatenate([bit, c_bit])
            sign = np.concatenate([sign, c_sign])
            order = np.argsort(where, kind="stable")
            where, node, bit, sign = where[order], node[order], bit[order], sign[order]
        ends = np.searchsorted(where, np.arange(len(rows)), side="right")
        starts = np.concatenate([[0], ends[:-1]])
        return where, node, bit, sign, starts, ends

    def _pair_keys(self, marked: dict[int, list[tuple[int, int, int]]]):
        """Canonical (a, b, d, negative) of every pair in the given rows that holds a marked
        term (each such pair once)."""
        rows = list(marked)
        where, node, bit, sign, starts, ends = self._gather(rows)
        is_marked = np.zeros(len(node), dtype=bool)
        for i, row in enumerate(rows):
            seg = slice(starts[i], ends[i])
            for tn, ts, _ in marked[row]:
                is_marked[seg] |= (node[seg] == tn) & (bit[seg] == ts)
        source = np.flatnonzero(is_marked)
        lengths = ends[where[source]] - starts[where[source]]
        total = int(lengths.sum())
        # ragged arange: every position q of the source's row, for every source p
        p = np.repeat(source, lengths)
        q = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(
            starts[where[source]], lengths)
        keep = (q != p) & (~is_marked[q] | (q > p))
        p, q = p[keep], q[keep]
        return canonical(node[p], bit[p], sign[p], node[q], bit[q], sign[q])

    def _forget(self, removals: dict[int, list[tuple[int, int, int]]]) -> None:
        """Count as lost every pair holding a term about to be removed (still stored)."""
        a, b, d, neg = self._pair_keys(removals)
        inputs = b < self.n  # a <= b, so both are inputs
        if inputs.any():
            np.subtract.at(self.counts, self._flat(a[inputs], b[inputs], d[inputs],
                                                    neg[inputs]), 1)
        created = ~inputs
        if created.any():
            keys = pack(a[created], b[created], d[created], neg[created].astype(np.int64))
            self.lost.update(keys[self._maybe_tracked(keys)].tolist())
            if len(self.lost) > self.lost_limit:
                self._prune_lost()

    def _prune_lost(self) -> None:
        """Keep the lost tallies of tracked keys only.  The next prune waits until the tally
        has doubled: when the tracked keys alone hold more than ``_LOST_LIMIT`` tallies, a
        fixed limit would rebuild the tally on every substitution (quadratic; a 160 x 1440
        lcc factor ran for hours)."""
        self.lost = Counter({key: self.lost[key] for key in self.tracked if key in self.lost})
        self.lost_limit = max(_LOST_LIMIT, 2 * len(self.lost))

    def _learn(self, additions: dict[int, list[tuple[int, int, int]]], fresh: bool) -> None:
        """Count the pairs formed by created-node terms just added (stored), and queue them.

        When the node is new (``fresh``) these pairs are all its patterns' occurrences, so
        the local counts are the counts; otherwise each pattern's running total is used.
        """
        if not additions:
            return
        a, b, d, neg = self._pair_keys(additions)
        unique, local = np.unique(pack(a, b, d, neg.astype(np.int64)), return_counts=True)
        if fresh:
            pairs = zip(unique[local >= 2].tolist(), local[local >= 2].tolist())
        else:
            pairs = ((key, len(self._occurrences(*unpack(key)))) for key in unique.tolist())
        for key, count in pairs:
            if count >= 2:
                self.tracked[key] = count + self.lost.get(key, 0)
                self.recent.append(key)
                self._push(key, count)
            else:
                self.tracked.pop(key, None)

    def _maybe_tracked(self, keys: np.ndarray) -> np.ndarray:
        """Mask of the keys that may be tracked (a superset: untracked ones only cost time).

        Most broken-up pairs belong to patterns that never occurred twice; filtering them in
        numpy keeps them out of the Python-level tally.
        """
        if len(self.recent) > _RECENT_LIMIT:
            merged = np.concatenate([self.known, np.sort(np.array(self.recent, dtype=np.int64))])
            self.known = np.sort(merged, kind="stable")  # two sorted runs: a linear merge
            self.recent = []
        mask = np.zeros(len(keys), dtype=bool)
        for table in (self.known, np.sort(np.array(self.recent, dtype=np.int64))):
            if len(table):
                at = np.minimum(np.searchsorted(table, keys), len(table) - 1)
                mask |= table[at] == keys
        return mask

    def _count(self, key: int) -> int:
        base = self.tracked.get(key)
        count = 0 if base is None else base - self.lost.get(key, 0)
        if count < 2:
            self.tracked.pop(key, None)  # can only shrink from here: stop tracking
        return count

    # -- the greedy loop -----------------------------------------------------------------------
    def _digits(self, node: int) -> int:
        """Input digits a node sums (1 for an input)."""
        return self.digits.get(node, 1)

    def _push(self, key: int, count: int) -> None:
        self.levels.setdefault(count, []).append(key)

    def _best_input_pattern(self) -> tuple[int, int]:
        """(count, key) of the most frequent input-input pattern, ties broken by ``tie``."""
        flat = int(np.argmax(self.counts))
        count = int(self.counts[flat])
        if self.tie is not TieBreak.KEY and count >= 2:
            tied = np.flatnonzero(self.counts == count)
            if self.tie is TieBreak.FAR:
                rank = -np.abs((tied >> 1) % self.span - (self.bits - 1))
            else:
                rank = scramble(tied)
            flat = int(tied[np.argmin(rank)])
        rest, negative = divmod(flat, 2)
        rest, d = divmod(rest, self.span)
        a, b = divmod(rest, self.n)
        return count, pack(a, b, d - (self.bits - 1), negative)

    def _tie_rank(self, key: int, d: int) -> int:
        if self.tie is TieBreak.FAR:
            return -abs(d)
        if self.tie is TieBreak.SCRAMBLED:
            return int(scramble(np.array([key], dtype=np.uint64))[0])
        return 0

    def _best_created_pattern(self) -> tuple[int, int]:
        """(count, key) of the most frequent pattern with a created node ((0, -1) if none).

        Queued keys wait in ``levels[count]`` with the count they had when queued (an upper
        bound); the top level is checked key by key, keys still at that count go to the
        ``ready`` heap ordered by (most input digits summed, tie rank, key), the others drop to
        their level.
        """
        while True:
            if not self.ready:
                self.ready_level = 0
            while self.levels and not self.levels[max(self.levels)]:
                del self.levels[max(self.levels)]
            top = max(self.levels, default=0)
            if top >= 2 and top >= self.ready_level:
                if top > self.ready_level:
                    for _, _, key in self.ready:
                        self._push(key, self.ready_level)
                    self.ready = []
                for key in self.levels.pop(top):
                    count = self._count(key)
                    if count == top:
                        a, b, d, _ = unpack(key)
                        digits = self._digits(a) + self._digits(b)
                        heapq.heappush(self.ready, (-digits, self._tie_rank(key, d), key))
                    elif count >= 2:
                        self._push(key, count)
                self.ready_level = top if self.ready else 0
                continue
            if not self.ready:
                return 0, -1
            key = self.ready[0][2]
            count = self._count(key)
            if count == self.ready_level:
                return count, key
            heapq.heappop(self.ready)
            if count >= 2:
                self._push(key, count)

    def run(self) -> None:
        while True:
            count, key = self._best_input_pattern()
            created_count, created_key = self._best_created_pattern()
            # a created pattern sums at least three input digits, an input pattern two: at
            # equal counts the created one goes first
            if created_count >= max(count, 2):
                heapq.heappop(self.ready)
                key = created_key
            elif count < 2:
                return
            a, b, d, s = unpack(key)
            found = self._occurrences(a, b, d, s)
            if len(found) < 2:  # the counted pairs overlap (x<<t, x<<t+d, x<<t+2d): unusable
                if b < self.n:
                    self.counts[self._flat(a, b, d, s < 0)] = 0
                continue
            self._substitute(a, b, d, s, found)

    # -- occurrences and substitution ----------------------------------------------------------
    def _occurrences(self, a: int, b: int, d: int, s: int) -> list[tuple[int, int, int]]:
        """(row, first-term shift, first-term sign) of every non-overlapping occurrence."""
        if b >= self.n:
            found = []
            for row, shifts in sorted(self.node_created.get(b, {}).items()):
                found.extend(sorted((row, shift - d, sign * s) for shift, sign in shifts.items()
                                    if self._term(row, a, shift - d) == sign * s))
        else:
            lo, hi = max(0, -d), min(self.bits, self.bits - d)
            first = self.by_node[a, :, lo:hi]
            second = self.by_node[b, :, lo + d:hi + d]
            rows, offsets = np.nonzero((first != 0) & (second == s * first))
            found = list(zip(rows.tolist(), (offsets + lo).tolist(),
                             first[rows, offsets].tolist()))
        return _drop_overlaps(found, d) if a == b else found

    def _substitute(self, a: int, b: int, d: int, s: int, found) -> None:
        low = min(0, d)
        made = self.builder.add(Term(a, -low, 1), Term(b, d - low, s))
        self.digits.setdefault(made.node, self._digits(a) + self._digits(b))
        fresh = made.node not in self.node_created
        removed: dict[int, list[tuple[int, int, int]]] = {}
        for row, t, sign in found:
            removed.setdefault(row, []).extend(((a, t, sign), (b, t + d, sign * s)))
        self._forget(removed)
        for row, terms in removed.items():
            for node, shift, _ in terms:
                self._set(row, node, shift, 0)
        added: dict[int, list[tuple[int, int, int]]] = {}
        for row, t, sign in found:
            shift = t + low + made.shift
            fresh = self._insert(row, made.node, shift, sign * made.sign, added) and fresh
        self._learn(added, fresh)

    def _insert(self, row: int, node: int, shift: int, sign: int, added) -> bool:
        """Add a created-node term, merging x + x = x << 1 and x - x = 0.  Returns False if
        a merge happened (the node's pattern counts then need their running totals)."""
        merged = False
        while True:
            other = self._term(row, node, shift)
            if other == 0:
                self._set(row, node, shift, sign)
                added.setdefault(row, []).append((node, shift, sign))
                return not merged
            merged = True
            pending = added.get(row, [])
            if (node, shift, other) in pending:  # added in this very step: not counted yet
                pending.remove((node, shift, other))
            else:
                self._forget({row: [(node, shift, other)]})
            self._set(row, node, shift, 0)
            if other != sign:
                return False
            shift += 1

    def remaining(self) -> list[list[Term]]:
        result = []
        for row in range(self.rows):
            node, bit, sign = self._row_terms(row)
            order = np.lexsort((bit, node))
            result.append([Term(int(node[i]), int(bit[i]), int(sign[i])) for i in order])
        return result


def _drop_overlaps(found: list[tuple[int, int, int]], d: int) -> list[tuple[int, int, int]]:
    """(x << t) +- (x << t+d) can chain (t, t+d, t+2d, ...): keep disjoint occurrences only."""
    kept, used = [], set()
    for row, t, sign in found:
        if (row, t) not in used and (row, t + d) not in used:
            used.update(((row, t), (row, t + d)))
            kept.append((row, t, sign))
    return kept


def eliminate_common_subexpressions(builder: GraphBuilder, matrix: np.ndarray,
                                    tie: TieBreak = TieBreak.KEY) -> list[list[Term]]:
    """Share two-term patterns across the rows of an integer matrix [rows, builder.n_inputs]
    (adders go into ``builder``, which must not hold adders yet).  Returns the remaining terms
    of every row; each row's terms sum to that row of ``matrix`` exactly.

    ``tie`` picks among equally frequent patterns (after the most input digits summed): the
    smallest key, the widest relative shift, or a fixed pseudo-random order.  Each is an equally
    greedy path; the exact method tries several on small matrices and keeps the best.
    """
    if builder.adders:
        raise ValueError("eliminate_common_subexpressions needs a fresh builder")
    engine = _Engine(builder, np.asarray(matrix, dtype=np.int64), tie)
    engine.run()
    return engine.remaining()
