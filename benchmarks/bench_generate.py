"""Wall time of ``hlsgen generate`` on the real models: cold (decomposition cache off) and warm.

Runs the command line itself (a fresh process, as a user runs it) into a temporary directory,
with 20 test vectors from the model's own data, and reports wall seconds per run:

* ``cold``: ``HLSGEN_DECOMPOSE_CACHE=0`` -- every decomposition is computed;
* ``warm``: a second run with the cache filled by a first one (what ``hlsgen build`` and any
  rerun on the same model see).

    python benchmarks/bench_generate.py                         # kws_dscnn_int8, exact
    python benchmarks/bench_generate.py --models kws_dscnn_int8,resnet8_int8 --method exact
    python benchmarks/bench_generate.py --jobs 1                # one process
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"


def run_generate(model: str, method: str, jobs: int | None, outdir: Path, env: dict) -> float:
    folder = MODELS / model
    cmd = [sys.executable, "-m", "hlsgen", "generate", str(folder / "model.onnx"), "-o",
           str(outdir), "--method", method, "--vectors", str(folder / "data.npz"), "--count",
           "20", "--force"]
    if not model.endswith("int8") and model != "mnist8":
        cmd += ["--calibration", str(folder / "data.npz")]
    if jobs is not None:
        cmd += ["--jobs", str(jobs)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="kws_dscnn_int8")
    parser.add_argument("--method", default="exact")
    parser.add_argument("--jobs", type=int, help="--jobs of generate (default: its own)")
    args = parser.parse_args(argv)
    print("| model | method | jobs | cold s | warm s |")
    print("|---|---|---|---|---|")
    for model in args.models.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            cold_env = dict(os.environ, HLSGEN_DECOMPOSE_CACHE="0")
            warm_env = dict(os.environ, HLSGEN_DECOMPOSE_CACHE="1",
                            HLSGEN_CACHE=str(Path(tmp) / "cache"))
            cold = run_generate(model, args.method, args.jobs, Path(tmp) / "cold", cold_env)
            run_generate(model, args.method, args.jobs, Path(tmp) / "fill", warm_env)
            warm = run_generate(model, args.method, args.jobs, Path(tmp) / "warm", warm_env)
        jobs = args.jobs if args.jobs is not None else "auto"
        print(f"| {model} | {args.method} | {jobs} | {cold:.1f} | {warm:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
