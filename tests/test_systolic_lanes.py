"""Lanes that multiply over two cycles of a beat (``split_lanes``): one Booth tree of half the
digits serves the low and the high half of the requantization multiplier."""

from __future__ import annotations

import functools
import json

from factory import random_graph
from onnx_builders import MODELS_DIR
from test_systolic import simulate_exactly
from test_systolic_shiftadd import _code_without_comments
from hlsgen.systolic import ArrayShape, emit_network, module_names
from hlsgen.systolic.nettiming import network_cycle_model
from hlsgen.systolic.network import Vmode, plan_network
from hlsgen.systolic.project import write_network_project
from hlsgen.systolic.shiftadd import split_digits


def _network(seed: int):
    return random_graph(seed, ("conv", "dwconv", "add", "avgpool", "dense"), signed=None,
                        rounding="mixed", max_channels=6, max_hw=5)


def test_every_step_that_multiplies_takes_two_cycles_a_beat():
    graph = _network(5)
    whole = plan_network(graph, ArrayShape(4, 3), pe="shiftadd", copy_bits=0)
    split = plan_network(graph, ArrayShape(4, 3), pe="shiftadd", copy_bits=0,
                         split_lanes=True)
    assert split.lane_split and not whole.lane_split
    for step, b_whole, b_split in zip(split.steps, whole.step_beats, split.step_beats):
        assert b_split == (max(b_whole, 2) if step.vmode is Vmode.MULT else b_whole)
    assert any(b == 1 for b in whole.step_beats)  # a step the rule changes or keeps at 1
    assert not plan_network(graph, ArrayShape(4, 3), split_lanes=True).lane_split  # dsp
    # half the digits of the 24-bit multipliers of int8 requantization (13 -> 7)
    assert split_digits(24) == 7 and split_digits(1) == 1 and split_digits(2) == 1


def test_split_lanes_have_one_half_size_tree_and_no_multiplier():
    plan = plan_network(_network(5), ArrayShape(4, 3), pe="shiftadd", split_lanes=True)
    code = _code_without_comments(emit_network(plan)[f"rtl/{module_names()['accum']}.v"])
    assert "*" not in code
    assert "function signed" in code and "booth_half(" in code and " booth(" not in code


def test_split_lanes_simulate_exactly(tmp_path):
    for seed, shape in ((5, ArrayShape(4, 3)), (11, ArrayShape(3, 2))):
        write = functools.partial(write_network_project, pe="shiftadd", copy_bits=0,
                                  split_lanes=True)
        plan, _ = simulate_exactly(tmp_path / f"s{seed}", _network(seed), shape, write,
                                   network_cycle_model, 3, 0)
        assert plan.lane_split


def test_generate_split_lanes_option(tmp_path, capsys):
    from hlsgen.cli import main
    from hlsgen.frontend import import_model

    model = MODELS_DIR / "resnet8_int8" / "model.onnx"
    out = tmp_path / "split"
    assert main(["generate", str(model), "-o", str(out), "--arch", "systolic", "--pe",
                 "shiftadd", "--array", "16x8", "--count", "1", "--split-lanes"]) == 0
    plan = plan_network(import_model(model), ArrayShape(16, 8), pe="shiftadd",
                        split_lanes=True)
    cost = json.loads((out / "rtl" / "hlsgen_cost.json").read_text())
    assert cost["latency_cycles"] == network_cycle_model(plan).latency
    whole = plan_network(import_model(model), ArrayShape(16, 8), pe="shiftadd")
    assert network_cycle_model(plan).latency > network_cycle_model(whole).latency  # AvgPool
    capsys.readouterr()
    assert main(["generate", str(model), "-o", str(tmp_path / "bad"), "--split-lanes"]) == 2
    err = capsys.readouterr().err.strip()
    assert "apply to --arch systolic --pe shiftadd only" in err and len(err.splitlines()) == 1

