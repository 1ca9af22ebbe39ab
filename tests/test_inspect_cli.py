"""``hlsgen inspect``: the table, the JSON, and the exit codes of unsupported and bad files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
from onnx_builders import MODELS_DIR, GraphBuilder

from hlsgen.cli import main
from hlsgen.frontend import inspect_model


def test_inspect_real_model(tmp_path, capsys):
    path = MODELS_DIR / "kws_dscnn_int8" / "model.onnx"
    out = tmp_path / "kws.json"
    assert main(["inspect", str(path), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "kws_dscnn_int8" in text and "AveragePool" in text and "all supported" in text
    assert "constant node(s) not shown" in text  # the 20 weight DequantizeLinear nodes
    doc = json.loads(out.read_text())
    infos = inspect_model(onnx.load(path))
    assert doc["supported"] is True and len(doc["nodes"]) == len(infos)
    assert doc["totals"]["params"] == sum(i.params for i in infos)
    assert doc["totals"]["macs"] == sum(i.macs for i in infos)
    # DS-CNN's first conv: 64 filters of 10x4 over a 25x5 output map
    first = next(n for n in doc["nodes"] if n["op"] == "Conv")
    assert first["macs"] == 64 * 25 * 5 * 10 * 4 and first["params"] == 64 * 10 * 4 + 64


def test_inspect_unsupported_model(tmp_path, capsys):
    b = GraphBuilder()
    x = b.input("x", [1, 2, 8, 8])
    w = b.const(np.ones((3, 2, 3, 3), np.float32))
    y = b.op("Sigmoid", [b.op("Conv", [x, w], dilations=[2, 2], name="dil")], name="sig")
    path = tmp_path / "bad_ops.onnx"
    onnx.save(b.build(y), path)
    out = tmp_path / "bad.json"
    assert main(["inspect", str(path), "--json", str(out)]) == 2
    captured = capsys.readouterr()
    assert "2 unsupported" in captured.out
    assert "node 0 'dil' (Conv): dilation 2" in captured.err
    assert "node 1 'sig' (Sigmoid)" in captured.err
    assert json.loads(out.read_text())["supported"] is False


def test_inspect_bad_files_without_traceback(tmp_path):
    text_file = tmp_path / "notes.onnx"
    text_file.write_text("not a model")
    for path in (tmp_path / "missing.onnx", text_file):
        run = subprocess.run([sys.executable, "-m", "hlsgen", "inspect", str(path)],
                             capture_output=True, text=True)
        assert run.returncode == 2
        assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
        assert str(path) in run.stderr
