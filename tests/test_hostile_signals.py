"""SIGTERM and SIGHUP leave nothing behind (issue 15, class 7): no hidden staging directory,
no half-written project, no worker processes outliving ``hlsgen``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hlsgen.cli import main
from hlsgen.emit import writer

MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "mnist8" / "model.onnx"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_while_writing_leaves_nothing(tmp_path, monkeypatch, capsys, signum):
    from test_generate import tiny_model

    model, data = tiny_model(tmp_path / "in")
    real_fill = writer._fill

    def fill_then_signal(staging, files):
        real_fill(staging, dict(list(files.items())[: len(files) // 2]))
        os.kill(os.getpid(), signum)  # the handler raises in this thread, right here
        real_fill(staging, files)

    monkeypatch.setattr(writer, "_fill", fill_then_signal)
    out = tmp_path / "work" / "proj"
    out.parent.mkdir()
    code = main(["generate", str(model), "-o", str(out), "--calibration", str(data),
                 "--count", "1", "--jobs", "1"])
    assert code == 128 + signum
    assert capsys.readouterr().err.strip() == (
        f"hlsgen generate: terminated ({signal.Signals(signum).name})")
    assert _leftovers(out.parent) == []
    # the handlers are restored afterwards
    assert signal.getsignal(signum) in (signal.SIG_DFL, signal.default_int_handler,
                                        signal.SIG_IGN) or callable(signal.getsignal(signum))


def _processes_mentioning(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_during_cold_generate_stops_the_workers(tmp_path, signum):
    """The signal lands while the decomposition pool runs (its workers may be sending
    results): the command ends at once, and neither the pool's shutdown nor the interpreter's
    exit waits for a worker it killed (that wait once hung about one run in three)."""
    out = tmp_path / f"proj-{signum}"
    env = {**os.environ, "HLSGEN_DECOMPOSE_CACHE": "0", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hlsgen", "generate", str(MNIST), "-o", str(out),
         "--input-range", "0", "255", "--count", "1", "--jobs", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not _children(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "generate ended before its workers started"
    time.sleep(0.3)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    ending = ("interrupted" if signum == signal.SIGINT
              else f"terminated ({signal.Signals(signum).name})")
    assert "Traceback" not in err and err.strip().endswith(ending), err
    time.sleep(0.5)
    assert _processes_mentioning(str(out)) == []
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_during_explore_stops_the_workers(tmp_path, signum):
    from test_generate import tiny_model

    model, data = tiny_model(tmp_path / "in")
    out = tmp_path / f"explore-{signum}"
    env = {**os.environ, "HLSGEN_DECOMPOSE_CACHE": "0", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hlsgen", "explore", str(model), "-o", str(out), "--calibration",
         str(data), "--workers", "2", "--generations", "200", "--population", "8"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not _children(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "explore ended before its workers started"
    time.sleep(1.0)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err and err.strip().endswith(
        f"terminated ({signal.Signals(signum).name})"), err
    time.sleep(0.5)
    assert _processes_mentioning(str(out)) == []
    # at most a complete checkpoint for --resume: no temporary or half-written file
    left = _leftovers(out) if out.exists() else []
    assert set(left) <= {"checkpoint.json"}, left


def test_full_disk_keeps_the_previous_project(tmp_path, monkeypatch, capsys):
    import errno

    from test_generate import tiny_model

    model, data = tiny_model(tmp_path / "in")
    out = tmp_path / "work" / "proj"
    args = ["generate", str(model), "-o", str(out), "--calibration", str(data), "--count", "1",
            "--jobs", "1"]
    assert main(args) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real_fill = writer._fill

    def fill_until_full(staging, files):
        real_fill(staging, dict(list(files.items())[:5]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(writer, "_fill", fill_until_full)
    capsys.readouterr()
    assert main(args + ["--force", "--method", "po2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hlsgen generate: error: cannot write the project") and (
        "No space left on device" in err and "nothing was written" in err), err
    assert _leftovers(out.parent) == ["proj"]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_file_size_limit_is_a_clean_error(tmp_path):
    from test_generate import tiny_model

    import resource

    model, data = tiny_model(tmp_path / "in")
    out = tmp_path / "work" / "proj"
    out.parent.mkdir()

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    env = {**os.environ, "HLSGEN_DECOMPOSE_CACHE": "0", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "hlsgen", "generate", str(model), "-o",
                           str(out), "--calibration", str(data), "--count", "1", "--jobs", "1"],
                          capture_output=True, text=True, env=env, preexec_fn=limit, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("hlsgen generate: error: cannot write the project"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert _leftovers(out.parent) == []
