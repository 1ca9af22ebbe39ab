"""Random, valid, tiny integer-IR graphs for tests (see :mod:`hlsgen.ir` for the semantics).

``random_graph(seed, layers)`` builds a sequential stack in the order ``layers`` names them;
``"add"`` inserts a residual block: a same-size conv branch ``res<i>`` off the current tensor
and an ``add<i>`` that sums the branch with the current tensor.  Weights are random
``weight_bits``-bit integers with zeros, biases are centred so outputs do not saturate, and
requantization multipliers/shifts are chosen from an estimate of each accumulator's spread so
that outputs use a good part of the 8-bit range.  Everything is a pure function of ``seed``.
"""

from __future__ import annotations

import dataclasses
import math

from dataclasses import replace

import numpy as np

from hlsgen import ir

__all__ = ["random_graph", "random_input", "LAYER_KINDS"]

LAYER_KINDS = ("conv", "dwconv", "maxpool", "avgpool", "add", "dense")
_PREFIX = {"conv": "conv", "dwconv": "dw", "maxpool": "maxpool", "avgpool": "avgpool",
           "add": "add", "dense": "dense"}
_INT64_HEADROOM = 1 << 61  # |acc * multiplier + round| stays below this


def random_graph(
    seed: int,
    layers: tuple[str, ...] = LAYER_KINDS,
    *,
    signed: bool | None = True,
    max_channels: int = 4,
    max_hw: int = 6,
    weight_bits: int = 8,
    nchw: bool = False,
    rounding: str = "half_up",
    shared_scales: bool = False,
) -> ir.Graph:
    """A random valid graph applying ``layers`` in order.

    ``signed``: True -> every activation int8, False -> uint8, None -> a random type per
    tensor.  ``weight_bits`` sets the weight range (use 12..40 to mimic approximated designs,
    whose requant shifts then grow to ~40).  ``nchw`` makes ``input_permutation`` that of a
    source model whose input is laid out (C, H, W) instead of (H, W, C).  ``rounding``:
    "half_up", "half_even" or "mixed" (a random mode per requantization, drawn from a
    separate generator so the graph's structure and numbers do not change).
    ``shared_scales``: every Add and AvgPool applies channel 0's constants to all channels
    (per-tensor scales, as ONNX models have them), drawn numbers otherwise unchanged.
    """
    if not layers:
        raise ValueError("random_graph needs at least one layer")
    unknown = [k for k in layers if k not in LAYER_KINDS]
    if unknown:
        raise ValueError(f"unknown layer kinds {unknown}; use {LAYER_KINDS}")
    builder = _Builder(np.random.default_rng(seed), signed, max_channels, max_hw, weight_bits)
    for index, kind in enumerate(layers):
        getattr(builder, f"add_{kind}")(f"{_PREFIX[kind]}{index}")
    graph = builder.graph(f"random{seed}", nchw)
    if shared_scales:
        graph = _with_shared_scales(graph)
    return _with_rounding(graph, rounding, seed)


def _with_shared_scales(graph: ir.Graph) -> ir.Graph:
    def first(a):
        return np.full_like(a, a[0])

    layers = []
    for layer in graph.layers:
        if isinstance(layer, (ir.Add, ir.AvgPool)):
            rq = layer.requant
            layer = replace(layer, requant=replace(rq, multiplier=first(rq.multiplier),
                                                   shift=first(rq.shift)))
            if isinstance(layer, ir.Add):
                layer = replace(layer, mult_a=first(layer.mult_a), mult_b=first(layer.mult_b))
        layers.append(layer)
    return replace(graph, layers=tuple(layers))


def _with_rounding(graph: ir.Graph, rounding: str, seed: int) -> ir.Graph:
    modes = {"half_up": [ir.Rounding.HALF_UP], "half_even": [ir.Rounding.HALF_EVEN],
             "mixed": [ir.Rounding.HALF_UP, ir.Rounding.HALF_EVEN]}[rounding]
    if modes == [ir.Rounding.HALF_UP]:
        return graph
    rng = np.random.default_rng(seed + 7919)
    layers = []
    for layer in graph.layers:
        requant = getattr(layer, "requant", None)
        if requant is not None:
            mode = modes[int(rng.integers(0, len(modes)))]
            layer = dataclasses.replace(layer, requant=dataclasses.replace(requant,
                                                                           rounding=mode))
        layers.append(layer)
    return dataclasses.replace(graph, layers=tuple(layers))


def random_input(graph: ir.Graph, n: int, seed: int) -> np.ndarray:
    """int64 [n, H*W*C] uniform over the input tensor's integer range (IR input order)."""
    tensor = graph.tensor(graph.input)
    rng = np.random.default_rng(seed)
    return rng.integers(tensor.dtype.qmin, tensor.dtype.qmax + 1, size=(n, tensor.size),
                        dtype=np.int64)


class _Builder:
    """Grows the graph one layer at a time, tracking an estimate of each tensor's spread."""

    def __init__(self, rng, signed, max_channels, max_hw, weight_bits):
        self.rng = rng
        self.signed = signed
        self.max_channels = max_channels
        self.weight_bits = weight_bits
        self.tensors: dict[str, ir.Tensor] = {}
        self.layers: list[ir.Layer] = []
        self.stats: dict[str, tuple[float, float]] = {}  # tensor -> (mean of q, std of q)
        h = 1 if rng.random() < 0.25 else int(rng.integers(1, max_hw + 1))
        w = int(rng.integers(1, max_hw + 1))
        c = int(rng.integers(1, max_channels + 1))
        self.input = self._tensor("x", (h, w, c))
        lo, hi = self.tensors["x"].dtype.qmin, self.tensors["x"].dtype.qmax
        self.stats["x"] = ((lo + hi) / 2, (hi - lo + 1) / math.sqrt(12))  # uniform input
        self.current = "x"

    # -- layers --------------------------------------------------------------------------
    def add_conv(self, name: str, *, depthwise: bool = False, same: bool | int = False,
                 source: str | None = None) -> str:
        rng = self.rng
        src = self.tensors[source or self.current]
        h, w, cin = src.shape
        if same:  # residual branch (or depthwise): output shape == input shape
            k = int(rng.choice([1, 3])) if same is True else same
            kh, kw = min(k, 2 * (h // 2) + 1), min(k, 2 * (w // 2) + 1)
            stride, pads = (1, 1), (kh // 2, kw // 2, kh // 2, kw // 2)
            cout, groups = cin, cin if depthwise else 1
        else:
            kh, kw = int(rng.integers(1, min(3, h) + 1)), int(rng.integers(1, min(3, w) + 1))
            pads = (int(rng.integers(0, kh)), int(rng.integers(0, kw)),
                    int(rng.integers(0, kh)), int(rng.integers(0, kw)))
            stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
            if depthwise:
                cout, groups = cin, cin
            else:
                cout = int(rng.integers(1, self.max_channels + 1))
                divisors = [g for g in range(1, cin + 1) if cin % g == 0 and cout % g == 0]
                groups = int(rng.choice(divisors))
        ho = (h + pads[0] + pads[2] - kh) // stride[0] + 1
        wo = (w + pads[1] + pads[3] - kw) // stride[1] + 1
        weight = self._weights((cout, kh, kw, cin // groups))
        out = self._tensor(f"{name}_out", (ho, wo, cout))
        bias, requant = self._affine_requant(src, weight.reshape(cout, -1), out)
        self.layers.append(ir.Conv(
            name=name, source=(f"/{name}/Conv",), input=src.name, output=out,
            weight=weight, bias=bias, stride=stride, pads=pads, groups=groups, requant=requant))
        if source is None:
            self.current = out
        return out

    def add_dwconv(self, name: str) -> None:
        self.add_conv(name, depthwise=True)

    def add_dense(self, name: str) -> None:
        src = self.tensors[self.current]
        cout = int(self.rng.integers(1, self.max_channels + 1))
        weight = self._weights((cout, src.size))
        out = self._tensor(f"{name}_out", (1, 1, cout))
        bias, requant = self._affine_requant(src, weight, out)
        self.layers.append(ir.Dense(name=name, source=(f"/{name}/Gemm",), input=src.name,
                                    output=out, weight=weight, bias=bias, requant=requant))
        self.current = out

    def add_maxpool(self, name: str) -> None:
        rng = self.rng
        src = self.tensors[self.current]
        h, w, _ = src.shape
        kh, kw = int(rng.integers(1, min(3, h) + 1)), int(rng.integers(1, min(3, w) + 1))
        pads = (int(rng.integers(0, kh)), int(rng.integers(0, kw)),
                int(rng.integers(0, kh)), int(rng.integers(0, kw)))
        stride = (int(rng.integers(1, kh + 1)), int(rng.integers(1, kw + 1)))
        ho = (h + pads[0] + pads[2] - kh) // stride[0] + 1
        wo = (w + pads[1] + pads[3] - kw) // stride[1] + 1
        out = f"{name}_out"
        # MaxPool keeps scale and zero point: same quantization as its input.
        self.tensors[out] = ir.Tensor(out, (ho, wo, src.shape[2]), src.dtype, src.scale,
                                      src.zero_point)
        self.stats[out] = self.stats[src.name]
        self.layers.append(ir.MaxPool(name=name, source=(f"/{name}/MaxPool",), input=src.name,
                                      output=out, kernel=(kh, kw), stride=stride, pads=pads))
        self.current = out

    def add_avgpool(self, name: str) -> None:
        rng = self.rng
        src = self.tensors[self.current]
        h, w, c = src.shape
        if rng.random() < 0.3:
            kernel, stride = (h, w), (1, 1)  # global average pooling
        else:
            kernel = (int(rng.integers(1, min(3, h) + 1)), int(rng.integers(1, min(3, w) + 1)))
            stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        ho, wo = (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1
        out = self._tensor(f"{name}_out", (ho, wo, c))
        count = kernel[0] * kernel[1]
        mean, std = self.stats[src.name]
        acc_mean = np.full(c, count * (mean - src.zero_point))
        acc_std = np.full(c, std * math.sqrt(count))
        acc_bound = np.full(c, count * _centred_max(src))
        requant = self._requant(acc_mean, acc_std, acc_bound, out)
        self.layers.append(ir.AvgPool(name=name, source=(f"/{name}/AveragePool",),
                                      input=src.name, output=out, kernel=kernel,
                                      stride=stride, requant=requant))
        self.current = out

    def add_add(self, name: str) -> None:
        rng = self.rng
        a = self.tensors[self.current]
        branch = self.add_conv(f"res{name[3:]}", same=True, source=a.name)
        b = self.tensors[branch]
        c = a.shape[2]
        out = self.tensors[self._tensor(f"{name}_out", a.shape)]
        shift = rng.integers(4, 17, size=c).astype(np.int64)
        target = self._target_std()
        terms = []
        for src in (a, b):
            mean, std = self.stats[src.name]
            mult = np.maximum(1, np.round(0.7 * target / max(std, 1.0) * (2.0**shift)
                                          * rng.uniform(0.5, 1.0, size=c))).astype(np.int64)
            terms.append((mult, mean - src.zero_point, std))
        (mult_a, mean_a, std_a), (mult_b, mean_b, std_b) = terms
        acc_mean = mult_a * mean_a + mult_b * mean_b
        out_mean = acc_mean / 2.0**shift + out.zero_point
        out_std = np.sqrt((mult_a * std_a) ** 2 + (mult_b * std_b) ** 2) / 2.0**shift
        # Move the output zero point so that the sum's mean lands on the drawn zero point.
        centre = out.zero_point
        zp = int(np.clip(round(float(centre - (out_mean.mean() - centre))),
                         out.dtype.qmin, out.dtype.qmax))
        out = self._retensor(out, zp)
        lo, hi = self._clamp(out)
        requant = ir.Requant(np.ones(c, dtype=np.int64), shift, zp, lo, hi)
        self.layers.append(ir.Add(name=name, source=(f"/{name}/Add",), input_a=a.name,
                                  input_b=b.name, output=out.name, mult_a=mult_a,
                                  mult_b=mult_b, requant=requant))
        self.stats[out.name] = (float(centre), float(max(out_std.mean(), 1.0)))
        self.current = out.name

    # -- helpers -------------------------------------------------------------------------
    def graph(self, name: str, nchw: bool) -> ir.Graph:
        h, w, c = self.tensors["x"].shape
        perm = np.arange(h * w * c, dtype=np.int64)
        if nchw:
            hh, ww, cc = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
            perm = (cc * h * w + hh * w + ww).reshape(-1).astype(np.int64)
        return ir.Graph(
            name=name, input="x", output=self.current, tensors=dict(self.tensors),
            layers=tuple(self.layers), input_permutation=perm, output_source="logits",
            source_input_dtype=self.tensors["x"].dtype.value)

    def _tensor(self, name: str, shape: tuple[int, int, int]) -> str:
        rng = self.rng
        signed = bool(rng.random() < 0.5) if self.signed is None else self.signed
        dtype = ir.DType.INT8 if signed else ir.DType.UINT8
        zp = int(rng.integers(-48, 49)) if signed else int(rng.integers(0, 129))
        scale = float(np.float32(2.0 ** rng.uniform(-8, 0)))
        self.tensors[name] = ir.Tensor(name, shape, dtype, scale, zp)
        return name

    def _retensor(self, tensor: ir.Tensor, zero_point: int) -> ir.Tensor:
        new = ir.Tensor(tensor.name, tensor.shape, tensor.dtype, tensor.scale, zero_point)
        self.tensors[tensor.name] = new
        return new

    def _weights(self, shape: tuple[int, ...]) -> np.ndarray:
        half = 1 << (self.weight_bits - 1)
        weight = self.rng.integers(-half, half, size=shape, dtype=np.int64)
        weight[self.rng.random(shape) < 0.2] = 0
        return weight

    def _target_std(self) -> float:
        return float(self.rng.uniform(15, 45))

    def _affine_requant(self, src: ir.Tensor, matrix: np.ndarray, out_name: str):
        """Bias that centres the accumulator, and the requant scaling it to the output range."""
        out = self.tensors[out_name]
        mean, std = self.stats[src.name]
        acc_std = np.sqrt((matrix.astype(np.float64) ** 2).sum(axis=1)) * std
        offset = matrix.sum(axis=1).astype(np.float64) * (mean - src.zero_point)
        noise = self.rng.normal(0.0, 1.0, size=matrix.shape[0]) * np.maximum(acc_std, 1) / 2
        bias = np.round(-offset + noise).astype(np.int64)
        bias[self.rng.random(bias.shape) < 0.2] = 0
        acc_mean = offset + bias
        acc_bound = np.abs(matrix).sum(axis=1) * _centred_max(src) + np.abs(bias)
        return bias, self._requant(acc_mean, acc_std, acc_bound, out)

    def _requant(self, acc_mean, acc_std, acc_bound, out: str | ir.Tensor) -> ir.Requant:
        """Per-channel multiplier/shift mapping ``acc_std`` to a target spread (no overflow)."""
        rng = self.rng
        out = self.tensors[out] if isinstance(out, str) else out
        target = self._target_std()
        mults, shifts = [], []
        for std, bound in zip(acc_std, acc_bound):
            ratio = target / max(float(std), 1.0)
            bits = int(rng.integers(1, 25))  # multiplier width, 1..24 bits
            shift = int(np.clip(bits - math.floor(math.log2(ratio)), 1, 62))
            mult = max(1, round(ratio * 2.0**shift))
            while shift > 1 and mult * int(bound) + (1 << (shift - 1)) >= _INT64_HEADROOM:
                shift -= 1
                mult = max(1, round(ratio * 2.0**shift))
            mults.append(mult)
            shifts.append(shift)
        mult = np.array(mults, dtype=np.int64)
        shift = np.array(shifts, dtype=np.int64)
        out_mean = float(np.mean(np.asarray(acc_mean) * mult / 2.0**shift)) + out.zero_point
        zp = int(np.clip(round(out.zero_point - (out_mean - out.zero_point)),
                         out.dtype.qmin, out.dtype.qmax))
        centre = out.zero_point
        out = self._retensor(out, zp)  # the accumulator mean lands on the drawn zero point
        lo, hi = self._clamp(out)
        self.stats[out.name] = (float(centre), target)
        return ir.Requant(mult, shift, zp, lo, hi)

    def _clamp(self, out: ir.Tensor) -> tuple[int, int]:
        qmin, qmax = out.dtype.qmin, out.dtype.qmax
        choice = self.rng.random()
        if choice < 0.6:
            return qmin, qmax
        lo = max(qmin, out.zero_point)  # ReLU
        if choice < 0.85:
            return lo, qmax
        return lo, min(qmax, lo + int(self.rng.integers(20, 101)))  # ReLU6-like


def _centred_max(tensor: ir.Tensor) -> int:
    """max |q - zero_point| over the tensor's integer range."""
    zp = tensor.zero_point
    return max(abs(tensor.dtype.qmin - zp), abs(tensor.dtype.qmax - zp))


def tie_prone(graph: ir.Graph, rounding: ir.Rounding) -> ir.Graph:
    """Every requantization with multiplier 1 and shift 1 or 2, in ``rounding`` mode: exact
    ties are then frequent, so half-even and half-up designs give different outputs."""
    layers = []
    for layer in graph.layers:
        requant = getattr(layer, "requant", None)
        if requant is not None:
            requant = dataclasses.replace(requant, multiplier=np.ones_like(requant.shift),
                                          shift=np.arange(len(requant.shift)) % 2 + 1,
                                          rounding=rounding)
            layer = dataclasses.replace(layer, requant=requant)
        layers.append(layer)
    return dataclasses.replace(graph, layers=tuple(layers))
