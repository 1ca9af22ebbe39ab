"""``hlsgen build`` end to end (search, then the project of the chosen design), and what
``generate --design`` takes from and checks against the design file.

Small searches (one generation of four designs) keep this fast; the project's ``make csim``
proves the chosen design bit-exact against the integer reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx_builders import GraphBuilder

from hlsgen.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "digits_cnn.onnx"
EXAMPLE_DATA = ROOT / "examples" / "digits_test.npz"
EXAMPLE_CAL = ROOT / "examples" / "digits_calib.npz"
QUICK = ["--generations", "1", "--population", "4", "--jobs", "1", "--count", "3"]


def build(*args) -> int:
    return main(["build", *map(str, args), *QUICK])


def design_of(project: Path) -> dict:
    return json.loads((project.with_name(project.name + ".explore") / "design.json").read_text())


def csim(project: Path) -> dict:
    result = subprocess.run(["make", "-C", str(project), "csim", f"PYTHON={sys.executable}"],
                            capture_output=True, text=True, env=dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((project / "results" / "csim.json").read_text())


def int8_model(folder: Path) -> tuple[Path, Path]:
    """An int8 QDQ Conv -> Flatten -> MatMul classifier (mnist8's pattern) and labelled data."""
    rng = np.random.default_rng(3)
    b = GraphBuilder()
    x = b.input("x", [1, 2, 6, 6], np.int8)
    dq = b.dequant(x, 0.5, 0)
    w = b.qconst(rng.integers(-20, 21, size=(4, 2, 3, 3)), np.float32(0.03125))
    bias = b.qconst(rng.integers(-40, 41, size=4), np.float32(0.5 * 0.03125), dtype=np.int32)
    conv = b.op("Relu", [b.op("Conv", [dq, w, bias], kernel_shape=[3, 3])])
    q1, dq1 = b.requant(conv, 0.25, -128)
    flat = b.op("Flatten", [dq1])
    w2 = b.qconst(rng.integers(-30, 31, size=(64, 5)), np.float32(0.015625))
    y = b.op("MatMul", [flat, w2])
    q2, _ = b.requant(y, 0.125, 0)
    model = b.build(q2, np.int8)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "int8.onnx"
    path.write_bytes(model.SerializeToString())
    data = rng.integers(-128, 128, size=(40, 2, 6, 6)).astype(np.int8)
    np.savez(folder / "int8.npz", x=data, y=rng.integers(0, 5, size=40))
    return path, folder / "int8.npz"


def test_build_float_model_with_data_is_exact_and_records_its_target(tmp_path, capsys):
    project = tmp_path / "prj"
    assert build(EXAMPLE, "-o", project, "--calibration", EXAMPLE_CAL, "--data", EXAMPLE_DATA,
                 "--limit", "90", "--device", "xc7a100t") == 0
    out = capsys.readouterr().out
    assert "pareto plot:" in out and "wrote" in out
    design = design_of(project)
    assert design["part"] == "xc7a100tcsg324-1" and design["device"] == "xc7a100t"
    assert design["clock_mhz"] == 200.0 and design["model_sha256"]
    assert set(design["quantization"]) == {"calibration_sha256"}
    assert (project.with_name("prj.explore") / "pareto.png").is_file()
    # The project targets the searched part and was built from the chosen design.
    readme = (project / "README.md").read_text()
    assert "--device xc7a100tcsg324-1" in readme and "--design" in readme
    report = csim(project)
    assert report["frames"] == 3 and report["mismatches"] == 0


def test_build_float_model_data_free_with_an_input_range(tmp_path):
    project = tmp_path / "free"
    assert build(EXAMPLE, "-o", project, "--input-range", "0", "16") == 0
    design = design_of(project)
    assert design["quantization"] == {"input_range": [0.0, 16.0]}
    assert design["data"] == "synthetic"
    assert "--input-range 0 16" in (project / "README.md").read_text()


@pytest.mark.parametrize("with_data", [True, False])
def test_build_int8_model(tmp_path, with_data):
    model, data = int8_model(tmp_path / "m")
    project = tmp_path / "prj"
    extra = ["--data", data] if with_data else []
    assert build(model, "-o", project, *extra) == 0
    design = design_of(project)
    assert design["quantization"] == {}
    assert design["data"] == ("labelled" if with_data else "synthetic")
    assert (project / "tb" / "expected.txt").is_file()
    if with_data:
        assert csim(project)["mismatches"] == 0


def test_build_refuses_an_existing_project_before_searching(tmp_path, capsys):
    project = tmp_path / "prj"
    project.mkdir()
    assert build(EXAMPLE, "-o", project, "--input-range", "0", "16") == 2
    assert "already exists" in capsys.readouterr().err
    assert not (tmp_path / "prj.explore").exists()


def test_explore_refuses_to_overwrite_its_products(tmp_path, capsys):
    args = ["explore", str(EXAMPLE), "-o", str(tmp_path / "s"), "--input-range", "0", "16",
            "--generations", "1", "--population", "4", "--jobs", "1"]
    assert main(args) == 0
    assert "next: hlsgen generate" in capsys.readouterr().out
    before = (tmp_path / "s" / "design.json").read_bytes()
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "s" / "design.json").read_bytes() == before
    assert main([*args, "--force"]) == 0


# -- generate --design: what the design was searched for -----------------------------------
@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> Path:
    """design.json of a search for xc7a100t at 150 MHz on the calibrated example."""
    out = tmp_path_factory.mktemp("search") / "s"
    assert main(["explore", str(EXAMPLE), "-o", str(out), "--calibration", str(EXAMPLE_CAL),
                 "--device", "xc7a100t", "--clock-mhz", "150", "--generations", "1",
                 "--population", "4", "--jobs", "1"]) == 0
    return out / "design.json"


def generate(design: Path, out: Path, *extra) -> int:
    return main(["generate", str(EXAMPLE), "-o", str(out), "--design", str(design),
                 "--count", "2", *map(str, extra)])


def test_generate_uses_the_designs_part_and_clock(searched, tmp_path):
    assert generate(searched, tmp_path / "p", "--calibration", EXAMPLE_CAL) == 0
    readme = (tmp_path / "p" / "README.md").read_text()
    assert "--device xc7a100tcsg324-1 --clock-mhz 150" in readme


@pytest.mark.parametrize("extra, message", [
    (["--calibration", EXAMPLE_CAL, "--device", "xc7z020"], "part xc7z020clg400-1"),
    (["--calibration", EXAMPLE_CAL, "--clock-mhz", "200"], "clock 200 MHz"),
    ([], "no --calibration"),
    (["--calibration", EXAMPLE_DATA], "not the file the design was searched with"),
    (["--input-range", "0", "16"], "--input-range"),
])
def test_generate_refuses_a_mismatch_unless_allowed(searched, tmp_path, capsys, extra, message):
    assert generate(searched, tmp_path / "p", *extra) == 2
    err = capsys.readouterr().err
    assert message in err and "--allow-mismatch" in err
    assert not (tmp_path / "p").exists()
    if extra:  # a float model needs some quantization: nothing to allow without one
        assert generate(searched, tmp_path / "p", *extra, "--allow-mismatch") == 0


def test_design_file_given_to_method_and_to_evaluate(searched, tmp_path, capsys):
    """One vocabulary: --method FILE.json reads a design; evaluate takes --design."""
    assert main(["generate", str(EXAMPLE), "-o", str(tmp_path / "p"), "--method", str(searched),
                 "--calibration", str(EXAMPLE_CAL), "--count", "2"]) == 0
    assert main(["evaluate", str(EXAMPLE), "--data", str(EXAMPLE_DATA), "--limit", "20",
                 "--calibration", str(EXAMPLE_CAL), "--design", str(searched),
                 "--json", str(tmp_path / "e.json")]) == 0
    result = json.loads((tmp_path / "e.json").read_text())
    assert result["design_method"] == str(searched) and "design_top1" in result


def test_methods_may_name_layers_by_their_onnx_node(tmp_path):
    from hlsgen.frontend import import_model

    graph = import_model(EXAMPLE, calibration=np.load(EXAMPLE_CAL)["x"])
    first = next(layer for layer in graph.layers if layer.name.startswith("conv"))
    methods = {first.source[0]: "po2"}
    (tmp_path / "m.json").write_text(json.dumps(methods))
    assert main(["decompose", str(EXAMPLE), "--calibration", str(EXAMPLE_CAL), "--design",
                 str(tmp_path / "m.json"), "--json", str(tmp_path / "d.json"),
                 "--jobs", "1"]) == 0
    layers = {row["layer"]: row["method"]
              for row in json.loads((tmp_path / "d.json").read_text())["layers"]}
    assert layers[first.name] == "po2"
    assert all(m == "exact" for name, m in layers.items() if name != first.name)
