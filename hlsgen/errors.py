"""User-facing errors.  Each message says what, where (node or file), why and what to do.

The CLI prints ``str(error)`` on one line (multi-line for lists of offending nodes) and exits
with ``error.exit_code``; no traceback reaches the user for these.
"""

from __future__ import annotations

from hlsgen.names import terminal

__all__ = [
    "HlsgenError",
    "InputError",
    "ModelLoadError",
    "UnsupportedModelError",
    "QuantizationError",
    "DataError",
    "ToolMissingError",
    "OutputExistsError",
    "CostModelError",
]


class HlsgenError(Exception):
    """Base class of every error hlsgen reports to a user."""

    exit_code = 1


class InputError(HlsgenError):
    """A command-line argument or input file is wrong."""

    exit_code = 2


class ModelLoadError(InputError):
    """The model file is missing, not ONNX, or truncated."""


class UnsupportedModelError(InputError):
    """The model uses operators or features hlsgen cannot lower.

    ``problems`` lists every offending node as (index, name, op, why); index -1 marks a
    problem of the whole model (then ``op`` says what: opset, input, ...).
    """

    def __init__(self, model: str, problems: list[tuple[int, str, str, str]]):
        self.problems = problems
        lines = [f"{model}: {len(problems)} unsupported node(s); nothing was generated:"]
        lines += [f"  node {i} '{terminal(name)}' ({terminal(op)}): {why}" if i >= 0
                  else f"  {op} '{terminal(name)}': {why}"  # the model as a whole
                  for i, name, op, why in problems]
        super().__init__("\n".join(lines))


class QuantizationError(HlsgenError):
    """Quantization parameters are missing or inconsistent."""

    exit_code = 2


class DataError(InputError):
    """A data file (.npz) does not fit the model."""


class ToolMissingError(HlsgenError):
    """An external tool (Vitis HLS, Vivado, a simulator) is not installed."""

    exit_code = 3


class OutputExistsError(InputError):
    """The output directory exists and --force was not given."""


class CostModelError(HlsgenError):
    """The hardware plan cannot give an exact figure for this design (it never guesses)."""
