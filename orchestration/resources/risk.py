"""The risk model resource: parameters of the risk analytics and the inputs they read.

Every figure the risk group computes for an as-of date ``d`` uses the returns on the last
``history_days`` price dates up to ``d`` and nothing else (no look-ahead, and no dependence on
how many as-of dates one run covers), so a range run equals single-date runs. Inputs are read
from the app database once per run (memoised) and shared by the assets of the group.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import PrivateAttr

from analytics_lib.betas import (
    DEFAULT_BETA_CAP,
    DEFAULT_BETA_MIN_OBSERVATIONS,
    DEFAULT_BETA_WINDOW,
    DEFAULT_MARKET,
)
from analytics_lib.freshness import STALENESS_COLUMNS, price_staleness
from analytics_lib.portfolio import position_weights
from analytics_lib.returns import simple_returns
from analytics_lib.volatility import DEFAULT_HAR_MIN_OBSERVATIONS
from orchestration import market_calendar
from orchestration.constants import DEFAULT_BENCHMARK, DEFAULT_RISK_HISTORY_DAYS
from orchestration.resources.panels import ReturnsPanels


@dataclass(frozen=True)
class RiskHistory:
    """Prices and returns covering every as-of date of one run.

    Attributes
    ----------
    prices
        Price dates x symbols adjusted closes, from ``history_days`` price dates before the
        first as-of date through the last one.
    returns
        Simple returns of ``prices`` (index ``prices.index[1:]``).
    calc_dates
        As-of dates with prices and a return row, in order: the dates the run computes.
    skipped
        As-of dates without prices (sessions whose prices are not loaded yet, or the very
        first price date, which has no return); holidays are no partitions at all.
    history_days
        Rows of returns every as-of date sees.
    """

    prices: pd.DataFrame
    returns: pd.DataFrame
    calc_dates: tuple[pd.Timestamp, ...]
    skipped: tuple[dt.date, ...]
    history_days: int
    _priced_counts: np.ndarray = field(repr=False)
    _last_priced_row: np.ndarray = field(repr=False)

    def _row(self, as_of: pd.Timestamp) -> int:
        return int(self.prices.index.get_loc(as_of))

    def window(self, as_of: pd.Timestamp) -> pd.DataFrame:
        """Returns on the last ``history_days`` rows up to ``as_of`` (every symbol)."""
        end = self._row(as_of)
        return self.returns.iloc[max(0, end - self.history_days) : end]

    def priced_mask(self, as_of: pd.Timestamp) -> np.ndarray:
        """Per symbol (column order): has a price on at least one of the last
        ``history_days + 1`` price dates up to ``as_of``. These symbols are the universe of
        the as-of date: every symbol with data, whether or not it is held."""
        end = self._row(as_of)
        start = max(end - self.history_days, 0)
        return (self._priced_counts[end + 1] - self._priced_counts[start]) > 0

    def last_price_dates(self, as_of: pd.Timestamp) -> pd.Series:
        """Per symbol (every column): the date of its latest price on or before ``as_of``
        (``NaT`` when it has none in the loaded prices)."""
        rows = self._last_priced_row[self._row(as_of)]
        dates = self.prices.index.to_numpy()[np.maximum(rows, 0)]
        return pd.Series(
            np.where(rows >= 0, dates, np.datetime64("NaT")),
            index=pd.Index(self.prices.columns, name="symbol"),
            dtype=self.prices.index.dtype,
        )

    def latest_prices(self, as_of: pd.Timestamp, symbols: pd.Index) -> pd.Series:
        """The latest price on or before ``as_of`` of each of ``symbols`` within the last
        ``history_days + 1`` price dates (NaN when a symbol has none there)."""
        end = self._row(as_of)
        known = symbols.intersection(self.prices.columns)
        recent = self.prices.iloc[max(0, end - self.history_days) : end + 1][known]
        return recent.ffill().iloc[-1].reindex(symbols)


@dataclass(frozen=True)
class Book:
    """The book at one as-of date.

    Attributes
    ----------
    weights
        Weight per priced holding: market value at the latest price on or before the as-of
        date over net equity (:func:`analytics_lib.portfolio.position_weights`; shorts
        negative).
    unpriced
        Holdings without a price in the as-of date's history window (left out of the book).
    """

    weights: pd.Series
    unpriced: list[str]


class RiskModel(dg.ConfigurableResource):
    """Parameters of the risk analytics (shown on the resource page of the UI).

    Attributes
    ----------
    market_index
        Market proxy: betas are OLS regressions on its returns (default SPY).
    benchmark
        Benchmark of the sector comparison in ``benchmarks_sector_weights`` (default SP500).
    beta_window, beta_min_observations, beta_cap
        Paired observations per regression (90), the minimum below which a symbol is reported
        as insufficient (30) and the cap on reported betas (5).
    history_days
        Rows of returns each as-of date sees (default 756, three years): bounds the HAR fit and
        the beta sample of a symbol with gaps.
    har_min_observations
        Minimum HAR regression rows per series (default 100).
    etf_look_through
        Sector exposure distributes held ETFs over their holdings (default False: ETFs are
        their own bucket).
    stale_sessions
        NYSE sessions a symbol's last price may lag the as-of date before the symbol is
        stale (``PORTFOLIO_STALE_SESSIONS``, default 0: it needs a price at the as-of date).
        Stale symbols get status ``stale`` in betas and volatilities and do not count as
        covered in baskets (:func:`analytics_lib.freshness.price_staleness`).
    """

    panels: ReturnsPanels
    market_index: str = DEFAULT_MARKET
    benchmark: str = DEFAULT_BENCHMARK
    beta_window: int = DEFAULT_BETA_WINDOW
    beta_min_observations: int = DEFAULT_BETA_MIN_OBSERVATIONS
    beta_cap: float = DEFAULT_BETA_CAP
    history_days: int = DEFAULT_RISK_HISTORY_DAYS
    har_min_observations: int = DEFAULT_HAR_MIN_OBSERVATIONS
    etf_look_through: bool = False
    stale_sessions: int = 0
    _memo: dict = PrivateAttr(default_factory=dict)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._memo.clear()

    def _read(self, key: str, sql: str, params: dict | None = None) -> pd.DataFrame:
        if key not in self._memo:
            self._memo[key] = self.panels.database.read_frame(sql, params)
        return self._memo[key]

    def history(self, as_of_dates: list[dt.date]) -> RiskHistory:
        """Prices and returns for the as-of dates of a run (sorted dates)."""
        key = ("history", tuple(as_of_dates))
        if key in self._memo:
            return self._memo[key]
        first, last = as_of_dates[0], as_of_dates[-1]
        start = self.panels.window_start(first, self.history_days + 1) or first
        prices = self.panels.prices(start, last)
        returns = simple_returns(prices) if len(prices) else prices
        stamps = [pd.Timestamp(d) for d in as_of_dates]
        calc_dates = tuple(s for s in stamps if s in returns.index)
        skipped = tuple(s.date() for s in stamps if s not in returns.index)
        if len(returns) and self.market_index not in returns.columns:
            raise ValueError(
                f"market_index {self.market_index!r} has no prices between {start} and {last}; "
                "load it or choose another proxy (PORTFOLIO_MARKET_INDEX)"
            )
        counts = np.zeros((len(prices) + 1, prices.shape[1]), dtype=np.int64)
        priced = prices.notna().to_numpy()
        np.cumsum(priced, axis=0, out=counts[1:])
        rows = np.arange(len(prices), dtype=np.int32)[:, None]
        last_row = np.maximum.accumulate(np.where(priced, rows, -1), axis=0)
        history = RiskHistory(
            prices=prices,
            returns=returns,
            calc_dates=calc_dates,
            skipped=skipped,
            history_days=self.history_days,
            _priced_counts=counts,
            _last_priced_row=last_row,
        )
        self._memo[key] = history
        return history

    def staleness(self, history: RiskHistory) -> pd.DataFrame:
        """Long frame ``calc_date, symbol, last_price_date, sessions_behind, stale`` of the
        stale symbols of each as-of date's universe (:meth:`RiskHistory.priced_mask`), as
        :func:`analytics_lib.freshness.price_staleness` judges them on the NYSE sessions; the
        fresh ones are left out, so a long range run keeps only the few stale rows (memoised
        per run)."""
        key = ("staleness", id(history))
        if key not in self._memo:
            frames = [pd.DataFrame(columns=["calc_date", "symbol", *STALENESS_COLUMNS])]
            if history.calc_dates:
                sessions = market_calendar.sessions(
                    history.prices.index[0].date(), history.calc_dates[-1].date()
                )
                for as_of in history.calc_dates:
                    last = history.last_price_dates(as_of)[history.priced_mask(as_of)]
                    judged = price_staleness(
                        last, as_of, sessions, max_sessions=self.stale_sessions
                    )
                    stale = judged.loc[judged["stale"]]
                    frames.append(stale.reset_index().assign(calc_date=as_of))
            frame = pd.concat(frames[1:], ignore_index=True) if len(frames) > 1 else frames[0]
            self._memo[key] = frame.astype({"stale": bool})
        return self._memo[key]

    def quantities(self) -> pd.Series:
        """Quantity held per symbol, summed over accounts (negative = short; zeros dropped)."""
        if "quantities" not in self._memo:
            frame = self.panels.database.read_frame(
                "SELECT symbol, quantity FROM portfolio_positions"
            )
            if frame.empty:
                raise ValueError(
                    "portfolio_positions is empty: materialize portfolio_positions "
                    "(positions.csv or the demo portfolio) before the risk group"
                )
            quantities = frame.groupby("symbol")["quantity"].sum().astype(np.float64)
            quantities.index = pd.Index(quantities.index.astype(str), name="symbol")
            self._memo["quantities"] = quantities[quantities != 0.0]
        return self._memo["quantities"]

    def book(self, history: RiskHistory, as_of: pd.Timestamp) -> Book:
        """The book at ``as_of``: current quantities valued at the latest prices on or before
        it (memoised per run, shared by the assets of the group)."""
        key = ("book", id(history), as_of)
        if key not in self._memo:
            held = self.quantities()
            prices = history.latest_prices(as_of, held.index)
            priced = prices.notna().to_numpy()
            if not priced.any():
                raise ValueError(
                    f"no holding of portfolio_positions has a price on or before "
                    f"{as_of.date()}: {', '.join(held.index)}"
                )
            self._memo[key] = Book(
                weights=position_weights(held[priced], prices[priced]),
                unpriced=list(held.index[~priced]),
            )
        return self._memo[key]

    def instruments(self) -> pd.DataFrame:
        """``symbol`` (index), ``sector`` and ``asset_type`` of every instrument."""
        frame = self._read("instruments", "SELECT symbol, sector, asset_type FROM instruments")
        return frame.set_index("symbol")

    def benchmark_weights(self) -> pd.DataFrame:
        """Every snapshot of the configured benchmark (``benchmark, asof_date, sector, weight``;
        ``asof_date`` as timestamps)."""
        frame = self._read(
            "benchmark",
            "SELECT benchmark, asof_date, sector, weight FROM benchmarks_sector_weights "
            "WHERE benchmark = :benchmark",
            {"benchmark": self.benchmark},
        )
        return frame.assign(asof_date=pd.to_datetime(frame["asof_date"]))

    def etf_holdings(self) -> pd.DataFrame:
        """Every ETF holdings snapshot (``etf, asof_date, symbol, weight``; ``asof_date`` as
        timestamps)."""
        frame = self._read("holdings", "SELECT etf, asof_date, symbol, weight FROM etf_holdings")
        return frame.assign(asof_date=pd.to_datetime(frame["asof_date"]))
