"""``hlsgen build``: the main job — explore the per-layer decompositions, then generate the
project of the chosen design.  The search products (Pareto front, design.json, checkpoint)
stay in ``--explore-dir`` (default ``OUTDIR.explore``) so ``--resume`` can continue them.

Both halves are the ``explore`` and ``generate`` commands' own code, fed from one argument set
built from the same option definitions (:mod:`hlsgen.commands.options`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hlsgen.commands import explore as explore_command
from hlsgen.commands import generate as generate_command
from hlsgen.commands import options as opt
from hlsgen.errors import OutputExistsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_model(parser)
    opt.add_output(parser, "project directory to create")
    parser.add_argument("--explore-dir", type=Path, metavar="DIR",
                        help="where the search writes design.json, the Pareto front and its "
                        "checkpoint (default OUTDIR.explore)")
    explore_command.add_search_arguments(parser)
    generate_command.add_project_arguments(parser, default_vectors="--data, else random "
                                           "frames over the input range")


def explore_dir(args) -> Path:
    outdir = Path(args.outdir)
    return args.explore_dir or outdir.with_name(outdir.name + ".explore")


def run(args: argparse.Namespace) -> int:
    from hlsgen.commands.common import load_data
    from hlsgen.explore.run import NoFeasibleDesign

    outdir = Path(args.outdir)
    if outdir.exists() and not args.force:  # fail before the long search
        raise OutputExistsError(f"output directory {outdir} already exists; pass --force to "
                                "replace it or choose another -o")
    opt.name_from_args(args)  # a bad --name, too, before the search
    search_dir = explore_dir(args)
    outcome = explore_command.search(args, search_dir)
    if outcome.result.chosen is None:
        raise NoFeasibleDesign(explore_command.no_design_message(outcome.result))
    print(f"design: {search_dir / 'design.json'}\npareto plot: {search_dir / 'pareto.png'}")
    # The project: generate's own code on the same namespace, with the design just chosen.
    args.design, args.method = search_dir / "design.json", None
    if args.vectors is None and args.data is not None:
        args.vectors = args.data
    if args.vectors is not None:
        args.count = min(args.count, len(load_data(args.vectors)[0]))
    return generate_command.run(args)
