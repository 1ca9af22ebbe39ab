"""A numpy model of the array's dataflow, read from the same plan tables as the Verilog.

:func:`emulate` walks the tiles exactly as the hardware does -- per k-tile, the input ports
read their taps (padding gives the zero point), every row picks its ``(port, channel)``
source, the column sums ``x_row * weight_word`` are added to the accumulator (the folded bias
on the first k-tile) -- and requantizes with the hardware's rounding (:func:`requant_lane`).
Tests compare it with :func:`hlsgen.reference.execute` on many random layers in seconds, so a
wrong table is found without a simulator; Verilator then checks the Verilog against both.
"""

from __future__ import annotations

import numpy as np

from hlsgen.systolic.plan import SystolicPlan

__all__ = ["emulate", "requant_lane", "im2col_rows"]


def im2col_rows(plan: SystolicPlan, x: np.ndarray, kt: int) -> np.ndarray:
    """int64 [N, M, R]: the row values of k-tile ``kt`` for every sample and output pixel."""
    win, cin = plan.window, plan.cin
    frames = np.asarray(x, dtype=np.int64).reshape(len(x), win.h * win.w, cin)
    oh, ow = np.divmod(np.arange(plan.pixels), win.wo)
    ports = []
    for tap in plan.port_taps[kt]:
        if tap is None:
            ports.append(np.full((len(x), plan.pixels, cin), plan.pad_value, np.int64))
            continue
        ih, iw = oh * win.sh - win.pt + tap.kh, ow * win.sw - win.pl + tap.kw
        inside = (ih >= 0) & (ih < win.h) & (iw >= 0) & (iw < win.w)
        address = np.where(inside, ih * win.w + iw, 0)
        ports.append(np.where(inside[None, :, None], frames[:, address, :], plan.pad_value))
    rows = [ports[port][:, :, ci] for port, ci in
            (plan.row_sources[r][plan.row_select[kt][r]] for r in range(plan.shape.rows))]
    return np.stack(rows, axis=-1)


def requant_lane(acc: np.ndarray, mult: int, shift: int, plan: SystolicPlan) -> np.ndarray:
    """The accumulator's requantization as the lane computes it: ``v = acc * mult``,
    ``q = v >> shift``, round up when bit ``shift-1`` is set (half even: and either a lower
    bit is set or ``q`` is odd), add the zero point, clamp."""
    rq = plan.requant
    v = [int(a) * int(mult) for a in np.asarray(acc).reshape(-1)]  # exact beyond int64 too
    out = []
    for value in v:
        q = value >> shift
        half = (value >> (shift - 1)) & 1
        rest = value & ((1 << (shift - 1)) - 1)
        up = half and (not plan.half_even or rest != 0 or q & 1)
        out.append(min(max(q + up + rq.zero_point, rq.lo), rq.hi))
    return np.array(out, dtype=np.int64).reshape(np.shape(acc))


def emulate(plan: SystolicPlan, x_ir: np.ndarray) -> np.ndarray:
    """int64 [N, Ho, Wo, Cout]: the layer as the array computes it, for IR inputs
    ``x_ir`` (int64 [N, H*W*Cin])."""
    x = np.asarray(x_ir, dtype=np.int64)
    rows, cols = plan.shape.rows, plan.shape.cols
    result = np.zeros((len(x), plan.pixels, plan.n_ct * cols), dtype=np.int64)
    for ct in range(plan.n_ct):
        acc = np.zeros((len(x), plan.pixels, cols), dtype=np.int64)
        for kt in range(plan.n_kt):
            tile = ct * plan.n_kt + kt
            words = np.array([plan.weight_words[r][tile] for r in range(rows)], np.int64)
            psum = im2col_rows(plan, x, kt) @ words  # [N, M, C]: the column sums
            assert np.abs(psum).max(initial=0) < 1 << (plan.psum_width - 1)
            acc = (np.array(plan.lane_bias[ct], np.int64) if kt == 0 else acc) + psum
            assert np.abs(acc).max(initial=0) < 1 << (plan.acc_width - 1)
        for c in range(cols):
            result[:, :, ct * cols + c] = requant_lane(
                acc[:, :, c], plan.lane_mult[ct][c], plan.lane_shift[ct][c], plan)
    win = plan.window
    return result[:, :, :plan.cout].reshape(len(x), win.ho, win.wo, plan.cout)
