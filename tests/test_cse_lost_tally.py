"""Regression: the CSE engine's lost-pairs tally is pruned at most logarithmically often.

Once the tracked patterns alone held more tallies than ``_LOST_LIMIT``, the fixed limit made
the engine rebuild the tally on every substitution: ResNet-8 widened to 160 channels (a 160 x
1440 lcc factor of ``conv9``) decomposed for hours instead of 86 s.  Pruning must not change the
result, only its cost.
"""

from __future__ import annotations

import numpy as np

from hlsgen.decompose import cse
from hlsgen.decompose.builder import GraphBuilder


def _run(matrix):
    builder = GraphBuilder(matrix.shape[1])
    rows = cse.eliminate_common_subexpressions(builder, matrix)
    return [(a.a, a.b) for a in builder.adders], rows


def test_small_limit_prunes_rarely_and_changes_nothing(monkeypatch):
    matrix = np.random.default_rng(0).integers(-127, 128, (24, 48))
    reference = _run(matrix)  # the default limit: never reached here
    prunes = []
    original = cse._Engine._prune_lost

    def counted(self):
        prunes.append(len(self.lost))
        original(self)

    monkeypatch.setattr(cse, "_LOST_LIMIT", 40)
    monkeypatch.setattr(cse._Engine, "_prune_lost", counted)
    assert _run(matrix) == reference
    assert prunes, "the test matrix must reach the limit"
    # the limit doubles with the kept tally: a handful of prunes, not one per substitution
    assert len(prunes) <= 12, len(prunes)
