"""Run the source model in onnxruntime with intermediate tensors exposed (for calibration)."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import onnx
import onnxruntime as ort

from hlsgen.errors import DataError

__all__ = ["SourceRunner", "source_activations", "MAX_IR_VERSION"]

MAX_IR_VERSION = 10  # onnxruntime 1.31 rejects newer IR versions written by onnx 1.23


class SourceRunner:
    """One onnxruntime session of the source model that also returns the tensors ``names``."""

    def __init__(self, model: onnx.ModelProto, names: list[str]):
        probe = onnx.ModelProto()
        probe.CopyFrom(model)
        probe.ir_version = min(probe.ir_version, MAX_IR_VERSION)
        initializers = {t.name for t in probe.graph.initializer}
        self.source = next(i for i in probe.graph.input if i.name not in initializers)
        self.names = list(names)
        self.fetch = [n for n in self.names if n != self.source.name]
        known = {o.name for o in probe.graph.output}
        for name in self.fetch:
            if name not in known:
                probe.graph.output.append(onnx.ValueInfoProto(name=name))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # the machine is shared; batch-1 models gain nothing
        self.session = ort.InferenceSession(probe.SerializeToString(), options,
                                            providers=["CPUExecutionProvider"])
        tensor_type = self.source.type.tensor_type
        self.dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)
        self.shape = [d.dim_value or 1 for d in tensor_type.shape.dim]

    def run(self, row: np.ndarray) -> dict[str, np.ndarray]:
        """The tensors for one sample (any array with the input's number of elements)."""
        row = np.asarray(row)
        if row.size != int(np.prod(self.shape)):
            raise DataError(f"a sample of shape {row.shape} does not fit model input "
                            f"'{self.source.name}' of shape {self.shape}; pass samples in the "
                            "model's own input layout, one per row")
        x = row.astype(self.dtype).reshape(self.shape)
        values = dict(zip(self.fetch, self.session.run(self.fetch, {self.source.name: x})))
        if self.source.name in self.names:
            values[self.source.name] = x
        return values


def source_activations(model: onnx.ModelProto, names: list[str],
                       samples: np.ndarray) -> Iterator[dict[str, np.ndarray]]:
    """For each sample (one row of ``samples``, in the model's input layout), the values of
    the tensors ``names`` as onnxruntime computes them (float32 for a float model)."""
    runner = SourceRunner(model, names)
    for row in samples:
        yield runner.run(row)
