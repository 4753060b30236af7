"""Interactive Brokers (``PORTFOLIO_MARKET_DATA=ib``): daily bars and contract details from an
IB Gateway / TWS through ib_async.

What one run reads, all before any asset writes (:meth:`IbMarketData.load`):

- ``reqContractDetails`` (Stock, SMART, USD) for every loaded symbol: name (``longName``),
  currency, asset type (``stockType`` ``ETF`` is an ETF, anything else a stock) and IB's
  classification ``industry`` / ``category`` / ``subcategory``, mapped to a GICS sector by
  :func:`gics_sector` (table :data:`IB_INDUSTRY_SECTORS` refined by :data:`IB_CATEGORY_SECTORS`
  and :data:`IB_SUBCATEGORY_SECTORS`); the instrument's ``industry`` is IB's ``category``;
- ``reqHistoricalData`` daily bars with regular trading hours only: ``TRADES`` for the raw
  open, high, low, close and volume (``endDateTime`` the end of the range) and
  ``ADJUSTED_LAST`` for ``adj_close`` (IB accepts no ``endDateTime`` for adjusted data, so the
  request runs up to now). ``durationStr`` covers the missing range: ``N D`` calendar days up
  to a year, whole years beyond.

Pacing. Every historical request passes a :class:`~orchestration.resources.ib_pacing.PacingGate`
(no identical request within 15 s, at most 60 in 10 minutes, at most 5 for one contract in
2 s). IB error 162 "pacing violation" holds every request back for ``backoff_seconds``, doubled
at each attempt, and retries the request up to ``max_attempts`` times; then the run fails naming
the symbol.

Cache. Bars are kept per symbol in ``cache_dir`` (``<SYMBOL>.json``: contract id, first
requested day, bars). A later run asks only from the last cached session on: that session is
requested again and must come back unchanged; when it does not (a dividend or split moved IB's
adjusted history, or IB corrected a bar) the symbol's whole history is requested again. A
different contract id (a ticker reused) or an earlier start date also requests the whole
history. The cache is written only after the whole source was validated.

All or nothing. Every answer is validated (no bars, a price that is not > 0, dates not strictly
increasing, a volume below 0, TRADES and ADJUSTED_LAST on different dates) with an error naming
the symbol, the data type and the field; a lost connection fails the run naming the symbol it
had reached. Either way nothing is written: not the app database (the run stops before its
first step) and not the cache.

Event loop: like :mod:`orchestration.resources.ib_broker`, a new loop per load, never installed
as the thread's loop, no nest_asyncio; connect inside a run, never from a sensor.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd

from analytics_lib.factors import STANDARD_PROXIES
from orchestration import market_calendar
from orchestration.clock import utc_now
from orchestration.constants import MARKET_TIMEZONE
from orchestration.defs.market_data import csv_source as market_csv
from orchestration.defs.market_data.validation import (
    INSTRUMENT_COLUMNS,
    MarketDataError,
    MarketDataSnapshot,
    Origin,
    Origins,
    SourceFormatError,
    check_instruments,
    check_values,
    shown,
    validate_snapshot,
)
from orchestration.resources import market_data as frames
from orchestration.resources.broker import BrokerDisconnected, BrokerError
from orchestration.resources.ib_broker import import_ib_library
from orchestration.resources.ib_pacing import PacingGate
from orchestration.resources.market_data import MarketDataSource

SECTOR_ETFS: tuple[str, ...] = STANDARD_PROXIES["sector"]
ADJUSTED = "ADJUSTED_LAST"
TRADES = "TRADES"
BAR_SIZE = "1 day"
USE_RTH = True
PACING_VIOLATION = 162
CONNECTIVITY_LOST = 1100
INFORMATIONAL_CODES = range(2100, 2200)
ETF_STOCK_TYPES = frozenset({"ETF"})
SESSION_SETTLED = dt.time(17, 0)
"""A session's daily bar is taken as final from 17:00 New York time on (the close is 16:00)."""
MAX_DAY_DURATION = 365
CACHE_VERSION = 1
BAR_COLUMNS = ["date", "open", "high", "low", "close", "adj_close", "volume"]

IB_INDUSTRY_SECTORS: dict[str, str | None] = {
    "Basic Materials": "Materials",
    "Communications": "Communication Services",
    "Consumer, Cyclical": "Consumer Discretionary",
    "Consumer, Non-cyclical": "Consumer Staples",
    "Diversified": "Industrials",
    "Energy": "Energy",
    "Financial": "Financials",
    "Industrial": "Industrials",
    "Technology": "Information Technology",
    "Utilities": "Utilities",
    "Funds": None,
    "Government": None,
}
"""IB's ``industry`` (its top classification level) -> the GICS sector most of it belongs to;
``None``: not an operating company, no GICS sector (unclassified)."""

IB_CATEGORY_SECTORS: dict[tuple[str, str], str] = {
    ("Consumer, Non-cyclical", "Pharmaceuticals"): "Health Care",
    ("Consumer, Non-cyclical", "Biotechnology"): "Health Care",
    ("Consumer, Non-cyclical", "Healthcare-Products"): "Health Care",
    ("Consumer, Non-cyclical", "Healthcare-Services"): "Health Care",
    ("Consumer, Non-cyclical", "Commercial Services"): "Industrials",
    ("Consumer, Cyclical", "Airlines"): "Industrials",
    ("Consumer, Cyclical", "Distribution/Wholesale"): "Industrials",
    ("Financial", "REITS"): "Real Estate",
    ("Financial", "Real Estate"): "Real Estate",
    ("Industrial", "Electronics"): "Information Technology",
    ("Industrial", "Packaging&Containers"): "Materials",
}
"""``(industry, category)`` whose GICS sector differs from the industry's."""

IB_SUBCATEGORY_SECTORS: dict[tuple[str, str, str], str] = {
    ("Communications", "Internet", "E-Commerce/Products"): "Consumer Discretionary",
    ("Communications", "Internet", "E-Commerce/Services"): "Consumer Discretionary",
    ("Communications", "Telecommunications", "Networking Products"): "Information Technology",
    ("Communications", "Telecommunications", "Telecommunication Equip"): ("Information Technology"),
    ("Technology", "Software", "Entertainment Software"): "Communication Services",
    ("Consumer, Cyclical", "Retail", "Retail-Discount"): "Consumer Staples",
    ("Consumer, Cyclical", "Retail", "Retail-Drug Store"): "Consumer Staples",
}
"""``(industry, category, subcategory)`` whose GICS sector differs from the category's."""


class UnknownIndustry(LookupError):
    """IB reported an ``industry`` that is not in :data:`IB_INDUSTRY_SECTORS`."""


def gics_sector(industry: str, category: str = "", subcategory: str = "") -> str | None:
    """The GICS sector of IB's classification: the most specific entry of the three tables
    (subcategory, then category, then industry). ``None`` for an empty industry or one without
    a GICS sector (funds, government).

    Raises
    ------
    UnknownIndustry
        When ``industry`` is neither empty nor in :data:`IB_INDUSTRY_SECTORS`.
    """
    if not industry:
        return None
    if industry not in IB_INDUSTRY_SECTORS:
        raise UnknownIndustry(industry)
    specific = IB_SUBCATEGORY_SECTORS.get((industry, category, subcategory))
    if specific is not None:
        return specific
    return IB_CATEGORY_SECTORS.get((industry, category), IB_INDUSTRY_SECTORS[industry])


def duration(first: dt.date, last: dt.date) -> str:
    """IB's ``durationStr`` for the calendar days ``first … last``: ``N D`` up to a year, else
    whole years (IB refuses day counts beyond 365)."""
    days = (last - first).days + 1
    if days < 1:
        raise ValueError(f"empty range {first} … {last}")
    if days <= MAX_DAY_DURATION:
        return f"{days} D"
    return f"{math.ceil(days / MAX_DAY_DURATION)} Y"


def trades_end(last: dt.date) -> str:
    """``endDateTime`` of a TRADES request ending with the session ``last``."""
    return f"{last:%Y%m%d} 23:59:59 US/Eastern"


def last_settled_session(now: dt.datetime) -> dt.date:
    """The latest session whose daily bar is final at ``now`` (see :data:`SESSION_SETTLED`)."""
    local = now.astimezone(ZoneInfo(MARKET_TIMEZONE))
    day = local.date()
    if market_calendar.is_session(day) and local.time() >= SESSION_SETTLED:
        return day
    return market_calendar.previous_session(day)


@dataclass(frozen=True)
class ContractInfo:
    """What an instrument row needs from IB's contract details."""

    symbol: str
    con_id: int
    name: str | None
    currency: str
    asset_type: str
    sector: str | None
    industry: str | None


def contract_info(symbol: str, details: Sequence[Any]) -> ContractInfo:
    """The validated contract of ``symbol`` from its ``reqContractDetails`` answer."""
    where = f"IB contract details ({symbol})"
    if not details:
        raise SourceFormatError(
            where, None, "symbol", "unknown symbol: IB has no US stock or ETF (SMART/USD) for it"
        )
    if len(details) > 1:
        exchanges = ", ".join(sorted({d.contract.primaryExchange for d in details}))
        raise SourceFormatError(
            where,
            None,
            "symbol",
            f"ambiguous: IB has {len(details)} contracts (primary exchanges {exchanges})",
        )
    (detail,) = details
    contract = detail.contract
    if contract is None or not isinstance(contract.conId, int) or contract.conId <= 0:
        raise SourceFormatError(where, None, "conId", "no contract id")
    etf = detail.stockType in ETF_STOCK_TYPES
    sector = None
    if not etf:
        try:
            sector = gics_sector(detail.industry, detail.category, detail.subcategory)
        except UnknownIndustry:
            raise SourceFormatError(
                where,
                None,
                "industry",
                f"not an IB industry the GICS mapping knows (got {shown(detail.industry)})",
            ) from None
    return ContractInfo(
        symbol=symbol,
        con_id=contract.conId,
        name=detail.longName or None,
        currency=contract.currency,
        asset_type="etf" if etf else "stock",
        sector=sector,
        industry=None if etf else detail.category or None,
    )


def instrument_frame(infos: Iterable[ContractInfo]) -> pd.DataFrame:
    """``instruments`` rows of the contracts, validated."""
    frame = pd.DataFrame(
        [
            {
                "symbol": info.symbol,
                "name": info.name,
                "sector": info.sector,
                "industry": info.industry,
                "market_cap": None,
                "asset_type": info.asset_type,
                "currency": info.currency,
                "category": None,
                "expense_ratio": None,
            }
            for info in infos
        ],
        columns=frames.INSTRUMENT_COLUMNS,
    )
    frame = frame.astype({"market_cap": "float64", "expense_ratio": "float64"})
    origin = Origin("IB contract details")
    check_values(origin, frame, INSTRUMENT_COLUMNS)
    check_instruments(origin, frame)
    return frame


def _price(value: object) -> float | None:
    """A finite positive number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


def _volume(where: str, number: int, value: object) -> float:
    """A bar's volume: a finite number >= 0."""
    if not isinstance(value, bool) and isinstance(value, int | float):
        volume = float(value)
        if math.isfinite(volume) and volume >= 0:
            return volume
    raise SourceFormatError(
        where, number, "volume", f"must be a number >= 0 (got {shown(value)})", unit="bar"
    )


def bar_frame(symbol: str, what_to_show: str, bars: Sequence[Any]) -> pd.DataFrame:
    """Columns ``date, open, high, low, close, volume`` of one ``reqHistoricalData`` answer,
    each bar validated: a daily date, strictly increasing; prices > 0; volume >= 0 (TRADES)."""
    where = f"IB historical data ({symbol}, {what_to_show})"
    if not bars:
        raise SourceFormatError(
            where, None, "bars", "empty: IB sent no bars (no data, or no answer in time)"
        )
    rows = []
    previous: dt.date | None = None
    for number, bar in enumerate(bars, start=1):
        day = bar.date
        if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
            raise SourceFormatError(
                where, number, "date", f"not a daily bar's date (got {shown(day)})", unit="bar"
            )
        if previous is not None and day <= previous:
            raise SourceFormatError(
                where,
                number,
                "date",
                f"dates out of order: {day.isoformat()} follows {previous.isoformat()}",
                unit="bar",
            )
        previous = day
        row: dict[str, object] = {"date": day}
        for name in ("open", "high", "low", "close"):
            value = _price(getattr(bar, name))
            if value is None:
                raise SourceFormatError(
                    where,
                    number,
                    name,
                    f"must be a number > 0 (got {shown(getattr(bar, name))})",
                    unit="bar",
                )
            row[name] = value
        row["volume"] = _volume(where, number, bar.volume) if what_to_show == TRADES else math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "volume"])


def merge_bars(symbol: str, raw: pd.DataFrame, adjusted: pd.DataFrame) -> pd.DataFrame:
    """``prices`` columns (without ``symbol``) from the TRADES and ADJUSTED_LAST bars of the
    same days; a day in only one of them is an error."""
    raw_days, adjusted_days = set(raw["date"]), set(adjusted["date"])
    if raw_days != adjusted_days:
        day = min(raw_days ^ adjusted_days)
        has, lacks = (TRADES, ADJUSTED) if day in raw_days else (ADJUSTED, TRADES)
        raise SourceFormatError(
            f"IB historical data ({symbol})",
            None,
            "date",
            f"{has} has a bar on {day.isoformat()}, {lacks} has none",
        )
    merged = raw.merge(
        adjusted[["date", "close"]].rename(columns={"close": "adj_close"}), on="date"
    )
    return merged.loc[:, BAR_COLUMNS].sort_values("date", ignore_index=True)


@dataclass(frozen=True)
class CachedBars:
    """One symbol's cached bars: the contract they belong to and the first day requested."""

    symbol: str
    con_id: int
    requested_from: dt.date
    bars: pd.DataFrame


class BarCache:
    """Bars per symbol on disk (``<folder>/<SYMBOL>.json``), written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, symbol: str) -> Path:
        return self.folder / f"{symbol}.json"

    def read(self, symbol: str) -> CachedBars | None:
        """The cached bars, or None when there are none or the file is unreadable (the symbol
        is then requested in full and the file rewritten)."""
        path = self.path(symbol)
        if not path.is_file():
            return None
        try:
            payload = json.loads(path.read_text())
            if payload["version"] != CACHE_VERSION or payload["symbol"] != symbol:
                raise ValueError("another symbol or cache version")
            bars = pd.DataFrame(payload["bars"], columns=BAR_COLUMNS)
            bars["date"] = [dt.date.fromisoformat(day) for day in bars["date"]]
            bars = bars.astype({c: "float64" for c in BAR_COLUMNS[1:]})
            return CachedBars(
                symbol, int(payload["con_id"]), dt.date.fromisoformat(payload["from"]), bars
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            dg.get_dagster_logger("ib_market_data").warning(
                f"IB bar cache {path} is unreadable ({exc}); requesting {symbol} in full"
            )
            return None

    def write(self, entry: CachedBars) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        rows = [
            [row[0].isoformat(), *(float(v) for v in row[1:])]
            for row in entry.bars[BAR_COLUMNS].itertuples(index=False)
        ]
        payload = {
            "version": CACHE_VERSION,
            "symbol": entry.symbol,
            "con_id": entry.con_id,
            "from": entry.requested_from.isoformat(),
            "bars": rows,
        }
        path = self.path(entry.symbol)
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(payload))
        temporary.replace(path)


@dataclass
class IbLoad:
    """What one load read: validated instruments and prices, the cache entries to write once
    the whole source is validated, and the number of historical requests sent."""

    instruments: pd.DataFrame
    prices: pd.DataFrame
    cache_entries: list[CachedBars] = field(default_factory=list)
    requests: int = 0


class _Lost(Exception):
    """The connection broke; the caller names the symbol it had reached."""


class IbHistoricalData:
    """One connection to IB that loads contracts and daily bars for a list of symbols.

    Parameters
    ----------
    host, port, client_id
        The gateway and the API client id of this connection (distinct from the broker's).
    cache
        Where bars are kept between runs.
    client_factory
        Builds the IB client (``ib_async.IB`` by default; tests pass a fake).
    clock, sleep
        Monotonic seconds and an awaitable sleep, for the pacing gate (fakes in tests).
    now
        The current time, which decides the last settled session and the span of adjusted
        requests.
    connect_timeout, request_timeout
        Seconds for the handshake and for one request.
    max_attempts, backoff_seconds
        Attempts of a request IB answers with a pacing violation, and the first hold after
        one (doubled after each).
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: int,
        cache: BarCache,
        client_factory: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        now: Callable[[], dt.datetime] = utc_now,
        connect_timeout: float = 10.0,
        request_timeout: float = 60.0,
        max_attempts: int = 4,
        backoff_seconds: float = 30.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.host, self.port, self.client_id = host, port, client_id
        self.cache = cache
        _, self._module = import_ib_library()
        self._client_factory = client_factory or self._module.IB
        self._gate = PacingGate(clock)
        self._sleep = sleep
        self._now = now
        self._connect_timeout = connect_timeout
        self._request_timeout = request_timeout
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._errors: list[tuple[int, int, str]] = []
        self._lost: str | None = None
        self._closing = False
        self._requests = 0

    @property
    def where(self) -> str:
        return f"IB at {self.host}:{self.port} (client id {self.client_id})"

    def load(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> IbLoad:
        """Contracts and bars of ``symbols`` for the sessions ``start … end``, validated; the
        cache is not written (see :meth:`IbLoad.cache_entries`).

        Raises
        ------
        SourceFormatError
            An answer breaks a rule; names the symbol, data type and field.
        BrokerDisconnected
            The connection broke; names the symbol reached.
        BrokerError
            No connection, a request IB refused, or pacing violations past ``max_attempts``.
        """
        sessions = market_calendar.sessions(start, end)
        if len(sessions) == 0:
            raise MarketDataError(
                f"IB market data: no NYSE session between {start.isoformat()} and {end.isoformat()}"
            )
        first, last = sessions[0].date(), sessions[-1].date()
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(self._session(list(symbols), first, last))
        finally:
            try:
                loop.run_until_complete(_cancel_leftover_tasks())
            finally:
                loop.close()

    async def _session(self, symbols: list[str], first: dt.date, last: dt.date) -> IbLoad:
        self._errors, self._lost, self._closing, self._requests = [], None, False, 0
        ib = self._client_factory()
        ib.errorEvent += self._on_error
        ib.disconnectedEvent += self._on_disconnected
        try:
            await self._connect(ib)
            return await self._load(ib, symbols, first, last)
        finally:
            self._closing = True
            ib.errorEvent -= self._on_error
            ib.disconnectedEvent -= self._on_disconnected
            if ib.isConnected():
                ib.disconnect()
            await asyncio.sleep(0)

    async def _connect(self, ib: Any) -> None:
        try:
            await asyncio.wait_for(
                ib.connectAsync(
                    self.host,
                    self.port,
                    clientId=self.client_id,
                    timeout=self._connect_timeout,
                    readonly=True,
                ),
                self._connect_timeout + self._request_timeout,
            )
        except TimeoutError as exc:
            raise BrokerError(
                f"could not connect to {self.where}: no answer within "
                f"{self._connect_timeout:g} s (is the gateway running with the API enabled, "
                f"and is client id {self.client_id} free?){self._errors_text(-1)}"
            ) from exc
        except OSError as exc:
            raise BrokerError(f"could not connect to {self.where}: {exc}") from exc

    def _on_error(self, req_id: int, code: int, message: str, *_contract: object) -> None:
        self._errors.append((req_id, code, message))
        if code == CONNECTIVITY_LOST:
            self._lost = f"IB error {code}: {message}"

    def _on_disconnected(self, *_args: object) -> None:
        if not self._closing and self._lost is None:
            self._lost = "IB closed the connection"

    def _errors_text(self, req_id: int) -> str:
        messages = [
            f"IB error {code}: {message}"
            for rid, code, message in self._errors
            if rid == req_id and code not in INFORMATIONAL_CODES
        ]
        return f" ({'; '.join(dict.fromkeys(messages))})" if messages else ""

    async def _load(self, ib: Any, symbols: list[str], first: dt.date, last: dt.date) -> IbLoad:
        today = self._now().astimezone(ZoneInfo(MARKET_TIMEZONE)).date()
        infos, prices, entries = [], [], []
        for number, symbol in enumerate(symbols, start=1):
            reached = f"{symbol} (symbol {number} of {len(symbols)})"
            try:
                info = contract_info(symbol, await self._details(ib, symbol))
                bars, entry = await self._bars(ib, info, first, last, today)
            except _Lost as lost:
                raise BrokerDisconnected(
                    f"{self.where}: the connection was lost while loading {reached}: {lost}; "
                    "the run wrote nothing (not the database, not the bar cache): rerun once "
                    "the gateway is back"
                ) from None
            infos.append(info)
            prices.append(bars.assign(symbol=symbol))
            if entry is not None:
                entries.append(entry)
        frame = pd.concat(prices, ignore_index=True)
        frame["date"] = pd.to_datetime(frame["date"])
        frame = frame.loc[:, frames.PRICE_COLUMNS].sort_values(["date", "symbol"])
        return IbLoad(
            instruments=instrument_frame(infos),
            prices=frame.reset_index(drop=True),
            cache_entries=entries,
            requests=self._requests,
        )

    def _check_connected(self, ib: Any) -> None:
        if self._lost is None and not ib.isConnected():
            self._lost = "the connection to IB is closed"
        if self._lost is not None:
            raise _Lost(self._lost)

    async def _details(self, ib: Any, symbol: str) -> list[Any]:
        self._check_connected(ib)
        contract = self._module.Stock(symbol, "SMART", "USD")
        try:
            details = await asyncio.wait_for(
                ib.reqContractDetailsAsync(contract), self._request_timeout
            )
        except ConnectionError as exc:
            raise _Lost(f"contract details: {exc}") from None
        except TimeoutError:
            self._check_connected(ib)
            raise BrokerError(
                f"IB contract details ({symbol}): no answer within {self._request_timeout:g} s"
            ) from None
        self._check_connected(ib)
        return list(details)

    async def _bars(
        self, ib: Any, info: ContractInfo, first: dt.date, last: dt.date, today: dt.date
    ) -> tuple[pd.DataFrame, CachedBars | None]:
        """The bars of ``first … last`` and the cache entry to write (None: unchanged)."""
        cached = self.cache.read(info.symbol)
        usable = (
            cached is not None
            and cached.con_id == info.con_id
            and cached.requested_from <= first
            and not cached.bars.empty
        )
        if usable:
            assert cached is not None
            known = cached.bars
            newest = known["date"].iloc[-1]
            if newest >= last:
                return _between(known, first, last), None
            fresh = await self._fetch(ib, info, newest, last, today)
            if _same_bar(known.iloc[-1], fresh, newest):
                combined = pd.concat([known.iloc[:-1], fresh], ignore_index=True)
                entry = CachedBars(info.symbol, info.con_id, cached.requested_from, combined)
                return _between(combined, first, last), entry
            dg.get_dagster_logger("ib_market_data").info(
                f"IB bars of {info.symbol} on {newest.isoformat()} changed since they were "
                "cached (dividend, split or correction): requesting the whole history"
            )
        full = await self._fetch(ib, info, first, last, today)
        return _between(full, first, last), CachedBars(info.symbol, info.con_id, first, full)

    async def _fetch(
        self, ib: Any, info: ContractInfo, first: dt.date, last: dt.date, today: dt.date
    ) -> pd.DataFrame:
        """TRADES and ADJUSTED_LAST bars from ``first`` to ``last``, merged."""
        raw = await self._historical(ib, info, TRADES, trades_end(last), duration(first, last))
        adjusted = await self._historical(ib, info, ADJUSTED, "", duration(first, max(today, last)))
        raw_frame = _between(bar_frame(info.symbol, TRADES, raw), first, last)
        adjusted_frame = _between(bar_frame(info.symbol, ADJUSTED, adjusted), first, last)
        return merge_bars(info.symbol, raw_frame, adjusted_frame)

    async def _historical(
        self, ib: Any, info: ContractInfo, what_to_show: str, end: str, span: str
    ) -> list[Any]:
        """One ``reqHistoricalData`` through the pacing gate, retried on pacing violations."""
        request = (info.con_id, what_to_show, end, span, BAR_SIZE, USE_RTH)
        where = f"IB historical data ({info.symbol}, {what_to_show}, {span})"
        for attempt in range(1, self._max_attempts + 1):
            wait = self._gate.delay(request, info.con_id)
            while wait > 0:
                await self._sleep(wait)
                wait = self._gate.delay(request, info.con_id)
            self._check_connected(ib)
            self._gate.record(request, info.con_id)
            self._requests += 1
            contract = self._module.Contract(conId=info.con_id, exchange="SMART")
            try:
                bars = await asyncio.wait_for(
                    ib.reqHistoricalDataAsync(
                        contract,
                        endDateTime=end,
                        durationStr=span,
                        barSizeSetting=BAR_SIZE,
                        whatToShow=what_to_show,
                        useRTH=USE_RTH,
                        formatDate=1,
                        timeout=self._request_timeout,
                    ),
                    self._request_timeout + 5.0,
                )
            except ConnectionError as exc:
                raise _Lost(f"{what_to_show} bars: {exc}") from None
            except TimeoutError:
                self._check_connected(ib)
                raise BrokerError(
                    f"{where}: no answer within {self._request_timeout:g} s"
                ) from None
            self._check_connected(ib)
            errors = [
                (code, message)
                for req_id, code, message in self._errors
                if req_id == bars.reqId and code not in INFORMATIONAL_CODES
            ]
            pacing = [
                e for e in errors if e[0] == PACING_VIOLATION and "pacing violation" in e[1].lower()
            ]
            if pacing:
                if attempt == self._max_attempts:
                    raise BrokerError(
                        f"{where}: IB reported a pacing violation (error 162) on all "
                        f"{self._max_attempts} attempts; wait ten minutes and rerun"
                    )
                hold = self._backoff * 2 ** (attempt - 1)
                dg.get_dagster_logger("ib_market_data").warning(
                    f"{where}: pacing violation (error 162); attempt {attempt + 1} of "
                    f"{self._max_attempts} in {hold:g} s"
                )
                self._gate.hold(hold)
                continue
            if errors:
                text = "; ".join(f"IB error {code}: {message}" for code, message in errors)
                raise BrokerError(f"{where}: {text}")
            return list(bars)
        raise AssertionError("unreachable: the last attempt returns or raises")


def _between(bars: pd.DataFrame, first: dt.date, last: dt.date) -> pd.DataFrame:
    return bars.loc[(bars["date"] >= first) & (bars["date"] <= last)].reset_index(drop=True)


def _same_bar(cached: pd.Series, fresh: pd.DataFrame, day: dt.date) -> bool:
    """Whether ``fresh`` has the bar of ``day`` with the cached raw and adjusted close."""
    match = fresh.loc[fresh["date"] == day]
    if match.empty:
        return False
    row = match.iloc[0]
    return all(
        math.isclose(float(row[name]), float(cached[name]), rel_tol=1e-9)
        for name in ("close", "adj_close")
    )


async def _cancel_leftover_tasks() -> None:
    """Cancel what ib_async left running on the loop."""
    current = asyncio.current_task()
    leftovers = [task for task in asyncio.all_tasks() if task is not current]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


class IbMarketData(MarketDataSource):
    """Interactive Brokers historical bars and contract details (see the module notes).

    ``symbols`` are the instruments to load besides ``market_index`` and the 11 sector ETFs
    (always loaded) and the symbols of ``positions_csv`` (a ``positions.csv``; empty: no
    positions, e.g. with ``PORTFOLIO_POSITIONS_SOURCE=broker``). IB has no index constituents,
    market caps or ETF holdings: benchmark sector weights and ETF holdings are empty, so sector
    exposure has no benchmark column and ETFs are their own bucket. ``end_date`` fixes the last
    session; empty means the last session whose bar is final.
    """

    host: str = "127.0.0.1"
    port: int = 4002
    client_id: int = 13
    symbols: list[str]
    market_index: str = "SPY"
    start_date: str
    end_date: str = ""
    positions_csv: str = ""
    cache_dir: str
    connect_timeout: float = 10.0
    request_timeout: float = 60.0
    max_attempts: int = 4
    backoff_seconds: float = 30.0

    @property
    def label(self) -> str:
        return f"Interactive Brokers historical data ({self.host}:{self.port})"

    @property
    def simulated(self) -> bool:
        return False

    def data_end(self) -> dt.date:
        """``end_date``, else the last session whose bar is final (17:00 New York time)."""
        if self.end_date:
            return dt.date.fromisoformat(self.end_date)
        return last_settled_session(utc_now())

    def client_factory(self) -> Callable[[], Any] | None:
        """The IB client factory; None means ``ib_async.IB``."""
        return None

    def connection(self) -> IbHistoricalData:
        """A loader for one run."""
        return IbHistoricalData(
            host=self.host,
            port=self.port,
            client_id=self.client_id,
            cache=BarCache(Path(self.cache_dir)),
            client_factory=self.client_factory(),
            connect_timeout=self.connect_timeout,
            request_timeout=self.request_timeout,
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
        )

    def _positions(self) -> pd.DataFrame:
        if not self.positions_csv:
            return pd.DataFrame(columns=frames.POSITION_COLUMNS)
        path = Path(self.positions_csv)
        if not path.is_file():
            raise market_csv.CsvFormatError(path, None, None, "file not found")
        return market_csv.read_positions(path)

    def load(self) -> MarketDataSnapshot:
        positions = self._positions()
        symbols = list(
            dict.fromkeys([*self.symbols, self.market_index, *SECTOR_ETFS, *positions["symbol"]])
        )
        loader = self.connection()
        result = loader.load(symbols, dt.date.fromisoformat(self.start_date), self.data_end())
        snapshot = validate_snapshot(
            MarketDataSnapshot(
                instruments=result.instruments,
                prices=result.prices,
                benchmark_sector_weights=pd.DataFrame(columns=frames.BENCHMARK_COLUMNS),
                etf_holdings=pd.DataFrame(columns=frames.HOLDINGS_COLUMNS),
                positions=positions.reset_index(drop=True),
                origins=Origins.payloads("IB"),
            ),
            payloads=True,
        )
        for entry in result.cache_entries:
            loader.cache.write(entry)
        dg.get_dagster_logger("ib_market_data").info(
            f"IB market data: {len(symbols)} symbols, {result.requests} historical request(s), "
            f"{len(result.cache_entries)} symbol(s) updated in the bar cache"
        )
        return snapshot
