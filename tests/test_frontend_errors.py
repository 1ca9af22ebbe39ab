"""The frontend's user errors: bad files, unsupported models (every problem at once), and
structures the IR cannot express."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx_builders import MODELS_DIR, GraphBuilder

from hlsgen.errors import ModelLoadError, QuantizationError, UnsupportedModelError
from hlsgen.frontend import import_model, inspect_model, load_onnx

RNG = np.random.default_rng(0)


def weight(*shape) -> np.ndarray:
    return RNG.normal(size=shape).astype(np.float32)


# -- files ----------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file") as err:
        load_onnx(tmp_path / "nope.onnx")
    assert "\n" not in str(err.value)


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("this is a text file, not a protobuf\n")
    with pytest.raises(ModelLoadError, match="not a readable ONNX model") as err:
        load_onnx(path)
    assert "\n" not in str(err.value)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="empty"):
        load_onnx(path)


@pytest.mark.parametrize("keep", [0.3, 0.7, 0.95])
def test_truncated_file(tmp_path, keep):
    data = (MODELS_DIR / "mnist8" / "model.onnx").read_bytes()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelLoadError) as err:
        import_model(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_dangling_input_is_a_broken_file():
    b = GraphBuilder()
    x = b.input("x", [1, 4])
    y = b.op("Gemm", [x, "missing_weight"])
    with pytest.raises(ModelLoadError, match="missing_weight"):
        import_model(b.build(y))


# -- unsupported nodes, all at once -----------------------------------------------------------
def test_every_unsupported_node_is_listed():
    b = GraphBuilder()
    x = b.input("x", [1, 2, 8, 8])
    y = b.op("Conv", [x, b.const(weight(4, 2, 3, 3))], dilations=[2, 2], name="dilated")
    y = b.op("Sigmoid", [y], name="sig")
    y = b.op("Conv", [y, b.const(weight(4, 4, 1, 1))], name="fine")
    y = b.op("LeakyRelu", [y], alpha=0.1, name="leaky")
    y = b.op("Resize", [y, "", b.const(np.array([1, 1, 2, 2], np.float32))], name="up")
    with pytest.raises(UnsupportedModelError) as err:
        import_model(b.build(y))
    problems = {(index, name, op) for index, name, op, _ in err.value.problems}
    assert problems == {(0, "dilated", "Conv"), (1, "sig", "Sigmoid"),
                        (3, "leaky", "LeakyRelu"), (4, "up", "Resize")}
    text = str(err.value)
    assert "dilation 2 is not supported (only 1)" in text
    assert "alpha=0.1" in text and "operator Sigmoid is not supported" in text


def test_dynamic_shape():
    b = GraphBuilder()
    x = b.input("x", ["N", 3, 8, 8])
    y = b.op("Conv", [x, b.const(weight(4, 3, 3, 3))], name="c0")
    with pytest.raises(UnsupportedModelError, match="dynamic shape: 'x' is \\[N, 3, 8, 8\\]"):
        import_model(b.build(y))


def test_batch_other_than_one():
    b = GraphBuilder()
    x = b.input("x", [4, 3, 8, 8])
    y = b.op("Conv", [x, b.const(weight(4, 3, 3, 3))])
    with pytest.raises(UnsupportedModelError, match="batch size 4"):
        import_model(b.build(y))


def test_non_constant_weights():
    b = GraphBuilder()
    x = b.input("x", [1, 1, 4, 4])
    w = b.op("Relu", [b.const(weight(2, 1, 3, 3))])  # computed at run time
    y = b.op("Conv", [x, w], name="conv_rt")
    v = b.op("Flatten", [y])
    z = b.op("MatMul", [v, b.op("Transpose", [v], perm=[1, 0])], name="mm_rt")
    with pytest.raises(UnsupportedModelError) as err:
        import_model(b.build(z))
    whys = {name: why for _, name, _, why in err.value.problems}
    assert "non-constant weights" in whys["conv_rt"] and "non-constant weights" in whys["mm_rt"]


def test_softmax_must_be_last():
    b = GraphBuilder()
    x = b.input("x", [1, 4])
    y = b.op("Softmax", [b.op("Gemm", [x, b.const(weight(4, 3))])], name="sm")
    y = b.op("Gemm", [y, b.const(weight(3, 2))])
    with pytest.raises(UnsupportedModelError, match="Softmax is supported only as the last"):
        import_model(b.build(y))


def test_old_opset():
    b = GraphBuilder(opset=7)
    x = b.input("x", [1, 4])
    model = b.build(b.op("Gemm", [x, b.const(weight(4, 3)), b.const(weight(3))]))
    with pytest.raises(UnsupportedModelError, match="opset 7 is outside"):
        import_model(model, data_free_input_range=(0, 1))


def test_inspect_marks_the_same_problems():
    b = GraphBuilder()
    x = b.input("x", [1, 2, 8, 8])
    y = b.op("Conv", [x, b.const(weight(4, 2, 3, 3))], dilations=[2, 2])
    infos = inspect_model(b.build(b.op("Relu", [y])))
    assert [info.supported for info in infos] == [False, True]
    assert "dilation" in infos[0].why and infos[1].why == ""


# -- structures found while lowering ---------------------------------------------------------
def lowering_problem(model) -> tuple[str, str]:
    with pytest.raises(UnsupportedModelError) as err:
        import_model(model, data_free_input_range=(0, 1))
    (problem,) = err.value.problems
    return problem[1], problem[3]


def test_batchnorm_must_follow_a_layer():
    b = GraphBuilder()
    x = b.input("x", [1, 2, 6, 6])
    y = b.op("Relu", [b.op("Conv", [x, b.const(weight(3, 2, 3, 3))])])
    ones = b.const(np.ones(3, np.float32))
    y = b.op("BatchNormalization", [y, ones, ones, ones, ones], name="bn")
    name, why = lowering_problem(b.build(b.op("GlobalAveragePool", [y])))
    assert name == "bn" and "right after a Conv" in why


def test_relu_after_maxpool_is_not_a_clamp():
    b = GraphBuilder()
    x = b.input("x", [1, 2, 6, 6])
    y = b.op("Conv", [x, b.const(weight(3, 2, 3, 3))])
    y = b.op("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = b.op("Relu", [y], name="late_relu")
    name, why = lowering_problem(b.build(b.op("GlobalAveragePool", [y])))
    assert name == "late_relu" and "becomes that layer's clamp" in why


def test_add_of_a_constant_needs_a_layer():
    b = GraphBuilder()
    x = b.input("x", [1, 2, 6, 6])
    y = b.op("MaxPool", [b.op("Conv", [x, b.const(weight(3, 2, 3, 3))])], kernel_shape=[2, 2])
    y = b.op("Add", [y, b.const(np.ones((1, 3, 1, 1), np.float32))], name="offset")
    name, why = lowering_problem(b.build(b.op("GlobalAveragePool", [y])))
    assert name == "offset" and "bias" in why


def test_spatial_nchw_output_is_rejected():
    b = GraphBuilder()
    x = b.input("x", [1, 2, 6, 6])
    y = b.op("Conv", [x, b.const(weight(3, 2, 3, 3))], name="last")
    name, why = lowering_problem(b.build(y))
    assert name == "last" and "channels-last order" in why


def test_float_model_needs_calibration_or_range():
    b = GraphBuilder()
    x = b.input("x", [1, 4])
    model = b.build(b.op("Gemm", [x, b.const(weight(4, 3))]))
    with pytest.raises(QuantizationError, match="pass calibration samples .* data-free"):
        import_model(model)
    with pytest.raises(QuantizationError, match="empty"):
        import_model(model, data_free_input_range=(1.0, 1.0))


def test_the_model_proto_is_not_modified():
    path = MODELS_DIR / "kws_dscnn_int8" / "model.onnx"
    model = onnx.load(path)
    before = model.SerializeToString()
    import_model(model)
    assert model.SerializeToString() == before
