"""Argument types shared by the ``portfolio`` subcommands."""

from __future__ import annotations

import argparse
import datetime as dt


def iso_date(text: str) -> dt.date:
    """An ``argparse`` type: a ``YYYY-MM-DD`` date, or a usage error naming the text."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None
