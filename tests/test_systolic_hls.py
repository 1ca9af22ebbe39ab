"""HLS C++ of the whole-network systolic engine (hlsgen.systolic.nethls): ``make csim`` of a
generated project compiles ``hls/`` with g++ and the real ap_int headers and must give exactly
the reference executor's output on every frame, for DSP and shift-add PEs alike -- random
networks with every step kind (Conv, depthwise, MaxPool, residual Add, AvgPool, Dense) and
mnist8 on real frames.  The shift-add C++ has no ``*`` at all.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from factory import random_graph, random_input
from hlsgen import ir
from hlsgen.reference import execute
from hlsgen.systolic import ArrayShape
from hlsgen.systolic.nethls import emit_network_hls
from hlsgen.systolic.network import Op, plan_network
from hlsgen.systolic.project import write_network_project

MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
PE_ARRAYS = {"dsp": ArrayShape(12, 16), "shiftadd": ArrayShape(16, 16)}  # the CLI's defaults


def _network(seed: int, middle: tuple[str, ...], last: str) -> ir.Graph:
    return random_graph(seed, ("conv", *middle, last), signed=None, rounding="mixed",
                        max_channels=6, max_hw=5)


def _with_weight(graph: ir.Graph, name: str, index: int, value: int) -> ir.Graph:
    """``graph`` with weight ``index`` (flat) of layer ``name`` set to ``value``."""
    def change(layer):
        weight = layer.weight.copy()
        weight.flat[index] = value
        return dataclasses.replace(layer, weight=weight)

    return dataclasses.replace(graph, layers=tuple(
        change(layer) if layer.name == name else layer for layer in graph.layers))


def _rounding(graph: ir.Graph, rounding: ir.Rounding) -> ir.Graph:
    """``graph`` with every requantization rounding in ``rounding`` mode."""
    def change(layer):
        if getattr(layer, "requant", None) is None:
            return layer
        return dataclasses.replace(layer, requant=dataclasses.replace(layer.requant,
                                                                      rounding=rounding))

    return dataclasses.replace(graph, layers=tuple(change(layer) for layer in graph.layers))


def _start_csim(where: Path) -> subprocess.Popen:
    return subprocess.Popen(["make", "-s", "csim", f"PYTHON={sys.executable}"], cwd=where,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _csim_projects(projects: dict[str, Path]) -> dict[str, dict]:
    """Run ``make csim`` in every project at once (one compile per core); their
    ``results/csim.json``."""
    running = {key: _start_csim(where) for key, where in projects.items()}
    results = {}
    for key, process in running.items():
        output, _ = process.communicate()
        assert process.returncode == 0, f"{key}: make csim failed\n{output[-3000:]}"
        results[key] = json.loads((projects[key] / "results" / "csim.json").read_text())
    return results


def _code_without_comments(text: str) -> str:
    return re.sub(r"//[^\n]*", "", text)


# -- random networks -------------------------------------------------------------------------
NETWORKS = {
    # Conv with a 4-digit weight (T = 4), depthwise, MaxPool, residual Add, AvgPool, Dense:
    # every op on 3 x 2 (3 channel banks, multi-port k-tiles, multi-k-tile depthwise)
    "every_op": (21, ("dwconv", "maxpool", "add", "avgpool"), "dense", ArrayShape(3, 2)),
    # an Add of a uint8 and an int8 operand, one-pixel steps, more columns than channels
    "mixed_types": (2, ("maxpool", "add"), "dense", ArrayShape(4, 8)),
    # a depthwise first layer reading the input buffer, Conv last
    "depthwise_first": (3672, ("conv",), "conv", ArrayShape(2, 3)),
    # every requantization half even: exact ties in the Add (shift lanes), the AvgPool and
    # the Dense layer (multiply lanes) on these frames
    "half_even_ties": (37, ("add", "avgpool"), "dense", ArrayShape(3, 4)),
}


@pytest.mark.parametrize("case", sorted(NETWORKS))
def test_random_networks_csim_exactly(tmp_path, case):
    seed, middle, last, shape = NETWORKS[case]
    graph = _network(seed, middle, last)
    if case == "every_op":
        graph = _with_weight(graph, "conv0", 0, 85)  # 0b1010101: four CSD digits
    frames = 4
    x = random_input(graph, frames, seed)
    if case == "half_even_ties":
        graph = _rounding(graph, ir.Rounding.HALF_EVEN)
        half_up = _rounding(graph, ir.Rounding.HALF_UP)
        assert not np.array_equal(execute(graph, x), execute(half_up, x))  # ties do occur
    plans = {pe: write_network_project(tmp_path / pe, graph, shape, x, pe=pe)
             for pe in PE_ARRAYS}
    results = _csim_projects({pe: tmp_path / pe for pe in PE_ARRAYS})
    for pe, result in results.items():
        assert (result["frames"], result["mismatches"]) == (frames, 0), pe
    ops = [s.op for s in plans["dsp"].steps]
    if case == "every_op":
        assert set(ops) == {Op.MAC, Op.DW, Op.MAX, Op.SCALE}
        assert plans["shiftadd"].step_terms[0] == 4 and max(plans["dsp"].bank_depth) > 1
    elif case == "mixed_types":
        add = next(s for s in plans["dsp"].steps if s.op is Op.SCALE)
        assert add.input.dtype.signed != add.input_b.dtype.signed
    elif case == "depthwise_first":
        assert ops[0] is Op.DW and plans["dsp"].steps[0].reads_input

    # the comparison bites: one changed expected value is one mismatch, exit status 1
    where = tmp_path / "dsp"
    expected = (where / "tb" / "expected.txt").read_text().splitlines()
    first = expected[0].split()
    first[-1] = str(int(first[-1]) + 1)
    wrong = where / "tb" / "wrong.txt"
    wrong.write_text("\n".join([" ".join(first)] + expected[1:]) + "\n")
    report = where / "results" / "wrong.json"
    run = subprocess.run([where / "build" / "csim" / "tb", where / "tb" / "input.txt", wrong,
                          report], capture_output=True, text=True)
    assert run.returncode == 1
    assert json.loads(report.read_text())["mismatches"] == 1


# -- a real model ----------------------------------------------------------------------------
def test_mnist8_csim_exactly_on_real_frames(tmp_path):
    """mnist8 on the CLI's default arrays (DSP 12x16, shift-add 16x16), 3 test images."""
    from hlsgen.frontend import import_model
    from hlsgen.reference import quantize_input

    folder = MODELS / "mnist8"
    graph = import_model(folder / "model.onnx", data_free_input_range=(0.0, 255.0))
    x = quantize_input(graph, np.load(folder / "data.npz")["x"][:3])
    for pe, shape in PE_ARRAYS.items():
        write_network_project(tmp_path / pe, graph, shape, x, pe=pe)
    results = _csim_projects({pe: tmp_path / pe for pe in PE_ARRAYS})
    for pe, result in results.items():
        assert (result["frames"], result["mismatches"]) == (3, 0), pe


# -- the C++ text ----------------------------------------------------------------------------
def test_no_multiply_operator_in_the_shiftadd_cpp():
    """Shift-add PEs and lanes: no ``*`` anywhere in the top's code; the DSP top multiplies
    exactly twice (a PE's product, a lane's requantization)."""
    graph = _network(8, ("dwconv", "add", "avgpool"), "dense")
    top = "hls/hlsgen_top.cpp"
    shiftadd = emit_network_hls(plan_network(graph, ArrayShape(3, 2), pe="shiftadd"))
    assert "*" not in _code_without_comments(shiftadd[top])
    dsp = emit_network_hls(plan_network(graph, ArrayShape(3, 2)))
    assert _code_without_comments(dsp[top]).count("*") == 2


def test_csim_without_ap_int_headers_stops_with_one_line(tmp_path):
    graph = _network(1, (), "dense")
    write_network_project(tmp_path, graph, ArrayShape(2, 2), random_input(graph, 1, 1))
    run = subprocess.run(["make", "-s", "csim", "AP_INCLUDE=" + str(tmp_path / "none")],
                         cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode != 0
    assert run.stdout.strip().splitlines() == [
        "make csim: ap_int.h not found; set XILINX_HLS to a Vitis HLS install or pip install "
        "hls4ml (its wheel ships the headers)"]
