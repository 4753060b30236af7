"""Basket return series and analytics: loading their inputs and persisting their results.

The ``baskets`` assets call these functions; the maths lives in :mod:`analytics_lib.baskets`,
:mod:`analytics_lib.portfolio` and :mod:`analytics_lib.factors`. Writes replace a basket's rows
in one transaction, so a re-run never duplicates and a failure never leaves half a series.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import delete, insert, select

from analytics_lib.baskets import BasketAnalytics, BasketReturns, resolve_weights
from analytics_lib.portfolio import portfolio_returns, position_weights
from analytics_lib.returns import simple_returns
from orchestration.defs.baskets.store import BasketRecord
from orchestration.resources.database import Database
from orchestration.resources.panels import ReturnsPanels
from orchestration.storage import bulk
from orchestration.storage.models import Basket, BasketAnalyticsRow, BasketReturn

RETURNS_TABLE = BasketReturn.__table__
ANALYTICS_TABLE = BasketAnalyticsRow.__table__


@dataclass(frozen=True)
class PriceWindow:
    """Adjusted closes and their simple returns over a window of price dates.

    ``returns`` has one row fewer than ``prices``: the first price date only anchors the first
    return.
    """

    prices: pd.DataFrame
    returns: pd.DataFrame


def basket_weights(database: Database, records: Sequence[BasketRecord]) -> dict[str, pd.Series]:
    """Resolved weights of each basket by name (market caps read once for all of them)."""
    caps = None
    if any(record.method == "market_cap" for record in records):
        frame = database.read_frame("SELECT symbol, market_cap FROM instruments")
        caps = frame.set_index("symbol")["market_cap"].astype(np.float64)
    return {record.name: resolve_weights(record.definition, caps) for record in records}


def weight_matrix(weights: dict[str, pd.Series]) -> pd.DataFrame:
    """Baskets x symbols weights (``NaN`` for non-members), the input of ``basket_returns``."""
    symbols = pd.Index(sorted({s for w in weights.values() for s in w.index}), name="symbol")
    matrix = np.full((len(weights), len(symbols)), np.nan)
    for row, w in enumerate(weights.values()):
        matrix[row, symbols.get_indexer(w.index)] = w.to_numpy()
    return pd.DataFrame(matrix, index=pd.Index(list(weights), name="basket"), columns=symbols)


def latest_price_date(database: Database) -> dt.date | None:
    """The newest date in ``prices`` (None when the table is empty)."""
    value = database.read_frame("SELECT MAX(date) AS d FROM prices")["d"].iloc[0]
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


MAX_SYMBOL_FILTER = 500
"""Above this many symbols a window reads every symbol: the ``IN`` list stays far below the
databases' bound-parameter limits, and a run that needs most of the universe reads it whole."""


def price_window(
    panels: ReturnsPanels,
    end: dt.date,
    window_days: int | None,
    symbols: Iterable[str] | None = None,
) -> PriceWindow:
    """Prices and returns over the last ``window_days`` returns up to ``end`` (every stored
    price date up to ``end`` when ``window_days`` is None), of ``symbols`` when given (others
    may be present too); read once per run (memoised by the resource)."""
    if window_days is None:
        dates = panels.trading_dates(None, end)
        start = dates[0] if dates else None
    else:
        start = panels.window_start(end, window_days + 1)
    if start is None:
        raise ValueError(f"no prices on or before {end.isoformat()}; load market data first")
    wanted = sorted(set(symbols)) if symbols is not None else None
    if wanted is not None and len(wanted) > MAX_SYMBOL_FILTER:
        wanted = None
    prices = panels.prices(start, end, wanted)
    if len(prices) < 2:
        raise ValueError(
            f"only {len(prices)} price date(s) on or before {end.isoformat()}; a return series "
            "needs at least two"
        )
    return PriceWindow(prices=prices, returns=simple_returns(prices))


def last_price_dates(window: PriceWindow, symbols: Iterable[str]) -> pd.Series:
    """Per symbol (in the given order): the date of its latest price in ``window`` (``NaT``
    when it has none there; a window always has at least two price dates)."""
    wanted = pd.Index(list(symbols), name="symbol")
    prices = window.prices.reindex(columns=wanted)
    priced = prices.notna().to_numpy()
    rows = np.arange(len(prices))[:, None]
    last = np.where(priced, rows, -1).max(axis=0, initial=-1)
    dates = prices.index.to_numpy()[np.maximum(last, 0)]
    return pd.Series(
        np.where(last >= 0, dates, np.datetime64("NaT")),
        index=wanted,
        dtype=window.prices.index.dtype,
    )


def covered_weight(weights: pd.Series, available: Iterable[str]) -> float:
    """Target weight of the members that have data in the window."""
    return math.fsum(weights.reindex(list(available)).to_numpy())


def write_basket_returns(
    database: Database,
    result: BasketReturns,
    versions: dict[str, str],
    computed_at: dt.datetime,
) -> int:
    """Replace the stored series of every basket in ``result`` (one transaction); rows written."""
    returns, coverage = result.returns, result.coverage
    names = [str(b) for b in returns.columns]
    n_dates = len(returns.index)
    frame = pd.DataFrame(
        {
            "basket": np.repeat(np.asarray(names, dtype=object), n_dates),
            "date": np.tile(returns.index.to_numpy(), len(names)),
            "daily_return": returns.to_numpy(dtype=np.float64).T.reshape(-1),
            "coverage": coverage.to_numpy(dtype=np.float64).T.reshape(-1),
            "rebalance": result.rebalance,
            "basket_version": np.repeat(np.asarray([versions[n] for n in names]), n_dates),
            "computed_at": pd.Timestamp(computed_at),
        }
    )
    with database.transaction() as connection:
        return bulk.replace_rows(
            connection, RETURNS_TABLE, frame, RETURNS_TABLE.c.basket.in_(names)
        )


@dataclass(frozen=True)
class StoredSeries:
    """A basket's stored return series and the version of the basket it was computed for."""

    returns: pd.Series
    coverage: pd.Series
    rebalance: str
    basket_version: str


def read_basket_returns(
    database: Database,
    names: Sequence[str] | None = None,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict[str, StoredSeries]:
    """Stored series by basket (all baskets in the ``baskets`` table when ``names`` is None),
    dated ``start`` … ``end`` when given; baskets without a stored series are left out."""
    table = RETURNS_TABLE
    query = select(
        table.c.basket,
        table.c.date,
        table.c.daily_return,
        table.c.coverage,
        table.c.rebalance,
        table.c.basket_version,
    ).where(table.c.basket.in_(select(Basket.__table__.c.name)))
    if names is not None:
        query = query.where(table.c.basket.in_(list(names)))
    if start is not None:
        query = query.where(table.c.date >= start)
    if end is not None:
        query = query.where(table.c.date <= end)
    with database.engine.connect() as connection:
        result = connection.execute(query.order_by(table.c.basket, table.c.date))
        columns = list(result.keys())
        frame = pd.DataFrame([tuple(row) for row in result.fetchall()], columns=columns)
    series: dict[str, StoredSeries] = {}
    for name, rows in frame.groupby("basket", sort=False):
        index = pd.DatetimeIndex(pd.to_datetime(rows["date"]), name="date")
        series[str(name)] = StoredSeries(
            returns=pd.Series(
                pd.to_numeric(rows["daily_return"]).to_numpy(dtype=np.float64),
                index=index,
                name=str(name),
            ),
            coverage=pd.Series(rows["coverage"].to_numpy(dtype=np.float64), index=index),
            rebalance=str(rows["rebalance"].iloc[0]),
            basket_version=str(rows["basket_version"].iloc[-1]),
        )
    return series


def basket_return_frame(series: dict[str, StoredSeries]) -> pd.DataFrame:
    """Dates x baskets returns of stored series (``NaN`` where a basket has no row)."""
    frame = pd.concat({name: s.returns for name, s in series.items()}, axis=1, sort=True)
    frame.index.name = "date"
    return frame.astype(np.float64)


def position_quantities(database: Database) -> pd.Series | None:
    """Quantity held per symbol, summed over accounts (None when there are no positions)."""
    positions = database.read_frame(
        "SELECT symbol, SUM(quantity) AS quantity FROM portfolio_positions GROUP BY symbol"
    )
    if positions.empty:
        return None
    return positions.set_index("symbol")["quantity"].astype(np.float64)


def portfolio_return_series(quantities: pd.Series, window: PriceWindow) -> pd.Series:
    """The holdings' daily returns over ``window``: quantities valued at each symbol's last
    price in the window (:func:`analytics_lib.portfolio.position_weights`), then
    :func:`analytics_lib.portfolio.portfolio_returns` of those weights."""
    last_prices = window.prices.ffill().iloc[-1]
    weights = position_weights(quantities, last_prices)
    return portfolio_returns(window.returns, weights)["return"]


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def analytics_row(
    name: str,
    analytics: BasketAnalytics,
    stored: StoredSeries,
    risk_free_rate: float,
    computed_at: dt.datetime,
) -> dict[str, object]:
    """One ``basket_analytics`` row (NaN statistics stored as NULL)."""
    comparison = analytics.vs_portfolio
    components = [
        {
            "symbol": str(symbol),
            "weight": float(row.weight),
            "total_return": _finite_or_none(row.total_return),
            "contribution": float(row.contribution),
            "observations": int(row.observations),
        }
        for symbol, row in analytics.components.iterrows()
    ]
    monthly = [
        {"month": str(month), "return": float(value)}
        for month, value in analytics.monthly_returns.items()
    ]
    return {
        "basket": name,
        "end_date": analytics.end.date(),
        "start_date": analytics.start.date(),
        "observations": analytics.observations,
        "basket_version": stored.basket_version,
        "rebalance": stored.rebalance,
        "risk_free_rate": float(risk_free_rate),
        "total_return": analytics.total_return,
        "annualized_return": analytics.annualized_return,
        "annualized_volatility": analytics.annualized_volatility,
        "sharpe": _finite_or_none(analytics.sharpe),
        "max_drawdown": analytics.max_drawdown,
        "arithmetic_return": analytics.arithmetic_return,
        "contribution_residual": analytics.contribution_residual,
        "portfolio_correlation": _finite_or_none(comparison.correlation) if comparison else None,
        "portfolio_beta": _finite_or_none(comparison.beta) if comparison else None,
        "tracking_error": _finite_or_none(comparison.tracking_error) if comparison else None,
        "portfolio_observations": comparison.observations if comparison else None,
        "components": components,
        "monthly_returns": monthly,
        "computed_at": computed_at,
    }


def write_basket_analytics(database: Database, rows: Sequence[dict[str, object]]) -> int:
    """Replace the rows with the same (basket, end_date) and insert ``rows`` (one transaction)."""
    table = ANALYTICS_TABLE
    by_end: dict[object, list[object]] = {}
    for row in rows:
        by_end.setdefault(row["end_date"], []).append(row["basket"])
    with database.transaction() as connection:
        for end_date, names in by_end.items():
            connection.execute(
                delete(table).where(table.c.end_date == end_date, table.c.basket.in_(names))
            )
        connection.execute(insert(table), list(rows))
    return len(rows)
