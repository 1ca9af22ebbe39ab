"""hlsgen ``exact`` against da4ml on the same integer weight matrices: adders and depth.

For every Conv/Dense layer of the int8 models (every group of a grouped conv), both tools get
the same integer matrix (rows = output channels, columns = KH*KW*Cin/groups, as hlsgen's IR
holds it) and the same input range (the layer's int8 input minus its zero point).  Both results
are checked on random inputs against the plain integer product before they are counted.

* hlsgen: ``decompose_layer(layer, "exact")`` -- CSD + CSE + row differences.
* da4ml (``pip install da4ml==0.6.0``, called as a library): ``da4ml.cmvm.solve`` on the
  kernel ``W.T`` (da4ml computes ``x @ kernel``); adders are its add/sub ops over all
  pipeline stages, depth the longest chain of them.  By default da4ml's own default settings
  (it searches over its decomposition delay constraint); a layer whose solve exceeds
  ``--timeout`` seconds is solved again without that search (``search_all_decompose_dc=False``),
  and the row says so.

    python benchmarks/compare_da4ml.py                  # kws_dscnn_int8 and resnet8_int8
    python benchmarks/compare_da4ml.py --quick          # kws_dscnn_int8, no da4ml search (CI)
    python benchmarks/compare_da4ml.py --out results/da4ml   # writes .csv and .json there
    python benchmarks/compare_da4ml.py --da4ml-from results/da4ml.csv   # hlsgen only, da4ml
                                                          # figures recorded by an earlier run

Fixed seeds; both tools are deterministic.  Prints one row per layer and the totals with the
ratio hlsgen / da4ml (below 1: hlsgen needs fewer adders).
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import queue
import sys
import time
from pathlib import Path

import numpy as np

MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
ALL = ("kws_dscnn_int8", "resnet8_int8")
QUICK = ("kws_dscnn_int8",)
COLUMNS = ("model", "layer", "rows", "cols", "groups", "hlsgen_adders", "hlsgen_depth",
           "hlsgen_s", "da4ml_adders", "da4ml_depth", "da4ml_s", "da4ml_setting", "ratio")
SEED = 0


def da4ml_solve(matrix: np.ndarray, lo: int, hi: int, search: bool):
    """(adders, depth) of da4ml's solution for ``matrix @ x`` with x in [lo, hi]."""
    from da4ml.cmvm import solve

    kernel = np.ascontiguousarray(matrix.T, dtype=np.float32)
    pipeline = solve(kernel, qintervals=[(float(lo), float(hi), 1.0)] * matrix.shape[1],
                     search_all_decompose_dc=search)
    x = np.random.default_rng(SEED).integers(lo, hi + 1, size=(16, matrix.shape[1]))
    got = np.array([pipeline(row.astype(np.float64)) for row in x])
    if not np.array_equal(got, x @ matrix.T):
        raise RuntimeError("da4ml's solution does not compute the matrix")
    adders, depth = 0, [0] * matrix.shape[1]
    for stage in pipeline.solutions:
        level = []
        for op in stage.ops:
            if op.opcode == -1:  # copy of a stage input
                level.append(depth[op.id0])
            elif op.opcode in (0, 1):  # add / subtract
                adders += 1
                level.append(1 + max(level[op.id0], level[op.id1]))
            else:  # not expected in a pure constant matrix product
                raise RuntimeError(f"da4ml op code {op.opcode} in a CMVM solution")
        depth = [level[i] if i >= 0 else 0 for i in stage.out_idxs]
    return adders, max(depth, default=0)


def _worker(matrices, lo, hi, search, results) -> None:
    try:
        total, deepest = 0, 0
        for matrix in matrices:
            adders, depth = da4ml_solve(matrix, lo, hi, search)
            total, deepest = total + adders, max(deepest, depth)
        results.put(("ok", total, deepest))
    except Exception as err:  # reported in the table, not raised across the process
        results.put(("error", repr(err), 0))


def da4ml_layer(matrices, lo, hi, search: bool, timeout: float):
    """Run da4ml on every group matrix in a child process; ('timeout', ...) past the limit."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_worker, args=(matrices, lo, hi, search, results))
    start = time.perf_counter()
    child.start()
    try:
        status = results.get(timeout=timeout)
    except queue.Empty:
        status = ("timeout", None, None)
    child.join(timeout=5)
    if child.is_alive():
        child.kill()
        child.join()
    return status, time.perf_counter() - start


def hlsgen_layer(layer):
    from hlsgen.decompose.methods import decompose_layer, layer_matrices

    start = time.perf_counter()
    graphs = decompose_layer(layer, "exact")
    seconds = time.perf_counter() - start
    for matrix, graph in zip(layer_matrices(layer), graphs):
        if not np.array_equal(graph.effective_matrix(), matrix):
            raise RuntimeError(f"{layer.name}: hlsgen exact is not exact")
    return (sum(g.adder_count for g in graphs), max(g.depth for g in graphs), seconds)


def load_da4ml(path: Path) -> dict[tuple, dict]:
    """da4ml's figures from an earlier run's CSV, keyed by (model, layer, rows, cols, groups):
    da4ml is deterministic and its search takes about an hour on these models, so hlsgen-side
    changes are measured against its recorded results."""
    with open(path, newline="") as handle:
        return {(r["model"], r["layer"], int(r["rows"]), int(r["cols"]), int(r["groups"])): r
                for r in csv.DictReader(handle)}


def _recorded(row: dict | None, path: Path):
    """((status, adders, depth), seconds, setting) of a recorded da4ml row."""
    if row is None:
        return ("not recorded", None, None), 0.0, f"not in {path.name}"
    seconds = float(row["da4ml_s"] or 0.0)
    if not row["da4ml_adders"]:
        return (row["da4ml_setting"], None, None), seconds, f"{row['da4ml_setting']} (recorded)"
    status = ("ok", int(row["da4ml_adders"]), int(row["da4ml_depth"]))
    return status, seconds, f"{row['da4ml_setting']} (recorded)"


def compare_model(name: str, search: bool, timeout: float,
                  recorded: dict | None = None, recorded_path: Path | None = None
                  ) -> list[dict]:
    from hlsgen.decompose.methods import layer_matrices
    from hlsgen.design import weight_layers
    from hlsgen.frontend import import_model

    graph = import_model(MODELS / name / "model.onnx")
    rows = []
    for layer in weight_layers(graph):
        source = graph.tensor(layer.input)
        lo, hi = source.dtype.qmin - source.zero_point, source.dtype.qmax - source.zero_point
        matrices = layer_matrices(layer)
        ours, our_depth, our_s = hlsgen_layer(layer)
        setting = "default" if search else "no-dc-search"
        if recorded is not None:
            key = (name, layer.name, int(matrices[0].shape[0]), int(matrices[0].shape[1]),
                   len(matrices))
            status, theirs_s, setting = _recorded(recorded.get(key), recorded_path)
        else:
            status, theirs_s = da4ml_layer(matrices, lo, hi, search, timeout)
        if status[0] == "timeout" and search and recorded is None:
            setting = "no-dc-search (default timed out)"
            status, more = da4ml_layer(matrices, lo, hi, False, timeout)
            theirs_s += more
        theirs, their_depth = (status[1], status[2]) if status[0] == "ok" else (None, None)
        if status[0] != "ok" and recorded is None:
            setting = f"{status[0]}: {status[1]}" if status[1] else status[0]
        rows.append({
            "model": name, "layer": layer.name, "rows": int(matrices[0].shape[0]),
            "cols": int(matrices[0].shape[1]), "groups": len(matrices),
            "hlsgen_adders": ours, "hlsgen_depth": our_depth, "hlsgen_s": round(our_s, 2),
            "da4ml_adders": theirs, "da4ml_depth": their_depth,
            "da4ml_s": round(theirs_s, 2), "da4ml_setting": setting,
            "ratio": round(ours / theirs, 4) if theirs else None,
        })
        print(_format(rows[-1]), flush=True)
    return rows


def _format(row: dict) -> str:
    def show(value):
        return "-" if value is None else str(value)
    return (f"{row['model']:<15} {row['layer']:<10} {row['rows']:>4}x{row['cols']:<4} "
            f"g{row['groups']:<3} hlsgen {row['hlsgen_adders']:>6} d{row['hlsgen_depth']:<3} "
            f"{row['hlsgen_s']:>7.1f}s   da4ml {show(row['da4ml_adders']):>6} "
            f"d{show(row['da4ml_depth']):<3} {row['da4ml_s']:>7.1f}s   "
            f"ratio {show(row['ratio']):<7} {row['da4ml_setting']}")


def summarize(rows: list[dict]) -> list[dict]:
    """Per model and overall: totals over the layers both tools finished."""
    summary = []
    for model in sorted({r["model"] for r in rows}) + ["all"]:
        chosen = [r for r in rows if (model == "all" or r["model"] == model)
                  and r["da4ml_adders"] is not None]
        ours = sum(r["hlsgen_adders"] for r in chosen)
        theirs = sum(r["da4ml_adders"] for r in chosen)
        summary.append({
            "model": model, "layers": len(chosen),
            "layers_skipped": sum(1 for r in rows if (model == "all" or r["model"] == model)
                                  and r["da4ml_adders"] is None),
            "hlsgen_adders": ours, "da4ml_adders": theirs,
            "ratio": round(ours / theirs, 4) if theirs else None,
            "hlsgen_max_depth": max((r["hlsgen_depth"] for r in chosen), default=0),
            "da4ml_max_depth": max((r["da4ml_depth"] for r in chosen), default=0),
            "hlsgen_s": round(sum(r["hlsgen_s"] for r in chosen), 1),
            "da4ml_s": round(sum(r["da4ml_s"] for r in chosen), 1),
        })
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=None,
                        help=f"comma-separated model names (default: {','.join(ALL)})")
    parser.add_argument("--quick", action="store_true",
                        help="kws_dscnn_int8 only, da4ml without its search (for CI)")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds per layer and da4ml setting (default 900)")
    parser.add_argument("--da4ml-from", type=Path, default=None, metavar="CSV",
                        help="take da4ml's figures from an earlier run's CSV instead of "
                             "running da4ml (hlsgen is decomposed and checked as usual)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write OUT.csv and OUT.json (rows and totals)")
    args = parser.parse_args(argv)
    recorded = None
    if args.da4ml_from is not None:
        recorded = load_da4ml(args.da4ml_from)
    else:
        try:
            import da4ml  # noqa: F401
        except ImportError:
            print("da4ml is not installed: pip install da4ml==0.6.0", file=sys.stderr)
            return 3
    models = args.models.split(",") if args.models else (QUICK if args.quick else ALL)
    rows = []
    for name in models:
        rows += compare_model(name, search=not args.quick, timeout=args.timeout,
                              recorded=recorded, recorded_path=args.da4ml_from)
    summary = summarize(rows)
    print()
    for line in summary:
        print(f"{line['model']:<15} layers {line['layers']:>3} (skipped "
              f"{line['layers_skipped']})  hlsgen {line['hlsgen_adders']:>7}  da4ml "
              f"{line['da4ml_adders']:>7}  ratio {line['ratio']}  max depth "
              f"{line['hlsgen_max_depth']} vs {line['da4ml_max_depth']}  time "
              f"{line['hlsgen_s']} s vs {line['da4ml_s']} s")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out.with_suffix(".csv"), "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        args.out.with_suffix(".json").write_text(
            json.dumps({"rows": rows, "summary": summary}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
