"""``hlsgen generate``: write the project directory (HLS C++, Verilog, testbenches, vectors,
vendor scripts, Makefile) for one model and one choice of per-layer methods.

With ``--design DESIGN.json`` from ``hlsgen explore`` the project is built for what the design
was searched for: its part, clock and quantization (calibration file or input range) are used
when not given, and a different value given on the command line is refused unless
``--allow-mismatch``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from hlsgen.commands import options as opt
from hlsgen.commands.common import check_regular_file
from hlsgen.errors import DataError, InputError, OutputExistsError
from hlsgen.systolic.network import COPY_BITS
from hlsgen.systolic.weights import RING_WORDS, WEIGHT_SOURCES
from hlsgen.names import terminal

DEFAULT_COUNT = opt.DEFAULT_COUNT
DEFAULT_ARRAY = {"dsp": "12x16", "shiftadd": "32x4"}  # --arch systolic, per --pe
MAX_COPY_KBITS = 1 << 20  # 1 Gbit: far beyond any FPGA's block RAM
DEFAULT_METHOD = opt.DEFAULT_METHOD
MAX_COUNT = 100_000  # test frames: tb/*.txt and the simulations grow with it
MAX_VECTOR_VALUES = 1 << 24  # integers in all test frames together (128 MiB as int64)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_model(parser)
    opt.add_output(parser, "project directory to create")
    opt.add_design_choice(parser)
    opt.add_quantization(parser)
    opt.add_target(parser, budget_default=False)
    add_project_arguments(parser, default_vectors="random frames over the input range")
    opt.add_jobs(parser)
    parser.add_argument("--arch", choices=("shift-add", "systolic"), default="shift-add",
                        help="shift-add: hlsgen's multiplier-less design (default); systolic: "
                        "the DSP baseline, the whole network on one weight-stationary int8 "
                        "array (Verilog + testbench; docs/systolic.md)")
    parser.add_argument("--array", default=None, metavar="ROWSxCOLS",
                        help="--arch systolic: the array's rows (reduction) x columns (output "
                        f"channels); default {DEFAULT_ARRAY['dsp']} with --pe dsp (192 PE "
                        "DSPs + 16 lane DSPs fit the xc7z020's 220), "
                        f"{DEFAULT_ARRAY['shiftadd']} with --pe shiftadd (PEs and lanes in LUTs: "
                        "fits the xc7z020 with a MobileNetV1-0.25 96x96; "
                        "docs/systolic-shiftadd.md); 'auto' with --pe shiftadd: the fastest "
                        "shape and copy budget whose estimated LUTs and block RAM fit "
                        "--device's 80 %% ceiling")
    parser.add_argument("--copy-kbits", type=int, default=None, metavar="KBITS",
                        help="--arch systolic --pe shiftadd: the Kbit each of the input buffer "
                        "and the activation memory may take in copies, one per read port up "
                        "to the port count (more copies: fewer cycles a beat on layers "
                        "reading several pixels at once); default "
                        f"{COPY_BITS // 1024} (docs/systolic-shiftadd.md)")
    parser.add_argument("--share-reads", action=argparse.BooleanOptionalAction, default=None,
                        help="--arch systolic --pe shiftadd: one memory read serves the ports "
                        "of a depthwise kernel row that read one pixel (fewer cycles a beat, "
                        "a few hundred LUTs more); default on (--array auto: chosen)")
    parser.add_argument("--split-lanes", action=argparse.BooleanOptionalAction, default=None,
                        help="--arch systolic --pe shiftadd: each lane multiplies in two "
                        "cycles of a beat with half the adders (steps that multiply take at "
                        "least 2 cycles a beat); default off (--array auto: chosen)")
    parser.add_argument("--pe", default="dsp", metavar="{dsp,shiftadd}",
                        help="--arch systolic: dsp: one DSP48E1 multiply per PE (default); "
                        "shiftadd: no DSP and no multiplier, each PE adds one radix-4 Booth "
                        "digit of its weight per cycle (T <= 4 cycles per array beat)")
    parser.add_argument("--weights", default=None, metavar="{rom,stream}",
                        help="--arch systolic --pe shiftadd: rom: every weight in on-chip "
                        "block-RAM ROMs (default); stream: from off-chip memory through an "
                        "AXI4-Stream port (w_stream, a DMA feeds it every frame) into a "
                        f"{RING_WORDS}-word ring buffer per array row "
                        "(docs/systolic-shiftadd.md, \"Weights from DDR\")")


def add_project_arguments(parser: argparse.ArgumentParser, *, default_vectors: str) -> None:
    """The options of the project itself; ``build`` adds these too."""
    opt.add_vectors(parser, default_source=default_vectors)
    opt.add_name(parser)
    parser.add_argument("--pipeline", type=int, metavar="N",
                        help="RTL: register every N adder levels (default: from the clock, or "
                        "per layer from --design)")
    parser.add_argument("--allow-mismatch", action="store_true",
                        help="with --design: accept a model, part, clock or quantization that "
                        "differs from what the design was searched for")


@dataclass(frozen=True)
class DesignFile:
    """The parts of a design.json that ``generate`` reads (older files lack ``meta``)."""

    path: Path
    methods: dict[str, str]
    pipeline: tuple[tuple[str, int], ...]
    meta: dict = field(default_factory=dict)
    kinds: dict = field(default_factory=dict)  # layer -> datapath kind (older files: none)


def read_design_file(path: Path) -> DesignFile:
    path = check_regular_file(path, "--design file", InputError)
    try:
        data = json.loads(Path(path).read_text())
    except RecursionError:
        raise InputError(f"--design file '{terminal(path)}' is not readable JSON (nested too "
                         "deeply); pass the design.json written by hlsgen explore") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError(f"--design file '{terminal(path)}' is not readable JSON "
                         f"({terminal(err)}); pass the design.json written by hlsgen "
                         "explore") from None
    if not isinstance(data, dict):
        raise InputError(f"--design file '{terminal(path)}' must hold one JSON object")
    if "methods" not in data:  # a plain {layer: method} map
        data = {"methods": data}
    methods = data.get("methods")
    if not isinstance(methods, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in methods.items()):
        raise InputError(f"--design file '{terminal(path)}' has no \"methods\" object of layer name -> "
                         "method spec; pass the design.json written by hlsgen explore")
    pipeline = data.get("pipeline") or {}
    if not isinstance(pipeline, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 1
            for k, v in pipeline.items()):
        raise InputError(f"--design file '{terminal(path)}': \"pipeline\" must map layer names to "
                         "adder levels >= 1")
    meta = {key: data[key] for key in ("model_sha256", "part", "clock_mhz", "quantization",
                                       "metric", "data", "baseline", "accuracy_drop",
                                       "samples", "top1", "agreement", "proxy", "validation",
                                       "validation_top1", "validation_drop") if key in data}
    kinds = data.get("kinds") or {}
    if not isinstance(kinds, dict):
        raise InputError(f"--design file '{terminal(path)}': \"kinds\" must map layer names to a "
                         "datapath kind such as \"parallel\"")
    return DesignFile(Path(path), methods, tuple(sorted(pipeline.items())), meta, kinds)


def design_source(args) -> tuple[str | None, DesignFile | None]:
    """``--method`` spec, or the design file (``--design``, or a .json given to ``--method``)."""
    if args.design is not None:
        return None, read_design_file(args.design)
    method = args.method
    if method is not None and (method.endswith(".json") or Path(method).is_file()):
        return None, read_design_file(Path(method))
    if method is not None and not method.strip():
        raise InputError("--method is empty; give exact, po2, terms:K or lcc[:...]")
    return method or DEFAULT_METHOD, None


def resolve_target(args, design: DesignFile | None) -> tuple[str, float]:
    """The part and clock: the command line's, else the design's, else the defaults."""
    meta = design.meta if design else {}
    mismatches = []
    if args.device is None and isinstance(meta.get("part"), str):
        args.device = meta["part"]
    elif args.device is not None and isinstance(meta.get("part"), str):
        _, given, _ = opt.target_from_args(args)
        if given != meta["part"].lower():
            mismatches.append(f"part {given} (searched for {meta['part']})")
    clock = meta.get("clock_mhz")
    if args.clock_mhz is None and isinstance(clock, (int, float)) and not isinstance(clock, bool):
        args.clock_mhz = float(clock)
    elif args.clock_mhz is not None and isinstance(clock, (int, float)):
        if float(args.clock_mhz) != float(clock):
            mismatches.append(f"clock {args.clock_mhz:g} MHz (searched at {clock:g} MHz)")
    _check_mismatches(args, design, mismatches)
    _dev, part, clock_mhz = opt.target_from_args(args)
    return part, clock_mhz


def resolve_quantization(args, design: DesignFile | None) -> opt.Quantization:
    """The command line's quantization, else the design's input range; checked against the
    design's record."""
    quantization = opt.quantization_from_args(args)
    record = (design.meta.get("quantization") if design else None) or {}
    if not isinstance(record, dict):
        record = {}
    mismatches = []
    recorded_range = record.get("input_range")
    recorded_hash = record.get("calibration_sha256")
    if quantization.calibration is None and quantization.input_range is None:
        if isinstance(recorded_range, list) and len(recorded_range) == 2:
            args.input_range = recorded_range
            return opt.quantization_from_args(args)
        if isinstance(recorded_hash, str):
            mismatches.append("no --calibration (the design was searched with a calibration "
                              f"file of sha256 {recorded_hash[:12]}...; pass the same file)")
    elif quantization.calibration is not None and isinstance(recorded_hash, str):
        if opt.file_sha256(quantization.calibration) != recorded_hash:
            mismatches.append(f"--calibration {terminal(quantization.calibration)} (not the file the "
                              "design was searched with)")
    elif quantization.calibration is not None and recorded_range is not None:
        mismatches.append("--calibration (the design was searched with --input-range "
                          f"{' '.join(f'{v:g}' for v in recorded_range)})")
    elif quantization.input_range is not None and recorded_hash is not None:
        mismatches.append("--input-range (the design was searched with a calibration file)")
    elif quantization.input_range is not None and recorded_range is not None:
        if list(quantization.input_range) != [float(v) for v in recorded_range]:
            mismatches.append(f"--input-range {' '.join(f'{v:g}' for v in args.input_range)} "
                              f"(searched with {' '.join(f'{v:g}' for v in recorded_range)})")
    _check_mismatches(args, design, mismatches)
    return quantization


def _check_mismatches(args, design: DesignFile | None, mismatches: list[str]) -> None:
    if mismatches and not args.allow_mismatch:
        raise InputError(f"--design file '{terminal(design.path)}' was searched for something else: "
                         f"{'; '.join(mismatches)}; pass --allow-mismatch to generate anyway")


def run(args: argparse.Namespace) -> int:
    from hlsgen.commands.common import load_data
    from hlsgen.design import apply_design
    from hlsgen.hw.target import Target
    from hlsgen.emit.project import ProjectInfo, project_files, random_inputs, reference_vectors
    from hlsgen.emit.writer import check_outdir_name, write_tree
    from hlsgen.frontend import load_onnx
    from hlsgen.reference import quantize_input
    from hlsgen.reference.source import check_source_data

    start = time.perf_counter()
    _check_systolic_options(args)
    opt.check_positive("--count", args.count)
    if args.count > MAX_COUNT:
        raise InputError(f"--count {args.count} is more test frames than a simulation can use; "
                         f"give at most {MAX_COUNT}")
    opt.check_jobs(args.jobs)
    core = opt.name_from_args(args)
    outdir = Path(args.outdir)
    check_outdir_name(outdir)
    if outdir.exists() and not args.force:  # fail before the slow steps
        raise OutputExistsError(f"output directory {outdir} already exists; pass --force to "
                                "replace it (its whole content is deleted) or choose another -o")
    method, design_file = design_source(args)
    part, clock_mhz = resolve_target(args, design_file)
    quantization = resolve_quantization(args, design_file)
    if design_file is not None:
        recorded = design_file.meta.get("model_sha256")
        if isinstance(recorded, str) and recorded != opt.file_sha256(args.model):
            _check_mismatches(args, design_file, [f"model {terminal(args.model.name)} (not the file the "
                                                  "design was searched on)"])
    layer_pipeline = design_file.pipeline if design_file else ()
    options = Target(part=part, clock_mhz=clock_mhz, pipeline=args.pipeline,
                     layer_pipeline=layer_pipeline)

    graph = opt.load_graph(args.model, quantization)
    _check_pipeline_layers(graph, layer_pipeline, design_file)
    frame = graph.tensor(graph.input).size
    if args.count * frame > MAX_VECTOR_VALUES:
        raise InputError(f"--count {args.count} frames of {frame} values each are more test "
                         f"data than hlsgen writes ({MAX_VECTOR_VALUES} values); give at most "
                         f"--count {max(1, MAX_VECTOR_VALUES // frame)}")
    if args.vectors is not None:
        x, _ = load_data(args.vectors)
        try:
            check_source_data(load_onnx(args.model), x)
        except DataError as err:
            raise DataError(f"--vectors '{terminal(args.vectors)}': {err}") from None
        if len(x) < args.count:
            raise DataError(f"--count {args.count} asks for more frames than '{terminal(args.vectors)}' "
                            f"holds ({len(x)}); use --count {len(x)} or less")
        x_ir = quantize_input(graph, x[: args.count])
        origin = f"the first {args.count} samples of {args.vectors.name}"
    else:
        x_ir = random_inputs(graph, args.count, seed=0)
        origin = f"{args.count} random frames over the input range, seed 0"
    if getattr(args, "arch", "shift-add") == "systolic":
        from hlsgen.commands.generate_systolic import run_systolic

        return run_systolic(args, graph, x_ir, outdir, core, start)
    design = apply_design(graph, design_file.methods if design_file else method, jobs=args.jobs,
                          kinds=design_file.kinds if design_file else None)
    vectors = reference_vectors(design, x_ir, origin)
    info = ProjectInfo(model=args.model.name, model_sha256=opt.file_sha256(args.model),
                       command=_command(args, method, design_file, quantization, part,
                                        clock_mhz, core),
                       accuracy=accuracy_sentence(design_file))
    files = project_files(design, options, vectors, info, core)
    protect = tuple(p for p in (args.model, design_file and design_file.path, args.vectors,
                                quantization.calibration) if p)
    written = write_tree(outdir, files, force=args.force, protect=protect)

    adders = sum(g.adder_count for impl in design.impls.values() for g in impl.graphs)
    print(f"wrote {terminal(written, None)}: {len(files)} files, {len(graph.layers)} layers, "
          f"{adders} adders ({time.perf_counter() - start:.1f} s)")
    print(f"next: make -C {terminal(shlex.quote(str(outdir)), None)} csim sim estimate   "
          f"(see {terminal(outdir / 'README.md', None)})")
    return 0


def _check_systolic_options(args) -> None:
    """``--pe`` and ``--array`` before any slow step: one line each, exit 2."""
    pe = getattr(args, "pe", "dsp")
    if pe not in DEFAULT_ARRAY:
        raise InputError(f"--pe '{terminal(pe)}' is unknown; use dsp (one DSP per PE) or "
                         "shiftadd (multiplier-less PEs)")
    kbits = getattr(args, "copy_kbits", None)
    shiftadd_engine = pe == "shiftadd" and getattr(args, "arch", "shift-add") == "systolic"
    for name, flag in (("share_reads", "--share-reads / --no-share-reads"),
                       ("split_lanes", "--split-lanes / --no-split-lanes")):
        if getattr(args, name, None) is not None and not shiftadd_engine:
            raise InputError(f"{flag} apply to --arch systolic --pe shiftadd only")
    if kbits is not None:
        if not shiftadd_engine:
            raise InputError("--copy-kbits applies to --arch systolic --pe shiftadd only")
        if not 0 <= kbits <= MAX_COPY_KBITS:
            raise InputError(f"--copy-kbits {kbits} is out of range 0 .. {MAX_COPY_KBITS}")
    weights = getattr(args, "weights", None)
    if weights is not None:
        if weights not in WEIGHT_SOURCES:
            raise InputError(f"--weights '{terminal(weights)}' is unknown; use rom (on-chip "
                             "ROMs) or stream (from off-chip memory)")
        if pe != "shiftadd" or getattr(args, "arch", "shift-add") != "systolic":
            raise InputError("--weights applies to --arch systolic --pe shiftadd only")
    if getattr(args, "arch", "shift-add") != "systolic":
        if pe != "dsp":
            raise InputError(f"--pe {pe} applies to --arch systolic only; add --arch systolic")
        return
    from hlsgen.systolic import ArrayShape

    if args.array == "auto":
        if pe != "shiftadd":
            raise InputError("--array auto applies to --pe shiftadd (the DSP baseline's shape "
                             "comes from hlsgen compare)")
        if getattr(args, "weights", None) == "stream":
            raise InputError("--array auto counts on-chip weight ROMs; with --weights stream "
                             "give the shape (--array ROWSxCOLS)")
        return
    ArrayShape.parse(args.array or DEFAULT_ARRAY[pe])


def accuracy_sentence(design_file: DesignFile | None) -> str:
    """What the search measured of this design, said plainly (empty when unknown)."""
    if design_file is None:
        return ""
    meta = design_file.meta
    metric = meta.get("metric")
    numbers = [meta.get(metric) if isinstance(metric, str) else None, meta.get("baseline"),
               meta.get("accuracy_drop"), meta.get("samples")]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        return ""
    value, baseline, drop, samples = numbers
    kind = meta.get("data")
    held = meta.get("validation")
    if isinstance(held, dict) and isinstance(meta.get("validation_top1"), (int, float)):
        return (f"Top-1 {meta['validation_top1']:.2f} % on {held.get('samples')} labelled "
                f"samples the search never saw (exact integer network: "
                f"{held.get('baseline', 0):.2f} %, drop {meta.get('validation_drop', 0):.2f} "
                f"points); on the {samples:.0f} samples the search chose it on: "
                f"{value:.2f} % ({metric}), drop {drop:.2f} points (hlsgen explore).")
    if metric == "top1" and kind == "labelled":
        return (f"hlsgen explore measured top-1 {value:.2f} % on {samples:.0f} labelled samples "
                f"(exact integer network: {baseline:.2f} %, drop {drop:.2f} points). The search "
                "chose the design on these same samples: confirm on data it did not see.")
    if kind == "synthetic":
        return (f"hlsgen explore predicted a top-1 drop of {drop:.2f} points from the SQNR of "
                f"the output logits on {samples:.0f} synthetic inputs (data-free): a proxy, no "
                "labelled accuracy was measured.")
    return (f"hlsgen explore measured {value:.2f} % top-1 agreement with the exact integer "
            f"network on {samples:.0f} unlabelled samples: a proxy, no labelled accuracy was "
            "measured.")


def _check_pipeline_layers(graph, layer_pipeline, design_file) -> None:
    names = {layer.name for layer in graph.layers}
    unknown = sorted(name for name, _ in layer_pipeline if name not in names)
    if unknown:
        raise InputError(f"--design file '{terminal(design_file.path)}': \"pipeline\" names layers the "
                         f"model does not have: {', '.join(unknown)}; regenerate it with "
                         "hlsgen explore")


def _command(args, method, design_file, quantization, part, clock_mhz, core) -> str:
    """The command line that regenerates the project (defaults spelled out)."""
    words = ["hlsgen", "generate", str(args.model), "-o", str(args.outdir)]
    if design_file is not None:
        words += ["--design", str(design_file.path)]
    else:
        words += ["--method", method]
    if quantization.calibration is not None:
        words += ["--calibration", str(quantization.calibration)]
    if quantization.input_range is not None:
        words += ["--input-range", *(f"{v:g}" for v in quantization.input_range)]
    if args.vectors is not None:
        words += ["--vectors", str(args.vectors)]
    words += ["--count", str(args.count), "--device", part, "--clock-mhz", f"{clock_mhz:g}"]
    if args.pipeline is not None:
        words += ["--pipeline", str(args.pipeline)]
    if not core.is_default:
        words += ["--name", core.name]
    if args.allow_mismatch:
        words += ["--allow-mismatch"]
    return shlex.join(words)
