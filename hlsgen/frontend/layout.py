"""Index maps: how ONNX tensors sit in the IR's channels-last storage.

Every activation ONNX tensor is described by an integer array of the ONNX tensor's shape whose
entries are flat indices into one IR tensor's (H, W, C) storage.  Layout ops (Reshape,
Flatten, Squeeze, Unsqueeze, Transpose) apply themselves to the index map and never touch
data, so any chain of them is exact; a layer that needs a particular view (a Conv reads
NCHW) checks the map is that view.  This is how NHWC models (Transpose/Reshape in front of the
first Conv) and NCHW-flattening models (mnist8: Dense columns in C, H, W order) both end up
in the IR's single layout.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "nchw_view",
    "spatial_ir_shape",
    "is_spatial",
    "vector_length",
    "same_pads",
    "conv_pads",
]


def nchw_view(ir_shape: tuple[int, int, int], rank: int) -> np.ndarray:
    """The map of the ONNX NCHW tensor [1, C, H, W] (rank 4) or [1, C, L] (rank 3, H == 1)
    that reads IR tensor ``ir_shape`` = (H, W, C) in place."""
    h, w, c = ir_shape
    flat = np.arange(h * w * c, dtype=np.int64).reshape(h, w, c).transpose(2, 0, 1)
    if rank == 3:
        return flat.reshape(1, c, w)
    return flat.reshape(1, c, h, w)


def spatial_ir_shape(onnx_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """IR (H, W, C) of an ONNX [1, C, H, W] or [1, C, L] tensor."""
    if len(onnx_shape) == 3:
        return (1, int(onnx_shape[2]), int(onnx_shape[1]))
    return (int(onnx_shape[2]), int(onnx_shape[3]), int(onnx_shape[1]))


def is_spatial(shape: tuple[int, ...]) -> bool:
    return len(shape) in (3, 4) and shape[0] == 1


def vector_length(shape: tuple[int, ...]) -> int | None:
    """N if ``shape`` is a single vector [1, ..., 1, N] (what a Dense reads), else None."""
    if not shape or any(d != 1 for d in shape[:-1]):
        return None
    return int(shape[-1])


def same_pads(size: int, kernel: int, stride: int, upper: bool) -> tuple[int, int]:
    """(begin, end) padding of auto_pad SAME_UPPER (extra at the end) / SAME_LOWER."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    small, large = total // 2, total - total // 2
    return (small, large) if upper else (large, small)


def conv_pads(attrs: dict, in_hw: tuple[int, int], kernel: tuple[int, int],
              stride: tuple[int, int], rank: int) -> tuple[int, int, int, int]:
    """IR (top, left, bottom, right) pads of an ONNX Conv/pool with ``rank``-D spatial dims.

    ``in_hw``/``kernel``/``stride`` are already in IR (H, W) form (H == 1 for 1-D)."""
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        upper = auto == "SAME_UPPER"
        top, bottom = same_pads(in_hw[0], kernel[0], stride[0], upper) if rank == 2 else (0, 0)
        left, right = same_pads(in_hw[1], kernel[1], stride[1], upper)
        return (top, left, bottom, right)
    if auto == "VALID":
        return (0, 0, 0, 0)
    pads = [int(p) for p in attrs.get("pads", [0] * (2 * rank))]
    if rank == 1:
        return (0, pads[0], 0, pads[1])
    return (pads[0], pads[1], pads[2], pads[3])
