"""The exact cycle model of a whole network on the shared array (what ``make sim`` measures).

Cycle 0 is a frame's first input beat.  The frame loads (``P`` beats); the cycle after the
last beat the sequencer starts, a set-up cycle loads the first layer's descriptor, and the
layers run one after the other: layer ``l`` issues its ``N_l`` items on consecutive cycles;
its last item writes its lane results :data:`ISSUE_TO_WRITE` ``+ R`` cycles after it is issued
(front end 3, array ``R + 1``, lanes 4); the next cycle is the next layer's set-up and the one
after its first issue.  The last layer's output pixel ``m`` leaves the cycle after it is
written plus one (the output read), so the last beat is ``R + 10`` cycles after the last
issue.  The first layer's last item frees the input buffer (the next frame may load) and the
next frame starts once loaded and the previous frame's last beat has left.
"""

from __future__ import annotations

from dataclasses import dataclass

from hlsgen.systolic.network import NetworkPlan

__all__ = ["NetworkTiming", "network_cycle_model", "ISSUE_TO_WRITE", "WRITE_TO_ISSUE"]

START_TO_ISSUE = 2  # start -> set-up cycle -> first issue
ISSUE_TO_WRITE = 8  # + R: last issue -> its lane write (I1, I2, I3, array R + 1, lanes 4)
WRITE_TO_ISSUE = 2  # last write -> set-up cycle -> the next layer's first issue
ISSUE_TO_BEAT = 10  # + R: the last layer's last issue -> the frame's last output beat
ISSUE_TO_RELEASE = 2  # the first layer's last issue -> the next frame's first beat


@dataclass(frozen=True)
class NetworkTiming:
    """Exact cycles of the network (input back to back, output always ready)."""

    in_beats: int
    layer_items: tuple[int, ...]  # N_l: cycles each layer feeds the array or the lanes
    layer_cycles: tuple[int, ...]  # first issue of layer l -> first issue of l + 1 (last:
    #                                -> the frame's last beat)
    latency: int  # first input beat -> last output beat (the first frame)
    steady_latency: int  # the same for every later frame offered back to back
    interval: int
    first_interval: int
    compute_cycles: int  # first issue -> last output beat

    def utilization(self, macs: int, pes: int, cycles: int) -> float:
        return macs / (pes * cycles)


def network_cycle_model(plan: NetworkPlan) -> NetworkTiming:
    rows = plan.shape.rows
    p = plan.graph_input.shape[0] * plan.graph_input.shape[1]
    items = tuple(s.items for s in plan.steps)
    start = p  # the cycle after the last beat
    first_issue = start + START_TO_ISSUE
    issue, spans = first_issue, []
    for index, n in enumerate(items):
        last_issue = issue + n - 1
        if index == len(items) - 1:
            end = last_issue + rows + ISSUE_TO_BEAT
            spans.append(end - issue)
        else:
            nxt = last_issue + rows + ISSUE_TO_WRITE + WRITE_TO_ISSUE
            spans.append(nxt - issue)
            issue = nxt
    last_beat = first_issue + sum(spans)
    next_first_beat = first_issue + items[0] - 1 + ISSUE_TO_RELEASE
    next_start = max(next_first_beat + p, last_beat + 1)
    duration = last_beat - first_issue  # first issue -> last beat, the same every frame
    steady = next_start + START_TO_ISSUE + duration - next_first_beat
    return NetworkTiming(in_beats=p, layer_items=items, layer_cycles=tuple(spans),
                         latency=last_beat, steady_latency=steady,
                         interval=next_start - start, first_interval=next_first_beat,
                         compute_cycles=duration + 1)
