"""Command-line options shared by several commands, each defined once here so that one option
name means one thing in every command (``tests/test_cli_consistency.py`` holds them to it).

Every ``add_*`` function adds one group of options to a subcommand's parser; the matching
``*_from_args`` function turns the parsed values into checked objects, raising
:class:`~hlsgen.errors.InputError` (exit 2) with the option's name for a bad value.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

from hlsgen.errors import InputError

__all__ = [
    "DEFAULT_CLOCK_MHZ", "DEFAULT_COUNT", "DEFAULT_DEVICE", "DEFAULT_METHOD",
    "add_model", "add_output", "add_quantization", "add_target", "add_budget", "add_jobs",
    "add_design_choice", "add_data", "add_vectors", "add_search", "add_name",
    "Quantization", "quantization_from_args", "target_from_args", "budget_from_args",
    "name_from_args",
    "check_jobs", "check_positive", "file_sha256",
]

DEFAULT_METHOD = "exact"
DEFAULT_COUNT = 20
DEFAULT_DEVICE = "xc7z020"  # the part vendor scripts target when no --device is given
DEFAULT_CLOCK_MHZ = 200.0
DEFAULT_VALIDATION_FRACTION = 0.5


def default_jobs() -> int:
    """Processes for parallel work: the CPUs this process may run on."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


# -- adding options --------------------------------------------------------------------------
def add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="ONNX model (float or int8 QDQ)")


def add_output(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("-o", "--out", type=Path, required=True, dest="outdir", metavar="OUTDIR",
                        help=what)
    parser.add_argument("--force", action="store_true",
                        help="replace what OUTDIR already holds (otherwise an existing OUTDIR "
                        "is refused)")


def add_quantization(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "quantization of a float model (an int8 QDQ model keeps its own scales)")
    group.add_argument("--calibration", type=Path, metavar="CAL.npz",
                       help="unlabelled samples (x) whose activation ranges set the scales")
    group.add_argument("--input-range", type=float, nargs=2, metavar=("LO", "HI"),
                       help="data-free: the range of the model's input values, e.g. 0 255 "
                       "(no samples needed)")


def add_target(parser: argparse.ArgumentParser, *, budget_default: bool) -> None:
    """``--device`` (alias ``--part``) and ``--clock-mhz``.  ``budget_default``: commands that
    search say that no ``--device`` means no resource budget."""
    from hlsgen.explore.devices import DEVICES

    default = ("none: no resource budget, vendor scripts for " + DEFAULT_DEVICE
               if budget_default else DEFAULT_DEVICE)
    group = parser.add_argument_group("target")
    group.add_argument("--device", "--part", dest="device", metavar="PART",
                       help="FPGA family member or full part number (e.g. xc7z020, "
                       f"xc7z020clg484-1); known: {', '.join(DEVICES)}; default: {default}")
    group.add_argument("--clock-mhz", type=float, metavar="F",
                       help=f"target clock in MHz: sets the pipelining and the latency in µs "
                       f"(default {DEFAULT_CLOCK_MHZ:g})")


def add_budget(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "custom resource budget (instead of --device; give all four)")
    group.add_argument("--lut-budget", type=int, metavar="N", help="at most N LUTs")
    group.add_argument("--ff-budget", type=int, metavar="N", help="at most N flip-flops")
    group.add_argument("--dsp-budget", type=int, metavar="N", help="at most N DSP slices")
    group.add_argument("--bram-budget", type=float, metavar="N",
                       help="at most N 36 Kb block RAMs")
    from hlsgen.explore.devices import LUT_MODEL_MARGIN

    parser.add_argument("--lut-margin", type=float, default=100 * LUT_MODEL_MARGIN, metavar="PCT",
                        help="with --device: keep PCT %% of the LUT ceiling in reserve for the "
                        "cost model's error against synthesis (default %(default)g)")


def add_jobs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", "--workers", dest="jobs", type=int, default=default_jobs(),
                        metavar="N", help="worker processes for decomposition and the search "
                        f"(same result for any N); default: the CPUs available ({default_jobs()})")


def add_design_choice(parser: argparse.ArgumentParser) -> None:
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--method", metavar="M",
                        help="one method for every Conv/Dense layer: exact, po2, terms:K, "
                        f"lcc[:...] (default {DEFAULT_METHOD}); a .json file is read as --design")
    choice.add_argument("--design", type=Path, metavar="DESIGN.json",
                        help="per-layer methods (and pipelining): the design.json of hlsgen "
                        "explore, or a JSON object {layer: method}")


def add_data(parser: argparse.ArgumentParser, *, required: bool, purpose: str) -> None:
    parser.add_argument("--data", type=Path, required=required, metavar="DATA.npz",
                        help=f"{purpose} (.npz with x in the model's input layout and dtype, "
                        "optional integer labels y)")
    parser.add_argument("--limit", type=int, metavar="N", help="use only the first N samples "
                        "of --data")


def add_vectors(parser: argparse.ArgumentParser, *, default_source: str) -> None:
    group = parser.add_argument_group("test vectors of the project")
    group.add_argument("--vectors", type=Path, metavar="DATA.npz",
                       help=f"test frames: the first --count samples of x (default: "
                       f"{default_source})")
    group.add_argument("--count", type=int, default=DEFAULT_COUNT, metavar="N",
                       help=f"number of test frames (default {DEFAULT_COUNT})")


def add_name(parser: argparse.ArgumentParser) -> None:
    from hlsgen.emit.common import DEFAULT_NAME

    parser.add_argument("--name", default=DEFAULT_NAME, metavar="NAME",
                        help="name of the generated core: the top is NAME_top, and every "
                        "Verilog module (and its file), the HLS top and its kernels start with "
                        "NAME_, so that cores of different names can share one Vivado design; "
                        "a letter, then at most 31 letters, digits or _ (default "
                        f"{DEFAULT_NAME})")


def add_search(parser: argparse.ArgumentParser) -> None:
    from hlsgen.explore.run import ExploreOptions

    d = ExploreOptions()
    group = parser.add_argument_group("search")
    group.add_argument("--max-accuracy-drop", type=float, default=d.max_accuracy_drop,
                       metavar="PP", help="allowed top-1 drop in percentage points against the "
                       "exact integer network (agreement loss without labels); "
                       f"default {d.max_accuracy_drop:g}")
    group.add_argument("--accuracy-margin", type=float, default=d.accuracy_margin,
                       metavar="PP", help="enforce the bound this many points tighter on the "
                       f"search samples, to leave room on unseen data (default "
                       f"{d.accuracy_margin:g})")
    group.add_argument("--confidence", type=float, default=d.confidence_z, metavar="Z",
                       help="the bound must hold with Z standard errors of the measured drop "
                       "to spare (designs that flip many predictions are refused even when "
                       f"lucky on the samples); 0 turns this off (default {d.confidence_z:g})")
    group.add_argument("--logit-guard", action=argparse.BooleanOptionalAction,
                       default=d.logit_guard, help="the sampling margin (--confidence) "
                       "counts at least the top-1 flips the noise of the design's output "
                       "logits predicts, not only those the samples happened to show: it "
                       "refuses designs that are merely lucky on the samples (default: on)")
    group.add_argument("--validation", type=Path, metavar="DATA.npz",
                       help="labelled samples the search never sees, only measured (default: "
                       "a stratified part of --data, see --validation-fraction)")
    group.add_argument("--validation-fraction", type=float, default=DEFAULT_VALIDATION_FRACTION,
                       metavar="F", help="share of labelled --data held out for validation, "
                       f"split by class with --seed (default {DEFAULT_VALIDATION_FRACTION:g})")
    group.add_argument("--population", type=int, default=d.population, metavar="N",
                       help=f"designs per generation of the genetic search (default "
                       f"{d.population})")
    group.add_argument("--generations", type=int, default=d.generations, metavar="N",
                       help=f"generations of the genetic search (default {d.generations})")
    group.add_argument("--seed", type=int, default=d.seed, metavar="S",
                       help=f"random seed: same seed and inputs, same result (default {d.seed})")
    group.add_argument("--scheduler", metavar="ADDRESS",
                       help="evaluate on a Dask distributed scheduler (needs hlsgen[dask])")
    group.add_argument("--resume", action="store_true",
                       help="continue an interrupted search from its checkpoint in the "
                       "search directory")


# -- reading them back -----------------------------------------------------------------------
@dataclass(frozen=True)
class Quantization:
    """How a float model's scales are chosen: calibration samples or a data-free input range.
    ``record`` is what design.json stores, so generate can check it used the same."""

    calibration: Path | None = None
    input_range: tuple[float, float] | None = None

    def record(self) -> dict:
        if self.calibration is not None:
            return {"calibration_sha256": file_sha256(self.calibration)}
        if self.input_range is not None:
            return {"input_range": list(self.input_range)}
        return {}


def quantization_from_args(args) -> Quantization:
    from hlsgen.commands.common import check_input_range

    input_range = check_input_range(getattr(args, "input_range", None))
    if args.calibration is not None and input_range is not None:
        raise InputError("give either --calibration or --input-range, not both")
    return Quantization(args.calibration, input_range)


def load_graph(model: Path, quantization: Quantization):
    """Import ``model`` to the integer IR, quantized as ``quantization`` says."""
    from hlsgen.commands.common import load_data
    from hlsgen.frontend import import_model

    cal_x = None
    if quantization.calibration is not None:
        cal_x, _ = load_data(quantization.calibration)
    return import_model(model, calibration=cal_x,
                        data_free_input_range=quantization.input_range)


def target_from_args(args, default_device: str | None = DEFAULT_DEVICE):
    """(Device or None, full part number, clock in MHz).  A full part number given to
    ``--device`` is kept for the vendor scripts; a family member gets its usual part."""
    from hlsgen.explore.devices import device

    clock = DEFAULT_CLOCK_MHZ if args.clock_mhz is None else args.clock_mhz
    if isinstance(clock, bool) or not math.isfinite(clock) or not 1 <= clock <= 1000:
        raise InputError(f"--clock-mhz {clock:g} is out of range; give a frequency in MHz "
                         "between 1 and 1000, e.g. 200")
    if args.device is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}",
                                                    args.device):
        from hlsgen.names import terminal

        raise InputError(f"--device/--part '{terminal(args.device, 40)}' is not an FPGA part "
                         "name; give e.g. xc7z020 or xc7z020clg400-1")
    name = args.device or default_device
    if name is None:
        return None, device(DEFAULT_DEVICE).part, clock
    dev = device(name)
    part = name if name.lower() != dev.name and name.lower().startswith(dev.name) else dev.part
    return dev, part.lower(), clock


def name_from_args(args):
    """The :class:`~hlsgen.emit.common.CoreName` of ``--name`` (checked: exit 2 when it is not
    a safe identifier prefix)."""
    from hlsgen.emit.common import CoreName

    return CoreName(args.name)


def budget_from_args(args):
    """The search's resource limits: a ``--device`` (80 % ceiling), four custom budgets, or
    none."""
    from hlsgen.explore.devices import Budget, budget_for, device

    explicit = [args.lut_budget, args.ff_budget, args.dsp_budget, args.bram_budget]
    if args.device and any(v is not None for v in explicit):
        raise InputError("give either --device or the --*-budget options, not both")
    if any(v is not None for v in explicit):
        missing = [name for name, v in zip(("--lut-budget", "--ff-budget", "--dsp-budget",
                                            "--bram-budget"), explicit) if v is None]
        if missing:
            raise InputError(f"a custom budget needs all four limits; missing {', '.join(missing)}")
        if min(explicit) < 0 or not all(math.isfinite(v) for v in explicit):
            raise InputError("budgets must be finite and >= 0")
        return Budget(args.lut_budget, args.ff_budget, args.dsp_budget, args.bram_budget, "user")
    if not 0 <= args.lut_margin < 100 or not math.isfinite(args.lut_margin):
        raise InputError(f"--lut-margin must be in [0, 100), got {args.lut_margin:g}")
    if args.device:
        return budget_for(device(args.device), lut_margin=args.lut_margin / 100)
    return Budget.unconstrained()


def check_positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise InputError(f"{name} must be >= 1, got {value}")


def check_jobs(jobs: int) -> None:
    check_positive("--jobs/--workers", jobs)


def file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "unknown"  # the loader reports a missing or unreadable file
