"""Asset checks of the risk group, one function per property.

Each function computes an :class:`dagster.AssetCheckResult` from data; the assets call them and
return the results with their materialization (``check_specs``), so a blocking check stops the
downstream steps of the same run.
"""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd

from orchestration import constants as c
from orchestration.metadata import table_text as _md


def _dates_md(frame: pd.DataFrame, limit: int = 10) -> dg.MetadataValue:
    return dg.MetadataValue.md(_md(frame.head(limit)))


def market_beta_is_one(
    betas: pd.DataFrame, market: str, calc_dates: list[pd.Timestamp], tolerance: float
) -> dg.AssetCheckResult:
    """Wherever the market proxy's beta to itself is estimated, it is 1 and its R² is 1
    (± tolerance).

    ``betas`` is the long frame the ``position_betas`` asset stores (``calc_date, symbol, beta,
    r_squared, status``). Dates where the market itself has too little history for a beta
    (the start of the price history) have nothing to check; they are counted in the metadata
    and reported by the insufficient-data warning.
    """
    rows = betas.loc[betas["symbol"] == market].set_index("calc_date")
    rows = rows.reindex(pd.DatetimeIndex(calc_dates, name="calc_date"))
    estimated = rows.loc[rows["status"] == "ok"]
    beta_error = (estimated["beta"] - 1.0).abs()
    r2_error = (estimated["r_squared"] - 1.0).abs()
    good = (beta_error <= tolerance) & (r2_error <= tolerance)
    bad = estimated.loc[~good, ["status", "beta", "r_squared"]]
    return dg.AssetCheckResult(
        check_name=c.MARKET_BETA_IS_ONE,
        passed=bad.empty,
        metadata={
            "market_index": market,
            "dates_checked": len(estimated),
            "dates_without_market_beta": len(rows) - len(estimated),
            "dates_failed": len(bad),
            "max_abs_beta_error": float(beta_error.max()) if len(beta_error) else 0.0,
            "max_abs_r_squared_error": float(r2_error.max()) if len(r2_error) else 0.0,
            "tolerance": tolerance,
            "failures": _dates_md(bad.reset_index()),
        },
    )


def betas_within_cap(betas: pd.DataFrame, cap: float) -> dg.AssetCheckResult:
    """Every ``ok`` beta is finite and within ±cap; a capped beta sits exactly on the cap and
    keeps its raw OLS value beyond it."""
    columns = ["calc_date", "symbol", "beta", "beta_raw", "capped"]
    ok = betas.loc[betas["status"] == "ok", columns]
    beta = ok["beta"].astype(np.float64)
    raw = ok["beta_raw"].astype(np.float64)
    capped = ok["capped"].astype(bool)
    bad = (
        ~np.isfinite(beta)
        | (beta.abs() > cap)
        | (capped & ((beta.abs() != cap) | (raw.abs() <= cap)))
        | (~capped & (beta != raw))
    )
    offenders = ok.loc[bad, columns]
    return dg.AssetCheckResult(
        check_name=c.BETAS_WITHIN_CAP,
        passed=offenders.empty,
        metadata={
            "cap": cap,
            "betas_checked": len(ok),
            "capped_betas": int(capped.sum()),
            "violations": len(offenders),
            "examples": _dates_md(offenders),
        },
    )


def betas_r_squared_in_unit_interval(betas: pd.DataFrame) -> dg.AssetCheckResult:
    """Every ``ok`` beta has an R² in [0, 1]."""
    ok = betas.loc[betas["status"] == "ok", ["calc_date", "symbol", "r_squared"]]
    r2 = ok["r_squared"].astype(np.float64)
    offenders = ok.loc[~((r2 >= 0.0) & (r2 <= 1.0)), ["calc_date", "symbol", "r_squared"]]
    return dg.AssetCheckResult(
        check_name=c.BETAS_R_SQUARED_IN_UNIT_INTERVAL,
        passed=offenders.empty,
        metadata={
            "betas_checked": len(ok),
            "violations": len(offenders),
            "min_r_squared": float(r2.min()) if len(r2) else -1.0,
            "max_r_squared": float(r2.max()) if len(r2) else -1.0,
            "examples": _dates_md(offenders),
        },
    )


def betas_have_sufficient_data(betas: pd.DataFrame) -> dg.AssetCheckResult:
    """Warning: symbols whose beta could not be estimated (fewer than the minimum paired
    observations, or no variance). They are stored with their status, never dropped. Stale
    symbols are the warning ``symbols_fresh``'s business, not this one's."""
    short = betas.loc[~betas["status"].isin(["ok", c.STALE_STATUS])]
    latest = short.loc[short["calc_date"] == short["calc_date"].max()] if len(short) else short
    return dg.AssetCheckResult(
        check_name=c.BETAS_HAVE_SUFFICIENT_DATA,
        passed=short.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rows_without_beta": len(short),
            "symbols_without_beta": int(short["symbol"].nunique()),
            "by_status": dg.MetadataValue.md(
                _md(short["status"].value_counts().rename_axis("status").reset_index())
            ),
            "latest_date": _dates_md(
                latest[["calc_date", "symbol", "status", "observations"]], limit=30
            ),
        },
    )


def sector_weights_sum_to_one(sectors: pd.DataFrame, tolerance: float) -> dg.AssetCheckResult:
    """On a net-long book the net sector weights sum to 1 (± tolerance) on every as-of date.

    ``sectors`` has one row per as-of date: ``calc_date``, ``sector_sum`` (Σ net weight over
    the sector table, ``ETF`` and ``Unclassified`` included) and ``book_net`` (Σ position
    weights). Dates of a book that is not net long are not checked.
    """
    net_long = sectors["book_net"] > 0.0
    checked = sectors.loc[net_long]
    error = (checked["sector_sum"] - 1.0).abs()
    offenders = checked.loc[error > tolerance, ["calc_date", "sector_sum"]]
    return dg.AssetCheckResult(
        check_name=c.SECTOR_WEIGHTS_SUM_TO_ONE,
        passed=offenders.empty,
        metadata={
            "dates_checked": len(checked),
            "dates_not_net_long": int((~net_long).sum()),
            "max_abs_error": float(error.max()) if len(error) else 0.0,
            "tolerance": tolerance,
            "failures": _dates_md(offenders),
        },
    )


def unclassified_share_within_limit(sectors: pd.DataFrame, limit: float) -> dg.AssetCheckResult:
    """Warning: the unclassified share of the book (gross weight without a GICS sector, or an
    ETF without holdings data under look-through) stays at or below ``limit``.

    ``sectors``: ``calc_date``, ``unclassified_share`` and ``unclassified_symbols``.
    """
    offenders = sectors.loc[
        sectors["unclassified_share"] > limit,
        ["calc_date", "unclassified_share", "unclassified_symbols"],
    ]
    return dg.AssetCheckResult(
        check_name=c.UNCLASSIFIED_SHARE_WITHIN_LIMIT,
        passed=offenders.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "limit": limit,
            "max_unclassified_share": float(sectors["unclassified_share"].max())
            if len(sectors)
            else 0.0,
            "dates_above": len(offenders),
            "examples": _dates_md(offenders),
        },
    )


def effective_positions_at_most_positions(concentration: pd.DataFrame) -> dg.AssetCheckResult:
    """The effective number of positions (10,000 / HHI) never exceeds the number of positions.

    ``concentration``: ``calc_date``, ``effective_positions`` and ``positions``.
    """
    excess = concentration["effective_positions"] - concentration["positions"]
    bad = ~(excess <= 1e-9 * concentration["positions"])
    offenders = concentration.loc[bad, ["calc_date", "effective_positions", "positions"]]
    return dg.AssetCheckResult(
        check_name=c.EFFECTIVE_POSITIONS_AT_MOST_POSITIONS,
        passed=offenders.empty,
        metadata={
            "dates_checked": len(concentration),
            "violations": len(offenders),
            "examples": _dates_md(offenders),
        },
    )


class VolatilityTally:
    """What the volatility checks read of ``position_volatility`` rows, gathered a chunk of
    rows at a time (:meth:`add`, in row order), so a range run need not keep its rows: counts,
    the offending rows and the rows without a forecast on their latest date.

    Parameters
    ----------
    max_vol
        Upper bound of a forecast (annualised; 3 = 300%).
    """

    def __init__(self, max_vol: float) -> None:
        self.max_vol = max_vol
        self.forecasts_checked = 0
        self.forecasts_capped = 0
        self.percentiles_checked = 0
        self.rows_without_forecast = 0
        self._bounds: list[pd.DataFrame] = []
        self._percentiles: list[pd.DataFrame] = []
        self._statuses: dict[str, int] = {}
        self._latest_short: list[pd.DataFrame] = []

    @classmethod
    def of(cls, volatility: pd.DataFrame, max_vol: float = 0.0) -> VolatilityTally:
        """The tally of one frame of rows."""
        tally = cls(max_vol)
        tally.add(volatility)
        return tally

    def add(self, volatility: pd.DataFrame) -> None:
        """Count the rows of ``volatility`` (columns ``calc_date, kind, symbol,
        expected_vol_21d, forecast_capped, vol_percentile, har_status, har_observations``)."""
        forecast = volatility["expected_vol_21d"].astype(np.float64)
        made = forecast.notna()
        bad = made & ~((forecast > 0.0) & (forecast <= self.max_vol))
        self.forecasts_checked += int(made.sum())
        self.forecasts_capped += int(volatility["forecast_capped"].astype(bool).sum())
        self._bounds.append(
            volatility.loc[bad, ["calc_date", "kind", "symbol", "expected_vol_21d"]]
        )
        pct = volatility["vol_percentile"].astype(np.float64)
        self.percentiles_checked += int(pct.notna().sum())
        out = pct.notna() & ~((pct >= 0.0) & (pct <= 1.0))
        self._percentiles.append(
            volatility.loc[out, ["calc_date", "kind", "symbol", "vol_percentile"]]
        )
        short = volatility.loc[
            ~volatility["har_status"].isin(["ok", c.STALE_STATUS]),
            ["calc_date", "kind", "symbol", "har_status", "har_observations"],
        ]
        if short.empty:
            return
        self.rows_without_forecast += len(short)
        counts = short["har_status"].value_counts()
        for status in pd.unique(short["har_status"]):
            self._statuses[status] = self._statuses.get(status, 0) + int(counts[status])
        latest = short["calc_date"].max()
        if self._latest_short and latest < self._latest_short[0]["calc_date"].iloc[0]:
            return
        if self._latest_short and latest > self._latest_short[0]["calc_date"].iloc[0]:
            self._latest_short = []
        self._latest_short.append(short.loc[short["calc_date"] == latest])

    def bound_offenders(self) -> pd.DataFrame:
        """``calc_date, kind, symbol, expected_vol_21d`` of the forecasts out of bounds."""
        return _joined(self._bounds, ["calc_date", "kind", "symbol", "expected_vol_21d"])

    def percentile_offenders(self) -> pd.DataFrame:
        """``calc_date, kind, symbol, vol_percentile`` of the percentiles outside [0, 1]."""
        return _joined(self._percentiles, ["calc_date", "kind", "symbol", "vol_percentile"])

    def statuses(self) -> pd.DataFrame:
        """``status, count`` of the rows without a forecast, most frequent first (ties in
        order of first appearance)."""
        counts = pd.Series(self._statuses, dtype=np.int64, name="count")
        counts = counts.sort_values(ascending=False, kind="stable")
        return counts.rename_axis("status").reset_index()

    def latest_short(self) -> pd.DataFrame:
        """The rows without a forecast on the latest date that has any."""
        return _joined(
            self._latest_short, ["calc_date", "kind", "symbol", "har_status", "har_observations"]
        )


def _joined(parts: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def _tally(volatility: pd.DataFrame | VolatilityTally, max_vol: float = 0.0) -> VolatilityTally:
    if isinstance(volatility, VolatilityTally):
        return volatility
    return VolatilityTally.of(volatility, max_vol)


def forecasts_within_bounds(
    volatility: pd.DataFrame | VolatilityTally, max_vol: float
) -> dg.AssetCheckResult:
    """Every stored volatility forecast lies in (0, max_vol] (annualised; 3 = 300%).

    ``volatility``: the rows of ``position_volatility`` (``expected_vol_21d`` NULL where no
    forecast could be made, which is not a violation), or their :class:`VolatilityTally`
    (made with the same ``max_vol``).
    """
    tally = _tally(volatility, max_vol)
    if tally.max_vol != max_vol:
        raise ValueError(f"max_vol {max_vol} differs from the tally's {tally.max_vol}")
    offenders = tally.bound_offenders()
    return dg.AssetCheckResult(
        check_name=c.FORECASTS_WITHIN_BOUNDS,
        passed=offenders.empty,
        metadata={
            "max_vol": max_vol,
            "forecasts_checked": tally.forecasts_checked,
            "forecasts_capped": tally.forecasts_capped,
            "violations": len(offenders),
            "examples": _dates_md(offenders),
        },
    )


def percentiles_in_unit_interval(
    volatility: pd.DataFrame | VolatilityTally,
) -> dg.AssetCheckResult:
    """Every stored volatility percentile lies in [0, 1] (NULL where undefined)."""
    tally = _tally(volatility)
    offenders = tally.percentile_offenders()
    return dg.AssetCheckResult(
        check_name=c.PERCENTILES_IN_UNIT_INTERVAL,
        passed=offenders.empty,
        metadata={
            "percentiles_checked": tally.percentiles_checked,
            "violations": len(offenders),
            "examples": _dates_md(offenders),
        },
    )


def forecasts_have_sufficient_data(
    volatility: pd.DataFrame | VolatilityTally,
) -> dg.AssetCheckResult:
    """Warning: series without a HAR forecast (too little history, a missing return among the
    last 22 days, or a degenerate design); stored with their status, never dropped. Stale
    symbols are left to the warning ``symbols_fresh``."""
    tally = _tally(volatility)
    short = tally.rows_without_forecast
    return dg.AssetCheckResult(
        check_name=c.FORECASTS_HAVE_SUFFICIENT_DATA,
        passed=short == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rows_without_forecast": short,
            "by_status": dg.MetadataValue.md(_md(tally.statuses())),
            "latest_date": _dates_md(tally.latest_short(), limit=30),
        },
    )


def portfolio_vol_at_most_weighted_vols(
    holdings: pd.DataFrame, portfolio: pd.DataFrame
) -> dg.AssetCheckResult:
    """On a long-only book the portfolio's realized vol never exceeds the weighted sum of its
    holdings' realized vols over the same window.

    For the root-mean-square vol :math:`\\sqrt{252/w\\,\\sum r^2}` this is Minkowski's inequality,
    an identity — but only over windows where every holding has a return on every day (then
    the book's return is exactly :math:`\\sum_i w_i r_i` and every vol averages over the same
    ``w`` days). Windows where some holding lacks a return (the book's return is renormalised
    over the holdings with data) and books with a short position are therefore not checked.

    ``holdings``: ``calc_date, window, symbol, weight, vol``; ``portfolio``: ``calc_date,
    window, vol, min_coverage`` (the smallest daily coverage of the book's return series over
    the window; 1 means every holding had every return).
    """
    grouped = holdings.groupby(["calc_date", "window"])
    bound = (
        (holdings["weight"] * holdings["vol"])
        .groupby([holdings["calc_date"], holdings["window"]])
        .sum(min_count=1)
    )
    long_only = grouped["weight"].min() >= 0.0
    table = portfolio.set_index(["calc_date", "window"]).join(
        pd.DataFrame({"weighted_vols": bound, "long_only": long_only})
    )
    eligible = (
        table["long_only"].fillna(False).astype(bool)
        & (table["min_coverage"] == 1.0)
        & table["vol"].notna()
        & table["weighted_vols"].notna()
    )
    checked = table.loc[eligible]
    bad = checked["vol"] > checked["weighted_vols"] * (1.0 + 1e-12)
    offenders = checked.loc[bad, ["vol", "weighted_vols"]].reset_index()
    ratio = checked["vol"] / checked["weighted_vols"]
    return dg.AssetCheckResult(
        check_name=c.PORTFOLIO_VOL_AT_MOST_WEIGHTED_VOLS,
        passed=offenders.empty,
        metadata={
            "windows_checked": len(checked),
            "windows_skipped": int((~eligible).sum()),
            "max_ratio": float(ratio.max()) if len(ratio) else 0.0,
            "violations": len(offenders),
            "examples": _dates_md(offenders),
        },
    )


def _date_list(dates: pd.Series, limit: int = 10) -> str:
    days = sorted({pd.Timestamp(d).date().isoformat() for d in dates})
    more = f" and {len(days) - limit} more" if len(days) > limit else ""
    return ", ".join(days[:limit]) + more


def benchmark_in_force(sectors: pd.DataFrame, benchmark: str) -> dg.AssetCheckResult:
    """Warning: a snapshot of the benchmark's sector weights is dated on or before every as-of
    date. On a date without one, ``sector_exposure`` stores the active weights and the largest
    over- and underweight as NULL (never active weights against zero).

    ``sectors`` has one row per as-of date: ``calc_date`` and ``benchmark_asof`` (the date of
    the snapshot in force, missing when there is none).
    """
    missing = sectors.loc[sectors["benchmark_asof"].isna(), "calc_date"]
    description = (
        f"no {benchmark} sector weights dated on or before {_date_list(missing)}: active "
        "weights stored as NULL"
        if len(missing)
        else f"a {benchmark} snapshot is in force on every as-of date"
    )
    return dg.AssetCheckResult(
        check_name=c.BENCHMARK_IN_FORCE,
        passed=missing.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "benchmark": benchmark,
            "dates_checked": len(sectors),
            "dates_without_benchmark": len(missing),
            "dates": _dates_md(missing.to_frame(), limit=30),
        },
    )


def symbols_fresh(stale: pd.DataFrame, max_sessions: int) -> dg.AssetCheckResult:
    """Warning: every holding has a price at the as-of date (or within ``max_sessions`` NYSE
    sessions before it, ``PORTFOLIO_STALE_SESSIONS``). A stale holding has status ``stale``
    in ``position_market_betas`` and ``position_volatility``, so it contributes no beta.

    ``stale``: one row per stale holding and as-of date: ``calc_date``, ``symbol``,
    ``last_price_date`` (missing when it has no price in the history window) and
    ``sessions_behind``.
    """
    symbols = sorted(set(stale["symbol"]))
    description = (
        f"stale holdings: {', '.join(symbols[:20])} (no price within {max_sessions} "
        f"session(s) of {_date_list(stale['calc_date'])})"
        if symbols
        else "every holding has a current price"
    )
    return dg.AssetCheckResult(
        check_name=c.SYMBOLS_FRESH,
        passed=stale.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "max_sessions": max_sessions,
            "stale_holdings": len(symbols),
            "dates_with_stale_holdings": int(stale["calc_date"].nunique()),
            "symbols": ", ".join(symbols) if symbols else "none",
            "examples": _dates_md(stale, limit=30),
        },
    )
