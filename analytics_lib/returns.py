"""Price panels, simple returns and the returns-panel quality filter.

Conventions (DESIGN.md section 6): windows are trading days (rows of the panel); returns are
simple returns of the adjusted close, falling back to the close where no adjusted close is known.
A missing price leaves the return of that day and of the next day missing: returns are never
computed across a gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics_lib._typing import PriceFrame, PricePanel, ReturnsPanel
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.validation import (
    require_columns,
    require_date_index,
    require_fraction,
    require_frame,
    require_positive_int,
)


def price_panel(prices: PriceFrame) -> PricePanel:
    """Pivot long daily bars into a dates x symbols panel of adjusted closes.

    Parameters
    ----------
    prices
        Long frame with columns ``date``, ``symbol``, ``close`` and optionally ``adj_close``;
        at most one row per (date, symbol).

    Returns
    -------
    DataFrame
        Index ``date`` (sorted), columns ``symbol`` (sorted), values
        :math:`P_{t,i} = \\text{adj\\_close}_{t,i}` where known, else :math:`\\text{close}_{t,i}`;
        ``NaN`` where the symbol has no bar that day.

    Raises
    ------
    AnalyticsError
        When a column is missing or a (date, symbol) pair appears twice.
    """
    frame = require_frame(prices, "prices")
    require_columns(frame, ("date", "symbol", "close"), "prices")
    if frame.duplicated(["date", "symbol"]).any():
        row = frame.loc[frame.duplicated(["date", "symbol"])].iloc[0]
        raise AnalyticsError(
            f"prices has duplicate (date, symbol) = ({row['date']}, {row['symbol']})"
        )
    close = frame["close"].astype(np.float64)
    if "adj_close" in frame.columns:
        close = frame["adj_close"].astype(np.float64).fillna(close)
    dates = pd.to_datetime(frame["date"])
    symbols = frame["symbol"].astype(str)
    date_index = pd.DatetimeIndex(np.sort(dates.unique()), name="date")
    symbol_index = pd.Index(np.sort(symbols.unique()), name="symbol")
    values = np.full((len(date_index), len(symbol_index)), np.nan)
    rows = date_index.get_indexer(dates)
    cols = symbol_index.get_indexer(symbols)
    values[rows, cols] = close.to_numpy()
    return pd.DataFrame(values, index=date_index, columns=symbol_index)


def simple_returns(prices: PricePanel) -> ReturnsPanel:
    """Simple returns :math:`r_{t,i} = P_{t,i} / P_{t-1,i} - 1` on consecutive panel rows.

    Parameters
    ----------
    prices
        Dates x symbols panel of positive prices (see :func:`price_panel`).

    Returns
    -------
    DataFrame
        Same columns, index without the first date. :math:`r_{t,i}` is ``NaN`` when either
        price is missing, so a gap never turns into a multi-day "daily" return.
    """
    frame = require_frame(prices, "prices")
    require_date_index(frame, "prices")
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    if (values <= 0).any():
        raise AnalyticsError("prices must be positive; found a price <= 0")
    with np.errstate(invalid="ignore", divide="ignore"):
        returns = values[1:] / values[:-1] - 1.0
    return pd.DataFrame(returns, index=frame.index[1:], columns=frame.columns)


@dataclass(frozen=True)
class ReturnsPanelResult:
    """A quality-filtered returns panel with the reasons for what was left out.

    Attributes
    ----------
    returns
        Dates x symbols simple returns of the symbols that passed the filter.
    quality
        One row per symbol seen in the window: ``observations`` (finite returns),
        ``missing_fraction`` (share of days without a return since the symbol's first price in
        the window), ``non_positive_prices`` (count), ``extreme_returns`` (count of
        :math:`|r| > \\text{extreme\\_return}`), ``included`` and ``reason`` ('' when included).
    extreme_returns
        Long frame ``date, symbol, return`` of every flagged return (flagged, not removed).
    """

    returns: ReturnsPanel
    quality: pd.DataFrame
    extreme_returns: pd.DataFrame

    @property
    def excluded(self) -> pd.DataFrame:
        """The quality rows of the symbols left out, with their reason."""
        return self.quality.loc[~self.quality["included"]]


def returns_panel(
    prices: PricePanel,
    *,
    min_history: int = 60,
    max_missing_fraction: float = 0.1,
    extreme_return: float = 0.5,
) -> ReturnsPanelResult:
    """Simple returns over the rows of ``prices`` with the quality filter applied.

    Parameters
    ----------
    prices
        Dates x symbols panel covering the lookback window plus the day before it.
    min_history
        Minimum number of finite returns a symbol needs in the window.
    max_missing_fraction
        Largest share of days without a return a symbol may have, counted from its first return
        in the window (a late listing is not "missing" before it lists).
    extreme_return
        Returns with :math:`|r| >` this are flagged in ``extreme_returns`` (kept in the panel).

    Returns
    -------
    ReturnsPanelResult

    Notes
    -----
    A symbol is excluded, with the first matching reason, when it has a price :math:`\\le 0`
    (``non_positive_price``), fewer than ``min_history`` returns (``insufficient_history``), or
    a missing fraction above ``max_missing_fraction`` (``too_many_missing``).
    """
    frame = require_frame(prices, "prices")
    require_date_index(frame, "prices")
    min_history = require_positive_int(min_history, "min_history")
    max_missing_fraction = require_fraction(max_missing_fraction, "max_missing_fraction")
    if not (np.isfinite(extreme_return) and extreme_return > 0):
        raise AnalyticsError(f"extreme_return must be a positive number, got {extreme_return!r}")
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    non_positive = (values <= 0).sum(axis=0)
    clean = np.where(values > 0, values, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        rets = clean[1:] / clean[:-1] - 1.0
    finite = np.isfinite(rets)
    observations = finite.sum(axis=0)
    any_finite = finite.any(axis=0)
    first = finite.argmax(axis=0) if len(rets) else np.zeros(values.shape[1], dtype=np.int64)
    first = np.where(any_finite, first, len(rets))
    span = len(rets) - first
    with np.errstate(invalid="ignore", divide="ignore"):
        missing_fraction = np.where(span > 0, 1.0 - observations / np.maximum(span, 1), 1.0)
    extreme = finite & (np.abs(np.where(finite, rets, 0.0)) > extreme_return)
    reason = np.full(values.shape[1], "", dtype=object)
    reason[missing_fraction > max_missing_fraction] = "too_many_missing"
    reason[observations < min_history] = "insufficient_history"
    reason[non_positive > 0] = "non_positive_price"
    included = reason == ""
    symbols = frame.columns
    quality = pd.DataFrame(
        {
            "observations": observations.astype(np.int64),
            "missing_fraction": missing_fraction,
            "non_positive_prices": non_positive.astype(np.int64),
            "extreme_returns": extreme.sum(axis=0).astype(np.int64),
            "included": included,
            "reason": reason.astype(str),
        },
        index=pd.Index(symbols, name="symbol"),
    )
    rows, cols = np.nonzero(extreme)
    flagged = pd.DataFrame(
        {
            "date": frame.index[1:][rows],
            "symbol": symbols[cols].astype(str),
            "return": rets[rows, cols],
        }
    )
    panel = pd.DataFrame(rets[:, included], index=frame.index[1:], columns=symbols[included])
    return ReturnsPanelResult(returns=panel, quality=quality, extreme_returns=flagged)
