"""The numpy executor: runs an IR graph exactly in int64, following the :mod:`hlsgen.ir` docstring.

Activations travel as int64 ``[N, H*W, C]`` (pixels in raster order).  Matrix products use
float64 BLAS when that is provably exact -- every partial sum of ``|w| * |x|`` stays below
2**53, checked from the actual weights and data -- and int64 otherwise.  Samples run in
chunks so that the largest window table stays within a fixed memory budget.
"""

from __future__ import annotations

import numpy as np

from hlsgen import ir
from hlsgen.errors import DataError, QuantizationError
from hlsgen.reference.windows import output_hw, window_pixels

__all__ = ["execute", "quantize_input", "requantize", "EXACT_FLOAT_LIMIT"]

EXACT_FLOAT_LIMIT = 1 << 53  # every integer below this is a float64, so are sums below it
_INT64_LIMIT = 1 << 63
_CHUNK_BYTES = 192 << 20  # per-layer working set budget
_MAXPOOL_PAD = np.iinfo(np.int64).min  # below every activation: a padded tap never wins


def execute(graph: ir.Graph, x_ir: np.ndarray, return_all: bool = False):
    """Run ``graph`` on ``x_ir`` (int64 [N, H*W*C], IR input order).

    Returns int64 [N, H, W, C] of ``graph.output``; with ``return_all`` a dict from every
    tensor name (the input included) to its int64 [N, H, W, C] values.
    """
    x = _check_input(graph, x_ir)
    n = x.shape[0]
    chunk = max(1, _CHUNK_BYTES // max(1, _bytes_per_sample(graph)))
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, max(n, 1), chunk):
        values = _run(graph, x[start : start + chunk], keep_all=return_all)
        parts.append(values)
    if not return_all:
        out = np.concatenate([p[graph.output] for p in parts], axis=0)
        return out.reshape((n,) + graph.tensor(graph.output).shape)
    return {
        name: np.concatenate([p[name] for p in parts], axis=0).reshape(
            (n,) + graph.tensor(name).shape)
        for name in parts[0]
    }


def quantize_input(graph: ir.Graph, x_source: np.ndarray) -> np.ndarray:
    """Source-layout samples -> IR input int64 [N, H*W*C].

    Float data is quantized with the input tensor's scale and zero point exactly as ONNX
    QuantizeLinear does in onnxruntime (float32 division, round half to even, saturate);
    integer data must already lie in the input type's range.  The result is permuted with
    ``graph.input_permutation``.
    """
    tensor = graph.tensor(graph.input)
    x = np.asarray(x_source)
    if x.ndim == 0 or x.shape[0] == 0:
        raise DataError(f"input data of shape {x.shape} holds no samples; expected one row per "
                        f"sample of {tensor.size} values for model input '{graph.input}'")
    flat = x.reshape(x.shape[0], -1)
    if flat.shape[1] != tensor.size:
        raise DataError(
            f"input data of shape {x.shape} has {flat.shape[1]} values per sample, but model "
            f"input '{graph.input}' needs {tensor.size} (shape {tensor.shape}); pass samples "
            f"in the source model's input layout")
    qmin, qmax = tensor.dtype.qmin, tensor.dtype.qmax
    if np.issubdtype(flat.dtype, np.floating):
        values = flat.astype(np.float32)
        if not np.isfinite(values).all():
            raise DataError(f"input data for '{graph.input}' contains NaN or infinity; "
                            "clean the data before quantizing it")
        scaled = values / np.float32(tensor.scale)
        zp = tensor.zero_point
        q = np.rint(np.clip(scaled, qmin - zp, qmax - zp)).astype(np.int64) + zp
    elif np.issubdtype(flat.dtype, np.integer):
        q = flat.astype(np.int64)
        _check_range(q, tensor, "input data")
    else:
        raise DataError(f"input data has dtype {flat.dtype}; expected float or integer samples "
                        f"for model input '{graph.input}'")
    return np.ascontiguousarray(q[:, np.asarray(graph.input_permutation)])


def requantize(acc: np.ndarray, requant: ir.Requant, where: str) -> np.ndarray:
    """``clamp(((acc * m) + (1 << (s - 1))) >> s + zp, lo, hi)`` per channel (last axis)."""
    mult = requant.multiplier.astype(np.int64)
    shift = requant.shift.astype(np.int64)
    _check_no_overflow(acc, mult, shift, where)
    rounded = (acc * mult + (np.int64(1) << (shift - 1))) >> shift
    return np.clip(rounded + requant.zero_point, requant.lo, requant.hi)


# -- layers ---------------------------------------------------------------------------------
def _run(graph: ir.Graph, x: np.ndarray, keep_all: bool) -> dict[str, np.ndarray]:
    h, w, c = graph.tensor(graph.input).shape
    values = {graph.input: x.reshape(x.shape[0], h * w, c)}
    last_use = _last_use(graph)
    for index, layer in enumerate(graph.layers):
        values[layer.output] = _LAYER_FUNCS[layer.kind](graph, layer, values)
        if not keep_all:  # free what no later layer reads
            for name in [t for t in values if last_use.get(t, -1) <= index]:
                if name != layer.output:
                    del values[name]
    return values


def _conv(graph: ir.Graph, layer: ir.Conv, values) -> np.ndarray:
    src = graph.tensor(layer.input)
    (h, w, cin), cout, groups = src.shape, layer.weight.shape[0], layer.groups
    xc = values[layer.input] - src.zero_point
    n = xc.shape[0]
    padded = np.concatenate([xc, np.zeros((n, 1, cin), dtype=np.int64)], axis=1)
    index = window_pixels((h, w), layer.kernel, layer.stride, layer.pads)  # [P, K]
    cols = padded[:, index, :]  # [N, P, K, Cin]
    pixels, taps = index.shape
    cig, cog = cin // groups, cout // groups
    weight = layer.weight.astype(np.int64)
    if cig == 1 and cog == 1:  # depthwise: an elementwise product beats G tiny matmuls
        acc = (cols * weight.reshape(cout, taps).T).sum(axis=2)
    else:
        cols = cols.reshape(n, pixels, taps, groups, cig).transpose(0, 3, 1, 2, 4)
        cols = cols.reshape(n, groups, pixels, taps * cig)
        mat = weight.reshape(groups, cog, taps * cig).transpose(0, 2, 1)  # [G, K*cig, cog]
        acc = _matmul(cols, mat, _max_abs(xc))  # [N, G, P, cog]
        acc = acc.transpose(0, 2, 1, 3).reshape(n, pixels, cout)
    return requantize(acc + layer.bias.astype(np.int64), layer.requant, f"Conv '{layer.name}'")


def _dense(graph: ir.Graph, layer: ir.Dense, values) -> np.ndarray:
    src = graph.tensor(layer.input)
    xc = values[layer.input].reshape(-1, src.size) - src.zero_point
    acc = _matmul(xc, layer.weight.astype(np.int64).T, _max_abs(xc))
    acc = acc + layer.bias.astype(np.int64)
    return requantize(acc, layer.requant, f"Dense '{layer.name}'")[:, None, :]


def _maxpool(graph: ir.Graph, layer: ir.MaxPool, values) -> np.ndarray:
    h, w, c = graph.tensor(layer.input).shape
    x = values[layer.input]
    pad = np.full((x.shape[0], 1, c), _MAXPOOL_PAD, dtype=np.int64)
    index = window_pixels((h, w), layer.kernel, layer.stride, layer.pads)
    return np.concatenate([x, pad], axis=1)[:, index, :].max(axis=2)


def _avgpool(graph: ir.Graph, layer: ir.AvgPool, values) -> np.ndarray:
    src = graph.tensor(layer.input)
    h, w, _ = src.shape
    index = window_pixels((h, w), layer.kernel, layer.stride)
    acc = (values[layer.input] - src.zero_point)[:, index, :].sum(axis=2)
    return requantize(acc, layer.requant, f"AvgPool '{layer.name}'")


def _add(graph: ir.Graph, layer: ir.Add, values) -> np.ndarray:
    a, b = graph.tensor(layer.input_a), graph.tensor(layer.input_b)
    where = f"Add '{layer.name}'"
    acc_a = values[layer.input_a] - a.zero_point
    acc_b = values[layer.input_b] - b.zero_point
    _check_no_overflow(acc_a, layer.mult_a.astype(np.int64), np.ones(1, np.int64), where)
    _check_no_overflow(acc_b, layer.mult_b.astype(np.int64), np.ones(1, np.int64), where)
    acc = acc_a * layer.mult_a.astype(np.int64) + acc_b * layer.mult_b.astype(np.int64)
    return requantize(acc, layer.requant, where)


_LAYER_FUNCS = {
    ir.LayerKind.CONV: _conv,
    ir.LayerKind.DENSE: _dense,
    ir.LayerKind.MAXPOOL: _maxpool,
    ir.LayerKind.AVGPOOL: _avgpool,
    ir.LayerKind.ADD: _add,
}


# -- helpers --------------------------------------------------------------------------------
def _matmul(a: np.ndarray, b: np.ndarray, max_abs_a: int) -> np.ndarray:
    """Exact int64 ``a @ b``; float64 BLAS when no partial sum can reach 2**53."""
    column_sums = np.abs(b).sum(axis=-2) if b.size else np.zeros(1, dtype=np.int64)
    bound = max_abs_a * int(column_sums.max(initial=0))  # Python int: no wrap-around
    if bound < EXACT_FLOAT_LIMIT:
        return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.int64)
    if bound >= _INT64_LIMIT:
        raise QuantizationError(
            f"a matrix product can reach {bound} (>= 2**63) and would overflow int64; "
            "use smaller weights (fewer fractional bits in the decomposition)")
    return np.matmul(a, b)


def _max_abs(x: np.ndarray) -> int:
    return int(np.abs(x).max()) if x.size else 0


def _check_no_overflow(acc: np.ndarray, mult: np.ndarray, shift: np.ndarray, where: str):
    """``acc * mult + (1 << (shift - 1))`` must fit int64 for every channel."""
    if acc.size == 0:
        return
    peak = np.abs(acc).reshape(-1, acc.shape[-1]).max(axis=0)
    peak = np.broadcast_to(peak, mult.shape)
    shift = np.broadcast_to(shift, mult.shape)
    for channel, (p, m, s) in enumerate(zip(peak.tolist(), mult.tolist(), shift.tolist())):
        if p * m + (1 << (s - 1)) >= _INT64_LIMIT:
            raise QuantizationError(
                f"{where}: channel {channel}: accumulator {p} times multiplier {m} overflows "
                "int64; lower the multiplier (and shift) or the weight magnitude")


def _check_input(graph: ir.Graph, x_ir: np.ndarray) -> np.ndarray:
    tensor = graph.tensor(graph.input)
    x = np.asarray(x_ir)
    if x.ndim != 2 or x.shape[1] != tensor.size:
        raise DataError(f"IR input must be [N, {tensor.size}] (H*W*C of '{graph.input}' "
                        f"{tensor.shape}), got shape {x.shape}; use quantize_input() on "
                        "source-layout data")
    if not np.issubdtype(x.dtype, np.integer):
        raise DataError(f"IR input must be integers, got dtype {x.dtype}; use "
                        "quantize_input() to quantize float data")
    x = x.astype(np.int64)
    _check_range(x, tensor, "IR input")
    return x


def _check_range(q: np.ndarray, tensor: ir.Tensor, what: str) -> None:
    if q.size and (q.min() < tensor.dtype.qmin or q.max() > tensor.dtype.qmax):
        raise DataError(
            f"{what} has values in [{q.min()}, {q.max()}], outside the {tensor.dtype.value} "
            f"range [{tensor.dtype.qmin}, {tensor.dtype.qmax}] of '{tensor.name}'; pass data "
            "of the model's input type")


def _last_use(graph: ir.Graph) -> dict[str, int]:
    """Tensor -> index of the last layer reading it (the graph output is never freed)."""
    last = {graph.output: len(graph.layers)}
    for index, layer in enumerate(graph.layers):
        for name in layer.inputs:
            last[name] = max(last.get(name, -1), index)
    return last


def _bytes_per_sample(graph: ir.Graph) -> int:
    """Peak int64 bytes of one sample's largest window table (x3 for temporaries)."""
    peak = graph.tensor(graph.input).size
    for layer in graph.layers:
        src = graph.tensor(layer.inputs[0])
        h, w, c = src.shape
        if layer.kind in (ir.LayerKind.CONV, ir.LayerKind.MAXPOOL):
            ho, wo = output_hw((h, w), layer.kernel, layer.stride, layer.pads)
            kh, kw = layer.kernel
            peak = max(peak, ho * wo * kh * kw * c)
        elif layer.kind is ir.LayerKind.AVGPOOL:
            ho, wo = output_hw((h, w), layer.kernel, layer.stride)
            peak = max(peak, ho * wo * layer.kernel[0] * layer.kernel[1] * c)
        else:
            peak = max(peak, src.size, graph.tensor(layer.output).size)
    return 8 * 3 * peak
