"""ONNX frontend: load a model, check it, and lower it to the integer IR (:mod:`hlsgen.ir`).

Public API::

    load_onnx(path) -> onnx.ModelProto
    inspect_model(model) -> list[NodeInfo]
    import_model(path_or_model, calibration=None, *, data_free_input_range=None) -> ir.Graph
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

__all__ = ["load_onnx", "inspect_model", "import_model", "NodeInfo"]


@dataclass(frozen=True)
class NodeInfo:
    """One ONNX node as ``hlsgen inspect`` shows it."""

    index: int
    name: str
    op: str
    input_shapes: tuple[tuple[int | str, ...] | None, ...]
    output_shapes: tuple[tuple[int | str, ...] | None, ...]
    params: int
    macs: int
    supported: bool
    why: str


def load_onnx(path: str | Path) -> onnx.ModelProto:
    raise NotImplementedError


def inspect_model(model: onnx.ModelProto) -> list[NodeInfo]:
    raise NotImplementedError


def import_model(
    path_or_model,
    calibration: np.ndarray | None = None,
    *,
    data_free_input_range: tuple[float, float] | None = None,
):
    raise NotImplementedError
