"""``hlsgen inspect MODEL.onnx``: every node with its shapes, parameters, MACs and whether
hlsgen supports it; exit 2 (with every unsupported node listed) when it does not."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from hlsgen.errors import InputError

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="ONNX model (float or int8 QDQ)")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write the table and totals as JSON to FILE")
    parser.add_argument("--all", action="store_true",
                        help="also list constant nodes (weights being dequantized or reshaped), "
                             "which are folded at import")


def run(args: argparse.Namespace) -> int:
    from hlsgen.frontend import load_onnx
    from hlsgen.frontend.loader import name_from_path
    from hlsgen.frontend.support import check_model, node_infos
    from hlsgen.frontend.view import build_view

    view = build_view(load_onnx(args.model), name_from_path(args.model))
    infos = node_infos(view)
    totals = {
        "nodes": len(infos),
        "constant_nodes": sum(info.folded for info in infos),
        "params": sum(info.params for info in infos),
        "macs": sum(info.macs for info in infos),
        "unsupported": sum(not info.supported for info in infos),
    }
    layers = _layer_names(view) if not totals["unsupported"] else {}
    _print_table(view.name, infos, totals, show_all=args.all, layers=layers)
    if args.json is not None:
        _write_json(args.json, view.name, infos, totals, layers)
    check_model(view)  # raises UnsupportedModelError (exit 2) listing every problem
    return 0


def _layer_names(view) -> dict[str, str]:
    """ONNX node name -> the hlsgen layer it becomes (``conv0``, ``dense4``, ...): the name
    decompose, explore and method files use.  Either name is accepted in a method file."""
    from hlsgen.frontend.lower import lower

    names = {}
    for layer in lower(view).layers:
        for node in layer.source:
            names.setdefault(node, layer.name)
    return names


def _print_table(name: str, infos, totals: dict, show_all: bool, layers: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from hlsgen.names import markup

    console = Console(width=None if Console().is_terminal else 160)
    table = Table(title=f"{markup(name)}: {totals['nodes']} nodes", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("name", max_width=40, overflow="ellipsis", no_wrap=True)
    table.add_column("op")
    table.add_column("hlsgen layer")
    table.add_column("input", overflow="fold")
    table.add_column("output", overflow="fold")
    table.add_column("params", justify="right")
    table.add_column("MACs", justify="right")
    table.add_column("supported", overflow="fold")
    for info in infos:
        if info.folded and not show_all:
            continue
        shown_inputs = [s for s, const in zip(info.input_shapes, info.constant_inputs)
                        if not const]  # activations only: weights are counted in params
        status = ("[green]yes[/]" if info.supported
                  else f"[red]no[/]: {markup(info.why, None)}")
        if info.folded:
            status = "[dim]constant (folded)[/]"
        table.add_row(str(info.index), markup(info.name), markup(info.op),
                      layers.get(info.name, ""), _shapes(shown_inputs),
                      _shapes(info.output_shapes), f"{info.params:,}", f"{info.macs:,}", status)
    table.add_section()
    table.add_row("", "total", "", "", "", "", f"{totals['params']:,}", f"{totals['macs']:,}",
                  "[green]all supported[/]" if not totals["unsupported"]
                  else f"[red]{totals['unsupported']} unsupported[/]")
    console.print(table)
    if totals["constant_nodes"] and not show_all:
        console.print(f"[dim]{totals['constant_nodes']} constant node(s) not shown (folded "
                      "into weights); --all lists them[/]")


def _shapes(shapes) -> str:
    return " ".join("?" if s is None else "[" + ",".join(str(d) for d in s) + "]"
                    for s in shapes)


def _write_json(path: Path, name: str, infos, totals: dict, layers: dict) -> None:
    doc = {
        "model": name,
        "supported": totals["unsupported"] == 0,
        "totals": totals,
        "nodes": [{**asdict(info), "layer": layers.get(info.name)} for info in infos],
    }
    try:
        path.write_text(json.dumps(doc, indent=2) + "\n")
    except OSError as err:
        raise InputError(f"cannot write --json file '{path}': {err.strerror}") from None
