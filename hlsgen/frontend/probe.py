"""Run the source model in onnxruntime with intermediate tensors exposed (for calibration)."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import onnx
import onnxruntime as ort

__all__ = ["source_activations", "MAX_IR_VERSION"]

MAX_IR_VERSION = 10  # onnxruntime 1.31 rejects newer IR versions written by onnx 1.23


def source_activations(model: onnx.ModelProto, names: list[str],
                       samples: np.ndarray) -> Iterator[dict[str, np.ndarray]]:
    """For each sample (one row of ``samples``, in the model's input layout), the values of
    the tensors ``names`` as onnxruntime computes them (float32 for a float model)."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.ir_version = min(probe.ir_version, MAX_IR_VERSION)
    known = {o.name for o in probe.graph.output}
    initializers = {t.name for t in probe.graph.initializer}
    graph_inputs = {i.name for i in probe.graph.input} - initializers
    fetch = [n for n in names if n not in graph_inputs]
    for name in fetch:
        if name not in known:
            probe.graph.output.append(onnx.ValueInfoProto(name=name))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the machine is shared; batch-1 models gain nothing
    session = ort.InferenceSession(probe.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    source = next(i for i in probe.graph.input if i.name in graph_inputs)
    dtype = onnx.helper.tensor_dtype_to_np_dtype(source.type.tensor_type.elem_type)
    shape = [d.dim_value or 1 for d in source.type.tensor_type.shape.dim]
    for row in samples:
        x = np.asarray(row).astype(dtype).reshape(shape)
        values = dict(zip(fetch, session.run(fetch, {source.name: x})))
        for name in names:
            if name in graph_inputs:
                values[name] = x
        yield values
