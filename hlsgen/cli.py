"""The ``hlsgen`` command line.  Each subcommand lives in ``hlsgen.commands.<name>`` with
``add_arguments(parser)`` and ``run(args) -> int``; this module only wires them up and turns
:class:`~hlsgen.errors.HlsgenError` into one clear message and an exit code."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from hlsgen import __version__
from hlsgen.errors import HlsgenError
from hlsgen.names import terminal
from hlsgen.signals import Terminated, exit_process, terminate_cleanly

# name -> one-line help.  Listed explicitly (no directory scan) so grep finds every command.
COMMANDS = {
    "inspect": "list the layers of an ONNX model and whether hlsgen supports each",
    "evaluate": "compare the source model (onnxruntime) with hlsgen's integer reference",
    "decompose": "decompose every layer's weights into shift-add graphs and report the cost",
    "generate": "write an HLS + Verilog project directory for a model",
    "explore": "genetic search for per-layer decompositions under accuracy and resource bounds",
    "build": "explore, then generate the chosen design (the main job)",
    "compare": "the searched design against the DSP systolic-array baseline on one part",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hlsgen",
        description="Pre-trained CNN (ONNX) -> multiplier-less FPGA accelerator.",
    )
    parser.add_argument("--version", action="version", version=f"hlsgen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        module = _command_module(name)
        if module is None:
            continue
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_run=module.run, _parser=command_parser)
    return parser


def _command_module(name: str):
    try:
        return importlib.import_module(f"hlsgen.commands.{name}")
    except ModuleNotFoundError as err:
        if err.name == f"hlsgen.commands.{name}":
            return None  # command not built yet
        raise


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # name the subcommand's usage, not the top level's
        args._parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    # Python/NumPy warnings are held back: after a failure the error line is all the user
    # sees (a warning on the way to it is noise); after a success they follow the output.
    with warnings.catch_warnings(record=True) as caught, terminate_cleanly():
        try:
            code = int(args._run(args) or 0)
        except HlsgenError as err:
            print(f"hlsgen {args.command}: error: {error_text(err)}", file=sys.stderr)
            return err.exit_code
        except KeyboardInterrupt:
            print(f"hlsgen {args.command}: interrupted", file=sys.stderr)
            return 130
        except Terminated as stop:
            print(f"hlsgen {args.command}: terminated ({stop})", file=sys.stderr)
            return 128 + stop.signum
    shown = set()
    for warning in caught:
        text = terminal(str(warning.message), limit=None)
        if text not in shown:
            shown.add(text)
            print(f"hlsgen {args.command}: warning: {text}", file=sys.stderr)
    return code


def error_text(err: BaseException) -> str:
    """``str(err)`` with control characters escaped (a name holding an escape sequence or a
    CR cannot rewrite the terminal) and every line after the first indented, so a newline
    in a model name cannot fake a line of hlsgen's own output."""
    first, *rest = str(err).split("\n")
    lines = [terminal(first, limit=None)]
    lines += [("" if line.startswith("  ") else "  ") + terminal(line, limit=None)
              for line in rest]
    return "\n".join(lines)


def entry() -> None:
    """The ``hlsgen`` command (console script and ``python -m hlsgen``): :func:`main`, then
    exit with its code (at once after Ctrl-C, SIGTERM or SIGHUP: :func:`signals.exit_process`)."""
    exit_process(main())


if __name__ == "__main__":
    entry()
