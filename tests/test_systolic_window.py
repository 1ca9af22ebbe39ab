"""Shared depthwise reads of the shift-add engine: with the row skew, the ports of a kernel row
of a stride-1 depthwise layer read one pixel in the same beat, so one read serves them
(``depthwise.shared_groups``; 3 reads a beat instead of 9)."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from factory import _Builder
from test_systolic import simulate_exactly
from hlsgen.systolic import ArrayShape
from hlsgen.systolic.depthwise import groups_fit, shared_groups
from hlsgen.systolic.nettiming import network_cycle_model
from hlsgen.systolic.network import Op, beat_cycles, plan_network
from hlsgen.systolic.project import write_network_project


def _graph(seed: int):
    """conv -> 3x3 depthwise (same padding, stride 1) -> dense, on an input of at least 4x4
    pixels and more channels than 2 columns (several channel tiles)."""
    for attempt in range(seed, seed + 200):
        b = _Builder(np.random.default_rng(attempt), None, 6, 7, 8)
        h, w, _ = b.tensors["x"].shape
        if min(h, w) < 4:
            continue
        b.add_conv("conv0")
        src = b.tensors[b.current]
        if min(src.shape[:2]) < 3 or src.shape[2] < 3:
            continue
        b.add_conv("dw1", depthwise=True, same=3)
        b.add_dense("dense2")
        return b.graph(f"window{attempt}", False)
    raise AssertionError("no graph of that shape in 200 seeds")


def _after_a_3x3_conv(seed: int):
    """conv 3x3 on one input channel (its first k-tile: all 9 taps on 9 ports; same padding,
    so 4 taps of its item 0 read real pixels) -> 3x3 depthwise (same, stride 1) -> dense:
    the depthwise ports' delay lines start with the conv's addresses."""
    for attempt in range(seed, seed + 400):
        b = _Builder(np.random.default_rng(attempt), None, 6, 6, 8)
        h, w, c = b.tensors["x"].shape
        if min(h, w) < 4 or c != 1:
            continue
        _conv_3x3_same(b, "conv0", cout=3)
        b.add_conv("dw1", depthwise=True, same=3)
        b.add_dense("dense2")
        return b.graph(f"after{attempt}", False)
    raise AssertionError("no graph of that shape in 400 seeds")


def _conv_3x3_same(b: _Builder, name: str, cout: int) -> None:
    """A 3x3, stride-1, same-padded Conv of ``cout`` channels on the builder's current tensor
    (the builder's own weights, scales and requantization)."""
    from hlsgen import ir

    src = b.tensors[b.current]
    h, w, cin = src.shape
    weight = b._weights((cout, 3, 3, cin))
    out = b._tensor(f"{name}_out", (h, w, cout))
    bias, requant = b._affine_requant(src, weight.reshape(cout, -1), out)
    b.layers.append(ir.Conv(name=name, source=(f"/{name}/Conv",), input=src.name, output=out,
                            weight=weight, bias=bias, stride=(1, 1), pads=(1, 1, 1, 1),
                            groups=1, requant=requant))
    b.current = out


def _depthwise(plan):
    return next(i for i, s in enumerate(plan.steps) if s.op is Op.DW)


def test_kernel_rows_share_one_read_at_stride_one():
    graph = _graph(1)
    plan = plan_network(graph, ArrayShape(9, 2), pe="shiftadd", copy_bits=0)
    i = _depthwise(plan)
    assert shared_groups(plan.steps[i], plan.ports) == ((0, 1, 2), (3, 4, 5), (6, 7, 8))
    assert plan.share_groups == ((0, 1, 2), (3, 4, 5), (6, 7, 8))
    assert plan.step_shared[i] and plan.step_reads[i] == 3
    assert plan.step_beats[i] == beat_cycles(plan.step_terms[i], 3, 1)
    unshared = plan_network(graph, ArrayShape(9, 2), pe="dsp")
    assert not unshared.share_groups and unshared.step_reads[i] == 9


def test_stride_two_and_shifted_runs_do_not_share():
    step = plan_network(_graph(1), ArrayShape(9, 2), pe="shiftadd", copy_bits=0).steps[1]
    # stride 2: neighbouring ports read pixels two apart
    wide = dataclasses.replace(step, window=dataclasses.replace(step.window, sh=2, sw=2))
    assert groups_fit(step, ((0, 1, 2), (3, 4, 5), (6, 7, 8)), 9)
    assert not groups_fit(wide, ((0, 1, 2), (3, 4, 5), (6, 7, 8)), 9)
    # a run across two kernel rows reads two pixel rows in one beat
    assert not groups_fit(step, ((0, 1, 2, 3), (4, 5), (6, 7, 8)), 9)


def _simulate(where: Path, graph, shape: ArrayShape, copy_bits: int):
    write = functools.partial(write_network_project, pe="shiftadd", copy_bits=copy_bits)
    return simulate_exactly(where, graph, shape, write, network_cycle_model, 3, 0)


def test_shared_reads_simulate_exactly_on_one_copy(tmp_path):
    graph = _graph(2)
    plan, _ = _simulate(tmp_path / "one", graph, ArrayShape(9, 2), 0)
    assert plan.step_shared[_depthwise(plan)] and plan.act_copies == 1


def test_shared_reads_ignore_the_addresses_of_no_item(tmp_path):
    """A run's address is the OR of its ports': a port serving no item (the layer's first
    and last beats) must add nothing, whatever the layer before left in its delay line."""
    graph = _after_a_3x3_conv(17)  # fails without the I1 rule (found by trying seeds)
    plan, _ = _simulate(tmp_path / "after", graph, ArrayShape(9, 2), 0)
    assert plan.step_shared[_depthwise(plan)]


def test_shared_reads_simulate_exactly_on_two_copies(tmp_path):
    """Two copies: copy 0 reads runs 0 and 2, copy 1 run 1 (and 8 rows: the 9 taps in two
    k-tiles, the runs cut where the k-tile ends)."""
    graph = _graph(3)
    probe = plan_network(graph, ArrayShape(8, 2), pe="shiftadd", copy_bits=0)
    act_bits = sum(probe.bank_depth) * 8 * 2
    plan, _ = _simulate(tmp_path / "two", graph, ArrayShape(8, 2), 2 * act_bits)
    i = _depthwise(plan)
    assert plan.act_copies == 2 and plan.step_shared[i]
    assert plan.step_reads[i] == len(plan.share_groups) < 8


def test_generate_share_reads_option(tmp_path, capsys):
    """kws: its depthwise layers share reads by default; --no-share-reads keeps 9 reads."""
    import json

    from hlsgen.cli import main
    from hlsgen.frontend import import_model
    from onnx_builders import MODELS_DIR

    model = MODELS_DIR / "kws_dscnn_int8" / "model.onnx"
    graph = import_model(model)
    latency = {}
    for flag in ("--share-reads", "--no-share-reads"):
        out = tmp_path / flag.strip("-")
        assert main(["generate", str(model), "-o", str(out), "--arch", "systolic", "--pe",
                     "shiftadd", "--array", "16x4", "--count", "1", flag]) == 0
        latency[flag] = json.loads((out / "rtl" / "hlsgen_cost.json").read_text())[
            "latency_cycles"]
        plan = plan_network(graph, ArrayShape(16, 4), pe="shiftadd",
                            share_reads=flag == "--share-reads")
        assert latency[flag] == network_cycle_model(plan).latency
    assert latency["--share-reads"] < latency["--no-share-reads"]
    capsys.readouterr()
    assert main(["generate", str(model), "-o", str(tmp_path / "bad"), "--arch", "systolic",
                 "--no-share-reads"]) == 2
    err = capsys.readouterr().err.strip()
    assert "apply to --arch systolic --pe shiftadd only" in err and len(err.splitlines()) == 1


def test_shared_reads_with_streamed_weights_and_empty_beats(tmp_path):
    """Weights streamed into a one-tile ring: the sequencer issues empty beats inside the
    depthwise layer while a tile loads, and a run's OR of addresses must not see them."""
    from test_systolic_stream import _simulate_stream

    graph = _after_a_3x3_conv(17)
    plan, timing = _simulate_stream(tmp_path / "stream", graph, ArrayShape(9, 2), ring_words=1)
    assert plan.step_shared[_depthwise(plan)] and sum(timing.stall_beats) > 0
