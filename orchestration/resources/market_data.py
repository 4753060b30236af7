"""Market data sources: where instruments, prices, benchmarks, holdings and positions come from.

``DemoMarketData`` serves the deterministic simulated market of :mod:`analytics_lib.simulation`;
``CsvMarketData`` serves a directory in the CSV format of DESIGN.md section 4. Both return the
same normalised frames, validated before anything reaches the database.
"""

from __future__ import annotations

import datetime as dt
import functools
from abc import ABC, abstractmethod
from pathlib import Path

import dagster as dg
import pandas as pd

from analytics_lib.simulation import DemoMarket, simulate_market
from orchestration.clock import last_weekday
from orchestration.defs.market_data import csv_source as market_csv

PRICE_COLUMNS = ["date", "symbol", "open", "high", "low", "close", "adj_close", "volume"]
INSTRUMENT_COLUMNS = [
    "symbol",
    "name",
    "sector",
    "industry",
    "market_cap",
    "asset_type",
    "currency",
]
BENCHMARK_COLUMNS = ["benchmark", "asof_date", "sector", "weight"]
HOLDINGS_COLUMNS = ["etf", "asof_date", "symbol", "weight"]
POSITION_COLUMNS = ["account", "symbol", "quantity", "cost_basis", "currency"]


class MarketDataSource(dg.ConfigurableResource, ABC):
    """Where market data comes from. Every frame is validated before it is returned."""

    @property
    @abstractmethod
    def label(self) -> str:
        """Human-readable description of the source, shown in metadata."""

    @property
    @abstractmethod
    def simulated(self) -> bool:
        """True when the data is simulated (the demo market)."""

    @abstractmethod
    def instruments(self) -> pd.DataFrame:
        """Columns ``symbol, name, sector, industry, market_cap, asset_type, currency``."""

    @abstractmethod
    def prices(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Daily bars with ``start <= date <= end``; columns as in ``prices.csv``."""

    @abstractmethod
    def benchmark_sector_weights(self) -> pd.DataFrame:
        """Columns ``benchmark, asof_date, sector, weight``."""

    @abstractmethod
    def etf_holdings(self) -> pd.DataFrame:
        """Columns ``etf, asof_date, symbol, weight``."""

    @abstractmethod
    def positions(self) -> pd.DataFrame:
        """Columns ``account, symbol, quantity, cost_basis, currency``."""

    @abstractmethod
    def latest_date(self) -> dt.date | None:
        """The newest date the source has prices for (None when it has none)."""


@functools.lru_cache(maxsize=4)
def _demo_market(start: dt.date, end: dt.date, n_symbols: int, seed: int) -> DemoMarket:
    return simulate_market(start=start, end=end, n_symbols=n_symbols, seed=seed)


class DemoMarketData(MarketDataSource):
    """The SIMULATED demo market: deterministic for a seed, prefix-stable as days are added.

    ``end_date`` fixes the last simulated day; empty means the latest weekday (today's data).
    """

    start_date: str
    n_symbols: int = 150
    seed: int = 20240101
    end_date: str = ""

    @property
    def label(self) -> str:
        return f"demo market (SIMULATED data, {self.n_symbols} stocks, seed {self.seed})"

    @property
    def simulated(self) -> bool:
        return True

    def _end(self) -> dt.date:
        return dt.date.fromisoformat(self.end_date) if self.end_date else last_weekday()

    def market(self, end: dt.date | None = None) -> DemoMarket:
        """The simulated market from ``start_date`` through ``end`` (default: the horizon)."""
        start = dt.date.fromisoformat(self.start_date)
        last = min(end or self._end(), self._end())
        return _demo_market(start, max(last, start), self.n_symbols, self.seed)

    def instruments(self) -> pd.DataFrame:
        return self.market().instruments.loc[:, INSTRUMENT_COLUMNS]

    def prices(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        if end < dt.date.fromisoformat(self.start_date):
            return pd.DataFrame(columns=PRICE_COLUMNS)
        prices = self.market(end).prices
        dates = prices["date"]
        window = (dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))
        return prices.loc[window, PRICE_COLUMNS].reset_index(drop=True)

    def benchmark_sector_weights(self) -> pd.DataFrame:
        return self.market().benchmark_sector_weights.loc[:, BENCHMARK_COLUMNS]

    def etf_holdings(self) -> pd.DataFrame:
        return self.market().etf_holdings.loc[:, HOLDINGS_COLUMNS]

    def positions(self) -> pd.DataFrame:
        return self.market().positions.loc[:, POSITION_COLUMNS]

    def latest_date(self) -> dt.date | None:
        return pd.Timestamp(self.market().prices["date"].max()).date()


@functools.lru_cache(maxsize=16)
def _csv_file(reader_name: str, path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    reader = getattr(market_csv, reader_name)
    return reader(Path(path))


class CsvMarketData(MarketDataSource):
    """A directory in the CSV market-data format (prices, instruments, benchmark, holdings,
    positions). A malformed file raises :class:`~orchestration.market_csv.CsvFormatError`."""

    directory: str

    @property
    def label(self) -> str:
        return f"csv directory {self.directory}"

    @property
    def simulated(self) -> bool:
        return False

    def _load(self, reader_name: str, filename: str) -> pd.DataFrame:
        path = Path(self.directory) / filename
        if not path.is_file():
            raise market_csv.CsvFormatError(path, None, None, "file not found")
        stat = path.stat()
        return _csv_file(reader_name, str(path), stat.st_mtime_ns, stat.st_size).copy()

    def instruments(self) -> pd.DataFrame:
        return self._load("read_instruments", market_csv.INSTRUMENTS_FILE)

    def prices(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        prices = self._load("read_prices", market_csv.PRICES_FILE)
        dates = prices["date"]
        window = (dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))
        return prices.loc[window].reset_index(drop=True)

    def benchmark_sector_weights(self) -> pd.DataFrame:
        return self._load("read_benchmark_sector_weights", market_csv.BENCHMARK_FILE)

    def etf_holdings(self) -> pd.DataFrame:
        return self._load("read_etf_holdings", market_csv.HOLDINGS_FILE)

    def positions(self) -> pd.DataFrame:
        return self._load("read_positions", market_csv.POSITIONS_FILE)

    def latest_date(self) -> dt.date | None:
        dates = self._load("read_prices", market_csv.PRICES_FILE)["date"]
        return pd.Timestamp(dates.max()).date() if len(dates) else None
