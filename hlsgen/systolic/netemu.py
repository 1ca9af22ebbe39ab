"""A numpy model of a whole network on the shared array, read from the plan's steps.

MAC steps run :func:`~hlsgen.systolic.emulate.emulate` on their own layer plan (the same
tiles, weights and lanes); MAX and SCALE steps read their taps through port 0 exactly as the
lanes do (a padded tap gives the step's pad value), add up ``raw * scale[kt]`` from the folded
bias or keep the running maximum, and finish with the lane's rounding
(:func:`~hlsgen.systolic.emulate.requant_lane`).  Tests compare the result with
:func:`hlsgen.reference.execute`, layer by layer.  With streamed weights
(``plan.weight_source == "stream"``) the MAC and depthwise steps take their weights from one
frame of stream words put back tile by tile (:func:`~hlsgen.systolic.weights.tiles_from_stream`),
as the rows' ring buffers hold them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hlsgen.systolic.depthwise import emulate_depthwise
from hlsgen.systolic.emulate import emulate, requant_lane
from hlsgen.systolic.network import NetworkPlan, Op, Step, Vmode
from hlsgen.systolic.weights import tiles_from_stream, weight_stream

__all__ = ["emulate_network"]


def emulate_network(plan: NetworkPlan, x_ir: np.ndarray, return_all: bool = False,
                    stream_words: list | None = None):
    """int64 [N, Ho, Wo, Cout] of the last step for IR inputs ``x_ir`` (int64 [N, H*W*C]);
    with ``return_all`` a dict of every step's output (``[N, H*W*C]``, IR order).  Streamed
    weights: ``stream_words`` is one frame of the stream (default: the plan's own,
    :func:`~hlsgen.systolic.weights.weight_stream`)."""
    x = np.asarray(x_ir, dtype=np.int64)
    values = {plan.graph_input.name: x.reshape(len(x), -1)}
    steps = plan.steps
    if plan.weight_source == "stream":
        if stream_words is None:
            stream_words = [word for _, _, word in weight_stream(plan)]
        steps = _streamed_steps(plan, stream_words)
    for step in steps:
        if step.op is Op.MAC:
            out = emulate(step.plan, values[step.input.name])
        elif step.op is Op.DW:
            out = _depthwise_step(step, plan, values)
        else:
            out = _lane_step(step, plan, values)
        values[step.output.name] = out.reshape(len(x), -1)
    if return_all:
        return values
    last = plan.steps[-1].output
    return values[last.name].reshape(len(x), *last.shape)


def _streamed_steps(plan: NetworkPlan, words: list) -> tuple[Step, ...]:
    """The plan's steps with the weights of one frame of stream words (what the rings hold)."""
    table = tiles_from_stream(plan, words)
    steps = []
    for step in plan.steps:
        if step.op in (Op.MAC, Op.DW):
            tiles = range(step.tile_base, step.tile_base + step.n_ct * step.n_kt)
            rows = tuple(tuple(table[r][t] for t in tiles) for r in range(plan.shape.rows))
            if step.op is Op.MAC:
                step = replace(step, plan=replace(step.plan, weight_words=rows))
            else:
                step = replace(step, weight_words=rows)
        steps.append(step)
    return tuple(steps)


def _depthwise_step(step: Step, plan: NetworkPlan, values: dict) -> np.ndarray:
    h, w, c = step.input.shape
    x = values[step.input.name].reshape(-1, h * w, c)
    acc = emulate_depthwise(step, x, plan.shape.cols, plan.shape.rows)
    out = np.zeros_like(acc)
    cols = plan.shape.cols
    for o in range(step.output.shape[2]):
        ct, c = divmod(o, cols)
        out[:, :, o] = requant_lane(acc[:, :, o], step.lane_mult[ct][c], step.lane_shift[ct][c],
                                    step)
    return out


def _port0(step: Step, frames: np.ndarray, tap) -> np.ndarray:
    """[N, M, C]: what port 0 reads for every output pixel at ``tap`` (padding: pad value)."""
    win = step.window
    oh, ow = np.divmod(np.arange(step.pixels), win.wo)
    ih, iw = oh * win.sh - win.pt + tap.kh, ow * win.sw - win.pl + tap.kw
    inside = (ih >= 0) & (ih < win.h) & (iw >= 0) & (iw < win.w)
    address = np.where(inside, ih * win.w + iw, 0)
    return np.where(inside[None, :, None], frames[:, address, :], step.pad_value)


def _lane_step(step: Step, plan: NetworkPlan, values: dict) -> np.ndarray:
    cols, channels = plan.shape.cols, step.output.shape[2]
    h, w, c = step.input.shape
    operands = [values[t.name].reshape(-1, h * w, c)
                for t in (step.input, step.input_b) if t is not None]
    n = len(operands[0])
    result = np.zeros((n, step.pixels, step.n_ct * cols), dtype=np.int64)
    for ct in range(step.n_ct):
        lanes = slice(ct * cols, min(ct * cols + cols, channels))
        width = lanes.stop - lanes.start
        acc = None
        for kt in range(step.n_kt):
            if step.input_b is None:
                raw = _port0(step, operands[0], step.port_taps[kt][0])[:, :, lanes]
            else:  # Add reads pixel m of operand kt (b's memory offset is the hardware's)
                raw = operands[kt][:, :, lanes]
            if step.op is Op.MAX:
                acc = raw if acc is None else np.maximum(acc, raw)
            else:
                scale = np.array(step.lane_scale[kt][ct][:width], np.int64)
                start = np.array(step.lane_bias[ct][:width], np.int64) if acc is None else acc
                acc = start + raw * scale
            assert np.abs(acc).max(initial=0) <= step.acc_bound
        for c in range(width):
            if step.vmode is Vmode.RAW:
                result[:, :, ct * cols + c] = acc[:, :, c]
                continue
            mult = step.lane_mult[ct][c] if step.vmode is Vmode.MULT else 1
            result[:, :, ct * cols + c] = requant_lane(acc[:, :, c], mult,
                                                       step.lane_shift[ct][c], step)
    return result[:, :, :channels]

