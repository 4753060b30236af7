"""Reading and writing the trade-performance tables (one caller-owned transaction per write).

``transactions`` is the system of record: :func:`record_transactions` inserts executions it has
not seen and updates the ones whose values changed (a commission the broker reported late, a
corrected CSV row), keyed by (account, trade_id); re-recording the same executions writes
nothing. The derived tables are replaced wholesale; the snapshot tables only grow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.engine import Connection

from analytics_lib.trade_analysis import TRANSACTION_COLUMNS
from orchestration.defs.performance.sources import TRANSACTION_RECORD_COLUMNS
from orchestration.storage.bulk import insert_frame, read_frame, replace_rows, upsert_rows
from orchestration.storage.models import (
    PositionPnl,
    PositionsPnlSnapshot,
    RealizedTrade,
    TradingPerformanceSnapshot,
    Transaction,
)

TRANSACTIONS = Transaction.__table__
REALIZED = RealizedTrade.__table__
POSITIONS_PNL = PositionPnl.__table__
PERFORMANCE_SNAPSHOTS = TradingPerformanceSnapshot.__table__
POSITIONS_SNAPSHOTS = PositionsPnlSnapshot.__table__
KEY = ["account", "trade_id"]
VALUE_COLUMNS = [c for c in TRANSACTION_RECORD_COLUMNS if c not in KEY]


@dataclass(frozen=True)
class TransactionWrite:
    """What recording a batch of executions did."""

    source: str
    received: int
    new: int
    updated: int
    unchanged: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def utc_stamps(values: pd.Series) -> pd.Series:
    """Timestamps read from either database (SQLite text, PostgreSQL aware datetimes) or built
    in memory, as UTC datetime64 at microsecond precision (what both databases store)."""
    if values.empty:
        return pd.Series(pd.DatetimeIndex([], tz="UTC"), index=values.index)
    if values.dtype == object:
        stamps = pd.to_datetime(values, utc=True, format="ISO8601")
    else:
        stamps = pd.to_datetime(values, utc=True)
    return stamps.dt.floor("us").astype("datetime64[us, UTC]")


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["datetime"] = utc_stamps(out["datetime"])
    for name in ("quantity", "price", "fees"):
        out[name] = out[name].astype(np.float64)
    for name in ("order_ref", "name"):
        out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out


def read_transactions(connection: Connection, account: str | None = None) -> pd.DataFrame:
    """Every recorded execution (of ``account`` only, when given), columns
    :data:`TRANSACTION_RECORD_COLUMNS`, ``datetime`` UTC."""
    columns = ", ".join(f'"{c}"' for c in TRANSACTION_RECORD_COLUMNS)
    sql = f"SELECT {columns} FROM transactions"
    params: dict[str, object] = {}
    if account is not None:
        sql += " WHERE account = :account"
        params["account"] = account
    return _typed(read_frame(connection, sql + " ORDER BY account, trade_id", params))


def _differs(left: pd.Series, right: pd.Series) -> np.ndarray:
    both_missing = left.isna().to_numpy() & right.isna().to_numpy()
    equal = (left.to_numpy(dtype=object) == right.to_numpy(dtype=object)).astype(bool)
    return ~(equal | both_missing)


def record_transactions(
    connection: Connection, frame: pd.DataFrame, *, source: str, recorded_at: dt.datetime
) -> TransactionWrite:
    """Insert the executions of ``frame`` (validated, :data:`TRANSACTION_RECORD_COLUMNS`) that
    are new and update those whose values changed, by (account, trade_id); bulk writes on the
    caller's transaction."""
    incoming = _typed(frame.loc[:, list(TRANSACTION_RECORD_COLUMNS)])
    incoming["trade_id"] = incoming["trade_id"].astype(str)
    if incoming.empty:
        return TransactionWrite(source, 0, 0, 0, 0)
    parts = [read_transactions(connection, account) for account in incoming["account"].unique()]
    existing = pd.concat(parts, ignore_index=True)
    merged = incoming.merge(
        existing, on=KEY, how="left", suffixes=("", "_old"), indicator=True, validate="1:1"
    )
    new = (merged["_merge"] == "left_only").to_numpy()
    changed = np.zeros(len(merged), dtype=bool)
    for name in VALUE_COLUMNS:
        changed |= _differs(merged[name], merged[f"{name}_old"])
    changed &= ~new
    if new.any():
        insert_frame(
            connection,
            TRANSACTIONS,
            incoming.loc[new],
            constants={"recorded_at": recorded_at},
        )
    if changed.any():
        rows = incoming.loc[changed].to_dict("records")
        for row in rows:
            row["datetime"] = row["datetime"].to_pydatetime()
            row["recorded_at"] = recorded_at
        upsert_rows(connection, TRANSACTIONS, rows, KEY)
    return TransactionWrite(
        source=source,
        received=len(incoming),
        new=int(new.sum()),
        updated=int(changed.sum()),
        unchanged=int(len(incoming) - new.sum() - changed.sum()),
    )


def kernel_frame(transactions: pd.DataFrame) -> pd.DataFrame:
    """The columns :func:`analytics_lib.trade_analysis.match_fifo` reads."""
    return transactions.loc[:, list(TRANSACTION_COLUMNS)]


def provider_names(transactions: pd.DataFrame) -> dict[str, str | None]:
    """Symbol → the first company name a provider gave for it (None when none did)."""
    named = transactions.loc[transactions["name"].notna(), ["symbol", "name"]]
    return dict(named.drop_duplicates("symbol").itertuples(index=False, name=None))


def instrument_names(connection: Connection) -> dict[str, str | None]:
    """Symbol → ``instruments.name``."""
    frame = read_frame(connection, "SELECT symbol, name FROM instruments")
    return dict(zip(frame["symbol"], frame["name"], strict=True))


def latest_closes(connection: Connection, symbols: Sequence[str]) -> pd.DataFrame:
    """``symbol, close, date`` of each symbol's latest price (symbols without one are absent)."""
    columns = ["symbol", "close", "date"]
    if not len(symbols):
        return pd.DataFrame({name: [] for name in columns})
    statement = text(
        "SELECT p.symbol, p.close, p.date FROM prices p JOIN ("
        "SELECT symbol, MAX(date) AS last FROM prices WHERE symbol IN :symbols GROUP BY symbol"
        ") m ON m.symbol = p.symbol AND m.last = p.date"
    ).bindparams(bindparam("symbols", expanding=True))
    rows = connection.execute(statement, {"symbols": sorted(set(symbols))}).all()
    frame = pd.DataFrame(rows, columns=columns)
    frame["date"] = pd.to_datetime(frame["date"].astype(str).str[:10], format="%Y-%m-%d")
    frame["close"] = frame["close"].astype(np.float64)
    return frame


def replace_realized_trades(
    connection: Connection, frame: pd.DataFrame, computed_at: dt.datetime
) -> int:
    """Replace every realized trade with ``frame``."""
    return replace_rows(connection, REALIZED, frame, constants={"computed_at": computed_at})


def read_realized_trades(
    connection: Connection, account: str | None = None, since: dt.date | None = None
) -> pd.DataFrame:
    """Realized trades (of ``account``, closed on or after ``since``, when given), in closing
    order; datetimes UTC."""
    names = [c.name for c in REALIZED.columns if c.name != "computed_at"]
    query = select(*(REALIZED.c[n] for n in names))
    if account is not None:
        query = query.where(REALIZED.c.account == account)
    if since is not None:
        start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
        query = query.where(REALIZED.c.close_datetime >= start)
    query = query.order_by(
        REALIZED.c.close_datetime, REALIZED.c.close_trade_id, REALIZED.c.open_datetime
    )
    frame = pd.DataFrame(connection.execute(query).all(), columns=names)
    for name in ("open_datetime", "close_datetime"):
        frame[name] = utc_stamps(frame[name].astype(object))
    for name in ("quantity", "entry_price", "exit_price", "cost_basis", "proceeds", "fees"):
        frame[name] = frame[name].astype(np.float64)
    frame["pnl"] = frame["pnl"].astype(np.float64)
    frame["pnl_pct"] = pd.to_numeric(frame["pnl_pct"]).astype(np.float64)
    return frame


def replace_positions_pnl(
    connection: Connection, frame: pd.DataFrame, computed_at: dt.datetime
) -> int:
    """Replace every open position's P&L row with ``frame``."""
    return replace_rows(connection, POSITIONS_PNL, frame, constants={"computed_at": computed_at})


def read_positions_pnl(connection: Connection) -> pd.DataFrame:
    """The open positions' P&L rows by account, currency and symbol (``None`` for undefined)."""
    names = [c.name for c in POSITIONS_PNL.columns if c.name != "computed_at"]
    query = select(*(POSITIONS_PNL.c[n] for n in names)).order_by(
        POSITIONS_PNL.c.account, POSITIONS_PNL.c.currency, POSITIONS_PNL.c.symbol
    )
    frame = pd.DataFrame(connection.execute(query).all(), columns=names)
    frame["entry_price_warning"] = frame["entry_price_warning"].astype(bool)
    return frame


def insert_performance_snapshot(
    connection: Connection, report: dict, run_id: str, computed_at: dt.datetime
) -> int:
    """Keep the report of this materialization; returns the snapshot id."""
    return connection.execute(
        insert(PERFORMANCE_SNAPSHOTS)
        .values(
            run_id=run_id,
            total_trades=report["realized_performance"]["total_trades"],
            primary_currency=report["primary_currency"],
            report=report,
            computed_at=computed_at,
        )
        .returning(PERFORMANCE_SNAPSHOTS.c.id)
    ).scalar_one()


def insert_positions_snapshot(
    connection: Connection, summary: dict, positions: int, run_id: str, computed_at: dt.datetime
) -> int:
    """Keep the positions summary of this materialization; returns the snapshot id."""
    return connection.execute(
        insert(POSITIONS_SNAPSHOTS)
        .values(
            run_id=run_id,
            positions=positions,
            primary_currency=summary["primary_currency"],
            summary=summary,
            computed_at=computed_at,
        )
        .returning(POSITIONS_SNAPSHOTS.c.id)
    ).scalar_one()


def transaction_accounts(connection: Connection) -> list[str]:
    """The accounts that have transactions, sorted."""
    rows = connection.execute(select(TRANSACTIONS.c.account).distinct()).scalars().all()
    return sorted(rows)
