"""apply_design: the IR carries exactly the graphs' effective matrices (see hlsgen.ir)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest

from factory import random_graph, random_input
from hlsgen.decompose.exact import decompose_exact
from hlsgen.decompose.methods import layer_matrices, parse_method
from hlsgen.design import (DatapathKind, apply_design, approximated_layer, design_kinds,
                           weight_layers)
from hlsgen.errors import InputError
from hlsgen.ir import Conv
from hlsgen.reference import execute
from hlsgen.verify_ir import verify

METHODS = ["exact", "po2", "terms:2", "lcc", "lcc:fold=1,sqnr=30", "lcc:slice=3,terms=3"]


def _graph(seed: int):
    return random_graph(seed, ("conv", "dwconv", "add", "dense"), max_channels=6)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_design_weights_are_effective_matrices(seed, method):
    graph = _graph(seed)
    design = apply_design(graph, method)
    verify(design.graph)
    assert set(design.impls) == {layer.name for layer in weight_layers(graph)}
    for name, impl in design.impls.items():
        new, old = design.graph.layer(name), graph.layer(name)
        groups = new.groups if isinstance(new, Conv) else 1
        assert len(impl.graphs) == groups
        per = new.weight.shape[0] // groups
        for g, (matrix, sag) in enumerate(zip(layer_matrices(new), impl.graphs)):
            assert np.array_equal(matrix, sag.effective_matrix())
            rows = slice(g * per, (g + 1) * per)
            k = sag.frac_bits
            if method.startswith("lcc:fold=1"):
                assert np.all(new.requant.multiplier[rows] == 1)
                assert np.all(new.requant.shift[rows] == k)
            else:
                assert np.array_equal(new.bias[rows], old.bias[rows] << k)
                assert np.array_equal(new.requant.shift[rows], old.requant.shift[rows] + k)
                assert np.array_equal(new.requant.multiplier, old.requant.multiplier)


@pytest.mark.parametrize("seed", [0, 3])
def test_exact_design_is_the_original_ir(seed):
    graph = _graph(seed)
    design = apply_design(graph, "exact")
    for old, new in zip(graph.layers, design.graph.layers):
        if isinstance(old, Conv) or old.name in design.impls:
            assert np.array_equal(old.weight, new.weight)
            assert np.array_equal(old.bias, new.bias)
            assert np.array_equal(old.requant.shift, new.requant.shift)
    x = random_input(graph, 8, seed)
    assert np.array_equal(execute(design.graph, x), execute(graph, x))


@pytest.mark.parametrize("k", [1, 5])
def test_scaled_weights_compute_the_same_network(k):
    # E = W << k with frac_bits k is the same real matrix as W: the bias/shift bookkeeping of
    # approximated_layer must then leave every output unchanged, bit for bit.
    graph = _graph(5)
    layers = []
    for layer in graph.layers:
        if layer in weight_layers(graph):
            graphs = tuple(
                replace(decompose_exact(m << k), frac_bits=k) for m in layer_matrices(layer))
            layer = approximated_layer(layer, graphs, parse_method("exact"))
            assert np.array_equal(layer.requant.shift, graph.layer(layer.name).requant.shift + k)
        layers.append(layer)
    scaled = replace(graph, layers=tuple(layers))
    verify(scaled)
    x = random_input(graph, 16, 2)
    assert np.array_equal(execute(scaled, x), execute(graph, x))


def test_folded_scale_bias_is_rounded_exactly():
    graph = _graph(2)
    design = apply_design(graph, "lcc:fold=1")
    for name, impl in design.impls.items():
        old, new = graph.layer(name), design.graph.layer(name)
        per = old.weight.shape[0] // len(impl.graphs)
        for o in range(old.weight.shape[0]):
            k = impl.graphs[o // per].frac_bits
            exact = Fraction(int(old.bias[o]) * int(old.requant.multiplier[o]),
                             2 ** int(old.requant.shift[o])) * 2**k
            assert new.bias[o] == math.floor(exact + Fraction(1, 2))


def test_per_layer_mapping_and_json_file(tmp_path):
    graph = _graph(1)
    names = [layer.name for layer in weight_layers(graph)]
    mapping = {names[0]: "po2", names[-1]: "terms:1"}
    design = apply_design(graph, mapping)
    assert design.impls[names[0]].method == "po2"
    assert design.impls[names[-1]].method == "terms:1"
    assert all(design.impls[n].method == "exact" for n in names[1:-1])
    path = tmp_path / "methods.json"
    path.write_text(json.dumps(mapping))
    from_file = apply_design(graph, path)
    for name in names:
        assert np.array_equal(from_file.graph.layer(name).weight, design.graph.layer(name).weight)


def test_bad_inputs_name_the_problem(tmp_path):
    graph = _graph(1)
    with pytest.raises(InputError, match="'nope'"):
        apply_design(graph, {"nope": "exact"})
    name = weight_layers(graph)[0].name
    with pytest.raises(InputError, match=f"layer '{name}'.*terms:0"):
        apply_design(graph, {name: "terms:0"})
    with pytest.raises(InputError, match="unknown method"):
        apply_design(graph, "csd")
    with pytest.raises(InputError, match="does not exist"):
        apply_design(graph, tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(InputError, match="one JSON object"):
        apply_design(graph, bad)


@pytest.mark.parametrize("method", ["lcc:sqnr=25", "exact", "terms:2"])
def test_worker_processes_give_the_same_design(method, monkeypatch):
    # exact runs each formulation of its sharing search as a separate piece when jobs > 1
    # (real layers only when the search is big enough: split every one here)
    import hlsgen.decompose.methods as methods

    monkeypatch.setattr(methods, "_SPLIT_WORK", 0)
    graph = _graph(4)
    timings: dict[str, float] = {}
    serial = apply_design(graph, method)
    parallel = apply_design(graph, method, jobs=2, timings=timings)
    assert set(timings) == set(serial.impls)
    for name, impl in serial.impls.items():
        other = parallel.impls[name]
        assert [g.adders for g in impl.graphs] == [g.adders for g in other.graphs]
        assert np.array_equal(serial.graph.layer(name).weight, parallel.graph.layer(name).weight)


def test_a_design_json_from_explore_is_a_methods_file(tmp_path):
    graph = _graph(4)
    names = [layer.name for layer in weight_layers(graph)]
    chosen = {names[0]: "po2", names[-1]: "terms:2"}
    path = tmp_path / "design.json"
    path.write_text(json.dumps({"model": "m", "luts": 1, "methods": chosen,
                                "pipeline": {n: 2 for n in names}}))
    design = apply_design(graph, path)
    assert {name: impl.method for name, impl in design.impls.items()} == {
        name: chosen.get(name, "exact") for name in names}


def test_design_json_kinds_name_each_layers_datapath(tmp_path):
    graph = _graph(4)
    names = [layer.name for layer in weight_layers(graph)]
    old = tmp_path / "old.json"  # before datapath kinds: every layer parallel
    old.write_text(json.dumps({"methods": {names[0]: "po2"}}))
    assert all(impl.kind is DatapathKind.PARALLEL
               for impl in apply_design(graph, old).impls.values())
    new = tmp_path / "design.json"
    new.write_text(json.dumps({"methods": {}, "kinds": {names[0]: "parallel",
                                                        names[-1]: {"kind": "parallel"}}}))
    assert design_kinds(new) == {names[0]: "parallel", names[-1]: {"kind": "parallel"}}
    assert all(impl.kind is DatapathKind.PARALLEL
               for impl in apply_design(graph, new).impls.values())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"methods": {}, "kinds": {names[0]: "systolic"}}))
    with pytest.raises(InputError, match="datapath kind 'systolic' is not known.*'parallel'"):
        apply_design(graph, bad)
    with pytest.raises(InputError, match="no Conv/Dense layer named 'nope'"):
        apply_design(graph, "exact", kinds={"nope": DatapathKind.PARALLEL})
