"""The genetic search loop: pygad over integer genomes, one generation at a time.

Running pygad one generation per call (seeded with ``seed`` and the generation number) makes
every generation a pure function of (population, seed, generation): a checkpoint holds just
the population and the evaluations so far, and ``--resume`` continues bit-identically.
Evaluations are memoised by genome, so survivors and repeats cost nothing.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

__all__ = ["SearchState", "genetic_search", "load_checkpoint"]

CHECKPOINT_NAME = "checkpoint.pkl"
CHECKPOINT_VERSION = 1

Genome = tuple[int, ...]


@dataclass
class SearchState:
    """Everything needed to continue a search: pure data, pickled after each generation."""

    fingerprint: str  # options and model the run belongs to; resume refuses a mismatch
    generation: int  # generations completed
    population: list[Genome]
    evaluations: dict[Genome, object] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)  # one row per generation


def load_checkpoint(directory: Path, fingerprint: str) -> SearchState | None:
    path = directory / CHECKPOINT_NAME
    if not path.exists():
        return None
    with path.open("rb") as fh:
        version, state = pickle.load(fh)
    if version != CHECKPOINT_VERSION or state.fingerprint != fingerprint:
        return None
    return state


def _save_checkpoint(directory: Path, state: SearchState) -> None:
    tmp = directory / (CHECKPOINT_NAME + ".tmp")
    with tmp.open("wb") as fh:
        pickle.dump((CHECKPOINT_VERSION, state), fh)
    os.replace(tmp, directory / CHECKPOINT_NAME)  # atomic: an interrupt never leaves half a file


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
) -> SearchState:
    """Minimise nothing, maximise ``fitness``: returns the final state with every evaluation.

    ``gene_space[i]`` is the number of choices of gene i; ``seeds`` are genomes placed in the
    first population (uniform designs, so the search starts from known points).

    ``neighbours`` makes the search memetic: after every generation the best design found so
    far is improved by one step of local search (its neighbours are evaluated, and the best
    of them, if better, replaces the weakest member of the population).  Crossover finds
    good regions; the local step walks the last few rungs down that random mutation rarely
    hits in a small population.
    """
    import pygad  # the GA library stays inside this module

    state = load_checkpoint(checkpoint_dir, fingerprint) if resume else None
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
        _save_checkpoint(checkpoint_dir, state)
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
