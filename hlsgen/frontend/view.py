"""A read-only view of an ONNX graph: shapes, folded constants, producers and consumers.

Built once per model and shared by the checker (:mod:`.support`), ``hlsgen inspect`` and the
lowering (:mod:`.lower`).  Old models (IR 3) list their initializers among the graph inputs;
those are constants here, and only the remaining inputs are activations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from hlsgen.errors import ModelLoadError
from hlsgen.frontend.fold import FOLDABLE_OPS, ConstValue, fold_node, initializer_value
from hlsgen.frontend.loader import model_name, with_shapes

__all__ = ["ModelView", "build_view", "Shape"]

Shape = tuple  # of int (known) or str (symbolic / unknown) dimensions


@dataclass(frozen=True, eq=False)
class ModelView:
    name: str
    model: onnx.ModelProto  # with inferred shapes
    nodes: tuple[onnx.NodeProto, ...]  # in file order: a node's index is its position in the file
    order: tuple[int, ...]  # node indices in a topological order
    shapes: dict[str, Shape | None]  # None: rank unknown
    elem_types: dict[str, int]  # onnx.TensorProto element type per tensor
    consts: dict[str, ConstValue]  # initializers and everything folded from them
    producer: dict[str, int]  # tensor -> index of the node writing it
    consumers: dict[str, tuple[int, ...]]  # tensor -> indices of nodes reading it
    inputs: tuple[str, ...]  # activation inputs (initializers excluded)
    outputs: tuple[str, ...]
    opset: int

    def is_const(self, name: str) -> bool:
        return name in self.consts

    def node_is_const(self, index: int) -> bool:
        """Whether every output of node ``index`` was folded into a constant."""
        node = self.nodes[index]
        return all(o in self.consts for o in node.output if o)

    def static_shape(self, name: str) -> tuple[int, ...] | None:
        """The shape if every dimension is a known integer, else None."""
        shape = self.shapes.get(name)
        if shape is None or any(not isinstance(d, int) for d in shape):
            return None
        return shape


def build_view(model: onnx.ModelProto, name: str | None = None) -> ModelView:
    """The view of ``model``; ``name`` (default: the graph's name) labels every message."""
    name = name or model_name(model)
    inferred = with_shapes(model)
    graph = inferred.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)

    shapes: dict[str, Shape | None] = {}
    elem_types: dict[str, int] = {}
    for info in list(graph.input) + list(graph.value_info) + list(graph.output):
        shapes[info.name], elem_types[info.name] = _shape_of(info)
    consts: dict[str, ConstValue] = {}
    for tensor in graph.initializer:
        consts[tensor.name] = initializer_value(tensor)
        shapes[tensor.name] = tuple(int(d) for d in tensor.dims)
        elem_types[tensor.name] = tensor.data_type
    inputs = tuple(i.name for i in graph.input if i.name not in consts)
    nodes = list(graph.node)
    order = _topological(name, nodes, set(consts) | set(inputs))

    producer, consumers = {}, {}
    for index in order:
        node = nodes[index]
        for out in node.output:
            producer[out] = index
        for inp in node.input:
            if inp:
                consumers.setdefault(inp, []).append(index)
        _fold(node, consts, shapes)
    return ModelView(
        name=name,
        model=inferred,
        nodes=tuple(nodes),
        order=tuple(order),
        shapes=shapes,
        elem_types=elem_types,
        consts=consts,
        producer=producer,
        consumers={k: tuple(v) for k, v in consumers.items()},
        inputs=inputs,
        outputs=tuple(o.name for o in graph.output),
        opset=opset,
    )


def _shape_of(info: onnx.ValueInfoProto) -> tuple[Shape | None, int]:
    tensor_type = info.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None, tensor_type.elem_type
    dims = []
    for dim in tensor_type.shape.dim:
        if dim.HasField("dim_value"):
            dims.append(int(dim.dim_value))
        else:
            dims.append(dim.dim_param or "?")
    return tuple(dims), tensor_type.elem_type


def _fold(node: onnx.NodeProto, consts: dict[str, ConstValue], shapes: dict) -> None:
    """Fold ``node`` into ``consts`` when it is foldable and its data inputs are constant."""
    if node.op_type not in FOLDABLE_OPS or node.domain not in ("", "ai.onnx"):
        return
    if not all(i in consts for i in node.input if i):
        return
    try:
        value = fold_node(node, [consts.get(i) if i else None for i in node.input])
    except (ValueError, IndexError, TypeError):
        return  # left unfolded; the checker reports the node if it matters
    consts[node.output[0]] = value
    shapes[node.output[0]] = tuple(int(d) for d in value.value.shape)


def _topological(name: str, nodes: list[onnx.NodeProto], known: set[str]) -> list[int]:
    """Node indices in an order where every input is produced first: the file order when it
    already is one (ONNX requires it; some exporters forget).  A dangling input means a
    truncated or broken file."""
    known = set(known) | {""}
    order, waiting = [], list(range(len(nodes)))
    while waiting:
        index = next((i for i in waiting if all(t in known for t in nodes[i].input)), None)
        if index is None:
            node = nodes[waiting[0]]
            missing = [t for t in node.input if t not in known]
            raise ModelLoadError(
                f"{name}: node '{node.name}' ({node.op_type}) reads '{missing[0]}', which no "
                "node, initializer or graph input provides (truncated or broken file?); "
                "re-export the model")
        known.update(nodes[index].output)
        order.append(index)
        waiting.remove(index)
    return order


def product(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape)) if shape else 1
