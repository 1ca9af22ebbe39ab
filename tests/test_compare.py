"""``hlsgen compare``: the searched design and the systolic baseline of one model, both
simulated exactly on the same frames and synthesised by yosys, side by side."""

from __future__ import annotations

import json

from hlsgen.cli import main
from test_build import int8_model


def test_compare_simulates_and_synthesises_both_designs(tmp_path, capsys):
    model, data = int8_model(tmp_path / "m")
    out = tmp_path / "cmp"
    assert main(["compare", str(model), "--device", "xc7z020", "-o", str(out), "--data",
                 str(data), "--frames", "2", "--generations", "1", "--population", "4",
                 "--jobs", "1", "--seed", "0", "--array", "4x4"]) == 0
    doc = json.loads((out / "compare.json").read_text())
    base, design = doc["baseline"], doc["design"]
    for row in (base, design):
        assert (row["frames"], row["mismatches"]) == (2, 0)
        assert row["luts"] > 0 and row["latency_cycles"] > 0
    assert base["dsps"] >= 16 and design["dsps"] == 0  # a DSP per PE; no multiplier at all
    assert base["array"] == "4x4" and 0 < base["mac_utilization"] <= 1
    assert doc["latency_ratio"] == round(design["latency_cycles"] / base["latency_cycles"], 4)
    # the baseline computes the exact integer network: its top-1 is that network's
    search = json.loads((out / "search" / "design.json").read_text())
    assert base["top1"] is not None and design["validation_top1"] == search["validation_top1"]
    assert "latency ratio" in (out / "compare.md").read_text()
    assert (out / "compare.png").stat().st_size > 0
    # both projects exist and the search products are kept
    assert (out / "design" / "rtl").is_dir() and (out / "baseline" / "rtl").is_dir()


def test_compare_needs_a_device(tmp_path, capsys):
    model, data = int8_model(tmp_path / "m")
    assert main(["compare", str(model), "-o", str(tmp_path / "c"), "--data", str(data)]) == 2
    assert "needs --device" in capsys.readouterr().err
