"""The *parallel* datapath kind: a layer's shift-add graphs hard-wired, one output pixel per
cycle (the first generation of hlsgen hardware).

:func:`build` turns a layer into a :class:`hlsgen.hw.netlist.Datapath`: Conv / Dense graphs read
the raw 8-bit inputs with the input zero point folded into the bias (``acc = (bias - zp *
rowsum(E)) + E @ x``), then a CSD requantization; Add, pooling as adder / max trees.  A
register stage follows every ``N`` adder levels (:func:`stages`); :func:`resources` counts the
carry-chain, compare and register bits synthesis keeps.  This module is the whole kind: the
hardware plan calls these three functions through :data:`hlsgen.hw.plan.KINDS`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from hlsgen import ir
from hlsgen.decompose.graph import ShiftAddGraph, bit_width
from hlsgen.hw.module import Front, FrontEnd
from hlsgen.hw.netlist import (Datapath, Netlist, Op, Operand, balanced, even_parity,
                               requant_tail, rounding)

__all__ = ["build", "stages", "resources", "datapath_resources", "LUT_COEFFS"]

# LUTs per counted bit, calibrated against yosys ``synth_xilinx`` (see docs/hardware.md).
LUT_COEFFS = {
    "adder": 1.0,  # per adder result bit that needs carry logic
    "max": 2.0,  # per bit of a max (compare + select)
    "clamp": 1.0,  # per compared bit, plus the 8-bit select
}


def build(layer: ir.Layer, front_end: FrontEnd, inputs: tuple[ir.Tensor, ...],
          out: ir.Tensor, impl) -> Datapath:
    """The datapath of ``layer`` behind ``front_end`` (``impl``: its LayerImpl, or None)."""
    net = Netlist()
    if isinstance(layer, ir.Dense):
        outs = _dense(net, layer, inputs[0], impl)
    elif isinstance(layer, ir.Add):
        outs = _add(net, layer, inputs, out)
    elif front_end.front is Front.SUM:
        outs = _global_pool(net, layer, inputs[0], front_end.sum_bits)
    elif isinstance(layer, ir.Conv):
        outs = _conv(net, layer, inputs[0], front_end.window, impl)
    elif isinstance(layer, ir.MaxPool):
        outs = _maxpool(net, inputs[0], front_end.window)
    else:
        outs = _window_pool(net, layer, inputs[0], front_end.window)
    return Datapath(tuple(net.nodes), tuple(outs))


def stages(module, per_stage: int) -> int:
    """Pipeline stages: a register after every ``per_stage`` adder levels."""
    return module.datapath.stages(per_stage)


def resources(module, per_stage: int) -> tuple[float, float]:
    """(LUTs, FFs) of the datapath: carry-chain, max and clamp bits, pipeline registers."""
    return datapath_resources(module.datapath, per_stage)


def datapath_resources(dp: Datapath, per_stage: int) -> tuple[float, float]:
    """(LUTs, FFs) of a netlist registered every ``per_stage`` adder levels."""
    bits = _datapath_bits(dp, per_stage)
    luts = (LUT_COEFFS["adder"] * bits["adder"] + LUT_COEFFS["max"] * bits["max"]
            + LUT_COEFFS["clamp"] * bits["clamp"])
    return luts, bits["register"] + dp.stages(per_stage)


# -- building ------------------------------------------------------------------------------
def _dense(net: Netlist, layer: ir.Dense, src: ir.Tensor, impl) -> list[int]:
    return _matrix_datapath(net, _graphs(layer, impl, 1), lambda g, i: 8 * i,
                            (src.dtype.qmin, src.dtype.qmax), layer, layer.weight.sum(axis=1),
                            src.zero_point)


def _add(net: Netlist, layer: ir.Add, inputs, out: ir.Tensor) -> list[int]:
    """``acc = ma * (a - za) + mb * (b - zb)``: both zero points folded into the constant."""
    a, b = inputs
    rq = layer.requant
    outs = []
    for c in range(out.shape[2]):
        na = net.input(8 * c, 8, a.dtype.signed)
        nb = net.input(8 * (a.shape[2] + c), 8, b.dtype.signed)
        m, s = int(rq.multiplier[c]), int(rq.shift[c])
        ma, mb = int(layer.mult_a[c]) * m, int(layer.mult_b[c]) * m
        const = -a.zero_point * ma - b.zero_point * mb + rounding(s, rq.zero_point)
        outs.append(requant_tail(net, [(na, ma), (nb, mb)], const, s, int(rq.lo), int(rq.hi),
                                 even_parity(rq)))
    return outs


def _global_pool(net: Netlist, layer: ir.AvgPool, src: ir.Tensor, bits: int) -> list[int]:
    """Global AvgPool: the front end sums each channel over the frame (exact width)."""
    h, w, c = src.shape
    lo, hi = h * w * src.dtype.qmin, h * w * src.dtype.qmax
    rq = layer.requant
    outs = []
    for ch in range(c):
        total = net.input(bits * ch, bits, True, (lo, hi))
        m, s = int(rq.multiplier[ch]), int(rq.shift[ch])
        const = -m * h * w * src.zero_point + rounding(s, rq.zero_point)
        outs.append(requant_tail(net, [(total, m)], const, s, int(rq.lo), int(rq.hi),
                                 even_parity(rq)))
    return outs


# Window layers: the window bus holds tap k = kh*KW + kw, channel c at bits 8 * (k * C + c).
def _conv(net: Netlist, layer: ir.Conv, src: ir.Tensor, window: ir.Window, impl) -> list[int]:
    cin = src.shape[2]
    cig = cin // layer.groups

    def locate(g: int, i: int) -> int:
        tap, ci = divmod(i, cig)
        return 8 * (tap * cin + g * cig + ci)

    rowsums = layer.weight.reshape(layer.weight.shape[0], -1).sum(axis=1)
    return _matrix_datapath(net, _graphs(layer, impl, layer.groups), locate,
                            (src.dtype.qmin, src.dtype.qmax), layer, rowsums, src.zero_point)


def _maxpool(net: Netlist, src: ir.Tensor, window: ir.Window) -> list[int]:
    cin = src.shape[2]
    return [balanced([net.input(8 * (k * cin + c), 8, src.dtype.signed)
                      for k in range(window.taps)], net.maximum) for c in range(cin)]


def _window_pool(net: Netlist, layer: ir.AvgPool, src: ir.Tensor, window: ir.Window
                 ) -> list[int]:
    """Windowed AvgPool: sum the window, then requantize once."""
    cin, taps = src.shape[2], window.taps
    rq = layer.requant
    outs = []
    for c in range(cin):
        leaves = [net.input(8 * (k * cin + c), 8, src.dtype.signed) for k in range(taps)]
        total = balanced(leaves, net.sum2)
        m, s = int(rq.multiplier[c]), int(rq.shift[c])
        const = -m * taps * src.zero_point + rounding(s, rq.zero_point)
        outs.append(requant_tail(net, [(total, m)], const, s, int(rq.lo), int(rq.hi),
                                 even_parity(rq)))
    return outs


def _graphs(layer, impl, count: int) -> tuple[ShiftAddGraph, ...]:
    if impl is None:
        raise KeyError(f"design has no shift-add graphs for weight layer {layer.name!r}")
    graphs = tuple(impl.graphs)
    if len(graphs) != count:
        raise AssertionError(f"layer {layer.name!r}: {len(graphs)} graphs, expected {count}")
    # Internal invariant of a Design: the IR weight *is* the graphs' effective matrix.
    matrices = layer.group_matrices() if isinstance(layer, ir.Conv) else [layer.weight]
    for g, (graph, matrix) in enumerate(zip(graphs, matrices)):
        effective = graph.effective_matrix()
        if effective.shape != matrix.shape or not np.array_equal(effective, matrix):
            raise AssertionError(f"layer {layer.name!r} group {g}: the shift-add graph does not "
                                 "compute the IR weight (the Design is inconsistent)")
    return graphs


@lru_cache(maxsize=4096)
def _graph_ranges(graph: ShiftAddGraph, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact (min, max) of every node when every input lies in [lo, hi] (int64 fast path)."""
    n = graph.n_inputs
    count = n + graph.adder_count
    bound = max(abs(lo), abs(hi), 1)
    magnitude = [1.0] * n  # upper bound of sum |coefficients| per node
    for add in graph.adders:
        magnitude.append(magnitude[add.a.node] * 2.0 ** add.a.shift
                         + magnitude[add.b.node] * 2.0 ** add.b.shift)
    if max(magnitude, default=0.0) * bound >= 2.0 ** 61:
        ranges = graph.node_ranges(lo, hi)  # exact Python integers
        return (np.array([r[0] for r in ranges], dtype=object),
                np.array([r[1] for r in ranges], dtype=object))
    forms = np.zeros((count, n), dtype=np.int64)
    forms[np.arange(n), np.arange(n)] = 1
    for k, add in enumerate(graph.adders):
        a = forms[add.a.node] << add.a.shift
        b = forms[add.b.node] << add.b.shift
        forms[n + k] = (-a if add.a.negate else a) + (-b if add.b.negate else b)
    pos = np.where(forms > 0, forms, 0).sum(axis=1)
    neg = np.where(forms < 0, forms, 0).sum(axis=1)
    return pos * lo + neg * hi, pos * hi + neg * lo


def _matrix_datapath(net: Netlist, graphs, locate, in_range, layer, rowsums,
                     zp_in: int) -> list[int]:
    """Conv / Dense: shift-add graphs on the raw inputs, then bias and requantization.

    The input zero point is folded into the bias (``acc = bias - zp * rowsum(E) + E @ x``),
    so the graphs read raw 8-bit values and a padded position simply holds ``zp``.
    """
    rq = layer.requant
    outputs: list[int] = []
    for g, graph in enumerate(graphs):
        lows, highs = _graph_ranges(graph, *in_range)
        signed = in_range[0] < 0
        ids = [net.input(locate(g, i), 8, signed) for i in range(graph.n_inputs)]
        for k, add in enumerate(graph.adders):
            operands = tuple(Operand(ids[op.node], op.shift, op.negate) for op in (add.a, add.b))
            ids.append(net.add(operands, 0, int(lows[graph.n_inputs + k]),
                               int(highs[graph.n_inputs + k])))
        for tap in graph.outputs:
            o = len(outputs)
            m, s = int(rq.multiplier[o]), int(rq.shift[o])
            bias = int(layer.bias[o]) - zp_in * int(rowsums[o])
            const = m * bias + rounding(s, rq.zero_point)
            variables = []
            if tap.node is not None and m:
                coef = (-m if tap.negate else m) << tap.shift
                variables.append((ids[tap.node], coef))
            outputs.append(requant_tail(net, variables, const, s, int(rq.lo), int(rq.hi),
                                         even_parity(rq)))
    return outputs


# -- resources --------------------------------------------------------------------------
def _trailing_zeros(value: int) -> int:
    return (value & -value).bit_length() - 1 if value else 1 << 30


@lru_cache(maxsize=4096)  # the GA re-evaluates designs that share layers
def _datapath_bits(dp: Datapath, per_stage: int) -> dict[str, int]:
    """Structural counts: carry-chain bits of adders, bits of max/clamp logic, and register
    bits of the pipeline -- bits that are known zeros, constant sign bits or never read by a
    consumer do not count (synthesis removes them)."""
    nodes, live = dp.nodes, dp.live
    tz = [0] * len(nodes)
    for n, node in enumerate(nodes):
        if node.op is Op.ADD:
            starts = [tz[o.node] + o.shift for o in node.operands]
            tz[n] = min(starts + ([_trailing_zeros(node.const)] if node.const else []))
        elif node.op is Op.MAX:
            tz[n] = min(tz[o.node] for o in node.operands)
        elif node.op is Op.CONST:
            tz[n] = _trailing_zeros(node.const)
    top = [-1] * len(nodes)  # highest bit any consumer reads
    low = [1 << 30] * len(nodes)  # lowest bit a register copy must keep
    for n in dp.outputs:
        top[n] = max(top[n], min(7, nodes[n].width - 1))
        low[n] = min(low[n], tz[n])
    for n in range(len(nodes) - 1, -1, -1):
        node = nodes[n]
        if not live[n]:
            continue
        for o in node.operands:
            src = nodes[o.node]
            if node.op is Op.ADD:
                top[o.node] = max(top[o.node], min(src.width - 1, node.width - 1 - o.shift))
                low[o.node] = min(low[o.node], tz[o.node])
            elif node.op is Op.MAX:
                top[o.node] = src.width - 1
                low[o.node] = min(low[o.node], tz[o.node])
            else:  # CLAMP reads bits [max(shift, 0), width - 1] of its source (all of them
                top[o.node] = src.width - 1  # when ties to even test the bits shifted out)
                first = 0 if node.even_parity is not None else min(node.shift, src.width - 1)
                low[o.node] = min(low[o.node], max(tz[o.node], first))
    counts = {"adder": 0, "max": 0, "clamp": 0, "register": 0}
    copies = dp.register_stages(per_stage)
    for n, node in enumerate(nodes):
        if not live[n] or node.op is Op.CONST:
            continue
        hi_bit = top[n]
        if node.lo >= 0:  # a non-negative value's sign bit is a constant 0
            hi_bit = min(hi_bit, max(node.hi, 1).bit_length() - 1)
        if node.op is Op.ADD:
            starts = sorted([tz[o.node] + o.shift for o in node.operands]
                            + ([_trailing_zeros(node.const)] if node.const else []))
            start = starts[1] if len(starts) > 1 else starts[0]
            counts["adder"] += max(0, hi_bit - start + 1)
        elif node.op is Op.MAX:
            counts["max"] += node.width
        elif node.op is Op.CLAMP:
            q_lo, q_hi = dp.clamp_input_range(n)
            qbits = bit_width(q_lo, q_hi)
            compares = int(q_lo < node.bounds[0]) + int(q_hi > node.bounds[1])
            counts["clamp"] += compares * qbits + (8 if compares else 0)
        width = 8 if node.op is Op.CLAMP else max(0, hi_bit - min(low[n], hi_bit + 1) + 1)
        counts["register"] += width * len(copies[n])
    return counts
