"""ONNX frontend: load a model, check it, and lower it to the integer IR (:mod:`hlsgen.ir`).

Public API::

    load_onnx(path) -> onnx.ModelProto
    inspect_model(model) -> list[NodeInfo]
    import_model(path_or_model, calibration=None, *, data_free_input_range=None) -> ir.Graph

The pipeline, in order: :func:`.view.build_view` (shape inference, constant folding),
:func:`.support.check_model` (every unsupported node at once), :func:`.lower.lower` (layers,
layouts, QDQ parameters) and :func:`hlsgen.frontend.quantize.quantize` (what the model leaves open).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from hlsgen import ir
from hlsgen.frontend.loader import as_model, load_onnx
from hlsgen.frontend.lower import lower
from hlsgen.frontend.quantize import quantize
from hlsgen.frontend.support import NodeInfo, check_model, node_infos
from hlsgen.frontend.view import build_view

__all__ = ["load_onnx", "inspect_model", "import_model", "NodeInfo"]


def inspect_model(model: onnx.ModelProto | str | Path) -> list[NodeInfo]:
    """Every node (file order) with shapes, parameters, MACs and whether hlsgen supports it."""
    model, name = as_model(model)
    return node_infos(build_view(model, name))


def import_model(
    path_or_model,
    calibration: np.ndarray | None = None,
    *,
    data_free_input_range: tuple[float, float] | None = None,
) -> ir.Graph:
    """Check, lower and quantize a model.

    ``calibration``: unlabelled samples (one per row, in the model's input layout and dtype)
    used for the activation ranges of a float model.  Without them a float model needs
    ``data_free_input_range`` = (lo, hi) of its input values.  An int8 QDQ model needs
    neither: its own scales are kept.
    """
    model, name = as_model(path_or_model)
    view = build_view(model, name)
    check_model(view)
    lowered = lower(view)
    return quantize(lowered, model, calibration, data_free_input_range)
