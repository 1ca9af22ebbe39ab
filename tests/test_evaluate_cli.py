"""``hlsgen evaluate`` on the real models in ../shared/models, and its error messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hlsgen import cli
from hlsgen.commands import evaluate as evaluate_command

MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
KWS = MODELS / "kws_dscnn_int8"
MNIST = MODELS / "mnist8"

# ../shared/models is beside the repository in CI and on developers' machines: no skipping.


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["evaluate", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _evaluate_json(capsys, tmp_path, *argv) -> dict:
    out = tmp_path / "result.json"
    code, stdout, err = _run(capsys, *argv, "--json", out)
    assert code == 0, err
    assert "top1_agreement" in stdout  # the table was printed
    return json.loads(out.read_text())


def test_int8_model_reports_every_field(capsys, tmp_path):
    result = _evaluate_json(capsys, tmp_path, KWS / "model.onnx", "--data", KWS / "data.npz",
                            "--limit", 60)
    assert result["samples"] == 60
    assert result["export_matches"] is True
    for key in ("source_top1", "integer_top1", "top1_agreement"):
        assert 0.0 <= result[key] <= 100.0
    assert "quantized logits" in result["max_abs_diff_units"]
    # The exact integer network must track the int8 source closely (same scales, same data).
    assert result["top1_agreement"] >= 95.0
    assert 0 <= result["max_abs_diff"] <= 8


def test_float_model_diff_is_in_quantized_output_units(capsys, tmp_path):
    data = tmp_path / "data.npz"
    with np.load(MNIST / "data.npz") as npz:
        np.savez(data, x=npz["x"][:40])  # no labels: agreement only
    result = _evaluate_json(capsys, tmp_path, MNIST / "model.onnx", "--data", data,
                            "--calibration", data)
    assert "source_top1" not in result and "integer_top1" not in result
    assert result["samples"] == 40 and result["export_matches"] is True
    assert "quantized with its scale" in result["max_abs_diff_units"]
    assert result["top1_agreement"] >= 90.0


@pytest.mark.slow  # exact CSE decomposition of every layer takes ~45 s on this machine
def test_exact_method_changes_nothing(capsys, tmp_path):
    result = _evaluate_json(capsys, tmp_path, KWS / "model.onnx", "--data", KWS / "data.npz",
                            "--limit", 30, "--method", "exact")
    assert result["design_top1"] == result["integer_top1"]
    assert result["design_agreement"] == 100.0
    assert result["export_matches"] is True


def test_method_file_equals_the_same_method_for_every_layer(capsys, tmp_path):
    from hlsgen.design import weight_layers
    from hlsgen.frontend import import_model

    graph = import_model(KWS / "model.onnx")
    methods = tmp_path / "methods.json"
    methods.write_text(json.dumps({layer.name: "po2" for layer in weight_layers(graph)}))
    args = (KWS / "model.onnx", "--data", KWS / "data.npz", "--limit", 40)
    by_file = _evaluate_json(capsys, tmp_path, *args, "--method", methods)
    by_name = _evaluate_json(capsys, tmp_path, *args, "--method", "po2")
    assert by_file["design_method"] == str(methods) and by_name["design_method"] == "po2"
    for key in ("design_top1", "design_agreement"):
        assert by_file[key] == by_name[key]
    assert by_file["export_matches"] is True  # now checked on the approximated design


def test_export_mismatch_is_an_internal_error(monkeypatch):
    import hlsgen.reference as reference

    original = reference.run_onnx
    monkeypatch.setattr(reference, "run_onnx", lambda model, x, **kw: original(model, x) + 1)
    with pytest.raises(evaluate_command.EvaluationMismatch, match="disagrees"):
        evaluate_command.evaluate(KWS / "model.onnx", KWS / "data.npz", limit=3)


@pytest.mark.slow
def test_source_top1_matches_published_onnxruntime_figure(capsys, tmp_path):
    """shared/README.md: onnxruntime top-1 of kws_dscnn_int8 on these 500 samples is 91.60 %."""
    result = _evaluate_json(capsys, tmp_path, KWS / "model.onnx", "--data", KWS / "data.npz")
    assert result["samples"] == 500
    assert result["source_top1"] == 91.6


# -- errors: one clear line, non-zero exit, no traceback -----------------------------------
def _bad_files(tmp_path: Path) -> dict[str, Path]:
    model_bytes = (KWS / "model.onnx").read_bytes()
    files = {
        "text": tmp_path / "notes.onnx",
        "truncated": tmp_path / "truncated.onnx",
        "no_x": tmp_path / "no_x.npz",
        "not_npz": tmp_path / "not.npz",
        "narrow": tmp_path / "narrow.npz",
        "float": tmp_path / "float.npz",
    }
    files["text"].write_text("this is not a model\n")
    files["truncated"].write_bytes(model_bytes[: len(model_bytes) // 2])
    with np.load(KWS / "data.npz") as npz:
        x = npz["x"][:4]
    np.savez(files["no_x"], samples=x)
    files["not_npz"].write_text("x,y\n1,2\n")
    np.savez(files["narrow"], x=x[:, :20])
    np.savez(files["float"], x=x.astype(np.float32))
    return files


@pytest.mark.parametrize("case, needle", [
    ("missing_model", "no such file"),
    ("text", "not a readable ONNX model"),
    ("truncated", "not a readable ONNX model"),
    ("missing_data", "does not exist"),
    ("not_npz", "not a readable .npz"),
    ("no_x", "no array 'x'"),
    ("narrow", "narrow.npz: data x has samples of shape (20, 10, 1)"),
    ("float", "float.npz: data x has dtype float32"),
    ("limit", "--limit"),
    ("json_dir", "cannot write --json"),
    ("method", "bogus"),
])
def test_bad_inputs_give_one_clear_line(capsys, tmp_path, case, needle):
    files = _bad_files(tmp_path)
    model, data = KWS / "model.onnx", KWS / "data.npz"
    extra: list = ["--limit", 2]
    if case == "missing_model":
        model = tmp_path / "absent.onnx"
    elif case in ("text", "truncated"):
        model = files[case]
    elif case == "missing_data":
        data = tmp_path / "absent.npz"
    elif case in ("not_npz", "no_x", "narrow", "float"):
        data = files[case]
    elif case == "limit":
        extra = ["--limit", 0]
    elif case == "json_dir":
        extra += ["--json", tmp_path / "no" / "such" / "dir.json"]
    elif case == "method":
        extra += ["--method", "bogus"]
    code, _, err = _run(capsys, model, "--data", data, *extra)
    assert code != 0
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hlsgen evaluate: error:"), err
    assert needle in lines[0]
