"""``portfolio performance``, ``portfolio positions --pnl`` and ``portfolio transactions import``:
trade performance from the command line.

The reports read what the ``refresh_trading_performance`` job stored (``--refresh`` runs it
first, in this process, on the persistent instance); every figure comes from
:mod:`analytics_lib.performance`. ``transactions import`` validates the whole file before it
writes anything (a bad file exits 2 naming file, line and field, and leaves the table as it
was) and records by (account, trade_id), so importing a file twice changes nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from pathlib import Path

import pandas as pd

from analytics_lib.performance import performance_report, positions_summary
from orchestration.cli.arguments import iso_date
from orchestration.cli.database import AppDatabase
from orchestration.cli.output import print_json, print_table, progress
from orchestration.clock import utc_now
from orchestration.defs.performance import report, store
from orchestration.defs.performance.sources import CsvTransactions
from orchestration.settings import Settings

REFRESH_HELP = "run the refresh_trading_performance job first (in this process)"

POSITION_JSON_COLUMNS = (
    "account",
    "ticker",
    "name",
    "direction",
    "quantity",
    "shares",
    "entry_price",
    "current_price",
    "price_date",
    "gross_exposure",
    "net_exposure",
    "pnl_dollars",
    "pnl_percent",
    "currency",
    "entry_price_warning",
)
TRADE_COLUMNS = (
    "account",
    "symbol",
    "name",
    "direction",
    "open_date",
    "close_date",
    "holding_days",
    "quantity",
    "entry_price",
    "exit_price",
    "pnl",
    "pnl_pct",
    "fees",
    "currency",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``performance``, ``positions`` and ``transactions`` to the parser."""
    performance = subparsers.add_parser(
        "performance", help="realized trading performance (FIFO-matched closed trades)"
    )
    performance.add_argument("--account", help="only this account's trades")
    performance.add_argument(
        "--since", type=iso_date, help="only trades closed on or after this date (YYYY-MM-DD)"
    )
    performance.add_argument("--trades", action="store_true", help="also list every realized trade")
    performance.add_argument("--refresh", action="store_true", help=REFRESH_HELP)
    performance.add_argument("--json", action="store_true", help="print the report as JSON")
    performance.set_defaults(handler=performance_command)

    positions = subparsers.add_parser(
        "positions", help="open positions (from the transactions) at the latest close"
    )
    positions.add_argument(
        "--pnl", action="store_true", help="with exposure and unrealized P&L (positions monitor)"
    )
    positions.add_argument("--refresh", action="store_true", help=REFRESH_HELP)
    positions.add_argument("--json", action="store_true", help="print the positions as JSON")
    positions.set_defaults(handler=positions_command)

    transactions = subparsers.add_parser("transactions", help="the book's executions")
    actions = transactions.add_subparsers(
        dest="transactions_command", required=True, metavar="ACTION"
    )
    imports = actions.add_parser(
        "import",
        help="import transactions.csv (account,trade_id,datetime,symbol,side,quantity,price,"
        "fees,currency)",
    )
    imports.add_argument("file", type=Path)
    imports.add_argument("--json", action="store_true", help="print the counts as JSON")
    imports.set_defaults(handler=import_command)


def _database(settings: Settings) -> AppDatabase:
    return AppDatabase(settings.database_url)


def _refresh(settings: Settings) -> None:
    from orchestration.cli.runs import execute_job, failure_summary, instance_for
    from orchestration.definitions import build_definitions
    from orchestration.defs.performance.jobs import REFRESH_TRADING_PERFORMANCE_JOB

    progress(f"→ {REFRESH_TRADING_PERFORMANCE_JOB}")
    result = execute_job(
        build_definitions(settings), REFRESH_TRADING_PERFORMANCE_JOB, instance_for(settings)
    )
    if not result.success:
        raise ValueError(f"{REFRESH_TRADING_PERFORMANCE_JOB} failed: {failure_summary(result)}")


def _plain(value: object) -> object:
    """A JSON value: numpy scalars as Python, NaN as None, timestamps as ISO dates."""
    if value is None or value is pd.NaT:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return value.isoformat()[:10]
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [
        {name: _plain(value) for name, value in row.items()} for row in frame.to_dict("records")
    ]


def performance_command(args: argparse.Namespace, settings: Settings) -> int:
    """Print the realized-performance report (REALIZED PERFORMANCE, RETURN DISTRIBUTION,
    RETURN STATISTICS) of the stored realized trades, filtered by account and close date."""
    if args.refresh:
        _refresh(settings)
    database = _database(settings)
    with database.transaction() as connection:
        if args.account is not None:
            known = store.transaction_accounts(connection)
            if args.account not in known:
                raise ValueError(
                    f"--account {args.account!r} has no transactions; known accounts: "
                    f"{', '.join(known) or 'none'}"
                )
        trades = store.read_realized_trades(connection, args.account, args.since)
    result = performance_report(trades)
    if args.json:
        payload: dict[str, object] = {
            "account": args.account,
            "since": args.since.isoformat() if args.since else None,
            **result,
        }
        if args.trades:
            payload["realized_trades"] = _records(_trade_rows(trades))
        print_json(payload)
        return 0
    print("\n".join(report.performance_lines(result)))
    if args.trades:
        print("\nREALIZED TRADES")
        print(report.DOUBLE_RULE)
        print_table(_trade_rows(trades), floatfmt=",.2f")
    return 0


def _trade_rows(trades: pd.DataFrame) -> pd.DataFrame:
    frame = trades.assign(
        open_date=trades["open_datetime"].dt.strftime("%Y-%m-%d"),
        close_date=trades["close_datetime"].dt.strftime("%Y-%m-%d"),
    )
    return frame.loc[:, list(TRADE_COLUMNS)]


def positions_command(args: argparse.Namespace, settings: Settings) -> int:
    """Print the open positions; with ``--pnl`` the POSITIONS MONITOR with exposure and
    unrealized P&L, ``⚠`` on suspect entry prices and the summary by currency and account."""
    if args.refresh:
        _refresh(settings)
    with _database(settings).transaction() as connection:
        frame = store.read_positions_pnl(connection)
    summary = positions_summary(frame)
    if args.json:
        rows = frame.assign(ticker=frame["symbol"], direction=frame["direction"].str.upper())
        columns = POSITION_JSON_COLUMNS if args.pnl else POSITION_JSON_COLUMNS[:7]
        payload: dict[str, object] = {"positions": _records(rows.loc[:, list(columns)])}
        if args.pnl:
            payload["summary"] = summary
        print_json(payload)
        return 0
    if args.pnl:
        print("\n".join(report.positions_lines(frame, summary)))
        return 0
    plain = frame.assign(ticker=frame["symbol"], direction=frame["direction"].str.upper())
    print_table(plain.loc[:, [*POSITION_JSON_COLUMNS[:7], "currency"]], floatfmt=",.2f")
    return 0


def import_command(args: argparse.Namespace, settings: Settings) -> int:
    """Validate a transactions CSV completely, then record it in one transaction."""
    source = CsvTransactions(args.file)
    frame = source.transactions()
    with _database(settings).transaction() as connection:
        written = store.record_transactions(
            connection, frame, source=source.label, recorded_at=utc_now()
        )
    if args.json:
        print_json({"file": str(args.file), **written.as_dict()})
    else:
        print(
            f"imported {written.received} transactions from {args.file}: {written.new} new, "
            f"{written.updated} updated, {written.unchanged} unchanged"
        )
    return 0
