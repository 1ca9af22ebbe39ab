"""The main job on hlsgen's own example: the 8x8-digits CNN in this directory.

Runs, in order and through the real command line (``python -m hlsgen``)::

    1. inspect    which layers hlsgen supports
    2. evaluate   source model (onnxruntime) vs hlsgen's integer reference, on labelled test data
    3. build      the main job: the genetic search picks each layer's shift-add decomposition
                  so the design fits a small part (DEVICE, an Arty S7-50's xc7s50, whose LUTs
                  the exact design overflows) within 1 point of top-1, then the HLS + Verilog
                  project of the chosen design with 20 test vectors from onnxruntime
    4. make       C simulation, RTL simulation and resource estimate (yosys) of that project

then prints where the Pareto plot is and whether yosys says the design fits the part.

A subcommand that is not built yet is skipped with a note; the first step that fails stops the
demo with a non-zero exit.  Example data is produced by ``examples/train_digits_cnn.py``.

Usage: ``python examples/demo.py --out out/demo`` (what ``make demo`` runs).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Example files, relative to ROOT (every step runs with ROOT as its working directory).
MODEL = "examples/digits_cnn.onnx"
TEST_DATA = "examples/digits_test.npz"
CALIBRATION = "examples/digits_calib.npz"
VECTOR_COUNT = 20
DEVICE = "xc7s50"
# Summary: numeric JSON entries whose key contains one of these words are shown.
SUMMARY_KEYS = ("top1", "agreement", "validation_drop")


@dataclass(frozen=True)
class Step:
    title: str
    argv: list[str]
    needs_command: str  # the hlsgen subcommand this step runs, or needs the output of


def plan(out: Path) -> list[Step]:
    """The demo's steps in order; ``out`` is an absolute directory."""
    hlsgen = [sys.executable, "-m", "hlsgen"]
    project = out / "project"
    return [
        Step("inspect the model", [*hlsgen, "inspect", MODEL], "inspect"),
        Step(
            "evaluate the integer reference against onnxruntime",
            [*hlsgen, "evaluate", MODEL, "--data", TEST_DATA, "--calibration", CALIBRATION,
             "--json", str(out / "evaluate.json")],
            "evaluate",
        ),
        Step(
            f"search per-layer decompositions for {DEVICE}, then generate the project",
            [*hlsgen, "build", MODEL, "-o", str(project), "--calibration", CALIBRATION,
             "--data", TEST_DATA, "--device", DEVICE, "--max-accuracy-drop", "1.0",
             "--count", str(VECTOR_COUNT), "--force"],
            "build",
        ),
        Step(
            "C simulation, RTL simulation and resource estimate of the project",
            ["make", "-C", str(project), "csim", "sim", "estimate", f"PYTHON={sys.executable}"],
            "build",
        ),
    ]


def command_exists(name: str) -> bool:
    """A subcommand exists once the CLI lists it and its module is importable."""
    from hlsgen.cli import COMMANDS

    return name in COMMANDS and importlib.util.find_spec(f"hlsgen.commands.{name}") is not None


def _shown(argv: list[str]) -> str:
    """The command line as a user would type it from the repository root."""
    words = ["python" if word == sys.executable else word for word in argv]
    words = [w.replace(f"PYTHON={sys.executable}", "PYTHON=python") for w in words]
    return " ".join(_relative(w) for w in words)


def _relative(word: str) -> str:
    path = Path(word)
    if path.is_absolute() and path.is_relative_to(ROOT):
        return str(path.relative_to(ROOT))
    return word


def accuracy_figures(paths: list[Path]) -> list[str]:
    """'file: key.path = value' for every numeric entry of the given JSON files whose key names
    an accuracy-like figure.  The commands own their JSON layout; the demo only reads it."""
    lines = []
    for path in paths:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            lines.append(f"{_relative(str(path))}: unreadable ({err})")
            continue
        for key, value in _numeric_leaves(data, ""):
            if any(word in key.lower() for word in SUMMARY_KEYS):
                lines.append(f"{_relative(str(path))}: {key} = {value}")
    return lines


def _numeric_leaves(data, prefix: str):
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _numeric_leaves(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _numeric_leaves(value, f"{prefix}[{index}]")
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        yield prefix, data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "out" / "demo",
        help="directory for everything the demo writes (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    # Run the checkout's hlsgen, installed or not.
    sys.path.insert(0, str(ROOT))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))

    missing = [name for name in (MODEL, TEST_DATA, CALIBRATION) if not (ROOT / name).is_file()]
    if missing:
        print(f"demo: missing {', '.join(missing)}; run: python examples/train_digits_cnn.py",
              file=sys.stderr)
        return 2

    started = time.time()
    steps = plan(out)
    ran, skipped = [], []
    for number, step in enumerate(steps, start=1):
        print(f"\n== [{number}/{len(steps)}] {step.title}")
        if not command_exists(step.needs_command):
            needs = "" if step.argv[0] != "make" else " (it writes the project this step builds)"
            print(f"   skipped: 'hlsgen {step.needs_command}' is not built yet{needs}")
            skipped.append(step.title)
            continue
        if step.argv[0] == "make" and shutil.which("make") is None:
            print(f"demo: step {number} ({step.title}) needs GNU make, which is not on PATH",
                  file=sys.stderr)
            return 1
        print(f"   $ {_shown(step.argv)}", flush=True)
        step_started = time.perf_counter()
        result = subprocess.run(step.argv, cwd=ROOT, env=env, check=False)
        if result.returncode != 0:
            print(
                f"\ndemo: step {number} ({step.title}) failed with exit code "
                f"{result.returncode}:\n  {_shown(step.argv)}",
                file=sys.stderr,
            )
            return result.returncode if result.returncode > 0 else 1
        print(f"   ok ({time.perf_counter() - step_started:.1f} s)")
        ran.append(step.title)

    print(f"\n== summary: {len(ran)} step(s) ran, {len(skipped)} skipped; output in "
          f"{_relative(str(out))}")
    # Only JSON written by this run: a stale file from an earlier demo must not be reported.
    written = sorted(
        path for path in out.rglob("*.json")
        if path.stat().st_mtime >= started - 1 and path.stat().st_size < 1_000_000
        and path.name in ("evaluate.json", "design.json")  # not the front or the checkpoint
    )
    for line in accuracy_figures(written):
        print(f"   {line}")
    if not written:
        print("   no accuracy figures yet (no step wrote a JSON report)")
    project = out / "project"
    plot = project.with_name(project.name + ".explore") / "pareto.png"
    if plot.is_file():
        print(f"   Pareto plot of the search: {_relative(str(plot))}")
    print(f"   {fit_verdict(project / 'results' / 'estimate.json', DEVICE)}")
    return 0


def fit_verdict(estimate: Path, device_name: str) -> str:
    """yosys' verdict from results/estimate.json: does the design fit the part under the
    search's utilization ceiling."""
    try:
        fit = json.loads(estimate.read_text())["fit"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f"no yosys fit verdict for {device_name} ({err})"
    used = ", ".join(f"{name} {r['percent']:.1f} %" for name, r in fit["resources"].items())
    return f"yosys: {fit['verdict']} ({used})"


if __name__ == "__main__":
    sys.exit(main())
