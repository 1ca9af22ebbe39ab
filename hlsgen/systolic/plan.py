"""The plan of one Conv or Dense layer on an R x C weight-stationary array of int8 MACs.

Everything the Verilog, the cycle model and the numpy emulator of the array need is computed
here, once, from the IR layer and the array shape; the readers never redo the tiling.

Mapping (see ``docs/systolic.md``):

- A Dense layer is a Conv whose kernel is its whole (H, W) input: one output pixel, the
  same (h, w, c) column order.  A grouped Conv becomes a groups=1 Conv with block-diagonal
  weights (exact; its zero weights cost array slots, see :attr:`SystolicPlan.macs`).
- The reduction index ``k = (kh * KW + kw) * Cin + ci`` (the IR's column order) is cut into
  ``n_kt`` k-tiles of ``R`` consecutive values, one per array row; the output channels into
  ``n_ct`` column tiles of ``C``.  A tile ``(ct, kt)`` holds ``W[ct*C + c, kt*R + r]`` in
  PE ``(r, c)`` (zero where the index runs past ``Cout`` or ``K``).
- A k-tile's R values span at most :attr:`SystolicPlan.ports` consecutive kernel taps: the
  input buffer is read through that many ports per cycle, port ``p`` at tap
  ``first_tap(kt) + p``, and row ``r`` picks channel ``ci`` of one port (``row_sources``).
- The input zero point is folded as hlsgen's shift-add datapaths do:
  ``acc = (bias - zp * rowsum(W)) + W @ x_raw`` with padded taps holding ``zp``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from hlsgen import ir
from hlsgen.decompose.graph import bit_width
from hlsgen.errors import InputError, UnsupportedModelError

__all__ = ["ArrayShape", "Tap", "SystolicPlan", "plan_layer", "SystolicError",
           "PRODUCT_BOUND"]

# |x * w| for a raw 8-bit activation (int8 or uint8) and an int8 weight: 255 * 128.
PRODUCT_BOUND = 255 * 128
_MAX_ARRAY = 64  # rows or columns: far beyond any part's DSP count per dimension


class SystolicError(InputError):
    """The layer or the array shape cannot be run on the systolic baseline."""


@dataclass(frozen=True)
class ArrayShape:
    """``rows`` x ``cols`` PEs: the reduction runs down the rows, output channels across."""

    rows: int
    cols: int

    def __post_init__(self):
        for what, value in (("rows", self.rows), ("cols", self.cols)):
            if not isinstance(value, int) or not 1 <= value <= _MAX_ARRAY:
                raise SystolicError(f"array {what} = {value!r}: give an integer in "
                                    f"1..{_MAX_ARRAY}, e.g. --array 12x16")

    @classmethod
    def parse(cls, text: str) -> "ArrayShape":
        """``"12x16"`` -> 12 rows (reduction) x 16 columns (output channels)."""
        match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(text))
        if not match:
            raise SystolicError(f"--array '{text}' is not ROWSxCOLS; give e.g. 12x16 "
                                "(12 rows for the reduction, 16 columns for output channels)")
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def pes(self) -> int:
        return self.rows * self.cols

    def __str__(self) -> str:
        return f"{self.rows}x{self.cols}"


@dataclass(frozen=True)
class Tap:
    """What input-buffer port ``p`` reads in a k-tile: kernel tap ``(kh, kw)`` (``None``: the
    port is unused in this tile and reads padding)."""

    kh: int
    kw: int
    offset: int  # kh * W + kw: the tap's address offset from the window's top-left pixel


@dataclass(frozen=True, eq=False)
class SystolicPlan:
    """One layer on the array.  Widths are exact for this layer's weights and types.

    ``weight`` is the effective int64 [Cout, K] matrix, ``K = KH * KW * Cin`` (block-diagonal
    for a grouped Conv); ``bias`` folds the input zero point.  Tables (all tuples):

    - ``port_taps[kt][p]``: :class:`Tap` or ``None``;
    - ``row_sources[r]``: the distinct ``(port, channel)`` row ``r`` reads over all k-tiles;
      ``row_select[kt][r]``: index into it (0 for a row past ``K``, whose weights are 0);
    - ``weight_words[r][tile]``: the C weights of row ``r`` in tile ``ct * n_kt + kt``;
    - ``lane_bias/lane_mult/lane_shift[ct][c]``: per output channel ``ct*C + c`` (0 past
      Cout); shifts are capped at ``prod_width`` (a larger shift gives the same result, 0).
    """

    name: str
    source: tuple[str, ...]
    kind: ir.LayerKind
    shape: ArrayShape
    input: ir.Tensor
    output: ir.Tensor
    window: ir.Window
    weight: np.ndarray
    bias: np.ndarray
    macs: int  # multiply-accumulates of the IR layer itself (no zero block of a grouped Conv)
    requant: ir.Requant
    port_taps: tuple[tuple[Tap | None, ...], ...]
    row_sources: tuple[tuple[tuple[int, int], ...], ...]
    row_select: tuple[tuple[int, ...], ...]
    weight_words: tuple[tuple[tuple[int, ...], ...], ...]
    lane_bias: tuple[tuple[int, ...], ...]
    lane_mult: tuple[tuple[int, ...], ...]
    lane_shift: tuple[tuple[int, ...], ...]
    psum_width: int  # a column's partial sum over one k-tile
    acc_width: int  # the accumulator (every partial sum of bias + W @ x)
    mult_width: int  # unsigned requantization multiplier
    prod_width: int  # acc * multiplier

    # -- geometry ----------------------------------------------------------------------
    @property
    def cin(self) -> int:
        return self.input.shape[2]

    @property
    def cout(self) -> int:
        return self.output.shape[2]

    @property
    def k(self) -> int:
        return int(self.weight.shape[1])

    @property
    def n_kt(self) -> int:
        return len(self.port_taps)

    @property
    def n_ct(self) -> int:
        return len(self.lane_bias)

    @property
    def tiles(self) -> int:
        return self.n_kt * self.n_ct

    @property
    def ports(self) -> int:
        return len(self.port_taps[0])

    @property
    def pixels(self) -> int:
        """Output pixels M: the rows of the im2col matrix streamed through every tile."""
        return self.window.ho * self.window.wo

    @property
    def in_beats(self) -> int:
        return self.input.shape[0] * self.input.shape[1]

    @property
    def out_beats(self) -> int:
        return self.pixels

    @property
    def pad_value(self) -> int:
        """A padded tap holds the input zero point: it contributes exactly 0."""
        return self.input.zero_point

    @property
    def half_even(self) -> bool:
        return self.requant.rounding is ir.Rounding.HALF_EVEN


def plan_layer(graph: ir.Graph, shape: ArrayShape, layer: ir.Layer | None = None
               ) -> SystolicPlan:
    """The plan of ``layer`` (default: the graph's only layer) on an array of ``shape``."""
    if layer is None:
        if len(graph.layers) != 1:
            raise SystolicError(f"graph '{graph.name}' has {len(graph.layers)} layers; the "
                                "systolic baseline runs one Conv or Dense layer so far "
                                "(whole-network sequencing is not implemented yet)")
        layer = graph.layers[0]
    if not isinstance(layer, (ir.Conv, ir.Dense)):
        raise UnsupportedModelError(graph.name, [(-1, layer.name, layer.kind.value,
                                                  "the systolic baseline runs Conv and Dense "
                                                  "layers only (pooling and Add: not yet)")])
    src, out = graph.tensor(layer.input), graph.tensor(layer.output)
    h, w, cin = src.shape
    if isinstance(layer, ir.Dense):
        window = ir.Window(h, w, h, w)
        weight = np.asarray(layer.weight, dtype=np.int64)
        macs = int(weight.size)
    else:
        window = ir.window(layer, src.shape)
        weight = _dense_weight(layer, cin).reshape(layer.weight.shape[0], -1)
        macs = int(layer.weight.size) * window.ho * window.wo
    if weight.min(initial=0) < -128 or weight.max(initial=0) > 127:
        raise SystolicError(f"{layer.kind.value} '{layer.name}': weights span "
                            f"[{weight.min()}, {weight.max()}], outside int8; the DSP array "
                            "multiplies 8-bit weights (approximated designs are not supported)")
    rows, cols = shape.rows, shape.cols
    cout, k = weight.shape
    n_kt, n_ct = math.ceil(k / rows), math.ceil(cout / cols)
    bias = np.asarray(layer.bias, np.int64) - src.zero_point * weight.sum(axis=1)
    port_taps, row_sources, row_select = _im2col_tables(window, cin, rows, n_kt)
    padded = np.zeros((n_ct * cols, n_kt * rows), dtype=np.int64)
    padded[:cout, :k] = weight
    weight_words = tuple(
        tuple(tuple(int(v) for v in padded[ct * cols:(ct + 1) * cols, kt * rows + r])
              for ct in range(n_ct) for kt in range(n_kt))
        for r in range(rows))

    rq = layer.requant
    x_max = max(abs(src.dtype.qmin), abs(src.dtype.qmax))
    acc_bound = np.abs(weight).sum(axis=1) * x_max + np.abs(bias)  # every partial sum too
    acc_width = bit_width(-int(acc_bound.max()), int(acc_bound.max()))
    mult = np.asarray(rq.multiplier, np.int64)
    prod_bound = max(int(a) * int(m) for a, m in zip(acc_bound, mult))
    prod_width = max(bit_width(-prod_bound, prod_bound), 2)

    def lanes(values, fill=0):
        flat = [int(v) for v in values] + [fill] * (n_ct * cols - cout)
        return tuple(tuple(flat[ct * cols:(ct + 1) * cols]) for ct in range(n_ct))

    return SystolicPlan(
        name=layer.name, source=tuple(layer.source), kind=layer.kind, shape=shape, input=src,
        output=out, window=window, weight=weight, bias=bias, macs=macs, requant=rq,
        port_taps=port_taps, row_sources=row_sources, row_select=row_select,
        weight_words=weight_words, lane_bias=lanes(bias), lane_mult=lanes(mult),
        lane_shift=lanes(np.minimum(np.asarray(rq.shift, np.int64), prod_width), fill=1),
        psum_width=bit_width(-rows * PRODUCT_BOUND, rows * PRODUCT_BOUND),
        acc_width=acc_width, mult_width=max(int(mult.max()).bit_length(), 1),
        prod_width=prod_width)


def _dense_weight(layer: ir.Conv, cin: int) -> np.ndarray:
    """[Cout, KH, KW, Cin]: a grouped Conv's weights placed block-diagonally."""
    weight = np.asarray(layer.weight, dtype=np.int64)
    if layer.groups == 1:
        return weight
    cout, kh, kw, cig = weight.shape
    per = cout // layer.groups
    full = np.zeros((cout, kh, kw, cin), dtype=np.int64)
    for o in range(cout):
        g = o // per
        full[o, :, :, g * cig:(g + 1) * cig] = weight[o]
    return full


def _im2col_tables(window: ir.Window, cin: int, rows: int, n_kt: int):
    """Per k-tile the taps its input ports read; per row its sources and per-tile choice."""
    k = window.taps * cin
    firsts = [(kt * rows) // cin for kt in range(n_kt)]
    lasts = [(min(kt * rows + rows, k) - 1) // cin for kt in range(n_kt)]
    ports = max(last - first + 1 for first, last in zip(firsts, lasts))
    port_taps = []
    for first in firsts:
        taps = []
        for p in range(ports):
            tap = first + p
            if tap >= window.taps:
                taps.append(None)
                continue
            kh, kw = divmod(tap, window.kw)
            taps.append(Tap(kh, kw, kh * window.w + kw))
        port_taps.append(tuple(taps))
    sources: list[list[tuple[int, int]]] = [[] for _ in range(rows)]
    select = []
    for kt, first in enumerate(firsts):
        chosen = []
        for r in range(rows):
            index = kt * rows + r
            if index >= k:  # past the reduction: the row's weights are 0, any source will do
                chosen.append(0)
                continue
            tap, ci = divmod(index, cin)
            source = (tap - first, ci)
            if source not in sources[r]:
                sources[r].append(source)
            chosen.append(sources[r].index(source))
        select.append(tuple(chosen))
    for r in range(rows):  # a row that is past K in every tile still reads something
        if not sources[r]:
            sources[r].append((0, 0))
    return tuple(port_taps), tuple(tuple(s) for s in sources), tuple(select)
