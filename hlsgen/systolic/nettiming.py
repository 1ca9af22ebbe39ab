"""The exact cycle model of a whole network on the shared array (what ``make sim`` measures).

Cycle 0 is a frame's first input beat.  The frame loads (``P`` beats); the cycle after the
last beat the sequencer starts, a set-up cycle loads the first layer's descriptor, and the
layers run one after the other: layer ``l`` issues its ``N_l`` items on consecutive cycles;
its last item writes its lane results :data:`ISSUE_TO_WRITE` ``+ R`` cycles after it is issued
(front end 3, array ``R + 1``, lanes 4); the next cycle is the next layer's set-up and the one
after its first issue.  The last layer's output pixel ``m`` leaves the cycle after it is
written plus one (the output read), so the last beat is ``R + 10`` cycles after the last
issue.  The first layer's last item frees the input buffer (the next frame may load) and the
next frame starts once loaded and the previous frame's last beat has left.  With the weights
streamed (:func:`stream_cycle_model`) a weight tile's first item may wait for its words: the
waited beats lengthen the layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from hlsgen.systolic.network import NetworkPlan

__all__ = ["NetworkTiming", "network_cycle_model", "release_delay", "ISSUE_TO_WRITE",
           "WRITE_TO_ISSUE", "stream_cycle_model"]

START_TO_ISSUE = 2  # start -> set-up cycle -> first issue
ISSUE_TO_WRITE = 8  # + R: last issue -> its lane write (I1, I2, I3, array R + 1, lanes 4)
WRITE_TO_ISSUE = 2  # last write -> set-up cycle -> the next layer's first issue
ISSUE_TO_BEAT = 10  # + R: the last layer's last issue -> the frame's last output beat
ISSUE_TO_RELEASE = 2  # the first layer's last issue -> the next frame's first beat
ISSUE_TO_LAST_ROW = 2  # + R: an item's issue beat -> the beat the last row reads its weights


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
    frame_starts: tuple[int, ...] = ()  # first input beat of each frame offered back to back
    frame_latencies: tuple[int, ...] = ()  # its first input beat -> its last output beat
    stall_beats: tuple[int, ...] = ()  # streamed weights: beats frame 0's layers waited

    def utilization(self, macs: int, pes: int, cycles: int) -> float:
        return macs / (pes * cycles)


def release_delay(plan: NetworkPlan) -> int:
    """Beats from the first layer's last item at I1 to its last input-buffer read.  With
    shift-add PEs a depthwise first layer's port ``p`` reads ``p`` beats late, and a first
    layer reading more ports than the input buffer has copies reads them in the beat after I2
    (read ports shared over the beat); the next frame (loaded a word per cycle, not per beat)
    must not overwrite what it has not read.  (The DSP engine releases at I1, as before.)"""
    from hlsgen.systolic.network import Op

    if plan.pe != "shiftadd":
        return 0
    reads = plan.step_reads[0]
    late = min(reads, plan.shape.rows) - 1 if plan.steps[0].op is Op.DW else 0
    return late + (1 if reads > plan.in_copies else 0)


def network_cycle_model(plan: NetworkPlan, frames: int = 3) -> NetworkTiming:
    """Exact cycles of ``frames`` frames offered back to back (``frame_starts``,
    ``frame_latencies``); with shift-add PEs every cycle the DSP design spends while layer
    ``l``'s descriptor is loaded becomes a beat of ``B_l`` cycles (``plan.step_beats``:
    ``T_l``, or more where the step reads several ports; ``docs/systolic-shiftadd.md``).
    Streamed weights: :func:`stream_cycle_model`."""
    if plan.weight_source == "stream":
        return stream_cycle_model(plan, frames)
    rows = plan.shape.rows
    p = plan.graph_input.shape[0] * plan.graph_input.shape[1]
    items = tuple(s.items for s in plan.steps)
    cycles = plan.step_beats or (1,) * len(items)
    # beats layer l owns: its set-up beat -> the next layer's set-up beat (the last layer:
    # -> its last write); the same span as the first issue -> the next layer's first issue
    beats = tuple(n + rows + ISSUE_TO_WRITE + WRITE_TO_ISSUE - 1 for n in items)
    spans = tuple(t * b for t, b in zip(cycles, beats))
    start = p  # the cycle after the last beat: the start beat (one cycle: nothing runs)
    last_beat = start + sum(spans) + ISSUE_TO_BEAT - ISSUE_TO_WRITE  # write -> read -> beat
    # the first layer's last item reads the input buffer at the end of beat P + 2 + N_0
    # (shift-add, depthwise first layer: its last port reads release_delay beats later)
    next_first_beat = (start + cycles[0] * (START_TO_ISSUE + items[0] + release_delay(plan))
                       + ISSUE_TO_RELEASE - 1)
    next_start = max(next_first_beat + p, last_beat + 1)
    first_issue = start + 1 + cycles[0]  # the first cycle of the first issue beat
    steady = next_start + (last_beat - start) - next_first_beat
    interval = next_start - start
    starts = tuple([0] + [next_first_beat + f * interval for f in range(frames - 1)])
    return NetworkTiming(in_beats=p, layer_items=items, layer_cycles=spans,
                         latency=last_beat, steady_latency=steady,
                         interval=interval, first_interval=next_first_beat,
                         compute_cycles=last_beat - first_issue + 1, frame_starts=starts,
                         frame_latencies=(last_beat,) + (steady,) * (frames - 1),
                         stall_beats=(0,) * len(items))


def stream_cycle_model(plan: NetworkPlan, frames: int = 3) -> NetworkTiming:
    """Exact cycles with the weights streamed (``plan.weight_source == "stream"``), the stream
    valid from frame 0's first input beat on, one word a cycle while the rings have room.

    Tiles are numbered in stream order over every frame (``k``).  The loader writes tile
    ``k``'s ``R`` words on consecutive cycles from ``load[k]``, once tile ``k - depth`` has
    left the ring (``freed``: the cycle the last row reads its last item's weights); the
    sequencer issues a tile's first item in the first beat that ends once the tile is written
    (the cycle after its last word), else an empty beat: the layer's span grows by the beats
    it waited.  Everything else is :func:`network_cycle_model`'s timeline."""
    from hlsgen.systolic.network import Op

    rows, depth = plan.shape.rows, plan.ring_depth
    p = plan.graph_input.shape[0] * plan.graph_input.shape[1]
    items = tuple(s.items for s in plan.steps)
    load: list[int] = []  # the cycle tile k's first word is written
    freed: list[int] = []  # the cycle the last row reads tile k's last item (its slot frees)
    first_beat, last_beat = 0, 0
    starts, latencies = [], []
    for frame in range(frames):
        start = first_beat + p if frame == 0 else max(first_beat + p, last_beat + 1)
        setup = start + 1  # the first cycle of the layer's set-up beat
        spans, waits = [], []
        for index, step in enumerate(plan.steps):
            b = plan.step_beats[index]
            beat = 1  # the layer's next issue beat (0: its set-up beat)
            for _ in range(step.n_ct * step.n_kt if step.op in (Op.MAC, Op.DW) else 0):
                k = len(load)
                slot_free = freed[k - depth] + 1 if k >= depth else 0
                load.append(max(load[-1] + rows if load else 0, slot_free))
                written = load[k] + rows  # the sequencer sees the tile from this cycle
                beat = max(beat, -(-(written - setup + 1) // b) - 1)  # a beat ending >= it
                last = beat + step.pixels - 1
                freed.append(setup + (last + rows + ISSUE_TO_LAST_ROW + 1) * b - 1)
                beat = last + 1
            waited = max(0, beat - 1 - step.items)
            if index == 0:  # the input buffer frees after the first layer's last read
                release = (start + b * (START_TO_ISSUE + step.items + waited
                                        + release_delay(plan)) + ISSUE_TO_RELEASE - 1)
            span = b * (step.items + waited + rows + ISSUE_TO_WRITE + WRITE_TO_ISSUE - 1)
            spans.append(span)
            waits.append(waited)
            setup += span
        last_beat = setup + ISSUE_TO_BEAT - ISSUE_TO_WRITE - 1
        starts.append(first_beat)
        latencies.append(last_beat - first_beat)
        if frame == 0:
            frame0 = (tuple(spans), tuple(waits), start)
        first_beat = release
    spans, waits, start = frame0
    return NetworkTiming(
        in_beats=p, layer_items=items, layer_cycles=spans, latency=latencies[0],
        steady_latency=latencies[-1],
        interval=starts[-1] - starts[-2] if frames > 1 else 0,
        first_interval=starts[1] - starts[0] if frames > 1 else 0,
        compute_cycles=latencies[0] - (p + 1 + plan.step_beats[0]) + 1,
        frame_starts=tuple(starts), frame_latencies=tuple(latencies), stall_beats=waits)
