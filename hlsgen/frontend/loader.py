"""Read an ONNX file (or take a ModelProto) and attach inferred shapes.

Every failure to read becomes one :class:`~hlsgen.errors.ModelLoadError` line that says which
file, what is wrong with it and what to do, so the CLI never shows a traceback for a bad file.
"""

from __future__ import annotations

import re
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from hlsgen.errors import ModelLoadError

__all__ = ["load_onnx", "as_model", "with_shapes", "model_name", "name_from_path"]


def load_onnx(path: str | Path) -> onnx.ModelProto:
    """Load ``path`` as an ONNX model (external data included)."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"{path}: no such file; give the path of an .onnx model")
    if path.is_dir():
        raise ModelLoadError(f"{path}: is a directory, not an ONNX file; give the .onnx file")
    data = path.read_bytes()
    if not data:
        raise ModelLoadError(f"{path}: the file is empty; re-export the model")
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError, UnicodeDecodeError) as err:
        raise ModelLoadError(
            f"{path}: not a readable ONNX model (truncated or another format: "
            f"{_first_line(err)}); re-export or re-download it") from None
    if not model.graph.node or not model.graph.output:
        # protobuf parses many random byte strings "successfully" into an empty message
        raise ModelLoadError(
            f"{path}: not an ONNX model (no graph nodes or outputs were found); "
            "check that the file is an .onnx export")
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        try:
            onnx.load_external_data_for_model(model, str(path.parent))
        except (OSError, ValueError) as err:
            raise ModelLoadError(f"{path}: external weight data could not be read "
                                 f"({_first_line(err)}); keep the data files beside the model")
    return model


def as_model(path_or_model) -> tuple[onnx.ModelProto, str]:
    """(model, name) from a path or a ModelProto (which is used as is, never modified)."""
    if isinstance(path_or_model, onnx.ModelProto):
        return path_or_model, model_name(path_or_model)
    if isinstance(path_or_model, (str, Path)):
        return load_onnx(path_or_model), name_from_path(path_or_model)
    raise TypeError(f"expected a path or onnx.ModelProto, got {type(path_or_model).__name__}")


def name_from_path(path: str | Path) -> str:
    """A model's name from its file: the stem, or the folder for the generic 'model.onnx'."""
    path = Path(path).resolve()
    stem = path.stem if path.stem != "model" or not path.parent.name else path.parent.name
    return re.sub(r"\W", "_", stem) or "model"


def with_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` with onnx shape inference applied (non-strict: unknown ops stay
    unknown, and the checker reports them later as unsupported nodes)."""
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as err:  # onnx raises several internal types; the message is what matters
        raise ModelLoadError(
            f"{model_name(model)}: onnx shape inference failed ({_first_line(err)}); "
            "check the model with onnx.checker.check_model") from None


def model_name(model: onnx.ModelProto) -> str:
    return model.graph.name or "model"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
