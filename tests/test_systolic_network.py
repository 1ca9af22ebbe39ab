"""The whole-network systolic baseline (hlsgen.systolic.network): every layer of an integer
network, one after the other, on one shared array and one set of lanes.

The numpy emulation of the plan equals the reference executor on every layer of many random
networks (no simulator); random small networks then simulate in Verilator with hlsgen's own
testbench (back to back and with random gaps / back-pressure) with 0 mismatches and exactly
the cycle model's latency and interval.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factory import random_graph, random_input
from test_systolic import simulate_exactly
from hlsgen.reference import execute
from hlsgen.systolic import ArrayShape, SystolicError
from hlsgen.systolic.netemu import emulate_network
from hlsgen.systolic.nettiming import network_cycle_model
from hlsgen.systolic.network import Op, plan_network
from hlsgen.systolic.project import write_network_project

MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"

MIDDLE = ("conv", "dwconv", "maxpool", "add", "avgpool")


def _network(seed: int, middle: tuple[str, ...], last: str, channels: int = 9, hw: int = 6):
    # the first layer alone reads the input buffer: start with a conv
    return random_graph(seed, ("conv", *middle, last), signed=None, rounding="mixed",
                        max_channels=channels, max_hw=hw)


# -- the plan, through the emulator ----------------------------------------------------------
@settings(max_examples=120, deadline=None)
@given(st.integers(0, 10**6), st.lists(st.sampled_from(MIDDLE), max_size=4),
       st.sampled_from(("conv", "dense", "avgpool", "maxpool", "add")),
       st.integers(1, 6), st.integers(1, 6))
def test_emulated_network_equals_the_reference_on_every_layer(seed, middle, last, rows, cols):
    graph = _network(seed, tuple(middle), last)
    plan = plan_network(graph, ArrayShape(rows, cols))
    x = random_input(graph, 3, seed)
    ours, ref = emulate_network(plan, x, return_all=True), execute(graph, x, return_all=True)
    for step in plan.steps:
        assert np.array_equal(ours[step.output.name], ref[step.output.name].reshape(3, -1)), \
            step.name


def test_residual_operand_keeps_its_memory_until_its_add():
    graph = _network(4, ("add", "maxpool"), "conv")
    plan = plan_network(graph, ArrayShape(4, 4))
    steps = {s.name: s for s in plan.steps}
    add = steps["add1"]
    span = add.input.shape[0] * add.input.shape[1]
    a, b = add.in_base, add.in_base + add.port_taps[1][0].offset
    res = steps["res1"]  # written while operand a (conv0's output) is still live
    assert res.in_base == a and abs(res.out_base - a) >= span and abs(b - a) >= span
    assert abs(add.out_base - a) >= span and abs(add.out_base - b) >= span
    assert [s.op for s in plan.steps] == [Op.MAC, Op.MAC, Op.SCALE, Op.MAX, Op.MAC]


def test_refuses_an_input_read_by_two_layers():
    graph = random_graph(3, ("add", "conv"))  # the residual branch reads the input
    with pytest.raises(SystolicError, match="only the first layer"):
        plan_network(graph, ArrayShape(2, 2))


# -- simulation ------------------------------------------------------------------------------
def _simulate_exactly(where: Path, graph, shape: ArrayShape, frames: int = 3, seed: int = 0):
    return simulate_exactly(where, graph, shape, write_network_project, network_cycle_model,
                            frames, seed)


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 10**6), st.lists(st.sampled_from(MIDDLE), min_size=1, max_size=3),
       st.sampled_from(("conv", "dense", "avgpool")), st.integers(2, 4), st.integers(2, 4))
def test_random_networks_simulate_exactly(tmp_path, seed, middle, last, rows, cols):
    graph = _network(seed, tuple(middle), last, channels=6, hw=5)
    _simulate_exactly(tmp_path / f"net{seed}", graph, ArrayShape(rows, cols), seed=seed)


def test_every_lane_operation_in_one_network(tmp_path):
    """Conv, MaxPool, a residual Add of operands of different types (uint8 + int8) and a
    Dense layer: MAC, MAX and SCALE steps with one output pixel (forwarded sums)."""
    graph = _network(2, ("maxpool", "add"), "dense", channels=6, hw=5)
    plan, _ = _simulate_exactly(tmp_path / "ops", graph, ArrayShape(3, 2))
    add = next(s for s in plan.steps if s.op is Op.SCALE)
    assert add.input.dtype != add.input_b.dtype and add.pixels == 1


# -- depthwise, channel-parallel -------------------------------------------------------------
def _depthwise_network(seed: int):
    """conv -> depthwise conv -> depthwise conv -> conv (both depthwise: groups = C)."""
    graph = random_graph(seed, ("conv", "dwconv", "dwconv", "conv"), signed=None,
                         rounding="mixed", max_channels=6, max_hw=5)
    return graph


def test_depthwise_runs_channel_parallel():
    graph = _depthwise_network(9)
    shape = ArrayShape(4, 4)
    fast, slow = plan_network(graph, shape), plan_network(graph, shape, depthwise=False)
    dw = [s for s in fast.steps if s.op is Op.DW]
    assert len(dw) == 2
    for step in dw:
        taps, channels = step.window.taps, step.output.shape[2]
        assert (step.n_kt, step.n_ct) == (-(-taps // 4), -(-channels // 4))
        block = next(s for s in slow.steps if s.name == step.name)
        assert block.op is Op.MAC and block.items > step.items
    x = random_input(graph, 3, 9)
    assert np.array_equal(emulate_network(fast, x), execute(graph, x))


def test_kws_depthwise_layers_run_at_the_array_width():
    """3x3 depthwise over 64 channels on 25x5, 12x16 array: 9 taps on 9 rows, 4 column tiles:
    4 x 1 x 125 = 500 items instead of 24,000 block-diagonally."""
    from hlsgen.frontend import import_model

    model = MODELS / "kws_dscnn_int8" / "model.onnx"
    graph = import_model(model)
    plan = plan_network(graph, ArrayShape(12, 16))
    dw = [s for s in plan.steps if s.op is Op.DW]
    assert [s.items for s in dw] == [500] * 4 and plan.ports == 12
    assert [s.macs for s in dw] == [72_000] * 4


@pytest.mark.parametrize("seed", [9])
def test_depthwise_network_simulates_exactly(tmp_path, seed):
    graph = _depthwise_network(seed)
    plan, _ = _simulate_exactly(tmp_path / "dw", graph, ArrayShape(2, 4), seed=seed)
    assert sum(s.op is Op.DW for s in plan.steps) == 2


def test_generate_writes_the_systolic_project(tmp_path):
    from hlsgen.cli import main
    from hlsgen.frontend import import_model

    model = MODELS / "kws_dscnn_int8" / "model.onnx"
    out = tmp_path / "kws_sa"
    assert main(["generate", str(model), "-o", str(out), "--arch", "systolic", "--array",
                 "11x16", "--count", "2"]) == 0
    cost = json.loads((out / "rtl" / "hlsgen_cost.json").read_text())
    plan = plan_network(import_model(model), ArrayShape(11, 16))
    assert (cost["array"], cost["latency_cycles"]) == ("11x16", network_cycle_model(plan).latency)
    assert len((out / "tb" / "expected.txt").read_text().splitlines()) == 2
    assert (out / "tb" / "run_sim.py").is_file()
    # per-layer MAC utilization in the README and results/
    util = json.loads((out / "results" / "utilization.json").read_text())
    assert [r["layer"] for r in util["layers"]] == [s.name for s in plan.steps]
    assert util["layers"][0]["utilization"] == round(
        plan.steps[0].macs / (176 * util["layers"][0]["cycles"]), 4)
    assert "| conv0 | mac |" in (out / "README.md").read_text()


# -- synthesis -------------------------------------------------------------------------------
def test_yosys_maps_macs_to_dsps_and_weights_to_block_ram(tmp_path):
    """A conv -> depthwise -> maxpool -> dense network on 3x2: every PE one DSP48E1, each
    lane's requantization multiply one more (its 23-bit multiplier's bits past 17 by
    shift-add), each row's weight ROM a RAMB."""
    from hlsgen.systolic import emit_network, module_names
    from hlsgen.verify.estimate import run_yosys

    graph = _network(8, ("dwconv", "maxpool"), "dense", channels=6, hw=5)
    shape = ArrayShape(3, 2)
    plan = plan_network(graph, shape)
    rtl = tmp_path / "rtl"
    rtl.mkdir()
    for rel, text in emit_network(plan).items():
        (tmp_path / rel).write_text(text)
    report = run_yosys(rtl)
    names = module_names()
    array = report.modules[names["array"]]
    assert array.dsps == shape.pes
    assert array.brams >= shape.rows / 2  # one ROM per row (RAMB18 = half a RAMB36)
    assert plan.mult_width > 17  # the multiplier's high bits by shift-add: one DSP per lane
    assert report.modules[names["accum"]].dsps == shape.cols
    assert report.total.dsps == shape.pes + report.modules[names["accum"]].dsps


@pytest.mark.parametrize("model", ["mnist8", "kws_dscnn_int8", "resnet8_int8"])
def test_shared_models_emulate_exactly_and_time_as_documented(model):
    """The whole network on 12x16 (the xc7z020 shape) equals the reference on real frames;
    its latency is docs/systolic.md's P + 2 + sum(N_l + R + 9)."""
    from hlsgen.frontend import import_model
    from hlsgen.reference import quantize_input

    folder = MODELS / model
    args = {"data_free_input_range": (0.0, 255.0)} if model == "mnist8" else {}
    graph = import_model(folder / "model.onnx", **args)
    x = quantize_input(graph, np.load(folder / "data.npz")["x"][:2])
    plan = plan_network(graph, ArrayShape(12, 16))
    assert np.array_equal(emulate_network(plan, x), execute(graph, x))
    h, w, _ = plan.graph_input.shape
    timing = network_cycle_model(plan)
    assert timing.latency == h * w + 2 + sum(s.items + 12 + 9 for s in plan.steps)
    assert timing.interval == max(h * w + plan.steps[0].items + 3, timing.latency - h * w + 1)
