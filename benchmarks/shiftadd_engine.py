"""The whole-network engine with shift-add PEs (``--pe shiftadd``) on models too big to hard-wire.

For every model: the plan (``T`` per step), the exact cycle model next to the DSP baseline's
(12x16), the numpy emulation against the reference executor on ``--frames`` frames; with
``--sim`` the Verilog in Verilator on those frames (0 mismatches and simulated latency = model
asserted); with ``--yosys`` ``synth_xilinx`` one module at a time (the array, the lanes, the
top with both as black boxes: the WebAssembly yosys stops at 4 GB) and the totals against the
xc7z020's 80 % ceilings.  The big models (``vww_mbv1_025``, ``resnet8_w40``) are built by
``benchmarks/tinyml_models.py`` into ``--big-dir`` when missing; the shared ones read
``../shared/models`` (real frames from ``data.npz``).  Writes ``shiftadd_engine.json``.

    python benchmarks/shiftadd_engine.py --models vww_mbv1_025 --sim vww_mbv1_025 \
        --yosys vww_mbv1_025 [--array 32x4] [--frames 2] [--copy-kbits 144] \
        [--no-share-reads] [--split-lanes]
    python benchmarks/shiftadd_engine.py --models resnet8_w40 --sim resnet8_w40 \
        --yosys resnet8_w40 --weights stream --array 32x8

``--weights stream``: the weights come from the ``w_stream`` port into per-row ring buffers
(docs/systolic-shiftadd.md, "Weights from DDR"); the simulated first beats and latencies of
every frame are checked against the cycle model, stalls included.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from hlsgen.frontend import import_model
from hlsgen.reference import execute, quantize_input
from hlsgen.systolic import ArrayShape, module_names
from hlsgen.systolic.netemu import emulate_network
from hlsgen.systolic.nettiming import network_cycle_model
from hlsgen.systolic.network import COPY_BITS, plan_network
from hlsgen.systolic.weights import RING_WORDS

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "models"
IMPORT = {"mnist8": {"data_free_input_range": (0.0, 255.0)}}  # a float model: 0..255 pixels
CEILING = {"luts": 42_560, "ffs": 85_120, "brams": 112, "dsps": 0}  # xc7z020 80 %; 0 DSP
CLOCK_MHZ = 200.0
DSP_ARRAY = ArrayShape(12, 16)  # the DSP baseline's xc7z020 shape


def model_folder(name: str, big_dir: Path) -> Path:
    if (SHARED / name / "model.onnx").is_file():
        return SHARED / name
    folder = big_dir / name
    if not (folder / "model.onnx").is_file():
        sys.path.insert(0, str(HERE))
        from tinyml_models import write_model

        write_model(name, folder)
    return folder


def synthesize(rtl: Path, timeout: float) -> dict:
    """yosys per module: array, lanes, then the top with both as black boxes."""
    from hlsgen.verify.estimate import _synth, find_yosys, summarize

    names = module_names()
    yosys = find_yosys()
    stats, seconds = {}, {}
    runs = [(names["array"], (), [rtl / f"{names['array']}.v"]),
            (names["accum"], (), [rtl / f"{names['accum']}.v"]),
            (names["top"], (names["array"], names["accum"]), sorted(rtl.glob("*.v")))]
    for top, blackboxes, files in runs:
        start = time.time()
        doc = _synth(rtl, files, top, blackboxes, yosys, timeout, rtl.parent / f"yosys.{top}.log")
        seconds[top] = round(time.time() - start, 1)
        stats.update({name: info for name, info in doc["modules"].items()
                      if name.lstrip("\\") not in blackboxes})
    report = summarize({"modules": stats}, Path(yosys[0]).name, {}, names["top"])
    total = asdict(report.total)
    return {"total": total, "seconds": seconds,
            "modules": {name: asdict(cost) for name, cost in report.modules.items()},
            "fits": all(total[k] <= v for k, v in CEILING.items())}


def run_model(name: str, shape: ArrayShape, frames: int, sim: bool, yosys: bool,
              workdir: Path, big_dir: Path, timeout: float, copy_bits: int = COPY_BITS,
              weights: str = "rom", ring_words: int = RING_WORDS, **plan_options) -> dict:
    """``plan_options``: more arguments of ``plan_network`` (share_reads, split_lanes)."""
    folder = model_folder(name, big_dir)
    graph = import_model(folder / "model.onnx", **IMPORT.get(name, {}))
    x = quantize_input(graph, np.load(folder / "data.npz")["x"][:frames])
    options = {"copy_bits": copy_bits, "weights": weights, **plan_options}
    if weights == "stream":
        options["ring_words"] = ring_words
    plan = plan_network(graph, shape, pe="shiftadd", **options)
    timing = network_cycle_model(plan, max(frames, 3))  # 3: the steady interval
    dsp = network_cycle_model(plan_network(graph, DSP_ARRAY))
    exact = np.array_equal(emulate_network(plan, x).reshape(len(x), -1),
                           execute(graph, x).reshape(len(x), -1))
    row = {"model": name, "array": str(shape), "frames": frames, "emulation_exact": exact,
           "share_reads": bool(plan.share_groups), "split_lanes": plan.lane_split,
           "macs": plan.macs, "step_terms": list(plan.step_terms),
           "step_reads": list(plan.step_reads), "step_beats": list(plan.step_beats),
           "in_copies": plan.in_copies, "act_copies": plan.act_copies,
           "latency_cycles": timing.latency, "interval_cycles": timing.interval,
           "latency_us": timing.latency / CLOCK_MHZ,
           "dsp_baseline_latency_cycles": dsp.latency, "weights": weights,
           "ring_depth": plan.ring_depth, "stall_beats": list(timing.stall_beats),
           "frame_starts": list(timing.frame_starts),
           "frame_latencies": list(timing.frame_latencies),
           "weight_bytes_per_frame": plan.tiles * shape.pes if weights == "stream" else 0,
           "layers": [{"layer": s.name, "op": s.op.value, "items": s.items, "terms": t,
                       "beat_cycles": b, "cycles": c}
                      for s, t, b, c in zip(plan.steps, plan.step_terms, plan.step_beats,
                                            timing.layer_cycles)]}
    where = workdir / name
    if sim or yosys:
        from hlsgen.systolic.project import write_network_project

        shutil.rmtree(where, ignore_errors=True)
        write_network_project(where, graph, shape, x, pe="shiftadd", **options)
    if sim:
        from hlsgen.verify.sim import simulate

        start = time.time()
        result = simulate(where, seed=1, timeout=timeout)
        report = json.loads((where / "results" / "sim.json").read_text())
        row.update(sim_frames=result.frames, sim_mismatches=result.mismatches,
                   sim_mismatches_random_gaps=report.get("mismatches_random_gaps"),
                   sim_latency=result.latency_cycles, sim_interval=result.interval_cycles,
                   sim_frame_latency=list(result.frame_latency_cycles),
                   sim_seconds=round(time.time() - start, 1))
        assert result.mismatches == 0 and result.latency_cycles == timing.latency, row
        assert tuple(report["frame_latency_cycles"]) == timing.frame_latencies[:frames], row
        assert tuple(report["frame_start_cycles"]) == timing.frame_starts[:frames], row
    if yosys:
        row["yosys"] = synthesize(where / "rtl", timeout)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--array", default="32x4")
    parser.add_argument("--models", default="vww_mbv1_025,resnet8_w40")
    parser.add_argument("--sim", default="", help="comma-separated models to simulate")
    parser.add_argument("--yosys", default="", help="comma-separated models to synthesize")
    parser.add_argument("--frames", type=int, default=2)
    parser.add_argument("--copy-kbits", type=int, default=COPY_BITS // 1024,
                        help="the memory copy budget (plan_network's copy_bits / 1024)")
    parser.add_argument("--share-reads", action=argparse.BooleanOptionalAction, default=True,
                        help="shared depthwise reads (plan_network's share_reads)")
    parser.add_argument("--split-lanes", action="store_true",
                        help="lanes multiplying over two cycles (plan_network's split_lanes)")
    parser.add_argument("--weights", default="rom", choices=("rom", "stream"),
                        help="weights in on-chip ROMs or streamed from off-chip memory")
    parser.add_argument("--ring-words", type=int, default=RING_WORDS,
                        help="--weights stream: words of each row's ring buffer")
    parser.add_argument("--big-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "hlsgen_big_models")
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "hlsgen_shiftadd_engine")
    parser.add_argument("--timeout", type=float, default=7200.0)
    parser.add_argument("--out", default="shiftadd_engine.json")
    args = parser.parse_args(argv)
    shape = ArrayShape.parse(args.array)
    sims = {m for m in args.sim.split(",") if m}
    synths = {m for m in args.yosys.split(",") if m}
    rows = []
    for name in args.models.split(","):
        row = run_model(name, shape, args.frames, name in sims, name in synths, args.workdir,
                        args.big_dir, args.timeout, args.copy_kbits * 1024, args.weights,
                        args.ring_words, share_reads=args.share_reads,
                        split_lanes=args.split_lanes)
        rows.append(row)
        print(f"\n{name} on {shape} (shift-add PEs): emulation exact {row['emulation_exact']}, "
              f"T per step {row['step_terms']}, cycles per beat {row['step_beats']}, memory "
              f"copies {row['in_copies']} (input) / {row['act_copies']} (activations), "
              f"latency {row['latency_cycles']:,} cycles = "
              f"{row['latency_us']:.1f} us at {CLOCK_MHZ:.0f} MHz, interval "
              f"{row['interval_cycles']:,}; DSP baseline {DSP_ARRAY}: "
              f"{row['dsp_baseline_latency_cycles']:,} cycles")
        if args.weights == "stream":
            print(f"  weights streamed: {row['weight_bytes_per_frame']:,} bytes a frame "
                  f"({row['weight_bytes_per_frame'] / row['latency_cycles']:.3f} bytes a "
                  f"cycle over the latency), ring {row['ring_depth']} words a row; beats "
                  f"each layer waited for its tiles (frame 0): {row['stall_beats']}; frame "
                  f"latencies {row['frame_latencies']}")
        if "sim_latency" in row:
            print(f"  Verilator: {row['sim_frames']} frames, mismatches {row['sim_mismatches']}"
                  f" / {row['sim_mismatches_random_gaps']} (random gaps), latency "
                  f"{row['sim_latency']:,}, interval {row['sim_interval']}, "
                  f"{row['sim_seconds']} s")
        if "yosys" in row:
            total = row["yosys"]["total"]
            print(f"  yosys: {total['luts']:,} LUTs, {total['ffs']:,} FFs, {total['brams']:g} "
                  f"RAMB36, {total['dsps']} DSP48E1 (80 % ceilings {CEILING['luts']:,} / "
                  f"{CEILING['ffs']:,} / {CEILING['brams']}; fits: {row['yosys']['fits']}); "
                  f"{row['yosys']['seconds']} s")
            for module, cost in row["yosys"]["modules"].items():
                print(f"    {module}: {cost['luts']:,} LUTs, {cost['ffs']:,} FFs, "
                      f"{cost['brams']:g} RAMB36, {cost['dsps']} DSPs")
        Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
