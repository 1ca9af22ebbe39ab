"""The shift-add engine's resource model (block RAM tiling, yosys agreement on a small design)
and the automatic choice of its shape and copy budget (``--array auto``)."""

from __future__ import annotations

import json
import math

import pytest

from onnx_builders import MODELS_DIR as MODELS
from factory import random_graph
from test_systolic_shiftadd import yosys_report
from hlsgen.explore.devices import Budget
from hlsgen.systolic import ArrayShape, module_names
from hlsgen.systolic.netresources import estimate_network, lutram_luts, memory_brams
from hlsgen.systolic.nettiming import network_cycle_model
from hlsgen.systolic.network import plan_network
from hlsgen.systolic.shapes import (COPY_KBITS_CHOICES, SHIFTADD_COLS, SHIFTADD_ROWS,
                                    best_shiftadd_engine)


@pytest.mark.parametrize("depth, width, brams", [
    (4608, 64, 9),  # 512 x 72 deep: 9 RAMB36
    (9216, 24, 7.5),  # RAMB18 2K x 9: five deep, three wide
    (144, 22, 0.5),  # one RAMB18 (512 x 36)
    (749, 24, 1),  # two RAMB18 of 1K x 18
    (72, 64, 1),  # two RAMB18 of 512 x 36: a LUT RAM would take 176 LUTs
    (18, 64, 0),  # RAM32M: 44 LUTs, kept in LUT RAM
    (125, 21, 0),  # RAM64M: 56 LUTs, kept in LUT RAM
])
def test_memories_tile_as_the_primitives_allow(depth, width, brams):
    assert memory_brams(depth, width) == brams
    assert (lutram_luts(depth, width) <= 64) == (brams == 0)


def test_block_roms_never_go_to_lut_ram():
    assert memory_brams(10, 16) == 0 and memory_brams(10, 16, block=True) == 0.5


def test_the_model_covers_the_shiftadd_engine_only():
    graph = random_graph(3, layers=("conv", "dense"), max_channels=6, max_hw=5)
    with pytest.raises(ValueError, match="shift-add"):
        estimate_network(plan_network(graph, ArrayShape(4, 4)))
    cost = estimate_network(plan_network(graph, ArrayShape(4, 4), pe="shiftadd"))
    assert set(cost.parts) == {"array", "lanes", "top"}
    assert cost.total.luts == sum(p.luts for p in cost.parts.values()) > 0
    assert cost.total.ffs > 0


def _budget(luts: float, brams: float) -> Budget:
    return Budget(math.ceil(luts), 10**9, 0, brams, "test")


def test_auto_engine_is_the_fastest_candidate_that_fits():
    graph = random_graph(4, layers=("conv", "dwconv", "conv", "dense"), max_channels=24,
                         max_hw=8)
    candidates = []
    for rows in SHIFTADD_ROWS:
        for cols in SHIFTADD_COLS:
            for kbits in COPY_KBITS_CHOICES:
                for share in (True, False):
                    plan = plan_network(graph, ArrayShape(rows, cols), pe="shiftadd",
                                        copy_bits=kbits * 1024, share_reads=share)
                    total = estimate_network(plan).total
                    candidates.append((network_cycle_model(plan).latency, total.luts,
                                       total.brams, plan.shape))
    luts = sorted(c[1] for c in candidates)[len(candidates) // 3]  # about a third fit
    choice = best_shiftadd_engine(graph, _budget(luts, 1e9))
    fitting = [c for c in candidates if c[1] <= luts]
    assert choice.latency == min(c[0] for c in fitting)
    assert choice.cost.total.luts <= luts
    assert choice.latency > min(c[0] for c in candidates)  # the budget bites
    assert choice.shape in {c[3] for c in fitting if c[0] == choice.latency}
    unlimited = best_shiftadd_engine(graph, _budget(1e12, 1e9))
    assert unlimited.latency == min(c[0] for c in candidates)


def test_auto_engine_says_what_the_smallest_needs():
    graph = random_graph(4, layers=("conv", "dense"), max_channels=8, max_hw=6)
    with pytest.raises(ValueError, match=r"no shift-add array fits 100 LUTs.*the smallest"):
        best_shiftadd_engine(graph, _budget(100, 1e9))


def test_estimated_block_ram_equals_yosys_module_by_module(tmp_path):
    """conv -> depthwise -> maxpool -> dense on 4x2: the RAMB36 of each module (weight ROMs,
    the lanes' memories, the input buffer and activation banks) as yosys maps them."""
    graph = random_graph(8, layers=("conv", "dwconv", "maxpool", "dense"), signed=None,
                         rounding="mixed", max_channels=6, max_hw=9)
    plan = plan_network(graph, ArrayShape(4, 2), pe="shiftadd", copy_bits=0)
    report = yosys_report(plan, tmp_path)
    est = estimate_network(plan).parts
    names = module_names()
    assert report.modules[names["array"]].brams == est["array"].brams > 0
    assert report.modules[names["accum"]].brams == est["lanes"].brams
    top = (report.total.brams - report.modules[names["array"]].brams
           - report.modules[names["accum"]].brams)
    assert top == est["top"].brams


def test_generate_array_auto(tmp_path, capsys):
    from hlsgen.cli import main

    graph_model = MODELS / "kws_dscnn_int8" / "model.onnx"
    out = tmp_path / "prj"
    assert main(["generate", str(graph_model), "-o", str(out), "--arch", "systolic", "--pe",
                 "shiftadd", "--array", "auto", "--count", "2"]) == 0
    said = capsys.readouterr().out
    assert "--array auto:" in said and "xc7z020" in said
    cost = json.loads((out / "rtl" / "hlsgen_cost.json").read_text())
    chosen = said.split("--array auto: ")[1].split()[0]
    assert cost["array"] == chosen
    assert main(["generate", str(graph_model), "-o", str(tmp_path / "bad"), "--arch",
                 "systolic", "--array", "auto"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--array auto applies to --pe shiftadd" in err and len(err.splitlines()) == 1
