"""The front-end primitives of a layer module (line buffer, pixel / vector / sum / pair
front ends: ``templates/rtl/primitives``) and the Verilog parameters that size them, all from
the hardware plan (window geometry, row slots, FIFO depths)."""

from __future__ import annotations

from dataclasses import dataclass

from hlsgen.decompose.graph import bit_width
from hlsgen.hw.module import Front, ModulePlan, fixed_bank
from hlsgen.hw.plan import HardwarePlan

__all__ = ["Primitive", "PRIMITIVE", "clog2", "front_params"]


@dataclass(frozen=True)
class Primitive:
    """A front end's hand-written module (``<name>_<base>``) and the ports its window /
    vector bus leaves by."""

    base: str
    data: str
    valid: str
    pair: bool = False  # two stream inputs (a_*, b_*) instead of one (s_*)


PRIMITIVE = {
    Front.PIXEL: Primitive("pixel", "pix", "pix_valid"),
    Front.WINDOW: Primitive("window", "win", "win_valid"),
    Front.FETCH: Primitive("fetch", "win", "win_valid"),
    Front.VECTOR: Primitive("vector", "vec", "vec_valid"),
    Front.SUM: Primitive("sum", "sum", "sum_valid"),
    Front.PAIR: Primitive("pair", "pair", "pair_valid", pair=True),
}


def clog2(value: int) -> int:
    return max(1, (max(value, 1) - 1).bit_length())


def front_params(plan: HardwarePlan, m: ModulePlan) -> list[tuple[str, str]]:
    """Verilog parameters of the front-end primitive, as (name, literal)."""
    h, w, c = m.inputs[0].shape
    pw = 8 * c
    if m.front is Front.PIXEL:
        s = m.window
        bits = bit_width(0, max(h, w, s.sh, s.sw) + 1)
        return [("PW", str(pw)), ("W", str(w)), ("SH", str(s.sh)), ("SW", str(s.sw)),
                ("H", str(h)), ("HO", str(s.ho)), ("WO", str(s.wo)), ("CW", str(bits))]
    if m.front is Front.VECTOR:
        return [("PW", str(pw)), ("BEATS", str(h * w)), ("CB", str(clog2(h * w)))]
    if m.front is Front.SUM:
        return [("C", str(c)), ("AW", str(m.sum_bits)), ("BEATS", str(h * w)),
                ("CB", str(clog2(h * w))), ("SIGNED", "1" if m.inputs[0].dtype.signed else "0")]
    if m.front is Front.PAIR:
        da, db = plan.schedule.fifo_depths[m.name]
        wa, wb = 8 * m.inputs[0].shape[2], 8 * m.inputs[1].shape[2]
        return [("WA", str(wa)), ("WB", str(wb)), ("DA", str(da)), ("DB", str(db)),
                ("AA", str(clog2(da))), ("AB", str(clog2(db))),
                ("CA", str(clog2(da + 1))), ("CB", str(clog2(db + 1)))]
    s = m.window
    rows = plan.schedule.rows[m.name]
    if m.front is Front.FETCH:  # one memory of `rows` slots of W pixels
        return (_geometry(m, rows)
                + [("AB", str(clog2(rows * w + 1))), ("TB", str(clog2(s.taps)))]
                + _positions(m, rows, w))
    depth = -(-w // s.kw)  # words per bank and row
    fixed = fixed_bank(s)
    return (_geometry(m, rows)
            + [("DB", str(depth)), ("AB", str(clog2(rows * depth + 1))),
               ("KB", str(clog2(s.kw)))]
            + _positions(m, rows, depth)
            + [("LBANK_INIT", str((-s.pl) % s.kw)), ("LADDR_INIT", str((-s.pl) // s.kw)),
               ("SW_BANK", str(s.sw % s.kw)), ("SW_ADDR", str(s.sw // s.kw)),
               ("BANK_FIXED", str(-1 if fixed is None else fixed)),
               ("SL", str(clog2(s.kw + 1)))])


def _geometry(m: ModulePlan, rows: int) -> list[tuple[str, str]]:
    """A line buffer's window geometry and row slots (hlsgen_window, hlsgen_fetch)."""
    h, w, c = m.inputs[0].shape
    s = m.window
    return [("PW", str(8 * c)), ("H", str(h)), ("W", str(w)), ("KH", str(s.kh)),
            ("KW", str(s.kw)), ("SH", str(s.sh)), ("SW", str(s.sw)), ("PT", str(s.pt)),
            ("PL", str(s.pl)), ("HO", str(s.ho)), ("WO", str(s.wo)), ("R", str(rows))]


def _positions(m: ModulePlan, rows: int, words: int) -> list[tuple[str, str]]:
    """Counter widths, the pad value and the row-slot bases (``words`` per row slot)."""
    h, w, c = m.inputs[0].shape
    s = m.window
    span = rows + h + s.kh + s.sh + 2
    position = max(h, w, s.ho * s.sh, s.wo * s.sw) + s.kh + s.kw + max(s.pt, s.pl) + 2
    pad = 0
    for ch in range(c):
        pad |= (m.pad % 256) << (8 * ch)
    return [("CW", str(bit_width(-position, position))), ("GB", str(bit_width(-span, span))),
            ("PAD", f"{8 * c}'h{pad:x}"), ("TBASE_INIT", str(words * ((-s.pt) % rows))),
            ("TBASE_ROW", str(words * (s.sh % rows))),
            ("TBASE_FRAME", str(words * ((h - (s.ho - 1) * s.sh) % rows)))]
