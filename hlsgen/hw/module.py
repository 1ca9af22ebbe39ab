"""One IR layer as a hardware module: its front end, its window, its datapath kind.

A module is ``front end -> stage-0 registers -> datapath -> output skid buffer``.  The front
end gathers the operands of one output pixel and depends only on the layer (this module); the
datapath is built by the layer's datapath kind (:data:`hlsgen.hw.plan.KINDS`).  The line-buffer
helpers (:func:`trigger`, :func:`oldest_row`, :func:`fixed_bank`) are shared by the schedule,
the resource model and the Verilog emitter.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from hlsgen import ir
from hlsgen.decompose.graph import bit_width
from hlsgen.design import DatapathKind
from hlsgen.errors import UnsupportedModelError
from hlsgen.hw.netlist import Datapath

__all__ = ["Front", "ModulePlan", "FrontEnd", "front_of", "trigger", "oldest_row",
           "fixed_bank"]


class Front(enum.Enum):
    """How a layer gathers the operands of one output pixel."""

    PIXEL = "pixel"  # 1x1 window, no padding: one input beat
    WINDOW = "window"  # line buffer + sliding window
    FETCH = "fetch"  # line buffer read one window tap per cycle (folded layers)
    VECTOR = "vector"  # the whole frame (Dense)
    SUM = "sum"  # per-channel running sum over the frame (global AvgPool)
    PAIR = "pair"  # one beat from each of two FIFOs (Add)


@dataclass(frozen=True)
class FrontEnd:
    """What a layer's front end delivers to its datapath: the kind of front, its window
    (PIXEL / WINDOW), the value of a padded position (WINDOW, per channel) and the width of a
    channel's running sum (SUM)."""

    front: Front
    window: ir.Window | None = None
    pad: int = 0
    sum_bits: int = 0


def front_of(layer: ir.Layer, index: int, graph: ir.Graph) -> FrontEnd:
    """The front end of ``layer`` (the ``index``-th layer of ``graph``).

    Window layers must have every window touch the frame (else UnsupportedModelError).  A
    Conv's padded position holds the input zero point, which contributes exactly 0 once the
    datapath folds the zero point into its bias; a MaxPool's holds the type's minimum.
    """
    src = graph.tensor(layer.inputs[0])
    if isinstance(layer, ir.Dense):
        return FrontEnd(Front.VECTOR)
    if isinstance(layer, ir.Add):
        return FrontEnd(Front.PAIR)
    window = ir.window(layer, src.shape)
    _check_window(layer, index, graph, window)
    if isinstance(layer, ir.AvgPool) and window.is_global:
        h, w, _ = src.shape
        lo, hi = h * w * src.dtype.qmin, h * w * src.dtype.qmax
        return FrontEnd(Front.SUM, sum_bits=max(9, bit_width(lo, hi)))
    pad = src.dtype.qmin if isinstance(layer, ir.MaxPool) else src.zero_point
    plain = (window.kh, window.kw) == (1, 1) and not any(window.pads)
    return FrontEnd(Front.PIXEL if plain else Front.WINDOW, window, pad)


@dataclass(frozen=True, eq=False)
class ModulePlan:
    """One IR layer as a hardware module: front end + datapath + output register slice."""

    layer: ir.Layer
    index: int
    kind: DatapathKind
    front: Front
    inputs: tuple[ir.Tensor, ...]
    output: ir.Tensor
    datapath: Datapath
    window: ir.Window | None = None  # PIXEL / WINDOW geometry
    pad: int = 0  # WINDOW: value of a padded position (per channel)
    sum_bits: int = 0  # SUM: accumulator width per channel
    digit: int = 0  # serial kind: bits per cycle (0: parallel)
    chunks: int = 1  # multiplexed kind: input chunks of the tree (cycles per plane)
    lanes: int = 1  # multiplexed kind: trees side by side, C / lanes channels each

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def in_beats(self) -> int:
        h, w, _ = self.inputs[0].shape
        return h * w

    @property
    def bus_bits(self) -> int:
        """Width of the stage-0 bus the front end fills (the datapath's INPUT fields)."""
        c = self.inputs[0].shape[2]
        if self.front in (Front.WINDOW, Front.FETCH):
            return self.window.taps * 8 * c
        if self.front is Front.VECTOR:
            return self.in_beats * 8 * c
        if self.front is Front.SUM:
            return c * self.sum_bits
        if self.front is Front.PAIR:
            return 8 * (self.inputs[0].shape[2] + self.inputs[1].shape[2])
        return 8 * c


# -- the line buffer -----------------------------------------------------------------------
def trigger(s: ir.Window) -> np.ndarray:
    """Per output pixel (raster): in-frame index of the last input pixel its window reads."""
    rows = np.minimum(np.arange(s.ho) * s.sh - s.pt + s.kh - 1, s.h - 1)
    cols = np.minimum(np.arange(s.wo) * s.sw - s.pl + s.kw - 1, s.w - 1)
    return (rows[:, None] * s.w + cols[None, :]).reshape(-1)


def oldest_row(s: ir.Window) -> np.ndarray:
    """Per output pixel: the first input row its window reads."""
    rows = np.maximum(np.arange(s.ho) * s.sh - s.pt, 0)
    return np.repeat(rows, s.wo)


def fixed_bank(s: ir.Window) -> int | None:
    """The line-buffer bank of every window's first column when it is always the same
    (stride a multiple of the kernel width: no bank rotation is needed), else None."""
    starts = {(j * s.sw - s.pl) % s.kw for j in range(s.wo)}
    return starts.pop() if len(starts) == 1 else None


def _check_window(layer, index: int, graph: ir.Graph, s: ir.Window) -> None:
    why = None
    if s.pt >= s.kh or s.pb >= s.kh or s.pl >= s.kw or s.pr >= s.kw:
        why = (f"padding {s.pads} is not smaller than the kernel "
               f"{(s.kh, s.kw)}, so some window would read padding only")
    elif s.ho < 1 or s.wo < 1:
        why = f"kernel {(s.kh, s.kw)} is larger than the padded input"
    if why:
        raise UnsupportedModelError(graph.name, [(index, layer.name, layer.kind.value,
                                                  why + "; the streaming hardware needs "
                                                  "every window to touch the frame")])
