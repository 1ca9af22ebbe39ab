"""cocotb testbench of a generated top, ``hlsgen_top`` or ``<name>_top`` (Verilog from hlsgen,
or RTL from Vitis HLS).

Drives ``in_stream`` with the frames of ``tb/input.txt`` and checks every integer of
``out_stream`` against ``tb/expected.txt`` (one frame per line, space-separated decimals, IR
order: H, W, C raster; channel c of a beat is TDATA[8c+7:8c]).  Two passes:

1. back to back: TVALID held high, TREADY always high.  Measures the latency (cycles from the
   first input beat accepted to the last output beat of frame 0) and the interval (cycles
   between the first beats of consecutive frames, the last pair streamed);
2. random TVALID / TREADY gaps (seeded), to exercise every handshake: cocotbext-axi's
   ``AxiStreamSource`` and ``AxiStreamSink`` with random pause generators, one frame per
   TLAST-delimited transfer.

Pass 1 is driven by hand because it must time-stamp every beat to the cycle (the latency and
interval are compared exactly with hlsgen's prediction); pass 2 uses the library, so the
protocol side is not only checked by our own reading of it.  The measurements go to the JSON
file named by ``HLSGEN_SIM_JSON``; any mismatch, a TLAST in the wrong place or a stall fails
the test.  Configured through the environment by ``tb/run_sim.py``.

A design with a weight stream port (``w_stream``: the shift-add engine with
``--weights stream``) also gets ``tb/weights.txt`` (``HLSGEN_WEIGHTS``: one stream word a line,
its int8 weights as decimals, column 0 first), the words of one frame: they are streamed once
per frame, in pass 1 with TVALID always high from the cycle of the first input beat (a DMA
that never runs dry, what the design's cycle model assumes), in pass 2 with random gaps.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, with_timeout

# Cycles without any handshake before the run is declared stuck: 20,000 unless tb/run_sim.py
# passes the design's own figure (a layer-sequential design computes long between beats).
STALL_CYCLES = int(os.environ.get("HLSGEN_STALL_CYCLES", "20000"))


@dataclass
class _Pass:
    outputs: list[int] = field(default_factory=list)  # TDATA words
    lasts: list[int] = field(default_factory=list)
    in_cycles: list[int] = field(default_factory=list)
    out_cycles: list[int] = field(default_factory=list)


def _read_frames(path: str, limit: int | None) -> list[list[int]]:
    lines = [line.split() for line in Path(path).read_text().splitlines() if line.strip()]
    frames = [[int(v) for v in line] for line in lines]
    return frames[:limit] if limit else frames


def _pack(frame: list[int], channels: int) -> list[int]:
    words = []
    for b in range(len(frame) // channels):
        word = 0
        for c in range(channels):
            word |= (frame[b * channels + c] & 0xFF) << (8 * c)
        words.append(word)
    return words


async def _stream(dut, words: list[int], out_beats: int, p_valid: float, p_ready: float,
                  rng: random.Random) -> _Pass:
    result = _Pass()
    index = 0
    presenting = False  # AXI: a presented beat stays until it is accepted
    cycle = idle = 0
    while len(result.outputs) < out_beats:
        if not presenting and index < len(words) and rng.random() < p_valid:
            presenting = True
            dut.in_stream_TDATA.value = words[index]
        dut.in_stream_TVALID.value = int(presenting)
        ready = rng.random() < p_ready
        dut.out_stream_TREADY.value = int(ready)
        await ReadOnly()
        moved = False
        if presenting and int(dut.in_stream_TREADY.value):
            result.in_cycles.append(cycle)
            index += 1
            presenting = False
            moved = True
        if ready and int(dut.out_stream_TVALID.value):
            result.outputs.append(dut.out_stream_TDATA.value.to_unsigned())
            result.lasts.append(int(dut.out_stream_TLAST.value))
            result.out_cycles.append(cycle)
            moved = True
        idle = 0 if moved else idle + 1
        if idle > STALL_CYCLES:
            raise AssertionError(
                f"no handshake for {STALL_CYCLES} cycles after {index}/{len(words)} input and "
                f"{len(result.outputs)}/{out_beats} output beats: the design is stuck")
        await RisingEdge(dut.ap_clk)
        cycle += 1
    dut.in_stream_TVALID.value = 0
    dut.out_stream_TREADY.value = 0
    return result


async def _drive_weights(dut, words: list[int], rng: random.Random | None = None) -> None:
    """``w_stream``: every word in order, one a cycle while TREADY; TVALID always high, or
    (``rng``) low for a cycle before a word with probability 0.4 (never while a word waits)."""
    for word in words:
        while rng is not None and rng.random() < 0.4:
            dut.w_stream_TVALID.value = 0
            await RisingEdge(dut.ap_clk)
        dut.w_stream_TDATA.value = word
        dut.w_stream_TVALID.value = 1
        accepted = False
        while not accepted:
            await ReadOnly()
            accepted = bool(int(dut.w_stream_TREADY.value))
            await RisingEdge(dut.ap_clk)
    dut.w_stream_TVALID.value = 0


def _mismatches(run: _Pass, expected: list[list[int]], channels: int, beats: int,
                log, label: str) -> int:
    bad = 0
    for f, frame in enumerate(expected):
        for b in range(beats):
            k = f * beats + b
            word, last = run.outputs[k], run.lasts[k]
            if last != (b == beats - 1):
                bad += 1
                log.error("%s: frame %d beat %d: TLAST=%d", label, f, b, last)
            for c in range(channels):
                want = frame[b * channels + c]
                got = (word >> (8 * c)) & 0xFF
                if got != want & 0xFF:
                    bad += 1
                    if bad <= 20:
                        signed = got - 256 if want < 0 and got > 127 else got
                        log.error("%s: frame %d pixel %d channel %d: got %d, expected %d",
                                  label, f, b, c, signed, want)
    return bad


def _pauses(rng: random.Random, busy: float):
    """cocotbext-axi pause generator: pause a cycle with probability ``busy``."""
    while True:
        yield rng.random() < busy


async def _library_pass(dut, frames: list[list[int]], in_ch: int, out_ch: int,
                        rng: random.Random) -> _Pass:
    """Every frame through cocotbext-axi's source and sink, with random gaps on both sides."""
    from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

    for name in ("in_stream_TLAST", "in_stream_TKEEP", "in_stream_TSTRB"):
        getattr(dut, name).value = 0  # the source drives them from here on
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "in_stream"), dut.ap_clk,
                             dut.ap_rst_n, reset_active_level=False)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "out_stream"), dut.ap_clk,
                         dut.ap_rst_n, reset_active_level=False)
    source.set_pause_generator(_pauses(rng, 0.4))
    sink.set_pause_generator(_pauses(rng, 0.4))
    for frame in frames:
        await source.send(AxiStreamFrame(bytes(v & 0xFF for v in frame)))
    result = _Pass()
    for _ in frames:
        received = await with_timeout(sink.recv(), STALL_CYCLES * 10 * len(frames), "ns")
        data = bytes(received.tdata)
        beats = [int.from_bytes(data[i:i + out_ch], "little")
                 for i in range(0, len(data), out_ch)]
        result.outputs += beats
        # one transfer per TLAST: a frame of the right length ends exactly where TLAST was
        result.lasts += [0] * (len(beats) - 1) + [1]
    source.pause = sink.pause = True
    return result


@cocotb.test()
async def stream_frames(dut):
    limit = int(os.environ.get("HLSGEN_FRAMES", "0")) or None
    frames = _read_frames(os.environ["HLSGEN_INPUT"], limit)
    expected = _read_frames(os.environ["HLSGEN_EXPECTED"], limit)
    assert frames and len(frames) == len(expected), "input.txt and expected.txt disagree"
    in_ch, out_ch = len(dut.in_stream_TDATA) // 8, len(dut.out_stream_TDATA) // 8
    in_beats, out_beats = len(frames[0]) // in_ch, len(expected[0]) // out_ch
    words = [w for frame in frames for w in _pack(frame, in_ch)]
    rng = random.Random(int(os.environ.get("HLSGEN_SEED", "1")))

    cocotb.start_soon(Clock(dut.ap_clk, 10, unit="ns").start())
    dut.ap_rst_n.value = 0
    dut.in_stream_TVALID.value = 0
    dut.in_stream_TDATA.value = 0
    dut.in_stream_TLAST.value = 0
    dut.in_stream_TKEEP.value = (1 << in_ch) - 1
    dut.in_stream_TSTRB.value = (1 << in_ch) - 1
    dut.out_stream_TREADY.value = 0
    weights_path = os.environ.get("HLSGEN_WEIGHTS")
    if weights_path:
        dut.w_stream_TVALID.value = 0
        dut.w_stream_TDATA.value = 0
    for _ in range(5):
        await RisingEdge(dut.ap_clk)
    dut.ap_rst_n.value = 1
    await RisingEdge(dut.ap_clk)

    total = out_beats * len(frames)
    if weights_path:  # one frame's words per frame, from the first input beat
        lines = _read_frames(weights_path, None)
        w_channels = len(dut.w_stream_TDATA) // 8
        per_frame = [_pack(line, w_channels)[0] for line in lines]
        cocotb.start_soon(_drive_weights(dut, per_frame * len(frames)))
    steady = await _stream(dut, words, total, 1.0, 1.0, rng)
    if weights_path:  # pass 1 has taken all its words: its last frame needed them
        cocotb.start_soon(_drive_weights(dut, per_frame * len(frames), rng))
    gaps = await _library_pass(dut, frames, in_ch, out_ch, rng)
    bad_steady = _mismatches(steady, expected, out_ch, out_beats, dut._log, "back-to-back")
    if len(gaps.outputs) != total:  # a TLAST in the wrong place splits or merges frames
        raise AssertionError(f"random gaps: {len(gaps.outputs)} output beats in "
                             f"{len(frames)} TLAST-delimited frames, expected {total}")
    bad_gaps = _mismatches(gaps, expected, out_ch, out_beats, dut._log, "random gaps")

    starts = [steady.in_cycles[f * in_beats] for f in range(len(frames))]
    ends = [steady.out_cycles[(f + 1) * out_beats - 1] for f in range(len(frames))]
    report = {
        "simulator": os.environ.get("HLSGEN_SIMULATOR", cocotb.SIM_NAME),
        "frames": len(frames),
        "mismatches": bad_steady + bad_gaps,
        "latency_cycles": ends[0] - starts[0],
        "interval_cycles": starts[-1] - starts[-2] if len(frames) > 1 else None,
        "frame_latency_cycles": [e - s for s, e in zip(starts, ends)],
        "frame_start_cycles": starts,
        "mismatches_back_to_back": bad_steady,
        "mismatches_random_gaps": bad_gaps,
    }
    Path(os.environ["HLSGEN_SIM_JSON"]).write_text(json.dumps(report, indent=2) + "\n")
    dut._log.info("latency %s cycles, interval %s cycles, %d mismatches",
                  report["latency_cycles"], report["interval_cycles"], report["mismatches"])
    assert report["mismatches"] == 0, f"{report['mismatches']} output mismatches"
