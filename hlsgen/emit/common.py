"""What every emitter shares: the top's name, identifiers, template loading.

Identifiers: :func:`identifier` turns an IR name into a C / Verilog identifier and
:class:`Names` hands out unique ones.  Templates: :func:`template_env` is a strict Jinja2
environment over ``templates/<subdir>`` (unknown names raise).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import jinja2

import hlsgen
from hlsgen.names import digest, printable

__all__ = ["TOP_NAME", "identifier", "Names", "templates_dir", "template_env"]

TOP_NAME = "hlsgen_top"
# Longest identifier made from a model name (prefixes and suffixes come on top).
MAX_IDENTIFIER = 48


# -- naming ------------------------------------------------------------------------------
def identifier(name: str) -> str:
    """A C / Verilog identifier for an IR name: [A-Za-z0-9_], no leading digit, no '__'."""
    text = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
    text = re.sub(r"_+", "_", text)
    if not text or text[0].isdigit():
        text = "n" + ("_" + text if text else "")
    if len(text) > MAX_IDENTIFIER:  # file names (hls/<ident>.h), tool limits
        text = f"{text[: MAX_IDENTIFIER - 9].rstrip('_')}_{digest(name)}"
    return text


class Names:
    """Hands out unique identifiers (a suffix resolves collisions, in order of request)."""

    def __init__(self, reserved: Sequence[str] = ()):
        self.used = set(reserved)

    def take(self, wanted: str) -> str:
        name, k = wanted, 2
        while name.lower() in self.used:
            name, k = f"{wanted}_{k}", k + 1
        self.used.add(name.lower())
        return name


# -- templates ---------------------------------------------------------------------------
def templates_dir() -> Path:
    """``templates/``: packaged inside ``hlsgen`` (wheel) or beside it (source checkout)."""
    package = Path(hlsgen.__file__).resolve().parent
    for candidate in (package / "templates", package.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"hlsgen templates not found beside {package}; reinstall hlsgen")


def template_env(subdir: str) -> jinja2.Environment:
    """A strict Jinja2 environment over ``templates/<subdir>`` (unknown names raise).

    The filter ``printable`` (:func:`hlsgen.names.printable`) is applied to every name that
    comes from the model or the command line, comments included."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / subdir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["printable"] = printable
    return env
