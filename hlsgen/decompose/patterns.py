"""Pattern keys of common-subexpression elimination: a pattern ``x_a + s * (x_b << d)`` of two
terms packed into one integer (scalar or int64 array), its canonical order, and a fixed
pseudo-random order for tie-breaks."""

from __future__ import annotations

import numpy as np

__all__ = ["pack", "unpack", "canonical", "scramble"]


def scramble(values: np.ndarray) -> np.ndarray:
    """A fixed bijective mix of uint64 values (splitmix64 finaliser): deterministic disorder."""
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


_D_BITS = 8  # relative shifts in [-127, 127]
_D_OFFSET = 1 << (_D_BITS - 1)
_NODE_BITS = 32


def pack(a, b, d, negative):
    """Pattern key (works on ints and int64 arrays); orders like (a, b, d, negative)."""
    return ((((a << _NODE_BITS) | b) << _D_BITS | (d + _D_OFFSET)) << 1) | negative


def unpack(key: int) -> tuple[int, int, int, int]:
    s = -1 if key & 1 else 1
    key >>= 1
    d = (key & ((1 << _D_BITS) - 1)) - _D_OFFSET
    key >>= _D_BITS
    return key >> _NODE_BITS, key & ((1 << _NODE_BITS) - 1), d, s


def canonical(node1, shift1, sign1, node2, shift2, sign2):
    """(first node, second node, d, sign product < 0), the first term being the one with the
    smaller (node, shift); vectorised."""
    swap = (node2 < node1) | ((node2 == node1) & (shift2 < shift1))
    a = np.where(swap, node2, node1)
    b = np.where(swap, node1, node2)
    d = np.where(swap, shift1 - shift2, shift2 - shift1)
    return a, b, d, (sign1 * sign2) < 0
