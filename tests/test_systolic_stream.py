"""The shift-add engine with its weights streamed from off-chip memory (``weights="stream"``).

One frame of the stream is every weight tile's row words in issue order
(:func:`~hlsgen.systolic.weights.weight_stream`); the rows keep ring buffers the loader fills
while the last row frees slots.  Checked here: the order, the emulation from the stream, the
cycle model (stalls included) against Verilator to the cycle with a ring shallower than the
tiles in flight and with a one-pixel Dense layer on more rows than pixels, ``make csim``, the
command line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from factory import random_input
from test_systolic_shiftadd import MODELS, _code_without_comments, _network, yosys_report
from hlsgen.reference import execute
from hlsgen.systolic import ArrayShape, SystolicError, emit_network, module_names
from hlsgen.systolic.netemu import emulate_network
from hlsgen.systolic.nettiming import network_cycle_model
from hlsgen.systolic.network import Op, plan_network
from hlsgen.systolic.project import write_network_project
from hlsgen.systolic.weights import tiles_from_stream, weight_stream, weight_stream_text
from hlsgen.verify.sim import simulate


def _stream_plan(graph, shape: ArrayShape, ring_words: int = 512, **options):
    return plan_network(graph, shape, pe="shiftadd", weights="stream", ring_words=ring_words,
                        **options)


# -- the order -------------------------------------------------------------------------------
def test_stream_order_is_tile_then_row_and_round_trips():
    graph = _network(21, ("dwconv", "maxpool", "add", "avgpool"), "dense")
    shape = ArrayShape(3, 2)
    plan = _stream_plan(graph, shape, ring_words=4)
    order = weight_stream(plan)
    assert [(t, r) for t, r, _ in order] == [(t, r) for t in range(plan.tiles)
                                             for r in range(shape.rows)]
    step = next(s for s in plan.steps if s.op is Op.DW)  # a depthwise tile mid-stream
    tile, row = step.tile_base + 1, 2
    assert order[tile * shape.rows + row][2] == tuple(step.words[row][1])
    table = tiles_from_stream(plan, [w for _, _, w in order])
    rom = plan_network(graph, shape, pe="shiftadd")
    for s in rom.steps:
        if s.op in (Op.MAC, Op.DW):
            for r in range(shape.rows):
                assert [table[r][s.tile_base + i] for i in range(s.n_ct * s.n_kt)] == \
                    [tuple(w) for w in s.words[r]]
    lines = weight_stream_text(plan).splitlines()
    assert len(lines) == plan.tiles * shape.rows and len(lines[0].split()) == shape.cols
    assert plan.ring_depth == 4 and rom.ring_depth == 0 and rom.weight_source == "rom"
    with pytest.raises(ValueError, match="streams"):
        tiles_from_stream(plan, [w for _, _, w in order][1:])


def test_emulation_reads_the_stream():
    graph = _network(5, ("dwconv", "add", "maxpool"), "dense")
    plan = _stream_plan(graph, ArrayShape(3, 2), ring_words=3)
    x = random_input(graph, 3, 5)
    assert np.array_equal(emulate_network(plan, x), execute(graph, x))
    words = [w for _, _, w in weight_stream(plan)]
    swapped = words[:1] + [tuple(-v for v in words[1])] + words[2:]  # row 1 of tile 0 negated
    assert any(words[1]) and not np.array_equal(emulate_network(plan, x, stream_words=swapped),
                                                execute(graph, x))


def test_refuses_streams_it_cannot_build():
    graph = _network(1, (), "dense")
    for options, message in (({"weights": "dram"}, "weight source 'dram' is unknown"),
                             ({"weights": "stream"}, "need the shift-add engine"),
                             ({"weights": "stream", "pe": "shiftadd", "ring_words": 0},
                              "at least 1")):
        with pytest.raises(SystolicError, match=message):
            plan_network(graph, ArrayShape(2, 2), **options)


# -- the cycle model -------------------------------------------------------------------------
def test_model_adds_the_waited_beats_to_the_rom_model():
    """latency = P + 2 + sum_l B_l (N_l + S_l + R + 9), S_l the beats layer l waited for its
    tiles; a ring as deep as the network keeps the loader ahead of a network whose tiles each
    last longer than their R words take to load: no stall, the ROM design's cycles."""
    graph = _network(21, ("dwconv", "maxpool", "add", "avgpool"), "dense")
    shape = ArrayShape(3, 2)
    rom = network_cycle_model(plan_network(graph, shape, pe="shiftadd"))
    plan = _stream_plan(graph, shape, ring_words=2)
    timing = network_cycle_model(plan)
    p = plan.graph_input.shape[0] * plan.graph_input.shape[1]
    spans = [s.items + shape.rows + 9 for s in plan.steps]
    assert sum(timing.stall_beats) > 0 and timing.stall_beats[-1] > 0  # the 1-pixel Dense
    assert timing.latency == p + 2 + sum(b * (n + w) for b, n, w in zip(
        plan.step_beats, spans, timing.stall_beats)) > rom.latency
    assert timing.frame_latencies[0] == timing.latency and len(timing.frame_starts) == 3
    # deep ring, big pixel counts: the loader never holds an issue up
    convs = _network(3, ("conv",), "conv")
    deep = network_cycle_model(_stream_plan(convs, ArrayShape(2, 2)))
    same = network_cycle_model(plan_network(convs, ArrayShape(2, 2), pe="shiftadd"))
    assert deep.stall_beats == (0,) * len(deep.stall_beats)
    assert (deep.frame_starts, deep.frame_latencies) == (same.frame_starts,
                                                         same.frame_latencies)


# -- Verilog and simulation ------------------------------------------------------------------
def _simulate_stream(where: Path, graph, shape: ArrayShape, ring_words: int, frames: int = 3,
                     seed: int = 0, copy_bits: int = 0):
    """Write and simulate a streamed-weights project: 0 mismatches in both testbench passes,
    every frame's first beat and latency = the cycle model's."""
    shutil.rmtree(where, ignore_errors=True)
    plan = write_network_project(where, graph, shape, random_input(graph, frames, seed),
                                 pe="shiftadd", copy_bits=copy_bits, weights="stream",
                                 ring_words=ring_words)
    result = simulate(where, seed=seed)
    report = json.loads((where / "results" / "sim.json").read_text())
    timing = network_cycle_model(plan, frames)
    assert (result.mismatches, result.frames, report["mismatches_random_gaps"]) == (0, frames, 0)
    assert tuple(report["frame_start_cycles"]) == timing.frame_starts
    assert tuple(report["frame_latency_cycles"]) == timing.frame_latencies
    assert result.latency_cycles == timing.latency
    return plan, timing


def test_shallow_ring_waits_for_slots_and_simulates_exactly(tmp_path):
    """A 2-tile ring on 3x2 (33 tiles a frame; up to R + 2 = 5 tiles between issue and the
    last row): the loader waits for slots, layers wait for tiles, and every frame's timing is
    the model's; conv, depthwise, MaxPool, Add, AvgPool, Dense."""
    graph = _network(21, ("dwconv", "maxpool", "add", "avgpool"), "dense")
    plan, timing = _simulate_stream(tmp_path / "ring2", graph, ArrayShape(3, 2), ring_words=2)
    assert plan.ring_depth == 2 < plan.tiles and sum(timing.stall_beats) > 0
    assert {Op.MAC, Op.DW, Op.MAX, Op.SCALE} <= {s.op for s in plan.steps}
    files = emit_network(plan)
    top = files[f"rtl/{module_names()['top']}.v"]
    assert "w_stream_TREADY" in top and "initial" not in files[
        f"rtl/{module_names()['array']}.v"]  # no weight ROM contents in the Verilog
    for module in ("array", "accum", "top"):
        assert "*" not in _code_without_comments(files[f"rtl/{module_names()[module]}.v"])


def test_dense_layer_with_fewer_pixels_than_rows_simulates_exactly(tmp_path):
    """A one-pixel Dense on 4 rows: its tiles last one beat each, so up to R + 2 tiles are in
    the row skew at once; with a 3-tile ring the loader waits for every slot."""
    graph = _network(9, ("maxpool",), "dense")
    plan, timing = _simulate_stream(tmp_path / "dense", graph, ArrayShape(4, 2), ring_words=3,
                                    frames=2)
    dense = plan.steps[-1]
    assert dense.op is Op.MAC and dense.pixels == 1 < plan.shape.rows
    assert dense.n_ct * dense.n_kt > plan.ring_depth and timing.stall_beats[-1] > 0


def test_rom_project_has_no_weight_port(tmp_path):
    graph = _network(5, ("add",), "dense")
    plan = write_network_project(tmp_path / "rom", graph, ArrayShape(2, 2),
                                 random_input(graph, 1, 0), pe="shiftadd")
    top = (tmp_path / "rom" / "rtl" / f"{module_names()['top']}.v").read_text()
    assert plan.weight_source == "rom" and "w_stream" not in top
    assert not (tmp_path / "rom" / "tb" / "weights.txt").exists()
    # deterministic text (the HLS step comments once printed a dict method's address)
    from hlsgen.systolic.nethls import emit_network_hls

    assert emit_network_hls(plan) == emit_network_hls(plan)


def test_yosys_maps_the_rings_to_block_ram_and_no_dsp(tmp_path):
    graph = _network(8, ("dwconv", "maxpool"), "dense")
    plan = _stream_plan(graph, ArrayShape(3, 2))
    report = yosys_report(plan, tmp_path)
    assert report.total.dsps == 0
    assert report.modules[module_names()["array"]].brams >= plan.shape.rows / 2


# -- C simulation ----------------------------------------------------------------------------
def test_csim_reads_the_stream_exactly(tmp_path):
    """``make csim``: 0 mismatches on 4 frames; the same words in another order are
    caught."""
    graph = _network(21, ("dwconv", "maxpool", "add", "avgpool"), "dense")
    out = tmp_path / "csim"
    write_network_project(out, graph, ArrayShape(3, 2), random_input(graph, 4, 1),
                          pe="shiftadd", weights="stream", ring_words=2)
    header = next((out / "hls").glob("hlsgen_top.h")).read_text()
    assert "w_stream" in header and "WEIGHT_ROM" not in (out / "hls" / "hlsgen_top.cpp").read_text()
    assert "#pragma HLS INTERFACE mode=axis port=w_stream" in (
        out / "hls" / "hlsgen_top.cpp").read_text()
    make = ["make", "-C", str(out), "csim", f"PYTHON={sys.executable}"]
    run = subprocess.run(make, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads((out / "results" / "csim.json").read_text())["mismatches"] == 0
    words = [[int(v) for v in line.split()] for line in
             (out / "tb" / "weights.txt").read_text().splitlines()]
    turned = words[len(words) // 2:] + words[:len(words) // 2]  # the right words, out of order
    (out / "tb" / "weights.txt").write_text("".join(" ".join(map(str, w)) + "\n"
                                                    for w in turned))
    run = subprocess.run(make, capture_output=True, text=True)
    assert run.returncode != 0  # make: the testbench failed
    assert json.loads((out / "results" / "csim.json").read_text())["mismatches"] > 0


# -- the command line ------------------------------------------------------------------------
def test_generate_writes_the_stream_project(tmp_path, capsys):
    from hlsgen.cli import main
    from hlsgen.frontend import import_model

    model = MODELS / "kws_dscnn_int8" / "model.onnx"
    out = tmp_path / "kws_stream"
    assert main(["generate", str(model), "-o", str(out), "--arch", "systolic", "--pe",
                 "shiftadd", "--array", "8x4", "--weights", "stream", "--count", "1"]) == 0
    assert "weights streamed" in capsys.readouterr().out
    plan = _stream_plan(import_model(model), ArrayShape(8, 4))
    cost = json.loads((out / "rtl" / "hlsgen_cost.json").read_text())
    assert cost["latency_cycles"] == network_cycle_model(plan).latency
    assert len((out / "tb" / "weights.txt").read_text().splitlines()) == plan.tiles * 8
    for bad, message in ((["--arch", "systolic", "--pe", "shiftadd", "--weights", "ddr"],
                          "--weights 'ddr' is unknown"),
                         (["--arch", "systolic", "--weights", "stream"],
                          "--weights applies to --arch systolic --pe shiftadd only"),
                         (["--weights", "rom"],
                          "--weights applies to --arch systolic --pe shiftadd only")):
        capsys.readouterr()
        assert main(["generate", str(model), "-o", str(tmp_path / "bad"), *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
