"""The baseline's array shape (every DSP a good shape can use, the lowest exact latency) and
its per-layer MAC utilization."""

from __future__ import annotations

from factory import random_graph
from hlsgen.systolic import ArrayShape
from hlsgen.systolic.nettiming import network_cycle_model
from hlsgen.systolic.network import plan_network
from hlsgen.systolic.shapes import best_shape, candidate_shapes, estimated_brams


def test_candidate_shapes_take_as_many_dsps_as_fit():
    shapes = candidate_shapes(220)  # xc7z020
    assert [str(s) for s in shapes] == ["26x8", "17x12", "12x16", "10x20", "8x24", "5x32"]
    for s in shapes:
        assert s.pes + s.cols <= 220 < (s.rows + 1) * s.cols + s.cols  # PEs + lanes
    assert ArrayShape(14, 16) in candidate_shapes(240)  # xc7a100t: 224 + 16


def test_best_shape_is_the_fastest_that_fits_the_block_ram():
    graph = random_graph(4, layers=("conv", "dwconv", "conv", "dense"), max_channels=24,
                         max_hw=8)
    plans = {s: plan_network(graph, s) for s in candidate_shapes(220)}
    latency = {s: network_cycle_model(p).latency for s, p in plans.items()}
    brams = {s: estimated_brams(p) for s, p in plans.items()}
    budget = sorted(brams.values())[len(brams) // 2]  # about half the shapes fit
    shape, cycles = best_shape(graph, 220, budget)
    fitting = [s for s in plans if brams[s] <= budget]
    assert shape in fitting and cycles == latency[shape]
    assert cycles == min(latency[s] for s in fitting)


def test_per_layer_utilization_rows_follow_the_cycle_model():
    from hlsgen.systolic.report import utilization_markdown, utilization_rows

    graph = random_graph(6, layers=("conv", "maxpool", "dwconv", "dense"), max_channels=12,
                         max_hw=8)
    plan = plan_network(graph, ArrayShape(4, 4))
    timing = network_cycle_model(plan)
    rows = utilization_rows(plan, timing)
    assert [r["layer"] for r in rows] == [layer.name for layer in graph.layers]
    assert [r["cycles"] for r in rows] == list(timing.layer_cycles)
    assert sum(r["macs"] for r in rows) == plan.macs
    for r, step in zip(rows, plan.steps):
        if r["op"] in ("mac", "dw"):
            assert r["utilization"] == round(step.macs / (16 * r["cycles"]), 4)
            assert 0 < r["utilization"] <= 1
        else:
            assert r["utilization"] is None and r["macs"] == 0
    text = utilization_markdown(plan, timing)
    assert all(f"| {layer.name} |" in text for layer in graph.layers)
