"""``hlsgen generate``: the project directory, its vectors, atomic writing and the Makefile.

A tiny float ONNX model (Conv+ReLU, depthwise Conv, residual Add, MaxPool, Gemm) built here
goes through the real CLI; its project's ``make csim`` must match the integer reference
exactly, and two runs must give byte-identical trees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hlsgen.cli import main
from hlsgen.design import apply_design
from hlsgen.emit.writer import write_tree
from hlsgen.frontend import import_model
from hlsgen.reference import execute, quantize_input


MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"


def tiny_model(folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """A float NCHW model on 2x6x6 inputs and 30 samples of data for it."""
    rng = np.random.default_rng(seed)

    def init(name, shape, std):
        return numpy_helper.from_array(rng.normal(0, std, shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=4,
                         name="dw2"),
        helper.make_node("Add", ["c2", "r1"], ["a2"], name="add2"),
        helper.make_node("MaxPool", ["a2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2],
                         name="pool2"),
        helper.make_node("Flatten", ["p2"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1, name="fc"),
    ]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [init("w1", (4, 2, 3, 3), 0.3), init("b1", (4,), 0.1), init("w2", (4, 1, 3, 3), 0.3),
         init("b2", (4,), 0.1), init("w3", (3, 36), 0.3), init("b3", (3,), 0.1)])
    model = helper.make_model(graph, ir_version=10, opset_imports=[helper.make_opsetid("", 17)])
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / "tiny.onnx")
    np.savez(folder / "tiny.npz", x=rng.uniform(0, 1, (30, 2, 6, 6)).astype(np.float32))
    return folder / "tiny.onnx", folder / "tiny.npz"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    return tiny_model(tmp_path_factory.mktemp("model"))


def generate(*args) -> int:
    return main(["generate", *map(str, args)])


def read_vectors(path: Path) -> np.ndarray:
    return np.array([[int(v) for v in line.split()] for line in path.read_text().splitlines()])


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def make(project: Path, target: str, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    return subprocess.run(["make", "-C", str(project), target, f"PYTHON={sys.executable}"],
                          capture_output=True, text=True, env=environment)


# -- the project -------------------------------------------------------------------------
def test_generate_then_make_csim_is_exact(tiny, tmp_path):
    model, data = tiny
    out = tmp_path / "proj"
    assert generate(model, "-o", out, "--calibration", data, "--vectors", data,
                    "--count", 7) == 0
    for path in ("hls/hlsgen_top.cpp", "hls/hls_config.cfg", "hls/build_prj.tcl",
                 "tb/input.txt", "tb/expected.txt", "reference/design_int.onnx", "Makefile",
                 "README.md", "vivado/build_bitstream.tcl", "vivado/package_ip.tcl",
                 "vivado/constraints.xdc"):
        assert (out / path).is_file(), path

    # The vectors are the quantized samples and the integer reference's outputs.
    graph = import_model(model, calibration=np.load(data)["x"])
    x_ir = quantize_input(graph, np.load(data)["x"][:7])
    design = apply_design(graph, "exact")
    assert np.array_equal(read_vectors(out / "tb" / "input.txt"), x_ir)
    assert np.array_equal(read_vectors(out / "tb" / "expected.txt"),
                          np.asarray(execute(design.graph, x_ir)).reshape(7, -1))

    result = make(out, "csim")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((out / "results" / "csim.json").read_text())
    assert report["frames"] == 7 and report["mismatches"] == 0
    assert report["compile_seconds"] > 0 and report["run_seconds"] >= 0


def test_generate_is_deterministic(tiny, tmp_path, monkeypatch):
    model, data = tiny
    trees = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        monkeypatch.chdir(tmp_path / run)
        assert generate(model, "-o", "proj", "--calibration", data, "--count", 3) == 0
        trees.append(tree(tmp_path / run / "proj"))
    assert trees[0].keys() == trees[1].keys()
    assert trees[0] == trees[1]


def test_design_json_sets_methods_per_layer(tiny, tmp_path):
    model, data = tiny
    design_file = tmp_path / "design.json"
    design_file.write_text(json.dumps({"methods": {"conv0": "po2"},
                                       "pipeline": {"conv0": 2}, "luts": 1}))
    out = tmp_path / "proj"
    assert generate(model, "-o", out, "--calibration", data, "--design", design_file,
                    "--count", 4) == 0
    readme = (out / "README.md").read_text()
    assert "| 0 | conv0 | conv | 6x6x2 -> 6x6x4 | po2 |" in readme
    assert "| 1 | dw1 | conv | 6x6x4 -> 6x6x4 | exact |" in readme
    graph = import_model(model, calibration=np.load(data)["x"])
    design = apply_design(graph, {"conv0": "po2"})
    x_ir = read_vectors(out / "tb" / "input.txt")
    assert np.array_equal(read_vectors(out / "tb" / "expected.txt"),
                          np.asarray(execute(design.graph, x_ir)).reshape(4, -1))


# -- atomic writing ----------------------------------------------------------------------
def test_existing_outdir_needs_force(tiny, tmp_path, capsys):
    model, data = tiny
    out = tmp_path / "proj"
    out.mkdir()
    (out / "stray.txt").write_text("keep me")
    assert generate(model, "-o", out, "--calibration", data, "--count", 2) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert (out / "stray.txt").read_text() == "keep me"

    assert generate(model, "-o", out, "--calibration", data, "--count", 2, "--force") == 0
    assert not (out / "stray.txt").exists()
    assert (out / "Makefile").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]  # no temp dirs left


class _Explodes:
    """File content that fails while being written."""


def test_failed_write_leaves_nothing_behind(tmp_path):
    files = {"a.txt": "first", "b/c.txt": "second", "z.txt": _Explodes()}
    with pytest.raises(TypeError):
        write_tree(tmp_path / "new", files)
    assert list(tmp_path.iterdir()) == []

    old = tmp_path / "old"
    write_tree(old, {"keep.txt": "old content"})
    with pytest.raises(TypeError):
        write_tree(old, files, force=True)
    assert tree(old) == {"keep.txt": b"old content"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]


def test_writer_writes_exact_bytes_and_rejects_bad_paths(tmp_path):
    root = write_tree(tmp_path / "t", {"x/y.txt": "caf\u00e9\n", "bin.dat": b"\x00\xff"})
    assert tree(root) == {"bin.dat": b"\x00\xff", "x/y.txt": "caf\u00e9\n".encode()}
    for bad in ("../escape.txt", "/abs.txt", "a//b.txt", "./a.txt"):
        with pytest.raises(AssertionError, match="not a plain relative path"):
            write_tree(tmp_path / "u", {bad: "x"})
    assert not (tmp_path / "u").exists()


# -- bad inputs --------------------------------------------------------------------------
def _bad_design(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize("extra, message", [
    (["--count", "0"], "--count must be >= 1"),
    (["--count", "31", "--vectors", "DATA"], "holds (30)"),
    (["--part", "xc7z020 clg400"], "not an FPGA part name"),
    (["--clock-mhz", "0"], "--clock-mhz 0 is out of range"),
    (["--pipeline", "0"], "integer >= 1"),
    (["--method", "terms:0"], "K in 'terms:K' must be an integer >= 1"),
    (["--design", "MISSING"], "does not exist"),
    (["--design", "BADJSON"], "is not readable JSON"),
    (["--design", "NOMETHODS"], "has no \"methods\" object"),
    (["--design", "UNKNOWN"], "has no Conv/Dense layer named 'nope'"),
    (["--design", "BADPIPE"], "\"pipeline\" names layers the model does not have: ghost"),
])
def test_bad_arguments_are_clear_errors(tiny, tmp_path, capsys, extra, message):
    model, data = tiny
    substitutes = {
        "DATA": data,
        "MISSING": tmp_path / "missing.json",
        "BADJSON": _bad_design(tmp_path, "badjson", "{not json"),
        "NOMETHODS": _bad_design(tmp_path, "nomethods", '{"luts": 3}'),
        "UNKNOWN": _bad_design(tmp_path, "unknown", '{"methods": {"nope": "po2"}}'),
        "BADPIPE": _bad_design(tmp_path, "badpipe", '{"methods": {}, "pipeline": {"ghost": 2}}'),
    }
    args = [str(substitutes.get(a, a)) for a in extra]
    out = tmp_path / "proj"
    assert generate(model, "-o", out, "--calibration", data, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("hlsgen generate: error: ")
    assert message in err
    assert not out.exists()


def test_missing_model_and_vectors_without_x(tiny, tmp_path, capsys):
    model, data = tiny
    assert generate(tmp_path / "none.onnx", "-o", tmp_path / "p") == 2
    assert "none.onnx" in capsys.readouterr().err
    np.savez(tmp_path / "nox.npz", y=np.zeros(3))
    assert generate(model, "-o", tmp_path / "p", "--calibration", data,
                    "--vectors", tmp_path / "nox.npz") == 2
    assert "has no array 'x'" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_float_model_needs_calibration_or_an_input_range(tiny, tmp_path, capsys):
    model, _ = tiny
    assert generate(model, "-o", tmp_path / "p") == 2
    assert "--input-range" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()
    assert generate(model, "-o", tmp_path / "p", "--input-range", 0, 1, "--count", 2) == 0
    assert "--input-range 0 1" in (tmp_path / "p" / "README.md").read_text()


def test_refuses_to_replace_the_directory_holding_its_inputs(tiny, tmp_path, capsys):
    model, data = tiny
    assert generate(model, "-o", model.parent, "--calibration", data, "--force") == 2
    assert "contains the input" in capsys.readouterr().err
    assert model.is_file() and data.is_file()


# -- Makefile vendor targets -------------------------------------------------------------
@pytest.fixture(scope="module")
def project(tiny, tmp_path_factory) -> Path:
    model, data = tiny
    out = tmp_path_factory.mktemp("vendor") / "proj"
    assert generate(model, "-o", out, "--calibration", data, "--count", 2) == 0
    return out


@pytest.mark.parametrize("target, tool", [("hls", "v++"), ("cosim", "vitis-run"),
                                          ("bitstream", "vivado")])
def test_vendor_target_without_its_tool_says_what_is_missing(project, target, tool):
    result = make(project, target, PATH="/usr/bin:/bin")
    assert result.returncode != 0
    assert f"make {target}: {tool} not found on PATH" in result.stdout
    report = json.loads((project / "results" / f"{target}.json").read_text())
    assert report == {"target": target, "returncode": 3, "error": f"{tool} not found on PATH"}


def test_vendor_target_runs_the_documented_commands(project, tmp_path):
    # Stand-ins for v++ / vitis-run that only record their arguments: this checks the
    # Makefile's plumbing (command lines, log, JSON), not Vitis.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("v++", "vitis-run"):
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{tmp_path}/calls.log"\n')
        stub.chmod(0o755)
    result = make(project, "hls", PATH=f"{bin_dir}:/usr/bin:/bin")
    assert result.returncode == 0, result.stdout + result.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls == [
        "v++ -c --mode hls --config hls/hls_config.cfg --work_dir build/hls",
        "vitis-run --mode hls --package --config hls/hls_config.cfg --work_dir build/hls",
    ]
    report = json.loads((project / "results" / "hls.json").read_text())
    assert report["returncode"] == 0 and report["log"] == "results/hls.log"


# -- real model --------------------------------------------------------------------------
@pytest.mark.slow
def test_kws_int8_project_with_real_vectors(tmp_path):
    # (Generation time is a benchmark figure, not asserted: this machine is shared.)
    folder = MODELS / "kws_dscnn_int8"
    assert generate(folder / "model.onnx", "-o", tmp_path / "kws", "--vectors",
                    folder / "data.npz", "--count", 5) == 0
    graph = import_model(folder / "model.onnx")
    x_ir = quantize_input(graph, np.load(folder / "data.npz")["x"][:5])
    assert np.array_equal(read_vectors(tmp_path / "kws" / "tb" / "input.txt"), x_ir)
    # "exact" keeps the IR weights, so the imported graph itself is the reference.
    assert np.array_equal(read_vectors(tmp_path / "kws" / "tb" / "expected.txt"),
                          np.asarray(execute(graph, x_ir)).reshape(5, -1))
    kernels = sorted(p.name for p in (tmp_path / "kws" / "hls").glob("l*_*.h"))
    assert len(kernels) == len(graph.layers)
