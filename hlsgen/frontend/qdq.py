"""QuantizeLinear / DequantizeLinear parameters and the per-channel scales of weights.

In a QDQ model an activation is quantized by a QuantizeLinear and read back through a
DequantizeLinear with the same parameters; the pair fixes the IR tensor's scale, zero point
and type.  Weights arrive as DequantizeLinear'd constants (see :mod:`.fold`).
"""

from __future__ import annotations

import numpy as np
import onnx

from hlsgen.frontend.fold import ConstValue
from hlsgen.frontend.lowered import QParams
from hlsgen.ir import DType

__all__ = ["node_qparams", "same_qparams", "channel_vector", "QdqError"]

_DTYPES = {np.dtype(np.int8): DType.INT8, np.dtype(np.uint8): DType.UINT8}


class QdqError(ValueError):
    """A Q/DQ node the IR cannot express; the message is the 'why' for the user."""


def node_qparams(node: onnx.NodeProto, consts: dict[str, ConstValue]) -> QParams:
    """Scale, zero point and 8-bit type of a per-tensor QuantizeLinear/DequantizeLinear."""
    scale = np.asarray(consts[node.input[1]].value, dtype=np.float64).reshape(-1)
    if len(node.input) > 2 and node.input[2]:
        zp = np.asarray(consts[node.input[2]].value).reshape(-1)
    else:
        zp = np.zeros(1, dtype=np.uint8)  # the ONNX default zero point type is uint8
    if zp.dtype not in _DTYPES:
        raise QdqError(f"activations of type {zp.dtype} are not supported (only int8 and "
                       "uint8)")
    if not (scale[0] > 0 and np.isfinite(scale[0])):
        raise QdqError(f"scale {scale[0]} is not a positive number")
    return QParams(scale=float(scale[0]), zero_point=int(zp[0]), dtype=_DTYPES[zp.dtype])


def same_qparams(a: QParams, b: QParams) -> bool:
    """Equal up to float32 rounding of the scale (exporters repeat the same constant)."""
    return (a.zero_point == b.zero_point and a.dtype == b.dtype
            and abs(a.scale - b.scale) <= 1e-6 * max(a.scale, b.scale))


def channel_vector(array: np.ndarray, axis: int, what: str) -> np.ndarray:
    """The per-channel values of an array broadcast from one value per index of ``axis``."""
    moved = np.moveaxis(np.asarray(array), axis, 0).reshape(array.shape[axis], -1)
    if moved.shape[1] and not (moved == moved[:, :1]).all():
        raise QdqError(f"the {what} varies within one output channel; only per-tensor or "
                       "per-output-channel quantization is supported")
    return moved[:, 0] if moved.shape[1] else np.zeros(array.shape[axis], dtype=array.dtype)
