"""``hlsgen generate``: write the project directory (HLS C++, Verilog, testbenches, vectors,
vendor scripts, Makefile) for one model and one choice of per-layer methods."""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import time
from pathlib import Path

from hlsgen.commands.common import (add_jobs_argument, check_input_range, check_jobs,
                                    check_regular_file)
from hlsgen.errors import DataError, InputError, OutputExistsError
from hlsgen.names import terminal

DEFAULT_COUNT = 20
MAX_COUNT = 100_000  # test frames: tb/*.txt and the simulations grow with it
MAX_VECTOR_VALUES = 1 << 24  # integers in all test frames together (128 MiB as int64)
DEFAULT_METHOD = "exact"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hlsgen.emit.common import EmitOptions

    defaults = EmitOptions()
    parser.add_argument("model", type=Path, help="ONNX model (float or int8 QDQ)")
    parser.add_argument("-o", "--out", type=Path, required=True, dest="outdir",
                        help="project directory to create")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--method", help="one method for every Conv/Dense layer: exact, po2, "
                        f"terms:K, lcc[:...] (default {DEFAULT_METHOD})")
    choice.add_argument("--design", type=Path, metavar="DESIGN.json",
                        help="per-layer methods (and pipeline levels) chosen by hlsgen explore")
    parser.add_argument("--calibration", type=Path, metavar="CAL.npz",
                        help="float models: unlabelled samples (x) for activation ranges")
    parser.add_argument("--input-range", type=float, nargs=2, metavar=("LO", "HI"),
                        help="float models without --calibration: the input value range, "
                        "for a data-free import")
    parser.add_argument("--vectors", type=Path, metavar="DATA.npz",
                        help="test frames from the first --count samples of x (default: "
                        "random frames over the input range)")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT,
                        help=f"number of test frames (default {DEFAULT_COUNT})")
    parser.add_argument("--part", default=defaults.part,
                        help=f"Xilinx part for Vitis/Vivado (default {defaults.part})")
    parser.add_argument("--clock-mhz", type=float, default=defaults.clock_mhz,
                        help=f"target clock (default {defaults.clock_mhz:g})")
    parser.add_argument("--pipeline", type=int, metavar="N",
                        help="RTL: register every N adder levels (default: from the clock)")
    add_jobs_argument(parser)
    parser.add_argument("--force", action="store_true",
                        help="replace OUTDIR if it exists (its whole content is deleted)")


def run(args: argparse.Namespace) -> int:
    from hlsgen.commands.common import load_data
    from hlsgen.design import apply_design
    from hlsgen.emit.common import EmitOptions
    from hlsgen.frontend import import_model, load_onnx
    from hlsgen.reference.source import check_source_data
    from hlsgen.emit.project import ProjectInfo, project_files, random_inputs, reference_vectors
    from hlsgen.emit.writer import check_outdir_name, write_tree
    from hlsgen.reference import quantize_input

    start = time.perf_counter()
    if args.count < 1:
        raise InputError(f"--count must be >= 1, got {args.count}")
    if args.count > MAX_COUNT:
        raise InputError(f"--count {args.count} is more test frames than a simulation can use; "
                         f"give at most {MAX_COUNT}")
    if args.calibration is not None and args.input_range is not None:
        raise InputError("give --calibration or --input-range, not both (--input-range is "
                         "the data-free alternative to calibration samples)")
    check_input_range(args.input_range)
    if args.method is not None and not args.method.strip():
        raise InputError("--method is empty; give exact, po2, terms:K or lcc[:...] (default "
                         f"{DEFAULT_METHOD})")
    check_jobs(args.jobs)
    outdir = Path(args.outdir)
    check_outdir_name(outdir)
    if outdir.exists() and not args.force:  # fail before the slow steps
        raise OutputExistsError(f"output directory {outdir} already exists; pass --force to "
                                "replace it (its whole content is deleted) or choose another -o")
    methods, layer_pipeline = _methods(args)
    options = EmitOptions(part=args.part, clock_mhz=args.clock_mhz, pipeline=args.pipeline,
                          layer_pipeline=layer_pipeline)

    calibration = load_data(args.calibration)[0] if args.calibration is not None else None
    graph = import_model(args.model, calibration=calibration,
                         data_free_input_range=tuple(args.input_range) if args.input_range
                         else None)
    _check_pipeline_layers(graph, layer_pipeline, args.design)
    frame = graph.tensor(graph.input).size
    if args.count * frame > MAX_VECTOR_VALUES:
        raise InputError(f"--count {args.count} frames of {frame} values each are more test "
                         f"data than hlsgen writes ({MAX_VECTOR_VALUES} values); give at most "
                         f"--count {max(1, MAX_VECTOR_VALUES // frame)}")
    design = apply_design(graph, methods, jobs=args.jobs)
    if args.vectors is not None:
        x, _ = load_data(args.vectors)
        try:
            check_source_data(load_onnx(args.model), x)
        except DataError as err:
            raise DataError(f"--vectors '{terminal(args.vectors)}': {err}") from None
        if len(x) < args.count:
            raise DataError(f"--count {args.count} asks for more frames than '{args.vectors}' "
                            f"holds ({len(x)}); use --count {len(x)} or less")
        x_ir = quantize_input(graph, x[: args.count])
        origin = f"the first {args.count} samples of {args.vectors.name}"
    else:
        x_ir = random_inputs(graph, args.count, seed=0)
        origin = f"{args.count} random frames over the input range, seed 0"
    vectors = reference_vectors(design, x_ir, origin)
    info = ProjectInfo(model=args.model.name, model_sha256=_sha256(args.model),
                       command=_command(args))
    files = project_files(design, options, vectors, info)
    protect = tuple(p for p in (args.model, args.design, args.vectors, args.calibration) if p)
    written = write_tree(outdir, files, force=args.force, protect=protect)

    weights = [impl for impl in design.impls.values()]
    adders = sum(g.adder_count for impl in weights for g in impl.graphs)
    print(f"wrote {terminal(written, None)}: {len(files)} files, {len(graph.layers)} layers, "
          f"{adders} adders "
          f"({time.perf_counter() - start:.1f} s)")
    print(f"next: make -C {terminal(shlex.quote(str(outdir)), None)} csim   "
          f"(see {terminal(outdir / 'README.md', None)})")
    return 0


def _methods(args) -> tuple[object, tuple[tuple[str, int], ...]]:
    """``--method`` string, or the methods and pipeline levels of ``--design``."""
    if args.design is None:
        return DEFAULT_METHOD if args.method is None else args.method, ()
    path = check_regular_file(args.design, "--design file", InputError)
    try:
        data = json.loads(path.read_text())
    except RecursionError:
        raise InputError(f"--design file '{terminal(path)}' is not readable JSON (nested too "
                         "deeply); pass the design.json written by hlsgen explore") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError(f"--design file '{path}' is not readable JSON ({err}); pass the "
                         "design.json written by hlsgen explore") from None
    methods = data.get("methods") if isinstance(data, dict) else None
    if not isinstance(methods, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in methods.items()):
        raise InputError(f"--design file '{path}' has no \"methods\" object of layer name -> "
                         "method spec; pass the design.json written by hlsgen explore")
    pipeline = data.get("pipeline") or {}
    if not isinstance(pipeline, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 1
            for k, v in pipeline.items()):
        raise InputError(f"--design file '{path}': \"pipeline\" must map layer names to "
                         "adder levels >= 1")
    return methods, tuple(sorted(pipeline.items()))


def _check_pipeline_layers(graph, layer_pipeline, path) -> None:
    names = {layer.name for layer in graph.layers}
    unknown = sorted(name for name, _ in layer_pipeline if name not in names)
    if unknown:
        raise InputError(f"--design file '{path}': \"pipeline\" names layers the model does not "
                         f"have: {', '.join(unknown)}; regenerate it with hlsgen explore")


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unknown"  # load_graph has already reported a missing model


def _command(args) -> str:
    """The command line that regenerates the project (defaults spelled out)."""
    words = ["hlsgen", "generate", str(args.model), "-o", str(args.outdir)]
    if args.design is not None:
        words += ["--design", str(args.design)]
    else:
        words += ["--method", DEFAULT_METHOD if args.method is None else args.method]
    if args.calibration is not None:
        words += ["--calibration", str(args.calibration)]
    if args.input_range is not None:
        words += ["--input-range", *(f"{v:g}" for v in args.input_range)]
    if args.vectors is not None:
        words += ["--vectors", str(args.vectors)]
    words += ["--count", str(args.count), "--part", args.part, "--clock-mhz", f"{args.clock_mhz:g}"]
    if args.pipeline is not None:
        words += ["--pipeline", str(args.pipeline)]
    return shlex.join(words)
