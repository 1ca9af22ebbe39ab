"""Regression: a folded design that is silent for more than 20,000 cycles simulates.

A multiplexed layer computes ``channels x planes`` cycles per output pixel and the input pacer
holds the next frame for an interval, so a correct design can make no handshake for far longer
than the testbench's default stall limit (the MobileNetV1-0.25 VWW network: 221,184 cycles per
frame; ``make sim`` failed with "no handshake for 20000 cycles ... the design is stuck").
``rtl/hlsgen_cost.json`` names the limit such a design needs, as the systolic top does.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

from factory import random_graph, random_input
from hlsgen.design import DatapathKind, KindChoice, apply_design
from hlsgen.emit.cost_file import STALL_CYCLES, stall_cycles
from hlsgen.emit.rtl import emit_rtl
from hlsgen.hw import Target, plan_hardware
from hlsgen.systolic.layers import conv_graph
from hlsgen.verify.sim import simulate, write_sim_project


def test_the_limit_covers_an_interval_and_a_latency():
    assert stall_cycles(SimpleNamespace(latency_cycles=300, interval_cycles=100)) == STALL_CYCLES
    assert stall_cycles(SimpleNamespace(latency_cycles=304_903, interval_cycles=221_184)) \
        == 609_806
    assert stall_cycles(SimpleNamespace(latency_cycles=9_000, interval_cycles=12_000)) == 24_000


def test_small_designs_keep_the_default_and_their_cost_file():
    graph = random_graph(3, ("conv", "dense"))
    design = apply_design(graph, "exact")
    assert "stall_cycles" not in json.loads(emit_rtl(design)["rtl/hlsgen_cost.json"])


def test_a_multiplexed_layer_silent_for_longer_than_the_default_simulates(tmp_path):
    graph = conv_graph((12, 12, 6), 24, (3, 3), pads=(1, 1, 1, 1), seed=2)
    kinds = {"conv": KindChoice(DatapathKind.MULTIPLEXED)}
    design = apply_design(graph, "exact", kinds=kinds)
    schedule = plan_hardware(design, Target()).schedule
    assert schedule.interval_cycles > STALL_CYCLES  # frames are paced further apart
    cost = json.loads(emit_rtl(design)["rtl/hlsgen_cost.json"])
    assert cost["stall_cycles"] == 2 * max(schedule.latency_cycles, schedule.interval_cycles)
    project = write_sim_project(tmp_path / "long", design, random_input(graph, 2, 0))
    result = simulate(project)
    assert (result.mismatches, result.frames) == (0, 2)
    assert result.latency_cycles == schedule.latency_cycles
    assert result.interval_cycles == schedule.interval_cycles
