"""The numpy executor: runs an IR graph exactly in int64, following the :mod:`hlsgen.ir` docstring.

Activations travel as int64 ``[N, H*W, C]`` (pixels in raster order).  Matrix products use
float64 BLAS when that is provably exact -- every partial sum of ``|w| * |x|`` stays below
2**53, checked from the actual weights and data -- and int64 otherwise.  Samples run in
chunks so that the largest window table stays within a fixed memory budget.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hlsgen import ir
from hlsgen.errors import DataError, QuantizationError
from hlsgen.reference.windows import window_pixels

__all__ = ["execute", "run_layer", "quantize_input", "quantize_linear", "requantize",
           "EXACT_FLOAT_LIMIT"]

EXACT_FLOAT_LIMIT = 1 << 53  # every integer below this is a float64, so are sums below it
_EXACT_FLOAT32_LIMIT = 1 << 24  # the same for float32 (twice the GEMM speed, half the memory)
_INT64_LIMIT = 1 << 63
_CHUNK_BYTES = 192 << 20  # per-layer working set budget
_MAXPOOL_PAD = np.iinfo(np.int64).min  # below every activation: a padded tap never wins


def execute(graph: ir.Graph, x_ir: np.ndarray, return_all: bool = False, *,
            progress: Callable[[int], None] | None = None):
    """Run ``graph`` on ``x_ir`` (int64 [N, H*W*C], IR input order).

    Returns int64 [N, H, W, C] of ``graph.output``; with ``return_all`` a dict from every
    tensor name (the input included) to its int64 [N, H, W, C] values.  ``progress(k)`` is
    called after every chunk of ``k`` samples.
    """
    x = _check_input(graph, x_ir)
    n = x.shape[0]
    chunk = max(1, _CHUNK_BYTES // max(1, _bytes_per_sample(graph)))
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, max(n, 1), chunk):
        values = _run(graph, x[start : start + chunk], keep_all=return_all)
        parts.append(values)
        if progress is not None:
            progress(len(values[graph.input] if return_all else values[graph.output]))
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
    if np.issubdtype(flat.dtype, np.floating):
        if not np.isfinite(flat).all():
            raise DataError(f"input data for '{graph.input}' contains NaN or infinity; "
                            "clean the data before quantizing it")
        q = quantize_linear(flat, tensor)
    elif np.issubdtype(flat.dtype, np.integer):
        q = flat.astype(np.int64)
        _check_range(q, tensor, "input data")
    else:
        raise DataError(f"input data has dtype {flat.dtype}; expected float or integer samples "
                        f"for model input '{graph.input}'")
    return np.ascontiguousarray(q[:, np.asarray(graph.input_permutation)])


def quantize_linear(values: np.ndarray, tensor: ir.Tensor) -> np.ndarray:
    """ONNX QuantizeLinear as onnxruntime computes it: float32 ``values / scale``, round half
    to even, add the zero point, saturate to the tensor's type.  Returns int64."""
    qmin, qmax, zp = tensor.dtype.qmin, tensor.dtype.qmax, tensor.zero_point
    scaled = np.asarray(values, dtype=np.float32) / np.float32(tensor.scale)
    # Clamping before rounding equals saturating after it: the bounds are integers.
    return np.rint(np.clip(scaled, qmin - zp, qmax - zp)).astype(np.int64) + zp


def requantize(acc: np.ndarray, requant: ir.Requant, where: str) -> np.ndarray:
    """``clamp(((acc * m) + (1 << (s - 1))) >> s + zp, lo, hi)`` per channel (last axis);
    ties to even instead with ``Rounding.HALF_EVEN`` (see :mod:`hlsgen.ir`)."""
    mult = requant.multiplier.astype(np.int64)
    shift = requant.shift.astype(np.int64)
    _check_no_overflow(acc, mult, shift, where)
    y = acc * mult
    if requant.rounding is ir.Rounding.HALF_EVEN:  # ties to even: +1 only when floor is odd
        y += (np.int64(1) << (shift - 1)) - 1 + ((y >> shift) & 1)
    else:
        y += np.int64(1) << (shift - 1)
    y >>= shift
    y += requant.zero_point
    np.maximum(y, requant.lo, out=y)
    return np.minimum(y, requant.hi, out=y)


def run_layer(graph: ir.Graph, layer: ir.Layer, values: dict[str, np.ndarray]) -> np.ndarray:
    """One layer on int64 activations ``values[name]`` of shape [N, H*W, C]; returns the
    output as int64 [N, Ho*Wo, Cout] (no chunking: callers bound N themselves)."""
    return _LAYER_FUNCS[layer.kind](graph, layer, values)


# -- layers ---------------------------------------------------------------------------------
def _run(graph: ir.Graph, x: np.ndarray, keep_all: bool) -> dict[str, np.ndarray]:
    h, w, c = graph.tensor(graph.input).shape
    values = {graph.input: x.reshape(x.shape[0], h * w, c)}
    last_use = _last_use(graph)
    for index, layer in enumerate(graph.layers):
        values[layer.output] = run_layer(graph, layer, values)
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
    index = window_pixels(ir.window(layer, src.shape))  # [P, K]
    pixels, taps = index.shape
    cig, cog = cin // groups, cout // groups
    weight = layer.weight.astype(np.int64)
    if cig == 1 and cog == 1:  # depthwise: one multiply-accumulate per tap, no im2col
        per_tap = weight.reshape(cout, taps).T  # [K, C]
        dtype = _product_dtype(_max_abs(xc), per_tap)  # bounds the sum over taps
        padded = _pad_pixel(xc.astype(dtype), 0)
        acc = np.zeros((n, pixels, cout), dtype=dtype)
        for k in range(taps):
            acc += np.take(padded, index[:, k], axis=1) * per_tap[k].astype(dtype)
        acc = acc.astype(np.int64)
    else:
        mat = weight.reshape(groups, cog, taps * cig).transpose(0, 2, 1)  # [G, K*cig, cog]
        dtype = _product_dtype(_max_abs(xc), mat)
        if taps == 1 and np.array_equal(index[:, 0], np.arange(h * w)):
            cols = xc.astype(dtype)  # 1x1, stride 1, no padding: the input is its own im2col
        else:
            cols = np.take(_pad_pixel(xc.astype(dtype), 0), index, axis=1)  # [N, P, K, Cin]
        if groups == 1:  # one big GEMM: [N*P, K*Cin] @ [K*Cin, Cout]
            acc = cols.reshape(n * pixels, taps * cin) @ mat[0].astype(dtype)
        else:  # [G, N*P, K*cig] @ [G, K*cig, cog]
            cols = cols.reshape(n * pixels, taps, groups, cig).transpose(2, 0, 1, 3)
            acc = np.matmul(cols.reshape(groups, n * pixels, taps * cig), mat.astype(dtype))
            acc = acc.transpose(1, 0, 2)
        acc = acc.reshape(n, pixels, cout).astype(np.int64)
    return requantize(acc + layer.bias.astype(np.int64), layer.requant, f"Conv '{layer.name}'")


def _dense(graph: ir.Graph, layer: ir.Dense, values) -> np.ndarray:
    src = graph.tensor(layer.input)
    xc = values[layer.input].reshape(-1, src.size) - src.zero_point
    mat = layer.weight.astype(np.int64).T
    dtype = _product_dtype(_max_abs(xc), mat)
    acc = (xc.astype(dtype) @ mat.astype(dtype)).astype(np.int64)
    acc = acc + layer.bias.astype(np.int64)
    return requantize(acc, layer.requant, f"Dense '{layer.name}'")[:, None, :]


def _maxpool(graph: ir.Graph, layer: ir.MaxPool, values) -> np.ndarray:
    index = window_pixels(ir.window(layer, graph.tensor(layer.input).shape))
    return np.take(_pad_pixel(values[layer.input], _MAXPOOL_PAD), index, axis=1).max(axis=2)


def _avgpool(graph: ir.Graph, layer: ir.AvgPool, values) -> np.ndarray:
    src = graph.tensor(layer.input)
    index = window_pixels(ir.window(layer, src.shape))
    acc = np.take(values[layer.input] - src.zero_point, index, axis=1).sum(axis=2)
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
def _product_dtype(max_abs_x: int, mat: np.ndarray) -> type:
    """The narrowest of float32/float64 in which ``x @ mat`` is provably exact, else int64.

    Every partial sum of a row of ``x @ mat`` is at most ``max|x| * sum|column|``; below
    2**24 (2**53) every such integer is a float32 (float64), so the product computed by BLAS
    is exact whatever order it sums in.
    """
    column_sums = np.abs(mat).sum(axis=-2) if mat.size else np.zeros(1, dtype=np.int64)
    bound = max_abs_x * int(column_sums.max(initial=0))  # Python int: no wrap-around
    if bound < _EXACT_FLOAT32_LIMIT:
        return np.float32
    if bound < EXACT_FLOAT_LIMIT:
        return np.float64
    if bound >= _INT64_LIMIT:
        raise QuantizationError(
            f"a matrix product can reach {bound} (>= 2**63) and would overflow int64; "
            "use smaller weights (fewer fractional bits in the decomposition)")
    return np.int64


def _pad_pixel(x: np.ndarray, value) -> np.ndarray:
    """[N, H*W, C] -> [N, H*W + 1, C] with the pad pixel (see windows.py) set to ``value``."""
    pad = np.full((x.shape[0], 1, x.shape[2]), value, dtype=x.dtype)
    return np.concatenate([x, pad], axis=1)


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
        if layer.kind in (ir.LayerKind.CONV, ir.LayerKind.MAXPOOL, ir.LayerKind.AVGPOOL):
            win = ir.window(layer, src.shape)
            peak = max(peak, win.ho * win.wo * win.taps * src.shape[2])
        else:
            peak = max(peak, src.size, graph.tensor(layer.output).size)
    return 8 * 3 * peak
