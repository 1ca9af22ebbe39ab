"""Pure builders of lowered layers from ONNX node attributes and constants, and the folds into
them (bias Add, BatchNormalization, ReLU/Clip).

Everything here is arithmetic on shapes and constants; :mod:`.lower` decides which node feeds
which layer.  Weights leave here in IR order: Conv [Cout, KH, KW, Cin/g] (a 1-D conv is H == 1),
Dense [Cout, N] with columns in the IR input's (H, W, C) order.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hlsgen import ir
from hlsgen.frontend import layout
from hlsgen.frontend.fold import ConstValue
from hlsgen.frontend.lowered import (NO_CLAMP, LAvgPool, LBias, LConv, LDense, LLayer,
                                     LMaxPool, LWeight)
from hlsgen.frontend.qdq import QdqError, channel_vector

__all__ = [
    "NodeProblem",
    "conv_layer",
    "dense_layer",
    "pool_layer",
    "global_pool_layer",
    "with_bias",
    "with_batchnorm",
    "with_clamp",
    "bias_of",
]

Shape3 = tuple[int, int, int]


class NodeProblem(ValueError):
    """The node cannot be lowered; the message is the 'why' shown to the user."""


def conv_layer(source: str, input_name: str, in_shape: Shape3, weight: ConstValue,
               bias: ConstValue | None, attrs: dict, out_onnx: tuple) -> tuple[LConv, Shape3]:
    """A Conv (output name left empty) and its IR output shape."""
    rank = weight.value.ndim - 2
    if rank == 1:  # [Cout, Cin/g, K] -> IR [Cout, 1, K, Cin/g]
        weight = weight.apply(lambda a: a.transpose(0, 2, 1)[:, None])
    else:  # [Cout, Cin/g, KH, KW] -> IR [Cout, KH, KW, Cin/g]
        weight = weight.apply(lambda a: a.transpose(0, 2, 3, 1))
    cout, kh, kw, _ = weight.value.shape
    stride = tuple(int(s) for s in attrs.get("strides", [1] * rank))
    stride = (1, stride[0]) if rank == 1 else stride
    pads = layout.conv_pads(attrs, in_shape[:2], (kh, kw), stride, rank)
    ir_out = _out_shape(out_onnx, in_shape, (kh, kw), stride, pads, cout)
    layer = LConv("", (source,), input_name, "", _weight(weight), _bias(bias, cout, 1.0),
                  stride, pads, int(attrs.get("group", 1)))
    return layer, ir_out


def dense_layer(source: str, input_name: str, index: np.ndarray, weight: ConstValue,
                bias: ConstValue | None, alpha: float = 1.0, beta: float = 1.0) -> LDense:
    """``y = alpha * x @ W + beta * bias`` with W [N, O]; ``index[j]`` is the IR flat index
    of input element ``j`` (the permutation that undoes e.g. an NCHW flatten)."""
    if weight.value.ndim != 2 or weight.value.shape[0] != len(index):
        raise NodeProblem(f"weight shape {list(weight.value.shape)} does not match the input "
                          f"length {len(index)}")
    n_out = weight.value.shape[1]

    def to_ir(a: np.ndarray) -> np.ndarray:  # [N, O] -> [O, N] in IR column order
        full = np.zeros((n_out, len(index)), dtype=a.dtype)
        full[:, index] = a.T
        return full

    w = _weight(weight.apply(to_ir))
    if alpha != 1.0:
        w = LWeight(w.real * alpha, w.q, None if w.scale is None else w.scale * alpha)
    if bias is not None:
        bias = bias.apply(lambda a: np.broadcast_to(a, (1, n_out)).reshape(n_out).copy())
    return LDense("", (source,), input_name, "", w, _bias(bias, n_out, beta))


def pool_layer(op: str, source: str, input_name: str, in_shape: Shape3, attrs: dict,
               out_onnx: tuple) -> tuple[LMaxPool | LAvgPool, Shape3]:
    rank = len(out_onnx) - 2
    kernel = tuple(int(k) for k in attrs["kernel_shape"])
    stride = tuple(int(s) for s in attrs.get("strides", [1] * rank))
    kernel, stride = ((1,) + kernel, (1,) + stride) if rank == 1 else (kernel, stride)
    pads = layout.conv_pads(attrs, in_shape[:2], kernel, stride, rank)
    c = in_shape[2]
    if op == "MaxPool":  # ceil_mode == extra bottom/right padding, which never wins a max
        want = layout.spatial_ir_shape(out_onnx)
        top, left, bottom, right = pads
        bottom = max(bottom, (want[0] - 1) * stride[0] + kernel[0] - in_shape[0] - top)
        right = max(right, (want[1] - 1) * stride[1] + kernel[1] - in_shape[1] - left)
        pads = (top, left, bottom, right)
        ir_out = _out_shape(out_onnx, in_shape, kernel, stride, pads, c)
        return LMaxPool("", (source,), input_name, "", kernel, stride, pads), ir_out
    ir_out = _out_shape(out_onnx, in_shape, kernel, stride, (0, 0, 0, 0), c)
    return LAvgPool("", (source,), input_name, "", kernel, stride), ir_out


def global_pool_layer(source: str, input_name: str, in_shape: Shape3) -> tuple[LAvgPool, Shape3]:
    h, w, c = in_shape
    return LAvgPool("", (source,), input_name, "", (h, w), (h, w)), (1, 1, c)


def with_bias(layer: LLayer | None, const: ConstValue, out_onnx: tuple, source: str) -> LLayer:
    """Fold an Add of a constant (one value per output channel) into the layer's bias."""
    if not isinstance(layer, (LConv, LDense)) or layer.clamp != NO_CLAMP:
        raise NodeProblem("an Add of a constant is supported only as the bias of the Conv, "
                          "Gemm or MatMul right before it (and before its activation)")
    axis = 1 if isinstance(layer, LConv) else len(out_onnx) - 1
    try:
        full = const.apply(lambda v: np.broadcast_to(v, out_onnx))
        vec = ConstValue(*(None if arr is None else channel_vector(arr, axis, "bias")
                           for arr in (full.value, full.q, full.scale, full.zero_point)))
    except (ValueError, QdqError):
        raise NodeProblem(f"the constant {list(const.value.shape)} is not one bias value per "
                          "output channel") from None
    old = layer.bias
    if not old.real.any() and old.q is None:
        bias = bias_of(vec)
    else:  # two biases: keep the real sum, quantized later
        bias = LBias(old.real + vec.value)
    return replace(layer, bias=bias, source=layer.source + (source,))


def with_batchnorm(layer: LLayer | None, params: list[np.ndarray], epsilon: float,
                   source: str) -> LLayer:
    """Fold BatchNormalization (scale, B, mean, var) into the weights and bias."""
    if not isinstance(layer, (LConv, LDense)) or layer.clamp != NO_CLAMP:
        raise NodeProblem("BatchNormalization is supported only right after a Conv, Gemm or "
                          "MatMul (it is folded into its weights)")
    if layer.weight.q is not None:
        raise NodeProblem("cannot fold BatchNormalization into already quantized weights")
    gamma, beta, mean, var = (np.asarray(p, dtype=np.float64).reshape(-1) for p in params)
    factor = gamma / np.sqrt(var + epsilon)
    weight = layer.weight.real * factor.reshape((-1,) + (1,) * (layer.weight.real.ndim - 1))
    bias = (layer.bias.real - mean) * factor + beta
    return replace(layer, weight=LWeight(weight), bias=LBias(bias),
                   source=layer.source + (source,))


def with_clamp(layer: LLayer | None, lo: float, hi: float, op: str, source: str) -> LLayer:
    """Fold ReLU / Clip into the layer's real-valued clamp bounds."""
    if layer is None or isinstance(layer, LMaxPool):
        raise NodeProblem(f"{op} is supported only right after a Conv, Gemm/MatMul, "
                          "AveragePool or Add whose output it alone reads (it becomes that "
                          "layer's clamp)")
    clamp = (max(layer.clamp[0], lo), min(layer.clamp[1], hi))
    return replace(layer, clamp=clamp, source=layer.source + (source,))


def bias_of(vec: ConstValue) -> LBias:
    if not vec.quantized:
        return LBias(vec.value.astype(np.float64))
    return LBias(vec.value.astype(np.float64), vec.q - vec.zero_point,
                 vec.scale.astype(np.float64))


def _bias(const: ConstValue | None, n_out: int, beta: float) -> LBias:
    if const is None:
        return LBias(np.zeros(n_out))
    vec = const.apply(lambda a: a.reshape(-1))
    if vec.value.size != n_out:
        raise NodeProblem(f"bias has {vec.value.size} values for {n_out} outputs")
    bias = bias_of(vec)
    return bias if beta == 1.0 else LBias(bias.real * beta)


def _weight(const: ConstValue) -> LWeight:
    """IR-ordered weights (output channels on axis 0); a dequantized constant keeps its
    integers with the zero point folded in (the IR weight is any integer, so a non-zero weight
    zero point costs nothing)."""
    if not const.quantized:
        return LWeight(const.value.astype(np.float64))
    raw = np.asarray(const.scale, dtype=np.float64)
    bad = np.flatnonzero(~(raw.reshape(-1) >= 0) | ~np.isfinite(raw.reshape(-1)))
    if len(bad):
        raise NodeProblem(f"weight scale {raw.reshape(-1)[bad[0]]} is not a non-negative "
                          "number; re-export the quantized model")
    scale = channel_vector(const.scale, 0, "weight scale").astype(np.float64)
    return LWeight(const.value.astype(np.float64), const.q - const.zero_point, scale)


def _out_shape(out_onnx: tuple, in_shape: Shape3, kernel, stride, pads, channels) -> Shape3:
    window = ir.Window.of(in_shape[:2], kernel, stride, pads)
    h, w = window.ho, window.wo
    if layout.spatial_ir_shape(out_onnx) != (h, w, channels):
        raise NodeProblem(f"output shape {list(out_onnx)} does not follow from kernel {kernel}, "
                          f"stride {stride}, pads {pads} (unsupported padding mode?)")
    return (h, w, channels)
