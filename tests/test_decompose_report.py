"""Per-layer cost report and the ``hlsgen decompose`` command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from factory import random_graph
from hlsgen.cli import main
from hlsgen.decompose.methods import layer_targets, parse_method
from hlsgen.decompose.report import design_costs, sqnr_db, totals
from hlsgen.design import apply_design, weight_layers

MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"


@pytest.mark.parametrize("method", ["exact", "po2", "lcc:sqnr=20,fold=1"])
def test_costs_are_those_of_the_graphs(method):
    graph = random_graph(11, ("conv", "dwconv", "dense"), max_channels=5)
    design = apply_design(graph, method)
    costs = design_costs(graph, design)
    assert [c.layer for c in costs] == [layer.name for layer in weight_layers(graph)]
    for cost in costs:
        layer, impl = graph.layer(cost.layer), design.impls[cost.layer]
        source = graph.tensor(layer.input)
        lo, hi = source.dtype.qmin - source.zero_point, source.dtype.qmax - source.zero_point
        assert cost.adders == sum(g.adder_count for g in impl.graphs)
        assert cost.width_sum == sum(g.adder_width_sum(lo, hi) for g in impl.graphs)
        assert cost.groups == len(impl.graphs)
        assert cost.nonzeros == np.count_nonzero(layer.weight)
        targets = np.concatenate(layer_targets(layer, parse_method(method)))
        approx = np.concatenate([g.effective_matrix() * 2.0 ** -g.frac_bits
                                 for g in impl.graphs])
        if method == "exact":
            assert math.isinf(cost.sqnr_db) and cost.sqnr_db > 0
        else:
            assert cost.sqnr_db == sqnr_db(targets, approx)
    summary = totals(costs)
    assert summary["adders"] == sum(c.adders for c in costs)
    assert summary["depth"] == max(c.depth for c in costs)


def test_sqnr_db():
    assert sqnr_db(np.array([3.0, 4.0]), np.array([3.0, 4.0])) == math.inf
    assert sqnr_db(np.array([3.0, 4.0]), np.array([3.0, 3.0])) == pytest.approx(
        10 * math.log10(25.0))


def test_decompose_command_writes_the_table(tmp_path, capsys):
    out = tmp_path / "kws.json"
    model = MODELS / "kws_dscnn_int8" / "model.onnx"
    assert main(["decompose", str(model), "--method", "po2", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["method"] == "po2"
    assert data["totals"]["adders"] == sum(row["adders"] for row in data["layers"])
    assert all(row["method"] == "po2" and row["sqnr_db"] is not None for row in data["layers"])
    assert str(data["totals"]["adders"]) in printed
    assert data["layers"][0]["layer"] in printed


def test_decompose_command_errors_name_the_problem(tmp_path, capsys):
    model = MODELS / "kws_dscnn_int8" / "model.onnx"
    assert main(["decompose", str(model), "--method", "terms:zero"]) == 2
    assert "terms:K" in capsys.readouterr().err
    methods = tmp_path / "m.json"
    methods.write_text(json.dumps({"no_such_layer": "po2"}))
    assert main(["decompose", str(model), "--method", str(methods)]) == 2
    assert "no_such_layer" in capsys.readouterr().err
