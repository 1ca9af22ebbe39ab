"""Accuracy the search did not choose from: the search/validation split, the validation figure
(checked against an independent ``hlsgen evaluate``), the sampling margin, and the data-free
proxy (the top-1 drop predicted from the output logits' error against the exact network's
decision margin on synthetic inputs)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hlsgen.cli import main
from hlsgen.design import apply_design
from hlsgen.errors import DataError
from hlsgen.explore.evaluation import (MARGIN_SNR_AT_ONE_POINT, decision_margin,
                                       logit_sqnr_db, margin_snr_db, predicted_drop,
                                       sampling_margin)
from hlsgen.explore.run import make_eval_data
from hlsgen.explore.synthetic import synthetic_inputs
from hlsgen.explore.validation import stratified_split
from hlsgen.frontend import import_model
from hlsgen.reference import execute

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


def test_logit_sqnr_is_the_signal_over_the_error_energy():
    reference = np.array([[10, -5, 3], [0, 7, -2]], dtype=np.int64)  # zero point 1 below
    assert logit_sqnr_db(reference.copy(), reference, 1) == float("inf")
    out = reference.copy()
    out[0, 1] += 1  # noise energy 1: the SQNR is the signal's energy in dB
    signal = float(np.sum((reference - 1.0) ** 2))
    assert logit_sqnr_db(out, reference, 1) == 10.0 * float(np.log10(signal / 1.0))


def test_decision_margin_is_the_median_top2_gap():
    reference = np.array([[10, -5, 3], [0, 7, -2], [4, 4, 0], [9, 1, 2]], dtype=np.int64)
    # gaps 7, 7, 0, 7: median 7
    assert decision_margin(reference) == 7.0
    assert decision_margin(np.zeros((5, 4), dtype=np.int64)) == 1.0  # all tied: at least 1
    one = np.array([[3], [-1], [5]], dtype=np.int64)  # one output: its RMS about the zero point
    assert decision_margin(one, 1) == float(np.sqrt((4 + 4 + 16) / 3))


def test_predicted_drop_follows_the_error_against_the_margin():
    reference = np.array([[10, -5, 3], [0, 7, -2]], dtype=np.int64)
    margin = 7.0
    assert predicted_drop(reference.copy(), reference, margin) == 0.0  # exact: no drop
    for step in (1, 2, 3):
        out = reference.copy()
        out[1, 0] += step
        snr = margin_snr_db(out, reference, margin)
        assert snr == 10.0 * np.log10(margin ** 2 / (step ** 2 / out.size))
        # 1 point at the calibrated margin SNR, 10x per 10 dB less
        assert predicted_drop(out, reference, margin) == 10.0 ** (
            (MARGIN_SNR_AT_ONE_POINT - snr) / 10.0)
    assert predicted_drop(reference + 1000, reference, margin) == 100.0  # capped
    drops = [predicted_drop(reference + k, reference, margin) for k in (1, 2, 3)]
    assert drops == sorted(drops) and drops[0] < drops[2]  # more noise, more predicted drop
    # the same error is predicted to cost less where the decisions are wider
    out = reference + 2
    assert predicted_drop(out, reference, 2 * margin) < predicted_drop(out, reference, margin)


def _exact_outputs_of_seeds_0_to_3(graph) -> np.ndarray:
    """The example's exact logits on the synthetic inputs of seeds 0-3, where the data-free
    search measures the decision margin."""
    return np.concatenate([execute(graph, synthetic_inputs(graph, s)).reshape(-1, 10)
                           for s in (0, 1, 2, 3)])


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
    # The chosen design's figure, recomputed independently of the search: its network and the
    # exact one on the same synthetic inputs, the error against the exact network's margin
    # (measured on the synthetic inputs of seeds 0 to 3 together).
    graph = import_model(EXAMPLE, calibration=np.load(EXAMPLE_CAL)["x"])
    x = synthetic_inputs(graph, 0)
    exact = execute(graph, x).reshape(len(x), -1)
    got = execute(apply_design(graph, out / "design.json").graph, x).reshape(len(x), -1)
    pooled = _exact_outputs_of_seeds_0_to_3(graph)
    assert design["samples"] == len(x)
    assert round(predicted_drop(got, exact, decision_margin(pooled)), 4) == (
        design["accuracy_drop"])


def test_data_free_margin_is_the_same_for_every_seed():
    """The decision margin is the exact network's, measured on the synthetic inputs of seeds 0
    to 3 together: every search seed gets the same one, though the inputs it scores designs
    on differ, and one seed's inputs alone would give another (the example: 9 on seed 0's)."""
    graph = import_model(EXAMPLE, calibration=np.load(EXAMPLE_CAL)["x"])
    pooled = _exact_outputs_of_seeds_0_to_3(graph)
    data = {seed: make_eval_data(graph, None, None, seed) for seed in (0, 5)}
    assert not np.array_equal(data[0].x_ir[:50], data[5].x_ir[:50])
    assert data[0].margin == data[5].margin == decision_margin(pooled)
    seed0_only = decision_margin(execute(graph, synthetic_inputs(graph, 0)).reshape(-1, 10))
    assert seed0_only != data[0].margin


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
