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
from orchestration import market_calendar
from orchestration.metadata import table_text as _md
from orchestration.resources.database import Database
from orchestration.storage.bulk import read_price_window

COVERAGE_MEMORY = 10
SHOWN_SESSIONS = 10


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


def prices_present_on_session(
    priced: set[dt.date], start: dt.date, end: dt.date
) -> dg.AssetCheckResult:
    """Every NYSE session between ``start`` and ``end`` is one of the ``priced`` dates.

    A session without any bar is missing data (a file or payload that never arrived), never a
    holiday: the check fails naming the dates. Half days are sessions like any other."""
    sessions = market_calendar.sessions(start, end)
    missing = [day for day in sessions.date if day not in priced]
    shown = ", ".join(day.isoformat() for day in missing[:SHOWN_SESSIONS])
    if len(missing) > SHOWN_SESSIONS:
        shown += f" and {len(missing) - SHOWN_SESSIONS} more"
    return dg.AssetCheckResult(
        check_name=c.PRICES_PRESENT_ON_SESSION,
        passed=not missing,
        description=(
            f"no prices on NYSE session(s) {shown}: the source lacks those days' bars"
            if missing
            else f"every NYSE session from {start.isoformat()} to {end.isoformat()} has prices"
        ),
        metadata={
            "sessions_checked": len(sessions),
            "sessions_without_prices": len(missing),
            "missing_sessions": shown or "none",
        },
    )


def universe_coverage(database: Database, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per NYSE session in ``[start, end]``: symbols priced, symbols expected, coverage.

    A symbol is expected on session ``d`` when it has a price on ``d`` or on any of the
    ``COVERAGE_MEMORY`` sessions before it, so a symbol that traded recently and is missing
    today counts as missing, a new listing counts from its first day and a delisted symbol
    stops counting after ``COVERAGE_MEMORY`` sessions. A session without any price has
    coverage 0.
    """
    earlier = market_calendar.sessions(market_calendar.FIRST_DATE, start - dt.timedelta(days=1))
    first = earlier[-COVERAGE_MEMORY:][0].date() if len(earlier) else start
    with database.engine.connect() as connection:
        long = read_price_window(connection, first, end)
    dates = market_calendar.sessions(first, end)
    symbols = pd.Index(np.sort(long["symbol"].unique()))
    present = np.zeros((len(dates), len(symbols)), dtype=np.int32)
    at = dates.get_indexer(pd.DatetimeIndex(long["date"]))
    on_session = at >= 0  # rows an older version stored on a day that is no session
    present[at[on_session], symbols.get_indexer(long["symbol"])[on_session]] = 1
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


def prices_cover_universe(coverage: pd.DataFrame, min_coverage: float) -> dg.AssetCheckResult:
    """On every NYSE session in the range, at least ``min_coverage`` of the universe is priced.

    ``coverage``: :func:`universe_coverage` of the range (the asset computes it once for its
    per-partition metadata and this check)."""
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
    database: Database, data_end: dt.date | None, max_stale_sessions: int
) -> dg.AssetCheckResult:
    """The newest stored price is at most ``max_stale_sessions`` NYSE sessions older than the
    last session of the source's data (the latest session on or before ``data_end``, the end
    the source declares: a CSV history's last date, today for a live source).

    A history that ends in the past is fresh once it is loaded to its end; a holiday weekend
    costs nothing. Without a declared end (a source with no prices) the check fails."""
    frame = database.read_frame("SELECT MAX(date) AS latest FROM prices")
    raw = frame["latest"].iloc[0] if not frame.empty else None
    latest = pd.Timestamp(raw).date() if raw is not None and not pd.isna(raw) else None
    expected = stale = None
    if data_end is None:
        description = "the source has no prices, so it declares no end of its data"
    else:
        expected = market_calendar.latest_session(data_end)
        if latest is None:
            description = f"no prices stored; the source's data ends on {data_end.isoformat()}"
        else:
            stale = market_calendar.sessions_between(latest, expected)
            description = (
                f"newest stored price {latest.isoformat()}, {stale} session(s) before "
                f"{expected.isoformat()}, the last session of the source's data (it ends on "
                f"{data_end.isoformat()})"
            )
    return dg.AssetCheckResult(
        check_name=c.PRICES_FRESH,
        passed=stale is not None and stale <= max_stale_sessions,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "latest_price_date": latest.isoformat() if latest else "none",
            "source_data_end": data_end.isoformat() if data_end else "none",
            "expected_date": expected.isoformat() if expected else "none",
            "stale_sessions": stale if stale is not None else -1,
            "max_stale_sessions": max_stale_sessions,
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
