"""Float models: every supported operator lowered and quantized (calibrated on the test
inputs), compared with onnxruntime's float result.

The integer model is an 8-bit approximation of the float one, so the comparison allows a few
output quantization steps; a wrong layout, weight order, fold or clamp is off by far more.
The folds (BatchNormalization, Gemm alpha/beta, bias Add) are also checked exactly against
the same model folded by hand.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx_builders import GraphBuilder, ort_run, to_ir_layout

from hlsgen.frontend import import_model
from hlsgen.frontend.lower import lower
from hlsgen.frontend.view import build_view
from hlsgen.ir import LayerKind
from hlsgen.reference import execute, quantize_input
from hlsgen.verify_ir import verify

MAX_STEPS = 4  # output quantization steps the 8-bit model may be off by


def normal(rng, *shape, scale=0.5) -> np.ndarray:
    return (rng.normal(size=shape) * scale).astype(np.float32)


def steps_off(model, x) -> tuple[float, object]:
    """Largest |int - float| error of the model output, in output quantization steps."""
    graph = import_model(model, calibration=x)
    verify(graph)
    out = graph.tensor(graph.output)
    ours = (execute(graph, quantize_input(graph, x)) - out.zero_point) * out.scale
    ref = ort_run(model, x, [graph.output_source])[graph.output_source]
    ref = to_ir_layout(ref, out.shape)
    return float(np.abs(ours - ref).max() / out.scale), graph


def conv_bn(b: GraphBuilder, x: str, cin: int, cout: int, rng, **attrs) -> str:
    y = b.op("Conv", [x, b.const(normal(rng, cout, cin, 3, 3))], kernel_shape=[3, 3], **attrs)
    bn = [b.const(rng.uniform(0.5, 1.5, cout).astype(np.float32)), b.const(normal(rng, cout)),
          b.const(normal(rng, cout)), b.const(rng.uniform(0.5, 2, cout).astype(np.float32))]
    return b.op("BatchNormalization", [y] + bn, epsilon=1e-3)


def test_conv_bn_relu_pool_dense_softmax():
    rng = np.random.default_rng(0)
    b = GraphBuilder()
    x = b.input("x", [1, 3, 8, 8])
    y = b.op("Relu", [conv_bn(b, x, 3, 6, rng, pads=[1, 1, 1, 1])])
    y = b.op("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = b.op("Flatten", [b.op("Dropout", [y])])
    y = b.op("Gemm", [y, b.const(normal(rng, 96, 5, scale=0.1)), b.const(normal(rng, 5))])
    model = b.build(b.op("Softmax", [y]))
    err, graph = steps_off(model, rng.uniform(0, 1, size=(40, 3, 8, 8)).astype(np.float32))
    assert err <= MAX_STEPS
    assert [layer.kind for layer in graph.layers] == [LayerKind.CONV, LayerKind.MAXPOOL,
                                                      LayerKind.DENSE]
    assert graph.output_source == y and graph.source_input_dtype == "float32"


def test_nhwc_depthwise_relu6_residual_gap():
    """A MobileNet/ResNet-like float block with NHWC input, as tf2onnx writes it; the model
    input itself is the residual branch."""
    rng = np.random.default_rng(1)
    b = GraphBuilder()
    x = b.input("x", [1, 6, 6, 4])
    t = b.op("Transpose", [x], perm=[0, 3, 1, 2])
    a = b.op("Clip", [b.op("Conv", [t, b.const(normal(rng, 4, 1, 3, 3)), b.const(normal(rng, 4))],
                           group=4, pads=[1, 1, 1, 1]),
                      b.const(np.float32(0)), b.const(np.float32(6))])
    c = b.op("Conv", [a, b.const(normal(rng, 4, 4, 1, 1)), b.const(normal(rng, 4))])
    y = b.op("Relu", [b.op("Add", [c, t])])
    y = b.op("Reshape", [b.op("GlobalAveragePool", [y]), b.const(np.array([1, 4], np.int64))])
    model = b.build(b.op("MatMul", [y, b.const(normal(rng, 4, 3))]))
    err, graph = steps_off(model, rng.uniform(-2, 2, size=(40, 6, 6, 4)).astype(np.float32))
    assert err <= MAX_STEPS
    kinds = [layer.kind for layer in graph.layers]
    assert kinds == [LayerKind.CONV, LayerKind.CONV, LayerKind.ADD, LayerKind.AVGPOOL,
                     LayerKind.DENSE]
    assert graph.layers[2].input_b == graph.input == "x"
    dw = graph.layers[0]
    out = graph.tensor(dw.output)
    assert dw.name == "dw0" and dw.requant.lo == -128 == out.zero_point  # ReLU6: lo at 0.0
    assert np.isclose((dw.requant.hi - out.zero_point) * out.scale, 6.0, atol=out.scale)


@pytest.mark.parametrize("kind", ["conv1d", "avgpool", "leaky0", "gemm_alpha"])
def test_more_float_ops(kind):
    rng = np.random.default_rng(2)
    b = GraphBuilder()
    if kind == "conv1d":
        x = b.input("x", [1, 3, 16])
        y = b.op("Relu", [b.op("Conv", [x, b.const(normal(rng, 4, 3, 5))], strides=[2],
                               auto_pad="SAME_UPPER")])
        y = b.op("Transpose", [y], perm=[0, 2, 1])
        shape = (30, 3, 16)
    elif kind == "avgpool":
        x = b.input("x", [1, 2, 6, 6])
        y = b.op("Conv", [x, b.const(normal(rng, 3, 2, 3, 3))], pads=[1, 1, 1, 1])
        y = b.op("AveragePool", [b.op("Relu", [y])], kernel_shape=[3, 3], strides=[3, 3])
        y = b.op("Flatten", [b.op("Transpose", [y], perm=[0, 2, 3, 1])])
        shape = (30, 2, 6, 6)
    elif kind == "leaky0":
        x = b.input("x", [1, 6])
        y = b.op("Gemm", [x, b.const(normal(rng, 6, 4))])
        y = b.op("LeakyRelu", [y], alpha=0.0)
        shape = (30, 6)
    else:
        x = b.input("x", [1, 6])
        y = b.op("Gemm", [x, b.const(normal(rng, 3, 6)), b.const(normal(rng, 1, 3))],
                 alpha=0.5, beta=2.0, transB=1)
        shape = (30, 6)
    model = b.build(y)
    err, _ = steps_off(model, rng.uniform(-1, 1, size=shape).astype(np.float32))
    assert err <= MAX_STEPS


def test_old_ir_with_initializers_as_inputs():
    """IR 3 / opset 8 (mnist8's format): initializers are also listed as graph inputs."""
    rng = np.random.default_rng(3)
    b = GraphBuilder(opset=8)
    x = b.input("x", [1, 1, 6, 6])
    y = b.op("Conv", [x, b.const(normal(rng, 2, 1, 3, 3), name="W")], kernel_shape=[3, 3],
             auto_pad="SAME_UPPER")
    y = b.op("Add", [y, b.const(normal(rng, 2, 1, 1), name="B")])
    y = b.op("Reshape", [b.op("Relu", [y]), b.const(np.array([1, 72], np.int64), name="S")])
    y = b.op("MatMul", [y, b.const(normal(rng, 72, 3, scale=0.2), name="W2")])
    model = b.build(y, ir_version=3)
    for init in model.graph.initializer:
        model.graph.input.append(onnx.helper.make_tensor_value_info(
            init.name, init.data_type, list(init.dims)))
    err, graph = steps_off(model, rng.uniform(0, 1, size=(30, 1, 6, 6)).astype(np.float32))
    assert err <= MAX_STEPS and graph.input == "x"


# -- folds, exactly --------------------------------------------------------------------------
def lowered_of(model):
    return lower(build_view(model))


def test_batchnorm_fold_matches_a_hand_folded_conv():
    rng = np.random.default_rng(4)
    w, bias = normal(rng, 3, 2, 3, 3), normal(rng, 3)
    gamma, beta = rng.uniform(0.5, 1.5, 3), normal(rng, 3)
    mean, var = normal(rng, 3), rng.uniform(0.5, 2, 3)
    eps = 1e-3

    b = GraphBuilder()
    x = b.input("x", [1, 2, 5, 5])
    y = b.op("Conv", [x, b.const(w), b.const(bias)])
    y = b.op("BatchNormalization", [y] + [b.const(np.float32(v)) for v in (gamma, beta, mean,
                                                                         var)], epsilon=eps)
    folded = lowered_of(b.build(b.op("Transpose", [y], perm=[0, 2, 3, 1]))).layers[0]

    factor = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    want_w = (w.astype(np.float64) * factor[:, None, None, None]).transpose(0, 2, 3, 1)
    want_b = (bias - mean.astype(np.float64)) * factor + beta.astype(np.float32)
    np.testing.assert_allclose(folded.weight.real, want_w, rtol=1e-6)
    np.testing.assert_allclose(folded.bias.real, want_b, rtol=1e-6, atol=1e-7)
    assert len(folded.source) == 2  # both ONNX nodes are named in the layer


def test_bias_add_and_gemm_scaling_fold():
    rng = np.random.default_rng(5)
    w, c = normal(rng, 5, 4), normal(rng, 4)
    b = GraphBuilder()
    x = b.input("x", [1, 5])
    y = b.op("Add", [b.op("MatMul", [x, b.const(w)]), b.const(c)])
    matmul = lowered_of(b.build(y)).layers[0]
    b = GraphBuilder()
    x = b.input("x", [1, 5])
    y = b.op("Gemm", [x, b.const(w.T * 4), b.const(c[None] / 2)], alpha=0.25, beta=2.0,
             transB=1)
    gemm = lowered_of(b.build(y)).layers[0]
    np.testing.assert_allclose(gemm.weight.real, matmul.weight.real, rtol=1e-6)
    np.testing.assert_allclose(gemm.bias.real, matmul.bias.real, rtol=1e-6)
    np.testing.assert_array_equal(matmul.weight.real, w.T.astype(np.float64))
