"""Asset checks, one function per property.

Each function computes an :class:`dagster.AssetCheckResult` from data; the assets call them and
return the results with their materialization (``check_specs``), so a blocking check stops the
downstream steps of the same run.
"""

from __future__ import annotations

import datetime as dt
import math

import dagster as dg
import numpy as np
import pandas as pd

from analytics_lib.baskets import BasketAnalytics
from analytics_lib.returns import ReturnsPanelResult
from orchestration import constants as c
from orchestration.clock import weekdays_between
from orchestration.execution.reconcile import PositionReconciliation
from orchestration.resources.database import Database
from orchestration.storage.bulk import read_price_window

COVERAGE_MEMORY = 10
WEIGHT_SUM_TOLERANCE = 1e-9


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


def basket_weights_sum_to_one(weights: dict[str, pd.Series]) -> dg.AssetCheckResult:
    """The resolved weights of every basket sum to 1 within 1e-9 (no negative or missing)."""
    rows = []
    for name, w in weights.items():
        values = w.to_numpy(dtype=np.float64, na_value=np.nan)
        total = math.fsum(values) if np.isfinite(values).all() else float("nan")
        rows.append({"basket": name, "weight_sum": total, "negative": int((values < 0).sum())})
    frame = pd.DataFrame(rows, columns=["basket", "weight_sum", "negative"])
    bad = frame.loc[
        ~((frame["weight_sum"] - 1.0).abs() <= WEIGHT_SUM_TOLERANCE) | (frame["negative"] > 0)
    ]
    metadata: dict[str, object] = {
        "baskets": len(frame),
        "baskets_failing": len(bad),
        "tolerance": WEIGHT_SUM_TOLERANCE,
        "failing": dg.MetadataValue.md(_md(bad.head(20))),
    }
    deviation = (frame["weight_sum"] - 1.0).abs().max()  # baskets with a missing weight skipped
    if pd.notna(deviation):
        metadata["max_abs_deviation"] = float(deviation)
    return dg.AssetCheckResult(
        check_name=c.BASKET_WEIGHTS_SUM_TO_ONE, passed=bad.empty, metadata=metadata
    )


def basket_coverage_sufficient(
    covered: dict[str, float], warn_below: float, fail_below: float
) -> dg.AssetCheckResult:
    """Every basket's covered weight (members with data in the window) is at least
    ``warn_below``: below it the check fails as a WARN, below ``fail_below`` as an ERROR (which
    blocks the basket's analytics in the same run)."""
    frame = pd.DataFrame(
        {"basket": list(covered), "covered_weight": list(covered.values())},
        columns=["basket", "covered_weight"],
    )
    lowest = float(frame["covered_weight"].min()) if len(frame) else 1.0
    short = frame.loc[frame["covered_weight"] < warn_below].sort_values("covered_weight")
    return dg.AssetCheckResult(
        check_name=c.BASKET_COVERAGE_SUFFICIENT,
        passed=lowest >= warn_below,
        severity=dg.AssetCheckSeverity.ERROR if lowest < fail_below else dg.AssetCheckSeverity.WARN,
        metadata={
            "lowest_covered_weight": lowest,
            "warn_below": warn_below,
            "fail_below": fail_below,
            "baskets_below_warn": len(short),
            "baskets_below_fail": int((frame["covered_weight"] < fail_below).sum()),
            "short_baskets": dg.MetadataValue.md(_md(short.head(20))),
        },
    )


def _non_finite_fields(analytics: BasketAnalytics) -> list[str]:
    fields = {
        "total_return": analytics.total_return,
        "annualized_return": analytics.annualized_return,
        "annualized_volatility": analytics.annualized_volatility,
        "max_drawdown": analytics.max_drawdown,
        "arithmetic_return": analytics.arithmetic_return,
        "contribution_residual": analytics.contribution_residual,
    }
    if analytics.annualized_volatility != 0.0:
        fields["sharpe"] = analytics.sharpe
    if analytics.vs_portfolio is not None:
        fields["portfolio_correlation"] = analytics.vs_portfolio.correlation
        fields["portfolio_beta"] = analytics.vs_portfolio.beta
        fields["tracking_error"] = analytics.vs_portfolio.tracking_error
    bad = [name for name, value in fields.items() if not math.isfinite(value)]
    contributions = analytics.components["contribution"].to_numpy(dtype=np.float64)
    bad += [
        f"contribution of {symbol}"
        for symbol, value in zip(analytics.components.index, contributions, strict=True)
        if not math.isfinite(value)
    ]
    return bad


def basket_analytics_finite(analytics: dict[str, BasketAnalytics]) -> dg.AssetCheckResult:
    """Every headline statistic, every component contribution and the portfolio comparison of
    every basket is finite. Sharpe may be undefined only for a zero-volatility series."""
    rows = [
        {"basket": name, "non_finite": ", ".join(fields)}
        for name, result in analytics.items()
        if (fields := _non_finite_fields(result))
    ]
    bad = pd.DataFrame(rows, columns=["basket", "non_finite"])
    return dg.AssetCheckResult(
        check_name=c.BASKET_ANALYTICS_FINITE,
        passed=bad.empty,
        metadata={
            "baskets": len(analytics),
            "baskets_failing": len(bad),
            "failing": dg.MetadataValue.md(_md(bad.head(20))),
        },
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
