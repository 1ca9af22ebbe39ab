"""Safe forms of untrusted text: ONNX node, tensor and graph names, file names, paths.

A model file is untrusted input, and hlsgen writes the names inside it into C++, Verilog,
Tcl, Makefiles and Markdown that ``make csim`` / ``make sim`` compile and run.  Two forms:

* :func:`printable` -- for *generated files* (comments included): printable ASCII only,
  nothing that can end a comment or open another context, bounded length.  Every template
  applies it (the Jinja filter ``printable``) to every name that comes from the model or the
  command line.  A newline, carriage return, trailing backslash (C++ line continuation),
  ``??/`` trigraph, ``*/`` / ``/*``, backtick (Verilog macro), ``$`` (Verilog system task,
  Make/shell expansion), ``{`` / ``}`` (Tcl quoting), ``|`` / ``<`` / ``>`` (Markdown
  tables, HTML), NUL and Unicode (bidi overrides) all become ``_``.  Templates put a fixed
  word before every name in a comment, so no comment starts with model text (Verilator and
  yosys read ``// verilator ...`` and ``// synthesis ...`` comments as directives).
* :func:`terminal` -- for *messages* on the terminal: control and format characters (escape
  sequences, CR, bidi overrides, NUL) are shown escaped (``\\n``, ``\\x1b``, ``\\u202e``),
  so a model cannot fake or hide an output line; other text is kept as is, bounded.

:func:`bounded` shortens identifiers and file-name stems: a 500-character tensor name must
not give "File name too long".  Shortened texts keep a hash of the original, so distinct long
names stay distinct and the result is deterministic.
"""

from __future__ import annotations

import hashlib
import unicodedata

__all__ = ["printable", "terminal", "markup", "bounded", "digest", "MAX_NAME",
           "MAX_MESSAGE_NAME"]

MAX_NAME = 64  # characters of a model name in a generated file (comments, README)
MAX_MESSAGE_NAME = 200  # characters of one name in a terminal message
# Printable ASCII that still means something in one of the generated languages.
_UNSAFE = frozenset("\\`$?*{}|<>")


def bounded(text: str, limit: int) -> str:
    """``text`` itself if at most ``limit`` characters, else a prefix and ``~`` + 8 hex digits
    of the SHA-256 of the whole text (``limit`` characters in all; ``limit`` >= 16)."""
    return _shorten(text, limit, text)


def printable(text: object, limit: int = MAX_NAME) -> str:
    """``text`` reduced to printable ASCII safe in any comment, Markdown text or Tcl braces of
    a generated file (not in a string literal: quotes are kept, and no template puts a model
    name in one).

    Characters outside ``[ -~]`` and the characters of :data:`_UNSAFE` become ``_``; the result
    has at most ``limit`` characters (see :func:`bounded`), so it never holds a line end, a
    backslash, ``*/``, ``/*``, a backtick or ``$``.
    """
    text = str(text)
    safe = "".join(c if " " <= c <= "~" and c not in _UNSAFE else "_" for c in text)
    return _shorten(safe, limit, text)


def _shorten(text: str, limit: int, original: str) -> str:
    """``text``, or its prefix + ``~`` + a hash of ``original`` when longer than ``limit``."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 9]}~{digest(original)}"


def digest(text: str) -> str:
    """8 hex digits of the SHA-256 of ``text``: a deterministic tag for a shortened name."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def terminal(text: object, limit: int | None = MAX_MESSAGE_NAME) -> str:
    """``text`` for a terminal message: control, format and separator characters escaped
    (``\\n``, ``\\r``, ``\\t``, ``\\x1b``, ``\\u202e``, ...), at most ``limit`` characters
    (then ``...``); ``limit=None`` keeps the whole text."""
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 3] + "..."
    return "".join(_escape_char(c) for c in text)


def _escape_char(c: str) -> str:
    if c.isprintable() and unicodedata.category(c) not in ("Cf", "Co", "Cs", "Zl", "Zp"):
        return c
    if c in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[c]
    code = ord(c)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def markup(text: object, limit: int | None = MAX_MESSAGE_NAME) -> str:
    """:func:`terminal` text that rich prints literally (``[/bold]`` in a node name is text,
    not markup)."""
    from rich.markup import escape

    return escape(terminal(text, limit))
