"""The embedded example (examples/): the committed model and data are sound, the accuracy the
README states is the one onnxruntime measures, and the training script reproduces the files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MODEL = EXAMPLES / "digits_cnn.onnx"
TEST_DATA = EXAMPLES / "digits_test.npz"
CALIBRATION = EXAMPLES / "digits_calib.npz"
GENERATED = ("digits_cnn.onnx", "digits_test.npz", "digits_calib.npz")


def _session() -> ort.InferenceSession:
    return ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])


def _readme_accuracy() -> tuple[int, int, str]:
    text = (EXAMPLES / "README.md").read_text()
    match = re.search(r"Float test accuracy[^:\n]*:\s*\**(\d+)/(\d+) = (\d+\.\d+)%", text)
    assert match, "examples/README.md has no 'Float test accuracy ...: **C/N = P%**' line"
    return int(match[1]), int(match[2]), match[3]


def test_model_is_valid_onnx_with_the_documented_graph():
    model = onnx.load(MODEL)
    onnx.checker.check_model(model, full_check=True)
    # onnxruntime 1.31 rejects what onnx 1.23 writes by default (IR 14 / opset 28).
    assert model.ir_version == 8
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 13)]
    ops = [node.op_type for node in model.graph.node]
    assert ops == ["Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm"]
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == ["logits"]
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 1, 8, 8]

    session = _session()
    logits = session.run(None, {"input": np.zeros((1, 1, 8, 8), np.float32)})[0]
    assert logits.shape == (1, 10) and logits.dtype == np.float32


def test_data_files_have_the_model_layout():
    test = np.load(TEST_DATA)
    calibration = np.load(CALIBRATION)
    assert sorted(test.files) == ["x", "y"]
    assert calibration.files == ["x"]  # unlabelled: only inputs
    x, y = test["x"], test["y"]
    assert x.dtype == np.float32 and x.shape[1:] == (1, 8, 8)
    assert y.dtype == np.int64 and y.shape == (len(x),)
    assert set(np.unique(y)) == set(range(10))
    assert calibration["x"].dtype == np.float32 and calibration["x"].shape == (64, 1, 8, 8)
    for images in (x, calibration["x"]):
        assert images.min() >= 0 and images.max() <= 16
        assert np.array_equal(images, np.round(images))  # raw load_digits pixel counts


def test_readme_states_the_measured_accuracy():
    data = np.load(TEST_DATA)
    session = _session()
    predictions = np.array(
        [session.run(None, {"input": image[None]})[0].argmax() for image in data["x"]]
    )
    correct = int((predictions == data["y"]).sum())
    assert _readme_accuracy() == (correct, len(data["y"]), f"{100 * correct / len(data['y']):.2f}")


def test_training_script_reproduces_the_committed_files(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "train_digits_cnn.py"), "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for name in GENERATED:
        assert (tmp_path / name).read_bytes() == (EXAMPLES / name).read_bytes(), (
            f"{name}: rerunning examples/train_digits_cnn.py wrote different bytes"
        )
    # The script's own report agrees with the README too.
    correct, total, percent = _readme_accuracy()
    assert f"{correct}/{total} = {percent}%" in result.stdout
