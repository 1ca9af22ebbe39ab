"""Where the shift-add engine's weights come from: block-RAM ROMs (``"rom"``) or a stream from
off-chip memory (``"stream"``, ``docs/systolic-shiftadd.md``, "Weights from DDR").

With ``"stream"`` the top has an AXI4-Stream slave port ``w_stream`` (``TDATA`` = one row word
of ``C`` int8 weights, column ``c`` in bits ``[8c+7:8c]``) that carries, for every frame, every
weight tile of the network in the order the engine uses them: :func:`weight_stream` is that
order, the one definition the testbench vectors, the HLS C++ and the docs follow.  Each row
keeps a ring buffer of ``ring_depth`` words (:func:`ring_depth`) instead of its ROM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the plan imports this module
    from hlsgen.systolic.network import NetworkPlan

__all__ = ["WEIGHT_SOURCES", "RING_WORDS", "weight_stream", "weight_stream_text",
           "ring_depth", "tiles_from_stream"]

WEIGHT_SOURCES = ("rom", "stream")  # on-chip ROMs / streamed from off-chip memory
RING_WORDS = 512  # a row's ring buffer: 512 x 8C bits = one RAMB36 for C = 8 (512 x 72)


def ring_depth(tiles: int, words: int = RING_WORDS) -> int:
    """Words of each row's ring buffer: ``words``, or the network's tiles if fewer (a ring
    holding every tile of a frame already lets the loader run a frame ahead)."""
    return max(1, min(words, tiles))


def weight_stream(plan: NetworkPlan) -> list[tuple[int, int, tuple[int, ...]]]:
    """One frame of the weight stream, in order: ``(tile, row, C int8 weights)`` for every
    weight tile of every MAC / depthwise step in issue order (the step's tile ``ct * n_kt +
    kt`` at ``tile_base``), rows ``0 .. R-1`` of a tile one after the other.  The same words
    follow for every frame."""
    from hlsgen.systolic.network import Op

    words = []
    for step in plan.steps:
        if step.op not in (Op.MAC, Op.DW):
            continue
        for local in range(step.n_ct * step.n_kt):
            for row in range(plan.shape.rows):
                weights = tuple(int(w) for w in step.words[row][local])
                words.append((step.tile_base + local, row, weights))
    return words


def weight_stream_text(plan: NetworkPlan) -> str:
    """``tb/weights.txt``: one stream word a line, its ``C`` int8 weights as decimals
    (column 0 first, the order of :func:`weight_stream`)."""
    return "".join(" ".join(map(str, w)) + "\n" for _, _, w in weight_stream(plan))


def tiles_from_stream(plan: NetworkPlan, words: list[tuple[int, ...]]) -> list[list[tuple]]:
    """``[row][tile]`` -> C weights: one frame of stream words put back where the engine reads
    them (what the ring buffers hold, tile by tile)."""
    order = weight_stream(plan)
    if len(words) != len(order):
        raise ValueError(f"{len(words)} weight words; the plan streams {len(order)} a frame")
    table = [[()] * plan.tiles for _ in range(plan.shape.rows)]
    for (tile, row, _), word in zip(order, words):
        table[row][tile] = tuple(int(w) for w in word)
    return table
