"""Depthwise Conv in channel-parallel mode: columns = channels, rows = kernel taps.

A depthwise Conv (``groups == Cin == Cout``) run as a block-diagonal groups=1 Conv wastes
all but ``1/groups`` of the array.  Here PE ``(r, c)`` of tile ``(ct, kt)`` holds
``W[ct*C + c, tap kt*R + r]`` and multiplies **its own** activation: channel ``ct*C + c`` of
the pixel at that tap.  Read port ``r`` reads tap ``kt*R + r`` (one pixel word, every
channel), its address ``r`` cycles late so the row skew happens at the memory; a small mux in
front of each PE's A register takes the port's channel instead of the row's broadcast value.
The lanes accumulate and requantize as for any Conv (the input zero point folded into the
bias: ``bias - zp * sum_taps W``; a padded tap reads the zero point).
"""

from __future__ import annotations

import math

import numpy as np

from hlsgen import ir
from hlsgen.decompose.graph import bit_width
from hlsgen.systolic.plan import ArrayShape, SystolicError, Tap

__all__ = ["is_depthwise", "depthwise_tables", "emulate_depthwise", "shared_groups", "groups_fit"]


def is_depthwise(layer: ir.Layer, cin: int) -> bool:
    return (isinstance(layer, ir.Conv) and layer.groups > 1 and layer.groups == cin
            and layer.weight.shape[0] == cin and layer.weight.shape[3] == 1)


def depthwise_tables(layer: ir.Conv, src: ir.Tensor, shape: ArrayShape) -> dict:
    """The depthwise step's tiling, port taps, weight words, lane tables and widths."""
    rows, cols = shape.rows, shape.cols
    window = ir.window(layer, src.shape)
    channels, taps = layer.weight.shape[0], window.taps
    weight = np.asarray(layer.weight, np.int64).reshape(channels, taps)  # [C, tap]
    if weight.min(initial=0) < -128 or weight.max(initial=0) > 127:
        raise SystolicError(f"Conv '{layer.name}': weights outside int8; the DSP array "
                            "multiplies 8-bit weights")
    n_kt, n_ct = math.ceil(taps / rows), math.ceil(channels / cols)
    port_taps = []
    for kt in range(n_kt):
        entry = []
        for r in range(min(rows, taps)):  # port r feeds row r
            tap = kt * rows + r
            if tap < taps:
                kh, kw = divmod(tap, window.kw)
                entry.append(Tap(kh, kw, kh * window.w + kw))
            else:
                entry.append(None)
        port_taps.append(tuple(entry))
    padded = np.zeros((n_ct * cols, n_kt * rows), np.int64)
    padded[:channels, :taps] = weight
    words = tuple(tuple(tuple(int(v) for v in padded[ct * cols:(ct + 1) * cols, kt * rows + r])
                        for ct in range(n_ct) for kt in range(n_kt)) for r in range(rows))
    bias = np.asarray(layer.bias, np.int64) - src.zero_point * weight.sum(axis=1)
    x_max = max(abs(src.dtype.qmin), abs(src.dtype.qmax))
    acc = int((np.abs(weight).sum(axis=1) * x_max + np.abs(bias)).max())
    rq = layer.requant
    mult = np.asarray(rq.multiplier, np.int64)
    prod = acc * int(mult.max())
    return {"window": window, "n_kt": n_kt, "n_ct": n_ct, "port_taps": tuple(port_taps),
            "weight_words": words, "bias": bias, "mult": mult,
            "shift": np.minimum(np.asarray(rq.shift, np.int64), bit_width(-prod, prod)),
            "acc_bound": acc, "macs": int(layer.weight.size) * window.ho * window.wo}


def emulate_depthwise(step, x: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """[N, M, C] accumulators of the depthwise ``step`` for [N, H*W, C] inputs, tile by tile
    as the PEs compute them (each column its own channel)."""
    win, channels = step.window, step.output.shape[2]
    oh, ow = np.divmod(np.arange(step.pixels), win.wo)
    acc = np.zeros((len(x), step.pixels, step.n_ct * cols), np.int64)
    for ct in range(step.n_ct):
        lanes = slice(ct * cols, ct * cols + cols)
        values = np.zeros((len(x), step.pixels, cols), np.int64)
        for kt in range(step.n_kt):
            tile = ct * step.n_kt + kt
            psum = np.zeros_like(values)
            for r, tap in enumerate(step.port_taps[kt]):
                word = np.array(step.weight_words[r][tile], np.int64)
                if tap is None:
                    continue  # its weights are 0
                ih, iw = oh * win.sh - win.pt + tap.kh, ow * win.sw - win.pl + tap.kw
                inside = (ih >= 0) & (ih < win.h) & (iw >= 0) & (iw < win.w)
                pixel = np.zeros((len(x), step.pixels, cols), np.int64)
                real = x[:, np.where(inside, ih * win.w + iw, 0), ct * cols:(ct + 1) * cols]
                pixel[:, :, :real.shape[2]] = real
                pixel = np.where(inside[None, :, None], pixel, step.pad_value)
                psum += pixel * word
            values = (np.array(step.lane_bias[ct], np.int64) if kt == 0 else values) + psum
        acc[:, :, lanes] = values
    return acc[:, :, :max(channels, 1)]


def _port_keys(step, ports: int) -> np.ndarray:
    """[port, beat]: the (input address, channel tile) key port ``p`` reads in beat ``t`` of a
    depthwise step (port ``p`` serves item ``t - p``: the row skew), -1 where it reads nothing
    (a padded tap, a tap the k-tile lacks, no item)."""
    win = step.window
    items = np.arange(step.items)
    m = items % step.pixels
    kt = (items // step.pixels) % step.n_kt
    ct = items // (step.pixels * step.n_kt)
    oh, ow = np.divmod(m, win.wo)
    keys = np.full((ports, step.items + ports), -1, np.int64)
    for p in range(ports):
        per_item = np.full(step.items, -1, np.int64)
        for k, entry in enumerate(step.port_taps):
            tap = entry[p] if p < len(entry) else None
            if tap is None:
                continue
            ih, iw = oh * win.sh - win.pt + tap.kh, ow * win.sw - win.pl + tap.kw
            inside = (ih >= 0) & (ih < win.h) & (iw >= 0) & (iw < win.w) & (kt == k)
            per_item = np.where(inside, (ih * win.w + iw) * step.n_ct + ct, per_item)
        keys[p, p:p + step.items] = per_item
    return keys


def shared_groups(step, ports: int) -> tuple[tuple[int, ...], ...]:
    """Runs of consecutive ports of a depthwise step that, beat by beat, all read one address
    of one channel tile (or nothing): with the row skew, the three taps of a kernel row of a
    stride-1 layer read the same pixel in the same beat (port ``p`` serves item ``t - p``,
    whose tap ``kw`` is the pixel tap ``kw + 1`` of item ``t - p - 1`` reads).  One read then
    serves the run: 3 reads a beat instead of 9."""
    keys = _port_keys(step, ports)
    groups, members, rep = [], [0], keys[0]
    for p in range(1, ports):
        clash = (rep >= 0) & (keys[p] >= 0) & (rep != keys[p])
        if clash.any():
            groups.append(tuple(members))
            members, rep = [p], keys[p]
        else:
            members.append(p)
            rep = np.where(rep >= 0, rep, keys[p])
    groups.append(tuple(members))
    return tuple(groups)


def groups_fit(step, groups: tuple[tuple[int, ...], ...], ports: int) -> bool:
    """Whether every group of ``groups`` reads at most one key a beat in ``step``."""
    keys = _port_keys(step, ports)
    for group in groups:
        member = keys[list(group)]
        real = np.where(member >= 0, member, np.iinfo(np.int64).max)
        low = real.min(axis=0)
        high = np.where(member >= 0, member, -1).max(axis=0)
        if ((high >= 0) & (low != high)).any():
            return False
    return True
