"""Single-layer graphs for the array: one layer cut out of a network, or a synthetic Conv /
Dense of a given geometry (for benchmarks and tests that need a named shape).

Both are ordinary :class:`hlsgen.ir.Graph` objects, so the reference executor, the array's
plan and hlsgen's testbench take them like any network.
"""

from __future__ import annotations

import math

import numpy as np

from hlsgen import ir

__all__ = ["single_layer_graph", "conv_graph", "dense_graph"]


def single_layer_graph(graph: ir.Graph, layer_name: str) -> ir.Graph:
    """``graph``'s layer ``layer_name`` alone: its input tensor is the graph's input."""
    layer = graph.layer(layer_name)
    if len(layer.inputs) != 1:
        raise ValueError(f"layer '{layer_name}' reads {len(layer.inputs)} tensors; a "
                         "single-layer graph has one input")
    src, out = graph.tensor(layer.inputs[0]), graph.tensor(layer.output)
    return ir.Graph(
        name=f"{graph.name}.{layer_name}", input=src.name, output=out.name,
        tensors={src.name: src, out.name: out}, layers=(layer,),
        input_permutation=np.arange(src.size, dtype=np.int64), output_source=out.name,
        source_input_dtype=src.dtype.value)


def conv_graph(in_shape: tuple[int, int, int], cout: int, kernel: tuple[int, int],
               stride: tuple[int, int] = (1, 1), pads: tuple[int, int, int, int] = (0, 0, 0, 0),
               *, seed: int = 0, in_zero_point: int = -3,
               rounding: ir.Rounding = ir.Rounding.HALF_EVEN) -> ir.Graph:
    """A random int8 Conv (groups 1) of the given geometry with a 24-bit requantization
    scaled so the outputs spread over the int8 range, as in an int8 QDQ model."""
    rng = np.random.default_rng(seed)
    h, w, cin = in_shape
    win = ir.Window.of((h, w), kernel, stride, pads)
    weight = _weights(rng, (cout, *kernel, cin))
    x = ir.Tensor("x", tuple(in_shape), ir.DType.INT8, 0.02, in_zero_point)
    y = ir.Tensor("y", (win.ho, win.wo, cout), ir.DType.INT8, 0.05, 0)
    bias = rng.integers(-2000, 2001, size=cout).astype(np.int64)
    layer = ir.Conv(name="conv", source=("/conv/Conv",), input="x", output="y", weight=weight,
                    bias=bias, stride=tuple(stride), pads=tuple(pads), groups=1,
                    requant=_requant(weight.reshape(cout, -1), rounding))
    return _graph("conv", x, y, layer)


def dense_graph(in_shape: tuple[int, int, int], cout: int, *, seed: int = 0,
                in_zero_point: int = -3,
                rounding: ir.Rounding = ir.Rounding.HALF_EVEN) -> ir.Graph:
    """A random int8 Dense layer over an (H, W, C) input, requantized like :func:`conv_graph`."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(in_shape))
    weight = _weights(rng, (cout, size))
    x = ir.Tensor("x", tuple(in_shape), ir.DType.INT8, 0.02, in_zero_point)
    y = ir.Tensor("y", (1, 1, cout), ir.DType.INT8, 0.05, 0)
    bias = rng.integers(-2000, 2001, size=cout).astype(np.int64)
    layer = ir.Dense(name="dense", source=("/dense/Gemm",), input="x", output="y",
                     weight=weight, bias=bias, requant=_requant(weight, rounding))
    return _graph("dense", x, y, layer)


def _weights(rng, shape) -> np.ndarray:
    weight = rng.integers(-127, 128, size=shape).astype(np.int64)
    weight[rng.random(shape) < 0.1] = 0
    return weight


def _requant(matrix: np.ndarray, rounding: ir.Rounding) -> ir.Requant:
    """A 24-bit multiplier per channel mapping the accumulator's spread to about 30 units."""
    acc_std = np.sqrt((matrix.astype(np.float64) ** 2).sum(axis=1)) * 74.0  # uniform int8 x
    mults, shifts = [], []
    for std in acc_std:
        ratio = 30.0 / max(float(std), 1.0)
        shift = 23 - math.floor(math.log2(ratio))
        mults.append(round(ratio * 2.0**shift))
        shifts.append(shift)
    return ir.Requant(np.array(mults, np.int64), np.array(shifts, np.int64), 0, -128, 127,
                      rounding)


def _graph(name: str, x: ir.Tensor, y: ir.Tensor, layer) -> ir.Graph:
    return ir.Graph(name=name, input="x", output="y", tensors={"x": x, "y": y},
                    layers=(layer,), input_permutation=np.arange(x.size, dtype=np.int64),
                    output_source="y", source_input_dtype="int8")
