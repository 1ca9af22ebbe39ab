"""``--name``: a project's top is ``NAME_top`` and every Verilog module, its file and every HLS
function carry the name, so two cores of different names share one Vivado design (or one C++
program); the project's own ``make csim`` / ``make sim`` / estimate follow the name.

Bad names are refused on the command line in ``tests/test_hostile_inputs.py``.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from factory import random_graph
from hlsgen.cli import main
from hlsgen.design import apply_design
from hlsgen.emit.common import DEFAULT_NAME, CoreName, templates_dir
from hlsgen.emit.hls import emit_hls
from hlsgen.emit.rtl import PRIMITIVES, emit_rtl
from hlsgen.errors import InputError
from hlsgen.verify.estimate import datapath_modules, run_yosys, top_module
from test_emit_hls import AP_INCLUDE
from test_generate import make, tiny_model
from test_hostile_names import verilator

MODULE = re.compile(r"^\s*module\s+(\w+)", re.MULTILINE)
HLS_FUNCTION = re.compile(r"^(?:static )?void (\w+)\(", re.MULTILINE)


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, Path]:
    """The tiny model of test_generate (conv, depthwise conv, residual Add with a fork,
    MaxPool, Gemm) generated as core ``acc1`` and as core ``acc2``."""
    root = tmp_path_factory.mktemp("named")
    model, data = tiny_model(root / "in")
    out = {}
    for name in ("acc1", "acc2"):
        out[name] = root / name
        assert main(["generate", str(model), "-o", str(out[name]), "--calibration", str(data),
                     "--count", "3", "--name", name]) == 0
    return out


def declared_modules(project: Path) -> dict[str, list[str]]:
    """rtl file name -> the modules it declares."""
    return {p.name: MODULE.findall(p.read_text()) for p in sorted((project / "rtl").glob("*.v"))}


def test_every_module_file_and_function_carries_the_name(projects):
    project = projects["acc1"]
    modules = declared_modules(project)
    assert "acc1_top.v" in modules and modules["acc1_top.v"] == ["acc1_top"]
    assert {"acc1_window.v", "acc1_pair.v", "acc1_fifo.v", "acc1_fork.v", "acc1_skid.v"} <= set(
        modules)
    for file, declared in modules.items():
        assert declared and declared[0] == file[:-2], file  # file names follow the modules
        assert all(m.startswith("acc1_") for m in declared), (file, declared)
    every = {m for declared in modules.values() for m in declared}
    for path in (project / "rtl").glob("*.v"):  # nothing instantiates a module of another name
        text = path.read_text()
        assert not re.search(r"\bhlsgen_", text), path
        used = set(re.findall(r"^\s*(\w+)\s+(?:#\(|u_\w+ \()", text, re.MULTILINE))
        assert used <= every, (path, used - every)

    hls = project / "hls"
    assert "void acc1_top(" in (hls / "acc1_top.h").read_text()
    assert "#ifndef ACC1_TOP_H" in (hls / "acc1_top.h").read_text()
    assert '#include "acc1_top.h"' in (hls / "tb_acc1_top.cpp").read_text()
    top_cpp = (hls / "acc1_top.cpp").read_text()
    for path in [hls / "acc1_top.cpp", *hls.glob("*.h")]:
        if path.name == "hlsgen_ops.h":  # shared primitives: inline templates
            continue
        functions = HLS_FUNCTION.findall(path.read_text())
        assert functions and all(f.startswith("acc1_") for f in functions), (path, functions)
    assert "acc1_l0_conv0(" in top_cpp and "acc1_fork_" in top_cpp
    # (tb/test_hlsgen_top.py keeps its name: a cocotb test module, not part of the design)
    assert not [p for d in ("hls", "rtl") for p in (project / d).rglob("*")
                if "hlsgen_top" in p.name]

    assert "syn.top=acc1_top\nsyn.file=acc1_top.cpp\ntb.file=tb_acc1_top.cpp" in (
        hls / "hls_config.cfg").read_text()
    assert "set_top acc1_top" in (hls / "build_prj.tcl").read_text()
    assert "hls/acc1_top.cpp hls/tb_acc1_top.cpp" in (project / "Makefile").read_text()
    assert "set top acc1_top\n" in (project / "vivado" / "build_bitstream.tcl").read_text()
    assert "set_property top acc1_top " in (project / "vivado" / "package_ip.tcl").read_text()
    readme = (project / "README.md").read_text()
    assert "--name acc1" in readme and "`acc1_top`" in readme and "hls/acc1_top.cpp" in readme
    # the tools find the top and the layer modules in rtl/hlsgen_cost.json
    cost = json.loads((project / "rtl" / "hlsgen_cost.json").read_text())
    assert cost["top"] == "acc1_top" == top_module(project / "rtl")
    for layer, parts in datapath_modules(project / "rtl").items():
        assert layer.startswith("acc1_l") and all(p.startswith(layer + "_dp") for p in parts)


def test_named_project_simulates_exactly(projects):
    """The project's own make csim (g++) and make sim (Verilator, cocotb) with the new top."""
    project = projects["acc1"]
    for target in ("csim", "sim"):
        result = make(project, target)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        report = json.loads((project / "results" / f"{target}.json").read_text())
        assert report["frames"] == 3 and report["mismatches"] == 0


def test_two_names_share_one_design(projects, tmp_path):
    one, two = (declared_modules(projects[name]) for name in ("acc1", "acc2"))
    assert not set(one) & set(two)  # file names
    assert not {m for ms in one.values() for m in ms} & {m for ms in two.values() for m in ms}
    # Verilog: both tops elaborate side by side under one wrapper, no module declared twice
    (tmp_path / "two_cores.v").write_text(
        "module two_cores (input wire ap_clk, input wire ap_rst_n);\n"
        "    acc1_top u_acc1 (.ap_clk(ap_clk), .ap_rst_n(ap_rst_n));\n"
        "    acc2_top u_acc2 (.ap_clk(ap_clk), .ap_rst_n(ap_rst_n));\n"
        "endmodule\n")
    sources = [str(tmp_path / "two_cores.v")] + [
        str(p) for name in ("acc1", "acc2") for p in sorted((projects[name] / "rtl").glob("*.v"))]
    command, env = verilator()
    lint = subprocess.run(command + ["--lint-only", "-Wno-fatal", "-Wno-WIDTH",
                                     "-Wno-PINMISSING", "--top-module", "two_cores", *sources],
                          capture_output=True, text=True, env=env)
    assert lint.returncode == 0, lint.stderr[-2000:]
    assert "%Error" not in lint.stderr and "MODDUP" not in lint.stderr, lint.stderr[-2000:]
    # C++: one program includes both headers, links both tops and runs a frame through each
    (tmp_path / "two_cores.cpp").write_text("""#include "acc1_top.h"
#include "acc2_top.h"
int main() {
    hls::stream<acc1_in_beat> a_in; hls::stream<acc1_out_beat> a_out;
    hls::stream<acc2_in_beat> b_in; hls::stream<acc2_out_beat> b_out;
    for (int i = 0; i < ACC1_IN_BEATS; i++) { acc1_in_beat beat; beat.data = 0; a_in.write(beat); }
    for (int i = 0; i < ACC2_IN_BEATS; i++) { acc2_in_beat beat; beat.data = 0; b_in.write(beat); }
    acc1_top(a_in, a_out);
    acc2_top(b_in, b_out);
    int beats = 0;
    for (; !a_out.empty(); beats++) a_out.read();
    for (; !b_out.empty(); beats++) b_out.read();
    return beats == ACC1_OUT_BEATS + ACC2_OUT_BEATS ? 0 : 1;
}
""")
    hls = [projects[name] / "hls" for name in ("acc1", "acc2")]
    binary = tmp_path / "two_cores"
    build = subprocess.run(["g++", "-std=c++17", "-O0", *(f"-I{h}" for h in hls),
                            f"-I{AP_INCLUDE}", f"-I{hls[0] / 'csim_compat'}",
                            str(tmp_path / "two_cores.cpp"), str(hls[0] / "acc1_top.cpp"),
                            str(hls[1] / "acc2_top.cpp"), "-o", str(binary)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    assert subprocess.run([str(binary)], capture_output=True).returncode == 0


def test_estimate_finds_the_named_top(tmp_path):
    """yosys synthesises the named top; the report's layers and parts carry the name."""
    graph = random_graph(5, ("conv", "add", "dense"), max_channels=2, max_hw=4, weight_bits=4)
    for rel, text in emit_rtl(apply_design(graph, "exact"), core=CoreName("acc3")).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    report = run_yosys(tmp_path / "rtl", timeout=600)
    layers = set(datapath_modules(tmp_path / "rtl"))
    assert layers and layers <= set(report.modules)
    assert {"acc3_window", "acc3_skid"} <= {p for parts in report.parts.values() for p in parts}
    assert report.total.luts > 0 and report.total.dsps == 0


def test_the_default_name_changes_nothing():
    """Without --name: hlsgen_top, unprefixed layer modules, the primitives as written."""
    graph = random_graph(5, ("conv", "maxpool", "add", "avgpool", "dense"), max_channels=2,
                         max_hw=4, weight_bits=4, signed=None)
    design = apply_design(graph, "exact")
    default = {**emit_rtl(design), **emit_hls(design)}
    assert default == {**emit_rtl(design, core=CoreName(DEFAULT_NAME)),
                       **emit_hls(design)}
    assert "rtl/hlsgen_top.v" in default and "hls/hlsgen_top.cpp" in default
    assert "rtl/l0_conv0.v" in default and '"top"' not in default["rtl/hlsgen_cost.json"]
    for name in PRIMITIVES:
        assert default[f"rtl/{name}"] == (templates_dir() / "rtl" / "primitives" / name
                                          ).read_text()


@pytest.mark.parametrize("name", ["a", "A1", "acc_1", "Module", "x" * 32, "my_core_v2"])
def test_good_names(name):
    assert CoreName(name).top == f"{name}_top"
    assert CoreName(name).layer("l0_conv") == f"{name}_l0_conv"


@pytest.mark.parametrize("name,why", [("module", "keyword"), ("class", "keyword"),
                                      ("logic", "keyword"), ("1abc", "a letter"),
                                      ("x" * 33, "33 characters"), ("a__b", "underscores"),
                                      ("acc_", "underscores"), ("", "a letter")])
def test_bad_names_say_why(name, why):
    with pytest.raises(InputError, match=why) as info:
        CoreName(name)
    assert str(info.value).startswith("--name '") and "\n" not in str(info.value)


def test_emit_hls_follows_the_name():
    graph = random_graph(2, ("conv", "dense"), max_channels=2, max_hw=4)
    files = emit_hls(apply_design(graph, "exact"), core=CoreName("acc4"))
    assert {"hls/acc4_top.cpp", "hls/acc4_top.h", "hls/tb_acc4_top.cpp"} <= set(files)
    assert not [p for p in files if "hlsgen_top" in p]
