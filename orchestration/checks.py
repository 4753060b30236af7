"""Asset checks, one function per property.

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
from orchestration.execution.reconcile import PositionReconciliation
from orchestration.resources.database import Database

EXPECTED_AFTER_LAST_PRICE = dt.timedelta(days=14)


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

    A symbol of ``instruments`` is expected on day ``d`` when its first price is on or before
    ``d`` and its last price is no more than 14 days before ``d`` (a missing symbol on the
    newest day still counts as missing); instruments never priced are expected every day.
    Days without any price (market holidays) are not listed.
    """
    counts = database.read_frame(
        "SELECT date, COUNT(*) AS priced FROM prices WHERE date >= :start AND date <= :end "
        "GROUP BY date ORDER BY date",
        {"start": start, "end": end},
    )
    spans = database.read_frame(
        "SELECT i.symbol, MIN(p.date) AS first, MAX(p.date) AS last FROM instruments i "
        "LEFT JOIN prices p ON p.symbol = i.symbol GROUP BY i.symbol"
    )
    dates = pd.to_datetime(counts["date"]).to_numpy()
    priced_spans = spans.dropna(subset=["first"])
    first = np.sort(pd.to_datetime(priced_spans["first"]).to_numpy())
    last = np.sort((pd.to_datetime(priced_spans["last"]) + EXPECTED_AFTER_LAST_PRICE).to_numpy())
    started = np.searchsorted(first, dates, side="right")
    ended = np.searchsorted(last, dates, side="left")
    expected = started - ended + int(spans["first"].isna().sum())
    priced = counts["priced"].to_numpy(dtype=np.int64)
    return pd.DataFrame(
        {
            "date": pd.to_datetime(counts["date"]),
            "priced": priced,
            "expected": expected,
            "coverage": np.where(expected > 0, priced / np.maximum(expected, 1), 1.0),
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


def _md(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_none_"
    return frame.to_markdown(index=False)


def broker_positions_reconciled(result: PositionReconciliation) -> dg.AssetCheckResult:
    """The broker holds exactly the positions our ledger expects (no breaks)."""
    return dg.AssetCheckResult(
        check_name=c.BROKER_POSITIONS_RECONCILED,
        passed=result.passed,
        metadata={
            "breaks": len(result.breaks),
            "symbols_checked": result.symbols_checked,
            "reconciliation_id": result.id,
            "break_details": dg.MetadataValue.md(_md(result.breaks.head(20))),
        },
        description=result.describe(),
    )
