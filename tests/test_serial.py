"""The serial datapath kind: the same exact arithmetic D bits per cycle.

Random networks mixing parallel and serial layers (random digit sizes and pipelining) simulate
bit-exactly in Verilator with the predicted latency and interval; the C simulation of the same
designs matches the reference; the kind's resource model follows its structure; design files
name the kind and digit size, and bad ones are refused with one line.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from factory import random_graph, random_input
from hlsgen.design import (DIGITS, DatapathKind, KindChoice, apply_design, resolve_kinds,
                           weight_layers)
from hlsgen.emit.rtl import PRIMITIVES, emit_rtl, module_name
from hlsgen.errors import CostModelError, InputError, UnsupportedModelError
from hlsgen.hw import Target, estimate_design, plan_hardware
from hlsgen.hw import serial
from hlsgen.hw.module import Front
from hlsgen.verify.sim import simulate, write_sim_project

SERIAL_LAYERS = ("conv", "dwconv", "dense", "maxpool", "avgpool", "add")


def _serial(graph, digit: int) -> dict:
    return {layer.name: KindChoice(DatapathKind.SERIAL, digit) for layer in weight_layers(graph)}


def _simulate_exactly(where, design, options=None, frames: int = 3, seed: int = 0):
    plan = plan_hardware(design, options)
    project = write_sim_project(where, design, random_input(design.graph, frames, seed), options)
    result = simulate(project)
    assert (result.mismatches, result.frames) == (0, frames)
    assert result.latency_cycles == plan.schedule.latency_cycles
    assert result.interval_cycles == plan.schedule.interval_cycles
    assert set(result.frame_latency_cycles) == {plan.schedule.latency_cycles}
    return plan


# -- simulation ----------------------------------------------------------------------------
@settings(max_examples=5, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 100_000),
       st.lists(st.sampled_from(SERIAL_LAYERS), min_size=1, max_size=4).map(tuple),
       st.lists(st.sampled_from((0,) + DIGITS), min_size=4, max_size=4),
       st.sampled_from((None, 1, 2)))
def test_random_mixed_networks_simulate_exactly(tmp_path, seed, layers, digits, pipeline):
    graph = random_graph(seed, layers, signed=None, rounding="mixed", max_channels=3)
    weights = weight_layers(graph)
    assume(weights)
    kinds = {layer.name: KindChoice(DatapathKind.SERIAL, d) if d else KindChoice()
             for layer, d in zip(weights, digits)}
    design = apply_design(graph, "exact", kinds=kinds)
    options = Target(pipeline=pipeline)
    try:
        plan_hardware(design, options)
    except (CostModelError, UnsupportedModelError):
        assume(False)
    out = tmp_path / f"case{seed}"
    shutil.rmtree(out, ignore_errors=True)
    _simulate_exactly(out, design, options, seed=seed)


def test_pointwise_and_dense_layers_at_one_bit_per_cycle(tmp_path):
    graph = random_graph(12, ("conv", "dense"), signed=False, max_channels=4, weight_bits=12)
    design = apply_design(graph, "po2", kinds=_serial(graph, 1))
    plan = _simulate_exactly(tmp_path / "p", design)
    conv, dense = plan.modules
    assert conv.front is Front.FETCH  # a folded layer fetches its window a tap per cycle
    assert dense.front is Front.VECTOR
    digits = serial.word_digits(conv.datapath, 1)
    assert digits == serial.word_bits(conv.datapath) > 8
    # one output pixel per word: the layer needs `digits` cycles per output pixel
    assert plan.schedule.interval_cycles >= conv.window.ho * conv.window.wo * digits


# -- structure and resources -----------------------------------------------------------------
def test_serial_verilog_multiplies_nothing_and_names_its_digit():
    graph = random_graph(9, ("conv", "dwconv", "dense"), max_channels=4)
    design = apply_design(graph, "exact", kinds=_serial(graph, 2))
    files = emit_rtl(design)
    for m in plan_hardware(design).modules:
        text = files[f"rtl/{module_name(m)}.v"]
        assert "digit-serial, 2 bit(s) per cycle" in text
    for name, text in files.items():
        if name.endswith(".v") and name.split("/")[-1] not in PRIMITIVES:
            code = "\n".join(line.split("//")[0] for line in text.splitlines())
            assert "*" not in code, f"{name} contains '*'"


def test_serial_modules_carry_the_core_name():
    from hlsgen.emit.common import CoreName

    graph = random_graph(9, ("conv", "dense"), max_channels=3)
    files = emit_rtl(apply_design(graph, "exact", kinds=_serial(graph, 4)), core=CoreName("acc1"))
    declared = [m for text in files.values() for m in re.findall(r"^module (\w+)", text, re.M)]
    instanced = [m for text in files.values()
                 for m in re.findall(r"^    (\w+) #\(", text, re.M)]
    assert declared and all(name.startswith("acc1_") for name in declared + instanced)
    assert set(instanced) <= set(declared)


def test_narrower_digits_cost_fewer_luts_and_more_cycles():
    graph = random_graph(3, ("conv", "conv", "dense"), max_channels=4, max_hw=6)
    base = apply_design(graph, "exact")
    reports = {}
    for digit in (0, 1, 4, 16):
        impls = {name: replace(impl, kind=DatapathKind.SERIAL if digit else
                               DatapathKind.PARALLEL, digit=digit)
                 for name, impl in base.impls.items()}
        reports[digit] = estimate_design(replace(base, impls=impls))
    # (digits as wide as the values cost more than the parallel adders: the search sees it)
    luts = [reports[d].luts for d in (1, 4, 0)]
    interval = [reports[d].interval_cycles for d in (1, 4, 16, 0)]
    assert luts == sorted(luts) and len(set(luts)) == 3
    assert interval == sorted(interval, reverse=True) and len(set(interval)) == 4


def test_word_covers_every_value_a_requantization_reads():
    graph = random_graph(5, ("conv",), max_channels=3, weight_bits=16)
    design = apply_design(graph, "exact", kinds=_serial(graph, 4))
    (m,) = plan_hardware(design).modules
    dp = m.datapath
    widths = [dp.nodes[node.operands[0].node].width for node in dp.nodes
              if node.op.value == "clamp"]
    assert serial.word_bits(dp) == max(widths)
    assert serial.word_digits(dp, 4) == -(-max(widths) // 4)


# -- the C simulation ----------------------------------------------------------------------------
def test_serial_design_csim_matches_reference(tmp_path):
    from test_emit_hls import check_design

    graph = random_graph(5, ("conv", "add", "dense"), max_channels=3)
    check_design(apply_design(graph, "exact", kinds=_serial(graph, 4)), tmp_path)


# -- design files ------------------------------------------------------------------------------
def test_kind_choices_round_trip_and_reject_bad_ones():
    graph = random_graph(2, ("conv", "dense"))
    conv, dense = (layer.name for layer in weight_layers(graph))
    kinds = resolve_kinds(graph, {conv: "serial:4", dense: {"kind": "serial", "digit": 1}})
    assert kinds[conv] == KindChoice(DatapathKind.SERIAL, 4)
    assert json.loads(json.dumps(kinds[dense].to_json())) == {"kind": "serial", "digit": 1}
    assert KindChoice.parse(dense, kinds[dense].to_json()) == kinds[dense]
    assert resolve_kinds(graph, {})[conv] == KindChoice()
    for bad, message in [("serial", "digit size"), ("serial:3", "digit size"),
                         ({"kind": "serial", "digit": True}, "digit size"),
                         ("parallel:2", "no digit"), ("systolic", "not known"),
                         ({"kind": ["x"]}, "not known")]:
        with pytest.raises(InputError, match=message) as info:
            resolve_kinds(graph, {conv: bad})
        assert "\n" not in str(info.value)


def test_generate_reads_serial_kinds_from_a_design_file(tmp_path):
    from hlsgen.cli import main
    from hlsgen.frontend import import_model
    from test_generate import tiny_model

    model, data = tiny_model(tmp_path / "model")
    with np.load(data) as samples:
        graph = import_model(model, calibration=samples["x"])
    first = weight_layers(graph)[0].name
    design = tmp_path / "design.json"
    design.write_text(json.dumps({"methods": {}, "kinds": {first: "serial:8"}}))
    assert main(["generate", str(model), "-o", str(tmp_path / "out"), "--design", str(design),
                 "--calibration", str(data), "--allow-mismatch"]) == 0
    texts = [p.read_text() for p in (tmp_path / "out" / "rtl").glob(f"l*_{first}.v")]
    assert len(texts) == 1 and "digit-serial, 8 bit(s) per cycle" in texts[0]
