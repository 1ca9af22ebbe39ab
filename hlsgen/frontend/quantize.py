"""Post-training quantization: a lowered graph (real weights, maybe QDQ parameters) -> IR.

What a QDQ model fixes is kept: activation scales and zero points, integer weights with
per-channel scales, int32 biases.  Everything else is chosen here, for a float model all of it:

* weights: per-output-channel symmetric int8, ``s_w[c] = max|W[c]| / 127``;
* biases: ``round(b / (s_in * s_w[c]))`` in accumulator units (int64, int32 in practice);
* activations: asymmetric int8 over a range ``[lo, hi]`` (widened to hold 0) from the
  calibration samples (min/max of the float model's own activations), or from the data-free
  estimate of :mod:`hlsgen.frontend.synthetic`; after a ReLU ``lo == 0`` so the zero point is
  -128 and the ReLU costs nothing but the clamp;
* requantization: the real multiplier ``M`` (``s_in * s_w[c] / s_out``; pooling
  ``s_in / (s_out * KH * KW)``; add ``s_a / s_out`` and ``s_b / s_out`` with one shift) as
  ``multiplier * 2**-shift`` with ``multiplier`` of :data:`MULTIPLIER_BITS` significant bits;
  ReLU / ReLU6 / Clip and the output type's range become the clamp bounds.

Rounding is the IR's round-half-up everywhere in the integer datapath.  See
docs/quantization.md for the measured accuracy of each choice.
"""

from __future__ import annotations

import numpy as np
import onnx

from hlsgen import ir
from hlsgen.errors import QuantizationError
from hlsgen.frontend.lowered import (LAdd, LAvgPool, LConv, LDense, LLayer, LMaxPool,
                                     LoweredGraph, QParams)
from hlsgen.frontend.probe import source_activations
from hlsgen.frontend.synthetic import data_free_ranges

__all__ = [
    "MULTIPLIER_BITS",
    "Ranges",
    "quantize",
    "fixed_point",
    "activation_qparams",
    "quantize_weights",
    "calibration_ranges",
    "clamp_bounds",
]

# Significant bits of a requantization multiplier: float32's 24, the precision onnxruntime
# requantizes with.  Fewer bits measurably move results away from onnxruntime (16 bits: 98.3%
# end-to-end top-1 agreement on resnet8_int8 instead of 99.1%; docs/quantization.md).
MULTIPLIER_BITS = 24
# Largest requantization shift: 2**shift must be an int64 (the executor, the exported ONNX's
# divisor, the HLS and Verilog literals).  A smaller multiplier is below 2**-39: zero.
MAX_SHIFT = 62
# An output channel is *dead* when its requantization multiplier is below DEAD_MULTIPLIER
# (weight scale 0 or ~1e-30: trained networks have such filters after BatchNorm folding) and
# its weights can move its accumulator, in output units, by less than DEAD_CHANNEL_REACH: its
# weights are quantized as zeros of scale 1, so the channel outputs its requantized bias
# (instead of a bias and a shift beyond int64).  Zero weights of a normal scale are kept.
DEAD_CHANNEL_REACH = 2.0**-24
DEAD_MULTIPLIER = 2.0**-24
BIAS_LIMIT = 2**31  # |bias| in accumulator units (int32, as QDQ models store it)
WEIGHT_MAX = 127  # symmetric int8 weights: -127..127 (no -128, so negation stays in range)

Ranges = dict[str, tuple[float, float]]  # tensor name -> real (lo, hi)


def quantize(lowered: LoweredGraph, model: onnx.ModelProto,
             calibration: np.ndarray | None = None,
             data_free_input_range: tuple[float, float] | None = None) -> ir.Graph:
    """Choose what the model leaves open and return the integer IR graph."""
    missing = _needs_range(lowered)
    notes = list(lowered.notes)
    ranges: Ranges = {}
    if not missing:
        if calibration is not None or data_free_input_range is not None:
            raise QuantizationError(
                f"{lowered.name}: the model is already quantized (QDQ): its own scales and "
                "zero points are used, so --calibration / --input-range would be ignored; "
                "leave them out")
        notes.append("quantization: the model's own QuantizeLinear/DequantizeLinear parameters")
    else:
        notes.append("quantization chosen by hlsgen where the model fixes none: per-channel "
                     "symmetric int8 weights, asymmetric int8 activations")
        if calibration is not None:
            ranges = calibration_ranges(model, lowered, missing, calibration)
            notes.append(f"activation ranges: min/max over {len(calibration)} calibration "
                         "samples")
        elif data_free_input_range is not None:
            ranges = data_free_ranges(model, lowered, missing, data_free_input_range)
            lo, hi = data_free_input_range
            notes.append(f"activation ranges: data-free estimate for inputs in [{lo:g}, {hi:g}]")
        else:
            raise QuantizationError(
                f"{lowered.name}: {len(missing)} activation tensor(s) have no quantization "
                f"parameters (e.g. '{missing[0]}'), as in a float model; pass calibration "
                "samples (--calibration) or the input value range for a data-free import "
                "(e.g. --input-range 0 255)")
    qparams = _all_qparams(lowered, ranges)
    tensors = {name: ir.Tensor(name, t.shape, qparams[name].dtype, qparams[name].scale,
                               qparams[name].zero_point)
               for name, t in lowered.tensors.items()}
    # A QDQ model's integer semantics are onnxruntime's: QuantizeLinear rounds ties to even.
    # Where hlsgen picks the quantization itself, the cheaper half-up rounding is used.
    rounding = ir.Rounding.HALF_EVEN if not missing else ir.Rounding.HALF_UP
    layers = tuple(_ir_layer(layer, tensors, rounding, notes) for layer in lowered.layers)
    return ir.Graph(
        name=lowered.name,
        input=lowered.input,
        output=lowered.output,
        tensors=tensors,
        layers=layers,
        input_permutation=np.asarray(lowered.input_permutation, dtype=np.int64),
        output_source=lowered.output_source,
        source_input_dtype=lowered.source_input_dtype,
        notes=tuple(notes),
    )


# -- activations ----------------------------------------------------------------------------
def _needs_range(lowered: LoweredGraph) -> list[str]:
    """Tensors without quantization parameters, except MaxPool outputs (they inherit)."""
    pooled = {layer.output for layer in lowered.layers if isinstance(layer, LMaxPool)}
    return [name for name, t in lowered.tensors.items()
            if t.qparams is None and name not in pooled]


def calibration_ranges(model: onnx.ModelProto, lowered: LoweredGraph, names: list[str],
                       samples: np.ndarray) -> Ranges:
    """Min/max of each tensor over ``samples`` (rows in the model's input layout) as the
    float model computes it."""
    samples = np.asarray(samples)
    if samples.ndim == 0 or len(samples) == 0:
        raise QuantizationError(f"{lowered.name}: the calibration array holds no samples")
    onnx_names = [lowered.source_input if n == lowered.input else n for n in names]
    lo = {n: np.inf for n in names}
    hi = {n: -np.inf for n in names}
    for values in source_activations(model, onnx_names, samples):
        for name, onnx_name in zip(names, onnx_names):
            v = values[onnx_name]
            lo[name] = min(lo[name], float(np.min(v)))
            hi[name] = max(hi[name], float(np.max(v)))
    return {n: (lo[n], hi[n]) for n in names}


def activation_qparams(lo: float, hi: float, dtype: ir.DType = ir.DType.INT8) -> QParams:
    """Asymmetric 8-bit parameters covering [lo, hi] (widened to contain 0, so that zero and
    zero padding are exact)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise QuantizationError(f"activation range [{lo}, {hi}] is not finite")
    if hi - lo < 1e-30:  # (numerically) always zero: any scale holds it exactly
        return QParams(1.0, dtype.qmin if lo == 0.0 else 0, dtype)
    scale = (hi - lo) / (dtype.qmax - dtype.qmin)
    zero_point = int(np.clip(np.round(dtype.qmin - lo / scale), dtype.qmin, dtype.qmax))
    return QParams(float(np.float32(scale)), zero_point, dtype)


def _all_qparams(lowered: LoweredGraph, ranges: Ranges) -> dict[str, QParams]:
    out = {}
    for name, t in lowered.tensors.items():
        if t.qparams is not None:
            out[name] = t.qparams
        elif name in ranges:
            out[name] = activation_qparams(*ranges[name])
    for layer in lowered.layers:  # topological: a MaxPool's input is known before it
        if isinstance(layer, LMaxPool):
            out.setdefault(layer.output, out[layer.input])
            if out[layer.output] != out[layer.input]:
                raise QuantizationError(f"MaxPool '{layer.source[0]}': output quantization "
                                        "differs from its input's")
    return out


# -- weights and multipliers ----------------------------------------------------------------
def quantize_weights(real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel (axis 0) symmetric int8: (q int64, scale float64 [Cout])."""
    flat = real.reshape(real.shape[0], -1)
    peak = np.abs(flat).max(axis=1) if flat.shape[1] else np.zeros(real.shape[0])
    scale = np.where(peak > 0, peak / WEIGHT_MAX, 1.0)
    q = np.clip(np.round(flat / scale[:, None]), -WEIGHT_MAX, WEIGHT_MAX).astype(np.int64)
    return q.reshape(real.shape), scale


def fixed_point(real: np.ndarray, bits: int = MULTIPLIER_BITS,
                where: str = "") -> tuple[np.ndarray, np.ndarray]:
    """``real ≈ multiplier * 2**-shift`` per entry, ``multiplier < 2**bits`` with ``bits``
    significant bits, ``shift >= 1``; a zero multiplier is (0, 1)."""
    real = np.asarray(real, dtype=np.float64).reshape(-1)
    mult = np.zeros(real.shape, dtype=np.int64)
    shift = np.ones(real.shape, dtype=np.int64)
    for i, r in enumerate(real.tolist()):
        if r < 0 or not np.isfinite(r):
            raise QuantizationError(f"{where}: requantization multiplier {r} is not a "
                                    "non-negative number")
        if r == 0:
            continue
        s = bits - 1 - int(np.floor(np.log2(r)))
        m = int(np.floor(r * 2.0**s + 0.5))
        if m >= 1 << bits:  # rounding carried into a new bit
            m, s = m >> 1, s - 1
        if s > MAX_SHIFT:  # r < 2**-39: zero for any accumulator below 2**38
            while s > MAX_SHIFT and m:
                m, s = m >> 1, s - 1
            if not m:
                continue
        if s < 1:
            raise QuantizationError(f"{where}: requantization multiplier {r:g} is too large "
                                    "(needs a left shift); check the scales")
        mult[i], shift[i] = m, s
    return mult, shift


def _common_shift(reals: list[np.ndarray], bits: int, where: str):
    """Several multipliers sharing one shift (the larger gets ``bits`` significant bits)."""
    _, shift = fixed_point(np.maximum(*reals), bits, where)
    mults = [np.floor(r * 2.0**shift + 0.5).astype(np.int64) for r in reals]
    return mults, shift


def clamp_bounds(clamp: tuple[float, float], out: QParams) -> tuple[int, int]:
    """Integer clamp bounds of real bounds ``clamp`` on tensor ``out`` (as QuantizeLinear
    would quantize them: float32 division, round half to even, saturate)."""
    qmin, qmax = out.dtype.qmin, out.dtype.qmax
    lo, hi = qmin, qmax
    if np.isfinite(clamp[0]):
        lo = max(qmin, out.zero_point + int(np.rint(np.float32(clamp[0]) / np.float32(out.scale))))
    if np.isfinite(clamp[1]):
        hi = min(qmax, out.zero_point + int(np.rint(np.float32(clamp[1]) / np.float32(out.scale))))
    if lo > hi:
        raise QuantizationError(f"clamp {clamp} is empty on the output range")
    return lo, hi


# -- layers ---------------------------------------------------------------------------------
def _ir_layer(layer: LLayer, tensors: dict[str, ir.Tensor], rounding: ir.Rounding,
              notes: list[str]) -> ir.Layer:
    if isinstance(layer, LMaxPool):
        return ir.MaxPool(layer.name, layer.source, layer.input, layer.output, layer.kernel,
                          layer.stride, layer.pads)
    out = tensors[layer.output]
    qout = QParams(out.scale, out.zero_point, out.dtype)
    lo, hi = clamp_bounds(layer.clamp, qout)
    where = f"{layer.kind.value} '{layer.name}' ({layer.source[0]})"
    if isinstance(layer, LAdd):
        a, b = tensors[layer.input_a], tensors[layer.input_b]
        channels = out.shape[2]
        reals = [np.full(channels, a.scale / out.scale), np.full(channels, b.scale / out.scale)]
        (mult_a, mult_b), shift = _common_shift(reals, MULTIPLIER_BITS, where)
        requant = ir.Requant(np.ones(channels, dtype=np.int64), shift, out.zero_point, lo, hi,
                             rounding)
        return ir.Add(layer.name, layer.source, layer.input_a, layer.input_b, layer.output,
                      mult_a, mult_b, requant)
    src = tensors[layer.input]
    if isinstance(layer, LAvgPool):
        count = layer.kernel[0] * layer.kernel[1]
        real = np.full(out.shape[2], src.scale / (out.scale * count))
        mult, shift = fixed_point(real, MULTIPLIER_BITS, where)
        return ir.AvgPool(layer.name, layer.source, layer.input, layer.output, layer.kernel,
                          layer.stride, ir.Requant(mult, shift, out.zero_point, lo, hi,
                                                   rounding))
    weight, w_scale = _layer_weights(layer)
    weight, w_scale, dead = _zero_dead_channels(weight, w_scale, src, out)
    if dead:
        notes.append(f"{where}: {len(dead)} dead output channel(s) {_channel_list(dead)} "
                     "(weights ~0) quantized as zero channels")
    acc_scale = src.scale * w_scale
    bias = _layer_bias(layer, acc_scale, where)
    mult, shift = fixed_point(acc_scale / out.scale, MULTIPLIER_BITS, where)
    requant = ir.Requant(mult, shift, out.zero_point, lo, hi, rounding)
    if isinstance(layer, LConv):
        return ir.Conv(layer.name, layer.source, layer.input, layer.output, weight, bias,
                       layer.stride, layer.pads, layer.groups, requant)
    assert isinstance(layer, LDense)
    return ir.Dense(layer.name, layer.source, layer.input, layer.output, weight, bias, requant)


def _layer_weights(layer: LConv | LDense) -> tuple[np.ndarray, np.ndarray]:
    if layer.weight.q is not None:
        return layer.weight.q.astype(np.int64), layer.weight.scale.astype(np.float64)
    return quantize_weights(layer.weight.real)


def _zero_dead_channels(weight: np.ndarray, w_scale: np.ndarray, src: ir.Tensor,
                        out: ir.Tensor) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Weights and scales with dead output channels (see :data:`DEAD_CHANNEL_REACH`) set to
    zero weights of scale 1; the list of those channels."""
    flat = weight.reshape(weight.shape[0], -1)
    span = src.dtype.qmax - src.dtype.qmin
    with np.errstate(over="ignore", invalid="ignore"):
        multiplier = w_scale * (src.scale / out.scale)
        reach = multiplier * np.abs(flat).sum(axis=1).astype(np.float64) * span
    dead_mask = ~(reach >= DEAD_CHANNEL_REACH) & ~(multiplier >= DEAD_MULTIPLIER)
    dead = [int(c) for c in np.flatnonzero(dead_mask)]
    if not dead:
        return weight, w_scale, []
    weight, w_scale = weight.copy(), w_scale.astype(np.float64).copy()
    weight[dead] = 0
    w_scale[dead] = 1.0
    return weight, w_scale, dead


def _channel_list(channels: list[int]) -> str:
    shown = ", ".join(map(str, channels[:8]))
    return f"[{shown}{', ...' if len(channels) > 8 else ''}]"


def _layer_bias(layer: LConv | LDense, acc_scale: np.ndarray, where: str) -> np.ndarray:
    """The stored int32 bias when its scale is the accumulator's (QDQ models), else the real
    bias rounded to accumulator units."""
    bias = layer.bias
    if bias.q is not None and np.allclose(bias.scale, acc_scale, rtol=1e-5, atol=0):
        return bias.q.astype(np.int64)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        units = np.floor(bias.real / acc_scale + 0.5)
    bad = np.flatnonzero(~(np.abs(units) <= BIAS_LIMIT))
    if len(bad):
        c = int(bad[0])
        raise QuantizationError(
            f"{where}: the bias of output channel {c} is {bias.real[c]:g}, "
            f"{abs(units[c]):.3g} accumulator units (input scale x weight scale "
            f"{acc_scale[c]:.3g}), beyond the int32 range (2**31) of a bias; "
            f"{len(bad)} channel(s) are affected; check the bias and weight values")
    return units.astype(np.int64)
