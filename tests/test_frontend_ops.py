"""Every supported operator, lowered from small int8 QDQ models and held to *exact* equality
with onnxruntime.

The scales are powers of two chosen so that every requantization multiplier is 1 or 2:
onnxruntime's float requantization is then exact, no value is ever rounded, and the integer
IR must reproduce every tensor bit for bit -- any layout, padding, weight-order or
zero-point mistake shows up as a mismatch.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx_builders import GraphBuilder, layer_outputs_vs_ort

from hlsgen.frontend import import_model
from hlsgen.ir import DType, LayerKind
from hlsgen.verify_ir import verify

S_IN = 0.5  # activation scale in front of a layer
S_OUT = 0.125  # after it: s_in * s_w / s_out = 1 or 2 with s_w in {0.25, 0.5}


def qconv(b: GraphBuilder, x: str, cin: int, cout: int, kernel, rng, s_in=S_IN, groups=1,
          w_scales=(0.25, 0.5), **attrs) -> str:
    """A DQ'd-weight Conv with power-of-two weight scales (per channel from opset 13, when
    DequantizeLinear gained its axis) and an int32 bias."""
    kernel = tuple(kernel)
    w = rng.integers(-2, 3, size=(cout, cin // groups) + kernel)
    s_w = rng.choice(w_scales, size=cout) if b.opset >= 13 else np.float32(w_scales[0])
    bias = rng.integers(-20, 21, size=cout)
    return b.op("Conv", [x, b.qconst(w, s_w), b.qconst(bias, s_w * s_in, dtype=np.int32)],
                kernel_shape=list(kernel), group=groups, **attrs)


def int_input(b: GraphBuilder, shape, zp: int = 0) -> tuple[str, str]:
    x = b.input("x", shape, np.int8)
    return x, b.dequant(x, S_IN, zp)


def samples(rng, shape, count=6, lo=-6, hi=6, dtype=np.int8) -> np.ndarray:
    return rng.integers(lo, hi + 1, size=(count,) + tuple(shape[1:])).astype(dtype)


def hwc(b: GraphBuilder, q: str, rank: int = 4) -> str:
    """The model output in channels-last order (what the IR output is, as tf2onnx models end)."""
    return b.op("Transpose", [q], perm=[0, 2, 3, 1] if rank == 4 else [0, 2, 1])


def assert_exact(model, x, kinds=None):
    graph = import_model(model)
    verify(graph)
    if kinds is not None:
        assert [layer.kind for layer in graph.layers] == kinds
    for name, (ours, theirs) in layer_outputs_vs_ort(graph, model, x).items():
        assert np.array_equal(ours, theirs), f"tensor {name} differs from onnxruntime"
    return graph


@pytest.mark.parametrize("attrs", [
    dict(pads=[1, 1, 1, 1]),
    dict(pads=[0, 2, 1, 0], strides=[2, 1]),
    dict(auto_pad="SAME_UPPER", strides=[2, 2]),
    dict(auto_pad="SAME_LOWER", strides=[2, 2]),
    dict(auto_pad="VALID"),
])
def test_conv2d_padding_and_stride(attrs):
    rng = np.random.default_rng(1)
    b = GraphBuilder()
    _, x = int_input(b, [1, 3, 7, 6], zp=2)
    y = b.op("Relu", [qconv(b, x, 3, 5, (3, 2), rng, **attrs)])
    q, _ = b.requant(y, S_OUT, -100)
    model = b.build(hwc(b, q), np.int8)
    graph = assert_exact(model, samples(rng, [1, 3, 7, 6]), [LayerKind.CONV])
    assert graph.layers[0].requant.lo == -100  # the ReLU became the clamp at the zero point


@pytest.mark.parametrize("groups,cout", [(2, 4), (4, 4), (4, 8)])
def test_grouped_and_depthwise_conv(groups, cout):
    rng = np.random.default_rng(2)
    b = GraphBuilder()
    _, x = int_input(b, [1, 4, 5, 5])
    q, _ = b.requant(qconv(b, x, 4, cout, (3, 3), rng, groups=groups, pads=[1, 1, 1, 1]),
                     S_OUT, 3)
    graph = assert_exact(b.build(hwc(b, q), np.int8), samples(rng, [1, 4, 5, 5]))
    assert graph.layers[0].groups == groups
    assert graph.layers[0].name == ("dw0" if groups == cout == 4 else "conv0")


def test_conv1d():
    rng = np.random.default_rng(3)
    b = GraphBuilder()
    _, x = int_input(b, [1, 3, 12])
    y = qconv(b, x, 3, 4, (3,), rng, pads=[1, 0], strides=[2])
    q, _ = b.requant(b.op("Relu", [y]), S_OUT, -128)
    graph = assert_exact(b.build(hwc(b, q, 3), np.int8), samples(rng, [1, 3, 12]))
    assert graph.tensor(q).shape == (1, 6, 4)
    assert graph.layers[0].weight.shape == (4, 1, 3, 3)


@pytest.mark.parametrize("layout", ["transpose", "reshape"])
def test_nhwc_input(layout):
    """An NHWC input reaches the first Conv through a Transpose (or a Reshape when C == 1);
    the IR input keeps the source order and input_permutation says so."""
    rng = np.random.default_rng(4)
    b = GraphBuilder()
    c = 3 if layout == "transpose" else 1
    x = b.input("x", [1, 6, 5, c], np.int8)
    if layout == "transpose":
        nchw = b.op("Transpose", [x], perm=[0, 3, 1, 2])
    else:
        nchw = b.op("Reshape", [x, b.const(np.array([1, 1, 6, 5], dtype=np.int64))])
    y = qconv(b, b.dequant(nchw, S_IN, 0), c, 4, (3, 3), rng, pads=[1, 1, 1, 1])
    q, _ = b.requant(y, S_OUT, 0)
    graph = assert_exact(b.build(hwc(b, q), np.int8), samples(rng, [1, 6, 5, c]))
    assert graph.tensor(graph.input).shape == (6, 5, c)
    assert np.array_equal(graph.input_permutation, np.arange(6 * 5 * c))  # NHWC is HWC


def test_nchw_input_permutation():
    rng = np.random.default_rng(5)
    b = GraphBuilder()
    _, x = int_input(b, [1, 2, 3, 4])
    q, _ = b.requant(qconv(b, x, 2, 2, (1, 1), rng), S_OUT, 0)
    graph = assert_exact(b.build(hwc(b, q), np.int8), samples(rng, [1, 2, 3, 4]))
    expected = np.arange(24).reshape(2, 3, 4).transpose(1, 2, 0).reshape(-1)
    assert np.array_equal(graph.input_permutation, expected)


def test_float_input_quantized_by_the_model():
    """An onnxruntime-style QDQ model: float input -> QuantizeLinear; the IR input is the Q
    output, quantized on the host with its scale and zero point."""
    rng = np.random.default_rng(6)
    b = GraphBuilder()
    x = b.input("x", [1, 2, 5, 5])
    xq, xdq = b.requant(x, S_IN, 1)
    q, _ = b.requant(qconv(b, xdq, 2, 3, (3, 3), rng, pads=[1, 1, 1, 1]), S_OUT, 0)
    x_data = rng.uniform(-4, 4, size=(6, 2, 5, 5)).astype(np.float32)
    graph = assert_exact(b.build(hwc(b, q), np.int8), x_data)
    assert graph.input == xq and graph.source_input_dtype == "float32"


@pytest.mark.parametrize("attrs", [
    dict(kernel_shape=[2, 2], strides=[2, 2]),
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    dict(kernel_shape=[3, 2], strides=[2, 2], ceil_mode=1),
    dict(kernel_shape=[3, 3], auto_pad="SAME_UPPER"),
])
def test_maxpool(attrs):
    rng = np.random.default_rng(7)
    b = GraphBuilder()
    _, x = int_input(b, [1, 3, 7, 7], zp=-3)
    q1, dq1 = b.requant(qconv(b, x, 3, 3, (1, 1), rng), S_OUT, 5)
    pooled = b.op("MaxPool", [dq1], **attrs)
    q2, _ = b.requant(pooled, S_OUT, 5)
    assert_exact(b.build(hwc(b, q2), np.int8), samples(rng, [1, 3, 7, 7]),
                 [LayerKind.CONV, LayerKind.MAXPOOL])


@pytest.mark.parametrize("op", ["AveragePool", "GlobalAveragePool"])
def test_average_pool(op):
    rng = np.random.default_rng(8)
    b = GraphBuilder()
    _, x = int_input(b, [1, 3, 4, 4])
    q1, dq1 = b.requant(qconv(b, x, 3, 3, (1, 1), rng), S_OUT, -7)
    attrs = dict(kernel_shape=[2, 2], strides=[2, 2]) if op == "AveragePool" else {}
    window = 4 if op == "AveragePool" else 16
    q2, _ = b.requant(b.op(op, [dq1], **attrs), S_OUT / window, -7)  # exact mean: M == 1
    out = hwc(b, q2) if op == "AveragePool" else q2
    graph = assert_exact(b.build(out, np.int8), samples(rng, [1, 3, 4, 4]),
                         [LayerKind.CONV, LayerKind.AVGPOOL])
    assert graph.layers[1].kernel == ((2, 2) if op == "AveragePool" else (4, 4))


def test_residual_add_with_relu():
    rng = np.random.default_rng(9)
    b = GraphBuilder()
    _, x = int_input(b, [1, 4, 5, 5])
    qa, a = b.requant(qconv(b, x, 4, 4, (3, 3), rng, pads=[1, 1, 1, 1]), S_OUT, 4)
    qb, bb = b.requant(qconv(b, a, 4, 4, (1, 1), rng, s_in=S_OUT, w_scales=(1.0, 2.0)),
                       S_OUT, -4)
    q, _ = b.requant(b.op("Relu", [b.op("Add", [a, bb])]), S_OUT, -128)
    graph = assert_exact(b.build(hwc(b, q), np.int8), samples(rng, [1, 4, 5, 5]),
                         [LayerKind.CONV, LayerKind.CONV, LayerKind.ADD])
    add = graph.layers[2]
    assert (add.input_a, add.input_b) == (qa, qb)


@pytest.mark.parametrize("flatten", ["Flatten", "Reshape"])
def test_flatten_then_dense_permutes_columns(flatten):
    """mnist8's pattern: an NCHW map flattened in C, H, W order feeds a MatMul + Add bias;
    the IR stores H, W, C so the Dense columns are permuted."""
    rng = np.random.default_rng(10)
    b = GraphBuilder()
    _, x = int_input(b, [1, 3, 4, 4])
    q1, dq1 = b.requant(qconv(b, x, 3, 2, (3, 3), rng), S_OUT, 0)  # [1, 2, 2, 2]
    if flatten == "Flatten":
        flat = b.op("Flatten", [q1])
    else:
        flat = b.op("Reshape", [q1, b.const(np.array([1, -1], dtype=np.int64))])
    s_w = 0.25
    w = b.qconst(rng.integers(-3, 4, size=(8, 5)), np.float32(s_w))
    y = b.op("MatMul", [b.dequant(flat, S_OUT, 0), w])
    y = b.op("Add", [y, b.qconst(rng.integers(-9, 10, size=5), np.float32(S_OUT * s_w),
                                 dtype=np.int32)])
    q2, dq2 = b.requant(y, S_OUT * s_w / 2, 2)
    out = b.op("Softmax", [dq2])
    model = b.build(out)
    graph = assert_exact(model, samples(rng, [1, 3, 4, 4]), [LayerKind.CONV, LayerKind.DENSE])
    assert graph.output == q2 == graph.output_source
    assert any("Softmax" in note for note in graph.notes)


@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm(trans_b):
    rng = np.random.default_rng(11)
    b = GraphBuilder()
    _, x = int_input(b, [1, 6])
    w = rng.integers(-3, 4, size=(6, 4))
    w = w.T if trans_b else w
    y = b.op("Gemm", [x, b.qconst(w, np.float32(0.25)),
                      b.qconst(rng.integers(-9, 10, size=4), np.float32(S_IN * 0.25),
                               dtype=np.int32)], transB=trans_b)
    q, _ = b.requant(y, S_IN * 0.25, 0)
    graph = assert_exact(b.build(q, np.int8), samples(rng, [1, 6]), [LayerKind.DENSE])
    assert graph.tensor(graph.input).shape == (1, 1, 6)


def test_layout_only_ops():
    rng = np.random.default_rng(12)
    b = GraphBuilder()
    _, x = int_input(b, [1, 2, 4, 4])
    y = qconv(b, x, 2, 3, (4, 4), rng)  # [1, 3, 1, 1]
    y = b.op("Identity", [b.op("Dropout", [y])])
    q, dq = b.requant(b.op("Relu", [y]), S_OUT, -128)
    v = b.op("Squeeze", [dq, b.const(np.array([2, 3], dtype=np.int64))])  # [1, 3]
    v = b.op("Unsqueeze", [v, b.const(np.array([0], dtype=np.int64))])  # [1, 1, 3]
    v = b.op("Reshape", [v, b.const(np.array([1, 3], dtype=np.int64))])
    y = b.op("Gemm", [v, b.qconst(rng.integers(-3, 4, size=(3, 2)), np.float32(0.5))])
    q2, _ = b.requant(y, S_OUT * 0.5, 0)
    assert_exact(b.build(q2, np.int8), samples(rng, [1, 2, 4, 4]),
                 [LayerKind.CONV, LayerKind.DENSE])


@pytest.mark.parametrize("opset", [10, 13])
def test_clip_is_a_clamp(opset):
    rng = np.random.default_rng(13)
    b = GraphBuilder(opset=opset)
    _, x = int_input(b, [1, 2, 5, 5])
    y = qconv(b, x, 2, 3, (3, 3), rng, pads=[1, 1, 1, 1])
    if opset == 10:  # Clip bounds were attributes before opset 11
        y = b.op("Clip", [y], min=0.0, max=6.0)
    else:
        y = b.op("Clip", [y, b.const(np.float32(0.0)), b.const(np.float32(6.0))])
    q, _ = b.requant(y, S_OUT, -128)
    graph = assert_exact(b.build(hwc(b, q), np.int8), samples(rng, [1, 2, 5, 5]))
    assert (graph.layers[0].requant.lo, graph.layers[0].requant.hi) == (-128, -128 + 48)


def test_uint8_activations_and_weight_zero_point():
    """uint8 activations, and uint8 weights with a zero point of 128 (folded into the IR's
    signed integer weights)."""
    rng = np.random.default_rng(14)
    b = GraphBuilder()
    x = b.input("x", [1, 2, 5, 5], np.uint8)
    xdq = b.dequant(x, S_IN, 128, np.uint8)
    w = rng.integers(126, 131, size=(3, 2, 3, 3))
    s_w = np.float32(0.25)
    y = b.op("Conv", [xdq, b.qconst(w, s_w, zero_point=np.uint8(128), dtype=np.uint8)],
             pads=[1, 1, 1, 1])
    q, _ = b.requant(b.op("Relu", [y]), S_OUT, 0, np.uint8)
    x_data = rng.integers(120, 137, size=(6, 2, 5, 5)).astype(np.uint8)
    graph = assert_exact(b.build(hwc(b, q), np.uint8), x_data)
    assert graph.tensor(graph.input).dtype is DType.UINT8
    assert graph.tensor(q).dtype is DType.UINT8
    assert np.array_equal(graph.layers[0].weight, (w - 128).transpose(0, 2, 3, 1))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_conv_and_pool_configurations(data):
    """Random kernel / stride / padding / groups / rank / input layout, each exact."""
    rank = data.draw(st.sampled_from([1, 2]), "rank")
    groups = data.draw(st.sampled_from([1, 2]), "groups")
    cin, cout = 2 * groups, 2 * groups * data.draw(st.integers(1, 2), "cout multiple")
    size = [data.draw(st.integers(3, 7), "size") for _ in range(rank)]
    kernel = [data.draw(st.integers(1, 3), "kernel") for _ in range(rank)]
    stride = [data.draw(st.integers(1, 2), "stride") for _ in range(rank)]
    auto_pad = data.draw(st.sampled_from(["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    attrs = dict(strides=stride, auto_pad=auto_pad)
    if auto_pad == "NOTSET":
        attrs["pads"] = [data.draw(st.integers(0, k - 1), "pad") for k in kernel * 2]
    nhwc = data.draw(st.booleans(), "nhwc input")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), "seed"))

    b = GraphBuilder()
    shape = [1] + size + [cin] if nhwc else [1, cin] + size
    x = b.input("x", shape, np.int8)
    if nhwc:
        x = b.op("Transpose", [x], perm=[0, rank + 1] + list(range(1, rank + 1)))
    y = qconv(b, b.dequant(x, S_IN, 1), cin, cout, kernel, rng, groups=groups, **attrs)
    q, dq = b.requant(b.op("Relu", [y]), S_OUT, -20)
    if auto_pad == "NOTSET":
        out = [(n + attrs["pads"][i] + attrs["pads"][i + rank] - k) // st_ + 1
               for i, (n, k, st_) in enumerate(zip(size, kernel, stride))]
    elif auto_pad == "VALID":
        out = [(n - k) // st_ + 1 for n, k, st_ in zip(size, kernel, stride)]
    else:
        out = [-(-n // st_) for n, st_ in zip(size, stride)]
    if min(out) >= 2 and data.draw(st.booleans(), "then max pool"):
        q = b.quant(b.op("MaxPool", [dq], kernel_shape=[2] * rank, ceil_mode=1), S_OUT, -20)
    assert_exact(b.build(hwc(b, q, rank + 2), np.int8), samples(rng, shape))
