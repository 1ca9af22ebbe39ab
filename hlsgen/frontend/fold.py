"""Constant values and the few ONNX ops evaluated on them (weights only ever pass through
DequantizeLinear and layout ops on their way to a Conv/Gemm/MatMul).

A :class:`ConstValue` keeps the real value and, for a DequantizeLinear'd constant, its integer
storage with per-element scale and zero point (broadcast to the value's shape), so that a
layout op moves the three arrays together and a per-channel scale survives a Transpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import onnx
from onnx import numpy_helper

__all__ = ["ConstValue", "FOLDABLE_OPS", "fold_node", "layout_shape", "attributes",
           "initializer_value"]


@dataclass(frozen=True, eq=False)
class ConstValue:
    value: np.ndarray  # real value (float64 for float tensors, the ints as stored otherwise)
    q: np.ndarray | None = None  # integer storage (int64) of a dequantized constant
    scale: np.ndarray | None = None  # float64, same shape as q
    zero_point: np.ndarray | None = None  # int64, same shape as q

    @property
    def quantized(self) -> bool:
        return self.q is not None

    def apply(self, fn: Callable[[np.ndarray], np.ndarray]) -> "ConstValue":
        """Apply one layout function to every array."""
        if self.q is None:
            return ConstValue(fn(self.value))
        return ConstValue(fn(self.value), fn(self.q), fn(self.scale), fn(self.zero_point))


def attributes(node: onnx.NodeProto) -> dict:
    out = {}
    for attr in node.attribute:
        value = onnx.helper.get_attribute_value(attr)
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, onnx.TensorProto):
            value = numpy_helper.to_array(value)
        out[attr.name] = value
    return out


# Ops evaluated when every data input is constant.
FOLDABLE_OPS = frozenset({
    "Constant", "DequantizeLinear", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
    "Transpose", "Identity", "Dropout",
})


def fold_node(node: onnx.NodeProto, inputs: list[ConstValue | None]) -> ConstValue:
    """Evaluate one foldable node on constant inputs (``None`` for an omitted optional input)."""
    attrs = attributes(node)
    op = node.op_type
    if op == "Constant":
        if "value" not in attrs:
            raise ValueError("only Constant nodes with a 'value' tensor are supported")
        return ConstValue(_real(np.asarray(attrs["value"])))
    if op == "DequantizeLinear":
        return _dequantize(inputs, attrs)
    data = inputs[0]
    if op in ("Identity", "Dropout"):
        return data
    if op == "Transpose":
        perm = attrs.get("perm")
        return data.apply(lambda a: np.transpose(a, perm))
    shape = layout_shape(op, data.value.shape, attrs, [c.value if c else None for c in inputs])
    return data.apply(lambda a: a.reshape(shape))


def layout_shape(op: str, shape: tuple[int, ...], attrs: dict, inputs: list) -> tuple[int, ...]:
    """Output shape of a shape-only op (Reshape/Flatten/Squeeze/Unsqueeze).

    ``inputs`` holds the constant values of the op's inputs (the target shape or axes of
    opset >= 13) or ``None``.
    """
    rank = len(shape)
    if op == "Reshape":
        target = [int(v) for v in np.asarray(inputs[1]).reshape(-1)]
        allow_zero = attrs.get("allowzero", 0)
        out = [shape[i] if (v == 0 and not allow_zero) else v for i, v in enumerate(target)]
        if -1 in out:
            known = int(np.prod([v for v in out if v != -1]))
            out[out.index(-1)] = int(np.prod(shape)) // max(known, 1)
        return tuple(out)
    if op == "Flatten":
        axis = attrs.get("axis", 1) % (rank + 1) if rank else 0
        return (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))
    if op == "Squeeze":
        axes = _axes(attrs, inputs)
        if axes is None:
            return tuple(d for d in shape if d != 1)
        axes = {a % rank for a in axes}
        return tuple(d for i, d in enumerate(shape) if i not in axes)
    if op == "Unsqueeze":
        axes = _axes(attrs, inputs) or []
        axes = sorted(a % (rank + len(axes)) for a in axes)
        out = list(shape)
        for a in axes:
            out.insert(a, 1)
        return tuple(out)
    raise ValueError(f"not a shape op: {op}")


def _axes(attrs: dict, inputs: list) -> list[int] | None:
    if "axes" in attrs:
        return [int(a) for a in attrs["axes"]]
    if len(inputs) > 1 and inputs[1] is not None:
        return [int(a) for a in np.asarray(inputs[1]).reshape(-1)]
    return None


def _dequantize(inputs: list[ConstValue | None], attrs: dict) -> ConstValue:
    q = np.asarray(inputs[0].value).astype(np.int64)
    axis = attrs.get("axis", 1) % max(q.ndim, 1)
    scale = _per_axis(np.asarray(inputs[1].value, dtype=np.float64), q, axis)
    zp_in = inputs[2].value if len(inputs) > 2 and inputs[2] is not None else np.zeros(())
    zp = _per_axis(np.asarray(zp_in).astype(np.int64), q, axis)
    return ConstValue((q - zp) * scale, q, scale, zp)


def _per_axis(param: np.ndarray, q: np.ndarray, axis: int) -> np.ndarray:
    """A per-tensor or per-axis DequantizeLinear parameter broadcast to ``q.shape``."""
    if param.ndim == 1 and param.size > 1 and q.ndim > 1:
        view = [1] * q.ndim
        view[axis] = param.size
        param = param.reshape(view)
    return np.broadcast_to(param, q.shape).copy()


def _real(array: np.ndarray) -> np.ndarray:
    return array.astype(np.float64) if np.issubdtype(array.dtype, np.floating) else array


def initializer_value(tensor: onnx.TensorProto) -> ConstValue:
    return ConstValue(_real(numpy_helper.to_array(tensor)))
