"""Lower a checked ONNX graph to a :class:`~hlsgen.frontend.lowered.LoweredGraph`.

One walk over the nodes in topological order.  Each ONNX tensor maps to either a constant or
an activation: an IR tensor plus an index map (see :mod:`.layout`).  A Conv, Gemm/MatMul,
pooling or residual Add starts a *pending* layer; a bias Add, BatchNormalization and
ReLU/Clip fold into it while it is the only reader; anything else -- a QuantizeLinear, a
layout op, a second reader -- materializes it as an IR tensor named after the ONNX tensor that
holds its values.  A final Softmax is dropped: the accelerator outputs logits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import onnx

from hlsgen.errors import UnsupportedModelError
from hlsgen.frontend import layers, layout
from hlsgen.frontend.fold import ConstValue, attributes, layout_shape
from hlsgen.frontend.lowered import (LAdd, LConv, LLayer, LMaxPool, LoweredGraph, LTensor,
                                     QParams, layer_inputs)
from hlsgen.frontend.qdq import QdqError, node_qparams, same_qparams
from hlsgen.frontend.view import ModelView, product
from hlsgen.ir import LayerKind

__all__ = ["lower"]

def lower(view: ModelView) -> LoweredGraph:
    """The lowered graph of a model that passed :func:`.support.check_model`."""
    return _Lowering(view).run()


class _Unsupported(layers.NodeProblem):
    """Raised inside a handler; becomes an UnsupportedModelError naming the node."""


@dataclass(eq=False)
class _Tensor:
    """An IR tensor while lowering (mutable: a later Q/DQ may fix its quantization)."""

    name: str
    shape: tuple[int, int, int] | None  # None: the graph input, layout not chosen yet
    qparams: QParams | None = None
    relabel: np.ndarray | None = None  # graph input: ONNX flat index -> IR flat index


@dataclass(frozen=True, eq=False)
class _Act:
    """An activation: ``map`` indexes ``tensor``'s storage, or a pending layer's output."""

    map: np.ndarray
    tensor: _Tensor | None = None
    pending: LLayer | None = None  # output field unset until materialized
    shape: tuple[int, int, int] | None = None  # IR shape of the pending output
    start: int = 0  # position (in topological order) of the node that started the layer


_DROPPED = object()  # the value of Softmax and everything after it
_FAILED = object()  # the value of a node that could not be lowered (already reported)


class _Lowering:
    def __init__(self, view: ModelView):
        self.view = view
        self.values: dict[str, object] = dict(view.consts)
        self.tensors: dict[str, _Tensor] = {}
        self.layers: list[tuple[int, LLayer]] = []  # (start, layer) in materialization order
        self.step = 0
        self.notes: list[str] = []
        self.logits: _Act | None = None
        self.perm: np.ndarray | None = None
        name = view.inputs[0]
        shape = view.static_shape(name)
        self.input = _Tensor(name, None)
        self.tensors[name] = self.input
        self.values[name] = _Act(np.arange(product(shape), dtype=np.int64).reshape(shape),
                                 self.input)

    # -- driver ----------------------------------------------------------------------------
    def run(self) -> LoweredGraph:
        problems = []  # every node that cannot be lowered, reported together
        for self.step, index in enumerate(self.view.order):
            if self.view.node_is_const(index):
                continue
            node = self.view.nodes[index]
            if any(self.values.get(i) is _FAILED for i in node.input):
                for out in node.output:  # follows from a problem already reported
                    self.values[out] = _FAILED
                continue
            try:
                if any(self.values.get(i) is _DROPPED for i in node.input):
                    self._dropped(node)
                else:
                    getattr(self, "_op_" + node.op_type)(node, attributes(node))
            except (layers.NodeProblem, QdqError) as err:
                name = node.name or f"{node.op_type}_{index}"
                problems.append((index, name, node.op_type, str(err)))
                for out in node.output:
                    self.values[out] = _FAILED
            except Exception:
                if not problems:
                    raise
                for out in node.output:  # state left by an earlier failed node
                    self.values[out] = _FAILED
        if problems:
            raise UnsupportedModelError(self.view.name, problems)
        return self._finish()

    def _finish(self) -> LoweredGraph:
        out_name = self.view.outputs[0]
        value = self.values[out_name]
        act = self.logits if value is _DROPPED else self._take(out_name)
        if self.input.shape is None:
            raise UnsupportedModelError(self.view.name, [(
                -1, self.view.inputs[0], "input",
                "the model input reaches no Conv, pooling or dense layer")])
        size = int(np.prod(act.tensor.shape))
        if act.tensor is self.input or not np.array_equal(self._ir_map(act).reshape(-1),
                                                          np.arange(size)):
            index = self.view.producer.get(out_name, -1)
            node = self.view.nodes[index] if index >= 0 else None
            raise UnsupportedModelError(self.view.name, [(
                index, node.name if node else out_name, node.op_type if node else "output",
                f"the model output '{out_name}' is not in the IR's channels-last order (e.g. "
                "an NCHW feature map); end the model with a dense layer, a Flatten of a 1x1 "
                "map or a Transpose to NHWC")])
        # ONNX node order, not materialization order, so that a float model and its int8
        # twin name their layers alike (a start node follows the layers it reads from)
        kept = _prune([layer for _, layer in sorted(self.layers, key=lambda p: p[0])],
                      act.tensor.name)
        kept = tuple(replace(layer, name=f"{_prefix(layer)}{i}") for i, layer in enumerate(kept))
        used = {self.input.name} | {layer.output for layer in kept}
        tensors = {t.name: LTensor(t.name, t.shape, t.qparams)
                   for t in self.tensors.values() if t.name in used}
        elem = self.view.elem_types[self.view.inputs[0]]
        return LoweredGraph(
            name=self.view.name,
            input=self.input.name,
            output=act.tensor.name,
            tensors=tensors,
            layers=kept,
            input_permutation=self.perm,
            output_source=act.tensor.name,
            source_input_dtype=np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem)).name,
            source_input=self.view.inputs[0],
            notes=tuple(self.notes),
        )

    # -- values ----------------------------------------------------------------------------
    def _const(self, name: str, what: str) -> ConstValue:
        value = self.values.get(name)
        if not isinstance(value, ConstValue):
            raise _Unsupported(f"{what} '{name}' is not a constant")
        return value

    def _optional_const(self, node, position: int, what: str) -> ConstValue | None:
        if len(node.input) > position and node.input[position]:
            return self._const(node.input[position], what)
        return None

    def _take(self, name: str, extend: bool = False) -> _Act:
        """The activation ``name``; a pending layer stays pending only when ``extend`` asks
        for it and this node is its only reader (so folding changes nobody else's input)."""
        value = self.values.get(name)
        if not isinstance(value, _Act):
            raise _Unsupported(f"'{name}' is a constant where an activation is expected")
        if value.pending is None or (extend and self._single_reader(name)):
            return value
        return self._materialize(name, value, name, None)

    def _single_reader(self, name: str) -> bool:
        return len(self.view.consumers.get(name, ())) == 1 and name not in self.view.outputs

    def _materialize(self, key: str, act: _Act, name: str, qparams: QParams | None) -> _Act:
        layer = replace(act.pending, output=name)
        if isinstance(layer, LMaxPool):
            source = self.tensors[layer.input].qparams
            if qparams is not None and source is not None and not same_qparams(qparams, source):
                raise _Unsupported("a MaxPool output is requantized to other parameters than "
                                   "its input; the IR keeps them equal")
            qparams = qparams or source
        tensor = _Tensor(name, act.shape, qparams)
        self.tensors[name] = tensor
        self.layers.append((act.start, layer))
        done = _Act(act.map, tensor)
        self.values[key] = done
        return done

    def _ir_map(self, act: _Act) -> np.ndarray:
        relabel = act.tensor.relabel
        return act.map if relabel is None else relabel[act.map]

    def _open_input(self, act: _Act) -> bool:
        return act.tensor is self.input and self.input.shape is None

    def _fix_input(self, ir_shape: tuple[int, int, int], ir_map: np.ndarray, act: _Act):
        """Choose the input's IR layout so that ``act.map`` reads it as ``ir_map``."""
        size = product(self.view.static_shape(self.view.inputs[0]))
        perm = np.full(size, -1, dtype=np.int64)
        perm[ir_map.reshape(-1)] = act.map.reshape(-1)
        if product(ir_shape) != size or (perm < 0).any():
            raise _Unsupported("the first layer reads only part of the model input; "
                               "hlsgen needs it to read the whole input once")
        self.input.shape, self.perm = ir_shape, perm
        self.input.relabel = np.argsort(perm)

    def _spatial(self, name: str, act: _Act) -> _Tensor:
        """The IR tensor that ``act`` (an NCHW [1, C, H, W] / [1, C, L] ONNX tensor) reads in
        place; raises if it reads it in any other order."""
        onnx_shape = self.view.static_shape(name)
        if not layout.is_spatial(onnx_shape):
            raise _Unsupported(f"input '{name}' has shape {list(onnx_shape)}; expected "
                               "[1, C, H, W] or [1, C, L]")
        ir_shape = layout.spatial_ir_shape(onnx_shape)
        canonical = layout.nchw_view(ir_shape, len(onnx_shape))
        if self._open_input(act):
            self._fix_input(ir_shape, canonical, act)
        if act.tensor.shape != ir_shape or not np.array_equal(self._ir_map(act), canonical):
            raise _Unsupported(f"input '{name}' is a reordered view of tensor "
                               f"'{act.tensor.name}' (a Transpose/Reshape the IR cannot absorb "
                               "here); only layout ops that keep NCHW order are supported")
        return act.tensor

    def _vector(self, name: str, act: _Act) -> np.ndarray:
        """IR flat index of each element of ``act`` (a [1, N] vector read by a dense layer)."""
        n = layout.vector_length(self.view.static_shape(name))
        if n is None:
            raise _Unsupported(f"input '{name}' is not a vector [1, N]; flatten it first")
        if self._open_input(act):
            self._fix_input((1, 1, n), np.arange(n), act)
        index = self._ir_map(act).reshape(-1)
        if product(act.tensor.shape) != n or len(np.unique(index)) != n:
            raise _Unsupported(f"input '{name}' does not hold every element of "
                               f"'{act.tensor.name}' exactly once")
        return index

    def _pending(self, out: str, layer: LLayer, ir_shape, onnx_map: np.ndarray,
                 start: int | None = None) -> None:
        """``out`` holds ``layer``, pending; ``start`` is kept when a node folds into it."""
        self.values[out] = _Act(onnx_map, None, layer, ir_shape,
                                self.step if start is None else start)

    # -- quantization nodes ----------------------------------------------------------------
    def _op_QuantizeLinear(self, node, attrs):
        qp = node_qparams(node, self.values)
        name, out = node.input[0], node.output[0]
        act = self.values.get(name)
        if isinstance(act, _Act) and act.pending is not None and self._single_reader(name):
            self.values[out] = self._materialize(name, act, out, qp)
            return
        act = self._take(name)
        tensor = act.tensor
        if tensor.qparams is None:
            tensor.qparams = qp
            if tensor is self.input and self.view.elem_types[name] == onnx.TensorProto.FLOAT:
                self._rename(tensor, out)  # the IR input is the quantized input
        elif not same_qparams(tensor.qparams, qp):
            raise _Unsupported(f"requantizes '{name}' from scale {tensor.qparams.scale:g} / "
                               f"zero point {tensor.qparams.zero_point} to {qp.scale:g} / "
                               f"{qp.zero_point} without a layer in between")
        self.values[out] = act

    def _op_DequantizeLinear(self, node, attrs):
        qp = node_qparams(node, self.values)
        act = self._take(node.input[0])
        tensor = act.tensor
        if tensor.qparams is None:
            tensor.qparams = qp
        elif not same_qparams(tensor.qparams, qp):
            raise _Unsupported(f"dequantizes '{node.input[0]}' with other parameters than it "
                               "was quantized with")
        self.values[node.output[0]] = act

    def _rename(self, tensor: _Tensor, name: str) -> None:
        if any(tensor.name in layer_inputs(layer) for _, layer in self.layers):
            raise _Unsupported(f"'{tensor.name}' is read both quantized and unquantized")
        del self.tensors[tensor.name]
        tensor.name = name
        self.tensors[name] = tensor

    # -- layers ----------------------------------------------------------------------------
    def _op_Conv(self, node, attrs):
        name, out = node.input[0], node.output[0]
        tensor = self._spatial(name, self._take(name))
        bias = self._optional_const(node, 2, "bias")
        out_onnx = self.view.static_shape(out)
        layer, ir_out = layers.conv_layer(node.name, tensor.name, tensor.shape,
                                          self._const(node.input[1], "weight"), bias, attrs,
                                          out_onnx)
        self._pending(out, layer, ir_out, layout.nchw_view(ir_out, len(out_onnx)))

    def _op_Gemm(self, node, attrs):
        weight = self._const(node.input[1], "weight")
        if attrs.get("transB", 0):
            weight = weight.apply(lambda a: a.T)
        bias = self._optional_const(node, 2, "bias")
        self._dense(node, weight, bias, float(attrs.get("alpha", 1.0)),
                    float(attrs.get("beta", 1.0)))

    def _op_MatMul(self, node, attrs):
        self._dense(node, self._const(node.input[1], "weight"), None, 1.0, 1.0)

    def _dense(self, node, weight: ConstValue, bias: ConstValue | None, alpha, beta):
        name, out = node.input[0], node.output[0]
        act = self._take(name)
        layer = layers.dense_layer(node.name, act.tensor.name, self._vector(name, act), weight,
                                   bias, alpha, beta)
        n_out = layer.weight.real.shape[0]
        self._pending(out, layer, (1, 1, n_out),
                      np.arange(n_out, dtype=np.int64).reshape(self.view.static_shape(out)))

    def _op_MaxPool(self, node, attrs):
        self._pool(node, attrs)

    _op_AveragePool = _op_MaxPool

    def _pool(self, node, attrs):
        name, out = node.input[0], node.output[0]
        tensor = self._spatial(name, self._take(name))
        out_onnx = self.view.static_shape(out)
        if node.op_type == "GlobalAveragePool":
            layer, ir_out = layers.global_pool_layer(node.name, tensor.name, tensor.shape)
        else:
            layer, ir_out = layers.pool_layer(node.op_type, node.name, tensor.name,
                                              tensor.shape, attrs, out_onnx)
        self._pending(out, layer, ir_out, layout.nchw_view(ir_out, len(out_onnx)))

    _op_GlobalAveragePool = _pool

    def _op_Add(self, node, attrs):
        a, b = node.input[0], node.input[1]
        consts = [isinstance(self.values.get(i), ConstValue) for i in (a, b)]
        if any(consts):  # the bias of the layer before
            const_name, act_name = (a, b) if consts[0] else (b, a)
            act = self._take(act_name, extend=True)
            layer = layers.with_bias(act.pending, self.values[const_name],
                                     self.view.static_shape(node.output[0]), node.name)
            self._pending(node.output[0], layer, act.shape, act.map, act.start)
            return
        act_a, act_b = self._take(a), self._take(b)
        if self._open_input(act_a) or self._open_input(act_b):
            raise _Unsupported("adds the model input before any layer has read it; hlsgen "
                               "cannot choose its layout")
        map_a, map_b = self._ir_map(act_a), self._ir_map(act_b)
        if act_a.tensor.shape != act_b.tensor.shape or not np.array_equal(map_a, map_b):
            raise _Unsupported(f"'{a}' and '{b}' are laid out differently (or broadcast); the "
                               "IR adds two tensors of one shape element by element")
        if self.view.static_shape(node.output[0]) != self.view.static_shape(a):
            raise _Unsupported("broadcasting Add of two activations is not supported")
        layer = LAdd("", (node.name,), act_a.tensor.name, act_b.tensor.name, "")
        self._pending(node.output[0], layer, act_a.tensor.shape, map_a)

    def _op_BatchNormalization(self, node, attrs):
        act = self._take(node.input[0], extend=True)
        params = [self._const(i, "BatchNormalization parameter").value for i in node.input[1:5]]
        layer = layers.with_batchnorm(act.pending, params, float(attrs.get("epsilon", 1e-5)),
                                      node.name)
        self._pending(node.output[0], layer, act.shape, act.map, act.start)

    # -- activations -----------------------------------------------------------------------
    def _op_Relu(self, node, attrs):
        self._clamp(node, 0.0, np.inf)

    def _op_LeakyRelu(self, node, attrs):
        if float(attrs.get("alpha", 0.01)) == 1.0:  # the identity
            self._op_Identity(node, attrs)
        else:  # alpha == 0 (the checker rejects the rest)
            self._clamp(node, 0.0, np.inf)

    def _op_Clip(self, node, attrs):
        lo, hi = float(attrs.get("min", -np.inf)), float(attrs.get("max", np.inf))
        if len(node.input) > 1 and node.input[1]:
            lo = float(np.asarray(self._const(node.input[1], "min").value).reshape(-1)[0])
        if len(node.input) > 2 and node.input[2]:
            hi = float(np.asarray(self._const(node.input[2], "max").value).reshape(-1)[0])
        self._clamp(node, lo, hi)

    def _clamp(self, node, lo: float, hi: float):
        act = self._take(node.input[0], extend=True)
        layer = layers.with_clamp(act.pending, lo, hi, node.op_type, node.name)
        self._pending(node.output[0], layer, act.shape, act.map, act.start)

    def _op_Softmax(self, node, attrs):
        self.logits = self._take(node.input[0])
        self.notes.append(f"final Softmax '{node.name}' dropped: the accelerator outputs logits")
        self.values[node.output[0]] = _DROPPED

    def _dropped(self, node):
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear", "Identity"):
            raise _Unsupported("reads the Softmax output; Softmax must be last")
        for out in node.output:
            self.values[out] = _DROPPED

    # -- layout ----------------------------------------------------------------------------
    def _op_Identity(self, node, attrs):
        name = node.input[0]
        act = self.values.get(name)
        if isinstance(act, _Act) and act.pending is not None and self._single_reader(name):
            self.values[node.output[0]] = act  # still pending: Identity changes nothing
        else:
            self.values[node.output[0]] = self._take(name)

    _op_Dropout = _op_Identity

    def _op_Transpose(self, node, attrs):
        act = self._take(node.input[0])
        perm = attrs.get("perm")
        self._relayout(node, act, np.transpose(act.map, perm))

    def _op_Reshape(self, node, attrs):
        act = self._take(node.input[0])
        consts = [None] + [self._const(i, "shape").value if i else None for i in node.input[1:]]
        shape = layout_shape(node.op_type, act.map.shape, attrs, consts)
        self._relayout(node, act, act.map.reshape(shape))

    _op_Flatten = _op_Squeeze = _op_Unsqueeze = _op_Reshape

    def _relayout(self, node, act: _Act, new_map: np.ndarray):
        want = self.view.static_shape(node.output[0])
        if tuple(new_map.shape) != tuple(want):
            raise _Unsupported(f"computed shape {list(new_map.shape)} differs from the inferred "
                               f"{list(want)}")
        self.values[node.output[0]] = _Act(new_map, act.tensor)


# -- helpers --------------------------------------------------------------------------------
def _prune(layers: list[LLayer], output: str) -> list[LLayer]:
    """The layers the output depends on (dead branches of the ONNX graph are dropped)."""
    needed, kept = {output}, []
    for layer in reversed(layers):
        if layer.output in needed:
            kept.append(layer)
            needed.update(layer_inputs(layer))
    return kept[::-1]


def _prefix(layer: LLayer) -> str:
    if isinstance(layer, LConv):
        cout, cin_g = layer.weight.real.shape[0], layer.weight.real.shape[3]
        return "dw" if layer.groups > 1 and cin_g == 1 and layer.groups == cout else "conv"
    return {LayerKind.DENSE: "dense", LayerKind.MAXPOOL: "maxpool",
            LayerKind.AVGPOOL: "avgpool", LayerKind.ADD: "add"}[layer.kind]
