"""The Markdown table the benchmark scripts print after their runs (pasted into docs/)."""

from __future__ import annotations


def print_markdown(rows: list[dict], keys: list[str] | None = None) -> None:
    """``rows`` as a Markdown table with the columns ``keys`` (default: the first row's);
    a row without a key gets an empty cell."""
    keys = list(rows[0]) if keys is None else keys
    print("\n| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row.get(k, "")) for k in keys) + " |")
