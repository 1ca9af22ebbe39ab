"""The multiplexed datapath kind: one adder tree shared by a layer's output channels, the
weights' signed-digit planes read from memory.

Random networks mixing every kind simulate bit-exactly in Verilator with the predicted latency
and interval; the engine's digit planes rebuild the weights and its Booth digits the scales
exactly; cycles per pixel are channels x planes, so coarser weights are faster; the C
simulation matches.  Adds and global pools of folded designs run channel-serial (exact, only
where the interval allows it).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from factory import random_graph, random_input
from hlsgen.design import DatapathKind, KindChoice, apply_design, weight_layers
from hlsgen.emit.rtl import PRIMITIVES, emit_rtl, module_name
from hlsgen.errors import CostModelError, InputError, UnsupportedModelError
from hlsgen.hw import Target, estimate_design, multiplexed, plan_hardware
from hlsgen.hw import plan as plan_module
from hlsgen.hw.resources import estimate_plan
from hlsgen.systolic.layers import conv_graph
from hlsgen.verify.sim import simulate, write_sim_project

MULTIPLEXED = KindChoice(DatapathKind.MULTIPLEXED)
CHOICES = (KindChoice(), KindChoice(DatapathKind.SERIAL, 4), MULTIPLEXED,
           KindChoice(DatapathKind.MULTIPLEXED, chunks=2),
           KindChoice(DatapathKind.MULTIPLEXED, lanes=2))


def _all_multiplexed(graph) -> dict:
    return {layer.name: MULTIPLEXED for layer in weight_layers(graph)}


@settings(max_examples=5, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 100_000),
       st.lists(st.sampled_from(("conv", "dwconv", "dense", "maxpool", "avgpool", "add")),
                min_size=1, max_size=4).map(tuple),
       st.lists(st.integers(0, len(CHOICES) - 1), min_size=4, max_size=4),
       st.sampled_from((None, 1, 2)))
def test_random_networks_with_every_kind_simulate_exactly(tmp_path, seed, layers, picks,
                                                           pipeline):
    graph = random_graph(seed, layers, signed=None, rounding="mixed", max_channels=3)
    weights = weight_layers(graph)
    assume(weights)
    kinds = {layer.name: CHOICES[k] for layer, k in zip(weights, picks)}
    design = apply_design(graph, "exact", kinds=kinds)
    options = Target(pipeline=pipeline)
    try:
        plan = plan_hardware(design, options)
    except (CostModelError, UnsupportedModelError):
        assume(False)
    out = tmp_path / f"case{seed}"
    shutil.rmtree(out, ignore_errors=True)
    project = write_sim_project(out, design, random_input(graph, 3, seed), options)
    result = simulate(project)
    assert (result.mismatches, result.frames) == (0, 3)
    assert result.latency_cycles == plan.schedule.latency_cycles
    assert result.interval_cycles == plan.schedule.interval_cycles


def test_digit_planes_rebuild_the_weights_and_booth_digits_the_scales():
    graph = random_graph(8, ("conv", "dense"), max_channels=4, weight_bits=10)
    design = apply_design(graph, "exact", kinds=_all_multiplexed(graph))
    for m in plan_hardware(design).modules:
        e = multiplexed.engine(m)
        rq = m.layer.requant
        weights = np.where(e.negative, -1, 1) * e.nonzero  # [Cout, B, N], MSB first
        scale = 2 ** np.arange(e.planes - 1, -1, -1)
        rebuilt = np.einsum("obn,b->on", weights.astype(object), scale.astype(object))
        matrix = multiplexed._dense_matrix(m.layer, m.inputs[0])
        assert rebuilt.tolist() == matrix.tolist()
        # canonical: no two adjacent non-zero digits
        assert not np.any(e.nonzero[:, 1:, :] & e.nonzero[:, :-1, :])
        powers = [4 ** (e.digits - 1 - j) for j in range(e.digits)]
        for o in range(e.channels):
            factor = int(rq.multiplier[o]) << (e.shift - int(rq.shift[o]))
            assert e.scales[o] == factor
            assert sum(int(d) * w for d, w in zip(e.booth[o], powers)) == factor
        assert set(np.unique(e.booth)) <= {-2, -1, 0, 1, 2}
        # a rescaler is free again before the next channel can finish
        assert e.rescalers * e.planes >= e.digits + 1


def test_grouped_and_depthwise_layers_read_their_groups_inputs(tmp_path):
    # seed 6: a 4-channel depthwise conv and a conv with 2 groups of 2 input channels
    graph = random_graph(6, ("dwconv", "conv", "dense"), max_channels=4, signed=None,
                         rounding="mixed")
    design = apply_design(graph, "exact", kinds=_all_multiplexed(graph))
    plan = plan_hardware(design)
    engines = [multiplexed.engine(m) for m in plan.modules if m.layer.kind.value == "conv"]
    assert [(e.groups, e.group_inputs) for e in engines] == [(4, 1), (2, 2)]
    project = write_sim_project(tmp_path / "p", design, random_input(graph, 3, 6))
    result = simulate(project)
    assert (result.mismatches, result.frames) == (0, 3)
    assert result.latency_cycles == plan.schedule.latency_cycles


def test_coarser_weights_take_fewer_cycles():
    graph = random_graph(3, ("conv", "dense"), max_channels=4)
    exact = plan_hardware(apply_design(graph, "exact", kinds=_all_multiplexed(graph)))
    coarse = plan_hardware(apply_design(graph, "lcc:sqnr=13,fold=1",
                                        kinds=_all_multiplexed(graph)))
    for a, b in zip(exact.modules, coarse.modules):
        ea, eb = multiplexed.engine(a), multiplexed.engine(b)
        assert ea.steps == ea.channels * ea.planes
        assert eb.planes < ea.planes
    assert coarse.schedule.latency_cycles < exact.schedule.latency_cycles


def test_verilog_multiplies_nothing_and_costs_less_than_parallel():
    graph = random_graph(9, ("conv", "conv", "dense"), max_channels=4, max_hw=6)
    design = apply_design(graph, "exact", kinds=_all_multiplexed(graph))
    files = emit_rtl(design)
    for m in plan_hardware(design).modules:
        assert "datapath: multiplexed" in files[f"rtl/{module_name(m)}.v"]
        # a folded layer's output slice is distributed RAM, a parallel one's registers
        assert "hlsgen_skid_ram #(" in files[f"rtl/{module_name(m)}.v"]
    assert "hlsgen_skid #(" in emit_rtl(apply_design(graph, "exact"))[f"rtl/{module_name(m)}.v"]
    for name, text in files.items():
        if name.endswith(".v") and name.split("/")[-1] not in PRIMITIVES:
            code = "\n".join(line.split("//")[0] for line in text.splitlines())
            assert "*" not in code, f"{name} contains '*'"
    parallel = estimate_design(apply_design(graph, "exact"))
    folded = estimate_design(design)
    assert folded.luts < parallel.luts
    assert folded.latency_cycles > parallel.latency_cycles


def test_multiplexed_design_csim_matches_reference(tmp_path):
    from test_emit_hls import check_design

    graph = random_graph(5, ("conv", "add", "dense"), max_channels=3)
    check_design(apply_design(graph, "exact", kinds=_all_multiplexed(graph)), tmp_path)


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 100_000), st.sampled_from((1, 3, 6)), st.sampled_from((None, 1)))
def test_channel_serial_adds_and_pools_simulate_exactly(tmp_path, seed, channels, pipeline):
    # per-tensor scales (as ONNX has them): a folded design runs its Add and global pool
    # one channel per cycle through a one-channel datapath
    graph = random_graph(seed, ("conv", "add", "avgpool", "dense"), signed=None,
                         rounding="mixed", max_channels=channels, shared_scales=True)
    design = apply_design(graph, "exact", kinds=_all_multiplexed(graph))
    options = Target(pipeline=pipeline)
    plan = plan_hardware(design, options)
    serial_layers = [m.layer.kind.value for m in plan.modules
                     if m.kind is DatapathKind.MULTIPLEXED and m.front.value in ("pair", "sum")]
    assert "add" in serial_layers
    out = tmp_path / f"case{seed}"
    project = write_sim_project(out, design, random_input(graph, 3, seed), options)
    result = simulate(project)
    assert (result.mismatches, result.frames) == (0, 3)
    assert result.latency_cycles == plan.schedule.latency_cycles
    assert result.interval_cycles == plan.schedule.interval_cycles


def test_channel_serial_only_where_it_costs_no_throughput(monkeypatch):
    graph = random_graph(11, ("conv", "add", "avgpool", "dense"), max_channels=4,
                         shared_scales=True)
    parallel = plan_hardware(apply_design(graph, "exact"))
    assert all(m.kind is DatapathKind.PARALLEL for m in parallel.modules)  # nothing folded
    folded = apply_design(graph, "exact", kinds=_all_multiplexed(graph))
    plan = plan_hardware(folded)
    add = next(m for m in plan.modules if m.layer.kind.value == "add")
    assert add.kind is DatapathKind.MULTIPLEXED
    # the same design with the Add kept parallel: more LUTs, the same interval
    monkeypatch.setattr(plan_module, "_channel_serial", lambda modules, graph: modules)
    unfolded = plan_hardware(folded)
    assert unfolded.schedule.interval_cycles == plan.schedule.interval_cycles
    assert estimate_plan(plan).layer(add.name).luts < estimate_plan(unfolded).layer(add.name).luts
    monkeypatch.undo()
    # constants that differ per channel keep an Add parallel
    mixed = random_graph(11, ("conv", "add", "avgpool", "dense"), max_channels=4)
    add = next(m for m in plan_hardware(apply_design(mixed, "exact",
                                                     kinds=_all_multiplexed(mixed))).modules
               if m.layer.kind.value == "add")
    assert len(set(add.layer.mult_a.tolist())) > 1
    assert add.kind is DatapathKind.PARALLEL


def test_a_chunked_tree_is_smaller_slower_and_exact(tmp_path):
    # a 3x3 conv over 8 channels: 72 inputs a channel, 18 per chunk
    graph = conv_graph((5, 5, 8), 6, (3, 3), pads=(1, 1, 1, 1), seed=3)
    plans = {}
    for k in (1, 4):
        kinds = {"conv": KindChoice(DatapathKind.MULTIPLEXED, chunks=k)}
        design = apply_design(graph, "exact", kinds=kinds)
        plans[k] = (design, plan_hardware(design))
    (design, plan), (whole_design, whole) = plans[4], plans[1]
    e, e1 = multiplexed.engine(plan.modules[0]), multiplexed.engine(whole.modules[0])
    assert (e.inputs, e.chunks, e.chunk_inputs) == (72, 4, 18)
    assert e.steps == 4 * e1.steps
    assert estimate_design(design).luts < estimate_design(whole_design).luts
    assert plan.schedule.interval_cycles > whole.schedule.interval_cycles
    result = simulate(write_sim_project(tmp_path / "p", design, random_input(graph, 2, 3)))
    assert (result.mismatches, result.frames) == (0, 2)
    assert result.latency_cycles == plan.schedule.latency_cycles
    assert result.interval_cycles == plan.schedule.interval_cycles


def test_chunks_are_spelled_like_digit_sizes():
    choice = KindChoice.parse("conv0", "multiplexed:4")
    assert (choice.kind, choice.chunks, choice.label) == (DatapathKind.MULTIPLEXED, 4,
                                                          "multiplexed:4")
    assert KindChoice.parse("conv0", choice.to_json()) == choice
    assert KindChoice.parse("conv0", "multiplexed").to_json() == "multiplexed"
    for bad in ("multiplexed:3", {"kind": "multiplexed", "chunks": 16}):
        with pytest.raises(InputError, match="chunks"):
            KindChoice.parse("conv0", bad)


def test_lanes_are_spelled_with_an_x():
    choice = KindChoice.parse("conv0", "multiplexed:x4")
    assert (choice.kind, choice.lanes, choice.label) == (DatapathKind.MULTIPLEXED, 4,
                                                         "multiplexed:x4")
    assert choice.to_json() == {"kind": "multiplexed", "lanes": 4}
    assert KindChoice.parse("conv0", choice.to_json()) == choice
    for bad in ("multiplexed:x", "multiplexed:x3", {"kind": "multiplexed", "lanes": 32},
                {"kind": "multiplexed", "lanes": 2, "chunks": 2}):
        with pytest.raises(InputError, match="lanes"):
            KindChoice.parse("conv0", bad)
    with pytest.raises(InputError, match="no digit size"):
        KindChoice.parse("conv0", {"kind": "parallel", "lanes": 2})


def test_lanes_are_faster_larger_and_exact(tmp_path):
    # a 3x3 conv 8 -> 8 channels: 4 lanes of 2 channels each, a quarter of the steps
    graph = conv_graph((5, 5, 8), 8, (3, 3), pads=(1, 1, 1, 1), seed=4)
    plans = {}
    for p in (1, 4):
        design = apply_design(graph, "exact",
                              kinds={"conv": KindChoice(DatapathKind.MULTIPLEXED, lanes=p)})
        plans[p] = (design, plan_hardware(design))
    (design, plan), (one_design, one) = plans[4], plans[1]
    e, e1 = multiplexed.engine(plan.modules[0]), multiplexed.engine(one.modules[0])
    assert (e.lanes, e.lane_channels, e.steps * 4) == (4, 2, e1.steps)
    assert estimate_design(design).luts > estimate_design(one_design).luts
    assert plan.schedule.interval_cycles < one.schedule.interval_cycles
    files = {name: text for name, text in emit_rtl(design).items()
             if name.endswith(".v") and name.split("/")[-1] not in PRIMITIVES}
    code = "\n".join(line.split("//")[0] for text in files.values() for line in text.splitlines())
    assert "l3_rom" in code and "*" not in code
    result = simulate(write_sim_project(tmp_path / "p", design, random_input(graph, 2, 4)))
    assert (result.mismatches, result.frames) == (0, 2)
    assert result.latency_cycles == plan.schedule.latency_cycles
    assert result.interval_cycles == plan.schedule.interval_cycles


def test_lanes_of_grouped_layers_cover_their_own_groups(tmp_path):
    # seed 6: a 4-channel depthwise conv (each lane: 2 groups) and a conv with 2 groups of 2
    # output channels (4 lanes: one channel each, inside one group)
    graph = random_graph(6, ("dwconv", "conv", "dense"), max_channels=4, signed=None,
                         rounding="mixed")
    kinds = {layer.name: KindChoice(DatapathKind.MULTIPLEXED, lanes=count)
             for layer, count in zip(weight_layers(graph), (2, 4, 16))}  # dense: as many as fit
    design = apply_design(graph, "exact", kinds=kinds)
    plan = plan_hardware(design)
    engines = {m.name: multiplexed.engine(m) for m in plan.modules
               if m.kind is DatapathKind.MULTIPLEXED and m.layer.kind.value != "add"}
    shapes = sorted((e.groups, e.lanes, e.lane_groups) for e in engines.values())
    assert shapes == [(1, 2, 1), (2, 4, 1), (4, 2, 2)]  # dense: 2 channels, 2 lanes
    project = write_sim_project(tmp_path / "p", design, random_input(graph, 3, 6))
    result = simulate(project)
    assert (result.mismatches, result.frames) == (0, 3)
    assert result.latency_cycles == plan.schedule.latency_cycles


def test_parts_of_a_layer_add_up_to_its_estimate_and_rate_matched_chunks_keep_the_interval():
    from hlsgen.explore.folding import rate_matched_chunks
    from hlsgen.hw.resources import module_parts

    # seed 0: a grouped conv, a pool, a conv, a depthwise conv and a dense layer
    graph = random_graph(0, ("conv", "maxpool", "conv", "dwconv", "dense"), max_channels=6,
                         max_hw=8)
    plan = plan_hardware(apply_design(graph, "exact", kinds=_all_multiplexed(graph)))
    report = estimate_plan(plan)
    for m in plan.modules:
        parts = module_parts(plan, m)
        cost = report.layer(m.name)
        assert round(sum(p[0] for p in parts.values())) == cost.luts
        assert round(sum(p[1] for p in parts.values())) == cost.ffs
        assert sum(p[2] for p in parts.values()) == cost.brams
    chunks = rate_matched_chunks(plan)
    grouped = {m.name for m in plan.modules if getattr(m.layer, "groups", 1) > 1}
    assert grouped and all(chunks[name] == 1 for name in grouped)
    assert any(k > 1 for k in chunks.values())
    kinds = {name: KindChoice(DatapathKind.MULTIPLEXED, chunks=k) for name, k in chunks.items()}
    matched = plan_hardware(apply_design(graph, "exact", kinds=kinds))
    assert matched.schedule.interval_cycles == plan.schedule.interval_cycles
    assert estimate_plan(matched).luts < report.luts


def test_a_grouped_layer_reads_its_window_in_place_and_releases_it_at_its_last_group(tmp_path):
    from hlsgen.hw.resources import module_parts

    # seed 18, coarse weights: a depthwise conv over 4 channels of 3 planes on 2x5 pixels,
    # whose next window waits for the last group's latch (hold + fetch > steps)
    graph = random_graph(18, ("dwconv", "conv", "dense"), max_channels=4, signed=None,
                         rounding="mixed")
    design = apply_design(graph, "lcc:sqnr=13,fold=1", kinds=_all_multiplexed(graph))
    plan = plan_hardware(design)
    dw = plan.modules[0]
    e = multiplexed.engine(dw)
    assert (e.groups, e.window_hold) == (4, 3 * e.steps // 4)
    assert e.window_hold + dw.window.taps + 1 > e.steps
    assert module_parts(plan, dw)["item"][1] == 8 * e.inputs  # one group's inputs, not the bus
    result = simulate(write_sim_project(tmp_path / "p", design, random_input(graph, 3, 18)))
    assert (result.mismatches, result.frames) == (0, 3)
    assert result.latency_cycles == plan.schedule.latency_cycles
    assert result.interval_cycles == plan.schedule.interval_cycles
