"""The exact cycle schedule of a hardware plan, with the input offered back to back and the
output always ready.

With ``S`` pipeline stages of a module's datapath:

- pixel front (1x1, no padding): beat accepted at ``a`` -> output offered at ``a + S + 2``;
- window front (line buffer): output ``n`` emitted at ``e[n] = max(e[n-1] + 1, a[trig] + 1)``
  (``trig`` = last pixel its window reads) -> offered at ``e[n] + S + 3``;
- vector (Dense) and sum (global AvgPool) fronts: last beat of a frame at ``a`` -> ``a + S + 2``;
- pair front (Add): pop ``p[k] = max(p[k-1] + 1, a_A[k] + 1, a_B[k] + 1)`` -> ``p[k] + S + 2``;
- a serial layer (``L`` cycles per output pixel, see :mod:`hlsgen.hw.serial`) loads the
  front end's item into its digit registers at ``l[n] = max(w[n], l[n-1] + L)`` (``w[n]``:
  when the item reached the stage-0 register) -> offered at ``l[n] + L + S + 2``; while an
  item waits there the front end holds (:func:`_serial_loads`);
- forks are wires.  Line buffers and FIFOs are sized from this schedule so that no layer ever
  stalls its producer: the latency is then exact, and so is the interval (the input beats per
  frame, or the pacer period), checked over several streamed frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hlsgen import ir
from hlsgen.errors import CostModelError
from hlsgen.design import DatapathKind
from hlsgen.hw import channels, multiplexed
from hlsgen.hw import serial as serial_kind
from hlsgen.hw.module import Front, ModulePlan, oldest_row, trigger

__all__ = ["Schedule", "schedule", "work", "serial"]

_FRAMES = 3  # frames streamed to check that the schedule repeats every input frame


@dataclass(frozen=True)
class Schedule:
    """Exact cycle timing with the input offered back to back and the output always ready.

    ``layer_latency``: from the layer's first input beat to its last output beat (frame 0).
    ``rows``: line-buffer row slots per WINDOW layer; ``fifo_depths``: (a, b) per Add.
    ``paced``: the top admits a frame only every ``interval_cycles`` (more than its beats).
    """

    latency_cycles: int
    interval_cycles: int
    layer_latency: dict[str, int]
    rows: dict[str, int]
    fifo_depths: dict[str, tuple[int, int]]
    paced: bool = False


def serial(ready: np.ndarray) -> np.ndarray:
    """``x[n] = max(x[n-1] + 1, ready[n])``: one event per cycle, in order."""
    steps = np.arange(ready.shape[0], dtype=np.int64)
    return steps + np.maximum.accumulate(ready - steps)


def word_digits(m: ModulePlan) -> int:
    """Cycles per output pixel of a serial or multiplexed module (0: a parallel one)."""
    if m.kind is DatapathKind.MULTIPLEXED:
        if m.front in (Front.PAIR, Front.SUM):
            return channels.steps(m)
        return multiplexed.engine(m).steps
    return serial_kind.word_digits(m.datapath, m.digit) if m.digit else 0


def window_hold(m: ModulePlan) -> int:
    """Cycles after a load that the layer still reads the front end's window register."""
    if m.kind is DatapathKind.MULTIPLEXED and m.front is Front.FETCH:
        return multiplexed.engine(m).window_hold
    return 0


def _tail(m: ModulePlan) -> int:
    """Cycles from a word's load to the offer of its output, beyond ``L + S``: the serial
    kind's done flag and output slice (2); the multiplexed kind's accumulator and output
    (3) plus its rescaler (load, a cycle per Booth digit)."""
    if m.kind is DatapathKind.MULTIPLEXED and m.front not in (Front.PAIR, Front.SUM):
        return 4 + multiplexed.engine(m).digits
    return 2


def _serial_loads(ready: np.ndarray, digits: int, gated: bool) -> tuple[np.ndarray, np.ndarray]:
    """Emission and load cycles of a serial layer's items, in order.

    ``ready[n]``: the earliest cycle item n can enter the front end's last stage (``gated``:
    a line buffer, whose emitter and two output stages advance together only while the
    stage-0 register is empty or being loaded) or, for a vector front end, the cycle it
    is there.  The digit registers load item n at ``l[n] = max(w[n], l[n-1] + L)``; the
    front end is held during ``[w[n], l[n])``.
    """
    emits = np.empty_like(ready)
    loads = np.empty_like(ready)
    stalls: list[tuple[int, int]] = []  # [start, end) of every hold, increasing
    first = 0  # first hold that may still matter

    def advance(c: int) -> int:  # first cycle >= c at which the front end moves
        nonlocal first
        while first < len(stalls) and stalls[first][1] <= c:
            first += 1
        k = first
        while k < len(stalls) and stalls[k][0] <= c:
            c = max(c, stalls[k][1])
            k += 1
        return c

    prev_emit, prev_load = -(1 << 40), -(1 << 40)
    for n, r in enumerate(ready.tolist()):
        if gated:
            e = advance(max(prev_emit + 1, r))
            w = advance(e + 1) + 1
        else:
            e = w = r
        load = max(w, prev_load + digits)
        if load > w:
            stalls.append((w, load))
        emits[n], loads[n] = e, load
        prev_emit, prev_load = e, load
    return emits, loads


def _fetch_loads(ready: np.ndarray, taps: int, digits: int, hold: int = 0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Last-tap cycles and load cycles of a folded layer behind ``hlsgen_fetch``.

    Item n's fetch starts at ``f[n] = max(ready[n], l[n-1] + H)`` (its window written, the
    window register free: released in that cycle at the latest, ``H`` cycles after the load:
    :func:`window_hold`), reads a tap per cycle and is complete at ``f[n] + T + 1``; the layer
    loads it at ``l[n] = max(f[n] + T + 1, l[n-1] + L)``.  The fetcher moves to the next
    output after its last tap, ``f[n] + T - 1``.
    """
    advances = np.empty_like(ready)
    loads = np.empty_like(ready)
    prev = -(1 << 40)
    for n, r in enumerate(ready.tolist()):
        f = max(r, prev + hold)
        load = max(f + taps + 1, prev + digits)
        advances[n], loads[n] = f + taps - 1, load
        prev = load
    return advances, loads


def _pair_loads(ready: np.ndarray, digits: int) -> tuple[np.ndarray, np.ndarray]:
    """Pop and load cycles of a channel-serial Add behind ``hlsgen_pair``.

    Pair ``k`` pops at ``p[k] = max(ready[k], p[k-1] + 1, l[k-1])`` (both FIFOs hold it and
    the pair register is empty or being loaded), is in the pair register at ``p[k] + 1`` and
    is loaded at ``l[k] = max(p[k] + 1, l[k-1] + C)``.
    """
    pops = np.empty_like(ready)
    loads = np.empty_like(ready)
    prev_pop, prev_load = -(1 << 40), -(1 << 40)
    for k, r in enumerate(ready.tolist()):
        pop = max(r, prev_pop + 1, prev_load)
        load = max(pop + 1, prev_load + digits)
        pops[k], loads[k] = pop, load
        prev_pop, prev_load = pop, load
    return pops, loads


def _module_times(m: ModulePlan, arrivals: list[np.ndarray], frames: int, stages: int,
                  sizes: dict) -> np.ndarray:
    """Output offer times of ``m`` for ``frames`` frames of input offer times ``arrivals``."""
    a = arrivals[0]
    beats = m.in_beats
    digits = word_digits(m)
    if digits and m.front in (Front.VECTOR, Front.SUM):  # one item a frame, L cycles each
        ready = a[beats - 1 :: beats] + 1
        _, loads = _serial_loads(ready, digits, gated=False)
        if not np.array_equal(loads, ready):
            raise CostModelError(f"layer {m.name!r}: its {digits}-cycle items do not fit "
                                 "between frames")
        return loads + digits + stages + _tail(m)
    if m.front is Front.PIXEL:
        s = m.window
        rows, cols = np.divmod(np.arange(beats), s.w)
        keep = ((rows % s.sh == 0) & (rows // s.sh < s.ho) & (cols % s.sw == 0)
                & (cols // s.sw < s.wo))
        return a[np.tile(keep, frames)] + stages + 2
    if m.front in (Front.VECTOR, Front.SUM):
        return a[beats - 1 :: beats] + stages + 2
    if m.front is Front.PAIR:
        b = arrivals[1]
        if digits:
            pops, loads = _pair_loads(np.maximum(a, b) + 1, digits)
        else:
            pops = serial(np.maximum(a, b) + 1)
        depths = tuple(max(2, int(np.max(np.arange(x.shape[0])
                                          - np.searchsorted(pops, x, side="left"))) + 1)
                       for x in (a, b))
        sizes[m.name] = tuple(max(d, old) for d, old in zip(depths, sizes.get(m.name, (0, 0))))
        if digits:
            return loads + digits + stages + _tail(m)
        return pops + stages + 2
    # WINDOW, FETCH
    s = m.window
    per = s.ho * s.wo
    offsets = np.repeat(np.arange(frames, dtype=np.int64) * beats, per)
    ready = a[np.tile(trigger(s), frames) + offsets] + 1
    if m.front is Front.FETCH:
        emits, loads = _fetch_loads(ready, s.taps, digits, window_hold(m))
    elif digits:
        emits, loads = _serial_loads(ready, digits, gated=True)
    else:
        emits = serial(ready)
    # Row slots: the writer never blocks if it stays < R rows ahead of the oldest row of the
    # emitter's current output (the first output not yet emitted when the beat arrives).
    current = np.searchsorted(emits, a, side="left")
    oldest_in = np.tile(oldest_row(s), frames) + np.repeat(np.arange(frames) * s.h, per)
    oldest = np.append(oldest_in, frames * s.h)[current]
    rows = np.arange(a.shape[0]) // s.w
    need = int(np.max(rows - oldest)) + 1
    sizes[m.name] = max(s.kh, need, sizes.get(m.name, 0))
    if digits:
        return loads + digits + stages + _tail(m)
    return emits + stages + 3


def work(m: ModulePlan) -> int:
    """Cycles per frame a module needs at least (one output, or one pop, per cycle; a serial
    layer's output pixel takes a word of ``L`` cycles)."""
    digits = word_digits(m)
    if digits and m.front in (Front.PAIR, Front.SUM):
        return channels.work(m)
    if m.front is Front.FETCH:  # a window fetch (taps + 1 cycles) overlaps the last word
        return m.window.ho * m.window.wo * max(digits, window_hold(m) + m.window.taps + 1)
    if m.front is Front.WINDOW:
        return m.window.ho * m.window.wo * max(1, digits)
    if m.front is Front.VECTOR:
        return max(m.in_beats, digits)
    return m.in_beats


def schedule(modules: tuple[ModulePlan, ...], graph: ir.Graph, stages: dict[str, int]
             ) -> Schedule:
    """The exact schedule of ``modules`` (graph order); ``stages``: pipeline stages per layer."""
    h, w, _ = graph.tensor(graph.input).shape
    beats = h * w
    # A layer with more outputs than the input has beats per frame (padding wider than the
    # kernel needs) cannot keep pace with a back-to-back input; the top then admits a new
    # frame only every `period` cycles (hlsgen_top's input pacer), so nothing ever stalls.
    period = max([beats] + [work(m) for m in modules])
    frames = _FRAMES
    rows: dict[str, int] = {}
    fifos: dict[str, tuple[int, int]] = {}
    times = {graph.input: (np.arange(beats, dtype=np.int64)[None, :]
                           + period * np.arange(frames, dtype=np.int64)[:, None]).reshape(-1)}
    first: dict[str, int] = {}
    for m in modules:
        arrivals = [times[t] for t in m.layer.inputs]
        sizes = fifos if m.front is Front.PAIR else rows
        times[m.layer.output] = _module_times(m, arrivals, frames,
                                              stages[m.name], sizes)
        first[m.name] = int(min(x[0] for x in arrivals))
    for name, t in times.items():
        n = t.shape[0] // frames
        if not np.array_equal(t[2 * n :] - t[n : 2 * n], np.full(n, period)):
            raise CostModelError(
                f"tensor {name!r}: the schedule does not repeat every {period} cycles; "
                "the cost model cannot time this design exactly")
    out = times[graph.output]
    per_frame = out.shape[0] // frames
    layer_latency = {}
    for m in modules:
        t = times[m.layer.output]
        layer_latency[m.name] = int(t[t.shape[0] // frames - 1]) - first[m.name]
    return Schedule(int(out[per_frame - 1] - times[graph.input][0]), period,
                    layer_latency, rows, fifos, paced=period > beats)
