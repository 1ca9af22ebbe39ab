"""Run the *source* ONNX model in onnxruntime, to compare the integer reference against it.

The source models are batch 1 (tf2onnx and the model zoo fix the batch and bake it into
Reshape constants), so samples run one at a time through one session; the tensor the IR
calls ``output_source`` is added as a graph output when it is an intermediate tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from hlsgen import ir
from hlsgen.errors import DataError

__all__ = ["run_source", "source_input", "check_source_data"]


def run_source(
    model_path_or_proto: str | Path | onnx.ModelProto,
    graph: ir.Graph,
    x_source: np.ndarray,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """onnxruntime on the source model: ``graph.output_source`` per sample, [N, size].

    ``x_source`` holds one sample per row in the model's own input layout; the result keeps
    the tensor's own dtype (int8 quantized logits, float32 logits, ...).  ``progress(k)`` is
    called after every ``k`` samples.
    """
    import onnxruntime as ort  # heavy import, only needed here

    model = _as_model(model_path_or_proto)
    name, shape, dtype = source_input(model)
    x = check_source_data(model, x_source)
    model = _with_output(model, graph.output_source)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1  # batch-1 kernels are too small to share out
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    one = tuple(1 if not isinstance(d, int) or d < 1 else d for d in shape)
    rows = []
    for i in range(len(x)):
        out = session.run([graph.output_source], {name: x[i].reshape(one).astype(dtype)})[0]
        rows.append(np.asarray(out).reshape(-1))
        if progress is not None:
            progress(1)
    return np.stack(rows)


def source_input(model: onnx.ModelProto) -> tuple[str, tuple, np.dtype]:
    """(name, shape with batch, numpy dtype) of the model's single data input."""
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise DataError(f"{model.graph.name or 'model'}: expected one data input, found "
                        f"{[i.name for i in inputs]}; hlsgen handles single-input models")
    tensor_type = inputs[0].type.tensor_type
    dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                 for d in tensor_type.shape.dim)
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor_type.elem_type))
    return inputs[0].name, dims, dtype


def check_source_data(model: onnx.ModelProto, x_source: np.ndarray) -> np.ndarray:
    """``x_source`` if it fits the model input (shape per sample, kind and range of dtype).

    Raises :class:`DataError` naming the input, the expected and the actual shape/dtype.
    """
    name, shape, dtype = source_input(model)
    x = np.asarray(x_source)
    per_sample = tuple(shape[1:])
    if x.ndim < 1 or len(x) == 0:
        raise DataError(f"data x has shape {x.shape}: no samples for model input '{name}'")
    static = all(isinstance(d, int) and d > 0 for d in per_sample)
    if static and tuple(x.shape[1:]) != per_sample:
        raise DataError(
            f"data x has samples of shape {tuple(x.shape[1:])}, but model input '{name}' "
            f"takes {per_sample} per sample (model shape {shape}); store one sample per row "
            "in the model's own layout")
    if np.issubdtype(dtype, np.floating):
        if not np.issubdtype(x.dtype, np.floating):
            raise DataError(f"data x has dtype {x.dtype}, but model input '{name}' is {dtype}; "
                            "store float samples (as the model expects them, unquantized)")
    elif np.issubdtype(dtype, np.integer):
        if not np.issubdtype(x.dtype, np.integer):
            raise DataError(f"data x has dtype {x.dtype}, but model input '{name}' is {dtype}; "
                            "store the already-quantized integer samples")
        info = np.iinfo(dtype)
        if x.size and (x.min() < info.min or x.max() > info.max):
            raise DataError(f"data x has values in [{x.min()}, {x.max()}], outside the {dtype} "
                            f"range of model input '{name}'")
    else:
        raise DataError(f"model input '{name}' has type {dtype}; hlsgen handles float and "
                        "8-bit integer inputs")
    return x


def _as_model(model_path_or_proto) -> onnx.ModelProto:
    if isinstance(model_path_or_proto, onnx.ModelProto):
        return model_path_or_proto
    from hlsgen.frontend import load_onnx  # clear errors for missing/broken files

    return load_onnx(model_path_or_proto)


def _with_output(model: onnx.ModelProto, tensor: str) -> onnx.ModelProto:
    """A copy of ``model`` whose outputs include ``tensor`` (typed via shape inference)."""
    if any(o.name == tensor for o in model.graph.output):
        return model
    produced = {out for node in model.graph.node for out in node.output}
    if tensor not in produced:
        raise ValueError(f"output_source '{tensor}' is not produced by any node of the source "
                         "model (frontend bug)")
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    try:
        inferred = onnx.shape_inference.infer_shapes(copy, strict_mode=False)
        infos = {vi.name: vi for vi in inferred.graph.value_info}
    except Exception:  # inference is only a convenience; onnxruntime infers types itself
        infos = {}
    info = infos.get(tensor) or helper.make_empty_tensor_value_info(tensor)
    copy.graph.output.append(info)
    return copy
