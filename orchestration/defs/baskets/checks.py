"""Asset checks of the baskets, one function per property.

Each function computes an :class:`dagster.AssetCheckResult` from data; the assets call them and
return the results with their materialization (``check_specs``), so a blocking check stops the
downstream steps of the same run.
"""

from __future__ import annotations

import math

import dagster as dg
import numpy as np
import pandas as pd

from analytics_lib.baskets import BasketAnalytics
from orchestration import constants as c
from orchestration.metadata import table_text as _md

WEIGHT_SUM_TOLERANCE = 1e-9


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


def symbols_fresh(stale: pd.DataFrame, max_sessions: int) -> dg.AssetCheckResult:
    """Warning: every member of every basket has a price at the newest price date (or within
    ``max_sessions`` NYSE sessions of it, ``PORTFOLIO_STALE_SESSIONS``). A stale member's
    target weight does not count as covered.

    ``stale``: one row per stale member: ``basket``, ``symbol``, ``weight``,
    ``last_price_date`` and ``sessions_behind``.
    """
    names = [f"{row.symbol} ({row.basket})" for row in stale.itertuples()]
    description = (
        f"stale members: {', '.join(names[:20])}{' …' if len(names) > 20 else ''}"
        if names
        else "every member has a current price"
    )
    return dg.AssetCheckResult(
        check_name=c.SYMBOLS_FRESH,
        passed=stale.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "max_sessions": max_sessions,
            "stale_members": len(stale),
            "baskets_with_stale_members": int(stale["basket"].nunique()),
            "stale": dg.MetadataValue.md(_md(stale.head(50))),
        },
    )
