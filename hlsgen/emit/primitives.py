"""The hand-written Verilog primitives (``templates/rtl/primitives``) under the core's name.

The files are static Verilog written under the default name (``hlsgen_window``, ...);
:func:`primitive_files` renames every module they declare or instantiate to the core's
(``acc1_window``, ...) -- whole words of the known module names only, so nothing else in the
text changes -- and names each file after its module.
"""

from __future__ import annotations

import re

from hlsgen.emit.common import DEFAULT_NAME, CoreName, templates_dir

__all__ = ["PRIMITIVES", "primitive_files"]

PRIMITIVES = ("hlsgen_window.v", "hlsgen_fetch.v", "hlsgen_pixel.v", "hlsgen_vector.v", "hlsgen_sum.v",
              "hlsgen_fifo.v", "hlsgen_pair.v", "hlsgen_skid.v", "hlsgen_fork.v",
              "hlsgen_skid_ram.v")
_BASES = tuple(name.removeprefix(f"{DEFAULT_NAME}_").removesuffix(".v") for name in PRIMITIVES)
# `hlsgen_fifo` but not `hlsgen_fifo_x`: a module name, not part of a longer identifier.
_MODULE = re.compile(rf"\b{DEFAULT_NAME}_({'|'.join(_BASES)})\b")


def primitive_files(core: CoreName) -> dict[str, str]:
    """``{rtl/<name>_<base>.v: text}`` with every primitive module renamed to the core's."""
    files = {}
    for name, base in zip(PRIMITIVES, _BASES):
        text = (templates_dir() / "rtl" / "primitives" / name).read_text()
        files[f"rtl/{core.primitive(base)}.v"] = _MODULE.sub(
            lambda word: core.primitive(word[1]), text)
    return files
