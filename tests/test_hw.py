"""hlsgen.hw: the hardware plan computes the IR exactly, the schedule is self-consistent,
and the resource estimate is honest (raises rather than guesses).

The datapath of every module is run here by the netlist interpreter
(:func:`hlsgen.hw.netlist.evaluate`, the node semantics written out independently of the
emitters) on the layer inputs the reference executor produces, and must give the reference
outputs bit for bit -- with every intermediate value inside the range its declared width
holds.  Simulation of the emitted Verilog (which also checks the latency model cycle for
cycle) is in test_emit_rtl.py.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from factory import LAYER_KINDS, random_graph, random_input
from hlsgen import ir
from hlsgen.design import DatapathKind, apply_design
from hlsgen.errors import CostModelError, InputError, UnsupportedModelError
from hlsgen.hw import KINDS, Front, Target, estimate_design, plan_hardware
from hlsgen.hw.netlist import Op, evaluate
from hlsgen.hw.schedule import serial
from hlsgen.reference import execute
from hlsgen.reference.windows import window_pixels


def _fields(module, values: dict) -> np.ndarray:
    """The stage-0 bus of every output pixel, as the INPUT nodes read it ([N*P, fields])."""
    layer = module.layer
    x = values[layer.inputs[0]]  # [N, H, W, C]
    n, h, w, c = x.shape
    if module.front is Front.PAIR:
        bus = np.concatenate([x, values[layer.inputs[1]]], axis=3).reshape(n * h * w, -1)
    elif module.front is Front.VECTOR:
        bus = x.reshape(n, -1)
    elif module.front is Front.SUM:
        bus = x.reshape(n, h * w, c).sum(axis=1)
    else:
        s = module.window
        index = window_pixels(s)
        padded = np.concatenate([x.reshape(n, h * w, c), np.full((n, 1, c), module.pad)], 1)
        bus = padded[:, index, :].reshape(n * index.shape[0], -1)  # taps then channels
    width = 8 if module.front is not Front.SUM else module.sum_bits
    picks = [node.bit // width for node in module.datapath.nodes if node.op is Op.INPUT]
    return bus[:, picks].astype(object)


GRAPHS = st.builds(
    lambda seed, kinds, signed: (seed, kinds, signed),
    st.integers(0, 10_000),
    st.lists(st.sampled_from(LAYER_KINDS), min_size=1, max_size=4).map(tuple),
    st.sampled_from([True, False, None]),
)


@settings(max_examples=60, deadline=None)
@given(GRAPHS, st.sampled_from(["exact", "po2", "terms:2", "lcc"]))
def test_datapaths_compute_the_reference_exactly(case, method):
    seed, kinds, signed = case
    graph = random_graph(seed, kinds, signed=signed, weight_bits=int(seed % 3) * 6 + 6,
                         rounding="mixed")
    design = apply_design(graph, method)
    try:
        plan = plan_hardware(design)
    except (CostModelError, UnsupportedModelError):
        plan = None  # covered by the tests below
    assume(plan is not None)
    x = random_input(graph, 3, seed)
    values = execute(design.graph, x, return_all=True)
    for module in plan.modules:
        got = evaluate(module.datapath, _fields(module, values))
        want = values[module.layer.output].reshape(-1, module.output.shape[2])
        np.testing.assert_array_equal(got, want, err_msg=module.name)


@given(st.lists(st.integers(-50, 200), min_size=1, max_size=40))
def test_serial_is_one_event_per_cycle_in_order(ready):
    ready = np.array(ready, dtype=np.int64)
    expected, last = [], None
    for r in ready.tolist():  # the recurrence, literally
        last = r if last is None else max(last + 1, r)
        expected.append(last)
    assert serial(ready).tolist() == expected


def test_pipeline_stages_follow_the_option():
    graph = random_graph(7, ("conv", "dense"), max_channels=6, weight_bits=10)
    design = apply_design(graph, "exact")
    for levels in (1, 2, 3, 5):
        plan = plan_hardware(design, Target(pipeline=levels))
        assert all(plan.per_stage(m) == levels for m in plan.modules)
        for module in plan.modules:
            assert plan.stages(module) == -(-module.datapath.levels // levels)
    assert Target().adder_levels() == 3  # 200 MHz


def test_per_layer_pipeline_overrides():
    graph = random_graph(7, ("conv", "dense"), max_channels=6, weight_bits=10)
    design = apply_design(graph, "exact")
    conv, dense = (layer.name for layer in graph.layers)
    options = Target(pipeline=4, layer_pipeline=((dense, 1),))
    plan = plan_hardware(design, options)
    assert plan.levels == {conv: 4, dense: 1}
    assert plan.stages(plan.modules[1]) == plan.modules[1].datapath.levels


def test_latency_grows_with_finer_pipelining():
    graph = random_graph(11, ("conv", "conv", "dense"), max_channels=6, weight_bits=10)
    design = apply_design(graph, "exact")
    coarse = estimate_design(design, Target(pipeline=8))
    fine = estimate_design(design, Target(pipeline=1))
    assert fine.latency_cycles > coarse.latency_cycles
    assert fine.ffs > coarse.ffs  # more pipeline registers
    assert fine.interval_cycles == coarse.interval_cycles  # one pixel per cycle either way


def test_report_totals_and_no_dsp():
    graph = random_graph(3, ("conv", "maxpool", "add", "avgpool", "dense"), max_channels=5)
    report = estimate_design(apply_design(graph, "exact"))
    assert report.dsps == 0
    assert all(layer.dsps == 0 for layer in report.layers)
    assert report.luts > sum(layer.luts for layer in report.layers) > 0  # + top glue
    assert report.ffs > sum(layer.ffs for layer in report.layers) > 0
    assert [layer.name for layer in report.layers] == [lay.name for lay in graph.layers]
    h, w, _ = graph.tensor(graph.input).shape
    assert report.interval_cycles == h * w


def test_pacer_when_a_layer_outputs_more_pixels_than_the_input_has():
    # 1x3 input, kernel 1x2 with padding 1 on both sides: 4 outputs from 3 input beats.
    graph = random_graph(0, ("conv",))
    conv = graph.layers[0]
    src = graph.tensor(conv.input)
    tensors = dict(graph.tensors)
    x = ir.Tensor(src.name, (1, 3, src.shape[2]), src.dtype, src.scale, src.zero_point)
    out = graph.tensor(conv.output)
    y = ir.Tensor(out.name, (1, 4, out.shape[2]), out.dtype, out.scale, out.zero_point)
    tensors.update({x.name: x, y.name: y})
    weight = np.ones((out.shape[2], 1, 2, src.shape[2]), dtype=np.int64)
    layer = ir.Conv(conv.name, conv.source, conv.input, conv.output, weight, conv.bias,
                    (1, 1), (0, 1, 0, 1), 1, conv.requant)
    graph = replace(graph, tensors=tensors, layers=(layer,),
                    input_permutation=np.arange(x.size, dtype=np.int64))
    plan = plan_hardware(apply_design(graph, "exact"))
    assert plan.schedule.paced and plan.schedule.interval_cycles == 4


def test_window_reading_only_padding_is_reported():
    graph = random_graph(0, ("conv",))
    conv = graph.layers[0]
    kh, kw = conv.kernel
    bad = replace(conv, pads=(kh, kw, 0, 0))
    graph = replace(graph, layers=(bad,))
    with pytest.raises(UnsupportedModelError, match="padding"):
        plan_hardware(apply_design(graph, "exact"))


def test_every_datapath_kind_has_a_module():
    assert set(KINDS) == set(DatapathKind)
    for module in KINDS.values():
        assert callable(module.build) and callable(module.stages) and callable(module.resources)


def test_modules_carry_their_datapath_kind():
    graph = random_graph(3, ("conv", "maxpool", "add", "dense"), max_channels=4)
    design = apply_design(graph, "exact")
    plan = plan_hardware(design)
    assert all(m.kind is DatapathKind.PARALLEL for m in plan.modules)
    assert all(impl.kind is DatapathKind.PARALLEL for impl in design.impls.values())


@pytest.mark.parametrize("kwargs, message", [
    (dict(part="xc7z020 clg400"), "not an FPGA part"),
    (dict(clock_mhz=0), "out of range"),
    (dict(pipeline=0), "integer >= 1"),
    (dict(layer_pipeline=(("conv0", 0),)), "integer >= 1"),
])
def test_target_rejects_bad_values(kwargs, message):
    with pytest.raises(InputError, match=message):
        Target(**kwargs)
