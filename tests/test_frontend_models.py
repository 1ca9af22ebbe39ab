"""The float models of ../shared/models lowered and quantized end to end: integer top-1 close
to onnxruntime's float top-1, calibrated and data-free.

Up to 100 samples each here; docs/quantization.md has the full-data figures (tolerance here:
2 points, i.e. two samples, because 100 samples measure accuracy only to about a point).
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx_builders import real_model

from hlsgen.frontend import import_model
from hlsgen.ir import LayerKind
from hlsgen.reference import execute, quantize_input
from hlsgen.reference.source import run_source
from hlsgen.verify_ir import verify

CALIBRATION, EVALUATION = 50, 100
# the input value range a user states for the data-free import
INPUT_RANGES = {"mnist8": (0.0, 255.0), "kws_dscnn_float": (-43.0, 26.0),
                "resnet8_float": (0.0, 255.0)}


def top1_pair(name, **import_args) -> tuple[float, float, object]:
    path, x, y = real_model(name, CALIBRATION + EVALUATION)
    graph = import_model(path, **{k: (x[:CALIBRATION] if v is True else v)
                                  for k, v in import_args.items()})
    verify(graph)
    x, y = x[CALIBRATION:], y[CALIBRATION:]
    ours = execute(graph, quantize_input(graph, x)).reshape(len(x), -1)
    ref = run_source(path, graph, x)
    return (ours.argmax(1) == y).mean(), (ref.argmax(1) == y).mean(), graph


@pytest.mark.parametrize("name", ["mnist8", "kws_dscnn_float", "resnet8_float"])
def test_calibrated_float_model(name):
    ours, ref, graph = top1_pair(name, calibration=True)
    assert ours >= ref - 0.02
    assert graph.source_input_dtype == "float32"


@pytest.mark.parametrize("name", ["mnist8", "kws_dscnn_float"])
def test_data_free_float_model(name):
    ours, ref, graph = top1_pair(name, data_free_input_range=INPUT_RANGES[name])
    assert ours >= ref - 0.02
    assert any("data-free" in note for note in graph.notes)


def test_mnist8_structure():
    """mnist8 flattens an NCHW map: its dense layer's columns are permuted to (H, W, C)."""
    path, x, _ = real_model("mnist8", 4)
    graph = import_model(path, data_free_input_range=(0, 255))
    assert [layer.name for layer in graph.layers] == ["conv0", "maxpool1", "conv2",
                                                      "maxpool3", "dense4"]
    assert graph.tensor(graph.input).scale == 1.0  # 0..255 in 256 steps: exact
    conv = graph.layers[0]
    assert conv.pads == (2, 2, 2, 2) and conv.requant.lo == -128  # SAME_UPPER 5x5; ReLU
    assert graph.layers[4].kind is LayerKind.DENSE
    assert graph.layers[4].weight.shape == (10, 256)


def test_resnet8_structure():
    path, x, _ = real_model("resnet8_float", 2)
    graph = import_model(path, calibration=x)
    names = [layer.name for layer in graph.layers]
    assert names[3] == "add3" and names[-2:] == ["avgpool12", "dense13"]
    assert graph.tensor(graph.input).shape == (32, 32, 3)
    assert np.array_equal(graph.input_permutation, np.arange(32 * 32 * 3))  # NHWC input
    # tf2onnx's SAME padding of a stride-2 3x3 conv on an even size: one row/column at the end
    assert (graph.layers[5].stride, graph.layers[5].pads) == ((2, 2), (0, 0, 1, 1))
