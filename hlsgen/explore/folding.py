"""Rate-matched folding: how far each multiplexed layer can fold, or must unfold, to match a
design interval.

A design's interval is its slowest layer's work per frame; a layer with fewer pixels (a late,
strided layer) finishes its frame early and idles.  Splitting its tree into ``K`` chunks
multiplies its work by ``K`` and divides its tree by ``K``: free while the layer stays within
the interval.  Asked for a shorter interval (``speedup``), a layer over it gets the fewest
lanes (trees side by side) that bring it under.  The search seeds from this rule
(``Problem.rate_matched_genome``) and the hand-written designs of ``benchmarks/big_models.py``
use it too.
"""

from __future__ import annotations

from hlsgen import ir
from hlsgen.design import CHUNKS, LANES, DatapathKind, KindChoice
from hlsgen.hw import multiplexed
from hlsgen.hw.plan import HardwarePlan
from hlsgen.hw.schedule import work

__all__ = ["rate_matched_kinds", "rate_matched_chunks"]


def rate_matched_kinds(plan: HardwarePlan, speedup: int = 1) -> dict[str, KindChoice]:
    """Per multiplexed weight layer of ``plan`` (planned with one tree each), matched to
    ``1/speedup`` of the plan's interval: the most chunks ``K`` of :data:`CHUNKS` whose work,
    ``K`` times the one-tree layer's, fits (grouped Convs are not chunked: their tree is one
    group's), or for a layer over that period the fewest lanes of :data:`LANES` that bring it
    under (as many as its channels allow: :func:`multiplexed.lane_count`)."""
    period = plan.schedule.interval_cycles / speedup
    kinds = {}
    for m in plan.modules:
        if m.kind is not DatapathKind.MULTIPLEXED or not isinstance(m.layer, (ir.Conv, ir.Dense)):
            continue
        load = work(m)
        if load > period:
            lanes = next((p for p in LANES if load <= p * period), LANES[-1])
            kinds[m.name] = KindChoice(DatapathKind.MULTIPLEXED,
                                       lanes=multiplexed.lane_count(m.layer, lanes))
        elif isinstance(m.layer, ir.Conv) and m.layer.groups > 1:
            kinds[m.name] = KindChoice(DatapathKind.MULTIPLEXED)
        else:
            chunks = max((k for k in CHUNKS if load * k <= period), default=1)
            kinds[m.name] = KindChoice(DatapathKind.MULTIPLEXED, chunks=chunks)
    return kinds


def rate_matched_chunks(plan: HardwarePlan) -> dict[str, int]:
    """Chunks per multiplexed weight layer at the plan's own interval (no lanes needed)."""
    return {name: kind.chunks for name, kind in rate_matched_kinds(plan).items()}
