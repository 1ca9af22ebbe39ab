"""Files hlsgen reads back (explore checkpoint, decomposition cache) are data, never code
(issue 15, class 2): no pickle in the package, a malformed checkpoint is refused with one
clean error, a damaged or tampered cache entry is recomputed."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

import hlsgen
from hlsgen.decompose import cache
from hlsgen.decompose.graph import Adder, Operand, OutputTap, ShiftAddGraph
from hlsgen.errors import InputError
from hlsgen.explore.evaluation import Evaluation
from hlsgen.explore.search import CHECKPOINT_NAME, load_checkpoint

PACKAGE = Path(hlsgen.__file__).resolve().parent


def test_no_pickle_in_the_package():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        for pattern in (r"\bimport\s+(c?pickle|dill|cloudpickle|shelve|marshal)\b",
                        r"\bfrom\s+(c?pickle|dill|cloudpickle|shelve|marshal)\b",
                        r"\bpickle\.", r"allow_pickle\s*=\s*True", r"joblib\.load",
                        r"\bpickle\b(?<!allow_pickle)"):
            if re.search(pattern, text.replace("allow_pickle=False", "")):
                offenders.append(f"{path.relative_to(PACKAGE)}: {pattern}")
        for call in re.finditer(r"np\.load\(([^)]*)\)", text):
            if "allow_pickle=False" not in call.group(1):
                offenders.append(f"{path.relative_to(PACKAGE)}: {call.group(0)}")
    assert not offenders, offenders


# -- explore checkpoint -------------------------------------------------------------------
GENES = (3, 3, 2)


def _evaluation(genome=(0, 1, 1)) -> Evaluation:
    return Evaluation(genome=genome, methods={"conv0": "exact"}, pipeline={"conv0": 2},
                      kinds={"conv0": "serial:4"},
                      luts=10.5, ffs=3.0, dsps=0.0, brams=0.0, latency_cycles=7,
                      interval_cycles=4, adders=9, metric=99.5, accuracy_drop=0.5,
                      violations={"luts": 0.25})


def _checkpoint(**changes) -> dict:
    doc = {"format": "hlsgen explore checkpoint", "version": 2, "fingerprint": "fp",
           "generation": 1, "population": [[0, 1, 1], [2, 0, 0]],
           "evaluations": [_evaluation().to_json()],
           "history": [{"generation": 1, "evaluated": 1, "best_fitness": 1.5}]}
    doc.update(changes)
    return doc


def test_evaluation_round_trips_exactly():
    e = _evaluation()
    assert Evaluation.from_json(json.loads(json.dumps(e.to_json()))) == e


def test_valid_checkpoint_loads(tmp_path):
    (tmp_path / CHECKPOINT_NAME).write_text(json.dumps(_checkpoint()))
    state = load_checkpoint(tmp_path, "fp", GENES, Evaluation.from_json)
    assert state.generation == 1 and state.population == [(0, 1, 1), (2, 0, 0)]
    assert state.evaluations == {(0, 1, 1): _evaluation()}
    assert load_checkpoint(tmp_path, "other run", GENES, Evaluation.from_json) is None
    assert load_checkpoint(tmp_path / "nothing", "fp", GENES, Evaluation.from_json) is None


BAD_CHECKPOINTS = {
    "pickle bytes": b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94.",
    "empty": b"",
    "truncated": json.dumps(_checkpoint()).encode()[:40],
    "not utf-8": b"\xff\xfe{}",
    "a list": b"[1, 2]",
    "other format": json.dumps(_checkpoint(format="x")).encode(),
    "old version": json.dumps(_checkpoint(version=1)).encode(),
    "negative generation": json.dumps(_checkpoint(generation=-1)).encode(),
    "bool generation": json.dumps(_checkpoint(generation=True)).encode(),
    "gene out of range": json.dumps(_checkpoint(population=[[0, 9, 0]])).encode(),
    "short genome": json.dumps(_checkpoint(population=[[0, 1]])).encode(),
    "empty population": json.dumps(_checkpoint(population=[])).encode(),
    "population not a list": json.dumps(_checkpoint(population="abc")).encode(),
    "evaluation missing field": json.dumps(_checkpoint(evaluations=[{"genome": [0, 1, 1]}])
                                           ).encode(),
    "evaluation wrong type": json.dumps(_checkpoint(evaluations=[
        {**_evaluation().to_json(), "luts": "many"}])).encode(),
    "evaluation genome outside": json.dumps(_checkpoint(evaluations=[
        {**_evaluation().to_json(), "genome": [5, 5, 5]}])).encode(),
    "history not objects": json.dumps(_checkpoint(history=[1, 2])).encode(),
    "deep nesting": b"[" * 100000 + b"]" * 100000,
}


@pytest.mark.parametrize("case", sorted(BAD_CHECKPOINTS))
def test_bad_checkpoint_is_refused_cleanly(tmp_path, case):
    (tmp_path / CHECKPOINT_NAME).write_bytes(BAD_CHECKPOINTS[case])
    with pytest.raises(InputError, match="not a usable checkpoint.*without --resume"):
        load_checkpoint(tmp_path, "fp", GENES, Evaluation.from_json)


def test_checkpoint_that_is_a_fifo_or_directory_is_refused(tmp_path):
    os.mkfifo(tmp_path / CHECKPOINT_NAME)
    with pytest.raises(InputError, match="not a regular file"):
        load_checkpoint(tmp_path, "fp", GENES, Evaluation.from_json)
    other = tmp_path / "d"
    (other / CHECKPOINT_NAME).mkdir(parents=True)
    with pytest.raises(InputError, match="not a regular file"):
        load_checkpoint(other, "fp", GENES, Evaluation.from_json)


def test_old_pickle_checkpoint_is_not_read(tmp_path):
    (tmp_path / "checkpoint.pkl").write_bytes(BAD_CHECKPOINTS["pickle bytes"])
    with pytest.raises(InputError, match="older hlsgen.*without --resume"):
        load_checkpoint(tmp_path, "fp", GENES, Evaluation.from_json)


# -- decomposition cache ------------------------------------------------------------------
@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HLSGEN_CACHE", str(tmp_path))
    monkeypatch.setenv("HLSGEN_DECOMPOSE_CACHE", "1")
    return tmp_path / "decompose"


def _graph() -> ShiftAddGraph:
    return ShiftAddGraph(2, (Adder(Operand(0, 1), Operand(1, 0, True)),),
                         (OutputTap(2, 1, False), OutputTap(None), OutputTap(0, 0, True)), 3)


def test_cache_round_trip(cache_dir):
    key = cache.cache_key(np.eye(2, dtype=np.int64), "exact")
    cache.store(key, _graph())
    back = cache.load(key)
    assert back is not None and back.adders == _graph().adders
    assert back.outputs == _graph().outputs and back.frac_bits == 3 and back.n_inputs == 2


def _tampered(real_key: str, arrays: dict) -> dict:
    good = cache._graph_arrays(real_key, _graph())
    good.update(arrays)
    return good


BAD_ENTRIES = {
    "pickled object array": dict(meta=np.array([object()], dtype=object)),
    "other key": dict(key=np.frombuffer(b"0" * 64, dtype=np.uint8)),
    "node from the future": dict(adders=np.array([[0, 0, 0, 5, 0, 0]], dtype=np.int64)),
    "huge shift": dict(adders=np.array([[0, 10**6, 0, 1, 0, 0]], dtype=np.int64)),
    "negate 7": dict(outputs=np.array([[2, 0, 7]], dtype=np.int64)),
    "float arrays": dict(outputs=np.array([[2.0, 0, 0]])),
    "bad meta": dict(meta=np.array([1, 2, 3], dtype=np.int64)),
    "negative inputs": dict(meta=np.array([-1, 0], dtype=np.int64)),
}


@pytest.mark.parametrize("case", sorted(BAD_ENTRIES))
def test_tampered_cache_entry_is_a_miss(cache_dir, case):
    key = cache.cache_key(np.eye(2, dtype=np.int64), "exact")
    cache.store(key, _graph())
    path = next(cache_dir.rglob("*.npz"))
    arrays = _tampered(key, BAD_ENTRIES[case])
    with path.open("wb") as fh:
        np.savez(fh, **arrays)  # object arrays are pickled by numpy: load must refuse them
    assert cache.load(key) is None


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04garbage", b"\x80\x04K\x01.", b"x" * 100])
def test_corrupt_cache_entry_is_a_miss(cache_dir, content):
    key = cache.cache_key(np.eye(3, dtype=np.int64), "exact")
    cache.store(key, _graph())
    next(cache_dir.rglob("*.npz")).write_bytes(content)
    assert cache.load(key) is None


def test_cache_entry_that_is_a_fifo_is_a_miss(cache_dir):
    key = cache.cache_key(np.eye(4, dtype=np.int64), "exact")
    cache.store(key, _graph())
    path = next(cache_dir.rglob("*.npz"))
    path.unlink()
    os.mkfifo(path)
    assert cache.load(key) is None  # and returns at once instead of blocking
