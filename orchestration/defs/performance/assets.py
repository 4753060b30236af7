"""Trade-performance assets: transactions → realized trades → performance; positions P&L.

Thin wrappers: executions come through :mod:`.sources`, the tables through :mod:`.store`, every
figure from :mod:`analytics_lib.trade_analysis` (FIFO matching, names) and
:mod:`analytics_lib.performance` (report, positions P&L).
"""

import dagster as dg
import pandas as pd

from analytics_lib.performance import performance_report, positions_summary
from analytics_lib.performance import positions_pnl as position_pnl_frame
from analytics_lib.trade_analysis import FifoResult, match_fifo, resolve_names
from orchestration import constants as c
from orchestration.clock import utc_now
from orchestration.defs.performance import checks, report, store
from orchestration.defs.performance.sources import BrokerTransactions, TransactionSource
from orchestration.metadata import markdown
from orchestration.resources.broker_connection import BrokerConnection
from orchestration.resources.database import Database

RECENT_ROWS = 20
REALIZED_PNL_RECONCILES = checks.REALIZED_PNL_RECONCILES


@dg.asset(group_name=c.TRADING, pool=c.BROKER_DATA_POOL)
def transactions(database: Database, broker_data: BrokerConnection) -> dg.MaterializeResult:
    """Every execution the book has had (the system of record), recorded idempotently by
    (account, trade_id): here the broker's fills (the paper ledger, or IB ``reqExecutions``:
    the days TWS keeps, so the table keeps what IB forgets); ``portfolio transactions import
    FILE`` records ``transactions.csv`` files through the same store. The source is read and
    validated before anything is written."""
    sources: list[TransactionSource] = [BrokerTransactions(broker_data.get())]
    frames = [(source, source.transactions()) for source in sources]
    now = utc_now()
    with database.transaction() as connection:
        writes = [
            store.record_transactions(connection, frame, source=source.label, recorded_at=now)
            for source, frame in frames
        ]
        table = store.read_transactions(connection)
    awaiting = sum(getattr(source, "awaiting_commission", 0) for source in sources)
    recent = table.sort_values("datetime").tail(RECENT_ROWS).iloc[::-1]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "sources": ", ".join(source.label for source in sources),
            "new_transactions": sum(w.new for w in writes),
            "updated_transactions": sum(w.updated for w in writes),
            "unchanged_transactions": sum(w.unchanged for w in writes),
            "awaiting_commission": awaiting,
            "accounts": int(table["account"].nunique()),
            "symbols": int(table["symbol"].nunique()),
            "by_source": markdown(pd.DataFrame([w.as_dict() for w in writes])),
            "recent_transactions": markdown(
                recent.assign(datetime=recent["datetime"].dt.strftime("%Y-%m-%d %H:%M"))
            ),
        }
    )


def _fifo(database: Database) -> tuple[pd.DataFrame, FifoResult, dict[str, str]]:
    """The recorded transactions, their FIFO matching and a name for every symbol."""
    with database.transaction() as connection:
        table = store.read_transactions(connection)
        instrument_names = store.instrument_names(connection)
    fifo = match_fifo(store.kernel_frame(table))
    symbols = [*table["symbol"].unique()]
    names = resolve_names(symbols, store.provider_names(table), instrument_names)
    return table, fifo, names


@dg.asset(
    group_name=c.TRADING,
    deps=[transactions, "instruments"],
    check_specs=[
        dg.AssetCheckSpec(
            REALIZED_PNL_RECONCILES,
            asset="realized_trades",
            blocking=True,
            description="Per account and currency, the executions' cash flows less fees equal the "
            "realized P&L less the open lots' cost basis and fees; per symbol the shares traded "
            "equal the open lots' shares.",
        )
    ],
)
def realized_trades(database: Database) -> dg.MaterializeResult:
    """Closed trades: the transactions matched first-in first-out per account, currency and
    symbol (longs and shorts), each with its company name (provider → instruments → ticker),
    direction, open and close dates, holding days, quantity, entry and exit price, fees and
    P&L in dollars (net of fees) and percent of the cost basis."""
    table, fifo, names = _fifo(database)
    realized = fifo.realized.assign(name=fifo.realized["symbol"].map(names))
    for column in ("open_trade_id", "close_trade_id"):
        realized[column] = realized[column].astype(str)
    with database.transaction() as connection:
        store.replace_realized_trades(connection, realized, utc_now())
    recent = realized.tail(RECENT_ROWS).iloc[::-1]
    shown = recent.loc[
        :,
        [
            "symbol",
            "name",
            "direction",
            "open_datetime",
            "close_datetime",
            "holding_days",
            "quantity",
            "entry_price",
            "exit_price",
            "pnl",
            "pnl_pct",
            "fees",
            "currency",
        ],
    ].assign(
        open_datetime=recent["open_datetime"].dt.strftime("%Y-%m-%d"),
        close_datetime=recent["close_datetime"].dt.strftime("%Y-%m-%d"),
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(realized),
            "transactions": len(table),
            "open_lots": len(fifo.open_lots),
            "recent_realized_trades": markdown(shown),
        },
        check_results=[checks.realized_pnl_reconciles(table, fifo)],
    )


def _numbers(section: dict, keys: dict[str, str]) -> dict[str, float]:
    """Metadata floats of a report section (undefined ``None`` figures are left out)."""
    return {label: float(section[key]) for label, key in keys.items() if section[key] is not None}


@dg.asset(group_name=c.TRADING, deps=[realized_trades])
def trading_performance(
    context: dg.AssetExecutionContext, database: Database
) -> dg.MaterializeResult:
    """The realized-performance report (seed components 3-5): win/loss summary, 10-bucket
    return distribution and return statistics, overall and per currency, with the primary
    currency; kept as one ``trading_performance_snapshots`` row per materialization. Plotted
    numbers are in the primary currency."""
    with database.transaction() as connection:
        realized = store.read_realized_trades(connection)
    result = performance_report(realized)
    now = utc_now()
    with database.transaction() as connection:
        snapshot = store.insert_performance_snapshot(connection, result, context.run.run_id, now)
    primary = result["primary_currency"]
    section = result["by_currency"][primary] if primary else result
    summary = section["realized_performance"]
    numbers = _numbers(
        summary,
        {
            "net_realized_pnl": "net_pnl",
            "win_rate": "win_percent",
            "profit_factor": "profit_factor",
            "expectancy": "expectancy",
        },
    )
    distribution = pd.DataFrame(result["return_distribution"]["buckets"]).loc[
        :, ["range_label", "count", "frequency", "cumulative_frequency"]
    ]
    return dg.MaterializeResult(
        metadata={
            "total_trades": result["realized_performance"]["total_trades"],
            **numbers,
            "primary_currency": primary or "none",
            "snapshot_id": snapshot,
            "report": dg.MetadataValue.md(report.code_block(report.performance_lines(result))),
            "return_distribution": markdown(distribution, floatfmt=".1f"),
            "return_distribution_chart": dg.MetadataValue.md(
                report.distribution_chart(
                    result["return_distribution"], "Distribution of returns per trade"
                )
            ),
        }
    )


@dg.asset(group_name=c.TRADING, deps=[transactions, "daily_prices", "instruments"])
def positions_pnl(context: dg.AssetExecutionContext, database: Database) -> dg.MaterializeResult:
    """Open positions (the FIFO open lots per account, currency and symbol) at the latest
    close: direction, shares, entry price, current price, gross and net exposure, unrealized
    P&L in dollars and percent, ``entry_price_warning``; the summary by currency and account is
    kept as one ``positions_pnl_snapshots`` row per materialization. Plotted numbers are in the
    primary currency."""
    _table, fifo, names = _fifo(database)
    positions = fifo.positions
    with database.transaction() as connection:
        closes = store.latest_closes(connection, positions["symbol"].tolist())
    frame = position_pnl_frame(positions, closes.set_index("symbol")["close"])
    price_dates = closes.set_index("symbol")["date"]
    frame = frame.assign(
        name=frame["symbol"].map(names), price_date=frame["symbol"].map(price_dates)
    )
    summary = positions_summary(frame)
    now = utc_now()
    with database.transaction() as connection:
        store.replace_positions_pnl(connection, frame, now)
        snapshot = store.insert_positions_snapshot(
            connection, summary, len(frame), context.run.run_id, now
        )
    primary = summary["primary_currency"]
    totals = summary["by_currency"][primary] if primary else None
    numbers = (
        _numbers(
            totals,
            {
                "gross_exposure": "gross_exposure",
                "net_exposure": "net_exposure",
                "unrealized_pnl": "unrealized_pnl_dollars",
                "unrealized_pnl_percent": "unrealized_pnl_percent",
            },
        )
        if totals
        else {}
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            **numbers,
            "entry_price_warnings": int(frame["entry_price_warning"].sum()),
            "primary_currency": primary or "none",
            "snapshot_id": snapshot,
            "positions_monitor": dg.MetadataValue.md(
                report.code_block(report.positions_lines(frame, summary))
            ),
        }
    )
