"""The resource model of the whole-network engine (``hlsgen.systolic.netresources``) against
yosys, one module at a time, on shared and built models at several array shapes.

``--measure`` runs yosys ``synth_xilinx`` (per module: the array, the lanes, the top with both
as black boxes) on every configuration not yet in ``--cache`` and stores the per-module
figures there; the report then puts the model's estimate beside each measurement.  The
configurations are split in two: the model's coefficients were fitted on the ``fit`` ones
only; the ``check`` ones say how well it predicts designs it was not fitted on.

    python benchmarks/engine_resources.py --measure [--only fit|check]
    python benchmarks/engine_resources.py            # the table from the cache
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from shiftadd_engine import IMPORT, model_folder, synthesize  # noqa: E402

from hlsgen.frontend import import_model  # noqa: E402
from hlsgen.reference import quantize_input  # noqa: E402
from hlsgen.systolic import ArrayShape, module_names  # noqa: E402
from hlsgen.systolic.network import plan_network  # noqa: E402

# (model, array, copy Kbit, role[, shared depthwise reads]): "fit" configurations calibrated
# the model's coefficients, "check" ones were kept out of the fit.
CONFIGS = [
    ("mnist8", "8x4", 144, "fit"),
    ("kws_dscnn_int8", "16x4", 144, "fit"),
    ("resnet8_int8", "16x8", 144, "fit"),
    ("vww_mbv1_025", "16x8", 144, "fit"),
    ("kws_dscnn_int8", "32x8", 144, "fit"),
    ("resnet8_int8", "8x16", 144, "fit"),
    ("mnist8", "32x8", 144, "fit"),
    ("mnist8", "16x8", 144, "check"),
    ("kws_dscnn_int8", "32x8", 512, "check"),
    ("kws_dscnn_int8", "16x16", 144, "check"),
    ("resnet8_int8", "32x8", 144, "check"),
    ("resnet8_int8", "32x4", 144, "check"),
    ("vww_mbv1_025", "32x8", 144, "check"),
    ("vww_mbv1_025", "32x4", 144, "check"),
    ("vww_mbv1_025", "16x8", 144, "fit", False),
    ("kws_dscnn_int8", "16x4", 144, "fit", False),
    ("kws_dscnn_int8", "32x8", 144, "check", False),
    ("vww_mbv1_025", "32x8", 144, "check", False),
    ("vww_mbv1_025", "32x4", 144, "check", False),
    # lanes multiplying over two cycles (split_lanes); array and top as without it
    ("mnist8", "8x4", 144, "fit", True, True),
    ("kws_dscnn_int8", "16x4", 144, "fit", True, True),
    ("resnet8_int8", "16x8", 144, "fit", True, True),
    ("vww_mbv1_025", "16x8", 144, "fit", True, True),
    ("kws_dscnn_int8", "32x8", 144, "check", True, True),
    ("resnet8_int8", "32x8", 144, "check", True, True),
    ("vww_mbv1_025", "32x8", 144, "check", True, True),
    ("vww_mbv1_025", "32x4", 144, "check", True, True),
]
PARTS = ("array", "lanes", "top")
KEYS = ("luts", "ffs", "brams")


def configs() -> list[tuple[str, str, int, str, bool, bool]]:
    defaults = (True, False)  # shared depthwise reads, no split lanes
    return [tuple(c) + defaults[len(c) - 4:] for c in CONFIGS]


def key(model: str, array: str, kbits: int, share: bool = True, split: bool = False) -> str:
    return (f"{model}@{array}/{kbits}" + ("" if share else "/noshare")
            + ("/split" if split else ""))


def load_plan(model: str, array: str, kbits: int, big_dir: Path, share: bool = True,
              split: bool = False):
    folder = model_folder(model, big_dir)
    graph = import_model(folder / "model.onnx", **IMPORT.get(model, {}))
    plan = plan_network(graph, ArrayShape.parse(array), pe="shiftadd", copy_bits=kbits * 1024,
                        share_reads=share, split_lanes=split)
    return folder, graph, plan


def measure_lanes(model: str, array: str, kbits: int, share: bool, split: bool, base: dict,
                  big_dir: Path, workdir: Path, timeout: float) -> dict:
    """The lanes alone (a design differing from ``base`` only there)."""
    from hlsgen.systolic.netemit import emit_network
    from hlsgen.verify.estimate import _synth, find_yosys, summarize

    _, _, plan = load_plan(model, array, kbits, big_dir, share, split)
    where = workdir / key(model, array, kbits, share, split).replace("@", "_").replace("/", "_")
    shutil.rmtree(where, ignore_errors=True)
    (where / "rtl").mkdir(parents=True)
    for rel, text in emit_network(plan).items():
        (where / rel).write_text(text)
    name = module_names()["accum"]
    start = time.time()
    doc = _synth(where / "rtl", [where / "rtl" / f"{name}.v"], name, (), find_yosys(), timeout,
                 where / "yosys.lanes.log")
    lanes = summarize(doc, "yosys", {}, name).total
    parts = dict(base["parts"], lanes={k: getattr(lanes, k) for k in KEYS})
    return {"parts": parts, "total": {k: sum(parts[p][k] for p in PARTS) for k in KEYS},
            "seconds": round(time.time() - start, 1)}


def measure(model: str, array: str, kbits: int, share: bool, split: bool, big_dir: Path,
            workdir: Path, timeout: float) -> dict:
    from hlsgen.systolic.project import write_network_project

    folder, graph, plan = load_plan(model, array, kbits, big_dir, share, split)
    x = quantize_input(graph, np.load(folder / "data.npz")["x"][:1])
    where = workdir / key(model, array, kbits, share, split).replace("@", "_").replace("/", "_")
    shutil.rmtree(where, ignore_errors=True)
    write_network_project(where, graph, plan.shape, x, pe="shiftadd", copy_bits=kbits * 1024,
                          share_reads=share, split_lanes=split)
    start = time.time()
    result = synthesize(where / "rtl", timeout)
    modules = result["modules"]
    by_part = {}
    for name, cost in modules.items():
        part = ("array" if name.endswith("array") else "lanes" if name.endswith("accum")
                else "top")
        by_part[part] = {k: cost[k] for k in KEYS}
    total = {k: result["total"][k] for k in KEYS}
    if "top" not in by_part:  # the top's own cells: the total less its two submodules
        by_part["top"] = {k: total[k] - by_part["array"][k] - by_part["lanes"][k] for k in KEYS}
    return {"parts": by_part, "total": total,
            "seconds": round(time.time() - start, 1)}


def refresh_top(model: str, array: str, kbits: int, share: bool, got: dict, big_dir: Path,
                workdir: Path, timeout: float) -> dict:
    """Synthesize the top again (its submodules as black boxes) after a change of the top
    alone; the array's and the lanes' figures stay."""
    from hlsgen.systolic.project import write_network_project
    from hlsgen.verify.estimate import _synth, find_yosys, summarize

    folder, graph, plan = load_plan(model, array, kbits, big_dir, share)
    x = quantize_input(graph, np.load(folder / "data.npz")["x"][:1])
    where = workdir / key(model, array, kbits, share).replace("@", "_").replace("/", "_")
    shutil.rmtree(where, ignore_errors=True)
    write_network_project(where, graph, plan.shape, x, pe="shiftadd", copy_bits=kbits * 1024,
                          share_reads=share)
    names = module_names()
    rtl = where / "rtl"
    start = time.time()
    doc = _synth(rtl, sorted(rtl.glob("*.v")), names["top"], (names["array"], names["accum"]),
                 find_yosys(), timeout, where / "yosys.top.log")
    top = summarize(doc, "yosys", {}, names["top"]).total  # the black boxes count nothing
    parts = dict(got["parts"], top={k: getattr(top, k) for k in KEYS})
    total = {k: sum(parts[p][k] for p in PARTS) for k in KEYS}
    return {"parts": parts, "total": total, "seconds": round(time.time() - start, 1)}


def report(cache: dict, big_dir: Path) -> list[dict]:
    from hlsgen.systolic.netresources import estimate_network

    rows = []
    for model, array, kbits, role, share, split in configs():
        got = cache.get(key(model, array, kbits, share, split))
        if got is None:
            continue
        _, _, plan = load_plan(model, array, kbits, big_dir, share, split)
        est = estimate_network(plan)
        row = {"config": key(model, array, kbits, share, split), "role": role}
        for part in (*PARTS, "total"):
            meas = got["total"] if part == "total" else got["parts"][part]
            guess = est.total if part == "total" else est.parts[part]
            for k in KEYS:
                row[f"{part}.{k}"] = (meas[k], round(getattr(guess, k), 1))
        rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    print("| configuration | role | LUTs yosys / model (error) | FFs | RAMB36 | array LUTs | "
          "lanes LUTs | top LUTs |")
    print("|---|---|---|---|---|---|---|---|")

    def cell(pair):
        meas, est = pair
        err = (est - meas) / meas * 100 if meas else 0.0
        return f"{meas:,.0f} / {est:,.0f} ({err:+.0f} %)"

    worst = {}
    for r in rows:
        print(f"| {r['config']} | {r['role']} | {cell(r['total.luts'])} | {cell(r['total.ffs'])} "
              f"| {cell(r['total.brams'])} | {cell(r['array.luts'])} | {cell(r['lanes.luts'])} "
              f"| {cell(r['top.luts'])} |")
        for k in KEYS:
            meas, est = r[f"total.{k}"]
            if meas:
                err = abs(est - meas) / meas * 100
                worst[(r["role"], k)] = max(worst.get((r["role"], k), 0.0), err)
    for (role, k), err in sorted(worst.items()):
        print(f"largest |error| of the total {k} over the {role} configurations: {err:.1f} %")


def fit(cache: dict, big_dir: Path) -> dict:
    """Least-squares coefficients (none negative) of every part's LUTs and FFs over the "fit"
    designs: the table to paste into ``netresources.COEFFICIENTS``."""
    from hlsgen.systolic.netresources import features

    samples = []
    for model, array, kbits, role, share, split in configs():
        got = cache.get(key(model, array, kbits, share, split))
        if role == "fit" and got is not None:
            plan = load_plan(model, array, kbits, big_dir, share, split)[2]
            samples.append((features(plan), got))
    table = {}
    for part in PARTS:
        names = [*samples[0][0][part], "const"]
        a = np.array([[f[part].get(n, 1.0) for n in names] for f, _ in samples], dtype=float)
        table[part] = {}
        for k in ("luts", "ffs"):
            b = np.array([got["parts"][part][k] for _, got in samples], dtype=float)
            table[part][k] = dict(zip(names, _nonnegative_least_squares(a, b)))
    return table


def _nonnegative_least_squares(a: np.ndarray, b: np.ndarray) -> list[float]:
    """Relative-error least squares, dropping the most negative coefficient until none is."""
    weights = 1.0 / np.maximum(b, 1.0)
    active = list(range(a.shape[1]))
    while True:
        x, *_ = np.linalg.lstsq(a[:, active] * weights[:, None], b * weights, rcond=None)
        if (x >= 0).all() or len(active) == 1:
            break
        active.pop(int(np.argmin(x)))
    coeffs = [0.0] * a.shape[1]
    for i, v in zip(active, x):
        coeffs[i] = round(float(max(v, 0.0)), 4)
    return coeffs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", action="store_true", help="run yosys where not cached")
    parser.add_argument("--only", choices=("fit", "check"), help="measure these only")
    parser.add_argument("--refresh-top", default="", metavar="MODELS",
                        help="comma-separated models whose cached tops to synthesize again")
    parser.add_argument("--fit", action="store_true",
                        help="print the coefficients fitted on the fit designs")
    parser.add_argument("--cache", type=Path,
                        default=HERE / "results" / "engine_resources.json")
    parser.add_argument("--big-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "hlsgen_big_models")
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "hlsgen_engine_resources")
    parser.add_argument("--timeout", type=float, default=7200.0)
    args = parser.parse_args(argv)
    cache = json.loads(args.cache.read_text()) if args.cache.is_file() else {}
    if args.measure:
        for model, array, kbits, role, share, split in configs():
            name = key(model, array, kbits, share, split)
            if name in cache or (args.only and role != args.only):
                continue
            print(f"yosys: {name} ({role}) ...", flush=True)
            base = cache.get(key(model, array, kbits, share))
            if split and base is not None:
                cache[name] = measure_lanes(model, array, kbits, share, split, base,
                                            args.big_dir, args.workdir, args.timeout)
            else:
                cache[name] = measure(model, array, kbits, share, split, args.big_dir,
                                      args.workdir, args.timeout)
            args.cache.parent.mkdir(parents=True, exist_ok=True)
            args.cache.write_text(json.dumps(cache, indent=2) + "\n")
            print(f"  {cache[name]['total']} in {cache[name]['seconds']} s", flush=True)
    refresh = {m for m in args.refresh_top.split(",") if m}
    for model, array, kbits, role, share, split in configs():
        name = key(model, array, kbits, share, split)
        if model in refresh and name in cache and not split:
            print(f"yosys, top: {name} ({role}) ...", flush=True)
            cache[name] = refresh_top(model, array, kbits, share, cache[name], args.big_dir,
                                      args.workdir, args.timeout)
            args.cache.write_text(json.dumps(cache, indent=2) + "\n")
            print(f"  {cache[name]['parts']['top']} in {cache[name]['seconds']} s", flush=True)
    if args.fit:
        print(json.dumps(fit(cache, args.big_dir), indent=1))
        return 0
    print_table(report(cache, args.big_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
