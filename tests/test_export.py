"""The integer-only ONNX export, run by onnxruntime, equals the numpy executor exactly."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory import LAYER_KINDS, random_graph, random_input
from hlsgen import ir
from hlsgen.errors import DataError
from hlsgen.reference import execute, export_onnx, run_onnx


def _assert_export_matches(graph: ir.Graph, x: np.ndarray) -> None:
    want = execute(graph, x)
    got = run_onnx(export_onnx(graph), x)
    assert got.dtype == np.int64 and got.shape == want.shape
    assert np.array_equal(got, want)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), signed=st.sampled_from([True, False, None]),
       weight_bits=st.sampled_from([2, 8, 12, 20, 40]), max_channels=st.sampled_from([3, 8]))
def test_export_matches_executor_on_random_graphs(seed, signed, weight_bits, max_channels):
    graph = random_graph(seed, signed=signed, weight_bits=weight_bits, rounding="mixed",
                         max_channels=max_channels, max_hw=8)
    _assert_export_matches(graph, random_input(graph, 5, seed))


@pytest.mark.parametrize("kind", LAYER_KINDS)
@pytest.mark.parametrize("signed", [True, False])
def test_export_matches_executor_per_layer_kind(kind, signed):
    for seed in range(8):
        graph = random_graph(seed, (kind,), signed=signed, max_channels=8, max_hw=7)
        _assert_export_matches(graph, random_input(graph, 4, seed))


def test_export_covers_groups_depthwise_padding_and_1d():
    """The random graphs above really reach every structural case (else they prove little)."""
    seen = set()
    for seed in range(60):
        graph = random_graph(seed, ("conv", "dwconv", "maxpool"), max_channels=8)
        for layer in graph.layers:
            h = graph.tensor(layer.input).shape[0]
            if layer.kind is ir.LayerKind.CONV:
                cin = graph.tensor(layer.input).shape[2]
                seen.add("depthwise" if layer.groups == cin and cin > 1 else
                         "grouped" if layer.groups > 1 else "dense-conv")
            if any(layer.pads):
                seen.add(f"{layer.kind.value}-padded")
            if max(layer.stride) > 1:
                seen.add("strided")
            if h == 1:
                seen.add("1d")
        _assert_export_matches(graph, random_input(graph, 2, seed))
    assert seen >= {"depthwise", "grouped", "dense-conv", "conv-padded", "maxpool-padded",
                    "strided", "1d"}


def test_extreme_requant_shift_62_and_negative_accumulators():
    """Shift 62 with the largest multiplier that cannot overflow, all-negative and all-positive
    extreme inputs: the floor shift must still round half up exactly."""
    graph = random_graph(9, ("dense",), max_channels=5)
    layer = graph.layers[0]
    channels = layer.requant.channels
    bound = int(np.abs(layer.weight).sum(axis=1).max() * 255 + np.abs(layer.bias).max())
    mult = np.full(channels, ((1 << 62) - 1) // bound, dtype=np.int64)
    requant = replace(layer.requant, multiplier=mult, shift=np.full(channels, 62, np.int64))
    graph = replace(graph, layers=(replace(layer, requant=requant),))
    t = graph.tensor(graph.input)
    x = np.stack([np.full(t.size, t.dtype.qmin), np.full(t.size, t.dtype.qmax),
                  random_input(graph, 1, 3)[0]])
    _assert_export_matches(graph, x)


def test_model_is_int64_only_valid_and_old_enough_for_onnxruntime():
    graph = random_graph(21, signed=None)
    model = export_onnx(graph)
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version <= 10
    assert all(op.version <= 21 for op in model.opset_import)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    infos = (list(inferred.graph.value_info) + list(inferred.graph.input)
             + list(inferred.graph.output))
    assert infos and all(i.type.tensor_type.elem_type == onnx.TensorProto.INT64 for i in infos)
    assert all(t.data_type == onnx.TensorProto.INT64 for t in model.graph.initializer)
    ops = {node.op_type for node in model.graph.node}
    assert not ops & {"ConvInteger", "MatMulInteger", "QLinearConv", "QLinearMatMul", "Cast"}
    (batch, _), (batch_out, _) = (model.graph.input[0].type.tensor_type.shape.dim,
                                  model.graph.output[0].type.tensor_type.shape.dim)
    assert batch.dim_param and batch_out.dim_param  # dynamic N


def test_batch_is_dynamic_and_chunks_agree():
    graph = random_graph(13)
    model = export_onnx(graph)
    x = random_input(graph, 150, 4)  # more than one run_onnx chunk
    whole = run_onnx(model, x)
    one = np.concatenate([run_onnx(model, x[i : i + 1]) for i in (0, 77, 149)])
    assert np.array_equal(whole[[0, 77, 149]], one)
    assert np.array_equal(whole, execute(graph, x))


def test_export_is_deterministic():
    graph = random_graph(17)
    assert export_onnx(graph).SerializeToString() == export_onnx(graph).SerializeToString()


def test_run_onnx_rejects_foreign_models_and_bad_input():
    graph = random_graph(2)
    model = export_onnx(graph)
    foreign = onnx.ModelProto()
    foreign.CopyFrom(model)
    del foreign.metadata_props[:]
    with pytest.raises(ValueError, match="export_onnx"):
        run_onnx(foreign, random_input(graph, 1, 0))
    with pytest.raises(DataError, match="shape"):
        run_onnx(model, np.zeros((1, 1234), np.int64))
