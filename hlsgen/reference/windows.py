"""Sliding-window index tables shared by the numpy executor and the ONNX exporter.

An activation of shape (H, W, C) is handled as ``[N, H*W + 1, C]``: pixel ``p = h*W + w`` in
raster order, plus one extra *pad pixel* at index ``H*W`` that holds the value a padded
position contributes (0 after zero-point subtraction for Conv, a value below every integer
for MaxPool).  A window is then a plain gather with a constant index table, which both numpy
(fancy indexing) and ONNX (``Gather``) do exactly on int64.
"""

from __future__ import annotations

import numpy as np

__all__ = ["output_hw", "window_pixels"]


def output_hw(
    in_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
) -> tuple[int, int]:
    """(Ho, Wo) of a window op: ``floor((H + top + bottom - KH) / SH) + 1`` (ONNX floor mode)."""
    (h, w), (kh, kw), (sh, sw) = in_hw, kernel, stride
    top, left, bottom, right = pads
    return (h + top + bottom - kh) // sh + 1, (w + left + right - kw) // sw + 1


def window_pixels(
    in_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    pads: tuple[int, int, int, int] = (0, 0, 0, 0),
) -> np.ndarray:
    """int64 [Ho*Wo, KH*KW]: the input pixel read by each output pixel at each tap.

    Rows are output pixels in raster order, columns taps in (kh, kw) order; a tap that falls
    into the padding reads the pad pixel ``H*W``.
    """
    (h, w), (kh, kw), (sh, sw) = in_hw, kernel, stride
    top, left, _, _ = pads
    ho, wo = output_hw(in_hw, kernel, stride, pads)
    rows = (np.arange(ho) * sh - top)[:, None] + np.arange(kh)[None, :]  # [Ho, KH]
    cols = (np.arange(wo) * sw - left)[:, None] + np.arange(kw)[None, :]  # [Wo, KW]
    r = rows[:, None, :, None]  # [Ho, 1, KH, 1]
    c = cols[None, :, None, :]  # [1, Wo, 1, KW]
    inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    pixel = np.where(inside, r * w + c, h * w)
    return pixel.reshape(ho * wo, kh * kw).astype(np.int64)
