"""Snapshot of the emitted Verilog and HLS C++ of one small fixed network.

Any change to the generated text -- intended or not -- shows up here as a diff against
``tests/snapshots/tiny/``.  After an intended change, refresh the snapshot and review the diff
in version control:

    HLSGEN_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_snapshots.py

Exactness of the text is tested elsewhere (C simulation, Verilator); this test only pins it.
"""

from __future__ import annotations

import os
from pathlib import Path

from factory import random_graph
from hlsgen.design import apply_design
from hlsgen.emit.hls import emit_hls
from hlsgen.emit.rtl import PRIMITIVES, emit_rtl

SNAPSHOT = Path(__file__).parent / "snapshots" / "tiny"
_STATIC = {f"rtl/{name}" for name in PRIMITIVES} | {"hls/hlsgen_ops.h",
                                                      "hls/csim_compat/ap_axi_sdata.h"}


def tiny_network_files() -> dict[str, str]:
    """rtl/ and hls/ of a fixed network with one layer of every kind (copied primitives and
    static headers left out)."""
    graph = random_graph(5, ("conv", "maxpool", "add", "avgpool", "dense"), max_channels=2,
                         max_hw=4, weight_bits=4, signed=None, rounding="mixed")
    design = apply_design(graph, "exact")
    files = {**emit_rtl(design), **emit_hls(design)}
    return {path: text for path, text in files.items() if path not in _STATIC}


def test_emitted_text_matches_the_snapshot():
    files = tiny_network_files()
    if os.environ.get("HLSGEN_UPDATE_SNAPSHOTS"):
        for old in SNAPSHOT.rglob("*"):
            if old.is_file():
                old.unlink()
        for path, text in files.items():
            (SNAPSHOT / path).parent.mkdir(parents=True, exist_ok=True)
            (SNAPSHOT / path).write_text(text)
    stored = {str(p.relative_to(SNAPSHOT)): p.read_text()
              for p in sorted(SNAPSHOT.rglob("*")) if p.is_file()}
    assert sorted(stored) == sorted(files), (
        "emitted files differ from tests/snapshots/tiny; if intended, refresh with "
        "HLSGEN_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_snapshots.py")
    for path, text in files.items():
        assert text == stored[path], (
            f"{path} differs from its snapshot; if intended, refresh with "
            "HLSGEN_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_snapshots.py")
