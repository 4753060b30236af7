"""The ``portfolio`` console script.

Every subcommand module exposes ``register(subparsers)``; a command handler receives the parsed
arguments and the validated :class:`~orchestration.settings.Settings` and returns an exit code.
Errors the user can fix (bad settings, bad input, bad CSV) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from orchestration.cli import baskets, pipeline, trading, volatility
from orchestration.settings import SettingsError, configure_dagster_process, load_settings

COMMAND_MODULES = (pipeline, baskets, trading, volatility)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="portfolio",
        description="Portfolio Pipeline: prices, risk, baskets and basket trading on Dagster.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``portfolio`` console script."""
    args = build_parser().parse_args(argv)
    configure_dagster_process()
    try:
        settings = load_settings()
        return int(args.handler(args, settings))
    except (SettingsError, ValueError) as exc:
        print(f"portfolio {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
