"""``hlsgen compare``: hlsgen's multiplier-less design against the DSP systolic-array baseline
(docs/systolic.md) on the same part, clock and frames, in one run.

Searches under the device's budget (unless ``--design`` names a design), writes both projects,
simulates both on the same frames in Verilator (exact against the reference), synthesises both
with yosys and writes ``OUTDIR/compare.json``, ``compare.md`` and ``compare.png`` (latency vs
LUTs of the search's Pareto front, the baseline marked).  Top-1 of both on the labelled data:
the baseline computes the exact integer network, so its top-1 is that network's."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from hlsgen.commands import explore as explore_command
from hlsgen.commands import generate as generate_command
from hlsgen.commands import options as opt
from hlsgen.errors import InputError, OutputExistsError
from hlsgen.names import terminal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_model(parser)
    opt.add_output(parser, "directory for the search, both projects and the comparison")
    parser.add_argument("--design", type=Path, metavar="DESIGN.json",
                        help="compare this design (from hlsgen explore) instead of searching")
    parser.add_argument("--frames", type=int, default=20, metavar="N",
                        help="frames simulated on both designs: the first N samples of --data, "
                        "else random frames (default 20)")
    # default None, as in generate (where it depends on --pe); here always the DSP shape
    parser.add_argument("--array", default=None, metavar="ROWSxCOLS",
                        help="the baseline's array (default 12x16: 192 PE + 16 lane DSPs fit "
                        "the xc7z020's 220)")
    parser.add_argument("--sim-timeout", type=float, default=7200.0, metavar="S",
                        help="seconds each Verilator simulation may take (default 7200)")
    explore_command.add_search_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from hlsgen.emit.common import DEFAULT_NAME
    from hlsgen.explore.devices import device
    from hlsgen.explore.run import NoFeasibleDesign

    outdir = Path(args.outdir)
    if args.array is None:
        args.array = generate_command.DEFAULT_ARRAY["dsp"]
    if args.device is None:
        raise InputError("hlsgen compare needs --device: both designs are compared on one part")
    dev = device(args.device)
    opt.check_positive("--frames", args.frames)
    if outdir.exists() and not args.force:  # fail before the long search
        raise OutputExistsError(f"output directory {outdir} already exists; pass --force to "
                                "replace it or choose another -o")
    outdir.mkdir(parents=True, exist_ok=True)
    search_dir = outdir / "search"
    if args.design is None:
        outcome = explore_command.search(args, search_dir)
        if outcome.result.chosen is None:
            raise NoFeasibleDesign(explore_command.no_design_message(outcome.result))
        design_path = search_dir / "design.json"
    else:
        design_path = args.design
    frames = _frames(args)
    projects = {"design": outdir / "design", "baseline": outdir / "baseline"}
    for key, arch in (("design", "shift-add"), ("baseline", "systolic")):
        # generate's own code on this argument set, as hlsgen build runs it
        project_args = argparse.Namespace(**vars(args))
        vars(project_args).update(
            outdir=projects[key], design=design_path if arch == "shift-add" else None,
            method=None if arch == "shift-add" else "exact", arch=arch, vectors=args.data,
            count=frames, force=True, name=DEFAULT_NAME, pipeline=None, allow_mismatch=False)
        generate_command.run(project_args)
    rows = {key: _measure(path, args) for key, path in projects.items()}
    accuracy = _accuracy(args, design_path)
    doc = _document(args, dev, design_path, rows, accuracy)
    (outdir / "compare.json").write_text(json.dumps(doc, indent=2) + "\n")
    (outdir / "compare.md").write_text(_table(doc))
    _plot(doc, search_dir / "pareto.json", outdir / "compare.png")
    print(_table(doc))
    print(f"wrote {terminal(outdir / 'compare.json', None)}, compare.md and compare.png")
    return 0


def _frames(args) -> int:
    if args.data is None:
        return args.frames
    from hlsgen.commands.common import load_data

    return min(args.frames, len(load_data(args.data)[0]))


def _measure(project: Path, args) -> dict:
    """Verilator on the project's frames (exact or it raises), then yosys."""
    from hlsgen.verify.estimate import run_yosys, wants_per_module
    from hlsgen.verify.sim import simulate

    sim = simulate(project, timeout=args.sim_timeout)
    cost = project / "rtl" / "hlsgen_cost.json"
    predicted = json.loads(cost.read_text()).get("predicted", {}) if cost.is_file() else {}
    report = run_yosys(project / "rtl", per_module=wants_per_module(predicted), jobs=args.jobs,
                       log=project / "results" / "yosys.log")
    total = report.total
    return {"latency_cycles": sim.latency_cycles, "interval_cycles": sim.interval_cycles,
            "frames": sim.frames, "mismatches": sim.mismatches, "luts": total.luts,
            "ffs": total.ffs, "dsps": total.dsps, "brams": total.brams}


def _accuracy(args, design_path: Path) -> dict:
    """Top-1 (%) on the labelled --data of the exact integer network (= the baseline) and of
    the design; the design's validation figure from its design.json."""
    meta = json.loads(Path(design_path).read_text())
    out = {"validation_top1": meta.get("validation_top1"),
           "validation_baseline": (meta.get("validation") or {}).get("baseline")}
    if args.data is None:
        return out
    from hlsgen.commands.common import load_data
    from hlsgen.design import apply_design, design_kinds
    from hlsgen.reference import execute, quantize_input

    x, labels = load_data(args.data)
    if labels is None:
        return out
    graph = opt.load_graph(args.model, opt.quantization_from_args(args))
    x_ir = quantize_input(graph, x)
    design = apply_design(graph, design_path, kinds=design_kinds(design_path), jobs=args.jobs)
    for key, g in (("baseline_top1", graph), ("design_top1", design.graph)):
        pred = execute(g, x_ir).reshape(len(x_ir), -1).argmax(1)
        out[key] = round(100.0 * float(np.mean(pred == labels)), 4)
    out["samples"] = int(len(labels))
    return out


def _document(args, dev, design_path, rows, accuracy) -> dict:
    clock = args.clock_mhz or json.loads(Path(design_path).read_text()).get("clock_mhz", 200.0)
    base, mine = rows["baseline"], rows["design"]
    mine.update(top1=accuracy.get("design_top1"), validation_top1=accuracy.get("validation_top1"))
    base.update(array=args.array, top1=accuracy.get("baseline_top1"),
                mac_utilization=_mac_utilization(args, base))
    for key, row in (("baseline", base), ("design", mine)):
        row["fits"] = _fits(row, dev, dsp_ceiling=1.0 if key == "baseline" else None)
    from hlsgen.frontend.loader import name_from_path

    return {"model": name_from_path(args.model), "device": dev.name, "clock_mhz": clock,
            "samples": accuracy.get("samples"), "baseline": base, "design": mine,
            "latency_ratio": round(mine["latency_cycles"] / base["latency_cycles"], 4)}


def _fits(row: dict, dev, dsp_ceiling: float | None = None) -> bool:
    """LUT, FF and BRAM under the search's ceiling (80 %); DSPs too, except for the baseline,
    which may use every DSP of the part (a good array shape takes as many as fit)."""
    from hlsgen.explore.devices import UTILIZATION_CEILING

    dsp_ceiling = UTILIZATION_CEILING if dsp_ceiling is None else dsp_ceiling
    return (row["luts"] <= UTILIZATION_CEILING * dev.luts
            and row["ffs"] <= UTILIZATION_CEILING * dev.ffs
            and row["brams"] <= UTILIZATION_CEILING * dev.brams
            and row["dsps"] <= dsp_ceiling * dev.dsps)


def _mac_utilization(args, row: dict) -> float:
    """MACs of the network over (array PEs x the baseline's latency in cycles)."""
    from hlsgen.systolic import ArrayShape
    from hlsgen.systolic.network import plan_network

    graph = opt.load_graph(args.model, opt.quantization_from_args(args))
    shape = ArrayShape.parse(args.array)
    macs = plan_network(graph, shape).macs
    return round(macs / (shape.rows * shape.cols * row["latency_cycles"]), 4)


def _table(doc: dict) -> str:
    clock = doc["clock_mhz"]
    lines = [f"# {doc['model']} on {doc['device']} at {clock:g} MHz", "",
             "| | latency (cycles) | latency (µs) | interval (cycles) | top-1 (%) | LUTs | FFs "
             "| DSPs | BRAM36 | fits | mismatches |", "|---" * 11 + "|"]
    for name, key in (("systolic baseline " + doc["baseline"]["array"], "baseline"),
                      ("hlsgen design", "design")):
        r = doc[key]
        top1 = "n/a" if r.get("top1") is None else f"{r['top1']:.2f}"
        lines.append(f"| {name} | {r['latency_cycles']:,} | {r['latency_cycles'] / clock:.1f} | "
                     f"{r['interval_cycles']:,} | {top1} | {r['luts']:,} | {r['ffs']:,} | "
                     f"{r['dsps']} | {r['brams']:g} | {'yes' if r['fits'] else 'NO'} | "
                     f"{r['mismatches']} of {r['frames']} frames |")
    ratio = doc["latency_ratio"]
    lines += ["", f"latency ratio (design / baseline): {ratio:.3f} "
              f"({'faster' if ratio < 1 else 'slower'} by {max(ratio, 1 / ratio):.2f}x); "
              f"baseline MAC utilization {100 * doc['baseline']['mac_utilization']:.1f} %", ""]
    return "\n".join(lines)


def _plot(doc: dict, pareto: Path, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    if pareto.is_file():
        front = json.loads(pareto.read_text()).get("front", [])
        ax.scatter([p["luts"] for p in front], [p["latency_cycles"] for p in front], s=18,
                   label="hlsgen Pareto front (predicted)")
    for key, marker, label in (("design", "o", "hlsgen design (yosys, simulated)"),
                               ("baseline", "*", "systolic baseline (yosys, simulated)")):
        r = doc[key]
        ax.scatter([r["luts"]], [r["latency_cycles"]], marker=marker, s=140, label=label)
    ax.set_xlabel("LUTs")
    ax.set_ylabel("latency (cycles)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"{doc['model']} on {doc['device']}")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)

