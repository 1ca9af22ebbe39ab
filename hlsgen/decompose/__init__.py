"""Shift-add decompositions of constant weight matrices (exact and approximate)."""
