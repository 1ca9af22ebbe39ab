"""Integer-only ONNX export of an IR graph, and running it in onnxruntime.

The exported model computes exactly what :func:`hlsgen.reference.execute` computes, with
int64 tensors only -- onnxruntime's mixed uint8 x int8 integer kernels are avoided on
purpose (they are wrong on some CPUs).  Layout: every activation is ``[N, H*W, C]``; windows
are ``Gather``s with the constant index tables of :mod:`hlsgen.reference.windows`; products
are int64 ``MatMul`` (batched over groups) or ``Mul`` + ``ReduceSum`` (depthwise); the floor
shift of requantization is ``(t - Mod(t, 2**s)) / 2**s``, exact because ``Mod`` (fmod=0)
takes the divisor's sign, so ``t - Mod(t, 2**s)`` is a multiple of ``2**s`` and the
truncating integer ``Div`` has nothing to truncate.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from hlsgen import ir
from hlsgen.errors import DataError
from hlsgen.reference.windows import window_pixels

__all__ = ["export_onnx", "run_onnx", "ONNX_IR_VERSION", "ONNX_OPSET"]

ONNX_IR_VERSION = 10  # onnxruntime 1.31 rejects the IR 14 that onnx 1.23 writes by default
ONNX_OPSET = 21
INPUT_NAME = "x"
OUTPUT_NAME = "y"
_SHAPE_KEY = "hlsgen_output_hwc"  # metadata: output (H, W, C), so run_onnx can unflatten
_CHUNK = 64  # samples per onnxruntime call: bounds the memory of the window tables


def export_onnx(graph: ir.Graph) -> onnx.ModelProto:
    """The integer-only ONNX twin of ``graph``: int64 [N, H*W*C] in, int64 [N, H*W*C] out."""
    builder = _Builder(graph)
    h, w, c = graph.tensor(graph.input).shape
    builder.values[graph.input] = builder.node(
        "Reshape", [INPUT_NAME, builder.const("input_shape", [0, h * w, c])], "input")
    for layer in graph.layers:
        builder.values[layer.output] = _EXPORTERS[layer.kind](builder, layer)
    builder.node("Reshape", [builder.values[graph.output], builder.const("output_shape", [0, -1])],
                 "output", output=OUTPUT_NAME)
    out_shape = graph.tensor(graph.output).shape
    onnx_graph = helper.make_graph(
        builder.nodes, f"{graph.name}_integer",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.INT64,
                                       ["N", graph.tensor(graph.input).size])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.INT64,
                                       ["N", int(np.prod(out_shape))])],
        initializer=builder.initializers,
    )
    model = helper.make_model(
        onnx_graph, ir_version=ONNX_IR_VERSION, producer_name="hlsgen",
        opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
        doc_string=f"hlsgen integer reference of '{graph.name}' (int64 only; see hlsgen.ir)")
    helper.set_model_props(model, {_SHAPE_KEY: ",".join(str(d) for d in out_shape)})
    return model


def run_onnx(model: onnx.ModelProto, x_ir: np.ndarray, *,
             progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Run an :func:`export_onnx` model in onnxruntime (CPU): int64 [N, H, W, C].

    ``progress(k)`` is called after every chunk of ``k`` samples.
    """
    import onnxruntime as ort  # heavy import, only needed here

    props = {p.key: p.value for p in model.metadata_props}
    if _SHAPE_KEY not in props:
        raise ValueError("run_onnx() runs models written by export_onnx(); this one has no "
                         f"'{_SHAPE_KEY}' metadata")
    out_shape = tuple(int(d) for d in props[_SHAPE_KEY].split(","))
    size = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    x = np.asarray(x_ir)
    if x.ndim != 2 or x.shape[1] != size or not np.issubdtype(x.dtype, np.integer):
        raise DataError(f"run_onnx: input must be integers of shape [N, {size}], got "
                        f"{x.dtype} {x.shape}")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    x = x.astype(np.int64)
    parts = []
    for start in range(0, len(x), _CHUNK):
        parts.append(session.run([OUTPUT_NAME], {INPUT_NAME: x[start : start + _CHUNK]})[0])
        if progress is not None:
            progress(len(parts[-1]))
    out = np.concatenate(parts) if parts else np.zeros((0, int(np.prod(out_shape))), np.int64)
    return out.reshape((len(x),) + out_shape)


class _Builder:
    """Collects nodes and int64 initializers; ``values`` maps IR tensor -> ONNX name."""

    def __init__(self, graph: ir.Graph):
        self.graph = graph
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.values: dict[str, str] = {}
        self._names: set[str] = set()

    def _unique(self, name: str) -> str:
        base, k = name, 1
        while name in self._names:
            name, k = f"{base}_{k}", k + 1
        self._names.add(name)
        return name

    def const(self, name: str, value) -> str:
        name = self._unique(name)
        array = np.asarray(value, dtype=np.int64)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], name: str, output: str | None = None,
             **attrs) -> str:
        out = output or self._unique(name)
        self.nodes.append(helper.make_node(op, inputs, [out], name=self._unique(f"{name}/{op}"),
                                           **attrs))
        return out

    def centred(self, tensor_name: str, where: str) -> str:
        """``x - zero_point`` of an IR tensor."""
        zp = self.graph.tensor(tensor_name).zero_point
        return self.node("Sub", [self.values[tensor_name], self.const(f"{where}_in_zp", zp)],
                         f"{where}_centred")

    def windows(self, value: str, src: ir.Tensor, kernel, stride, pads, pad_value: int,
                where: str) -> str:
        """[N, H*W, C] -> [N, P, KH*KW, C] (pad pixel appended when any tap can hit it)."""
        h, w, _ = src.shape
        index = window_pixels(ir.Window.of((h, w), kernel, stride, pads))
        if (index == h * w).any():
            value = self.node("Pad", [value, self.const(f"{where}_pads", [0, 0, 0, 0, 1, 0]),
                                      self.const(f"{where}_pad_value", pad_value)],
                              f"{where}_padded")
        return self.node("Gather", [value, self.const(f"{where}_windows", index)],
                         f"{where}_windows", axis=1)

    def requant(self, acc: str, requant: ir.Requant, where: str, output: str | None = None
                ) -> str:
        """``clamp(floor((acc * m + 2**(s-1)) / 2**s) + zp, lo, hi)`` per channel, exactly."""
        mult = requant.multiplier.astype(np.int64)
        shift = requant.shift.astype(np.int64)
        t = acc
        if not (mult == 1).all():
            t = self.node("Mul", [t, self.const(f"{where}_mult", mult)], f"{where}_scaled")
        divisor = self.const(f"{where}_divisor", np.int64(1) << shift)
        if requant.rounding is ir.Rounding.HALF_EVEN:
            # ties to even: the round term is (2**(s-1) - 1) + (floor(t / 2**s) mod 2)
            low = self.node("Mod", [t, divisor], f"{where}_low", fmod=0)
            trunc = self.node("Sub", [t, low], f"{where}_trunc")
            floor = self.node("Div", [trunc, divisor], f"{where}_floor")
            odd = self.node("Mod", [floor, self.const(f"{where}_two", np.int64(2))],
                            f"{where}_odd", fmod=0)
            t = self.node("Add", [t, odd], f"{where}_even")
            t = self.node("Add", [t, self.const(f"{where}_round",
                                                (np.int64(1) << (shift - 1)) - 1)],
                          f"{where}_rounded")
        else:
            t = self.node("Add", [t, self.const(f"{where}_round", np.int64(1) << (shift - 1))],
                          f"{where}_rounded")
        rem = self.node("Mod", [t, divisor], f"{where}_rem", fmod=0)
        t = self.node("Sub", [t, rem], f"{where}_floored")
        t = self.node("Div", [t, divisor], f"{where}_shifted")
        t = self.node("Add", [t, self.const(f"{where}_out_zp", requant.zero_point)],
                      f"{where}_offset")
        return self.node("Clip", [t, self.const(f"{where}_lo", requant.lo),
                                  self.const(f"{where}_hi", requant.hi)], f"{where}_out",
                         output=output)


def _conv(b: _Builder, layer: ir.Conv) -> str:
    src = b.graph.tensor(layer.input)
    cin, cout, groups, where = src.shape[2], layer.weight.shape[0], layer.groups, layer.name
    pixels = len(window_pixels(ir.window(layer, src.shape)))
    taps = layer.kernel[0] * layer.kernel[1]
    cig, cog = cin // groups, cout // groups
    weight = layer.weight.astype(np.int64)
    cols = b.windows(b.centred(layer.input, where), src, layer.kernel, layer.stride,
                     layer.pads, 0, where)  # [N, P, K, Cin]; padded taps read 0
    if cig == 1 and cog == 1:  # depthwise: elementwise product, sum over taps
        prod = b.node("Mul", [cols, b.const(f"{where}_weight", weight.reshape(cout, taps).T)],
                      f"{where}_products")
        acc = b.node("ReduceSum", [prod, b.const(f"{where}_tap_axis", [2])], f"{where}_acc",
                     keepdims=0)
    elif groups == 1:
        flat = b.node("Reshape", [cols, b.const(f"{where}_im2col", [0, pixels, taps * cin])],
                      f"{where}_im2col")
        acc = b.node("MatMul", [flat, b.const(f"{where}_weight", weight.reshape(cout, -1).T)],
                     f"{where}_acc")
    else:  # [N, P, K, G, cig] -> [N, G, P, K*cig] @ [G, K*cig, cog] -> [N, P, Cout]
        split = b.node("Reshape", [cols, b.const(f"{where}_split",
                                                 [0, pixels, taps, groups, cig])],
                       f"{where}_split")
        per_group = b.node("Transpose", [split], f"{where}_by_group", perm=[0, 3, 1, 2, 4])
        flat = b.node("Reshape", [per_group, b.const(f"{where}_im2col",
                                                     [0, groups, pixels, taps * cig])],
                      f"{where}_im2col")
        mat = weight.reshape(groups, cog, taps * cig).transpose(0, 2, 1)
        prod = b.node("MatMul", [flat, b.const(f"{where}_weight", mat)], f"{where}_group_acc")
        back = b.node("Transpose", [prod], f"{where}_by_pixel", perm=[0, 2, 1, 3])
        acc = b.node("Reshape", [back, b.const(f"{where}_acc_shape", [0, pixels, cout])],
                     f"{where}_acc")
    acc = b.node("Add", [acc, b.const(f"{where}_bias", layer.bias)], f"{where}_biased")
    return b.requant(acc, layer.requant, where)


def _dense(b: _Builder, layer: ir.Dense) -> str:
    where, cout = layer.name, layer.weight.shape[0]
    flat = b.node("Reshape", [b.centred(layer.input, where), b.const(f"{where}_flat", [0, -1])],
                  f"{where}_flat")
    acc = b.node("MatMul", [flat, b.const(f"{where}_weight", layer.weight.astype(np.int64).T)],
                 f"{where}_acc")
    acc = b.node("Add", [acc, b.const(f"{where}_bias", layer.bias)], f"{where}_biased")
    y = b.requant(acc, layer.requant, where)
    return b.node("Reshape", [y, b.const(f"{where}_out_shape", [0, 1, cout])], f"{where}_pixel")


def _maxpool(b: _Builder, layer: ir.MaxPool) -> str:
    src = b.graph.tensor(layer.input)
    cols = b.windows(b.values[layer.input], src, layer.kernel, layer.stride, layer.pads,
                     int(np.iinfo(np.int64).min), layer.name)  # a padded tap never wins
    return b.node("ReduceMax", [cols, b.const(f"{layer.name}_tap_axis", [2])],
                  f"{layer.name}_out", keepdims=0)


def _avgpool(b: _Builder, layer: ir.AvgPool) -> str:
    src = b.graph.tensor(layer.input)
    cols = b.windows(b.centred(layer.input, layer.name), src, layer.kernel, layer.stride,
                     (0, 0, 0, 0), 0, layer.name)
    acc = b.node("ReduceSum", [cols, b.const(f"{layer.name}_tap_axis", [2])],
                 f"{layer.name}_acc", keepdims=0)
    return b.requant(acc, layer.requant, layer.name)


def _add(b: _Builder, layer: ir.Add) -> str:
    where = layer.name
    terms = []
    for side, name, mult in (("a", layer.input_a, layer.mult_a), ("b", layer.input_b,
                                                                 layer.mult_b)):
        centred = b.centred(name, f"{where}_{side}")
        terms.append(b.node("Mul", [centred, b.const(f"{where}_mult_{side}", mult)],
                            f"{where}_{side}_scaled"))
    acc = b.node("Add", terms, f"{where}_acc")
    return b.requant(acc, layer.requant, where)


_EXPORTERS = {
    ir.LayerKind.CONV: _conv,
    ir.LayerKind.DENSE: _dense,
    ir.LayerKind.MAXPOOL: _maxpool,
    ir.LayerKind.AVGPOOL: _avgpool,
    ir.LayerKind.ADD: _add,
}
