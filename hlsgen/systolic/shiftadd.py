"""Term-serial shift-add PEs for the whole-network array (``--pe shiftadd``, issue 13).

A weight is the sum of its canonical signed digits (CSD: no two adjacent non-zero digits), so
an int8 weight ``w`` is ``sum_t sign_t * 2**shift_t`` over at most 4 terms.  A step whose
weights have at most ``T`` non-zero digits runs one array beat every ``B >= T`` cycles
(:func:`~hlsgen.systolic.network.beat_cycles`); in cycle ``t < T`` of a beat every PE adds term
``t``, ``sign * (x << shift)``, of its weight (``docs/systolic-shiftadd.md``).  This module is the one place the terms are made:

- :func:`csd_terms` -- the terms of one weight, most significant first;
- :func:`step_terms` -- ``T`` of a step (the most terms over the weights it uses; 1 for steps
  that bypass the array);
- :func:`term_code` -- term ``t`` of a weight as the PE's 5-bit code (valid, negative, 3-bit
  shift), and :func:`csd_decoder`, the Verilog function every PE decodes its stored int8
  weight with (the row ROMs hold plain int8 weights: 8 bits a weight, not 5 per term).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["TERM_BITS", "MAX_TERMS", "csd_terms", "step_terms", "term_code", "csd_decoder",
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


def term_code(weight: int, t: int) -> int:
    """Term ``t`` (most significant first) of ``weight`` as ``{valid, negative, shift[2:0]}``;
    0 (no term) past its digits."""
    digits = csd_terms(int(weight))
    if t >= len(digits):
        return 0
    sign, shift = digits[t]
    return (1 << 4) | ((1 if sign < 0 else 0) << 3) | shift


def csd_decoder(ph_bits: int) -> str:
    """Verilog function ``csd_term(w, t)``: :func:`term_code` of the int8 ``w`` for the beat
    cycle ``t`` (``ph_bits`` wide; no term from cycle :data:`MAX_TERMS` on), as a case table
    over every weight and term (synthesis makes it a few LUTs per PE)."""
    t_bits = (MAX_TERMS - 1).bit_length()
    lines = [f"    function [{TERM_BITS - 1}:0] csd_term(input [7:0] w, input [{ph_bits - 1}:0] t);",
             "        begin",
             f"            case ({{w, t[{t_bits - 1}:0]}})"]
    for weight in range(-128, 128):
        for t in range(MAX_TERMS):
            code = term_code(weight, t)
            if code:
                lines.append(f"            {8 + t_bits}'h{((weight & 0xFF) << t_bits) | t:03x}: "
                             f"csd_term = {TERM_BITS}'h{code:02x};")
    lines.append(f"            default: csd_term = {TERM_BITS}'h00;")
    lines.append("            endcase")
    if ph_bits > t_bits:
        lines.append(f"            if (t[{ph_bits - 1}:{t_bits}] != 0)")
        lines.append(f"                csd_term = {TERM_BITS}'h00;")
    lines += ["        end", "    endfunction"]
    return "\n".join(lines)


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
