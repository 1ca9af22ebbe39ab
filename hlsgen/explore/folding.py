"""Rate-matched folding: split a multiplexed layer's tree into as many input chunks as its
share of the interval allows.

A design's interval is its slowest layer's work per frame; a layer with fewer pixels (a late,
strided layer) finishes its frame early and idles.  Splitting its tree into ``K`` chunks
multiplies its work by ``K`` and divides its tree by ``K``: free while the layer stays within
the interval.  The search seeds from this rule (``Problem.rate_matched_genome``) and the
hand-written designs of ``benchmarks/big_models.py`` use it too.
"""

from __future__ import annotations

from hlsgen import ir
from hlsgen.design import CHUNKS, DatapathKind
from hlsgen.hw.plan import HardwarePlan
from hlsgen.hw.schedule import work

__all__ = ["rate_matched_chunks"]


def rate_matched_chunks(plan: HardwarePlan) -> dict[str, int]:
    """Per multiplexed weight layer of ``plan`` (planned unchunked): the most chunks ``K`` of
    :data:`hlsgen.design.CHUNKS` whose work, ``K`` times the unchunked layer's, fits in the
    plan's interval.  Grouped Conv layers are not chunked (their tree is one group's)."""
    period = plan.schedule.interval_cycles
    chunks = {}
    for m in plan.modules:
        if m.kind is not DatapathKind.MULTIPLEXED or not isinstance(m.layer, (ir.Conv, ir.Dense)):
            continue
        if isinstance(m.layer, ir.Conv) and m.layer.groups > 1:
            chunks[m.name] = 1
            continue
        load = work(m)
        chunks[m.name] = max((k for k in CHUNKS if load * k <= period), default=1)
    return chunks
