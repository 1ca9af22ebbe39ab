"""Canonical signed digits and the per-weight roundings (po2, terms:K)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hlsgen.decompose.csd import csd_digits, csd_weight, nearest_po2, round_to_terms


def _brute_min_weight(value: int) -> int:
    # fewest signed powers of two summing to value, by breadth-first search over residuals
    frontier, weight = {value}, 0
    while 0 not in frontier:
        weight += 1
        frontier = {r - s * (1 << p) for r in frontier for p in range(12) for s in (1, -1)}
    return weight


@given(st.integers(-(1 << 70), 1 << 70))
def test_csd_digits_sum_to_value_and_are_non_adjacent(value):
    digits = csd_digits(value)
    assert sum(sign << pos for pos, sign in digits) == value
    positions = [pos for pos, _ in digits]
    assert positions == sorted(positions)
    assert all(b - a >= 2 for a, b in zip(positions, positions[1:]))
    assert all(sign in (1, -1) for _, sign in digits)


def test_csd_weight_is_minimal():
    for value in range(-300, 301):
        assert csd_weight(value) == _brute_min_weight(value), value


def test_known_digits():
    assert csd_digits(0) == []
    assert csd_digits(7) == [(0, -1), (3, 1)]
    assert csd_digits(-3) == [(0, 1), (2, -1)]
    assert csd_digits(96) == [(5, -1), (7, 1)]


def test_nearest_po2():
    assert [nearest_po2(v) for v in (0, 1, 2, 3, 5, 6, 7, -3, -12, 127)] == [
        0, 1, 2, 4, 4, 8, 8, -4, -16, 128]
    for value in range(-1000, 1001):
        p = nearest_po2(value)
        best = min(abs(value - s * (1 << k)) for k in range(12) for s in (1, -1))
        assert abs(value - p) == min(best, abs(value))


@given(st.integers(-5000, 5000), st.integers(1, 4))
def test_round_to_terms(value, k):
    rounded = round_to_terms(value, k)
    assert csd_weight(rounded) <= k
    if csd_weight(value) <= k:
        assert rounded == value
    # never worse than truncating the CSD to its k most significant digits
    top = sum(s << p for p, s in csd_digits(value)[-k:])
    assert abs(value - rounded) <= abs(value - top)
