"""Printing command results as aligned tables or JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence

import pandas as pd


def print_json(data: object) -> None:
    """Print ``data`` as indented JSON (dates and numpy scalars as strings/numbers)."""
    print(json.dumps(data, indent=2, default=_default, sort_keys=False))


def _default(value: object) -> object:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def print_table(
    rows: Sequence[Mapping[str, object]] | pd.DataFrame, *, floatfmt: str | Sequence[str] = ".4g"
) -> None:
    """Print rows (or a DataFrame) as a plain-text table; ``floatfmt`` is one format for every
    column or one per column."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if frame.empty:
        print("(none)")
        return
    print(frame.to_markdown(index=False, tablefmt="simple", floatfmt=floatfmt))


def print_pairs(pairs: Sequence[tuple[str, object]]) -> None:
    """Print label/value pairs aligned in two columns."""
    width = max((len(label) for label, _ in pairs), default=0)
    for label, value in pairs:
        print(f"  {label:<{width}}  {value}")


ONE_LINE_CHARACTERS = 500


def one_line(text: str, limit: int = ONE_LINE_CHARACTERS) -> str:
    """``text`` on one line (whitespace collapsed), cut to ``limit`` characters."""
    line = " ".join(text.split())
    if len(line) > limit:
        return line[: limit - 1] + "…"
    return line


def progress(message: str) -> None:
    """A progress line on standard error (standard output carries results only)."""
    print(message, file=sys.stderr, flush=True)
