"""What hlsgen can lower, checked node by node before any work is done.

:func:`node_infos` describes every node (shapes, parameters, MACs, supported and why not) for
``hlsgen inspect``; :func:`check_model` raises one :class:`UnsupportedModelError` that lists
every offending node at once.  Checks here are local to a node; the lowering reports the few
structural problems (e.g. a BatchNormalization that follows no Conv) it finds on its way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from hlsgen.errors import UnsupportedModelError
from hlsgen.ir import Window
from hlsgen.frontend.fold import attributes
from hlsgen.frontend.view import ModelView, product

__all__ = ["NodeInfo", "SUPPORTED_OPS", "node_infos", "check_model", "MIN_OPSET", "MAX_OPSET"]

MIN_OPSET, MAX_OPSET = 8, 21

# op -> what hlsgen does with it (shown by `hlsgen inspect --help` and docs/frontend.md)
SUPPORTED_OPS = {
    "Conv": "conv layer (1-D/2-D, grouped, depthwise)",
    "Gemm": "dense layer",
    "MatMul": "dense layer (a following Add of a constant is its bias)",
    "Add": "residual add, or the bias of the preceding Conv/Gemm/MatMul",
    "BatchNormalization": "folded into the preceding Conv/Gemm/MatMul",
    "Relu": "clamp of the preceding layer",
    "Clip": "clamp of the preceding layer",
    "LeakyRelu": "clamp of the preceding layer (alpha 0 only)",
    "MaxPool": "max pooling layer",
    "AveragePool": "average pooling layer (no padding)",
    "GlobalAveragePool": "average pooling layer",
    "Flatten": "layout only",
    "Reshape": "layout only",
    "Transpose": "layout only",
    "Squeeze": "layout only",
    "Unsqueeze": "layout only",
    "Identity": "layout only",
    "Dropout": "identity at inference",
    "QuantizeLinear": "quantization parameters of a tensor",
    "DequantizeLinear": "quantization parameters of a tensor or weight",
    "Softmax": "dropped when last: the accelerator outputs logits",
    "Constant": "constant",
}
_WEIGHTED = {"Conv", "Gemm", "MatMul", "Add", "BatchNormalization"}
_AFTER_SOFTMAX = {"QuantizeLinear", "DequantizeLinear", "Identity"}


@dataclass(frozen=True)
class NodeInfo:
    """One ONNX node as ``hlsgen inspect`` shows it.  Shapes hold ints, or strings for
    symbolic dimensions; ``None`` stands for an omitted input or an unknown shape."""

    index: int
    name: str
    op: str
    input_shapes: tuple[tuple | None, ...]
    output_shapes: tuple[tuple | None, ...]
    params: int  # constant weight/bias elements this node reads
    macs: int  # multiply-accumulates per inference
    supported: bool
    why: str  # why not supported ("" when supported)
    constant_inputs: tuple[bool, ...] = ()  # per input: a weight or other stored constant
    folded: bool = False  # every output is a constant (a weight on its way to a layer)


def node_infos(view: ModelView) -> list[NodeInfo]:
    problems = _problems(view)
    infos = []
    for index, node in enumerate(view.nodes):
        why = problems.get(index, "")
        infos.append(NodeInfo(
            index=index,
            name=node.name or f"{node.op_type}_{index}",
            op=node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}",
            input_shapes=tuple(view.shapes.get(i) if i else None for i in node.input),
            output_shapes=tuple(view.shapes.get(o) for o in node.output),
            params=_params(view, node),
            macs=_macs(view, node),
            supported=not why,
            why=why,
            constant_inputs=tuple(bool(i) and view.is_const(i) for i in node.input),
            folded=view.node_is_const(index),
        ))
    return infos


def check_model(view: ModelView) -> None:
    """Raise UnsupportedModelError listing every problem, or return."""
    problems = [(info.index, info.name, info.op, info.why)
                for info in node_infos(view) if not info.supported]
    if not MIN_OPSET <= view.opset <= MAX_OPSET:
        problems.insert(0, (-1, view.name, "opset",
                            f"opset {view.opset} is outside the supported "
                            f"{MIN_OPSET}..{MAX_OPSET}; convert it with onnx.version_converter"))
    problems += _model_problems(view)
    if problems:
        raise UnsupportedModelError(view.name, problems)


# Largest tensor (activation or weight) in elements: the integer reference holds activations
# as int64, so this is 256 MiB per tensor and sample.
MAX_TENSOR_ELEMENTS = 1 << 25


def _model_problems(view: ModelView) -> list[tuple[int, str, str, str]]:
    """Problems of the model as a whole (no node to blame)."""
    problems = []
    for name in view.inputs[1:]:
        if not view.consumers.get(name):
            problems.append((-1, name, "input", "a second model input that no node reads; "
                             "hlsgen supports one input: remove it from graph.input"))
    for name, shape in sorted(view.shapes.items()):
        if shape is not None and all(isinstance(d, int) for d in shape) and (
                product(shape) > MAX_TENSOR_ELEMENTS):
            problems.append((-1, name, "size",
                             f"tensor of shape {list(shape)} has {product(shape):,} elements, "
                             f"more than the {MAX_TENSOR_ELEMENTS:,} hlsgen handles (a "
                             "streaming accelerator holds a few lines of a frame, not "
                             "gigabytes); shrink the input"))
            break
    wide = sorted(name for name, elem in view.elem_types.items()
                  if elem == onnx.TensorProto.DOUBLE)
    if wide:
        problems.append((-1, view.name, "float64",
                         f"{len(wide)} tensor(s) are float64 (e.g. '{wide[0]}'); onnxruntime "
                         "has no float64 Conv/Gemm kernels and hlsgen quantizes float32 "
                         "models: convert the model to float32"))
    return problems


# -- per node -------------------------------------------------------------------------------
def _problems(view: ModelView) -> dict[int, str]:
    found: dict[int, list[str]] = {}
    for index, node in enumerate(view.nodes):
        if view.node_is_const(index):
            continue  # folded at import: a weight on its way to a layer
        whys = _check_node(view, node)
        if whys:
            found[index] = whys
    _check_io(view, found)
    return {i: "; ".join(w) for i, w in found.items()}


def _check_node(view: ModelView, node: onnx.NodeProto) -> list[str]:
    op = node.op_type
    if node.domain not in ("", "ai.onnx"):
        return [f"operator '{node.domain}.{op}' from a custom domain is not supported"]
    if op not in SUPPORTED_OPS:
        return [f"operator {op} is not supported (hlsgen lowers Conv, Gemm/MatMul, pooling, "
                "Add, ReLU/Clip, BatchNormalization, Q/DQ and layout ops; see docs/frontend.md)"]
    whys = _shape_problems(view, node)
    check = _CHECKS.get(op)
    if check is not None:
        whys += check(view, node, attributes(node))
    return whys


def _shape_problems(view: ModelView, node: onnx.NodeProto) -> list[str]:
    whys = []
    for name in list(node.input) + list(node.output):
        if not name or view.is_const(name):
            continue
        shape = view.shapes.get(name)
        if shape is None:
            whys.append(f"the shape of '{name}' is unknown after shape inference; "
                        "export the model with static shapes")
        elif view.static_shape(name) is None:
            dims = ", ".join(str(d) for d in shape)
            whys.append(f"dynamic shape: '{name}' is [{dims}]; fix every dimension (e.g. "
                        "python -m onnxruntime.tools.make_dynamic_shape_fixed)")
        elif 0 in shape:
            whys.append(f"'{name}' is empty (shape {list(shape)}); check the kernel and "
                        "padding")
        elif name in view.inputs and shape and shape[0] != 1:
            whys.append(f"'{name}' has batch size {shape[0]}; hlsgen needs batch 1")
    return whys[:2]


def _need_const(view: ModelView, node: onnx.NodeProto, positions, what: str) -> list[str]:
    whys = []
    for pos in positions:
        if pos < len(node.input) and node.input[pos] and not view.is_const(node.input[pos]):
            whys.append(f"non-constant {what}: '{node.input[pos]}' is computed at run time; "
                        "hlsgen needs weights stored in the model")
    return whys


def _check_conv(view, node, attrs) -> list[str]:
    whys = _need_const(view, node, (1, 2), "weights")
    dilations = list(attrs.get("dilations", []))
    if any(d != 1 for d in dilations):
        whys.append(f"dilation {max(dilations)} is not supported (only 1); "
                    "use an undilated convolution")
    weight = view.shapes.get(node.input[1]) if len(node.input) > 1 else None
    if weight is not None and len(weight) not in (3, 4):
        whys.append(f"{len(weight) - 2}-D convolution is not supported (only 1-D and 2-D)")
    return whys


def _check_gemm(view, node, attrs) -> list[str]:
    whys = _need_const(view, node, (1, 2), "weights")
    if attrs.get("transA", 0):
        whys.append("transA=1 is not supported; the activation must be the first operand "
                    "as is")
    return whys


def _check_matmul(view, node, attrs) -> list[str]:
    a, b = node.input[0], node.input[1]
    if view.is_const(a) and not view.is_const(b):
        return ["the constant operand must be the second input (x @ W)"]
    whys = _need_const(view, node, (1,), "weights")
    shape = view.static_shape(a)
    if shape is not None and product(shape[:-1]) != 1:
        whys.append(f"input '{a}' has shape {list(shape)}; MatMul is supported on one vector "
                    "[1, N] only (flatten first)")
    return whys


def _check_add(view, node, attrs) -> list[str]:
    if all(view.is_const(i) for i in node.input):
        return ["both inputs are constant; fold the Add offline"]
    return []


def _check_bn(view, node, attrs) -> list[str]:
    whys = _need_const(view, node, (1, 2, 3, 4), "BatchNormalization parameters")
    if attrs.get("training_mode", 0):
        whys.append("training_mode=1 is not supported; export the model for inference")
    return whys


def _check_clip(view, node, attrs) -> list[str]:
    return _need_const(view, node, (1, 2), "clip bounds")


def _check_leaky(view, node, attrs) -> list[str]:
    alpha = float(attrs.get("alpha", 0.01))
    if alpha not in (0.0, 1.0):
        return [f"LeakyRelu with alpha={alpha:g} is not supported (only alpha 0, which is "
                "ReLU); retrain with ReLU"]
    return []


def _check_pool(view, node, attrs) -> list[str]:
    whys = []
    kernel = list(attrs.get("kernel_shape", []))
    if len(kernel) not in (1, 2):
        whys.append(f"{len(kernel)}-D pooling is not supported (only 1-D and 2-D)")
    if any(d != 1 for d in attrs.get("dilations", [])):
        whys.append("dilated pooling is not supported")
    if node.op_type == "MaxPool":
        if attrs.get("storage_order", 0):
            whys.append("storage_order=1 is not supported")
        if len(node.output) > 1 and node.output[1] and node.output[1] in view.consumers:
            whys.append("the Indices output is used; only the pooled values are supported")
    else:
        pads = list(attrs.get("pads", []))
        if any(pads) or attrs.get("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
            if not _same_is_unpadded(view, node, kernel, attrs):
                whys.append("padded AveragePool is not supported (the IR averages full "
                            "windows only)")
        if attrs.get("ceil_mode", 0) and not _floor_matches(view, node, kernel, attrs):
            whys.append("ceil_mode=1 with a partial last window is not supported")
    return whys


def _same_is_unpadded(view, node, kernel, attrs) -> bool:
    if any(attrs.get("pads", [])):
        return False
    shape = view.static_shape(node.input[0])
    strides = list(attrs.get("strides", [1] * len(kernel)))
    if shape is None:
        return True  # reported as a shape problem
    for size, k, s in zip(shape[2:], kernel, strides):
        if max((-(-size // s) - 1) * s + k - size, 0):
            return False
    return True


def _floor_matches(view, node, kernel, attrs) -> bool:
    shape, out = view.static_shape(node.input[0]), view.static_shape(node.output[0])
    if shape is None or out is None:
        return True
    strides = list(attrs.get("strides", [1] * len(kernel)))
    return all(Window(size, 1, k, 1, s).ho == o
               for size, k, s, o in zip(shape[2:], kernel, strides, out[2:]))


def _check_reshape(view, node, attrs) -> list[str]:
    if len(node.input) > 1 and not view.is_const(node.input[1]):
        return [f"the target shape '{node.input[1]}' is computed at run time; export the "
                "model with a constant shape"]
    return []


def _check_axes(view, node, attrs) -> list[str]:
    if len(node.input) > 1 and node.input[1] and not view.is_const(node.input[1]):
        return ["the axes are computed at run time; export them as a constant"]
    return []


def _check_qdq(view, node, attrs) -> list[str]:
    whys = _need_const(view, node, (1, 2), "quantization parameters")
    if len(node.input) > 1 and view.is_const(node.input[1]):
        if view.consts[node.input[1]].value.size != 1:
            whys.append("per-channel quantization of an activation is not supported "
                        "(only of weights)")
        scale = np.asarray(view.consts[node.input[1]].value, dtype=np.float64).reshape(-1)
        bad = scale[~(scale > 0) | ~np.isfinite(scale)]
        if bad.size:
            whys.append(f"scale {bad[0]} is not a positive number; re-export the model")
    return whys


def _check_softmax(view, node, attrs) -> list[str]:
    pending, seen = list(node.output), set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for index in view.consumers.get(name, ()):
            after = view.nodes[index]
            if after.op_type not in _AFTER_SOFTMAX:
                return [f"Softmax is supported only as the last node (it feeds "
                        f"{after.op_type} '{after.name}'); the accelerator outputs logits"]
            pending += list(after.output)
    return []


def _check_dropout(view, node, attrs) -> list[str]:
    if len(node.input) > 2 and node.input[2]:
        value = view.consts.get(node.input[2])
        if value is None or bool(np.asarray(value.value).reshape(-1)[0]):
            return ["Dropout in training mode is not supported"]
    return []


def _check_constant(view, node, attrs) -> list[str]:
    return [] if "value" in attrs else ["only Constant nodes with a 'value' tensor are supported"]


_CHECKS = {
    "Conv": _check_conv,
    "Gemm": _check_gemm,
    "MatMul": _check_matmul,
    "Add": _check_add,
    "BatchNormalization": _check_bn,
    "Clip": _check_clip,
    "LeakyRelu": _check_leaky,
    "MaxPool": _check_pool,
    "AveragePool": _check_pool,
    "Reshape": _check_reshape,
    "Squeeze": _check_axes,
    "Unsqueeze": _check_axes,
    "QuantizeLinear": _check_qdq,
    "DequantizeLinear": _check_qdq,
    "Softmax": _check_softmax,
    "Dropout": _check_dropout,
    "Constant": _check_constant,
}


def _check_io(view: ModelView, found: dict[int, list[str]]) -> None:
    """One activation input and one output: blame the nodes touching the extra ones."""
    for name in view.inputs[1:]:
        for index in view.consumers.get(name, ()):
            found.setdefault(index, []).append(
                f"reads a second model input '{name}'; hlsgen supports one input")
    for name in view.outputs[1:]:
        index = view.producer.get(name)
        if index is not None:
            found.setdefault(index, []).append(
                f"writes a second model output '{name}'; hlsgen supports one output")


# -- statistics -----------------------------------------------------------------------------
def _params(view: ModelView, node: onnx.NodeProto) -> int:
    if node.op_type not in _WEIGHTED:
        return 0
    return sum(int(view.consts[i].value.size) for i in node.input if i and view.is_const(i))


def _macs(view: ModelView, node: onnx.NodeProto) -> int:
    out = view.static_shape(node.output[0]) if node.output else None
    if out is None or len(node.input) < 2:
        return 0
    weight = view.static_shape(node.input[1])
    if node.op_type == "Conv" and weight is not None:
        return product(out) * product(weight[1:])  # Cin/groups * kernel taps per output
    if node.op_type in ("Gemm", "MatMul"):
        a = view.static_shape(node.input[0])
        if a is None:
            return 0
        inner = a[0] if node.op_type == "Gemm" and attributes(node).get("transA", 0) else a[-1]
        return product(out) * inner
    return 0
