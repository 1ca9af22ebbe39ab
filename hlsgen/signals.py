"""SIGTERM and SIGHUP end a command like Ctrl-C does: cleanly, leaving nothing behind.

By default SIGTERM and SIGHUP kill Python at once, so no ``finally`` runs: a project being
written stays as a hidden ``.OUTDIR.tmp-*`` and decomposition workers outlive their parent.
Inside :func:`terminate_cleanly` the two signals raise :class:`Terminated` (a BaseException,
like KeyboardInterrupt), after stopping this process's worker processes: the writer then
removes its staging directory and the pools exit at once.  A forked worker that inherits the
handler gets the default disposition back (it dies at once on SIGTERM, as a pool expects).
The command line then ends without waiting for the threads of its process pools
(:func:`exit_process`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys

__all__ = ["Terminated", "terminate_cleanly", "exit_process"]

_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def exit_process(code: int) -> None:
    """End the process with ``code`` (the command line's last step).  After Ctrl-C, SIGTERM
    or SIGHUP (codes 128 + signal) the command has cleaned up already, and the exit does not
    wait for the threads of an abandoned process pool: its manager thread may be reading the
    half message of a worker killed mid-send, and a normal interpreter exit joins it forever."""
    if code in {128 + s for s in (signal.SIGINT, *_SIGNALS)}:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


class Terminated(BaseException):
    """The process received SIGTERM or SIGHUP."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def terminate_cleanly():
    """Turn SIGTERM / SIGHUP into :class:`Terminated` for the duration of the block (main
    thread only; elsewhere the block runs unchanged)."""
    owner = os.getpid()

    def handler(signum, _frame):
        if os.getpid() != owner:  # a forked worker: its parent is cleaning up
            os._exit(128 + signum)
        for child in multiprocessing.active_children():
            # A pool's own terminate() (run as the exception leaves its ``with`` block) stops
            # its workers; killing one here could leave the pool's queue lock held by a dead
            # process, and that terminate() would then wait on it forever.
            if "PoolWorker" not in child.name:
                child.terminate()
        raise Terminated(signum)

    try:
        previous = {s: signal.signal(s, handler) for s in _SIGNALS}
    except ValueError:  # not the main thread
        yield
        return
    global _HANDLER
    _HANDLER = handler
    try:
        yield
    finally:
        _HANDLER = None
        for s, old in previous.items():
            signal.signal(s, old)


_HANDLER = None  # the handler terminate_cleanly installed, while it is installed


def _default_in_child() -> None:
    """A forked worker gets the default disposition back: a Python-level handler runs only
    between bytecodes, so a SIGTERM that lands just before the worker blocks on its pool's
    queue lock would be lost and the parent's ``Pool.terminate()`` would wait forever."""
    if _HANDLER is None:
        return
    for s in _SIGNALS:
        if signal.getsignal(s) is _HANDLER:
            signal.signal(s, signal.SIG_DFL)


os.register_at_fork(after_in_child=_default_in_child)
