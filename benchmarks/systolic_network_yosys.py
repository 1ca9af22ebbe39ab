"""yosys ``synth_xilinx`` of a whole shared model on one systolic array (slow: one run).

Prints DSP48E1 (array / lanes), LUTs, FFs and RAMB36 of the design next to the xc7z020's
80 % ceiling and writes ``systolic_network_yosys.json``.

    python benchmarks/systolic_network_yosys.py [--model kws_dscnn_int8] [--array 12x16]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from hlsgen.frontend import import_model
from hlsgen.systolic import ArrayShape, module_names
from hlsgen.systolic.netemit import emit_network
from hlsgen.systolic.network import plan_network
from hlsgen.verify.estimate import run_yosys

MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
IMPORT = {"mnist8": {"data_free_input_range": (0.0, 255.0)}}
XC7Z020 = {"luts": 53_200, "ffs": 106_400, "dsps": 220, "brams": 140}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="kws_dscnn_int8")
    parser.add_argument("--array", default="12x16")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--out", default="systolic_network_yosys.json")
    args = parser.parse_args(argv)
    shape = ArrayShape.parse(args.array)
    graph = import_model(MODELS / args.model / "model.onnx", **IMPORT.get(args.model, {}))
    plan = plan_network(graph, shape)
    rtl = Path(tempfile.mkdtemp(prefix="hlsgen_sa_yosys_")) / "rtl"
    rtl.mkdir()
    for rel, text in emit_network(plan).items():
        (rtl.parent / rel).write_text(text)
    start = time.time()
    report = run_yosys(rtl, timeout=args.timeout, log=rtl.parent / "yosys.log")
    seconds = time.time() - start
    names = module_names()
    total = report.total
    row = {"model": args.model, "array": str(shape), "pes": shape.pes,
           "dsps_array": report.modules[names["array"]].dsps,
           "dsps_lanes": report.modules[names["accum"]].dsps, "total": asdict(total),
           "modules": {name: asdict(cost) for name, cost in report.modules.items()},
           "yosys_seconds": round(seconds, 1)}
    print(f"{args.model} on {shape} ({shape.pes} PEs), yosys {seconds:.0f} s:")
    print(f"  DSP48E1: array {row['dsps_array']}, lanes {row['dsps_lanes']}, total "
          f"{total.dsps} of 220")
    for key, limit in (("luts", 42_560), ("ffs", 85_120), ("brams", 112)):
        value = getattr(total, key)
        print(f"  {key}: {value:,} ({100 * value / XC7Z020[key]:.1f} % of xc7z020; "
              f"80 % ceiling {limit:,})")
    for name, cost in report.modules.items():
        print(f"  {name}: {cost.luts:,} LUTs ({cost.lutram_luts:,} LUTRAM/SRL), {cost.ffs:,} "
              f"FFs, {cost.dsps} DSPs, {cost.brams:g} RAMB36")
    Path(args.out).write_text(json.dumps(row, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
