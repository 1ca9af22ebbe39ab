"""Does data-free bias correction (Nagel et al. 2019) rescue uniform approximations?

An approximated weight matrix ``E`` (scale ``2**-k``) adds the error ``(E - r W) xc`` to every
accumulator (``r`` rescales the exact weights ``W`` to the new accumulator units, ``xc`` the
window's inputs minus the input zero point, 0 at padded taps).  Its mean ``(E - r W) E[xc]``
is a per-output-channel constant that a changed integer bias cancels at no hardware cost.
For each model and uniform method (one method on every weight layer) this measures, on every
labelled sample, the real top-1 drop, the flipped predictions and the logit SQNR against the
exact integer network, and the logit SQNR on the data-free search's synthetic inputs
(``hlsgen/explore/synthetic.py``, seed 0; what ``hlsgen explore`` without ``--data`` would
score a design by), for:

* ``plain``: the approximation alone;
* ``synthetic``: biases corrected with ``E[xc]`` from the synthetic inputs run through the
  exact network (the data-free correction);
* ``synthetic_not_first``: the same, the first weight layer (fed the synthetic inputs
  themselves) left uncorrected;
* ``real_means``: ``E[xc]`` from the labelled samples themselves -- an upper bound on what
  a correction from real data could give (it is fitted to the samples it is scored on).

    python benchmarks/bias_correction.py --models kws_dscnn_int8 resnet8_int8

Before that, per weight layer of the middle method: the mean accumulator error against its RMS
(real samples) and the mean |E[xc]| from the real and from the synthetic inputs.  Prints one
JSON row per layer and per (model, method, variant) and writes ``OUT/bias_correction.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench_tables import print_markdown  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT.parent / "shared" / "models"
sys.path.insert(0, str(ROOT))
METHODS = {"kws_dscnn_int8": ("lcc:sqnr=28,fold=1", "lcc:sqnr=25,fold=1", "lcc:sqnr=22,fold=1"),
           "resnet8_int8": ("lcc:sqnr=36,fold=1", "lcc:sqnr=32,fold=1", "lcc:sqnr=28,fold=1")}


def column_means(graph, layer, act: np.ndarray) -> np.ndarray:
    """[Cout, cols]: per output channel, the mean over samples and output pixels of the column
    its MAC multiplies (inputs minus the input zero point, 0 at padded taps, (kh, kw, ci))."""
    from hlsgen import ir

    t = graph.tensor(layer.input)
    xc = act.astype(np.float64).mean(axis=0).reshape(t.shape) - t.zero_point
    if isinstance(layer, ir.Dense):
        return np.broadcast_to(xc.reshape(-1), layer.weight.shape)
    win = ir.window(layer, t.shape)
    padded = np.zeros((win.padded_h, win.padded_w, t.shape[2]))
    padded[win.pt:win.pt + win.h, win.pl:win.pl + win.w] = xc
    taps = np.empty((win.kh, win.kw, t.shape[2]))
    for a in range(win.kh):
        for b in range(win.kw):
            taps[a, b] = padded[a:a + win.sh * (win.ho - 1) + 1:win.sh,
                                b:b + win.sw * (win.wo - 1) + 1:win.sw].mean(axis=(0, 1))
    cout, cig = layer.weight.shape[0], layer.weight.shape[3]
    per = cout // layer.groups
    return np.stack([taps[:, :, (o // per) * cig:(o // per + 1) * cig].reshape(-1)
                     for o in range(cout)])


def bias_offsets(exact, approx, means: np.ndarray) -> np.ndarray:
    """Integer offsets (new accumulator units) cancelling the mean error of ``approx``."""
    rq, new = exact.requant, approx.requant
    r = (rq.multiplier.astype(np.float64) / new.multiplier
         * np.exp2(new.shift.astype(np.float64) - rq.shift))
    w = exact.weight.reshape(exact.weight.shape[0], -1).astype(np.float64)
    e = approx.weight.reshape(approx.weight.shape[0], -1).astype(np.float64)
    return np.rint(-np.sum((e - r[:, None] * w) * means, axis=1)).astype(np.int64)


def corrected(graph, design, acts: dict, skip: int = 0):
    """``design`` with every weight layer's bias corrected (the first ``skip`` ones not), the
    means taken from the exact network's activations ``acts``."""
    from hlsgen import ir

    layers, seen = [], 0
    for new, old in zip(design.layers, graph.layers):
        if isinstance(new, (ir.Conv, ir.Dense)):
            seen += 1
            if seen > skip:
                offsets = bias_offsets(old, new, column_means(graph, old, acts[old.input]))
                new = replace(new, bias=new.bias.astype(np.int64) + offsets)
        layers.append(new)
    return replace(design, layers=tuple(layers))


def layer_rows(name: str, graph, method: str, acts_real: dict, acts_syn: dict) -> list[dict]:
    """Per weight layer of the uniform ``method``: how large the mean error is against the
    RMS error (real samples), and the mean |E[xc]| over the layer's columns from the real
    and from the synthetic inputs."""
    from hlsgen import ir
    from hlsgen.design import apply_design
    from hlsgen.reference.windows import window_pixels

    design = apply_design(graph, method).graph
    rows = []
    for new, old in zip(design.layers, graph.layers):
        if not isinstance(new, (ir.Conv, ir.Dense)):
            continue
        rq = old.requant
        r = (rq.multiplier / new.requant.multiplier
             * np.exp2(new.requant.shift.astype(np.float64) - rq.shift))
        diff = (new.weight.reshape(new.weight.shape[0], -1)
                - r[:, None] * old.weight.reshape(old.weight.shape[0], -1))
        t = graph.tensor(old.input)
        act = acts_real[old.input]
        total, square, count = 0.0, 0.0, 0
        for start in range(0, len(act), 32):  # the accumulator error, 32 samples at a time
            xc = act[start:start + 32].reshape(-1, t.shape[0] * t.shape[1], t.shape[2])
            xc = (xc - t.zero_point).astype(np.float64)
            if isinstance(old, ir.Dense):
                err = xc.reshape(len(xc), -1) @ diff.T  # [N, Cout]
            else:
                index = window_pixels(ir.window(old, t.shape))
                cols = np.take(np.concatenate([xc, np.zeros_like(xc[:, :1])], axis=1),
                               index, axis=1)  # [N, P, K, C]
                cout, cig = diff.shape[0], old.weight.shape[3]
                per = cout // old.groups
                err = np.stack([cols[..., (o // per) * cig:(o // per + 1) * cig]
                                .reshape(len(xc), len(index), -1) @ diff[o]
                                for o in range(cout)], axis=-1).reshape(-1, cout)
            total, square, count = total + err.sum(0), square + (err ** 2).sum(0), count + len(err)
        mean, rms = total / count, np.sqrt(square / count)
        rows.append({"model": name, "method": method, "layer": old.name,
                     "mean_over_rms_error": round(float(np.mean(np.abs(mean) / np.maximum(
                         rms, 1e-12))), 3),
                     "mean_error_power_share": round(float(np.sum(mean ** 2)
                                                           / np.sum(rms ** 2)), 3),
                     "mean_abs_input_mean_real": round(float(np.mean(np.abs(column_means(
                         graph, old, act)))), 2),
                     "mean_abs_input_mean_synthetic": round(float(np.mean(np.abs(column_means(
                         graph, old, acts_syn[old.input])))), 2)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def study(name: str, methods) -> list[dict]:
    from hlsgen.design import apply_design
    from hlsgen.explore.evaluation import logit_sqnr_db
    from hlsgen.explore.synthetic import synthetic_inputs
    from hlsgen.frontend import import_model
    from hlsgen.reference import execute, quantize_input

    folder = MODELS / name
    graph = import_model(folder / "model.onnx")
    with np.load(folder / "data.npz") as data:
        x, y = quantize_input(graph, data["x"]), data["y"]
    synthetic = synthetic_inputs(graph, seed=0)
    acts_syn = execute(graph, synthetic, return_all=True)
    acts_real = execute(graph, x, return_all=True)
    zp = graph.tensor(graph.output).zero_point
    exact = execute(graph, x).reshape(len(x), -1)
    exact_syn = execute(graph, synthetic).reshape(len(synthetic), -1)
    baseline = 100 * np.mean(exact.argmax(1) == y)

    def score(g) -> dict:
        out = execute(g, x).reshape(len(x), -1)
        out_syn = execute(g, synthetic).reshape(len(synthetic), -1)
        return {"real_drop": round(float(baseline - 100 * np.mean(out.argmax(1) == y)), 2),
                "real_flips": int(np.sum(out.argmax(1) != exact.argmax(1))),
                "real_logit_sqnr_db": round(logit_sqnr_db(out, exact, zp), 2),
                "synthetic_logit_sqnr_db": round(logit_sqnr_db(out_syn, exact_syn, zp), 2)}

    rows = layer_rows(name, graph, methods[1], acts_real, acts_syn)
    for method in methods:
        design = apply_design(graph, method).graph
        variants = {"plain": design, "synthetic": corrected(graph, design, acts_syn),
                    "synthetic_not_first": corrected(graph, design, acts_syn, skip=1),
                    "real_means": corrected(graph, design, acts_real)}
        for variant, g in variants.items():
            rows.append({"model": name, "samples": len(x), "method": method,
                         "variant": variant, **score(g)})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(METHODS))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [row for name in args.models
            for row in study(name, METHODS.get(name, METHODS["kws_dscnn_int8"]))]
    (args.out / "bias_correction.json").write_text(json.dumps(rows, indent=2) + "\n")
    for kind in ("layer", "variant"):  # the per-layer table, then the designs'
        print_markdown([row for row in rows if kind in row])
    return 0


if __name__ == "__main__":
    sys.exit(main())
