"""What the strategy assets read: candidates, adjusted-close history and dollar volume.

Everything an as-of date ``d`` uses is dated on or before ``d``: the price history is the last
``rows`` price dates up to ``d`` and the dollar volume covers the same dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
from sqlalchemy import bindparam, text

from orchestration.resources.database import Database
from orchestration.resources.panels import ReturnsPanels

CANDIDATES_SQL = (
    "SELECT symbol, name, COALESCE(category, sector) AS category, asset_type, expense_ratio "
    "FROM instruments WHERE asset_type IN :types ORDER BY symbol"
)
DOLLAR_VOLUME_SQL = (
    "SELECT date, symbol, close * volume AS dollar_volume FROM prices "
    "WHERE date >= :start AND date <= :end AND symbol IN :symbols AND volume IS NOT NULL"
)


def candidates(database: Database, asset_types: Sequence[str]) -> pd.DataFrame:
    """``symbol, name, category, asset_type, expense_ratio`` of the instruments of the given
    asset types; a stock's category is its GICS sector when it has no category of its own."""
    statement = text(CANDIDATES_SQL).bindparams(bindparam("types", expanding=True))
    with database.engine.connect() as connection:
        result = connection.execute(statement, {"types": list(asset_types)})
        rows = result.fetchall()
        columns = list(result.keys())
    frame = pd.DataFrame([tuple(row) for row in rows], columns=columns)
    frame["expense_ratio"] = pd.to_numeric(frame["expense_ratio"], errors="raise").astype(float)
    return frame


def price_history(
    panels: ReturnsPanels,
    as_of: dt.date,
    rows: int,
    symbols: Sequence[str],
    *,
    start: dt.date | None = None,
) -> pd.DataFrame:
    """Dates x symbols adjusted closes of the last ``rows`` price dates up to ``as_of`` (from
    ``start`` when given); ``as_of`` must be a price date, so the history ends on it."""
    first = start or panels.window_start(as_of, rows)
    if first is None:
        raise ValueError(f"no prices on or before {as_of.isoformat()}")
    history = panels.prices(first, as_of, symbols)
    if history.empty or history.index[-1].date() != as_of:
        raise ValueError(
            f"no prices dated {as_of.isoformat()}: the strategy runs on a price date "
            "(load it with `portfolio run --date` first)"
        )
    return history


def dollar_volume(
    database: Database, start: dt.date, end: dt.date, symbols: Sequence[str]
) -> pd.DataFrame:
    """Dates x symbols ``close × volume`` in ``[start, end]`` (NaN where the volume is
    unknown)."""
    statement = text(DOLLAR_VOLUME_SQL).bindparams(bindparam("symbols", expanding=True))
    with database.engine.connect() as connection:
        rows = connection.execute(
            statement, {"start": start, "end": end, "symbols": list(symbols)}
        ).fetchall()
    long = pd.DataFrame([tuple(row) for row in rows], columns=["date", "symbol", "dollar_volume"])
    long["date"] = pd.to_datetime(long["date"])
    long["dollar_volume"] = long["dollar_volume"].astype(float)
    return long.pivot(index="date", columns="symbol", values="dollar_volume").sort_index()
