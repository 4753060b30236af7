"""The ``portfolio`` console script.

Every subcommand module exposes ``register(subparsers)``; a command handler receives the parsed
arguments and the validated :class:`~orchestration.settings.Settings` and returns an exit code.
A failing command ends with one line on standard error naming the cause, and exits with
2 (bad input: settings, arguments, CSV files, baskets, trades), 3 (the database or the broker
cannot be used) or 1 (anything else, such as a failed run step). ``--verbose`` adds Dagster's
step log and the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from orchestration.cli.output import one_line
from orchestration.cli.runs import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INFRASTRUCTURE,
    RunFailed,
    show_run_logs,
)
from orchestration.resources.broker import BrokerError
from orchestration.settings import configure_dagster_process, load_settings, prepare_home
from orchestration.storage.engine import DatabaseUnavailable

COMMAND_MODULES = {
    "demo": "pipeline",
    "backfill": "pipeline",
    "run": "pipeline",
    "db": "pipeline",
    "basket": "baskets",
    "trade": "trading",
    "trading": "trading",
    "risk": "risk",
    "strategy": "strategy",
    "performance": "performance",
    "positions": "performance",
    "transactions": "performance",
    "evaluate-volatility": "volatility",
    "mcp": "mcp",
}
"""Each command and the module of this package that registers and runs it. Only the module of
the command given is imported (``portfolio basket list`` never imports Dagster or the
pipeline); ``portfolio --help`` and an unknown command import them all, for the full list."""


def _command(argv: Sequence[str]) -> str | None:
    """The command word of ``argv`` (its first argument that is not an option)."""
    return next((word for word in argv if not word.startswith("-")), None)


def _modules(argv: Sequence[str]) -> list[str]:
    command = _command(argv)
    if command in COMMAND_MODULES:
        return [COMMAND_MODULES[command]]
    return list(dict.fromkeys(COMMAND_MODULES.values()))


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser with the command of ``argv`` registered (every command without
    ``argv``, or when ``argv`` names none)."""
    parser = argparse.ArgumentParser(
        prog="portfolio",
        description="Portfolio Pipeline: prices, risk, baskets and basket trading on Dagster.",
        epilog="Exit codes: 0 success, 1 failure (e.g. a failed run step), 2 bad input "
        "(settings, arguments, CSV files, baskets, trades), 3 the database or the broker cannot "
        "be used. A failure ends with one line naming the cause; --verbose adds Dagster's step "
        "log and the traceback.",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="print Dagster's step log and tracebacks on standard error",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _modules([] if argv is None else argv):
        importlib.import_module(f"orchestration.cli.{name}").register(subparsers)
    return parser


def _history_lost() -> type[BaseException]:
    # imported on the error path only: the market-data package loads the exchange calendar
    from orchestration.defs.market_data.removals import HistoryLostError

    return HistoryLostError


def exit_code(error: BaseException) -> int:
    """The documented exit code of a command that raised ``error``."""
    if isinstance(error, RunFailed):
        return error.exit_code
    if isinstance(error, ValueError):
        return EXIT_BAD_INPUT
    if isinstance(
        error, BrokerError | DatabaseUnavailable | SQLAlchemyError | OSError | _history_lost()
    ):
        return EXIT_INFRASTRUCTURE
    return EXIT_FAILED


def _describe(error: BaseException) -> str:
    if isinstance(
        error, ValueError | RunFailed | DatabaseUnavailable | BrokerError | _history_lost()
    ):
        return str(error)
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return f"{type(error).__name__}: {error} (rerun with --verbose for the traceback)"


def _silence_stdout() -> None:
    """Standard output was closed by its reader (``| head``): drop what is left unflushed."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``portfolio`` console script."""
    words = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(words).parse_args(words)
    configure_dagster_process()
    show_run_logs(args.verbose)
    if not args.verbose:
        warnings.simplefilter("ignore")
    try:
        settings = load_settings()
        prepare_home(settings)
        code = int(args.handler(args, settings))
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"portfolio {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # every failure ends in one line; the traceback on request
        if args.verbose:
            traceback.print_exc()
        print(f"portfolio {args.command}: error: {one_line(_describe(error))}", file=sys.stderr)
        return exit_code(error)


if __name__ == "__main__":
    sys.exit(main())
