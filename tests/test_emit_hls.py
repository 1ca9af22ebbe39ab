"""HLS C++ emission: g++ C simulation of random tiny networks equals the numpy reference.

Each case emits a design's ``hls/`` files, compiles them with g++ and the real Xilinx ap_int
headers (from the hls4ml wheel, or ``$XILINX_HLS``), runs the generated C testbench on random
frames and requires exit status 0: every output integer equal to ``hlsgen.reference.execute``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory import random_graph, random_input, tie_prone
from hlsgen import ir
from hlsgen.design import apply_design
from hlsgen.emit.dataflow import MIN_FIFO_DEPTH, plan_dataflow
from hlsgen.emit.hls import c_literal, emit_hls
from hlsgen.emit.project import vector_text
from hlsgen.emit.writer import write_tree
from hlsgen.hw import Target, plan_hardware
from hlsgen.hw.netlist import Op
from hlsgen.reference import execute


def ap_include() -> Path | None:
    if os.environ.get("XILINX_HLS"):
        return Path(os.environ["XILINX_HLS"]) / "include"
    spec = importlib.util.find_spec("hls4ml")
    if spec is None:
        return None
    return Path(spec.submodule_search_locations[0]) / "templates" / "vivado" / "ap_types"


AP_INCLUDE = ap_include()


def test_csim_toolchain_is_installed():
    """C simulation is part of the suite: g++ and the real ap_int headers must be there."""
    assert shutil.which("g++"), "g++ is needed for C simulation"
    assert AP_INCLUDE is not None and (AP_INCLUDE / "ap_int.h").is_file(), (
        "the Xilinx ap_int headers are needed (make install puts the hls4ml wheel in .venv)")


def run_csim(files: dict, x: np.ndarray, expected: np.ndarray, where: Path,
             opt: str = "-O0") -> subprocess.CompletedProcess:
    """Write the HLS files and vectors, compile the testbench, run it; return the run."""
    tree = dict(files)
    tree["tb/input.txt"] = vector_text(x)
    tree["tb/expected.txt"] = vector_text(expected)
    root = write_tree(where / "project", tree)
    hls = root / "hls"
    binary = root / "csim"
    # -O0: these designs are tiny and compile time dominates; `make csim` (-O2) is tested in
    # test_generate.py.
    subprocess.run(["g++", "-std=c++17", opt, f"-I{hls}", f"-I{AP_INCLUDE}",
                    f"-I{hls / 'csim_compat'}", str(hls / "hlsgen_top.cpp"),
                    str(hls / "tb_hlsgen_top.cpp"), "-o", str(binary)],
                   check=True, capture_output=True, text=True)
    return subprocess.run([str(binary), str(root / "tb" / "input.txt"),
                           str(root / "tb" / "expected.txt")], capture_output=True, text=True)


def check_design(design, where: Path, frames: int = 6, seed: int = 0) -> None:
    x = random_input(design.graph, frames, seed)
    expected = np.asarray(execute(design.graph, x)).reshape(frames, -1)
    result = run_csim(emit_hls(design), x, expected, where)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"csim: {frames} frames, 0 mismatches" in result.stdout


# -- exactness ---------------------------------------------------------------------------
@settings(max_examples=4, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**20),
       layers=st.sampled_from([
           ("conv", "dwconv", "maxpool", "avgpool", "add", "dense"),
           ("conv", "add", "conv", "avgpool"),
           ("dwconv", "maxpool", "conv", "dense"),
       ]))
def test_random_network_csim_matches_reference(tmp_path_factory, seed, layers):
    graph = random_graph(seed, layers, signed=None, rounding="mixed")
    check_design(apply_design(graph, "exact"), tmp_path_factory.mktemp("csim"), seed=seed)


@pytest.mark.parametrize("layers,seed", [(("avgpool",), 4), (("add",), 4), (("conv",), 1)])
def test_half_even_ties_csim(tmp_path, layers, seed):
    """Half-even and half-up differ on these inputs; the C++ must follow the IR (half-even)."""
    graph = random_graph(seed, layers)
    even = tie_prone(graph, ir.Rounding.HALF_EVEN)
    x = random_input(graph, 6, seed)
    assert not np.array_equal(execute(even, x),
                              execute(tie_prone(graph, ir.Rounding.HALF_UP), x)), "no tie"
    check_design(apply_design(even, "exact"), tmp_path, seed=seed)


@pytest.mark.parametrize("method", ["po2", "lcc"])
def test_approximate_methods_with_wide_weights_csim(tmp_path, method):
    # 20-bit weights give ~40-bit requantization products and 64-bit literals.
    graph = random_graph(7, ("conv", "dwconv", "add", "avgpool", "dense"), weight_bits=20,
                         signed=None, rounding="mixed")
    check_design(apply_design(graph, method), tmp_path, seed=7)


def test_csim_reports_a_wrong_expected_value(tmp_path):
    graph = random_graph(3, ("conv", "dense"))
    design = apply_design(graph, "exact")
    x = random_input(graph, 3, 1)
    expected = np.asarray(execute(graph, x)).reshape(3, -1).copy()
    expected[1, 0] += 1
    result = run_csim(emit_hls(design), x, expected, tmp_path)
    assert result.returncode == 1
    assert "frame 1 pixel 0 channel 0" in result.stderr
    assert "csim: 3 frames, 1 mismatches" in result.stdout


# -- text properties ---------------------------------------------------------------------
def kernel_files(files: dict) -> dict:
    """The synthesizable sources: everything in hls/ but the testbench and the csim shim."""
    return {path: text for path, text in files.items()
            if path.endswith((".h", ".cpp")) and "tb_" not in path and "csim_compat" not in path}


def test_kernels_contain_no_multiplication():
    graph = random_graph(11, ("conv", "dwconv", "maxpool", "avgpool", "add", "dense"),
                         weight_bits=12)
    kernels = kernel_files(emit_hls(apply_design(graph, "exact")))
    assert len(kernels) == 3 + len(graph.layers) + 1  # top .h/.cpp, ops, layers, one fork
    for path, text in kernels.items():
        assert "*" not in text, path


def test_emission_is_deterministic():
    graph = random_graph(5)
    first = emit_hls(apply_design(graph, "exact"))
    second = emit_hls(apply_design(random_graph(5), "exact"))
    assert first == second


def test_nodes_are_the_hardware_plans_with_its_exact_widths():
    """Every datapath node is declared as the Verilog declares its wire: same name, same
    exact width (the kernel renders the hardware plan's netlist)."""
    graph = random_graph(2, ("conv", "maxpool", "add", "avgpool", "dense"), signed=None)
    design = apply_design(graph, "exact")
    plan = plan_dataflow(design)
    files = emit_hls(design)
    for process in plan.layers:
        dp = process.module.datapath
        text = files[f"hls/{process.ident}.h"]
        declared = {int(n): int(w) for w, n in re.findall(r"const ap_int<(\d+)> n(\d+) =", text)}
        live = {n for n, node in enumerate(dp.nodes) if dp.live[n] and node.op is not Op.CONST}
        assert set(declared) == live, process.name
        for n, width in declared.items():
            if dp.nodes[n].op is not Op.CLAMP:  # a clamp is declared in its working width
                assert width == dp.nodes[n].width, (process.name, n)


def test_top_declares_streams_with_planned_depths():
    graph = random_graph(4, ("conv", "add", "dense"))
    design = apply_design(graph, "exact")
    plan = plan_dataflow(design)
    top = emit_hls(design)["hls/hlsgen_top.cpp"]
    for stream in plan.streams:
        assert f"#pragma HLS STREAM variable={stream.ident} depth={stream.depth}" in top
    assert "#pragma HLS DATAFLOW" in top
    assert "#pragma HLS INTERFACE mode=ap_ctrl_none port=return" in top


def test_c_literal():
    assert c_literal(5) == "5"
    assert c_literal(-(1 << 31) + 1) == "-2147483647"
    assert c_literal(1 << 31) == "2147483648LL"
    assert c_literal(-(1 << 40)) == "-1099511627776LL"
    with pytest.raises(AssertionError):
        c_literal(1 << 63)


# -- stream depths: the hardware plan's schedule ------------------------------------------
def _residual_graph(width: int) -> ir.Graph:
    """x (4 x width x 1) -> conv 3x3 pad 1 -> add(conv, x): one fork, two branches."""
    t = {name: ir.Tensor(name, (4, width, 1), ir.DType.INT8, 0.1, 0) for name in "xcy"}
    rq = ir.Requant(np.array([1]), np.array([4]), 0, -128, 127)
    conv = ir.Conv("conv", ("c",), "x", "c", np.ones((1, 3, 3, 1), np.int64),
                   np.zeros(1, np.int64), (1, 1), (1, 1, 1, 1), 1, rq)
    add = ir.Add("add", ("a",), "c", "x", "y", np.array([1]), np.array([1]),
                 ir.Requant(np.array([1]), np.array([1]), 0, -128, 127))
    return ir.Graph("res", "x", "y", t, (conv, add), np.arange(4 * width), "y")


def hls_depths_match_schedule(design, options=None) -> None:
    """Every stream an Add reads is as deep as the Verilog Add's FIFO on that input (the exact
    schedule); every other stream has the minimum depth."""
    plan = plan_dataflow(design, options)
    schedule = plan_hardware(design, options).schedule
    expected = {}
    for name, depths in schedule.fifo_depths.items():
        add = plan.layer(name)
        for stream, depth in zip(add.in_streams, depths):
            expected[stream] = depth
    assert expected or not any(p.kind is ir.LayerKind.ADD for p in plan.layers)
    for stream in plan.streams:
        assert stream.depth == expected.get(stream.ident, MIN_FIFO_DEPTH), stream.ident
    top = emit_hls(design, options)["hls/hlsgen_top.cpp"]
    for stream in plan.streams:
        assert f"#pragma HLS STREAM variable={stream.ident} depth={stream.depth}" in top


@pytest.mark.parametrize("width", [3, 7])
def test_residual_fifo_depth_is_the_schedule_depth(width):
    graph = _residual_graph(width)
    design = apply_design(graph, "exact")
    hls_depths_match_schedule(design)
    plan = plan_dataflow(design)
    (fork,) = plan.forks
    to_conv, to_add = (plan.stream(s) for s in fork.out_streams)
    # The identity branch waits for the conv's window (width + 1 beats of lag) and pipeline.
    assert to_add.consumer == plan.layer("add").ident
    assert to_add.depth > width + 1
    assert to_conv.depth == MIN_FIFO_DEPTH


@settings(max_examples=6, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**20), pipeline=st.sampled_from([None, 1, 4]),
       layers=st.sampled_from([("conv", "add", "conv", "avgpool"),
                               ("dwconv", "add", "maxpool", "add", "dense"),
                               ("conv", "maxpool", "dense")]))
def test_hls_stream_depths_are_the_verilog_schedules(seed, pipeline, layers):
    graph = random_graph(seed, layers, signed=None)
    hls_depths_match_schedule(apply_design(graph, "exact"), Target(pipeline=pipeline))


def test_plan_rejects_graphs_that_do_not_compute_the_weights():
    graph = random_graph(2, ("conv", "dense"))
    design = apply_design(graph, "exact")
    wrong = apply_design(random_graph(3, ("conv", "dense")), "exact")
    mixed = replace(design, impls=wrong.impls)
    with pytest.raises(AssertionError, match="does not compute the IR weight|graphs for"):
        plan_dataflow(mixed)


def test_streams_wider_than_ap_int_default_compile_and_match(tmp_path):
    from hlsgen.systolic.layers import conv_graph

    # 130 input channels: a 1,040-bit stream, past ap_int.h's default 1,024 bits
    graph = conv_graph((2, 2, 130), 3, (1, 1), seed=2)
    design = apply_design(graph, "exact")
    header = emit_hls(design)["hls/hlsgen_top.h"]
    assert "#define AP_INT_MAX_W 2048" in header
    assert header.index("AP_INT_MAX_W") < header.index("#include <ap_int.h>")
    assert "AP_INT_MAX_W" not in emit_hls(apply_design(random_graph(1, ("conv",)), "exact"))[
        "hls/hlsgen_top.h"]
    check_design(design, tmp_path, frames=2)
