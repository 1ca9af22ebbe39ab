"""Helpers to build small ONNX models with onnx.helper, run them in onnxruntime and compare
them with hlsgen's integer reference.

Models are written with IR version 8 and opset 13 unless a test asks otherwise (onnxruntime
1.31 rejects the IR 14 / opset 28 that onnx 1.23 writes by default).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

MODELS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "models"

_NP_TO_ONNX = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.int8): TensorProto.INT8,
    np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.int64): TensorProto.INT64,
}


class GraphBuilder:
    """Append nodes one by one; names are generated unless given."""

    def __init__(self, name: str = "test", opset: int = 13):
        self.name, self.opset = name, opset
        self.inputs: list[onnx.ValueInfoProto] = []
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def _fresh(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def input(self, name: str, shape, dtype=np.float32) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, _NP_TO_ONNX[np.dtype(dtype)],
                                                         list(shape)))
        return name

    def const(self, array, name: str | None = None, dtype=None) -> str:
        array = np.asarray(array, dtype=dtype)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        name = name or self._fresh("c")
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs, outputs: int = 1, name: str | None = None, **attrs):
        name = name or self._fresh(op_type.lower())
        outs = [f"{name}_out{i}" if i else f"{name}_out" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=name, **attrs))
        return outs[0] if outputs == 1 else outs

    # -- QDQ helpers -----------------------------------------------------------------------
    def quant(self, x: str, scale: float, zero_point: int, dtype=np.int8) -> str:
        return self.op("QuantizeLinear", [x, self.const(np.float32(scale)),
                                          self.const(np.array(zero_point, dtype=dtype))])

    def dequant(self, q: str, scale: float, zero_point: int, dtype=np.int8) -> str:
        return self.op("DequantizeLinear", [q, self.const(np.float32(scale)),
                                            self.const(np.array(zero_point, dtype=dtype))])

    def requant(self, x: str, scale: float, zero_point: int, dtype=np.int8) -> tuple[str, str]:
        """Q then DQ: (the quantized tensor, its dequantized float view)."""
        q = self.quant(x, scale, zero_point, dtype)
        return q, self.dequant(q, scale, zero_point, dtype)

    def qconst(self, q: np.ndarray, scale, axis: int = 0, zero_point=None, dtype=np.int8) -> str:
        """A DequantizeLinear'd integer constant (weights: int8, bias: int32)."""
        q = np.asarray(q, dtype=dtype)
        scale = np.asarray(scale, dtype=np.float32)
        zp = np.zeros(scale.shape, dtype=dtype) if zero_point is None else np.asarray(
            zero_point, dtype=dtype)
        attrs = {"axis": axis} if scale.ndim else {}
        return self.op("DequantizeLinear", [self.const(q), self.const(scale), self.const(zp)],
                       **attrs)

    def build(self, output: str, dtype=np.float32, ir_version: int = 8) -> onnx.ModelProto:
        out = helper.make_tensor_value_info(output, _NP_TO_ONNX[np.dtype(dtype)], None)
        graph = helper.make_graph(self.nodes, self.name, self.inputs, [out], self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = ir_version
        return model


# -- onnxruntime ----------------------------------------------------------------------------
def ort_run(model: onnx.ModelProto, x: np.ndarray, names: list[str] | None = None,
            optimize: bool = True) -> dict[str, np.ndarray]:
    """Run ``model`` once per row of ``x``; returns {name: stacked [N, ...] values} for the
    graph output and every tensor in ``names``."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = list(names or [])
    for name in names:
        if name not in {o.name for o in probe.graph.output}:
            probe.graph.output.append(onnx.ValueInfoProto(name=name))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(probe.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    source = session.get_inputs()[0]
    fetch = [o.name for o in session.get_outputs()]
    rows = {name: [] for name in fetch}
    for sample in x:
        for name, value in zip(fetch, session.run(fetch, {source.name: sample[None]})):
            rows[name].append(value[0] if value.shape[:1] == (1,) else value)
    return {name: np.stack(v) for name, v in rows.items()}


def to_ir_layout(values: np.ndarray, ir_shape: tuple[int, int, int]) -> np.ndarray:
    """ONNX NCHW [N, C, H, W] / [N, C, L] / [N, ...] values of a layer output -> [N, H, W, C]."""
    n = values.shape[0]
    if values.ndim == 4:
        values = values.transpose(0, 2, 3, 1)
    elif values.ndim == 3:
        values = values.transpose(0, 2, 1)
    return values.reshape((n,) + tuple(ir_shape))


def layer_outputs_vs_ort(graph, model: onnx.ModelProto, x: np.ndarray, optimize: bool = True):
    """{tensor: (ir values, onnxruntime values)} for every layer output, each layer fed its
    own (not onnxruntime's) input: the end-to-end comparison."""
    from hlsgen.reference import execute, quantize_input

    names = [layer.output for layer in graph.layers]
    ref = ort_run(model, x, names, optimize)
    ours = execute(graph, quantize_input(graph, x), return_all=True)
    return {n: (ours[n], to_ir_layout(ref[n], graph.tensor(n).shape).astype(np.int64))
            for n in names}


def real_model(name: str, limit: int | None = None):
    """(path of model.onnx, x, y) of a model in ../shared/models."""
    data = np.load(MODELS_DIR / name / "data.npz")
    x, y = data["x"], data["y"]
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return MODELS_DIR / name / "model.onnx", x, y


def isolated_layer_outputs(graph, model: onnx.ModelProto, x: np.ndarray,
                           optimize: bool = True):
    """{tensor: (ir values, onnxruntime values)} for every layer output, each layer fed the
    *same* input as onnxruntime's (its own input taken from onnxruntime): layer by layer."""
    from hlsgen import ir
    from hlsgen.reference import execute, quantize_input
    from hlsgen.reference.executor import requantize

    names = [layer.output for layer in graph.layers]
    ref = ort_run(model, x, names, optimize)
    n = len(x)
    values = {name: to_ir_layout(ref[name], graph.tensor(name).shape).astype(np.int64)
              for name in names}
    values[graph.input] = quantize_input(graph, x).reshape((n,) + graph.tensor(graph.input).shape)
    out = {}
    for layer in graph.layers:
        if layer.kind is ir.LayerKind.ADD:  # two inputs: the IR formula, in place
            a, b = graph.tensor(layer.input_a), graph.tensor(layer.input_b)
            acc = ((values[layer.input_a] - a.zero_point) * layer.mult_a
                   + (values[layer.input_b] - b.zero_point) * layer.mult_b)
            ours = requantize(acc, layer.requant, layer.name)
        else:
            src = graph.tensor(layer.input)
            single = ir.Graph(layer.name, layer.input, layer.output,
                              {layer.input: src, layer.output: graph.tensor(layer.output)},
                              (layer,), np.arange(src.size), layer.output)
            ours = execute(single, values[layer.input].reshape(n, -1))
        out[layer.output] = (ours, values[layer.output])
    return out
