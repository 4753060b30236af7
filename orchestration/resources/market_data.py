"""Market data sources: where instruments, prices, benchmarks, holdings and positions come from.

``DemoMarketData`` serves the deterministic simulated market of :mod:`analytics_lib.simulation`;
``CsvMarketData`` serves a directory in the CSV format of DESIGN.md section 4. Both return the
same normalised frames.

Every source declares the end of its data (:meth:`MarketDataSource.data_end`): the last day it
has, or will have, prices for. Freshness is judged against it (a history that ends in the past is
not stale), and a session after it is "no data yet", never a holiday.

A source is read and validated as a whole once per run, when Dagster initializes the resource
(before any step of the run): every file or payload, and the rules across them. A source that
fails stops the run before anything is written; every asset of the run then reads the same
validated :class:`MarketDataSnapshot` (its prices until ``daily_prices`` has written them and
releases them: :meth:`MarketDataSource.release_prices`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import PrivateAttr

from analytics_lib.simulation import DemoMarket, simulate_market
from orchestration.clock import market_today
from orchestration.defs.market_data import csv_source as market_csv
from orchestration.defs.market_data.validation import (
    MarketDataError,
    MarketDataSnapshot,
    Origins,
    validate_snapshot,
)

PRICE_COLUMNS = ["date", "symbol", "open", "high", "low", "close", "adj_close", "volume"]
INSTRUMENT_COLUMNS = [
    "symbol",
    "name",
    "sector",
    "industry",
    "market_cap",
    "asset_type",
    "currency",
    "category",
    "expense_ratio",
]
BENCHMARK_COLUMNS = ["benchmark", "asof_date", "sector", "weight"]
HOLDINGS_COLUMNS = ["etf", "asof_date", "symbol", "weight"]
POSITION_COLUMNS = ["account", "symbol", "quantity", "cost_basis", "currency"]
RUNS_REMEMBERED = 4


@dataclass
class _RunSnapshot:
    """A run's validated snapshot; once its prices are released (:meth:`MarketDataSource.
    release_prices`) it keeps every other table and the first and last price date."""

    snapshot: MarketDataSnapshot
    released_span: tuple[dt.date, dt.date] | None = None
    prices_released: bool = False


_run_snapshots: OrderedDict[tuple[str, str], _RunSnapshot] = OrderedDict()
_run_lock = threading.Lock()


def _price_span(snapshot: MarketDataSnapshot) -> tuple[dt.date, dt.date] | None:
    dates = snapshot.prices["date"]
    if dates.empty:
        return None
    return pd.Timestamp(dates.min()).date(), pd.Timestamp(dates.max()).date()


class PricesReleasedError(RuntimeError):
    """A step read the source's prices after the run released them."""


class MarketDataSource(dg.ConfigurableResource, ABC):
    """Where market data comes from. The whole source is validated once per run (in
    :meth:`setup_for_execution`); the data methods serve that validated snapshot, which the
    run's resources share through the run cache (so releasing its prices frees them)."""

    _snapshot: MarketDataSnapshot | None = PrivateAttr(default=None)
    _run_key: tuple[str, str] | None = PrivateAttr(default=None)

    @property
    @abstractmethod
    def label(self) -> str:
        """Human-readable description of the source, shown in metadata."""

    @property
    @abstractmethod
    def simulated(self) -> bool:
        """True when the data is simulated (the demo market)."""

    @abstractmethod
    def data_end(self) -> dt.date | None:
        """The last day the source declares data for: a session after it has no data yet.

        A fixed history (a CSV export) ends on its last price date, or on the end its
        configuration declares; a live source (the demo market without an end date, FMP)
        ends today, New York time. None when the source has no prices and declares no end."""

    @abstractmethod
    def load(self) -> MarketDataSnapshot:
        """Read every table of the source and validate them as a whole.

        Raises :class:`~orchestration.defs.market_data.validation.MarketDataError` naming the
        file or payload, line and field of the first problem."""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Validate the whole source before any step of the run, once per run (a resource
        nested in another one shares the run's snapshot). Outside a run (a sensor's
        resources) nothing is read until a table is asked for."""
        if context.run is None:
            return
        self._run_key = (context.run.run_id, f"{type(self).__name__}:{self.model_dump_json()}")
        self._run_snapshot(self._run_key)

    def _run_snapshot(self, key: tuple[str, str]) -> _RunSnapshot:
        """The run's entry in the run cache (loaded again if the cache let it go)."""
        with _run_lock:
            entry = _run_snapshots.get(key)
            if entry is None:
                entry = _RunSnapshot(self.load())
                _run_snapshots[key] = entry
                while len(_run_snapshots) > RUNS_REMEMBERED:
                    _run_snapshots.popitem(last=False)
        return entry

    def snapshot(self) -> MarketDataSnapshot:
        """The validated source: the run's snapshot, or (outside a run) a fresh one. After
        :meth:`release_prices` the run's snapshot has no price rows."""
        if self._run_key is not None:
            return self._run_snapshot(self._run_key).snapshot
        if self._snapshot is None:
            self._snapshot = self.load()
        return self._snapshot

    def release_prices(self) -> None:
        """Free the run's prices once they are written (``daily_prices`` calls this): a
        multi-year backfill at thousands of symbols would otherwise carry every bar of the
        source (0.4 GB at 5,000 symbols × 5 years) through all of its risk steps. The run
        keeps the other tables and the price span (:meth:`price_dates`); reading prices
        afterwards raises :class:`PricesReleasedError`. Outside a run this does nothing."""
        if self._run_key is None:
            return
        entry = self._run_snapshot(self._run_key)
        with _run_lock:
            if not entry.prices_released:
                entry.released_span = _price_span(entry.snapshot)
                entry.snapshot = dataclasses.replace(
                    entry.snapshot, prices=entry.snapshot.prices.iloc[:0].copy()
                )
                entry.prices_released = True
        self._forget_loaded()

    def _forget_loaded(self) -> None:
        """Drop what the source caches of its loads (the snapshot shares its frames)."""

    def instruments(self) -> pd.DataFrame:
        """Columns ``symbol, name, sector, industry, market_cap, asset_type, currency``."""
        return self.snapshot().instruments.copy()

    def prices(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Daily bars with ``start <= date <= end``; columns as in ``prices.csv``."""
        if self._run_key is not None and self._run_snapshot(self._run_key).prices_released:
            raise PricesReleasedError(
                "the run's source prices were released after daily_prices wrote them: read "
                "them from the prices table"
            )
        return self.snapshot().prices_between(pd.Timestamp(start), pd.Timestamp(end))

    def benchmark_sector_weights(self) -> pd.DataFrame:
        """Columns ``benchmark, asof_date, sector, weight``."""
        return self.snapshot().benchmark_sector_weights.copy()

    def etf_holdings(self) -> pd.DataFrame:
        """Columns ``etf, asof_date, symbol, weight``."""
        return self.snapshot().etf_holdings.copy()

    def positions(self) -> pd.DataFrame:
        """Columns ``account, symbol, quantity, cost_basis, currency``."""
        return self.snapshot().positions.copy()

    def price_dates(self) -> tuple[dt.date, dt.date] | None:
        """The first and last date the source has prices for (None when it has none)."""
        if self._run_key is not None:
            entry = self._run_snapshot(self._run_key)
            if entry.prices_released:
                return entry.released_span
        return _price_span(self.snapshot())

    def latest_date(self) -> dt.date | None:
        """The newest date the source has prices for (None when it has none)."""
        span = self.price_dates()
        return span[1] if span is not None else None


@functools.lru_cache(maxsize=4)
def _demo_market(start: dt.date, end: dt.date, n_symbols: int, seed: int) -> DemoMarket:
    return simulate_market(start=start, end=end, n_symbols=n_symbols, seed=seed)


class DemoMarketData(MarketDataSource):
    """The SIMULATED demo market: deterministic for a seed, prefix-stable as days are added.

    ``end_date`` fixes the last simulated day, which is the declared end of its data; empty
    means today in New York (a live market: the simulation grows by a session a day).
    """

    start_date: str
    n_symbols: int = 150
    seed: int = 20240101
    end_date: str = ""

    @property
    def label(self) -> str:
        return (
            f"demo market (SIMULATED data, {self.n_symbols} stocks, seed {self.seed}, "
            f"from {self.start_date})"
        )

    @property
    def simulated(self) -> bool:
        return True

    def data_end(self) -> dt.date:
        return dt.date.fromisoformat(self.end_date) if self.end_date else market_today()

    def load(self) -> MarketDataSnapshot:
        start = dt.date.fromisoformat(self.start_date)
        market = _demo_market(start, max(self.data_end(), start), self.n_symbols, self.seed)
        snapshot = MarketDataSnapshot(
            instruments=market.instruments.loc[:, INSTRUMENT_COLUMNS].reset_index(drop=True),
            prices=market.prices.loc[:, PRICE_COLUMNS].reset_index(drop=True),
            benchmark_sector_weights=market.benchmark_sector_weights.loc[
                :, BENCHMARK_COLUMNS
            ].reset_index(drop=True),
            etf_holdings=market.etf_holdings.loc[:, HOLDINGS_COLUMNS].reset_index(drop=True),
            positions=market.positions.loc[:, POSITION_COLUMNS].reset_index(drop=True),
            origins=Origins.payloads("demo market"),
        )
        return validate_snapshot(snapshot, payloads=True)

    def _forget_loaded(self) -> None:
        _demo_market.cache_clear()


@functools.lru_cache(maxsize=4)
def _csv_directory(path: str, stamps: tuple[tuple[int, int], ...]) -> MarketDataSnapshot:
    return market_csv.read_directory(Path(path))


class CsvMarketData(MarketDataSource):
    """A directory in the CSV market-data format (prices, instruments, benchmark, holdings,
    positions). A malformed file raises
    :class:`~orchestration.defs.market_data.validation.CsvFormatError`.

    The data ends on the last date of ``prices.csv``, or on ``end_date`` when it is set (an
    export known to be complete through a later day: a session up to it without bars is then
    missing data). ``end_date`` must be an ISO date, not before the last price date and not
    after today in New York."""

    directory: str
    end_date: str = ""

    @property
    def label(self) -> str:
        return f"csv directory {self.directory}"

    @property
    def simulated(self) -> bool:
        return False

    def load(self) -> MarketDataSnapshot:
        directory = Path(self.directory)
        stamps = []
        for name in (
            market_csv.INSTRUMENTS_FILE,
            market_csv.PRICES_FILE,
            market_csv.BENCHMARK_FILE,
            market_csv.HOLDINGS_FILE,
            market_csv.POSITIONS_FILE,
        ):
            path = directory / name
            if not path.is_file():
                raise market_csv.CsvFormatError(path, None, None, "file not found")
            stat = path.stat()
            stamps.append((stat.st_mtime_ns, stat.st_size))
        snapshot = _csv_directory(str(directory), tuple(stamps))
        self._declared_end(snapshot)
        return snapshot

    def _forget_loaded(self) -> None:
        _csv_directory.cache_clear()

    def _declared_end(self, snapshot: MarketDataSnapshot) -> dt.date | None:
        """``end_date`` checked against the prices of ``snapshot`` (None when unset)."""
        if not self.end_date:
            return None
        try:
            end = dt.date.fromisoformat(self.end_date)
        except ValueError:
            raise MarketDataError(
                f"CSV market data end_date {self.end_date!r} is not an ISO date (YYYY-MM-DD)"
            ) from None
        dates = snapshot.prices["date"]
        last = pd.Timestamp(dates.max()).date() if not dates.empty else None
        if last is not None and end < last:
            raise MarketDataError(
                f"CSV market data end_date {end.isoformat()} is before the last date in "
                f"{snapshot.origins.prices.name}, {last.isoformat()}"
            )
        if end > market_today():
            raise MarketDataError(
                f"CSV market data end_date {end.isoformat()} is after today "
                f"({market_today().isoformat()} in New York): a file holds no future prices"
            )
        return end

    def data_end(self) -> dt.date | None:
        declared = self._declared_end(self.snapshot())
        if declared is not None:
            return declared
        span = self.price_dates()
        return span[1] if span is not None else None
