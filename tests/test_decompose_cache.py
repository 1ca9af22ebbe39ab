"""The on-disk decomposition cache: hits return the same graphs, keys separate what differs,
and a damaged entry is recomputed."""

from __future__ import annotations

import numpy as np
import pytest
from hlsgen.decompose import cache
from hlsgen.decompose.methods import decompose_layer, layer_pieces
from hlsgen.design import apply_design, weight_layers
from tests.factory import random_graph


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HLSGEN_CACHE", str(tmp_path))
    monkeypatch.setenv("HLSGEN_DECOMPOSE_CACHE", "1")
    return tmp_path / "decompose"


def _adders(design):
    return {name: [g.adders for g in impl.graphs] for name, impl in design.impls.items()}


@pytest.mark.parametrize("method", ["exact", "lcc:sqnr=20,fold=1"])
def test_second_run_hits_the_cache_with_the_same_graphs(cache_dir, method):
    graph = random_graph(11, layers=("conv", "dwconv", "dense"))
    first = apply_design(graph, method, jobs=2)
    entries = sorted(cache_dir.rglob("*"))
    assert any(p.is_file() for p in entries)
    layer = weight_layers(graph)[0]
    assert all(p.cached is not None for p in layer_pieces(layer, method))
    second = apply_design(graph, method)
    assert _adders(first) == _adders(second)
    for name in first.impls:
        assert np.array_equal(first.graph.layer(name).weight, second.graph.layer(name).weight)


def test_keys_separate_methods_and_matrices():
    a = np.arange(12, dtype=np.int64).reshape(3, 4)
    b = a.copy()
    b[0, 0] = 1
    keys = {cache.cache_key(a, "exact"), cache.cache_key(a, "po2"), cache.cache_key(b, "exact"),
            cache.cache_key(a.astype(np.int32), "exact"), cache.cache_key(a.reshape(4, 3), "exact")}
    assert len(keys) == 5
    assert cache.cache_key(a, "exact") == cache.cache_key(a.copy(), "exact")


def test_damaged_entries_are_recomputed(cache_dir):
    graph = random_graph(12, layers=("conv", "dense"))
    layer = weight_layers(graph)[0]
    fresh = decompose_layer(layer, "exact")
    for path in cache_dir.rglob("*"):
        if path.is_file():
            path.write_bytes(b"not a pickle")
    assert all(p.cached is None for p in layer_pieces(layer, "exact"))
    again = decompose_layer(layer, "exact")
    assert [g.adders for g in again] == [g.adders for g in fresh]


def test_disabled_cache_writes_nothing(cache_dir, monkeypatch):
    monkeypatch.setenv("HLSGEN_DECOMPOSE_CACHE", "0")
    graph = random_graph(13, layers=("conv",))
    apply_design(graph, "exact")
    assert not cache_dir.exists()
