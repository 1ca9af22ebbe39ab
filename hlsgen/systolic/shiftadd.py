"""Digit-serial shift-add PEs for the whole-network array (``--pe shiftadd``, issue 13).

An int8 weight ``w`` is the sum of its four radix-4 Booth digits, ``w = sum_k d_k 4^k`` with
``d_k = -2 w[2k+1] + w[2k] + w[2k-1]`` in ``{-2, -1, 0, 1, 2}`` (``w[-1] = 0``): each digit
is one term ``+-2^s`` (``s = 2k`` or ``2k + 1``) or nothing.  A step runs its digit
*positions* most significant first, one per cycle, skipping the positions where every weight
it uses has a zero digit; ``T`` = the positions left (at most 4) and a beat lasts
``B >= T`` cycles (:func:`~hlsgen.systolic.network.beat_cycles`).  In cycle ``t`` of a beat
every PE adds its digit at the step's ``t``-th position times its input: the row's input
shifted by ``2k`` (shared by the row's PEs), doubled or not, negated or not -- 3 bits of the
stored weight decide, so the PE needs no decoder table (``docs/systolic-shiftadd.md``).
Taken from the most significant position, every partial sum is a multiple of ``4^k`` within
``[-128, 128]``, so a PE never exceeds the DSP design's product bound.

- :func:`booth_digits` -- the four digits of one weight;
- :func:`step_positions`, :func:`step_terms` -- the positions a step runs, and ``T``;
- :func:`term_code` -- digit ``t`` (most significant first) as a 5-bit code (valid, negative,
  shift), the table the HLS C++ adds with;
- :func:`booth_function` -- the lanes' requantization multiply as Verilog adds.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["TERM_BITS", "MAX_TERMS", "booth_digits", "step_positions", "step_terms",
           "term_code", "booth_function", "booth_window_function", "split_digits"]

TERM_BITS = 5  # {valid, negative, shift[2:0]} of one digit
MAX_TERMS = 4  # radix-4 digit positions of an int8 weight


@lru_cache(maxsize=None)
def booth_digits(weight: int) -> tuple[int, ...]:
    """The radix-4 Booth digits ``(d_0, d_1, d_2, d_3)`` of an int8 weight (least significant
    first): ``weight == sum(d_k * 4**k)``, each in ``-2 .. 2``."""
    bits = (int(weight) & 0xFF) << 1  # w[-1] = 0 below bit 0
    digits = []
    for k in range(MAX_TERMS):
        b = (bits >> (2 * k)) & 0b111
        digits.append(-2 * (b >> 2) + ((b >> 1) & 1) + (b & 1))
    return tuple(digits)


def step_positions(step) -> tuple[int, ...]:
    """The digit positions a step runs, most significant first: those where any weight it
    uses has a non-zero digit (``()`` for steps that do not use the array)."""
    from hlsgen.systolic.network import Op

    if step.op not in (Op.MAC, Op.DW):
        return ()
    used = set()
    for w in {int(w) for row in step.words for word in row for w in word}:
        used.update(k for k, d in enumerate(booth_digits(w)) if d)
    return tuple(sorted(used, reverse=True))


def step_terms(step) -> int:
    """``T`` of a step: its digit positions (at least 1: a beat has a cycle)."""
    return max(1, len(step_positions(step)))


def term_code(weight: int, t: int) -> int:
    """Digit ``t`` (most significant first: position ``3 - t``) of ``weight`` as
    ``{valid, negative, shift[2:0]}``, 0 for a zero digit."""
    k = MAX_TERMS - 1 - t
    if not 0 <= k < MAX_TERMS:
        return 0
    d = booth_digits(int(weight))[k]
    if d == 0:
        return 0
    return (1 << 4) | ((1 if d < 0 else 0) << 3) | (2 * k + (1 if abs(d) == 2 else 0))


def booth_function(name: str, a_bits: int, m_bits: int, p_bits: int) -> str:
    """Verilog function ``name(a, m)``: signed ``a`` times unsigned ``m`` with no ``*``.

    Radix-4 Booth: digit ``d`` of ``m`` (-2 .. 2, from bits ``2d+1 .. 2d-1``) selects 0, a or
    2a, inverted when negative; each partial product keeps its own width (``a_bits + 2``)
    and the negative digits' ``+1`` bits form one more operand, so a balanced tree of
    exact-width adders sums ``m_bits / 2 + 2`` operands (about half the LUTs of a loop of
    full-width adds)."""
    digits = m_bits // 2 + 1
    return _booth_tree(name, a_bits, digits, p_bits, f"input [{m_bits - 1}:0] m",
                       f"        reg [{m_bits + 2}:0] bits;", "{2'b00, m, 1'b0}")


def split_digits(m_bits: int) -> int:
    """Booth digits of each half of a lane's multiply spread over two cycles (the unsigned
    ``m_bits``-bit multiplier has ``m_bits // 2 + 1``)."""
    return -(-(m_bits // 2 + 1) // 2)


def booth_window_function(name: str, a_bits: int, digits: int, p_bits: int) -> str:
    """Verilog function ``name(a, w)``: signed ``a`` times the ``digits`` radix-4 Booth digits
    of the window ``w`` (``2 digits + 1`` bits, digit ``d`` from ``w[2d+2 : 2d]``), i.e.
    ``a * (signed(w[2 digits : 1]) + w[0])``.  A multiplier's low window
    ``{m[2D-1:0], 0}`` and high window ``{0, m[.. : 2D-1]}`` give ``a * m`` as
    ``low + (high << 2D)``: one tree of half the digits used twice (:func:`split_digits`)."""
    return _booth_tree(name, a_bits, digits, p_bits, f"input [{2 * digits}:0] w",
                       f"        reg [{2 * digits}:0] bits;", "w")


def _booth_tree(name: str, a_bits: int, digits: int, p_bits: int, arg: str, bits_decl: str,
                bits_value: str) -> str:
    w = a_bits + 2
    lines = [f"    function signed [{p_bits - 1}:0] {name}(input signed [{a_bits - 1}:0] a, "
             f"{arg});",
             bits_decl,
             f"        reg [{digits - 1}:0] neg;"]
    lines += [f"        reg signed [{w - 1}:0] pp{d};" for d in range(digits)]
    body = [f"            bits = {bits_value};"]
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
