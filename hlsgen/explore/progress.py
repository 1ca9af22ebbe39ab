"""Progress display for ``hlsgen explore``: ladder construction, then one bar over generations
showing the best feasible latency/LUTs so far and the ETA."""

from __future__ import annotations

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from hlsgen.explore.evaluation import fitness

__all__ = ["ExploreProgress"]


class ExploreProgress:
    def __init__(self, console, generations: int):
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[best]}"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), console=console, transient=False,
            disable=not console.is_terminal)
        # Piped output (a log, CI) gets one plain line per generation instead of bar frames.
        self._plain = None if console.is_terminal else console
        self._generations = generations
        self._ladder_task = None
        self._ga_task = None

    def __enter__(self) -> "ExploreProgress":
        self._progress.__enter__()
        self._ladder_task = self._progress.add_task("decomposing layers", total=None, best="")
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def ladder(self, layer: str, method: str, total: int) -> None:
        """One piece of the ladders decomposed (``total`` pieces in all)."""
        self._progress.update(self._ladder_task, advance=1, total=total,
                              best=f"{layer}: {method}")

    def generation(self, state) -> None:
        if self._ga_task is None:
            self._progress.update(self._ladder_task, total=self._progress.tasks[0].completed,
                                  best="done")
            self._ga_task = self._progress.add_task("generation", total=self._generations,
                                                    completed=state.generation - 1, best="")
        feasible = [e for e in state.evaluations.values() if e.feasible]
        if feasible:
            best = max(feasible, key=fitness)
            text = (f"best feasible: {best.latency_cycles} cycles, {best.luts:.0f} LUTs, "
                    f"{best.metric:.2f}%")
        else:
            text = "no feasible design yet"
        self._progress.update(self._ga_task, completed=state.generation,
                              best=f"{len(state.evaluations)} designs; {text}")
        if self._plain is not None:
            self._plain.print(f"generation {state.generation}/{self._generations}: "
                              f"{len(state.evaluations)} designs; {text}", highlight=False)
