"""The exact cycle model of one layer on the array (what ``make sim`` measures).

Cycle ``t`` is the clock cycle in which a handshake happens; cycle 0 is the first input beat
of a frame.  A frame runs in three phases (``docs/systolic.md``):

1. **load**: ``P`` input beats into the input buffer, one per cycle when offered;
2. **compute**: one im2col item per cycle, ``N = n_ct * n_kt * M`` items (M output pixels
   per tile, tiles in order ct, kt), from :data:`LOAD_TO_ISSUE` cycles after the last beat;
   each item passes the front (:data:`ISSUE_TO_ARRAY` stages: addresses, buffer read, row
   registers), the array (``R + 1``: row skew, operand registers, one partial-sum register
   per row) and :data:`BOTTOM_TO_BEAT` more (accumulate, multiply, round, clamp + write,
   output read) to the output port;
3. **drain**: output pixel ``m`` leaves the cycle after its final tile wrote it, so the drain
   overlaps the last tile.

The input buffer is free again :data:`ISSUE_TO_RELEASE` cycles after the last issue (its
last read), so the next frame's load overlaps compute's tail and the drain; the next
compute starts once that load is complete and the previous drain has ended (one output
buffer).  Nothing inside compute ever stalls: its length is fixed.  So frame 1 starts
``P + N + 2`` cycles after frame 0 (its load overlaps frame 0's tail), and every later frame
:attr:`Timing.interval` after the previous one; ``make sim`` reports the gap between the last
two frames it streams.
"""

from __future__ import annotations

from dataclasses import dataclass

from hlsgen.systolic.plan import SystolicPlan

__all__ = ["Timing", "cycle_model", "LOAD_TO_ISSUE", "ISSUE_TO_ARRAY", "BOTTOM_TO_BEAT",
           "ISSUE_TO_RELEASE", "BEAT_TO_START"]

LOAD_TO_ISSUE = 2  # last input beat -> 'in_full' register -> 'issuing' register: first item
ISSUE_TO_ARRAY = 3  # issue counters -> port addresses -> buffer read data -> row registers
BOTTOM_TO_BEAT = 6  # column sum -> accumulator -> product -> rounded -> clamped+written -> read
ISSUE_TO_RELEASE = 2  # last issue -> its buffer read: the next frame's first beat can enter
BEAT_TO_START = 1  # last output beat -> 'out_busy' cleared: the next compute may start


@dataclass(frozen=True)
class Timing:
    """Exact cycles of a layer on the array (input back to back, output always ready)."""

    in_beats: int  # P
    items: int  # N = tiles * pixels: cycles the array is fed
    array_latency: int  # R + 1
    latency: int  # first input beat -> last output beat of the frame (the first frame)
    steady_latency: int  # the same for every later frame offered back to back
    interval: int  # cycles between the first beats of consecutive frames (from frame 1 on)
    first_interval: int  # frame 0 -> frame 1: its load overlaps frame 0's compute and drain
    compute_cycles: int  # first issue -> last output beat: the layer's own run
    macs: int

    def utilization(self, pes: int, cycles: int) -> float:
        """MACs of the layer / (PEs * cycles)."""
        return self.macs / (pes * cycles)


def cycle_model(plan: SystolicPlan) -> Timing:
    """Latency and interval of ``plan``'s layer, frames offered back to back."""
    p, n = plan.in_beats, plan.tiles * plan.pixels
    array = plan.shape.rows + 1
    first_issue = (p - 1) + LOAD_TO_ISSUE
    last_beat = first_issue + (n - 1) + ISSUE_TO_ARRAY + array + BOTTOM_TO_BEAT
    # Next frame: its first beat enters once the last item has read the input buffer; its
    # compute starts when its load is complete and this frame's drain has ended.
    next_first_beat = first_issue + (n - 1) + ISSUE_TO_RELEASE
    next_load_done = next_first_beat + p - 1
    start = first_issue - LOAD_TO_ISSUE + 1  # the cycle the start condition holds
    next_start = max(next_load_done + 1, last_beat + BEAT_TO_START)
    # A later frame loads while this one computes; its compute may wait for this drain.
    steady = next_start + LOAD_TO_ISSUE - 1 + (last_beat - first_issue) - next_first_beat
    return Timing(in_beats=p, items=n, array_latency=array, latency=last_beat,
                  steady_latency=steady, interval=next_start - start,
                  first_interval=next_first_beat,
                  compute_cycles=last_beat - first_issue + 1, macs=plan.macs)
