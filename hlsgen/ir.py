"""The integer IR: the single source of truth read by every later stage.

A network is a :class:`Graph` of :class:`Layer` objects in topological order.  Every
activation is a :class:`Tensor` of 8-bit integers in **channels-last (H, W, C)** layout; a
dense vector is (1, 1, N).  Real value = ``scale * (q - zero_point)``.

Integer semantics (what the reference executor, the exported ONNX, the HLS C++ and the
Verilog all compute, bit for bit):

``Conv`` (also 1-D conv with H == 1, grouped, depthwise)::

    xc   = x - in.zero_point                        # padded positions contribute 0
    acc  = bias[o] + sum_{kh,kw,ci} weight[o,kh,kw,ci] * xc[h*sh+kh-pt, w*sw+kw-pl, g*cig+ci]
    y[o] = requant(acc, o)

``Dense``: ``acc = bias[o] + sum_i weight[o, i] * (x.flat[i] - in.zero_point)`` where
``x.flat`` is the input in (H, W, C) raster order (the frontend has already permuted the
columns of NCHW-flattened models).

``MaxPool``: max over the window; padded positions never win.  Input and output share
scale and zero point, so there is no requantization.

``AvgPool`` (no padding): ``acc = sum_window (x - in.zero_point)``, ``y = requant(acc, c)``;
the 1/(kh*kw) is folded into the requantization multiplier.

``Add``: ``acc = (a - a.zp) * mult_a[c] + (b - b.zp) * mult_b[c]`` and ``y = round_shift(acc)``
exactly as :class:`Requant` with multiplier 1.

``requant(acc, c)`` (see :class:`Requant`)::

    y = clamp(((acc * multiplier[c]) + (1 << (shift[c] - 1))) >> shift[c]) + out.zero_point,
              lo, hi)

``>>`` is an arithmetic (floor) shift, so rounding is *round half up* (towards +inf); ``lo``
and ``hi`` fold ReLU / ReLU6 / the output type's range.  With ``rounding=HALF_EVEN`` (what ONNX
QuantizeLinear does, used for int8 QDQ models so that exact ties match onnxruntime) the
rounding term is ``(1 << (shift - 1)) - 1 + ((v >> shift) & 1)`` for ``v = acc * multiplier``:
ties go to the even neighbour, everything else is unchanged.  Every product by a constant here is
meant to be emitted as shifts and adds.

Approximated designs stay in this IR: replacing ``weight`` by an effective integer matrix
``E`` with a power-of-two scale ``2**-k`` is ``weight=E, bias=bias << k, shift=shift + k``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Union

import numpy as np

__all__ = [
    "IR_VERSION",
    "DType",
    "Tensor",
    "Requant",
    "Rounding",
    "Conv",
    "Dense",
    "MaxPool",
    "AvgPool",
    "Add",
    "Layer",
    "LayerKind",
    "Window",
    "window",
    "Graph",
]

IR_VERSION = 1


class DType(enum.Enum):
    """Storage type of an activation tensor."""

    INT8 = "int8"
    UINT8 = "uint8"

    @property
    def qmin(self) -> int:
        return -128 if self is DType.INT8 else 0

    @property
    def qmax(self) -> int:
        return 127 if self is DType.INT8 else 255

    @property
    def signed(self) -> bool:
        return self is DType.INT8


class Rounding(enum.Enum):
    """How :class:`Requant` rounds ``v / 2**shift``."""

    HALF_UP = "half_up"  # floor(v / 2**s + 1/2)
    HALF_EVEN = "half_even"  # ties to the even integer, as ONNX QuantizeLinear


@dataclass(frozen=True)
class Tensor:
    """An activation: ``shape`` is (H, W, C); real value = scale * (q - zero_point)."""

    name: str
    shape: tuple[int, int, int]
    dtype: DType
    scale: float
    zero_point: int

    @property
    def size(self) -> int:
        h, w, c = self.shape
        return h * w * c


@dataclass(frozen=True, eq=False)
class Requant:
    """Per-channel integer requantization of an accumulator to an output tensor.

    ``multiplier`` (int64, >= 0) and ``shift`` (int64, >= 1) have one entry per output
    channel; ``lo``/``hi`` are the clamp bounds in output integer units (ReLU folded in).
    """

    multiplier: np.ndarray
    shift: np.ndarray
    zero_point: int
    lo: int
    hi: int
    rounding: Rounding = Rounding.HALF_UP

    @property
    def channels(self) -> int:
        return int(self.multiplier.shape[0])


class LayerKind(enum.Enum):
    CONV = "conv"
    DENSE = "dense"
    MAXPOOL = "maxpool"
    AVGPOOL = "avgpool"
    ADD = "add"


@dataclass(frozen=True)
class Window:
    """Geometry of a sliding-window layer (Conv, MaxPool, AvgPool) over an (h, w) input.

    ``kh x kw`` kernel, ``sh x sw`` stride, pads ``pt``/``pl``/``pb``/``pr`` (top, left,
    bottom, right).  Output size in ONNX floor mode: ``ho = (h + pt + pb - kh) // sh + 1``.
    Every reader (IR check, reference, frontend, hardware plan, emitters) takes it from here.
    """

    h: int
    w: int
    kh: int
    kw: int
    sh: int = 1
    sw: int = 1
    pt: int = 0
    pl: int = 0
    pb: int = 0
    pr: int = 0

    @classmethod
    def of(cls, in_hw, kernel, stride, pads=(0, 0, 0, 0)) -> "Window":
        return cls(*(int(v) for v in (*in_hw, *kernel, *stride, *pads)))

    @property
    def pads(self) -> tuple[int, int, int, int]:
        return self.pt, self.pl, self.pb, self.pr

    @property
    def padded_h(self) -> int:
        return self.h + self.pt + self.pb

    @property
    def padded_w(self) -> int:
        return self.w + self.pl + self.pr

    @property
    def ho(self) -> int:
        return (self.padded_h - self.kh) // self.sh + 1

    @property
    def wo(self) -> int:
        return (self.padded_w - self.kw) // self.sw + 1

    @property
    def taps(self) -> int:
        return self.kh * self.kw

    @property
    def is_global(self) -> bool:
        """Kernel == input, no padding: a plain reduction over the whole frame."""
        return (self.kh, self.kw) == (self.h, self.w) and not any(self.pads)


def window(layer: "Conv | MaxPool | AvgPool", in_shape) -> Window:
    """The window of ``layer`` over an input of shape ``(H, W, ...)``."""
    return Window.of(in_shape[:2], layer.kernel, layer.stride, getattr(layer, "pads", (0,) * 4))


@dataclass(frozen=True, eq=False)
class Conv:
    """2-D (or 1-D with H == 1) convolution, grouped or depthwise.

    ``weight`` is int64 [Cout, KH, KW, Cin // groups]; ``bias`` int64 [Cout] in accumulator
    units; ``pads`` = (top, left, bottom, right); ``stride`` = (sh, sw).
    """

    name: str
    source: tuple[str, ...]  # ONNX node names this layer came from
    input: str
    output: str
    weight: np.ndarray
    bias: np.ndarray
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]
    groups: int
    requant: Requant
    kind: LayerKind = field(default=LayerKind.CONV, init=False)

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.input,)

    @property
    def kernel(self) -> tuple[int, int]:
        return int(self.weight.shape[1]), int(self.weight.shape[2])

    def group_matrices(self) -> list[np.ndarray]:
        """One [Cout/groups, KH*KW*Cin/groups] matrix per group (columns in (kh, kw, ci) order)."""
        cout = self.weight.shape[0]
        per = cout // self.groups
        flat = self.weight.reshape(cout, -1)
        return [flat[g * per : (g + 1) * per] for g in range(self.groups)]


@dataclass(frozen=True, eq=False)
class Dense:
    """Fully connected: ``weight`` int64 [Cout, H*W*C] with columns in (H, W, C) order."""

    name: str
    source: tuple[str, ...]
    input: str
    output: str
    weight: np.ndarray
    bias: np.ndarray
    requant: Requant
    kind: LayerKind = field(default=LayerKind.DENSE, init=False)

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.input,)


@dataclass(frozen=True, eq=False)
class MaxPool:
    name: str
    source: tuple[str, ...]
    input: str
    output: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]
    kind: LayerKind = field(default=LayerKind.MAXPOOL, init=False)

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.input,)


@dataclass(frozen=True, eq=False)
class AvgPool:
    """Average pooling without padding (global average pooling is kernel == (H, W))."""

    name: str
    source: tuple[str, ...]
    input: str
    output: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    requant: Requant
    kind: LayerKind = field(default=LayerKind.AVGPOOL, init=False)

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.input,)


@dataclass(frozen=True, eq=False)
class Add:
    """Residual add of two tensors of equal shape, each with its own multiplier.

    ``requant.multiplier`` is all ones; the per-input multipliers are ``mult_a``/``mult_b``
    (int64 [C]) and ``requant.shift``/``zero_point``/``lo``/``hi`` finish the job.
    """

    name: str
    source: tuple[str, ...]
    input_a: str
    input_b: str
    output: str
    mult_a: np.ndarray
    mult_b: np.ndarray
    requant: Requant
    kind: LayerKind = field(default=LayerKind.ADD, init=False)

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.input_a, self.input_b)


Layer = Union[Conv, Dense, MaxPool, AvgPool, Add]


@dataclass(frozen=True, eq=False)
class Graph:
    """A quantized network.

    ``input_permutation[i]`` is the flat index, in the ONNX model's own input layout (batch
    dropped), of the i-th IR input element in (H, W, C) order: ``ir_x = onnx_x.reshape(-1)[perm]``.
    ``output`` is the final tensor (logits, (1, 1, N) for a classifier); ``output_source`` is
    the ONNX tensor name holding the same values in the source model (the quantized logits of
    an int8 model, the float logits of a float model), used to compare against onnxruntime.
    A float source input is quantized on the host with the input tensor's scale and zero point,
    exactly as ONNX QuantizeLinear does (round half to even, saturate).
    """

    name: str
    input: str
    output: str
    tensors: dict[str, Tensor]
    layers: tuple[Layer, ...]
    input_permutation: np.ndarray
    output_source: str
    source_input_dtype: str = "int8"  # numpy dtype name of the ONNX input ("float32" -> quantize)
    notes: tuple[str, ...] = ()  # e.g. "final Softmax dropped: the accelerator outputs logits"

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def producer(self, tensor_name: str) -> Layer | None:
        for layer in self.layers:
            if layer.output == tensor_name:
                return layer
        return None

    def consumers(self, tensor_name: str) -> list[Layer]:
        return [layer for layer in self.layers if tensor_name in layer.inputs]
