"""Read-only checks of an IR graph: shapes, dangling edges, order, requantization sanity.

``verify(graph)`` returns nothing when the graph is well formed and raises
:class:`InvalidGraphError` listing *every* problem otherwise (layer and tensor names in each
line).  Tests run it after each pass; it never changes the graph.
"""

from __future__ import annotations

import re

import numpy as np

from hlsgen import ir
from hlsgen.errors import HlsgenError

__all__ = ["verify", "InvalidGraphError", "accumulator_bounds"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INT64_LIMIT = 1 << 63
_MAX_SHIFT = 62  # 1 << shift must stay an int64


class InvalidGraphError(HlsgenError):
    """The IR graph breaks its own contract (a bug in whatever pass produced it).

    ``problems`` lists one line per problem.
    """

    def __init__(self, graph_name: str, problems: list[str]):
        self.problems = problems
        lines = [f"IR graph '{graph_name}' is invalid ({len(problems)} problem(s)); this is a "
                 "bug in the pass that built it, please report it with the model:"]
        lines += [f"  {p}" for p in problems]
        super().__init__("\n".join(lines))


def verify(graph: ir.Graph) -> None:
    """Raise :class:`InvalidGraphError` unless ``graph`` satisfies the IR contract."""
    problems: list[str] = []
    _check_tensors(graph, problems)
    _check_edges(graph, problems)
    if not problems:  # layer checks assume every referenced tensor exists
        for layer in graph.layers:
            _CHECKS[layer.kind](graph, layer, problems.append)
    if problems:
        raise InvalidGraphError(graph.name, problems)


def accumulator_bounds(graph: ir.Graph, layer: ir.Layer) -> np.ndarray | None:
    """Per-channel bound of ``|acc|`` (object array of Python ints) over every input in range.

    None for MaxPool, which has no accumulator.
    """
    if layer.kind in (ir.LayerKind.CONV, ir.LayerKind.DENSE):
        peak = _centred_max(graph.tensor(layer.input))
        flat = layer.weight.reshape(layer.weight.shape[0], -1).astype(object)
        return np.abs(flat).sum(axis=1) * peak + np.abs(layer.bias.astype(object))
    if layer.kind is ir.LayerKind.AVGPOOL:
        src = graph.tensor(layer.input)
        count = layer.kernel[0] * layer.kernel[1]
        return np.full(src.shape[2], count * _centred_max(src), dtype=object)
    if layer.kind is ir.LayerKind.ADD:
        a, b = graph.tensor(layer.input_a), graph.tensor(layer.input_b)
        return (np.abs(layer.mult_a.astype(object)) * _centred_max(a)
                + np.abs(layer.mult_b.astype(object)) * _centred_max(b))
    return None


# -- graph-level checks ---------------------------------------------------------------------
def _check_tensors(graph: ir.Graph, problems: list[str]) -> None:
    for key, t in graph.tensors.items():
        where = f"tensor '{key}'"
        if t.name != key:
            problems.append(f"{where}: is stored under a different name '{t.name}'")
        if len(t.shape) != 3 or any(int(d) < 1 for d in t.shape):
            problems.append(f"{where}: shape {t.shape} is not (H, W, C) with every dim >= 1")
        if not t.dtype.qmin <= t.zero_point <= t.dtype.qmax:
            problems.append(f"{where}: zero point {t.zero_point} is outside the "
                            f"{t.dtype.value} range")
        if not (np.isfinite(t.scale) and t.scale > 0):
            problems.append(f"{where}: scale {t.scale} is not a positive finite number")
    for role, name in (("input", graph.input), ("output", graph.output)):
        if name not in graph.tensors:
            problems.append(f"graph {role} '{name}' is not in graph.tensors")
    if graph.input in graph.tensors:
        size = graph.tensors[graph.input].size
        perm = np.asarray(graph.input_permutation)
        if perm.shape != (size,) or not np.array_equal(np.sort(perm), np.arange(size)):
            problems.append(f"input_permutation (shape {perm.shape}) is not a permutation of "
                            f"0..{size - 1} (the size of input '{graph.input}')")
    if not graph.output_source:
        problems.append("output_source is empty: name the source model's output tensor")


def _check_edges(graph: ir.Graph, problems: list[str]) -> None:
    available = {graph.input}
    producers: dict[str, str] = {}
    consumed: set[str] = set()
    names: set[str] = set()
    for layer in graph.layers:
        where = f"layer '{layer.name}'"
        if not _IDENTIFIER.match(layer.name):
            problems.append(f"{where}: name is not a C++/Verilog identifier")
        if layer.name in names:
            problems.append(f"{where}: name is used by another layer too")
        names.add(layer.name)
        for name in layer.inputs:
            if name not in graph.tensors:
                problems.append(f"{where}: input '{name}' is not in graph.tensors")
            elif name not in available:
                problems.append(f"{where}: input '{name}' is not produced by an earlier layer "
                                "(layers must be in topological order)")
            consumed.add(name)
        if layer.output not in graph.tensors:
            problems.append(f"{where}: output '{layer.output}' is not in graph.tensors")
        if layer.output == graph.input or layer.output in producers:
            first = producers.get(layer.output, "the graph input")
            problems.append(f"{where}: output '{layer.output}' is also written by {first}")
        producers[layer.output] = f"layer '{layer.name}'"
        available.add(layer.output)
    if graph.output != graph.input and graph.output not in producers:
        problems.append(f"graph output '{graph.output}' is not produced by any layer")
    for name in graph.tensors:
        if name != graph.input and name not in producers:
            problems.append(f"tensor '{name}' is dangling: no layer produces it")
        elif name != graph.output and name not in consumed:
            problems.append(f"tensor '{name}' is dangling: no layer reads it and it is not "
                            "the graph output")


# -- layer checks ---------------------------------------------------------------------------
def _check_conv(graph: ir.Graph, layer: ir.Conv, report) -> None:
    where = f"Conv '{layer.name}'"
    (h, w, cin), out = graph.tensor(layer.input).shape, graph.tensor(layer.output)
    weight = np.asarray(layer.weight)
    if weight.ndim != 4:
        report(f"{where}: weight has shape {weight.shape}, expected [Cout, KH, KW, Cin/groups]")
        return
    cout = weight.shape[0]
    if layer.groups < 1 or cin % layer.groups or cout % layer.groups:
        report(f"{where}: groups={layer.groups} does not divide Cin={cin} and Cout={cout}")
        return
    if weight.shape[3] != cin // layer.groups:
        report(f"{where}: weight has {weight.shape[3]} input channels per group, input "
               f"'{layer.input}' has {cin} channels / {layer.groups} groups")
    if not _window_ok(where, (h, w), layer.kernel, layer.stride, layer.pads, report):
        return
    win = ir.window(layer, (h, w))
    _expect_shape(where, out, (win.ho, win.wo, cout), report)
    _check_bias(where, layer.bias, cout, report)
    _check_integer(where, "weight", weight, report)
    _check_requant(graph, layer, report)


def _check_dense(graph: ir.Graph, layer: ir.Dense, report) -> None:
    where = f"Dense '{layer.name}'"
    src, out = graph.tensor(layer.input), graph.tensor(layer.output)
    weight = np.asarray(layer.weight)
    if weight.ndim != 2 or weight.shape[1] != src.size:
        report(f"{where}: weight has shape {weight.shape}, expected [Cout, {src.size}] "
               f"(H*W*C of '{src.name}')")
        return
    _expect_shape(where, out, (1, 1, weight.shape[0]), report)
    _check_bias(where, layer.bias, weight.shape[0], report)
    _check_integer(where, "weight", weight, report)
    _check_requant(graph, layer, report)


def _check_maxpool(graph: ir.Graph, layer: ir.MaxPool, report) -> None:
    where = f"MaxPool '{layer.name}'"
    src, out = graph.tensor(layer.input), graph.tensor(layer.output)
    if not _window_ok(where, src.shape[:2], layer.kernel, layer.stride, layer.pads, report):
        return
    top, left, bottom, right = layer.pads
    if max(top, bottom) >= layer.kernel[0] or max(left, right) >= layer.kernel[1]:
        report(f"{where}: pads {layer.pads} not smaller than kernel {layer.kernel}: a window "
               "could lie entirely in the padding")
    win = ir.window(layer, src.shape)
    _expect_shape(where, out, (win.ho, win.wo, src.shape[2]), report)
    if (out.dtype, out.scale, out.zero_point) != (src.dtype, src.scale, src.zero_point):
        report(f"{where}: output '{out.name}' must share dtype, scale and zero point with "
               f"input '{src.name}' (MaxPool does not requantize)")


def _check_avgpool(graph: ir.Graph, layer: ir.AvgPool, report) -> None:
    where = f"AvgPool '{layer.name}'"
    src, out = graph.tensor(layer.input), graph.tensor(layer.output)
    if not _window_ok(where, src.shape[:2], layer.kernel, layer.stride, (0, 0, 0, 0), report):
        return
    win = ir.window(layer, src.shape)
    _expect_shape(where, out, (win.ho, win.wo, src.shape[2]), report)
    _check_requant(graph, layer, report)


def _check_add(graph: ir.Graph, layer: ir.Add, report) -> None:
    where = f"Add '{layer.name}'"
    a, b, out = (graph.tensor(n) for n in (layer.input_a, layer.input_b, layer.output))
    if a.shape != b.shape:
        report(f"{where}: inputs '{a.name}' {a.shape} and '{b.name}' {b.shape} differ in shape")
        return
    _expect_shape(where, out, a.shape, report)
    for label, mult in (("mult_a", layer.mult_a), ("mult_b", layer.mult_b)):
        mult = np.asarray(mult)
        if mult.shape != (a.shape[2],):
            report(f"{where}: {label} has shape {mult.shape}, expected ({a.shape[2]},)")
        elif not np.issubdtype(mult.dtype, np.integer) or (mult < 0).any():
            report(f"{where}: {label} must be non-negative integers")
    if not np.array_equal(np.asarray(layer.requant.multiplier), np.ones(a.shape[2])):
        report(f"{where}: requant.multiplier must be all ones (the per-input multipliers are "
               "mult_a and mult_b)")
    _check_requant(graph, layer, report)


_CHECKS = {
    ir.LayerKind.CONV: _check_conv,
    ir.LayerKind.DENSE: _check_dense,
    ir.LayerKind.MAXPOOL: _check_maxpool,
    ir.LayerKind.AVGPOOL: _check_avgpool,
    ir.LayerKind.ADD: _check_add,
}


# -- helpers --------------------------------------------------------------------------------
def _check_requant(graph: ir.Graph, layer, report) -> None:
    where = f"{layer.kind.value} '{layer.name}'"
    rq, out = layer.requant, graph.tensor(layer.output)
    channels = out.shape[2]
    mult, shift = np.asarray(rq.multiplier), np.asarray(rq.shift)
    if mult.shape != (channels,) or shift.shape != (channels,):
        report(f"{where}: requant multiplier {mult.shape} / shift {shift.shape} must have one "
               f"entry per output channel ({channels})")
        return
    if not (np.issubdtype(mult.dtype, np.integer) and np.issubdtype(shift.dtype, np.integer)):
        report(f"{where}: requant multiplier and shift must be integer arrays")
        return
    if (mult < 0).any():
        report(f"{where}: requant multiplier has negative entries")
    if (shift < 1).any() or (shift > _MAX_SHIFT).any():
        report(f"{where}: requant shift must lie in [1, {_MAX_SHIFT}], got "
               f"[{shift.min()}, {shift.max()}]")
        return
    if rq.zero_point != out.zero_point:
        report(f"{where}: requant zero point {rq.zero_point} differs from output "
               f"'{out.name}' zero point {out.zero_point}")
    if not (out.dtype.qmin <= rq.lo <= rq.hi <= out.dtype.qmax):
        report(f"{where}: clamp [{rq.lo}, {rq.hi}] is empty or leaves the {out.dtype.value} "
               f"range [{out.dtype.qmin}, {out.dtype.qmax}]")
    bounds = accumulator_bounds(graph, layer)
    for c, (bound, m, s) in enumerate(zip(bounds, mult.tolist(), shift.tolist())):
        if bound * m + (1 << (s - 1)) >= _INT64_LIMIT:
            report(f"{where}: channel {c}: |acc| <= {bound} times multiplier {m} can overflow "
                   "int64; lower the multiplier and shift")
            break


def _check_bias(where: str, bias, cout: int, report) -> None:
    bias = np.asarray(bias)
    if bias.shape != (cout,):
        report(f"{where}: bias has shape {bias.shape}, expected ({cout},)")
    else:
        _check_integer(where, "bias", bias, report)


def _check_integer(where: str, what: str, array: np.ndarray, report) -> None:
    if not np.issubdtype(np.asarray(array).dtype, np.integer):
        report(f"{where}: {what} has dtype {np.asarray(array).dtype}, expected integers")


def _window_ok(where, in_hw, kernel, stride, pads, report) -> bool:
    if min(kernel) < 1 or min(stride) < 1 or min(pads) < 0:
        report(f"{where}: kernel {kernel} and stride {stride} must be >= 1 and pads {pads} "
               ">= 0")
        return False
    win = ir.Window.of(in_hw, kernel, stride, pads)
    ho, wo = win.ho, win.wo
    if ho < 1 or wo < 1:
        report(f"{where}: kernel {kernel} does not fit input {tuple(in_hw)} with pads {pads}")
        return False
    return True


def _expect_shape(where: str, tensor: ir.Tensor, shape: tuple[int, int, int], report) -> None:
    if tuple(tensor.shape) != tuple(shape):
        report(f"{where}: output '{tensor.name}' has shape {tensor.shape}, the layer produces "
               f"{shape}")


def _centred_max(tensor: ir.Tensor) -> int:
    zp = tensor.zero_point
    return max(abs(tensor.dtype.qmin - zp), abs(tensor.dtype.qmax - zp))
