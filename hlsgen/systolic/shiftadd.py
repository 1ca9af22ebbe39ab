"""Term-serial shift-add PEs for the whole-network array (``--pe shiftadd``, issue 13).

A weight is the sum of its canonical signed digits (CSD: no two adjacent non-zero digits), so
an int8 weight ``w`` is ``sum_t sign_t * 2**shift_t`` over at most 4 terms.  A step whose
weights have at most ``T`` non-zero digits runs one array beat every ``T`` cycles; in each cycle
of a beat every PE adds one term ``sign * (x << shift)`` of its stationary weight
(``docs/systolic.md``, "Shift-add PEs").  This module is the one place the terms are made:

- :func:`csd_terms` -- the terms of one weight, most significant first;
- :func:`step_terms` -- ``T`` of a step (the most terms over the weights it uses; 1 for steps
  that bypass the array);
- :func:`term_rom` -- per array row, the ROM words the Verilog reads: word ``(tile, t)`` holds
  term ``t`` of every PE of the row for weight tile ``tile`` (:data:`TERM_BITS` per PE:
  valid, negative, 3-bit shift), so the ROM itself picks the term and a PE only shifts and adds.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["TERM_BITS", "MAX_TERMS", "csd_terms", "step_terms", "term_rom", "term_index_bits",
           "booth_function"]

TERM_BITS = 5  # {valid, negative, shift[2:0]} per PE and term
MAX_TERMS = 4  # an int8 weight has at most 4 non-zero CSD digits


@lru_cache(maxsize=None)
def csd_terms(weight: int) -> tuple[tuple[int, int], ...]:
    """``((sign, shift), ...)`` with ``weight == sum(sign << shift)``, most significant first.

    Non-adjacent form: the fewest non-zero signed digits; for ``-128 <= weight <= 127`` every
    shift is at most 7 and every partial sum taken from the top stays within ``[-128, 128]``
    (so a PE's running sum never exceeds the DSP design's product bound)."""
    value, shift, digits = int(weight), 0, []
    while value:
        if value & 1:
            digit = 2 - (value & 3)  # +1 if value = 1 (mod 4), -1 if value = 3 (mod 4)
            digits.append((digit, shift))
            value -= digit
        value >>= 1
        shift += 1
    return tuple(reversed(digits))


_COUNTS = np.array([len(csd_terms(w)) for w in range(-128, 128)], dtype=np.int64)


def term_count(weights) -> int:
    """The most non-zero CSD digits over ``weights`` (0 for none or all zero)."""
    values = np.asarray(weights, dtype=np.int64).ravel()
    return int(_COUNTS[values + 128].max()) if values.size else 0


def step_terms(step) -> int:
    """``T`` of a step: cycles per beat.  Steps that do not use the array take 1."""
    from hlsgen.systolic.network import Op

    if step.op not in (Op.MAC, Op.DW):
        return 1
    return max(1, term_count([w for row in step.words for word in row for w in word]))


def term_index_bits(terms: int) -> int:
    """Address bits that pick a term inside a tile (0 when every step has ``T = 1``)."""
    return max(0, (terms - 1).bit_length())


def _code(sign: int, shift: int) -> int:
    return (1 << 4) | ((1 if sign < 0 else 0) << 3) | shift


def term_rom(plan) -> list[list[tuple[int, int]]]:
    """Per row: ``(address, word)`` of every stored word; address ``tile << b | t`` with
    ``b`` = :func:`term_index_bits` of the network's largest ``T``; PE ``c``'s code at bits
    ``[5c + 4 : 5c]``.  Every term ``t < T`` of a step's tile is stored (0 past a weight's
    digits); a step never reads ``t >= T``."""
    from hlsgen.systolic.network import Op

    rows = plan.shape.rows
    bits = term_index_bits(max(plan.step_terms))
    roms: list[list[tuple[int, int]]] = [[] for _ in range(rows)]
    for step, terms in zip(plan.steps, plan.step_terms):
        if step.op not in (Op.MAC, Op.DW):
            continue
        for r in range(rows):
            for local, word in enumerate(step.words[r]):
                digits = [csd_terms(int(w)) for w in word]
                for t in range(terms):
                    value = 0
                    for c, d in enumerate(digits):
                        if t < len(d):
                            value |= _code(*d[t]) << (TERM_BITS * c)
                    roms[r].append((((step.tile_base + local) << bits) | t, value))
    return roms


def booth_function(name: str, a_bits: int, m_bits: int, p_bits: int) -> str:
    """Verilog function ``name(a, m)``: signed ``a`` times unsigned ``m`` with no ``*``.

    Radix-4 Booth: digit ``d`` of ``m`` (-2 .. 2, from bits ``2d+1 .. 2d-1``) selects 0, a or
    2a, inverted when negative; each partial product keeps its own width (``a_bits + 2``)
    and the negative digits' ``+1`` bits form one more operand, so a balanced tree of
    exact-width adders sums ``m_bits / 2 + 2`` operands (about half the LUTs of a loop of
    full-width adds)."""
    digits = m_bits // 2 + 1
    w = a_bits + 2
    lines = [f"    function signed [{p_bits - 1}:0] {name}(input signed [{a_bits - 1}:0] a, "
             f"input [{m_bits - 1}:0] m);",
             f"        reg [{m_bits + 2}:0] bits;",
             f"        reg [{digits - 1}:0] neg;"]
    lines += [f"        reg signed [{w - 1}:0] pp{d};" for d in range(digits)]
    body = ["            bits = {2'b00, m, 1'b0};"]
    for d in range(digits):
        b = f"bits[{2 * d + 2}:{2 * d}]"
        body += [f"            neg[{d}] = {b} == 3'b100 || {b} == 3'b101 || {b} == 3'b110;",
                 f"            pp{d} = (({b} == 3'b001 || {b} == 3'b010 || {b} == 3'b101 "
                 f"|| {b} == 3'b110) ? $signed(a) : ({b} == 3'b011 || {b} == 3'b100) ? "
                 f"$signed(a) <<< 1 : {w}'sd0) ^ $signed({{{w}{{neg[{d}]}}}});"]
    ones = ", ".join(f"1'b0, neg[{d}]" for d in reversed(range(digits)))
    terms = [(f"pp{d}", 2 * d, w) for d in range(digits)]
    terms.append((f"{{2'b00, {ones}}}", 0, 2 * digits + 2))  # non-negative: top bits 0
    decls, count = [], 0
    while len(terms) > 1:
        merged = []
        for (x, sx, wx), (y, sy, wy) in zip(terms[0::2], terms[1::2]):
            lo = min(sx, sy)
            width = max(sx + wx, sy + wy) + 1 - lo
            decls.append(f"        reg signed [{width - 1}:0] t{count};")
            body.append(f"            t{count} = ($signed({x}) <<< {sx - lo}) + "
                        f"($signed({y}) <<< {sy - lo});")
            merged.append((f"t{count}", lo, width))
            count += 1
        terms = merged + (terms[-1:] if len(terms) % 2 else [])
    top, shift, _ = terms[0]
    body.append(f"            {name} = $signed({top}) <<< {shift};")
    return "\n".join(lines + decls + ["        begin"] + body + ["        end",
                                                               "    endfunction"])
