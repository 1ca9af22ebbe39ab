"""Accuracy the search did not choose from: the search/validation split, the validation figure
(checked against an independent ``hlsgen evaluate``), the sampling margin, and the data-free
proxy (the top-1 drop predicted from the output logits' SQNR on synthetic inputs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hlsgen.cli import main
from hlsgen.errors import DataError
from hlsgen.explore.evaluation import (LOGIT_SQNR_AT_ONE_POINT, logit_sqnr_db, predicted_drop,
                                       sampling_margin)
from hlsgen.explore.validation import stratified_split

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits_cnn.onnx"
EXAMPLE_DATA = ROOT / "examples" / "digits_test.npz"
EXAMPLE_CAL = ROOT / "examples" / "digits_calib.npz"


def test_split_is_deterministic_disjoint_complete_and_stratified():
    labels = np.random.default_rng(1).integers(0, 7, size=331)
    a = stratified_split(labels, 0.5, seed=4)
    b = stratified_split(labels, 0.5, seed=4)
    assert np.array_equal(a.search, b.search) and np.array_equal(a.validation, b.validation)
    assert not set(a.search) & set(a.validation)
    assert sorted(set(a.search) | set(a.validation)) == list(range(len(labels)))
    for cls in range(7):
        count = np.sum(labels == cls)
        held = np.sum(labels[a.validation] == cls)
        assert abs(held - count / 2) <= 1, (cls, held, count)
    other = stratified_split(labels, 0.5, seed=5)
    assert not np.array_equal(a.validation, other.validation)
    quarter = stratified_split(labels, 0.25, seed=4)
    assert abs(len(quarter.validation) - len(labels) / 4) <= 7


@pytest.mark.parametrize("labels, fraction", [([0, 1, 2], 0.5), ([0, 0, 1], 1.0),
                                              ([0, 0, 1], 0.0)])
def test_split_refuses_what_cannot_be_split(labels, fraction):
    with pytest.raises(DataError):
        stratified_split(np.array(labels), fraction, seed=0)


def test_sampling_margin_is_z_standard_errors_of_the_flips():
    reference = np.zeros(400, dtype=int)
    pred = reference.copy()
    assert sampling_margin(pred, reference, 2.0) == 0.0
    pred[:9] = 1  # 9 flips of 400
    assert sampling_margin(pred, reference, 2.0) == 1.5  # 100 * 2 * sqrt(9) / 400
    assert sampling_margin(pred, reference, 0.0) == 0.0


def test_predicted_drop_follows_the_logit_sqnr():
    reference = np.array([[10, -5, 3], [0, 7, -2]], dtype=np.int64)  # zero point 1 below
    assert predicted_drop(reference.copy(), reference, 1) == 0.0  # exact: no drop at all
    out = reference.copy()
    out[0, 1] += 1  # noise energy 1: the SQNR is the signal's energy in dB
    signal = float(np.sum((reference - 1.0) ** 2))
    assert logit_sqnr_db(out, reference, 1) == 10.0 * float(np.log10(signal / 1.0))
    # 1 point at the calibrated SQNR, 10x per 10 dB less, capped at 100 points
    for step in (1, 2, 3):
        out = reference.copy()
        out[1, 0] += step
        sqnr = logit_sqnr_db(out, reference, 1)
        assert predicted_drop(out, reference, 1) == 10.0 ** ((LOGIT_SQNR_AT_ONE_POINT - sqnr)
                                                             / 10.0)
    assert predicted_drop(reference + 1000, reference, 1) == 100.0
    drops = [predicted_drop(reference + k, reference, 1) for k in (1, 2, 3)]
    assert drops == sorted(drops) and drops[0] < drops[2]  # more noise, more predicted drop


def test_data_free_search_bounds_the_predicted_drop(tmp_path):
    out = tmp_path / "free"
    assert main(["explore", str(EXAMPLE), "-o", str(out), "--calibration", str(EXAMPLE_CAL),
                 "--generations", "1", "--population", "6", "--seed", "0", "--jobs", "1",
                 "--max-accuracy-drop", "1.0"]) == 0
    design = json.loads((out / "design.json").read_text())
    assert (design["data"], design["metric"]) == ("synthetic", "proxy")
    assert 0.0 <= design["accuracy_drop"] <= 1.0
    # every evaluation's drop is the predicted one, 100 - its proxy metric; feasible ones <= 1
    evaluations = json.loads((out / "checkpoint.json").read_text())["evaluations"]
    for e in evaluations:
        assert e["accuracy_drop"] == 100.0 - e["metric"]
        if not e["violations"]:
            assert 0.0 <= e["accuracy_drop"] <= 1.0
    assert any(not e["violations"] and e["accuracy_drop"] > 0 for e in evaluations)


def test_validation_figure_equals_an_independent_evaluate(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["explore", str(EXAMPLE), "-o", str(out), "--data", str(EXAMPLE_DATA),
                 "--calibration", str(EXAMPLE_CAL), "--generations", "1", "--population", "4",
                 "--jobs", "1", "--seed", "3"]) == 0
    assert "validation:" in capsys.readouterr().err
    design = json.loads((out / "design.json").read_text())
    split = json.loads((out / "split.json").read_text())
    assert split["seed"] == 3 and split["data_sha256"]
    data = np.load(EXAMPLE_DATA)
    assert len(split["search"]) + len(split["validation"]) == len(data["y"])
    assert design["samples"] == len(split["search"])
    assert design["validation"]["samples"] == len(split["validation"])
    held = tmp_path / "validation.npz"
    np.savez(held, x=data["x"][split["validation"]], y=data["y"][split["validation"]])
    assert main(["evaluate", str(EXAMPLE), "--data", str(held), "--calibration",
                 str(EXAMPLE_CAL), "--design", str(out / "design.json"),
                 "--json", str(tmp_path / "e.json")]) == 0
    evaluated = json.loads((tmp_path / "e.json").read_text())
    # Both sides round 100 * hits / n to 4 decimals the same way: equal exactly.
    assert evaluated["design_top1"] == design["validation_top1"]
    assert evaluated["integer_top1"] == design["validation"]["baseline"]
    n = len(split["validation"])
    hits, exact_hits = (round(v * n / 100) for v in (evaluated["design_top1"],
                                                     evaluated["integer_top1"]))
    assert design["validation_drop"] == round(100.0 * (exact_hits / n) - 100.0 * (hits / n), 4)
    front = json.loads((out / "pareto.json").read_text())["front"]
    assert all("validation_top1" in row for row in front)


def test_separate_validation_file_is_not_split(tmp_path):
    out = tmp_path / "s"
    assert main(["explore", str(EXAMPLE), "-o", str(out), "--data", str(EXAMPLE_CAL),
                 "--validation", str(EXAMPLE_DATA), "--calibration", str(EXAMPLE_CAL),
                 "--generations", "1", "--population", "4", "--jobs", "1"]) == 0
    design = json.loads((out / "design.json").read_text())
    assert design["validation"] == {"source": "file", "samples": 360,
                                    "baseline": design["validation"]["baseline"]}
    assert design["data"] == "unlabelled" and not (out / "split.json").exists()
