"""The genetic search loop: pygad over integer genomes, one generation at a time.

Running pygad one generation per call (seeded with ``seed`` and the generation number) makes
every generation a pure function of (population, seed, generation): a checkpoint holds just
the population and the evaluations so far, and ``--resume`` continues bit-identically.
Evaluations are memoised by genome, so survivors and repeats cost nothing.

The checkpoint is plain JSON (``checkpoint.json``), never code: a file from elsewhere is
validated field by field, and anything malformed is refused with one clear error.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from hlsgen.errors import InputError
from hlsgen.names import terminal

__all__ = ["SearchState", "genetic_search", "load_checkpoint", "read_checkpoint",
           "CHECKPOINT_NAME"]

CHECKPOINT_NAME = "checkpoint.json"
CHECKPOINT_FORMAT = "hlsgen explore checkpoint"
CHECKPOINT_VERSION = 2
_OLD_CHECKPOINT = "checkpoint.pkl"  # hlsgen <= 0.1 (not read: it could run code)

Genome = tuple[int, ...]


@dataclass
class SearchState:
    """Everything needed to continue a search: pure data, saved as JSON after each
    generation."""

    fingerprint: str  # options and model the run belongs to; resume refuses a mismatch
    generation: int  # generations completed
    population: list[Genome]
    evaluations: dict[Genome, object] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)  # one row per generation


def read_checkpoint(directory: Path) -> dict | None:
    """The JSON document of ``directory``'s checkpoint, checked for format and version (not
    yet against a run); None when there is none.  Raises InputError for a bad file -- cheap,
    so ``explore --resume`` calls it before any slow step."""
    path = directory / CHECKPOINT_NAME
    if not path.exists() and not path.is_symlink():
        if (directory / _OLD_CHECKPOINT).exists():
            raise InputError(f"--resume: {directory / _OLD_CHECKPOINT} is a checkpoint in the "
                             "format of an older hlsgen, which is no longer read; run again "
                             "without --resume")
        return None
    try:
        if not path.is_file():
            raise ValueError("not a regular file")
        if path.stat().st_size > MAX_CHECKPOINT_BYTES:
            raise ValueError(f"larger than {MAX_CHECKPOINT_BYTES >> 20} MiB")
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("not an hlsgen explore checkpoint")
        if doc.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"version {doc.get('version')!r}, expected {CHECKPOINT_VERSION}")
        return doc
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise _bad_checkpoint(path, err) from None


def load_checkpoint(directory: Path, fingerprint: str, gene_space: Sequence[int],
                    decode: Callable[[object], object]) -> SearchState | None:
    """The state saved in ``directory`` by a run with the same ``fingerprint``; None when
    there is no checkpoint or it belongs to another run (other model, data or options).

    Raises InputError for a file that is not a valid checkpoint of this version.
    """
    doc = read_checkpoint(directory)
    if doc is None or doc.get("fingerprint") != fingerprint:
        return None
    try:
        return _state_from_json(doc, gene_space, decode)
    except (ValueError, TypeError, KeyError) as err:
        raise _bad_checkpoint(directory / CHECKPOINT_NAME, err) from None


def _bad_checkpoint(path: Path, err: BaseException) -> InputError:
    return InputError(f"--resume: {terminal(path)} is not a usable checkpoint "
                      f"({terminal(err)}); delete it or run again without --resume")


MAX_CHECKPOINT_BYTES = 1 << 30


def _state_from_json(doc: dict, gene_space: Sequence[int], decode) -> SearchState:
    generation = doc.get("generation")
    if not (isinstance(generation, int) and not isinstance(generation, bool)
            and generation >= 0):
        raise ValueError("'generation' is not a count")
    population = [_genome(g, gene_space) for g in _list(doc, "population")]
    if not population:
        raise ValueError("the population is empty")
    evaluations = {}
    for entry in _list(doc, "evaluations"):
        result = decode(entry)
        evaluations[_genome(list(result.genome), gene_space)] = result
    history = _list(doc, "history")
    if not all(isinstance(row, dict) and all(isinstance(k, str) for k in row)
               for row in history):
        raise ValueError("'history' is not a list of objects")
    return SearchState(str(doc["fingerprint"]), generation, population, evaluations, history)


def _list(doc: dict, key: str) -> list:
    value = doc.get(key)
    if not isinstance(value, list):
        raise ValueError(f"{key!r} is not a list")
    return value


def _genome(value, gene_space: Sequence[int]) -> tuple[int, ...]:
    if not (isinstance(value, list) and len(value) == len(gene_space) and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v < n
            for v, n in zip(value, gene_space))):
        raise ValueError(f"genome {str(value)[:80]} does not fit the gene space")
    return tuple(value)


def _save_checkpoint(directory: Path, state: SearchState, encode: Callable[[object], object]
                     ) -> None:
    doc = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
           "fingerprint": state.fingerprint, "generation": state.generation,
           "population": [list(g) for g in state.population],
           "evaluations": [encode(state.evaluations[g]) for g in sorted(state.evaluations)],
           "history": state.history}
    tmp = directory / (CHECKPOINT_NAME + ".tmp")
    try:
        tmp.write_text(json.dumps(doc) + "\n", encoding="utf-8")
        os.replace(tmp, directory / CHECKPOINT_NAME)  # atomic: never half a checkpoint
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def genetic_search(
    *,
    gene_space: Sequence[int],
    seeds: Sequence[Genome],
    evaluate_batch: Callable[[list[Genome]], list[object]],
    fitness: Callable[[object], float],
    population_size: int,
    generations: int,
    seed: int,
    checkpoint_dir: Path,
    fingerprint: str,
    resume: bool,
    on_generation: Callable[[SearchState], None] | None = None,
    neighbours: Callable[[Genome], list[Genome]] | None = None,
    encode: Callable[[object], object] = lambda result: result,
    decode: Callable[[object], object] = lambda doc: doc,
) -> SearchState:
    """Minimise nothing, maximise ``fitness``: returns the final state with every evaluation.

    ``gene_space[i]`` is the number of choices of gene i; ``seeds`` are genomes placed in the
    first population (uniform designs, so the search starts from known points).

    ``neighbours`` makes the search memetic: after every generation the best design found so
    far is improved by one step of local search (its neighbours are evaluated, and the best
    of them, if better, replaces the weakest member of the population).  Crossover finds
    good regions; the local step walks the last few rungs down that random mutation rarely
    hits in a small population.

    ``encode`` / ``decode`` turn one evaluation result into JSON data and back (exactly) for
    the checkpoint; the decoded result has a ``genome`` attribute.
    """
    import pygad  # the GA library stays inside this module

    state = (load_checkpoint(checkpoint_dir, fingerprint, gene_space, decode) if resume
             else None)
    if state is None:
        state = SearchState(fingerprint=fingerprint, generation=0,
                            population=_initial_population(gene_space, seeds, population_size,
                                                           seed))

    def evaluate_missing(genomes: list[Genome]) -> None:
        todo = sorted({g for g in genomes if g not in state.evaluations})
        if todo:
            for genome, result in zip(todo, evaluate_batch(todo)):
                state.evaluations[genome] = result

    def batch_fitness(_ga, solutions, _indices):
        genomes = [tuple(int(v) for v in s) for s in solutions]
        evaluate_missing(genomes)
        return [fitness(state.evaluations[g]) for g in genomes]

    evaluate_missing(list(state.population))
    while state.generation < generations:
        ga = pygad.GA(
            num_generations=1,
            num_parents_mating=max(2, population_size // 2),
            fitness_func=batch_fitness,
            fitness_batch_size=population_size,
            initial_population=np.array(state.population, dtype=np.int64),
            gene_space=[list(range(n)) for n in gene_space],
            gene_type=int,
            parent_selection_type="tournament",
            K_tournament=3,
            crossover_type="uniform",
            mutation_type="random",
            mutation_probability=0.15,
            keep_elitism=max(1, population_size // 8),
            random_seed=int(seed) * 1_000_003 + state.generation,
            suppress_warnings=True,
        )
        ga.run()
        state.population = [tuple(int(v) for v in s) for s in ga.population]
        evaluate_missing(state.population)
        if neighbours is not None:
            _local_step(state, neighbours, evaluate_missing, fitness)
        state.generation += 1
        best = max(state.evaluations.values(), key=fitness)
        state.history.append({"generation": state.generation,
                              "evaluated": len(state.evaluations),
                              "best_fitness": fitness(best)})
        _save_checkpoint(checkpoint_dir, state, encode)
        if on_generation is not None:
            on_generation(state)
    return state


def _local_step(state: SearchState, neighbours, evaluate_missing, fitness) -> None:
    """Evaluate the neighbours of the best design so far; put the best one found (if it beats
    the population's best) in place of the population's weakest member."""
    def score(genome):
        return fitness(state.evaluations[genome])

    incumbent = max(sorted(state.evaluations), key=score)
    candidates = [g for g in neighbours(incumbent) if g != incumbent]
    if not candidates:
        return
    evaluate_missing(candidates)
    best = max(sorted(set(candidates) | {incumbent}), key=score)
    if best in state.population or score(best) <= max(score(g) for g in state.population):
        return
    weakest = min(range(len(state.population)), key=lambda i: (score(state.population[i]), i))
    state.population[weakest] = best


def _initial_population(gene_space: Sequence[int], seeds: Sequence[Genome], size: int,
                        seed: int) -> list[Genome]:
    rng = np.random.default_rng(seed)
    population: list[Genome] = []
    for genome in seeds:
        if len(population) < size and genome not in population:
            population.append(tuple(int(v) for v in genome))
    while len(population) < size:
        population.append(tuple(int(rng.integers(0, n)) for n in gene_space))
    return population


def fingerprint_of(**parts) -> str:
    """A stable text key of the run's inputs (model hash, options) for checkpoint matching."""
    return json.dumps(parts, sort_keys=True, default=str)
