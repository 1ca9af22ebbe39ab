"""Read an ONNX file (or take a ModelProto) and attach inferred shapes.

Every failure to read becomes one :class:`~hlsgen.errors.ModelLoadError` line that says which
file, what is wrong with it and what to do, so the CLI never shows a traceback for a bad file.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from hlsgen.errors import ModelLoadError
from hlsgen.names import terminal

MAX_MODEL_BYTES = 2**31  # protobuf's limit for one message

__all__ = ["load_onnx", "as_model", "with_shapes", "model_name", "name_from_path"]


def load_onnx(path: str | Path) -> onnx.ModelProto:
    """Load ``path`` as an ONNX model (external data included)."""
    path = Path(path)
    shown = terminal(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ModelLoadError(f"{shown}: no such file; give the path of an .onnx model") from None
    except OSError as err:
        raise ModelLoadError(f"{shown}: cannot be read ({err.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ModelLoadError(f"{shown}: is a directory, not an ONNX file; give the .onnx file")
    if not stat.S_ISREG(info.st_mode):
        raise ModelLoadError(f"{shown}: is not a regular file (a FIFO, socket or device); "
                             "give the .onnx file")
    if info.st_size > MAX_MODEL_BYTES:
        raise ModelLoadError(f"{shown}: {info.st_size / 2**30:.1f} GiB is beyond the 2 GiB "
                             "protobuf limit of an ONNX file; store the weights as external "
                             "data")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ModelLoadError(f"{shown}: cannot be read ({err.strerror})") from None
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
    _load_external_data(model, path)
    return model


def _load_external_data(model: onnx.ModelProto, path: Path) -> None:
    """Read the external weight data of ``model`` -- only from regular files inside the
    model's own directory, within their size (a model cannot make hlsgen read elsewhere)."""
    tensors = list(model.graph.initializer) + [
        attr.t for node in model.graph.node for attr in node.attribute if attr.HasField("t")]
    folder = path.resolve().parent
    for tensor in tensors:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        where = f"{terminal(path)}: external data of '{terminal(tensor.name)}'"
        info = {entry.key: entry.value for entry in tensor.external_data}
        location = info.get("location", "")
        target = (folder / location).resolve()
        if (not location or Path(location).is_absolute() or ".." in Path(location).parts
                or folder not in target.parents):
            raise ModelLoadError(f"{where} is at '{terminal(location)}', outside the model's "
                                 "folder; hlsgen reads external data only from files beside "
                                 "the model")
        if not target.is_file():
            raise ModelLoadError(f"{where}: file '{terminal(location)}' is missing (or not a "
                                 "regular file); keep the data files beside the model")
        try:
            offset = int(info.get("offset", 0))
            size = target.stat().st_size
            length = int(info["length"]) if "length" in info else size - offset
        except (ValueError, OSError) as err:
            raise ModelLoadError(f"{where}: bad offset or length ({terminal(err)})") from None
        if offset < 0 or length < 0 or offset + length > size:
            raise ModelLoadError(f"{where}: bytes {offset}..{offset + length} are beyond the "
                                 f"{size}-byte file '{terminal(location)}'; the data file is "
                                 "truncated or does not belong to this model")
        with target.open("rb") as handle:
            handle.seek(offset)
            tensor.raw_data = handle.read(length)
        del tensor.external_data[:]
        tensor.data_location = onnx.TensorProto.DEFAULT


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
