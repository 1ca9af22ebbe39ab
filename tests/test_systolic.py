"""The DSP systolic-array baseline (hlsgen.systolic): one Conv or Dense layer, exactly.

The plan's tables are checked through the numpy emulator against the reference executor on
many random layers (no simulator); random layers on random array shapes then simulate in
Verilator with hlsgen's own testbench (back to back and with random gaps / back-pressure)
with 0 mismatches and the cycle model's latency and interval; yosys maps every MAC to one
DSP48E1.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factory import random_graph, random_input, tie_prone
from hlsgen import ir
from hlsgen.errors import InputError, UnsupportedModelError
from hlsgen.reference import execute
from hlsgen.systolic import (ArrayShape, SystolicError, cycle_model, emit_systolic, emulate,
                             module_names, plan_layer, write_sim_project)
from hlsgen.systolic.layers import conv_graph, dense_graph, single_layer_graph
from hlsgen.verify.sim import simulate

MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"


def _layer_graph(seed: int, kind: str, channels: int, hw: int, ties: bool) -> ir.Graph:
    graph = random_graph(seed, (kind,), signed=None, rounding="mixed", max_channels=channels,
                         max_hw=hw)
    return tie_prone(graph, ir.Rounding.HALF_EVEN) if ties else graph


# -- the plan, through the emulator ----------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from(("conv", "dwconv", "dense")),
       st.integers(1, 7), st.integers(1, 7), st.booleans())
def test_emulated_array_equals_the_reference(seed, kind, rows, cols, ties):
    graph = _layer_graph(seed, kind, 12, 7, ties)
    plan = plan_layer(graph, ArrayShape(rows, cols))
    x = random_input(graph, 4, seed)
    assert np.array_equal(emulate(plan, x), execute(graph, x))


def test_anchor_conv_tiles_the_array_fully():
    """3x3 conv 16->16 on 16x16 (pad 1), 12x16 array: K = 144 = 12 k-tiles, 2 read ports."""
    plan = plan_layer(conv_graph((16, 16, 16), 16, (3, 3), pads=(1, 1, 1, 1)),
                      ArrayShape(12, 16))
    assert (plan.n_kt, plan.n_ct, plan.ports, plan.pixels) == (12, 1, 2, 256)
    timing = cycle_model(plan)
    assert timing.items == 12 * 256 and timing.utilization(192, timing.items) == 1.0
    assert timing.latency == 256 + 3072 + 12 + 10  # P + N + R + 10
    assert timing.interval == timing.first_interval == 3072 + 256 + 2


def test_every_reduction_index_sits_in_one_row_of_one_tile():
    graph = conv_graph((5, 7, 5), 9, (3, 2), (2, 1), (1, 0, 1, 1), seed=3)
    plan = plan_layer(graph, ArrayShape(4, 3))
    win, cin = plan.window, plan.cin
    seen = []
    for kt in range(plan.n_kt):
        for r in range(plan.shape.rows):
            k = kt * plan.shape.rows + r
            if k >= plan.k:
                assert all(plan.weight_words[r][ct * plan.n_kt + kt] == (0,) * 3
                           for ct in range(plan.n_ct))
                continue
            port, ci = plan.row_sources[r][plan.row_select[kt][r]]
            tap = plan.port_taps[kt][port]
            seen.append(((tap.kh * win.kw + tap.kw) * cin + ci))
            for ct in range(plan.n_ct):
                word = plan.weight_words[r][ct * plan.n_kt + kt]
                want = [int(plan.weight[o, k]) if o < plan.cout else 0
                        for o in range(ct * 3, ct * 3 + 3)]
                assert list(word) == want
    assert seen == list(range(plan.k))


@pytest.mark.skipif(not (MODELS / "resnet8_int8").is_dir(), reason="shared models missing")
@pytest.mark.parametrize("model", ["kws_dscnn_int8", "resnet8_int8"])
def test_real_model_layers_emulate_exactly(model):
    from hlsgen.frontend import import_model

    graph = import_model(MODELS / model / "model.onnx")
    data = np.load(MODELS / model / "data.npz")["x"][:2]
    from hlsgen.reference import quantize_input

    values = execute(graph, quantize_input(graph, data), return_all=True)
    checked = 0
    for layer in graph.layers:
        if not isinstance(layer, (ir.Conv, ir.Dense)):
            continue
        single = single_layer_graph(graph, layer.name)
        plan = plan_layer(single, ArrayShape(12, 16))
        x = values[layer.input].reshape(len(data), -1)
        assert np.array_equal(emulate(plan, x), values[layer.output]), layer.name
        checked += 1
    assert checked >= 9


# -- simulation ------------------------------------------------------------------------------
def _simulate_exactly(where: Path, graph: ir.Graph, shape: ArrayShape, frames: int = 3,
                      seed: int = 0):
    return simulate_exactly(where, graph, shape, write_sim_project, cycle_model, frames, seed)


def simulate_exactly(where: Path, graph: ir.Graph, shape: ArrayShape, write_project, timing_of,
                     frames: int = 3, seed: int = 0):
    """Write a baseline project (``write_project``: one layer or the network), simulate it and
    check it: 0 mismatches in both passes, latency and interval = ``timing_of(plan)``."""
    shutil.rmtree(where, ignore_errors=True)
    plan = write_project(where, graph, shape, random_input(graph, frames, seed))
    result = simulate(where, seed=seed)
    report = json.loads((where / "results" / "sim.json").read_text())
    timing = timing_of(plan)
    assert (result.mismatches, result.frames) == (0, frames)
    assert report["mismatches_random_gaps"] == 0  # random TVALID / TREADY gaps
    assert result.latency_cycles == timing.latency
    # the testbench reports the gap between the last two frames it streams
    assert result.interval_cycles == {1: None, 2: timing.first_interval}.get(frames,
                                                                             timing.interval)
    assert result.frame_latency_cycles == (timing.latency,) + (timing.steady_latency,) * (
        frames - 1)
    return plan, result


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 10**6), st.sampled_from(("conv", "conv", "dwconv", "dense")),
       st.integers(2, 4), st.integers(2, 4), st.booleans())
def test_random_layers_simulate_exactly(tmp_path, seed, kind, rows, cols, ties):
    graph = _layer_graph(seed, kind, 8, 6, ties)
    _simulate_exactly(tmp_path / f"case{seed}", graph, ArrayShape(rows, cols), seed=seed)


def test_one_beat_dense_layer_over_three_column_tiles(tmp_path):
    """A (1, 1, C) input: frame 1 loads right after frame 0's last buffer read, then its
    compute waits for frame 0's drain -- the first gap is shorter than the steady one."""
    graph = dense_graph((1, 1, 16), 5, seed=6, rounding=ir.Rounding.HALF_UP)
    plan, _ = _simulate_exactly(tmp_path / "dense", graph, ArrayShape(3, 2), frames=2)
    assert (plan.n_ct, plan.n_kt, plan.pixels) == (3, 6, 1)
    timing = cycle_model(plan)  # P = 1, N = 18, R = 3
    assert (timing.first_interval, timing.interval) == (1 + 18 + 2, 18 + 3 + 11)


def test_anchor_conv_simulates_with_the_predicted_latency(tmp_path):
    graph = conv_graph((16, 16, 16), 16, (3, 3), pads=(1, 1, 1, 1), seed=1)
    plan, result = _simulate_exactly(tmp_path / "anchor", graph, ArrayShape(12, 16), frames=2)
    assert result.latency_cycles == 3350


def test_a_layer_computing_longer_than_the_testbench_default_stall_limit(tmp_path):
    """36 k-tiles x 4 column tiles x 144 pixels: 20,736 cycles without a beat, more than the
    testbench's default 20,000 (the project's rtl/hlsgen_cost.json raises the limit)."""
    graph = conv_graph((12, 12, 8), 8, (3, 3), pads=(1, 1, 1, 1), seed=5)
    plan, _ = _simulate_exactly(tmp_path / "long", graph, ArrayShape(2, 2), frames=1)
    assert cycle_model(plan).items > 20_000


# -- synthesis -------------------------------------------------------------------------------
def test_yosys_maps_every_mac_to_one_dsp(tmp_path):
    from hlsgen.verify.estimate import run_yosys

    graph = conv_graph((4, 4, 2), 3, (2, 2), seed=2)
    shape = ArrayShape(3, 2)
    plan = plan_layer(graph, shape)
    assert plan.ports == 2  # k-tiles span two taps: two input-buffer copies
    rtl = tmp_path / "rtl"
    rtl.mkdir()
    for rel, text in emit_systolic(plan).items():
        (tmp_path / rel).write_text(text)
    report = run_yosys(rtl)
    names = module_names()
    assert report.modules[names["array"]].dsps == shape.pes
    lanes = report.modules[names["accum"]].dsps  # the requantization multiplies
    assert 1 <= lanes <= 2 * shape.cols
    assert report.total.dsps == shape.pes + lanes


def test_verilog_is_named_after_the_core_and_multiplies_only_in_pes_and_lanes():
    import re

    from hlsgen.emit.common import CoreName

    plan = plan_layer(conv_graph((5, 5, 3), 4, (3, 3), pads=(1, 1, 1, 1)), ArrayShape(4, 3))
    files = emit_systolic(plan, CoreName("acc1"))
    declared = {m for text in files.values() for m in re.findall(r"^module (\w+)", text, re.M)}
    assert declared == {"acc1_top", "acc1_sa_array", "acc1_sa_accum"}
    assert json.loads(files["rtl/hlsgen_cost.json"])["top"] == "acc1_top"
    products = {name: sum(line.split("//")[0].count(" * ") for line in text.splitlines())
                for name, text in files.items() if name.endswith(".v")}
    assert products == {"rtl/acc1_top.v": 0, "rtl/acc1_sa_array.v": plan.shape.pes,
                        "rtl/acc1_sa_accum.v": plan.shape.cols}


# -- errors ----------------------------------------------------------------------------------
def test_refuses_what_it_cannot_run():
    graph = random_graph(1, ("conv", "dense"))
    with pytest.raises(SystolicError, match="2 layers"):
        plan_layer(graph, ArrayShape(2, 2))
    pool = random_graph(2, ("maxpool",))
    with pytest.raises(UnsupportedModelError, match="Conv and Dense layers only"):
        plan_layer(pool, ArrayShape(2, 2))
    wide = random_graph(3, ("conv",), weight_bits=12)
    with pytest.raises(SystolicError, match="outside int8"):
        plan_layer(wide, ArrayShape(2, 2))
    with pytest.raises(InputError, match="ROWSxCOLS"):
        ArrayShape.parse("12by16")
    with pytest.raises(SystolicError, match="1..64"):
        ArrayShape(0, 4)
    assert ArrayShape.parse(" 12x16 ") == ArrayShape(12, 16)
