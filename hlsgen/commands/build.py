"""``hlsgen build``: the main job — explore the per-layer decompositions, then generate the
project of the chosen design.  The search products (Pareto front, design.json, checkpoint)
stay in ``--explore-dir`` (default ``OUTDIR.explore``) so ``--resume`` can continue them."""

from __future__ import annotations

import argparse
from pathlib import Path

from hlsgen.commands import explore as explore_command
from hlsgen.commands import generate as generate_command
from hlsgen.errors import OutputExistsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hlsgen.emit.common import EmitOptions

    parser.add_argument("model", type=Path, help="ONNX model (float or int8 QDQ)")
    parser.add_argument("-o", "--out", type=Path, required=True, dest="outdir",
                        help="project directory to create")
    parser.add_argument("--explore-dir", type=Path,
                        help="where the search writes its products (default OUTDIR.explore)")
    explore_command.add_search_arguments(parser)
    parser.add_argument("--vectors", type=Path, metavar="DATA.npz",
                        help="test frames for the project (default: --data)")
    parser.add_argument("--count", type=int, default=generate_command.DEFAULT_COUNT,
                        help="number of test frames")
    parser.add_argument("--part", default=EmitOptions().part,
                        help="Xilinx part for Vitis/Vivado (default: the --device's part)")
    parser.add_argument("--force", action="store_true", help="replace OUTDIR if it exists")


def run(args: argparse.Namespace) -> int:
    from hlsgen.explore.devices import device
    from hlsgen.explore.run import NoFeasibleDesign

    outdir = Path(args.outdir)
    if outdir.exists() and not args.force:  # fail before the long search
        raise OutputExistsError(f"output directory {outdir} already exists; pass --force to "
                                "replace it or choose another -o")
    args.outdir = args.explore_dir or outdir.with_name(outdir.name + ".explore")
    _graph, result, _budget = explore_command.run_explore(args)
    if result.chosen is None:
        raise NoFeasibleDesign(explore_command._no_design_message(result))
    part = args.part
    if args.device and args.part == _default_part():
        part = device(args.device).part
    generate_args = argparse.Namespace(
        model=args.model, outdir=outdir, method=None, design=args.outdir / "design.json",
        calibration=args.calibration, input_range=None, vectors=args.vectors or args.data,
        count=args.count,
        part=part, clock_mhz=args.clock_mhz, pipeline=None, force=args.force,
        jobs=max(1, args.workers))
    if generate_args.vectors is not None:
        from hlsgen.commands.common import load_data

        x, _ = load_data(generate_args.vectors)
        generate_args.count = min(args.count, len(x))
    return generate_command.run(generate_args)


def _default_part() -> str:
    from hlsgen.emit.common import EmitOptions

    return EmitOptions().part
