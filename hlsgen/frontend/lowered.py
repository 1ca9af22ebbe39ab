"""The lowered graph: the IR's layers with real-valued weights, before quantization.

The lowering (:mod:`.lower`) produces it from any supported model.  Everything an int8 QDQ
model already fixes is carried along -- tensor scales and zero points, integer weights with
their per-channel scales, int32 biases -- and :mod:`hlsgen.frontend.quantize` fills in the rest
(everything, for a float model) and emits :mod:`hlsgen.ir` objects.  Shapes, pads, strides,
layouts and names are final here; quantization never changes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import numpy as np

from hlsgen.ir import DType, LayerKind

__all__ = [
    "QParams",
    "LTensor",
    "LWeight",
    "LBias",
    "LConv",
    "LDense",
    "LMaxPool",
    "LAvgPool",
    "LAdd",
    "LLayer",
    "LoweredGraph",
    "NO_CLAMP",
    "layer_inputs",
]

NO_CLAMP = (-np.inf, np.inf)


@dataclass(frozen=True)
class QParams:
    """Quantization of an activation: real = scale * (q - zero_point)."""

    scale: float
    zero_point: int
    dtype: DType


@dataclass(frozen=True)
class LTensor:
    name: str  # the ONNX tensor holding the same values (the QuantizeLinear output if any)
    shape: tuple[int, int, int]  # (H, W, C)
    qparams: QParams | None  # None: to be chosen from activation ranges


@dataclass(frozen=True, eq=False)
class LWeight:
    """Weights in IR order (Conv [Cout, KH, KW, Cin/g], Dense [Cout, N])."""

    real: np.ndarray  # float64
    q: np.ndarray | None = None  # int64, zero point already subtracted
    scale: np.ndarray | None = None  # float64 [Cout]: real == q * scale[:, None...]


@dataclass(frozen=True, eq=False)
class LBias:
    real: np.ndarray  # float64 [Cout]
    q: np.ndarray | None = None  # int64 [Cout], stored in the model (QDQ int32 bias)
    scale: np.ndarray | None = None  # float64 [Cout] of q


@dataclass(frozen=True, eq=False)
class LConv:
    name: str
    source: tuple[str, ...]
    input: str
    output: str
    weight: LWeight
    bias: LBias
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]
    groups: int
    clamp: tuple[float, float] = NO_CLAMP  # real-valued bounds (ReLU: (0, inf))
    kind: LayerKind = field(default=LayerKind.CONV, init=False)


@dataclass(frozen=True, eq=False)
class LDense:
    name: str
    source: tuple[str, ...]
    input: str
    output: str
    weight: LWeight
    bias: LBias
    clamp: tuple[float, float] = NO_CLAMP
    kind: LayerKind = field(default=LayerKind.DENSE, init=False)


@dataclass(frozen=True, eq=False)
class LMaxPool:
    name: str
    source: tuple[str, ...]
    input: str
    output: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]
    kind: LayerKind = field(default=LayerKind.MAXPOOL, init=False)


@dataclass(frozen=True, eq=False)
class LAvgPool:
    name: str
    source: tuple[str, ...]
    input: str
    output: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    clamp: tuple[float, float] = NO_CLAMP
    kind: LayerKind = field(default=LayerKind.AVGPOOL, init=False)


@dataclass(frozen=True, eq=False)
class LAdd:
    name: str
    source: tuple[str, ...]
    input_a: str
    input_b: str
    output: str
    clamp: tuple[float, float] = NO_CLAMP
    kind: LayerKind = field(default=LayerKind.ADD, init=False)


LLayer = Union[LConv, LDense, LMaxPool, LAvgPool, LAdd]


def layer_inputs(layer: LLayer) -> tuple[str, ...]:
    return (layer.input_a, layer.input_b) if isinstance(layer, LAdd) else (layer.input,)


@dataclass(frozen=True, eq=False)
class LoweredGraph:
    """See :class:`hlsgen.ir.Graph` for ``input_permutation``/``output_source``."""

    name: str
    input: str
    output: str
    tensors: dict[str, LTensor]
    layers: tuple[LLayer, ...]
    input_permutation: np.ndarray
    output_source: str
    source_input_dtype: str
    source_input: str  # the ONNX graph input (may differ from ``input`` in a QDQ model)
    notes: tuple[str, ...] = ()
