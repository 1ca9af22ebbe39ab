"""Where genomes are evaluated: in this process, in a pool of worker processes, or on a Dask
distributed cluster.  Every backend returns results in the order of the genomes given, so the
search is the same whichever backend runs it."""

from __future__ import annotations

import multiprocessing
from typing import Sequence

from hlsgen.errors import InputError
from hlsgen.explore.evaluation import Evaluation, evaluate_genome
from hlsgen.explore.problem import Problem

__all__ = ["Evaluator"]

_WORKER_PROBLEM: Problem | None = None  # set once per worker process


def _init_worker(problem: Problem) -> None:
    global _WORKER_PROBLEM
    _WORKER_PROBLEM = problem


def _evaluate_in_worker(genome) -> Evaluation:
    assert _WORKER_PROBLEM is not None, "worker used before initialisation"
    return evaluate_genome(_WORKER_PROBLEM, genome)


def _evaluate_remote(problem: Problem, genome) -> Evaluation:
    return evaluate_genome(problem, genome)


class Evaluator:
    """``map(genomes) -> evaluations``; use as a context manager to release the backend."""

    def __init__(self, problem: Problem, workers: int = 1, scheduler: str | None = None):
        self.problem = problem
        self.workers = max(1, int(workers))
        self.scheduler = scheduler
        self._pool = None
        self._client = None
        self._problem_future = None

    def __enter__(self) -> "Evaluator":
        if self.scheduler:
            try:
                from distributed import Client
            except ImportError:
                raise InputError("--scheduler needs Dask distributed: pip install "
                                 "'hlsgen[dask]' (or dask[distributed])") from None
            try:
                self._client = Client(self.scheduler, timeout=30)
            except OSError as err:
                raise InputError(f"cannot reach the Dask scheduler at {self.scheduler!r}: "
                                 f"{err}") from None
            self._problem_future = self._client.scatter(self.problem, broadcast=True)
        elif self.workers > 1:
            # fork: workers inherit the problem (ladders, data) without pickling it again
            context = multiprocessing.get_context("fork")
            self._pool = context.Pool(self.workers, initializer=_init_worker,
                                      initargs=(self.problem,))
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
        if self._client is not None:
            self._client.close()

    def map(self, genomes: Sequence[tuple[int, ...]]) -> list[Evaluation]:
        genomes = list(genomes)
        if not genomes:
            return []
        if self._client is not None:
            futures = self._client.map(_evaluate_remote, [self._problem_future] * len(genomes),
                                       genomes, pure=False)
            return self._client.gather(futures)
        if self._pool is not None:
            # Neighbouring genomes (sorted) share prefixes: give each worker a contiguous run
            # so its prefix cache hits.
            chunk = -(-len(genomes) // self.workers)
            return self._pool.map(_evaluate_in_worker, genomes, chunksize=chunk)
        return [evaluate_genome(self.problem, g) for g in genomes]
