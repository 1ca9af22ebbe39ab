"""Sliding-window index tables shared by the numpy executor and the ONNX exporter.

An activation of shape (H, W, C) is handled as ``[N, H*W + 1, C]``: pixel ``p = h*W + w`` in
raster order, plus one extra *pad pixel* at index ``H*W`` that holds the value a padded
position contributes (0 after zero-point subtraction for Conv, a value below every integer
for MaxPool).  A window is then a plain gather with a constant index table, which both numpy
(fancy indexing) and ONNX (``Gather``) do exactly on int64.
"""

from __future__ import annotations

import numpy as np

from hlsgen.ir import Window

__all__ = ["window_pixels"]


def window_pixels(window: Window) -> np.ndarray:
    """int64 [Ho*Wo, KH*KW]: the input pixel read by each output pixel at each tap.

    Rows are output pixels in raster order, columns taps in (kh, kw) order; a tap that falls
    into the padding reads the pad pixel ``H*W``.
    """
    s = window
    rows = (np.arange(s.ho) * s.sh - s.pt)[:, None] + np.arange(s.kh)[None, :]  # [Ho, KH]
    cols = (np.arange(s.wo) * s.sw - s.pl)[:, None] + np.arange(s.kw)[None, :]  # [Wo, KW]
    r = rows[:, None, :, None]  # [Ho, 1, KH, 1]
    c = cols[None, :, None, :]  # [1, Wo, 1, KW]
    inside = (r >= 0) & (r < s.h) & (c >= 0) & (c < s.w)
    pixel = np.where(inside, r * s.w + c, s.h * s.w)
    return pixel.reshape(s.ho * s.wo, s.taps).astype(np.int64)
