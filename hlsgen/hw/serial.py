"""The *serial* datapath kind: a layer's shift-add graphs and requantization computed
digit-serially, ``D`` bits per cycle, least significant digit first.

The netlist is the parallel kind's (:func:`hlsgen.hw.parallel.build`, same nodes, same exact
ranges); only how it is computed changes.  Every value is a word of ``L * D`` bits, where
``L * D`` covers the widest value a requantization reads, so the arithmetic is exact modulo
``2**(L*D)`` (partial sums may wrap; every value a clamp reads fits):

- the front end's item is captured in a register when a word starts; an input's digit is
  selected from its field (sign- or zero-extended) by the digit index;
- an adder is a D-bit adder with a carry register cleared at each word's first digit; a
  negated operand is inverted and its ``+1`` folded, with the adder's constant, into the
  carry-in or a constant digit stream;
- a left shift by ``s`` is a delay: the digit is read from the operand's last
  ``ceil(s / D)`` digits of the same word (zeros before the word's first digit);
- a requantization deserializes its source once the word's last digit has passed the last
  pipeline stage, then rounds and clamps in parallel (8 bits out).

Adders shrink from the value width to D bits; a layer takes ``L`` cycles per output pixel
(:func:`word_digits`).  Conv layers always use the line-buffer front end (a pointwise layer
too), so a layer slower than its input buffers rows instead of stalling its producer; the
schedule sizes the line buffer.  Register stages every ``N`` adder levels, as in the parallel
kind; the deserializers sit after the last stage (:func:`stages`).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from hlsgen import ir
from hlsgen.decompose.graph import bit_width
from hlsgen.hw import parallel
from hlsgen.hw.module import Front, FrontEnd
from hlsgen.hw.netlist import Datapath, Op

__all__ = ["build", "front", "stages", "resources", "word_digits", "word_bits",
           "register_stages", "home_stages", "adder_streams", "LUT_COEFFS"]

# LUTs per counted unit, calibrated against yosys ``synth_xilinx`` (benchmarks/calibration.py).
LUT_COEFFS = {
    "adder": 1.0,  # per digit bit of a two-stream adder
    "carry_in": 1.0,  # per adder: its carry-in (cleared or set at a word's first digit)
    "adder3": 2.0,  # per digit bit of an adder with a constant digit stream
    "mask": 0.5,  # per history bit (cleared at a word's first digit)
    "select": 0.5,  # per digit bit of an input field, per word position it selects from
    "clamp": 1.0,  # per compared bit of a requantization, plus the 8-bit select
}

build = parallel.build


def front(front_end: FrontEnd) -> FrontEnd:
    """A folded layer fetches its window one tap per cycle (it needs a new one only every
    word): one memory port and no window multiplexer; a pointwise layer too, so that a
    layer slower than its input buffers rows instead of stalling its producer."""
    if front_end.front in (Front.PIXEL, Front.WINDOW):
        return replace(front_end, front=Front.FETCH)
    return front_end


def word_bits(dp: Datapath) -> int:
    """Bits a word needs: the widest source a requantization reads (at least 1)."""
    widths = [dp.nodes[n.operands[0].node].width for n, live in zip(dp.nodes, dp.live)
              if live and n.op is Op.CLAMP]
    return max(widths, default=1)


def word_digits(dp: Datapath, digit: int) -> int:
    """Cycles per output pixel: digits of ``digit`` bits in a word."""
    return -(-word_bits(dp) // digit)


def home_stages(dp: Datapath, per_stage: int) -> tuple[list[int], int]:
    """Per node: the stage whose logic computes it; and ``S``, the last stage (where the
    requantizations deserialize their sources).  CLAMP nodes live at stage ``S``."""
    home = [dp.home_stage(n, per_stage) for n in range(len(dp.nodes))]
    last = max((home[n] for n, node in enumerate(dp.nodes)
                if dp.live[n] and node.op in (Op.ADD, Op.INPUT)), default=0)
    for n, node in enumerate(dp.nodes):
        if node.op is Op.CLAMP:
            home[n] = last
    return home, last


def register_stages(dp: Datapath, per_stage: int) -> tuple[tuple[int, ...], ...]:
    """Per node: the stages (1..S) at which a registered digit copy of it exists."""
    home, _ = home_stages(dp, per_stage)
    last = list(home)
    for n, node in enumerate(dp.nodes):
        if dp.live[n]:
            for op in node.operands:
                last[op.node] = max(last[op.node], home[n])
    return tuple(() if node.op in (Op.CONST, Op.CLAMP) else tuple(range(home[n] + 1, last[n] + 1))
                 for n, node in enumerate(dp.nodes))


def stages(module, per_stage: int) -> int:
    """``S``: register stages between the input digit registers and the deserializers."""
    return home_stages(module.datapath, per_stage)[1]


def adder_streams(node, word: int) -> tuple[int, int]:
    """(digit streams into an ADD node's adder, its constant ``K``): operands plus a constant
    stream when ``K`` (the addend plus one per negated operand, modulo ``2**word``) is not
    0 or 1 (those ride on the carry-in)."""
    k = (node.const + sum(op.negate for op in node.operands)) % (1 << word)
    return len(node.operands) + (k > 1), k


def carry_bits(streams: int) -> int:
    """Width of the carry register of an adder of ``streams`` D-bit digit streams."""
    return max(1, (streams - 1).bit_length())


def resources(module, per_stage: int) -> tuple[float, float]:
    """(LUTs, FFs): digit adders, shift histories, register copies, the captured item and its
    digit selection, deserializers and clamps, digit counters."""
    bits = _serial_bits(module.datapath, per_stage, module.digit)
    luts = (LUT_COEFFS["adder"] * bits["adder"] + LUT_COEFFS["adder3"] * bits["adder3"]
            + LUT_COEFFS["carry_in"] * bits["adders"]
            + LUT_COEFFS["mask"] * bits["history"] + LUT_COEFFS["select"] * bits["select"]
            + LUT_COEFFS["clamp"] * bits["clamp"] + 12 + 4 * bits["stages"])
    ffs = (bits["carry"] + bits["history"] + bits["register"] + bits["capture"]
           + bits["deserializer"] + bits["counter"])
    return luts, ffs


@lru_cache(maxsize=4096)
def _serial_bits(dp: Datapath, per_stage: int, digit: int) -> dict[str, int]:
    L = word_digits(dp, digit)
    word = L * digit
    home, last_stage = home_stages(dp, per_stage)
    copies = register_stages(dp, per_stage)
    counts = dict.fromkeys(("adder", "adder3", "adders", "carry", "history", "register", "capture", "select",
                            "deserializer", "clamp", "counter", "stages"), 0)
    history: dict[tuple[int, int], int] = {}  # (source node, stage) -> longest shift
    for n, node in enumerate(dp.nodes):
        if not dp.live[n] or node.op is Op.CONST:
            continue
        counts["register"] += digit * len(copies[n])
        if node.op is Op.INPUT:  # captured, then one of its digits (or the sign) selected
            kept = min(node.bits, word)
            counts["capture"] += kept
            positions = min(L, -(-kept // digit) + (word > kept))
            counts["select"] += digit * (positions - 1)
        elif node.op is Op.ADD:
            streams, _ = adder_streams(node, word)
            counts["adder3" if streams > 2 else "adder"] += digit
            counts["adders"] += 1
            counts["carry"] += carry_bits(streams)
            for op in node.operands:
                if op.shift:
                    key = (op.node, home[n])
                    history[key] = max(history.get(key, 0), op.shift)
        elif node.op is Op.CLAMP:
            counts["deserializer"] += word
            q_lo, q_hi = dp.clamp_input_range(n)
            compares = int(q_lo < node.bounds[0]) + int(q_hi > node.bounds[1])
            counts["clamp"] += compares * bit_width(q_lo, q_hi) + (8 if compares else 0)
    counts["history"] = sum(history.values())  # bits of earlier digits a shift reads
    counts["stages"] = last_stage + 1
    counts["counter"] = (last_stage + 1) * (max(1, (L - 1).bit_length()) + 1) + 1
    return counts


def is_serial_layer(layer: ir.Layer) -> bool:
    """Layers the serial kind can build: Conv and Dense."""
    return isinstance(layer, (ir.Conv, ir.Dense))
