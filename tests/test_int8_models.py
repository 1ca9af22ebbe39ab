"""int8 QDQ models keep their own quantization: every integer layer, fed onnxruntime's input,
matches onnxruntime's QDQ output within 1 LSB (float32 requantization and round-half-even
ties in onnxruntime vs the IR's exact round-half-up), and end to end the top-1 decisions
agree.

Real models run on the first 100 samples here; docs/quantization.md has the full-data figures.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx_builders import (GraphBuilder, isolated_layer_outputs, layer_outputs_vs_ort,
                           real_model)

from hlsgen.frontend import import_model
from hlsgen.ir import DType, LayerKind
from hlsgen.reference import execute, quantize_input
from hlsgen.reference.source import run_source
from hlsgen.verify_ir import verify

SAMPLES = 100


def assert_within_one_lsb(pairs) -> int:
    """Every layer within 1 LSB; returns how many elements differ (by exactly 1)."""
    differ = 0
    for name, (ours, theirs) in pairs.items():
        diff = np.abs(ours - theirs)
        assert diff.max() <= 1, f"tensor {name}: off by {diff.max()}"
        differ += int((diff == 1).sum())
    return differ


@pytest.mark.parametrize("name", ["kws_dscnn_int8", "resnet8_int8"])
def test_real_int8_model_layer_by_layer(name):
    path, x, y = real_model(name, SAMPLES)
    model = onnx.load(path)
    graph = import_model(path)
    verify(graph)
    pairs = isolated_layer_outputs(graph, model, x)
    total = sum(ours.size for ours, _ in pairs.values())
    assert assert_within_one_lsb(pairs) <= total * 1e-3
    assert all(t.dtype is DType.INT8 for t in graph.tensors.values())


@pytest.mark.parametrize("name", ["kws_dscnn_int8", "resnet8_int8"])
def test_real_int8_model_end_to_end(name):
    path, x, y = real_model(name, SAMPLES)
    graph = import_model(path)
    ours = execute(graph, quantize_input(graph, x)).reshape(len(x), -1)
    theirs = run_source(path, graph, x)
    agreement = (ours.argmax(1) == theirs.argmax(1)).mean()
    assert agreement >= 0.99
    assert abs((ours.argmax(1) == y).mean() - (theirs.argmax(1) == y).mean()) <= 0.01
    assert graph.output_source == graph.output  # the quantized logits, compared as int8


def onnxruntime_quantized(tmp_path, activation_type, per_channel):
    """A small float CNN quantized by onnxruntime.quantization.quantize_static (QDQ)."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    rng = np.random.default_rng(0)

    def w(*shape, k=0.5):
        return b.const((rng.normal(size=shape) * k).astype(np.float32))

    b = GraphBuilder()
    x = b.input("x", [1, 3, 8, 8])
    y = b.op("Relu", [b.op("Conv", [x, w(8, 3, 3, 3), w(8)], pads=[1, 1, 1, 1])])
    y = b.op("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    a = b.op("Conv", [y, w(8, 1, 3, 3), w(8)], group=8, pads=[1, 1, 1, 1])
    a = b.op("Clip", [a, b.const(np.float32(0)), b.const(np.float32(6))])
    c = b.op("Conv", [a, w(8, 8, 1, 1), w(8)])
    y = b.op("Relu", [b.op("Add", [c, y])])
    y = b.op("Flatten", [b.op("GlobalAveragePool", [y])])
    y = b.op("Softmax", [b.op("Gemm", [y, w(8, 5), w(5)])])
    float_path, quant_path = tmp_path / "float.onnx", tmp_path / "qdq.onnx"
    onnx.save(b.build(y), float_path)
    x_data = rng.uniform(0, 1, size=(48, 3, 8, 8)).astype(np.float32)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.rows = iter([{"x": row[None]} for row in x_data[:32]])

        def get_next(self):
            return next(self.rows, None)

    quantize_static(str(float_path), str(quant_path), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=getattr(QuantType, activation_type),
                    weight_type=QuantType.QInt8, per_channel=per_channel)
    return onnx.load(quant_path), x_data[32:]


@pytest.mark.parametrize("activation_type,per_channel", [("QInt8", True), ("QUInt8", True),
                                                         ("QInt8", False)])
def test_onnxruntime_quantized_model(tmp_path, activation_type, per_channel):
    model, x = onnxruntime_quantized(tmp_path, activation_type, per_channel)
    graph = import_model(model)
    verify(graph)
    dtype = DType.INT8 if activation_type == "QInt8" else DType.UINT8
    assert {t.dtype for t in graph.tensors.values()} == {dtype}
    assert [layer.kind for layer in graph.layers] == [
        LayerKind.CONV, LayerKind.MAXPOOL, LayerKind.CONV, LayerKind.CONV, LayerKind.ADD,
        LayerKind.AVGPOOL, LayerKind.DENSE]
    assert graph.source_input_dtype == "float32" and graph.input != "x"  # the Q output
    # onnxruntime's fused uint8 x int8 kernels are wrong on some CPUs: compare with its plain
    # DequantizeLinear -> float op -> QuantizeLinear execution, which is the QDQ definition
    optimize = dtype is DType.INT8
    assert_within_one_lsb(isolated_layer_outputs(graph, model, x, optimize))
    assert_within_one_lsb(layer_outputs_vs_ort(graph, model, x, optimize))
