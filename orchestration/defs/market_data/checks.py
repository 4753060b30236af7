"""Asset checks of the market data, one function per property.

Each function computes an :class:`dagster.AssetCheckResult` from data; the assets call them and
return the results with their materialization (``check_specs``), so a blocking check stops the
downstream steps of the same run.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd

from analytics_lib.returns import ReturnsPanelResult
from orchestration import constants as c
from orchestration.clock import weekdays_between
from orchestration.metadata import table_text as _md
from orchestration.resources.database import Database
from orchestration.storage.bulk import read_price_window

COVERAGE_MEMORY = 10


def prices_unique_keys(database: Database, start: dt.date, end: dt.date) -> dg.AssetCheckResult:
    """No (symbol, date) appears twice in ``prices`` between ``start`` and ``end``."""
    frame = database.read_frame(
        "SELECT symbol, date, COUNT(*) AS n FROM prices WHERE date >= :start AND date <= :end "
        "GROUP BY symbol, date HAVING COUNT(*) > 1",
        {"start": start, "end": end},
    )
    return dg.AssetCheckResult(
        check_name=c.PRICES_UNIQUE_KEYS,
        passed=frame.empty,
        metadata={
            "duplicate_keys": len(frame),
            "examples": dg.MetadataValue.md(_md(frame.head(10))),
        },
    )


def prices_positive_closes(database: Database, start: dt.date, end: dt.date) -> dg.AssetCheckResult:
    """Every close (and adjusted close, where known) between ``start`` and ``end`` is > 0."""
    frame = database.read_frame(
        "SELECT symbol, date, close, adj_close FROM prices "
        "WHERE date >= :start AND date <= :end AND (close <= 0 OR adj_close <= 0)",
        {"start": start, "end": end},
    )
    return dg.AssetCheckResult(
        check_name=c.PRICES_POSITIVE_CLOSES,
        passed=frame.empty,
        metadata={
            "non_positive_rows": len(frame),
            "examples": dg.MetadataValue.md(_md(frame.head(10))),
        },
    )


def universe_coverage(database: Database, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per price date in ``[start, end]``: symbols priced, symbols expected, coverage.

    A symbol is expected on day ``d`` when it has a price on ``d`` or on any of the
    ``COVERAGE_MEMORY`` price dates before it, so a symbol that traded recently and is missing
    today counts as missing, a new listing counts from its first day and a delisted symbol
    stops counting after ``COVERAGE_MEMORY`` days. Days without any price (market holidays)
    are not listed.
    """
    earlier = database.read_frame(
        "SELECT date FROM (SELECT DISTINCT date FROM prices WHERE date < :start) AS d "
        "ORDER BY date DESC LIMIT :n",
        {"start": start, "n": COVERAGE_MEMORY},
    )
    first = pd.Timestamp(earlier["date"].min()).date() if not earlier.empty else start
    with database.engine.connect() as connection:
        long = read_price_window(connection, first, end)
    if long.empty:
        return pd.DataFrame(columns=["date", "priced", "expected", "coverage"])
    dates = pd.DatetimeIndex(np.sort(long["date"].unique()))
    symbols = pd.Index(np.sort(long["symbol"].unique()))
    present = np.zeros((len(dates), len(symbols)), dtype=np.int32)
    present[dates.get_indexer(long["date"]), symbols.get_indexer(long["symbol"])] = 1
    running = np.vstack([np.zeros((1, len(symbols)), dtype=np.int32), present.cumsum(axis=0)])
    rows = np.arange(len(dates))
    window = running[rows + 1] - running[np.maximum(rows - COVERAGE_MEMORY, 0)]
    expected = (window > 0).sum(axis=1)
    priced = present.sum(axis=1)
    keep = dates >= pd.Timestamp(start)
    return pd.DataFrame(
        {
            "date": dates[keep],
            "priced": priced[keep],
            "expected": expected[keep],
            "coverage": priced[keep] / np.maximum(expected[keep], 1),
        }
    )


def prices_cover_universe(
    database: Database, start: dt.date, end: dt.date, min_coverage: float
) -> dg.AssetCheckResult:
    """On every trading day in the range, at least ``min_coverage`` of the universe is priced."""
    coverage = universe_coverage(database, start, end)
    short = coverage.loc[coverage["coverage"] < min_coverage]
    lowest = float(coverage["coverage"].min()) if not coverage.empty else 1.0
    return dg.AssetCheckResult(
        check_name=c.PRICES_COVER_UNIVERSE,
        passed=short.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "min_coverage": min_coverage,
            "lowest_coverage": lowest,
            "days_below": len(short),
            "days_checked": len(coverage),
            "worst_days": dg.MetadataValue.md(_md(short.nsmallest(10, "coverage"))),
        },
    )


def prices_fresh(
    database: Database, expected: dt.date, max_stale_weekdays: int
) -> dg.AssetCheckResult:
    """The newest price is at most ``max_stale_weekdays`` weekdays older than ``expected``."""
    frame = database.read_frame("SELECT MAX(date) AS latest FROM prices")
    raw = frame["latest"].iloc[0] if not frame.empty else None
    latest = pd.Timestamp(raw).date() if raw is not None and not pd.isna(raw) else None
    stale = weekdays_between(latest, expected) if latest is not None else None
    return dg.AssetCheckResult(
        check_name=c.PRICES_FRESH,
        passed=stale is not None and stale <= max_stale_weekdays,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "latest_price_date": latest.isoformat() if latest else "none",
            "expected_date": expected.isoformat(),
            "stale_weekdays": stale if stale is not None else -1,
            "max_stale_weekdays": max_stale_weekdays,
        },
    )


def returns_finite(result: ReturnsPanelResult) -> dg.AssetCheckResult:
    """Every value of the filtered returns panel is finite or missing (no ±inf)."""
    values = result.returns.to_numpy(dtype=np.float64, na_value=np.nan)
    infinite = int(np.isinf(values).sum())
    return dg.AssetCheckResult(
        check_name=c.RETURNS_FINITE,
        passed=infinite == 0,
        metadata={"infinite_values": infinite, "symbols": int(values.shape[1])},
    )
