"""Financial Modeling Prep (``PORTFOLIO_MARKET_DATA=fmp``): market data over HTTP with httpx.

What one run reads, all before any asset writes (:meth:`FmpMarketData.load`):

- ``etf/list``: FMP's ETF list; a loaded symbol on it (or whose profile says ``isEtf``) is an
  ETF, which is what the strategy universe draws from;
- ``profile/A,B,…`` (batched): name, sector (FMP's names mapped to GICS), industry, market
  cap, currency of every loaded symbol and of every S&P 500 constituent;
- ``historical-price-full/A,…`` (up to five symbols a call): end-of-day bars, ``close`` raw
  and ``adjClose`` adjusted, from the first ``trading_days`` partition on;
- ``sp500_constituent``: the constituents; benchmark sector weights are their market caps
  summed per GICS sector, dated at the latest price date;
- ``etf-holder/X``: the holdings of the market index, the sector ETFs and held ETFs (rows
  without a ticker — cash, derivatives — are not holdings; ``weightPercentage`` is a percent).

Every call goes through one :class:`FmpClient` per run: one ``httpx.Client`` with timeouts, a
client-side rate limit (calls per minute), bounded concurrency, and retries with exponential
backoff and jitter (tenacity) on 429, 5xx, timeouts and connection errors, honouring
``Retry-After``. Every payload is validated before anything is returned; a problem raises an
error naming the endpoint, the symbol and the field. The API key is added to the request only
by the transport (:class:`KeyedTransport`): the URL httpx logs, every request an exception
carries and every message of this module are without it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any, TypeVar

import dagster as dg
import httpx
import pandas as pd
import tenacity
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from analytics_lib._typing import GICS_SECTORS
from analytics_lib.factors import STANDARD_PROXIES
from orchestration.clock import market_today
from orchestration.constants import DEFAULT_BENCHMARK
from orchestration.defs.market_data import csv_source as market_csv
from orchestration.defs.market_data.validation import (
    HOLDINGS_COLUMNS,
    INSTRUMENT_COLUMNS,
    PRICE_COLUMNS,
    MarketDataError,
    MarketDataSnapshot,
    Origin,
    Origins,
    SourceFormatError,
    check_etf_holdings,
    check_instruments,
    check_prices,
    check_values,
    shown,
    validate_snapshot,
)
from orchestration.resources import market_data as frames
from orchestration.resources.market_data import MarketDataSource

DEFAULT_BASE_URL = "https://financialmodelingprep.com/api/v3"
PRICE_BATCH = 5
"""``historical-price-full`` answers for at most five comma-separated symbols a call."""
PROFILE_BATCH = 50
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SECTOR_ETFS: tuple[str, ...] = STANDARD_PROXIES["sector"]
T = TypeVar("T")

FMP_SECTORS: dict[str, str] = {
    "Technology": "Information Technology",
    "Healthcare": "Health Care",
    "Financial Services": "Financials",
    "Consumer Cyclical": "Consumer Discretionary",
    "Consumer Defensive": "Consumer Staples",
    "Communication Services": "Communication Services",
    "Industrials": "Industrials",
    "Energy": "Energy",
    "Utilities": "Utilities",
    "Real Estate": "Real Estate",
    "Basic Materials": "Materials",
}
"""FMP's profile sectors -> GICS sectors. ``sp500_constituent`` already uses the GICS names,
which map to themselves (:func:`gics_sector`)."""


class FmpUnavailable(RuntimeError):
    """FMP could not be reached or kept failing (after every retry); names endpoint and
    symbols, never the key."""


class RetryableStatus(Exception):
    """A 429 or 5xx answer, retried; ``retry_after`` is the server's wait in seconds."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


def gics_sector(name: str) -> str | None:
    """The GICS sector of an FMP sector name (GICS names map to themselves); None when the
    name is neither."""
    if name in GICS_SECTORS:
        return name
    return FMP_SECTORS.get(name)


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or an HTTP date); None when
    absent or unreadable (the exponential backoff applies then)."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    current = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - current).total_seconds())


class RateLimiter:
    """At most ``calls_per_minute`` call starts a minute, evenly spaced, across threads."""

    def __init__(
        self,
        calls_per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 60.0 / calls_per_minute
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait for the next free slot."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            self._sleep(slot - now)


class KeyedTransport(httpx.BaseTransport):
    """Adds ``apikey`` to the query of the request it sends on the wire only: the request the
    client logs, returns and attaches to errors stays without the key."""

    def __init__(self, inner: httpx.BaseTransport, api_key: str) -> None:
        self._inner = inner
        self._api_key = api_key

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        keyed = httpx.Request(
            request.method,
            request.url.copy_merge_params({"apikey": self._api_key}),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return self._inner.handle_request(keyed)

    def close(self) -> None:
        self._inner.close()


class BackoffWait(tenacity.wait.wait_base):
    """``Retry-After`` when the server sent one, else exponential backoff with jitter."""

    def __init__(self, initial: float, maximum: float) -> None:
        self._backoff = tenacity.wait_exponential_jitter(
            multiplier=initial, max=maximum, jitter=initial
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RetryableStatus) and error.retry_after is not None:
            return error.retry_after
        return self._backoff(retry_state)


def _failure(error: BaseException) -> str:
    if isinstance(error, RetryableStatus):
        return str(error)
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if isinstance(error, httpx.ConnectError):
        return "connection failed"
    return f"transport error ({type(error).__name__})"


class FmpClient:
    """One run's connection to FMP: one ``httpx.Client``, the rate limit, the retry policy and
    a bounded thread pool. Use as a context manager."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        calls_per_minute: int,
        max_concurrency: int,
        timeout_seconds: float,
        max_attempts: int,
        backoff_seconds: float,
        max_backoff_seconds: float,
    ) -> None:
        self._max_concurrency = max_concurrency
        self._max_attempts = max_attempts
        self._limiter = RateLimiter(calls_per_minute)
        self._http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_seconds),
            transport=KeyedTransport(httpx.HTTPTransport(), api_key),
            headers={"Accept": "application/json"},
        )
        self._retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((RetryableStatus, httpx.TransportError)),
            stop=tenacity.stop_after_attempt(max_attempts),
            wait=BackoffWait(backoff_seconds, max_backoff_seconds),
            before_sleep=self._log_retry,
            reraise=True,
        )

    def __enter__(self) -> FmpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    @staticmethod
    def _log_retry(retry_state: tenacity.RetryCallState) -> None:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        path = retry_state.args[0] if retry_state.args else "?"
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        dg.get_dagster_logger("fmp").warning(
            f"FMP {path}: {_failure(error) if error else 'failed'}; retry "
            f"{retry_state.attempt_number} in {wait:.1f} s"
        )

    def _send(self, path: str, params: dict[str, str]) -> httpx.Response:
        self._limiter.acquire()
        response = self._http.get(path, params=params)
        if response.status_code in RETRY_STATUSES:
            raise RetryableStatus(
                response.status_code, retry_after_seconds(response.headers.get("Retry-After"))
            )
        return response

    def get_json(
        self, endpoint: str, path: str, subject: str, params: dict[str, str] | None = None
    ) -> object:
        """The decoded JSON of ``GET path``; ``endpoint`` and ``subject`` (the symbols) name the
        call in errors. Raises :class:`FmpUnavailable` after the last retry,
        :class:`MarketDataError` on another HTTP error, :class:`SourceFormatError` on a body
        that is not JSON."""
        where = f"FMP {endpoint} ({subject})"
        try:
            response = self._retrying(self._send, path, params or {})
        except (RetryableStatus, httpx.TransportError) as error:
            raise FmpUnavailable(
                f"{where}: {_failure(error)} after {self._max_attempts} attempt(s)"
            ) from None
        if response.status_code != 200:
            raise MarketDataError(
                f"{where}: HTTP {response.status_code} {HTTPStatus(response.status_code).phrase} "
                "(check FMP_API_KEY, your plan's endpoints and the symbol)"
            )
        try:
            return json.loads(response.content)
        except ValueError:
            raise SourceFormatError(
                where, None, None, f"not valid JSON ({len(response.content):,} bytes, truncated?)"
            ) from None

    def map(self, function: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
        """``function`` over ``items`` on at most ``max_concurrency`` threads, in order; the
        first failure cancels what has not started and is raised."""
        with ThreadPoolExecutor(max_workers=self._max_concurrency) as pool:
            futures = [pool.submit(function, item) for item in items]
            try:
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise


_STRICT = ConfigDict(strict=True, extra="ignore")


def _iso_date(value: object) -> dt.date:
    """A ``YYYY-MM-DD`` string, optionally followed by a time (``etf-holder``'s ``updated``)."""
    if not isinstance(value, str):
        raise ValueError("not a string")
    try:
        if len(value) > 10 and value[10] not in " T":
            raise ValueError(value)
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise ValueError("not a YYYY-MM-DD date") from None


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


class Bar(BaseModel):
    """One row of ``historical-price-full``'s ``historical`` list."""

    model_config = _STRICT
    date: IsoDate
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float
    adjClose: float
    volume: float | None = None


class History(BaseModel):
    """``historical-price-full`` of one symbol; the bars are validated per symbol."""

    model_config = _STRICT
    symbol: str
    historical: list[Any]


class HistoryList(BaseModel):
    """``historical-price-full`` of several symbols."""

    model_config = _STRICT
    historicalStockList: list[History]


class Profile(BaseModel):
    """One row of ``profile``."""

    model_config = _STRICT
    symbol: str
    companyName: str | None = None
    sector: str | None = None
    industry: str | None = None
    mktCap: float | None = Field(default=None, ge=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    isEtf: bool


class Constituent(BaseModel):
    """One row of ``sp500_constituent``."""

    model_config = _STRICT
    symbol: str
    name: str | None = None
    sector: str


class Holding(BaseModel):
    """One row of ``etf-holder``; ``weightPercentage`` is a percent."""

    model_config = _STRICT
    asset: str | None
    weightPercentage: float
    updated: IsoDate


class EtfListing(BaseModel):
    """One row of ``etf/list``."""

    model_config = _STRICT
    symbol: str


def parse(adapter: TypeAdapter[T], payload: object, endpoint: str, subject: str) -> T:
    """``payload`` validated by ``adapter``. The first problem raises naming the endpoint, the
    symbol (the failing record's own ``symbol`` when it has one, else ``subject``), the row
    (from 1) and the field."""
    try:
        return adapter.validate_python(payload)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = error["loc"]
        row = next((p for p in loc if isinstance(p, int)), None)
        field = next((p for p in reversed(loc) if isinstance(p, str)), None)
        if error["type"] == "missing":
            problem = "value is required"
        else:
            message = error["msg"]
            problem = f"{message[:1].lower()}{message[1:]} (got {shown(error['input'])})"
        record = payload[row] if isinstance(payload, list) and row is not None else None
        symbol = record.get("symbol") if isinstance(record, dict) else None
        if isinstance(symbol, str) and loc[1:] != ("symbol",):
            raise SourceFormatError(f"FMP {endpoint} ({symbol})", None, field, problem) from None
        line = None if row is None else row + 1
        where = f"FMP {endpoint} ({subject})"
        raise SourceFormatError(where, line, field, problem, unit="row") from None


_BARS = TypeAdapter(list[Bar])
_HISTORY = TypeAdapter(History)
_HISTORY_LIST = TypeAdapter(HistoryList)
_PROFILES = TypeAdapter(list[Profile])
_CONSTITUENTS = TypeAdapter(list[Constituent])
_HOLDINGS = TypeAdapter(list[Holding])
_ETF_LIST = TypeAdapter(list[EtfListing])


def _unknown(endpoint: str, symbol: str) -> SourceFormatError:
    return SourceFormatError(
        f"FMP {endpoint} ({symbol})", None, "symbol", "unknown symbol: FMP returned no data for it"
    )


def _chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def parse_histories(payload: object, symbols: Sequence[str]) -> dict[str, list[Any]]:
    """Bars by symbol from a ``historical-price-full`` answer for ``symbols``: FMP answers one
    symbol as ``{symbol, historical}``, several as ``{historicalStockList: [...]}`` and leaves
    unknown ones out (``{}`` when it knows none)."""
    subject = ",".join(symbols)
    where = f"FMP historical-price-full ({subject})"
    if payload == {}:
        raise _unknown("historical-price-full", symbols[0])
    if len(symbols) == 1:
        histories = [parse(_HISTORY, payload, "historical-price-full", subject)]
    else:
        answer = parse(_HISTORY_LIST, payload, "historical-price-full", subject)
        histories = answer.historicalStockList
    found = {history.symbol: history.historical for history in histories}
    for symbol in symbols:
        if symbol not in found:
            raise _unknown("historical-price-full", symbol)
    extra = sorted(set(found) - set(symbols))
    if extra:
        raise SourceFormatError(where, None, "symbol", f"symbol not asked for (got {extra[0]!r})")
    return found


def _floats(values: Iterable[float | None]) -> pd.Series:
    return pd.Series(list(values), dtype="float64")


def price_frame(symbol: str, rows: list[Any], start: dt.date) -> pd.DataFrame:
    """The validated bars of one symbol in the ``prices`` columns (``close`` raw,
    ``adj_close`` adjusted)."""
    where = f"FMP historical-price-full ({symbol})"
    if not rows:
        raise SourceFormatError(
            where, None, "historical", f"empty history: no prices from {start} on"
        )
    bars = parse(_BARS, rows, "historical-price-full", symbol)
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime([bar.date for bar in bars]),
            "symbol": symbol,
            "open": _floats(bar.open for bar in bars),
            "high": _floats(bar.high for bar in bars),
            "low": _floats(bar.low for bar in bars),
            "close": _floats(bar.close for bar in bars),
            "adj_close": _floats(bar.adjClose for bar in bars),
            "volume": _floats(bar.volume for bar in bars),
        },
        columns=frames.PRICE_COLUMNS,
    )
    origin = Origin(where)
    check_values(origin, frame, PRICE_COLUMNS)
    check_prices(origin, frame)
    return frame


def parse_profiles(payload: object, symbols: Sequence[str]) -> dict[str, Profile]:
    """Profiles by symbol from a ``profile`` answer for ``symbols``; every one must be there."""
    profiles = {p.symbol: p for p in parse(_PROFILES, payload, "profile", ",".join(symbols))}
    for symbol in symbols:
        if symbol not in profiles:
            raise _unknown("profile", symbol)
    return profiles


def instrument_frame(
    profiles: dict[str, Profile], symbols: Sequence[str], etfs: set[str]
) -> pd.DataFrame:
    """``instruments`` rows of ``symbols``: an ETF (on FMP's ETF list, or ``isEtf``) has no
    sector; a stock's FMP sector is mapped to GICS (an empty one stays unknown)."""
    rows = []
    for symbol in symbols:
        profile = profiles[symbol]
        etf = profile.isEtf or symbol in etfs
        sector = None
        if not etf and profile.sector:
            sector = gics_sector(profile.sector)
            if sector is None:
                raise SourceFormatError(
                    f"FMP profile ({symbol})",
                    None,
                    "sector",
                    f"not an FMP or GICS sector (got {shown(profile.sector)})",
                )
        rows.append(
            {
                "symbol": symbol,
                "name": profile.companyName or None,
                "sector": sector,
                "industry": None if etf else profile.industry or None,
                "market_cap": profile.mktCap,
                "asset_type": "etf" if etf else "stock",
                "currency": profile.currency,
                "category": None,
                "expense_ratio": None,
            }
        )
    frame = pd.DataFrame(rows, columns=frames.INSTRUMENT_COLUMNS)
    frame = frame.astype({"market_cap": "float64", "expense_ratio": "float64"})
    origin = Origin("FMP profile")
    check_values(origin, frame, INSTRUMENT_COLUMNS)
    check_instruments(origin, frame)
    return frame


def benchmark_frame(
    constituents: list[Constituent], profiles: dict[str, Profile], benchmark: str, asof: dt.date
) -> pd.DataFrame:
    """Sector weights of the S&P 500: constituents' market caps summed per GICS sector over
    their total, one row for each of the 11 sectors."""
    caps = dict.fromkeys(GICS_SECTORS, 0.0)
    for row, constituent in enumerate(constituents, start=1):
        sector = gics_sector(constituent.sector)
        if sector is None:
            raise SourceFormatError(
                f"FMP sp500_constituent ({constituent.symbol})",
                row,
                "sector",
                f"not an FMP or GICS sector (got {shown(constituent.sector)})",
                unit="row",
            )
        cap = profiles[constituent.symbol].mktCap
        if cap is None or cap <= 0:
            raise SourceFormatError(
                f"FMP profile ({constituent.symbol})",
                None,
                "mktCap",
                f"an S&P 500 constituent needs a market cap > 0 (got {shown(cap)})",
            )
        caps[sector] += cap
    total = sum(caps.values())
    return pd.DataFrame(
        {
            "benchmark": benchmark,
            "asof_date": pd.Timestamp(asof),
            "sector": list(caps),
            "weight": [cap / total for cap in caps.values()],
        },
        columns=frames.BENCHMARK_COLUMNS,
    )


def holdings_frame(etf: str, payload: object) -> pd.DataFrame:
    """``etf_holdings`` rows of one ETF, dated at the latest ``updated`` of its rows; rows
    without a ticker (cash, derivatives) are not holdings."""
    where = f"FMP etf-holder ({etf})"
    if payload == []:
        raise SourceFormatError(where, None, "asset", "no holdings: unknown ETF or no coverage")
    holdings = parse(_HOLDINGS, payload, "etf-holder", etf)
    listed = [h for h in holdings if h.asset]
    frame = pd.DataFrame(
        {
            "etf": etf,
            "asof_date": pd.Timestamp(max(h.updated for h in holdings)),
            "symbol": [h.asset for h in listed],
            "weight": [h.weightPercentage / 100.0 for h in listed],
        },
        columns=frames.HOLDINGS_COLUMNS,
    )
    origin = Origin(where)
    check_values(origin, frame, HOLDINGS_COLUMNS)
    check_etf_holdings(origin, frame)
    return frame


class FmpMarketData(MarketDataSource):
    """Financial Modeling Prep over HTTP. ``api_key`` is ``dg.EnvVar("FMP_API_KEY")`` (the UI
    shows the variable's name, never its value).

    ``symbols`` are the instruments to load besides ``market_index`` and the 11 sector ETFs
    (always loaded) and the symbols of ``positions_csv`` (a ``positions.csv``; empty: no
    positions, e.g. with ``PORTFOLIO_POSITIONS_SOURCE=broker``).
    """

    api_key: str
    base_url: str = DEFAULT_BASE_URL
    symbols: list[str]
    market_index: str = "SPY"
    start_date: str
    positions_csv: str = ""
    benchmark: str = DEFAULT_BENCHMARK
    calls_per_minute: int = 300
    max_concurrency: int = 4
    timeout_seconds: float = 30.0
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0

    @property
    def label(self) -> str:
        return f"Financial Modeling Prep ({httpx.URL(self.base_url).host})"

    @property
    def simulated(self) -> bool:
        return False

    def data_end(self) -> dt.date:
        """Today in New York: FMP is a live source, so its data ends today (today's bars
        arrive after the close)."""
        return market_today()

    def _symbols(self, held: Iterable[str]) -> list[str]:
        return list(dict.fromkeys([*self.symbols, self.market_index, *SECTOR_ETFS, *held]))

    def _key(self) -> str:
        # Outside a run (the CLI asking for the latest date) the field is still the EnvVar.
        key = self.api_key
        return key.get_value() or "" if isinstance(key, dg.EnvVar) else key

    def _positions(self) -> pd.DataFrame:
        if not self.positions_csv:
            return pd.DataFrame(columns=frames.POSITION_COLUMNS)
        path = Path(self.positions_csv)
        if not path.is_file():
            raise market_csv.CsvFormatError(path, None, None, "file not found")
        return market_csv.read_positions(path)

    def client(self) -> FmpClient:
        """A new client for one run."""
        return FmpClient(
            self.base_url,
            self._key(),
            calls_per_minute=self.calls_per_minute,
            max_concurrency=self.max_concurrency,
            timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
            max_backoff_seconds=self.max_backoff_seconds,
        )

    def load(self) -> MarketDataSnapshot:
        positions = self._positions()
        symbols = self._symbols(positions["symbol"])
        start = dt.date.fromisoformat(self.start_date)
        with self.client() as fmp:
            etf_list = parse(
                _ETF_LIST, fmp.get_json("etf/list", "etf/list", "all"), "etf/list", "all"
            )
            constituents = parse(
                _CONSTITUENTS,
                fmp.get_json("sp500_constituent", "sp500_constituent", "all"),
                "sp500_constituent",
                "all",
            )
            wanted = list(dict.fromkeys([*symbols, *(c.symbol for c in constituents)]))
            profiles: dict[str, Profile] = {}
            for batch in fmp.map(
                lambda chunk: parse_profiles(
                    fmp.get_json("profile", f"profile/{','.join(chunk)}", ",".join(chunk)), chunk
                ),
                _chunks(wanted, PROFILE_BATCH),
            ):
                profiles.update(batch)
            instruments = instrument_frame(profiles, symbols, {e.symbol for e in etf_list})
            histories: dict[str, list[Any]] = {}
            for batch in fmp.map(
                lambda chunk: parse_histories(
                    fmp.get_json(
                        "historical-price-full",
                        f"historical-price-full/{','.join(chunk)}",
                        ",".join(chunk),
                        {"from": start.isoformat()},
                    ),
                    chunk,
                ),
                _chunks(symbols, PRICE_BATCH),
            ):
                histories.update(batch)
            prices = pd.concat(
                [price_frame(symbol, histories[symbol], start) for symbol in symbols],
                ignore_index=True,
            )
            etfs = set(instruments.loc[instruments["asset_type"] == "etf", "symbol"])
            look_through = {self.market_index, *SECTOR_ETFS, *positions["symbol"]}
            covered_etfs = [s for s in symbols if s in etfs and s in look_through]
            holdings = fmp.map(
                lambda etf: holdings_frame(
                    etf, fmp.get_json("etf-holder", f"etf-holder/{etf}", etf)
                ),
                covered_etfs,
            )
        prices = prices.sort_values(["date", "symbol"], ignore_index=True)
        snapshot = MarketDataSnapshot(
            instruments=instruments,
            prices=prices,
            benchmark_sector_weights=benchmark_frame(
                constituents, profiles, self.benchmark, prices["date"].max().date()
            ),
            etf_holdings=pd.concat(holdings, ignore_index=True)
            if holdings
            else pd.DataFrame(columns=frames.HOLDINGS_COLUMNS),
            positions=positions.reset_index(drop=True),
            origins=Origins.payloads("FMP"),
        )
        return validate_snapshot(snapshot, payloads=True)
