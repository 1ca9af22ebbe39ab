"""What every emitter shares: the core's name, identifiers, template loading.

The core's name (``--name``, :class:`CoreName`) prefixes the top and every module, file and C++
function two cores could share.  Identifiers: :func:`identifier` turns an IR name into a C /
Verilog identifier and :class:`Names` hands out unique ones.  Templates: :func:`template_env`
is a strict Jinja2 environment over ``templates/<subdir>`` (unknown names raise).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import jinja2

import hlsgen
from hlsgen.emit.keywords import KEYWORDS
from hlsgen.errors import InputError
from hlsgen.names import digest, printable, terminal

__all__ = ["DEFAULT_NAME", "CoreName", "identifier", "Names", "templates_dir", "template_env"]

DEFAULT_NAME = "hlsgen"
# A letter, then letters, digits and underscores (never two in a row, see CoreName): an
# identifier in Verilog, C++, Tcl and Make and a file name everywhere; short, since it prefixes
# names of up to 60 characters.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
# Longest identifier made from a model name (prefixes and suffixes come on top).
MAX_IDENTIFIER = 48


# -- naming ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CoreName:
    """The name of a generated core (``--name``): the prefix of every name that two hlsgen
    cores in one Vivado design or one C++ program would otherwise share.

    The top is ``<name>_top`` (Verilog module, HLS function, their files), the primitives
    ``<name>_window``, ``<name>_skid``, ...; layer modules and HLS kernels are
    ``<name>_l<N>_<layer>`` -- except under the default name, whose layer modules stay
    ``l<N>_<layer>``, so a project generated without ``--name`` is the same as before the
    option existed.  Raises :class:`InputError` for a name that is not a safe identifier prefix.
    """

    name: str = DEFAULT_NAME

    def __post_init__(self):
        name = self.name
        shown = terminal(name, 40)
        if isinstance(name, str) and len(name) > 32:
            raise InputError(f"--name '{shown}' has {len(name)} characters; give at most 32 "
                             "(a letter, then letters, digits or underscores), e.g. acc1")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InputError(f"--name '{shown}' is not a valid core name: give a letter, then "
                             "at most 31 letters, digits or underscores (it prefixes Verilog "
                             "modules and C++ functions), e.g. acc1")
        if "__" in name or name.endswith("_"):
            # <name>_top would hold '__': reserved in C++
            raise InputError(f"--name '{shown}' has two underscores in a row or ends in one "
                             "(C++ reserves identifiers with '__'); use single underscores "
                             "between letters or digits, e.g. acc_1")
        if name in KEYWORDS:
            raise InputError(f"--name '{shown}' is a Verilog, SystemVerilog or C++ keyword; "
                             f"choose another name, e.g. {name}_core")

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_NAME

    @property
    def top(self) -> str:
        """The top module and HLS top function: ``<name>_top``."""
        return f"{self.name}_top"

    def primitive(self, base: str) -> str:
        """A hand-written primitive module: ``<name>_<base>`` (``base``: window, skid, ...)."""
        return f"{self.name}_{base}"

    def layer(self, ident: str) -> str:
        """A layer module or HLS kernel: ``<name>_<ident>`` (``<ident>`` under the default
        name)."""
        return ident if self.is_default else f"{self.name}_{ident}"


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
