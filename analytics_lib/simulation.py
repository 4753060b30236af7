"""The demo market: a deterministic, simulated US equity market with a planted truth.

Everything produced here is **simulated**: the tickers (``TEC001``, ``UTL004``, ``E0042``,
...), names ("Simulated Tech Co 1", "Simulated US Large Cap ETF 12"), prices, market caps,
expense ratios, benchmark weights and the demo portfolio are made up. Only the eleven SPDR
sector-ETF tickers and ``SPY`` are real tickers, and their series are built from the simulated
stocks.

Currently implemented
---------------------
``trading_calendar``
    Weekdays in a range split into NYSE sessions and the weekdays the NYSE is closed.
``simulate_market``
    Stocks in the 11 GICS sectors with planted market betas, sector factors and GARCH-type
    volatility clustering; SPY as the market; the 11 sector ETFs built from their members; ETF
    holdings; S&P-style benchmark sector weights; a demo portfolio; an ETF universe for the
    strategy (a few hundred categorised funds on the same factors, including leveraged and
    inverse ones, some built to fail each rule of the universe filter); and the planted truth
    (:class:`PlantedTruth`) so tests can check that analytics recover it.

The module is pure: no I/O, no environment, deterministic for a seed, vectorised over symbols
(the only Python loop over time runs over trading days; the ETF universe is vectorised over
days and funds).
"""

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from analytics_lib._typing import GICS_SECTORS, TRADING_DAYS_PER_YEAR, FloatArray, PriceFrame
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.validation import require_date, require_positive_int

__all__ = [
    "ACCOUNT",
    "BENCHMARK",
    "BENCHMARK_REBALANCE_DAYS",
    "ETF_CATEGORIES",
    "ETF_DELISTING_DAYS",
    "ETF_LATE_LISTING_DAYS",
    "ETF_TRACKING_ERROR",
    "FIRST_CALENDAR_YEAR",
    "LATE_LISTING_DAY",
    "MARKET_SYMBOL",
    "MAX_ETFS",
    "MAX_SYMBOLS",
    "MIN_SYMBOLS",
    "MIN_TRADING_DAYS",
    "SECTOR_ETFS",
    "SPLIT_DAY",
    "DemoMarket",
    "PlantedTruth",
    "simulate_market",
    "trading_calendar",
]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MARKET_SYMBOL: Final = "SPY"
"""The market ETF; its daily return *is* the simulated market factor."""
BENCHMARK: Final = "SP500"
"""Name of the simulated benchmark in ``benchmark_sector_weights``."""
ACCOUNT: Final = "DEMO"
"""Account name of the demo portfolio."""
MIN_STOCKS_PER_SECTOR: Final = 3
MIN_SYMBOLS: Final = MIN_STOCKS_PER_SECTOR * len(GICS_SECTORS)
"""Smallest ``n_symbols``: three stocks in each of the 11 GICS sectors."""
MAX_SYMBOLS: Final = 20_000
"""Largest ``n_symbols`` (keeps tickers within 8 characters and memory bounded)."""
MIN_TRADING_DAYS: Final = 22
"""Smallest number of trading days in ``[start, end]`` (two benchmark as-of dates)."""
LATE_LISTING_DAY: Final = 504
"""Trading-day offset from the first trading day at which the late-listed stock starts trading."""
SPLIT_DAY: Final = 630
"""Trading-day offset from the first trading day of the 2:1 stock split (effective that day)."""
SPLIT_RATIO: Final = 2.0
BENCHMARK_REBALANCE_DAYS: Final = 21
"""Benchmark sector weights are published every this many trading days from the first day."""
EVENT_HORIZON: Final = 1260
"""Symbol-level missing days are planted within this many trading days of the first day."""
RETURN_GUARD: Final = 0.45
"""Stock returns are clipped to +/- this value (a guard; it does not bind in practice)."""
SHOCK_CLIP: Final = 4.0
"""Standard-normal shocks are clipped to +/- this many standard deviations."""
MAX_ETFS: Final = 5_000
"""Largest ``n_etfs`` (the strategy ETF universe, tickers ``E0001`` to ``E5000``)."""
ETF_LATE_LISTING_DAYS: Final = (252, 1197)
"""Inclusive trading-day offsets over which the late-listed universe ETFs list, evenly spaced."""
ETF_DELISTING_DAYS: Final = (1170, 1240)
"""Inclusive trading-day offsets of the delisted universe ETFs' last rows, evenly spaced."""
ETF_RETURN_GUARD: Final = 0.9
"""Universe-ETF returns are clipped to +/- this value (a guard; it does not bind in practice)."""

_MARKET_PRICE0: Final = 400.0
_MARKET_VOL: Final = 0.17
_MARKET_MEAN: Final = 0.08 / TRADING_DAYS_PER_YEAR
_MARKET_GARCH: Final = (0.08, 0.87)  # (alpha, beta): persistence 0.95, half-life ~13.5 days
_MARKET_SPIKE: Final = (1.0 / 250.0, 4.0)  # (daily probability, variance multiplier)
_SECTOR_GARCH: Final = (0.06, 0.89)  # persistence 0.95, half-life ~13.5 days
_IDIO_SPIKE: Final = (1.0 / 500.0, 4.0)
_VARIANCE_CAP: Final = 16.0  # conditional variance <= 16 x long-run variance (vol <= 4x)
_SPLIT_PRICE0: Final = 250.0


@dataclass(frozen=True)
class _SectorSpec:
    sector: str
    code: str
    etf: str
    label: str
    benchmark_weight: float
    count_weight: float
    mean_beta: float
    factor_vol: float
    etf_price0: float
    industries: tuple[str, ...]


_SECTOR_SPECS: Final = (
    _SectorSpec(
        "Information Technology", "TEC", "XLK", "Tech", 0.300, 68, 1.35, 0.12, 150.0,
        ("Software", "Semiconductors & Semiconductor Equipment", "IT Services",
         "Communications Equipment"),
    ),
    _SectorSpec(
        "Health Care", "HLT", "XLV", "Health", 0.120, 62, 0.80, 0.10, 130.0,
        ("Pharmaceuticals", "Biotechnology", "Health Care Equipment & Supplies",
         "Health Care Providers & Services"),
    ),
    _SectorSpec(
        "Financials", "FIN", "XLF", "Financial", 0.130, 72, 1.10, 0.11, 35.0,
        ("Banks", "Capital Markets", "Insurance", "Financial Services"),
    ),
    _SectorSpec(
        "Consumer Discretionary", "CND", "XLY", "Consumer", 0.105, 51, 1.30, 0.10, 160.0,
        ("Broadline Retail", "Automobiles", "Hotels, Restaurants & Leisure", "Specialty Retail"),
    ),
    _SectorSpec(
        "Communication Services", "COM", "XLC", "Media", 0.090, 22, 1.10, 0.11, 70.0,
        ("Interactive Media & Services", "Entertainment",
         "Diversified Telecommunication Services", "Media"),
    ),
    _SectorSpec(
        "Industrials", "IND", "XLI", "Industrial", 0.085, 78, 1.05, 0.08, 100.0,
        ("Aerospace & Defense", "Machinery", "Ground Transportation", "Electrical Equipment"),
    ),
    _SectorSpec(
        "Consumer Staples", "STP", "XLP", "Staples", 0.060, 38, 0.60, 0.07, 75.0,
        ("Beverages", "Household Products", "Food Products",
         "Consumer Staples Distribution & Retail"),
    ),
    _SectorSpec(
        "Energy", "ENE", "XLE", "Energy", 0.036, 22, 1.00, 0.18, 85.0,
        ("Oil, Gas & Consumable Fuels", "Energy Equipment & Services"),
    ),
    _SectorSpec(
        "Utilities", "UTL", "XLU", "Utility", 0.026, 31, 0.50, 0.09, 65.0,
        ("Electric Utilities", "Multi-Utilities", "Gas Utilities"),
    ),
    _SectorSpec(
        "Real Estate", "REA", "XLRE", "Realty", 0.023, 31, 0.85, 0.10, 40.0,
        ("Specialized REITs", "Residential REITs", "Retail REITs",
         "Real Estate Management & Development"),
    ),
    _SectorSpec(
        "Materials", "MAT", "XLB", "Materials", 0.025, 28, 1.05, 0.10, 85.0,
        ("Chemicals", "Metals & Mining", "Construction Materials", "Containers & Packaging"),
    ),
)  # fmt: skip

SECTOR_ETFS: Final[Mapping[str, str]] = MappingProxyType(
    {spec.sector: spec.etf for spec in _SECTOR_SPECS}
)
"""GICS sector name -> SPDR sector ETF ticker (XLK, XLV, ...)."""
_SECTOR_INDEX: Final = {spec.sector: i for i, spec in enumerate(_SECTOR_SPECS)}


@dataclass(frozen=True)
class _EtfKind:
    """One kind of fund in a universe-ETF category (cycled by the fund's number)."""

    name: str  # "{k}" is the fund's number within its category
    beta: tuple[float, float]  # uniform range of the market loading
    idio_vol: tuple[float, float]  # uniform range of the annualised idiosyncratic vol
    factor: int = -1  # sector index of the sector factor it loads on, -1 for none
    loading: tuple[float, float] = (0.0, 0.0)  # uniform range of that loading
    low_vol: bool = False  # long-run vol <= 7%: a candidate for the low-price construction


@dataclass(frozen=True)
class _EtfCategory:
    category: str
    weight: float  # percent of the universe
    expense: tuple[float, float]  # uniform range of the expense ratio (fraction per year)
    alpha_vol: float  # annualised standard deviation of the planted drift
    kinds: tuple[_EtfKind, ...]


_LEVERAGED: Final = "Leveraged"
_INVERSE: Final = "Inverse"
_LEVERAGED_EXPENSE: Final = (0.0085, 0.0095)
_ETF_CATEGORY_SPECS: Final = (
    _EtfCategory("US Large Cap", 14, (0.0003, 0.0020), 0.03, (
        _EtfKind("Simulated US Large Cap ETF {k}", (0.95, 1.05), (0.01, 0.04)),)),
    _EtfCategory("US Mid Cap", 6, (0.0004, 0.0030), 0.04, (
        _EtfKind("Simulated US Mid Cap ETF {k}", (1.0, 1.2), (0.05, 0.09)),)),
    _EtfCategory("US Small Cap", 6, (0.0005, 0.0040), 0.04, (
        _EtfKind("Simulated US Small Cap ETF {k}", (1.1, 1.3), (0.08, 0.13)),)),
    _EtfCategory("International Developed", 9, (0.0005, 0.0060), 0.04, (
        _EtfKind("Simulated International Developed Markets ETF {k}", (0.7, 0.9), (0.08, 0.12)),)),
    _EtfCategory("Emerging Markets", 7, (0.0008, 0.0075), 0.05, (
        _EtfKind("Simulated Emerging Markets ETF {k}", (0.8, 1.0), (0.12, 0.18)),)),
    *(
        _EtfCategory(f"Sector {spec.sector}", 2, (0.0008, 0.0045), 0.04, (
            _EtfKind(f"Simulated {spec.sector} Sector ETF {{k}}",
                     (0.9 * spec.mean_beta, 1.1 * spec.mean_beta), (0.03, 0.07), i, (0.8, 1.1)),))
        for i, spec in enumerate(_SECTOR_SPECS)
    ),
    _EtfCategory("Bonds Treasury", 8, (0.0003, 0.0020), 0.01, (
        _EtfKind("Simulated Short-Term Treasury ETF {k}", (-0.01, 0.01), (0.01, 0.02),
                 low_vol=True),
        _EtfKind("Simulated Intermediate Treasury ETF {k}", (-0.08, -0.02), (0.04, 0.06),
                 low_vol=True),
        _EtfKind("Simulated Long-Term Treasury ETF {k}", (-0.25, -0.10), (0.10, 0.14)),)),
    _EtfCategory("Bonds Corporate", 8, (0.0004, 0.0045), 0.01, (
        _EtfKind("Simulated Investment Grade Corporate Bond ETF {k}", (0.05, 0.15), (0.04, 0.06),
                 low_vol=True),
        _EtfKind("Simulated High Yield Corporate Bond ETF {k}", (0.30, 0.40), (0.05, 0.07)),)),
    _EtfCategory("Commodities", 5, (0.0025, 0.0085), 0.04, (
        _EtfKind("Simulated Gold Trust ETF {k}", (-0.05, 0.15), (0.13, 0.17)),
        _EtfKind("Simulated Broad Commodities ETF {k}", (0.2, 0.3), (0.12, 0.16),
                 _SECTOR_INDEX["Materials"], (0.3, 0.5)),
        _EtfKind("Simulated Crude Oil ETF {k}", (0.3, 0.5), (0.22, 0.28),
                 _SECTOR_INDEX["Energy"], (0.5, 0.7)),)),
    _EtfCategory("Real Estate", 4, (0.0007, 0.0048), 0.03, (
        _EtfKind("Simulated US REIT ETF {k}", (0.75, 0.95), (0.03, 0.06),
                 _SECTOR_INDEX["Real Estate"], (0.8, 1.1)),)),
    _EtfCategory(_LEVERAGED, 7, _LEVERAGED_EXPENSE, 0.0, ()),
    _EtfCategory(_INVERSE, 4, _LEVERAGED_EXPENSE, 0.0, ()),
)  # fmt: skip

ETF_CATEGORIES: Final[tuple[str, ...]] = tuple(spec.category for spec in _ETF_CATEGORY_SPECS)
"""Categories of the universe ETFs (``DemoMarket.instruments.category``), in spec order."""

# Constructions that make a universe ETF fail one rule of the strategy's universe filter, as
# (name, share of n_etfs); assigned in this order to disjoint plain (not leveraged/inverse) ETFs.
_ETF_CONSTRUCTIONS: Final = (
    ("low_price", 0.03),
    ("late_listing", 0.15),
    ("delisted", 0.02),
    ("sparse", 0.03),
    ("illiquid", 0.10),
    ("gaps", 0.03),
)
_CONSTRUCTION_REASON: Final = MappingProxyType(
    {
        "leveraged_inverse": "leveraged_inverse",
        "late_listing": "insufficient_history",
        "sparse": "too_many_missing",
        "delisted": "stale_price",
        "low_price": "below_min_price",
        "illiquid": "below_min_dollar_volume",
    }
)
_ETF_GAP_DAYS: Final = 5  # isolated missing days of each "gaps" ETF (within EVENT_HORIZON)
_ETF_SPARSE_MISSING: Final = 0.25  # daily probability that a "sparse" ETF has no row
_ETF_PRICE0: Final = (40.0, 300.0)  # log-uniform starting price of the universe ETFs
_ETF_LOW_PRICE0: Final = (1.5, 2.5)  # uniform starting price of the low-price ETFs
_ETF_LOW_DRIFT: Final = 0.02 / TRADING_DAYS_PER_YEAR  # extra daily decay of the low-price ETFs
_ETF_DOLLAR_VOLUME: Final = (3e7, 1.5, 3e6, 2e10)  # lognormal median, log-sd, clip low, high
_ETF_ILLIQUID_DOLLAR_VOLUME: Final = (5e4, 4e5)  # log-uniform range of the illiquid ETFs
_ETF_LEVERAGED_VOLUME: Final = 3.0  # leveraged/inverse funds trade this many times more
ETF_TRACKING_ERROR: Final = 0.01
"""Annual tracking error of leveraged and inverse funds against k times their underlying: real
funds do not track exactly, and an exact linear copy of SPY would make their betas degenerate
regressions (R² = 1, standard error at rounding noise)."""
_ETF_UNDERLYING_SPY: Final = 0.4  # P(underlying is SPY); else one of the 11 sector ETFs
_SECTOR_ETF_EXPENSE: Final = 0.0009  # SPY and the SPDR sector ETFs

# Positions of the demo portfolio: (sector index, stock number within sector) and ETFs.
_POSITION_STOCKS: Final = (
    *((s, 0) for s in range(len(_SECTOR_SPECS))),
    (0, 1), (1, 1), (2, 1), (3, 1), (5, 1),
)  # fmt: skip
_POSITION_ETFS: Final = (MARKET_SYMBOL, "XLK", "XLV", "XLE")
_HIGH_BETA_ANCHOR: Final = (0, 0, 2.5)  # (sector index, stock number, beta): TEC first stock
_LOW_BETA_ANCHOR: Final = (8, 0, 0.2)  # UTL first stock
_LATE_SECTOR: Final = 0  # the last Information Technology stock lists late
_SPLIT_SECTOR: Final = 1  # the last Health Care stock splits 2:1


@dataclass(frozen=True, eq=False)
class PlantedTruth:
    """The parameters and events the demo market was built from.

    Attributes
    ----------
    betas : pd.Series
        Planted market beta, indexed by symbol: every stock, ``SPY`` (exactly 1.0), each
        sector ETF (the holdings-weighted beta of its members, using the holdings in force on
        the last day of the range) and each universe ETF (``etf_params.beta``).
    sectors : pd.Series
        GICS sector name of every stock, indexed by symbol.
    holidays : tuple of datetime.date
        Weekdays in ``[start, end]`` with no trading at all (no row for any symbol).
    missing : pd.DataFrame
        Columns ``symbol, date``: symbol-level missing days inside the range (the symbol has
        no row that day although the market traded).
    listings : pd.Series
        Symbol -> first trading date (datetime64) of every late-listed stock. The date is fixed
        at ``LATE_LISTING_DAY`` trading days after the first trading day, so it can lie after
        ``end`` for short ranges; the stock then has no rows at all.
    splits : pd.DataFrame
        Columns ``symbol, date, ratio``: planted splits, effective at the open of ``date``
        (fixed at ``SPLIT_DAY`` trading days after the first trading day, possibly after
        ``end``). See :func:`simulate_market` for the ``adj_close`` rule.
    stock_params : pd.DataFrame
        Indexed by stock symbol, columns ``sector, alpha, beta, sector_loading, idio_vol,
        garch_alpha, garch_beta, half_life, long_run_vol, market_cap``: the model of each stock
        (``alpha`` daily; ``idio_vol`` and ``long_run_vol`` annualised; ``half_life`` of the
        idiosyncratic variance in trading days).
    factor_params : pd.DataFrame
        Indexed by factor (``"market"`` and the 11 sector names), columns ``mean`` (daily),
        ``vol`` (annualised long-run), ``garch_alpha, garch_beta, half_life, spike_prob,
        spike_multiplier``.
    market_variance : pd.Series
        Conditional daily variance of the market factor (SPY's return) on each trading day.
    etf_params : pd.DataFrame
        Indexed by universe-ETF symbol (``E0001`` ...; empty for ``n_etfs=0``), columns
        ``category, leverage, underlying, alpha, beta, factor, factor_loading, idio_vol,
        expense_ratio, dollar_volume, price0, first_date, last_date, construction``: the model
        of each universe ETF (see :func:`simulate_market`). ``leverage`` is 1.0 for plain funds
        and the multiple (2, 3, -1, -2) of leveraged/inverse ones, whose ``underlying`` is
        ``SPY`` or a sector ETF (``''`` for plain funds); ``beta`` is the planted market beta
        (for a fund on a sector ETF, ``leverage`` times that ETF's planted beta, so it follows
        the holdings in force on the last day of the range); ``alpha`` daily, ``idio_vol``
        annualised; ``factor`` the GICS sector whose factor the fund loads on (``''`` for
        none); ``expense_ratio`` the true one (always set; ``instruments.expense_ratio`` is
        NaN where it is not reported); ``first_date``/``last_date`` (datetime64) the first and
        last trading dates by construction (``first_date`` is the first trading day unless
        late-listed, possibly after ``end``; ``last_date`` NaT unless delisted);
        ``construction`` one of ``''``, ``leveraged``, ``inverse``, ``low_price``,
        ``late_listing``, ``delisted``, ``sparse``, ``illiquid``, ``gaps``.
    etf_filter_failures : Mapping[str, tuple[str, ...]]
        Universe-filter reason -> sorted universe-ETF symbols constructed to fail that rule
        (thresholds in :func:`simulate_market`): ``leveraged_inverse``,
        ``insufficient_history`` (the late-listed ETFs: they fail while fewer than 252 trading
        days have passed since ``first_date``), ``too_many_missing``, ``stale_price``,
        ``below_min_price``, ``below_min_dollar_volume``. The sets are disjoint.
    etf_missing : pd.DataFrame
        Columns ``symbol, date``: days inside the range on which a listed, not yet delisted
        universe ETF has no row (the ``sparse`` and ``gaps`` constructions), sorted.
    """

    betas: pd.Series
    sectors: pd.Series
    holidays: tuple[dt.date, ...]
    missing: pd.DataFrame
    listings: pd.Series
    splits: pd.DataFrame
    stock_params: pd.DataFrame
    factor_params: pd.DataFrame
    market_variance: pd.Series
    etf_params: pd.DataFrame
    etf_filter_failures: Mapping[str, tuple[str, ...]]
    etf_missing: pd.DataFrame


@dataclass(frozen=True, eq=False)
class DemoMarket:
    """A simulated market in the CSV-directory shapes of DESIGN.md section 4.

    Attributes
    ----------
    prices : pd.DataFrame
        Long frame ``date, symbol, open, high, low, close, adj_close, volume``: ``date``
        datetime64[ns] (tz-naive), ``symbol`` str, prices float64, ``volume`` int64; sorted by
        ``symbol, date`` with unique ``(date, symbol)``.
    instruments : pd.DataFrame
        ``symbol, name, sector, industry, market_cap, asset_type, currency, category,
        expense_ratio``, sorted by symbol; stocks have a GICS sector and a market cap, ETFs
        have neither (NaN), as in the real-data fixtures. ``category`` (str) is the GICS sector
        for stocks, ``US Large Cap`` for SPY, ``Sector <GICS sector>`` for the 11 sector ETFs
        and one of :data:`ETF_CATEGORIES` for the universe ETFs; ``expense_ratio`` (float64,
        fraction per year) is NaN for stocks and where a universe ETF does not report one,
        0.0009 for SPY and the sector ETFs.
    benchmark_sector_weights : pd.DataFrame
        ``benchmark, asof_date, sector, weight``; weights sum to 1 per ``asof_date`` and are in
        force from ``asof_date`` until the next publication.
    etf_holdings : pd.DataFrame
        ``etf, asof_date, symbol, weight`` for the 11 sector ETFs (SPY, the market factor
        itself, and the universe ETFs have none); weights sum to 1 per ``(etf, asof_date)`` and
        are in force from ``asof_date`` until the next one.
    positions : pd.DataFrame
        ``account, symbol, quantity, cost_basis, currency``: the demo portfolio.
    truth : PlantedTruth
        The planted parameters and events.
    """

    prices: PriceFrame
    instruments: pd.DataFrame
    benchmark_sector_weights: pd.DataFrame
    etf_holdings: pd.DataFrame
    positions: pd.DataFrame
    truth: PlantedTruth


# --------------------------------------------------------------------------------------------
# Calendar


def _easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


FIRST_CALENDAR_YEAR: Final = 1990
"""First year of the NYSE rule of :func:`trading_calendar` (the oldest real-data fixtures start
in 1990); ``start`` before 1 January of it is an error."""
_MLK_FIRST_YEAR: Final = 1998
_JUNETEENTH_FIRST_YEAR: Final = 2022
_UNSCHEDULED_CLOSURES: Final = frozenset(
    dt.date.fromisoformat(day)
    for day in (
        "1994-04-27",  # Richard Nixon's funeral
        "2001-09-11", "2001-09-12", "2001-09-13", "2001-09-14",  # the September 11 attacks
        "2004-06-11",  # Ronald Reagan's funeral
        "2007-01-02",  # Gerald Ford's funeral
        "2012-10-29", "2012-10-30",  # Hurricane Sandy
        "2018-12-05",  # George H. W. Bush's funeral
        "2025-01-09",  # National Day of Mourning for Jimmy Carter
    )
)  # fmt: skip


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The ``n``-th ``weekday`` (Monday 0) of a month; ``n = -1`` for the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: dt.date) -> dt.date:
    """A fixed-date holiday on Saturday is observed on Friday, on Sunday on Monday."""
    return day + dt.timedelta(days={5: -1, 6: 1}.get(day.weekday(), 0))


def _holidays_in_year(year: int) -> set[dt.date]:
    """The NYSE's weekday closures of ``year`` (from 1990 on)."""
    new_year = dt.date(year, 1, 1)
    days = {
        # New Year's Day moves to Monday from a Sunday; from a Saturday it is not observed.
        new_year + dt.timedelta(days=1) if new_year.weekday() == 6 else new_year,
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday (Presidents' Day)
        _easter(year) - dt.timedelta(days=2),  # Good Friday
        _nth_weekday(year, 5, 0, -1),  # Memorial Day
        _observed(dt.date(year, 7, 4)),  # Independence Day
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
        _observed(dt.date(year, 12, 25)),  # Christmas
    }
    if year >= _MLK_FIRST_YEAR:
        days.add(_nth_weekday(year, 1, 0, 3))  # Martin Luther King Jr. Day
    if year >= _JUNETEENTH_FIRST_YEAR:
        days.add(_observed(dt.date(year, 6, 19)))  # Juneteenth
    days |= {day for day in _UNSCHEDULED_CLOSURES if day.year == year}
    return {day for day in days if day.weekday() < 5}


def _calendar(start: dt.date, end: dt.date) -> tuple[pd.DatetimeIndex, tuple[dt.date, ...]]:
    weekdays = pd.bdate_range(start, end, name="date").as_unit("ns")
    holidays = tuple(
        sorted(
            day
            for year in range(start.year, end.year + 1)
            for day in _holidays_in_year(year)
            if start <= day <= end
        )
    )
    holiday_index = pd.DatetimeIndex(list(holidays)).as_unit("ns")
    trading = weekdays[~weekdays.isin(holiday_index)]
    return trading, holidays


def trading_calendar(start: dt.date, end: dt.date) -> tuple[pd.DatetimeIndex, tuple[dt.date, ...]]:
    """Split the weekdays in ``[start, end]`` into NYSE sessions and NYSE holidays.

    Parameters
    ----------
    start, end : datetime.date
        Inclusive range; ``end >= start`` and ``start`` on or after 1 January
        ``FIRST_CALENDAR_YEAR`` (1990).

    Returns
    -------
    trading_days : pd.DatetimeIndex
        Sorted NYSE sessions, datetime64[ns], named ``date``.
    holidays : tuple of datetime.date
        Sorted weekdays in the range the NYSE is closed.

    Raises
    ------
    AnalyticsError
        If ``start`` or ``end`` is not a ``datetime.date``, ``end < start`` or ``start`` is
        before 1990.

    Notes
    -----
    The NYSE's rule (exchange_calendars' ``XNYS`` sessions, which the tests compare it with):
    New Year's Day (a Sunday's on Monday; a Saturday's is not observed), Martin Luther King
    Jr. Day (third Monday of January, from 1998), Washington's Birthday (third Monday of
    February), Good Friday, Memorial Day (last Monday of May), Juneteenth (19 June, from 2022),
    Independence Day, Labor Day (first Monday of September), Thanksgiving (fourth Thursday of
    November) and Christmas; a fixed-date holiday on a Saturday is observed on the Friday
    before, on a Sunday on the Monday after. Plus the unscheduled closures since 1990: 27 April
    1994, 11-14 September 2001, 11 June 2004, 2 January 2007, 29-30 October 2012, 5 December
    2018 and 9 January 2025. Half days are sessions.

    Examples
    --------
    >>> import datetime as dt
    >>> days, holidays = trading_calendar(dt.date(2024, 3, 25), dt.date(2024, 4, 1))
    >>> holidays
    (datetime.date(2024, 3, 29),)
    >>> len(days)
    5
    """
    start = require_date(start, "start")
    end = require_date(end, "end")
    if end < start:
        raise AnalyticsError(
            f"end must be on or after start, got start={start.isoformat()} end={end.isoformat()}"
        )
    if start.year < FIRST_CALENDAR_YEAR:
        raise AnalyticsError(
            f"start must be on or after {FIRST_CALENDAR_YEAR}-01-01 (the first year of the "
            f"simulated NYSE calendar), got {start.isoformat()}"
        )
    return _calendar(start, end)


# --------------------------------------------------------------------------------------------
# Universe (everything that does not depend on the date range)


@dataclass(frozen=True)
class _Universe:
    """Static description of the simulated universe, in *universe order*.

    Universe order: stocks sector by sector (GICS order, then number), then SPY, then the
    sector ETFs in GICS order. ``M = N + 12`` columns.
    """

    symbols: npt.NDArray[np.object_]  # (M,)
    names: list[str]
    n_stocks: int
    sector: IntArray  # (N,) sector index of each stock
    industry: list[str]  # (N,)
    alpha: FloatArray
    beta: FloatArray
    loading: FloatArray
    idio_vol: FloatArray  # annualised
    idio_garch_alpha: FloatArray
    idio_garch_beta: FloatArray
    market_cap: FloatArray  # (N,)
    price0: FloatArray  # (M,) adjusted price before the first day
    dollar_volume: FloatArray  # (M,)
    listing_day: IntArray  # (N,)
    late_stock: int
    split_stock: int
    missing_stock: IntArray  # (K,)
    missing_day: IntArray  # (K,)
    position_columns: IntArray  # universe indices of the demo positions
    position_values: FloatArray  # target dollar value of each position


def _sector_counts(n_symbols: int) -> IntArray:
    """Three stocks per sector plus the remainder shared by largest remainders."""
    weights = np.array([spec.count_weight for spec in _SECTOR_SPECS], dtype=np.float64)
    extra = n_symbols - MIN_SYMBOLS
    share = extra * weights / weights.sum()
    counts: IntArray = np.floor(share).astype(np.int64)
    leftover = extra - int(counts.sum())
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[:leftover]] += 1
    counts += MIN_STOCKS_PER_SECTOR
    return counts


def _build_universe(n_symbols: int, seed: int) -> _Universe:
    rng = np.random.default_rng([seed, 0, n_symbols])
    n_sectors = len(_SECTOR_SPECS)
    counts = _sector_counts(n_symbols)
    sector = np.repeat(np.arange(n_sectors, dtype=np.int64), counts)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    number = np.arange(n_symbols, dtype=np.int64) - starts[sector]
    width = max(3, len(str(int(counts.max()))))
    tickers = [
        f"{_SECTOR_SPECS[s].code}{k + 1:0{width}d}"
        for s, k in zip(sector.tolist(), number.tolist(), strict=True)
    ]
    names = [
        f"Simulated {_SECTOR_SPECS[s].label} Co {k + 1}"
        for s, k in zip(sector.tolist(), number.tolist(), strict=True)
    ]
    industry = [
        _SECTOR_SPECS[s].industries[k % len(_SECTOR_SPECS[s].industries)]
        for s, k in zip(sector.tolist(), number.tolist(), strict=True)
    ]

    def stock_index(sector_index: int, k: int) -> int:
        return int(starts[sector_index] + k)

    mean_beta = np.array([spec.mean_beta for spec in _SECTOR_SPECS])[sector]
    beta = np.clip(mean_beta * np.exp(0.3 * rng.standard_normal(n_symbols)), 0.2, 2.5)
    for s, k, value in (_HIGH_BETA_ANCHOR, _LOW_BETA_ANCHOR):
        beta[stock_index(s, k)] = value
    alpha = 0.03 / TRADING_DAYS_PER_YEAR * rng.standard_normal(n_symbols)
    loading = rng.uniform(0.6, 1.2, n_symbols)
    idio_vol = np.clip(0.25 * np.exp(0.35 * rng.standard_normal(n_symbols)), 0.10, 0.50)
    persistence = rng.uniform(0.93, 0.975, n_symbols)  # half-lives of ~9.5 to ~27 days
    garch_alpha = rng.uniform(0.05, 0.10, n_symbols)
    garch_beta = persistence - garch_alpha

    raw_cap = np.exp(np.log(20e9) + 1.1 * rng.standard_normal(n_symbols))
    sector_cap = np.bincount(sector, weights=raw_cap, minlength=n_sectors)
    target = np.array([spec.benchmark_weight for spec in _SECTOR_SPECS])
    target = target / target.sum() * raw_cap.sum()
    market_cap = raw_cap * (target / sector_cap)[sector]

    stock_price0 = np.clip(np.exp(np.log(60.0) + 0.8 * rng.standard_normal(n_symbols)), 5, 800)
    turnover = np.exp(np.log(0.005) + 0.4 * rng.standard_normal(n_symbols))
    etf_price0 = np.array([spec.etf_price0 for spec in _SECTOR_SPECS])
    etf_dollar_volume = 1e9 * (0.5 + 10.0 * target / target.sum())

    late_stock = stock_index(_LATE_SECTOR, int(counts[_LATE_SECTOR]) - 1)
    split_stock = stock_index(_SPLIT_SECTOR, int(counts[_SPLIT_SECTOR]) - 1)
    stock_price0[split_stock] = _SPLIT_PRICE0
    listing_day = np.zeros(n_symbols, dtype=np.int64)
    listing_day[late_stock] = LATE_LISTING_DAY

    position_stocks = [stock_index(s, k) for s, k in _POSITION_STOCKS]
    etf_symbols = [MARKET_SYMBOL, *(spec.etf for spec in _SECTOR_SPECS)]
    position_etfs = [n_symbols + etf_symbols.index(symbol) for symbol in _POSITION_ETFS]
    position_columns = np.array(position_stocks + position_etfs, dtype=np.int64)
    position_values = np.concatenate(
        (
            rng.uniform(15_000, 60_000, len(position_stocks)),
            rng.uniform(50_000, 150_000, len(position_etfs)),
        )
    )

    # Missing days: distinct days at least three trading days apart (so at most one ETF member
    # lacks a return on any day), on stocks that are not special or held in the portfolio.
    excluded = np.zeros(n_symbols, dtype=bool)
    excluded[position_stocks] = True
    excluded[[late_stock, split_stock]] = True
    candidates = np.flatnonzero(~excluded)
    n_missing = max(5, n_symbols // 30)
    slots = rng.choice((EVENT_HORIZON - 2) // 3, size=n_missing, replace=False)
    missing_day = np.sort(3 * slots + 2).astype(np.int64)
    missing_stock = rng.choice(candidates, size=n_missing).astype(np.int64)

    symbols = np.array([*tickers, *etf_symbols], dtype=object)
    etf_names = [
        "Simulated S&P 500 ETF",
        *(f"Simulated {spec.sector} Select Sector ETF" for spec in _SECTOR_SPECS),
    ]
    return _Universe(
        symbols=symbols,
        names=names + etf_names,
        n_stocks=n_symbols,
        sector=sector,
        industry=industry,
        alpha=alpha,
        beta=beta,
        loading=loading,
        idio_vol=idio_vol,
        idio_garch_alpha=garch_alpha,
        idio_garch_beta=garch_beta,
        market_cap=market_cap,
        price0=np.concatenate((stock_price0, [_MARKET_PRICE0], etf_price0)),
        dollar_volume=np.concatenate((market_cap * turnover, [25e9], etf_dollar_volume)),
        listing_day=listing_day,
        late_stock=late_stock,
        split_stock=split_stock,
        missing_stock=missing_stock,
        missing_day=missing_day,
        position_columns=position_columns,
        position_values=position_values,
    )


def _garch_omega(
    variance: FloatArray | float,
    persistence: FloatArray | float,
    spike_prob: float,
    spike_multiplier: float,
) -> FloatArray:
    """Intercept giving long-run variance ``variance`` under GARCH(1,1) plus spikes."""
    kappa = 1.0 + spike_prob * (spike_multiplier - 1.0)
    return np.asarray(variance * (1.0 - kappa * np.asarray(persistence)) / kappa)


def _half_life(persistence: FloatArray | float) -> FloatArray:
    return np.asarray(np.log(0.5) / np.log(persistence))


# --------------------------------------------------------------------------------------------
# The strategy ETF universe (E0001, ...): static description


@dataclass(frozen=True)
class _EtfUniverse:
    """Static description of the universe ETFs, in symbol order (``E0001``, ``E0002``, ...).

    ``underlying`` indexes the funds ``[SPY, sector ETFs in GICS order]`` (-1 for plain funds);
    ``factor`` is a sector index (-1 for none); ``last_day`` is ``-1`` unless delisted.
    """

    symbols: list[str]
    names: list[str]
    category: IntArray  # index into _ETF_CATEGORY_SPECS
    leverage: FloatArray  # 1.0 for plain funds
    underlying: IntArray
    alpha: FloatArray  # daily
    beta: FloatArray  # market loading of plain funds (NaN for leveraged/inverse)
    factor: IntArray
    loading: FloatArray
    idio_vol: FloatArray  # annualised
    expense_ratio: FloatArray  # true, fraction per year
    expense_known: BoolArray
    price0: FloatArray
    dollar_volume: FloatArray
    listing_day: IntArray
    last_day: IntArray
    construction: npt.NDArray[np.object_]
    gap_etf: IntArray  # (K,) with gap_day: the isolated missing days of the "gaps" funds
    gap_day: IntArray
    sparse: IntArray  # indices of the "sparse" funds


def _largest_remainder(total: int, weights: FloatArray) -> IntArray:
    """Split ``total`` into integer counts proportional to ``weights`` (Hamilton's method)."""
    share = total * weights / weights.sum()
    counts: IntArray = np.floor(share).astype(np.int64)
    leftover = total - int(counts.sum())
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[:leftover]] += 1
    return counts


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _build_etf_universe(n_etfs: int, seed: int) -> _EtfUniverse:
    rng = np.random.default_rng([seed, 4, n_etfs])
    specs = _ETF_CATEGORY_SPECS
    n = n_etfs
    counts = _largest_remainder(n, np.array([spec.weight for spec in specs], dtype=np.float64))
    category = rng.permutation(np.repeat(np.arange(len(specs), dtype=np.int64), counts))
    by_category = np.argsort(category, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    number = np.empty(n, dtype=np.int64)  # 1-based number within the category
    number[by_category] = np.arange(n) - starts[category[by_category]] + 1

    uniform = rng.random((6, n))
    normal = rng.standard_normal((2, n))
    multiple = rng.integers(2, 4, n)  # 2 or 3 (leveraged); -1 or -2 (inverse)
    p_sector = (1.0 - _ETF_UNDERLYING_SPY) / len(_SECTOR_SPECS)
    underlying_draw = rng.choice(
        1 + len(_SECTOR_SPECS), size=n, p=[_ETF_UNDERLYING_SPY] + [p_sector] * len(_SECTOR_SPECS)
    ).astype(np.int64)
    known = np.zeros(n, dtype=bool)
    known[rng.permutation(n)[: _round_half_up(0.7 * n)]] = True

    leveraged = category == ETF_CATEGORIES.index(_LEVERAGED)
    inverse = category == ETF_CATEGORIES.index(_INVERSE)
    special = leveraged | inverse
    leverage = np.where(leveraged, multiple, np.where(inverse, 1 - multiple, 1)).astype(np.float64)
    underlying = np.where(special, underlying_draw, -1).astype(np.int64)

    # Per-fund parameter ranges (a trivial loop over funds, as for the stock tickers).
    kinds = [
        specs[c].kinds[(k - 1) % len(specs[c].kinds)] if specs[c].kinds else None
        for c, k in zip(category.tolist(), number.tolist(), strict=True)
    ]
    labels = ["S&P 500", *(spec.sector for spec in _SECTOR_SPECS)]
    names = []
    for i, kind in enumerate(kinds):
        k = int(number[i])
        if kind is not None:
            names.append(kind.name.format(k=k))
        elif leveraged[i]:
            names.append(
                f"Simulated {int(leverage[i])}x Leveraged {labels[underlying[i]]} Bull {k}"
            )
        elif leverage[i] == -1.0:
            names.append(f"Simulated Inverse {labels[underlying[i]]} Bear {k}")
        else:
            names.append(f"Simulated {int(leverage[i])}x Inverse {labels[underlying[i]]} Bear {k}")

    zero_kind = _EtfKind("", (np.nan, np.nan), (0.0, 0.0))
    kind_of = [kind or zero_kind for kind in kinds]

    def span(values: list[tuple[float, float]], u: FloatArray) -> FloatArray:
        bounds = np.array(values, dtype=np.float64).reshape(n, 2)
        return bounds[:, 0] + (bounds[:, 1] - bounds[:, 0]) * u

    beta = span([kind.beta for kind in kind_of], uniform[0])
    idio_vol = span([kind.idio_vol for kind in kind_of], uniform[1])
    loading = span([kind.loading for kind in kind_of], uniform[2])
    factor = np.array([kind.factor for kind in kind_of], dtype=np.int64)
    expense_ratio = span([specs[c].expense for c in category.tolist()], uniform[3])
    alpha_vol = np.array([specs[c].alpha_vol for c in category.tolist()], dtype=np.float64)
    alpha = alpha_vol / TRADING_DAYS_PER_YEAR * normal[0]
    lo, hi = np.log(_ETF_PRICE0)
    price0 = np.exp(lo + (hi - lo) * uniform[4])
    median, log_sd, floor, cap = _ETF_DOLLAR_VOLUME
    dollar_volume = np.exp(math.log(median) + log_sd * normal[1])
    dollar_volume = np.where(special, _ETF_LEVERAGED_VOLUME * dollar_volume, dollar_volume)
    dollar_volume = np.clip(dollar_volume, floor, cap)

    # Constructions on disjoint plain funds, in a random order; low price only on low-vol funds.
    construction = np.full(n, "", dtype=object)
    construction[leveraged] = "leveraged"
    construction[inverse] = "inverse"
    pool = rng.permutation(np.flatnonzero(~special))
    low_vol = np.array([kind.low_vol for kind in kind_of], dtype=bool)
    listing_day = np.zeros(n, dtype=np.int64)
    last_day = np.full(n, -1, dtype=np.int64)
    for name, share in _ETF_CONSTRUCTIONS:
        wanted = _round_half_up(share * n)
        free = pool[construction[pool] == ""]
        if name == "low_price":
            free = free[low_vol[free]]
        chosen = free[:wanted]
        construction[chosen] = name
        m = len(chosen)
        if name == "low_price":
            lo, hi = _ETF_LOW_PRICE0
            price0[chosen] = lo + (hi - lo) * uniform[5, chosen]
            alpha[chosen] = -np.abs(alpha[chosen]) - _ETF_LOW_DRIFT
        elif name == "late_listing":
            first, last = ETF_LATE_LISTING_DAYS
            listing_day[chosen] = first + (np.arange(m) * (last - first)) // max(m - 1, 1)
        elif name == "delisted":
            first, last = ETF_DELISTING_DAYS
            last_day[chosen] = first + (np.arange(m) * (last - first)) // max(m - 1, 1)
        elif name == "illiquid":
            lo, hi = np.log(_ETF_ILLIQUID_DOLLAR_VOLUME)
            dollar_volume[chosen] = np.exp(lo + (hi - lo) * uniform[5, chosen])
    gap_etf_index = np.flatnonzero(construction == "gaps")
    gap_days = rng.random((len(gap_etf_index), EVENT_HORIZON - 1)).argsort(axis=1)
    gap_days = np.sort(gap_days[:, :_ETF_GAP_DAYS], axis=1) + 1

    return _EtfUniverse(
        symbols=[f"E{i + 1:04d}" for i in range(n)],
        names=names,
        category=category,
        leverage=leverage,
        underlying=underlying,
        alpha=np.where(special, 0.0, alpha),
        beta=np.where(special, np.nan, beta),
        factor=factor,
        loading=loading,
        idio_vol=idio_vol,
        expense_ratio=expense_ratio,
        expense_known=known,
        price0=price0,
        dollar_volume=dollar_volume,
        listing_day=listing_day,
        last_day=last_day,
        construction=construction,
        gap_etf=np.repeat(gap_etf_index, _ETF_GAP_DAYS).astype(np.int64),
        gap_day=gap_days.ravel().astype(np.int64),
        sparse=np.flatnonzero(construction == "sparse").astype(np.int64),
    )


@dataclass(frozen=True)
class _FactorPaths:
    """Daily series recorded by :func:`_simulate_paths` that drive the universe ETFs.

    ``fund_*`` columns are ``[SPY, sector ETFs in GICS order]``; ``sector_*`` columns are the
    11 sectors in GICS order. All arrays have one row per trading day.
    """

    market_variance: FloatArray  # (T,) h_m
    sector_shock: FloatArray  # (T, 11) zero-mean sector factors f_s
    sector_variance: FloatArray  # (T, 11) their conditional variances h_s
    fund_returns: FloatArray  # (T, 12) simple returns of SPY's and the sector ETFs' adj_close
    fund_sigma: FloatArray  # (T, 12) their conditional daily vols


# --------------------------------------------------------------------------------------------
# Paths


_BLOCK_DAYS: Final = 64


def _simulate_paths(
    u: _Universe, n_days: int, seed: int, order: IntArray
) -> tuple[dict[str, npt.NDArray[Any]], _FactorPaths]:
    """Run the daily recursion (the only loop over time) for ``n_days`` trading days.

    Returns ``(paths, factors)``: ``factors`` holds the recorded factor and fund series
    (:class:`_FactorPaths`, which drive the universe ETFs); ``paths`` maps ``adj, open, high,
    low`` (float64), ``volume`` (int64) and ``present`` (bool) to ``(M, T)`` arrays with one row
    per symbol in sorted-symbol order (``order`` maps sorted position -> universe index);
    ``open/high/low`` are on the unadjusted (close) basis. Days are buffered in blocks of
    ``_BLOCK_DAYS`` rows and written transposed, which keeps the writes cache-friendly.
    """
    n = u.n_stocks
    n_sectors = len(_SECTOR_SPECS)
    m = n + 1 + n_sectors
    sec = u.sector
    bounds = np.flatnonzero(np.diff(sec, prepend=-1))  # universe order is sector-major
    year = float(TRADING_DAYS_PER_YEAR)

    hbar_m = _MARKET_VOL**2 / year
    a_m, b_m = _MARKET_GARCH
    p_m, mult_m = _MARKET_SPIKE
    om_m = float(_garch_omega(hbar_m, a_m + b_m, p_m, mult_m))
    cap_m = _VARIANCE_CAP * hbar_m

    hbar_f = np.array([spec.factor_vol for spec in _SECTOR_SPECS]) ** 2 / year
    a_f, b_f = _SECTOR_GARCH
    om_f = _garch_omega(hbar_f, a_f + b_f, 0.0, 1.0)
    cap_f = _VARIANCE_CAP * hbar_f

    hbar_e = u.idio_vol**2 / year
    a_e, b_e = u.idio_garch_alpha, u.idio_garch_beta
    p_e, mult_e = _IDIO_SPIKE
    om_e = _garch_omega(hbar_e, a_e + b_e, p_e, mult_e)
    cap_e = _VARIANCE_CAP * hbar_e

    cap = u.market_cap
    w_full = cap / np.add.reduceat(cap, bounds)[sec]
    etf_beta2 = np.add.reduceat(w_full * u.beta, bounds) ** 2
    etf_load2 = np.add.reduceat(w_full * u.loading, bounds) ** 2
    beta2, load2, w2 = u.beta**2, u.loading**2, w_full**2

    missing_by_day: dict[int, list[int]] = {}
    for stock, day in zip(u.missing_stock.tolist(), u.missing_day.tolist(), strict=True):
        missing_by_day.setdefault(day, []).append(stock)

    paths: dict[str, npt.NDArray[Any]] = {
        "adj": np.empty((m, n_days)),
        "open": np.empty((m, n_days)),
        "high": np.empty((m, n_days)),
        "low": np.empty((m, n_days)),
        "volume": np.empty((m, n_days), dtype=np.int64),
        "present": np.empty((m, n_days), dtype=bool),
    }
    block = {name: np.empty((_BLOCK_DAYS, m), dtype=paths[name].dtype) for name in paths}
    block["present"][:] = True  # SPY and the ETFs trade every day
    market_variance = np.empty(n_days)
    sector_shock = np.empty((n_days, n_sectors))
    sector_variance = np.empty((n_days, n_sectors))
    fund_returns = np.empty((n_days, 1 + n_sectors))
    fund_sigma = np.empty((n_days, 1 + n_sectors))

    def flush(t_end: int) -> None:
        rows = (t_end - 1) % _BLOCK_DAYS + 1
        for name, out in paths.items():
            out[:, t_end - rows : t_end] = block[name][:rows, order].T

    h_m, h_f, h_e = hbar_m, hbar_f.copy(), hbar_e.copy()
    eps_m, eps_f, eps_e = 0.0, np.zeros(n_sectors), np.zeros(n)
    price = u.price0.copy()
    prev_present = np.zeros(n, dtype=bool)
    factor = np.ones(m)
    r = np.empty(m)
    var = np.empty(m)
    for t in range(n_days):
        # Two streams per day: the market and sector factors (independent of n_symbols, so SPY
        # is the same market whatever the universe size), then everything symbol-level.
        rng = np.random.default_rng([seed, 1, t])
        z_factors = rng.standard_normal(1 + n_sectors)
        np.clip(z_factors, -SHOCK_CLIP, SHOCK_CLIP, out=z_factors)
        market_spike = rng.random() < p_m
        rng = np.random.default_rng([seed, 2, t])
        z = rng.standard_normal(n + 4 * m)
        np.clip(z, -SHOCK_CLIP, SHOCK_CLIP, out=z)
        spiked = rng.choice(n, size=rng.binomial(n, p_e), replace=False)

        if t > 0:
            h_m = om_m + a_m * eps_m * eps_m + b_m * h_m
            h_f = om_f + a_f * eps_f * eps_f + b_f * h_f
            h_e = om_e + a_e * eps_e * eps_e + b_e * h_e
        if market_spike:
            h_m *= mult_m
        h_m = min(h_m, cap_m)
        np.minimum(h_f, cap_f, out=h_f)
        h_e[spiked] *= mult_e
        np.minimum(h_e, cap_e, out=h_e)
        eps_m = math.sqrt(h_m) * float(z_factors[0])
        eps_f = np.sqrt(h_f) * z_factors[1:]
        eps_e = np.sqrt(h_e) * z[:n]
        r_m = _MARKET_MEAN + eps_m
        market_variance[t] = h_m

        stock_r = u.alpha + u.beta * r_m + u.loading * eps_f[sec] + eps_e
        np.clip(stock_r, -RETURN_GUARD, RETURN_GUARD, out=stock_r)
        present = u.listing_day <= t
        if t in missing_by_day:
            present[missing_by_day[t]] = False
        r[:n] = stock_r
        r[n] = r_m
        if t > 0:
            avail_cap = cap * (present & prev_present)
            r[n + 1 :] = np.add.reduceat(avail_cap * stock_r, bounds) / np.add.reduceat(
                avail_cap, bounds
            )
        else:
            r[n + 1 :] = 0.0
        prev_present = present

        var[:n] = beta2 * h_m + load2 * h_f[sec] + h_e
        var[n] = h_m
        var[n + 1 :] = etf_beta2 * h_m + etf_load2 * h_f + np.add.reduceat(w2 * h_e, bounds)
        sigma = np.sqrt(var)
        sector_shock[t] = eps_f
        sector_variance[t] = h_f
        fund_returns[t] = r[n:]
        fund_sigma[t] = sigma[n:]

        prev_price = price
        price = prev_price * (1.0 + r)
        z_open, z_high, z_low, z_volume = z[n:].reshape(4, m)
        day_open = prev_price * (1.0 + 0.35 * r + 0.25 * sigma * z_open)
        day_high = np.maximum(day_open, price) * (1.0 + 0.5 * sigma * np.abs(z_high))
        day_low = np.minimum(day_open, price) / (1.0 + 0.5 * sigma * np.abs(z_low))
        factor[u.split_stock] = SPLIT_RATIO if t < SPLIT_DAY else 1.0
        shares = (
            u.dollar_volume
            / (price * factor)
            * np.exp(0.3 * z_volume)
            * (0.6 + 0.5 * np.abs(r) / sigma)
        )

        row = t % _BLOCK_DAYS
        block["adj"][row] = price
        block["open"][row] = day_open * factor
        block["high"][row] = day_high * factor
        block["low"][row] = day_low * factor
        block["volume"][row] = np.maximum(np.rint(shares), 1.0)
        block["present"][row, :n] = present
        if row == _BLOCK_DAYS - 1 or t == n_days - 1:
            flush(t + 1)

    factors = _FactorPaths(
        market_variance=market_variance,
        sector_shock=sector_shock,
        sector_variance=sector_variance,
        fund_returns=fund_returns,
        fund_sigma=fund_sigma,
    )
    return paths, factors


def _simulate_etf_paths(
    e: _EtfUniverse, factors: _FactorPaths, n_days: int, seed: int
) -> tuple[dict[str, npt.NDArray[Any]], IntArray]:
    """Universe-ETF paths, vectorised over ``(days, funds)``; same keys and layout as ``paths``.

    Also returns the ``(K, 2)`` (fund index, day) pairs, sorted, of days inside a fund's
    listed life without a row.

    Shocks come from ``default_rng([seed, 5, n_etfs])`` drawn day-major as ``(T, 5, n)`` and
    the sparse funds' missing days from ``default_rng([seed, 6, n_etfs])`` as ``(T, K)``, so
    row ``t`` does not depend on ``T`` (prefix stability).
    """
    n = len(e.symbols)
    year = float(TRADING_DAYS_PER_YEAR)
    z = np.random.default_rng([seed, 5, n]).standard_normal((n_days, 5, n))
    np.clip(z, -SHOCK_CLIP, SHOCK_CLIP, out=z)
    z_r, z_open, z_high, z_low, z_volume = (z[:, k] for k in range(5))

    # Plain funds: market + one sector factor (a zero column for "none") + noise - fee.
    shock = np.concatenate((factors.sector_shock, np.zeros((n_days, 1))), axis=1)
    shock_var = np.concatenate((factors.sector_variance, np.zeros((n_days, 1))), axis=1)
    beta = np.nan_to_num(e.beta)
    market_return = factors.fund_returns[:, :1]
    fee = e.expense_ratio / year
    r = e.alpha + market_return * beta + e.loading * shock[:, e.factor] - fee
    r += e.idio_vol / math.sqrt(year) * z_r
    var = factors.market_variance[:, None] * beta**2 + e.loading**2 * shock_var[:, e.factor]
    var += e.idio_vol**2 / year
    # Leveraged and inverse funds: k times the underlying fund's daily return, minus the fee.
    special = np.flatnonzero(e.underlying >= 0)
    if len(special):
        k = e.leverage[special]
        tracking = ETF_TRACKING_ERROR / math.sqrt(year) * z_r[:, special]
        r[:, special] = k * factors.fund_returns[:, e.underlying[special]] - fee[special] + tracking
        var[:, special] = (k * factors.fund_sigma[:, e.underlying[special]]) ** 2
        var[:, special] += ETF_TRACKING_ERROR**2 / year
    np.clip(r, -ETF_RETURN_GUARD, ETF_RETURN_GUARD, out=r)
    sigma = np.sqrt(var)

    day = np.arange(n_days)[:, None]
    growth = np.where(day > e.listing_day, 1.0 + r, 1.0)  # the first row is at price0
    adj = e.price0 * np.cumprod(growth, axis=0)
    prev = np.concatenate((e.price0[None, :], adj[:-1]), axis=0)
    r_eff = growth - 1.0
    day_open = prev * (1.0 + 0.35 * r_eff + 0.25 * sigma * z_open)
    high = np.maximum(day_open, adj) * (1.0 + 0.5 * sigma * np.abs(z_high))
    low = np.minimum(day_open, adj) / (1.0 + 0.5 * sigma * np.abs(z_low))
    shares = e.dollar_volume / adj * np.exp(0.3 * z_volume) * (0.6 + 0.5 * np.abs(r_eff) / sigma)

    alive = (day >= e.listing_day) & ((e.last_day < 0) | (day <= e.last_day))
    present = alive.copy()
    in_range = e.gap_day < n_days
    present[e.gap_day[in_range], e.gap_etf[in_range]] = False
    if len(e.sparse):
        draw = np.random.default_rng([seed, 6, n]).random((n_days, len(e.sparse)))
        present[:, e.sparse] &= draw >= _ETF_SPARSE_MISSING
    paths = {
        "adj": adj.T,
        "open": day_open.T,
        "high": high.T,
        "low": low.T,
        "volume": np.maximum(np.rint(shares), 1.0).astype(np.int64).T,
        "present": present.T,
    }
    missing = np.argwhere((alive & ~present).T).astype(np.int64)  # row-major: by fund, day
    return paths, missing


def _prices_frame(
    paths: dict[str, npt.NDArray[Any]],
    dates: pd.DatetimeIndex,
    symbols: list[str],
    split_row: int,
    split_day: int,
) -> pd.DataFrame:
    """Flatten the ``(M, T)`` arrays into the long frame sorted by symbol, date.

    Consumes ``paths`` (each array is removed from the dict once flattened, to bound memory).
    ``close`` is ``adj_close`` times ``SPLIT_RATIO`` on the split stock's rows before
    ``split_day``.
    """
    mask = paths.pop("present")
    counts = mask.sum(axis=1)
    columns: dict[str, object] = {
        "date": np.broadcast_to(dates.to_numpy(), mask.shape)[mask],
        "symbol": pd.array(np.repeat(np.array(symbols, dtype=object), counts), dtype="str"),
    }
    for name in ("open", "high", "low"):
        columns[name] = paths.pop(name)[mask]
    adj = paths.pop("adj")[mask]
    close = adj.copy()
    first = int(counts[:split_row].sum())
    close[first : first + int(mask[split_row, :split_day].sum())] *= SPLIT_RATIO
    columns["close"] = close
    columns["adj_close"] = adj
    columns["volume"] = paths.pop("volume")[mask]
    return pd.DataFrame(columns, copy=False)


# --------------------------------------------------------------------------------------------
# Public entry point


def simulate_market(
    *,
    start: dt.date,
    end: dt.date,
    n_symbols: int = 150,
    seed: int = 20240101,
    n_etfs: int = 200,
) -> DemoMarket:
    r"""Simulate the demo market: stocks, SPY, sector ETFs, benchmark and a demo portfolio.

    Parameters
    ----------
    start, end : datetime.date
        Inclusive date range; trading days come from :func:`trading_calendar` and the range
        must hold at least ``MIN_TRADING_DAYS`` (22) of them.
    n_symbols : int, default 150
        Number of **stocks** (33 to 20,000). SPY and the 11 sector ETFs come on top.
    seed : int, default 20240101
        Non-negative seed; the result is a pure function of
        ``(start, end, n_symbols, seed, n_etfs)``.
    n_etfs : int, default 200
        Number of **universe ETFs** (0 to 5,000) for the strategy, on top of SPY and the 11
        sector ETFs (which do not depend on it).

    Returns
    -------
    DemoMarket
        Prices, instruments, benchmark weights, ETF holdings, positions and the planted truth.

    Raises
    ------
    AnalyticsError
        If an argument has the wrong type or is out of range (the message names it).

    Notes
    -----
    **Factors.** Day :math:`t` counts trading days from the first trading day of the range.
    The market factor is SPY's simple return,

    .. math:: r_{m,t} = \mu_m + \sqrt{h_{m,t}}\, z_{m,t},

    with :math:`\mu_m = 0.08/252` and GARCH(1,1) variance with random spikes,

    .. math::
        h_{m,t} = \min\bigl(c\,\bar h_m,\;
                  s_t\,(\omega + \alpha\,\varepsilon_{m,t-1}^2 + \beta\,h_{m,t-1})\bigr),

    :math:`\alpha=0.08, \beta=0.87` (persistence :math:`\phi = 0.95`, variance half-life
    :math:`\ln 0.5/\ln\phi \approx 13.5` days), spikes :math:`s_t = 4` with probability 1/250
    (else 1), cap :math:`c = 16` (vol at most 4x its long-run level), and
    :math:`\omega = \bar h (1-\kappa\phi)/\kappa` with :math:`\kappa = 1 + p(s-1)`, so the
    long-run variance is :math:`\bar h_m = 0.17^2/252` (17% a year). Each sector has an
    independent zero-mean factor :math:`f_{s,t}` with GARCH(0.06, 0.89) variance (half-life
    ~13.5 days), a long-run vol of 7% to 18% a year and no spikes. Shocks :math:`z` are
    standard normal clipped to :math:`\pm 4`.

    **Stocks.** Stock :math:`i` in sector :math:`s(i)` returns

    .. math:: r_{i,t} = a_i + \beta_i r_{m,t} + g_i f_{s(i),t} + \varepsilon_{i,t},

    clipped to :math:`\pm 0.45` (a guard that does not bind for these parameters), with
    :math:`\beta_i = \mathrm{clip}(\bar\beta_s e^{0.3 u_i}, 0.2, 2.5)` around a sector mean
    (Utilities 0.5 ... Information Technology 1.35) and two anchors (the first IT stock 2.5,
    the first Utilities stock 0.2); :math:`a_i \sim N(0, (0.03/252)^2)`;
    :math:`g_i \sim U(0.6, 1.2)`; idiosyncratic vol :math:`0.25 e^{0.35 u}` clipped to
    10%-50% a year with GARCH(1,1) persistence :math:`\phi_i \sim U(0.93, 0.975)` (half-lives
    ~9.5-27 days), :math:`\alpha_i \sim U(0.05, 0.10)`, spikes x4 with probability 1/500 and
    the same x16 variance cap. Factors are independent of the market, so OLS of :math:`r_i` on SPY
    recovers :math:`\beta_i`. Long-run stock vols are mostly 15%-60% a year.

    **Sector ETFs.** Weights :math:`w_i \propto` market cap among the members listed so far
    (the ``etf_holdings``). On day :math:`t` the ETF returns
    :math:`\sum_{i \in A_t} w_i r_{i,t} / \sum_{i \in A_t} w_i`, where :math:`A_t` are the
    members with a row on both :math:`t` and :math:`t-1` (so a member's missing day and the
    day after, and a new listing's first day, are left out and the weights renormalised). The
    planted ETF beta is :math:`\sum_i w_i \beta_i` under the holdings in force on the last day.

    **Prices.** The adjusted close compounds the simple returns from a starting price
    (stocks lognormal around $60, SPY $400, ETFs at fixed levels): ``adj_close`` is exactly
    continuous. ``open = prev_adj * (1 + 0.35 r + 0.25 sigma z)``; ``high`` is
    ``max(open, close) * (1 + 0.5 sigma |z'|)`` and ``low`` is
    ``min(open, close) / (1 + 0.5 sigma |z''|)`` (sigma the day's conditional vol), so
    ``0 < low <= min(open, close) <= max(open, close) <= high``; volume (shares) is dollar
    volume / close times lognormal noise, higher on large moves.

    **Events** are placed at fixed trading-day offsets from the first trading day, never
    relative to ``end``, which makes the output *prefix-stable*: for fixed ``(start, n_symbols,
    seed, n_etfs)`` every row dated ``d`` is identical for any ``end >= d``. Random streams: the
    universe from ``default_rng([seed, 0, n_symbols])``; day :math:`t`'s market and sector
    shocks from ``default_rng([seed, 1, t])`` (so SPY does not depend on ``n_symbols``) and its
    symbol-level shocks from ``default_rng([seed, 2, t])``; benchmark publication :math:`k`
    from ``default_rng([seed, 3, k])``.

    - Late listing: the last IT stock's first row is day ``LATE_LISTING_DAY`` (504, about two
      years in; ~750 trading days before the end of a five-year range).
    - Split: the last Health Care stock splits 2:1 effective day ``SPLIT_DAY`` (630). Rule:
      ``adj_close`` is adjusted for the planted split schedule, so ``adj_close == close`` on and
      after the split and ``adj_close == close / 2`` before it, **whatever ``end`` is** (for a
      range ending before the split every close is twice the adjusted close). ``close`` drops
      by half on the split day; ``open/high/low`` are on the ``close`` basis.
    - Missing days: ``max(5, n_symbols // 30)`` (symbol, day) pairs in the first 1260 trading
      days, days at least three apart, never on a held, late-listed or split stock; the symbol
      has no row that day.
    - Holidays: no rows for any symbol (:func:`trading_calendar`).

    **Benchmark** ``SP500`` sector weights are published on days 0, 21, 42, ... as a random walk
    in log weights around S&P-like levels (IT 30%, Financials 13%, Health Care 12%, ...,
    Real Estate 2.3%), renormalised to sum to 1. Stock market caps are scaled so each sector's
    share of the universe equals the base benchmark weight.

    **ETF holdings** are published on day 0 and on the listing day (when inside the range),
    cap-weighted over listed members.

    **Demo portfolio** (account ``DEMO``): 16 stocks (the first stock of each sector, including
    the 2.5 and 0.2 beta anchors, and the second of IT, Health Care, Financials, Consumer
    Discretionary and Industrials) plus SPY, XLK, XLV and XLE. Quantities are whole shares
    worth about $15k-$60k (stocks) or $50k-$150k (ETFs) on the first trading day;
    ``cost_basis = quantity * adj_close`` on the **first trading day of the range**.

    **ETF universe** (the strategy's candidates): ``n_etfs`` funds ``E0001``, ``E0002``, ... on
    top of SPY and the sector ETFs, in no ETF holdings and no positions. Their static
    parameters come from ``default_rng([seed, 4, n_etfs])``, their daily shocks from
    ``default_rng([seed, 5, n_etfs])`` (drawn day-major, so prefix-stable) and the sparse funds'
    missing days from ``default_rng([seed, 6, n_etfs])``: the stocks, SPY, the sector ETFs and
    everything built from them are bit-for-bit the same for any ``n_etfs``. ``n_etfs`` is split
    over the categories by largest remainders of these shares (the symbols are assigned in a
    random order; the number in a name counts within its category):

    - ``US Large Cap`` 14%, ``US Mid Cap`` 6%, ``US Small Cap`` 6%: market loading
      :math:`b \sim U(0.95, 1.05)`, :math:`U(1.0, 1.2)`, :math:`U(1.1, 1.3)`; idiosyncratic vol
      1%-4%, 5%-9%, 8%-13% a year.
    - ``International Developed`` 9%, ``Emerging Markets`` 7%: :math:`b \sim U(0.7, 0.9)`,
      :math:`U(0.8, 1.0)`; idiosyncratic vol 8%-12%, 12%-18%.
    - ``Sector <GICS sector>`` 2% each (22%): :math:`b` = the sector's mean stock beta times
      :math:`U(0.9, 1.1)`, loading :math:`g \sim U(0.8, 1.1)` on that sector's factor,
      idiosyncratic vol 3%-7%.
    - ``Bonds Treasury`` 8% (short-term / intermediate / long-term in turn:
      :math:`b \sim U(-0.01, 0.01), U(-0.08, -0.02), U(-0.25, -0.10)`, vol 1%-2%, 4%-6%,
      10%-14%), ``Bonds Corporate`` 8% (investment grade / high yield: :math:`b \sim
      U(0.05, 0.15), U(0.30, 0.40)`, vol 4%-6%, 5%-7%).
    - ``Commodities`` 5% (gold / broad, :math:`g \sim U(0.3, 0.5)` on Materials / crude oil,
      :math:`g \sim U(0.5, 0.7)` on Energy; vol 12%-28%), ``Real Estate`` 4% (REITs,
      :math:`b \sim U(0.75, 0.95)`, :math:`g \sim U(0.8, 1.1)` on Real Estate, vol 3%-6%).
    - ``Leveraged`` 7% (:math:`k \in \{2, 3\}`) and ``Inverse`` 4% (:math:`k \in \{-1, -2\}`),
      each on SPY (probability 0.4) or one of the 11 sector ETFs.

    A plain fund :math:`j` returns

    .. math::
        r_{j,t} = a_j + b_j r_{m,t} + g_j f_{s(j),t} + \frac{\sigma_j}{\sqrt{252}} z_{j,t}
                  - \frac{e_j}{252},

    with the market and sector factors of the stocks (:math:`g_j = 0` without a sector), i.i.d.
    shocks :math:`z` clipped to :math:`\pm 4`, a planted drift :math:`a_j \sim N(0, (v/252)^2)`
    (:math:`v` = 3%-5% a year for equity, commodity and real estate funds, 1% for bonds) that
    separates momentum and quality across funds, and the expense ratio :math:`e_j` charged daily. A
    leveraged or inverse fund rebalances daily on the simple return :math:`r_{u,t}` of its
    underlying's ``adj_close`` (SPY or a sector ETF): :math:`r_{j,t} = k_j r_{u,t} - e_j/252 + \tau
    z_{j,t}/\sqrt{252}` with a tracking error :math:`\tau` = ``ETF_TRACKING_ERROR`` (1% a year).
    Both are clipped to :math:`\pm 0.9` (a guard that does not bind). Planted betas: :math:`b_j`
    (the sector factors are independent of the market) and :math:`k_j \beta_u`. ``adj_close`` is
    ``price0`` on a fund's first row and compounds :math:`r` from the next row (``close ==
    adj_close``); ``open/high/low`` and volume follow the stock rules with :math:`\sigma_{j,t}^2 =
    b_j^2 h_{m,t} + g_j^2 h_{s,t} + \sigma_j^2/252` (:math:`k_j^2` times the underlying's
    conditional variance for leveraged and inverse funds). Starting prices are log-uniform on
    $40-$300; target dollar volume is lognormal (median $30M, log-sd 1.5, three times that for
    leveraged and inverse funds) clipped to $3M-$20B, so it spans orders of magnitude. Expense
    ratios (fraction a year) are uniform per category between 0.0003 and 0.0085 (bonds and US large
    caps cheapest, commodities dearest; leveraged and inverse 0.0085-0.0095);
    ``instruments.expense_ratio`` reports them for ``round(0.7 n_etfs)`` random funds and is NaN for
    the other ~30%.

    **Constructed failures.** Against the universe filter's default thresholds (at least 252
    rows of history, at most 10% of rows missing since the first price, at most 5 rows since
    the last price, last price at least $5, median ``close * volume`` over the last 63 rows at
    least $1M), disjoint sets of plain funds are built to fail exactly one rule; counts are
    ``round(share * n_etfs)`` (half up), taken in this order from the plain funds in a random
    order (``truth.etf_params.construction``, ``truth.etf_filter_failures``):

    - ``leveraged`` / ``inverse`` (the two categories, ~11%): names such as "Simulated 3x
      Leveraged S&P 500 Bull 4", "Simulated Inverse Energy Bear 2" and "Simulated -2x Inverse
      Financials Bear 1" -> ``leveraged_inverse`` (their prices may also decay below $5). No
      other name or category is leveraged or inverse ("Simulated Short-Term Treasury ETF 7" is
      a bond fund).
    - ``low_price`` (3%, only short-term and intermediate Treasury and investment-grade funds,
      long-run vol at most 7%): ``price0`` uniform on $1.50-$2.50 and drift
      :math:`-|a_j| - 0.02/252`, so the price stays below $5 (it would need to double at 7% vol)
      -> ``below_min_price``.
    - ``late_listing`` (15%): first row on days evenly spaced over ``ETF_LATE_LISTING_DAYS``
      (252 to 1197), no rows before -> ``insufficient_history`` as of any day fewer than 252
      rows after the listing. At the end of a five-year range (~1,285 rows) that is the funds
      listed after day ~1,033 (about 1 in 6 of them); every late fund has rows in any range of
      at least 1,198 trading days.
    - ``delisted`` (2%): last row on days evenly spaced over ``ETF_DELISTING_DAYS`` (1170 to
      1240), none after -> ``stale_price`` once 6 or more rows have passed. The filter also
      counts the rows after the last price as missing, so ``stale_price`` is their *first*
      failing rule when the range holds 1,247 to 1,301 trading days (any five-year range);
      later it is ``too_many_missing``.
    - ``sparse`` (3%): each day has no row with probability 0.25 (``truth.etf_missing``)
      -> ``too_many_missing``.
    - ``illiquid`` (10%): target dollar volume log-uniform on $50k-$400k (median dollar volume
      below $0.5M; every other fund's target is at least $3M) -> ``below_min_dollar_volume``.
    - ``gaps`` (3%): five isolated missing days each in the first 1,260 trading days
      (``truth.etf_missing``); they pass every rule.

    The remaining ~53% and the ``gaps`` funds pass every rule (they start at $40 or more, so
    falling below $5 within five years would be a move of more than three standard deviations).

    Examples
    --------
    >>> import datetime as dt
    >>> market = simulate_market(start=dt.date(2024, 1, 1), end=dt.date(2024, 3, 29),
    ...                          n_symbols=33)
    >>> sorted(market.prices.columns) == sorted(
    ...     ["date", "symbol", "open", "high", "low", "close", "adj_close", "volume"])
    True
    >>> float(market.truth.betas["SPY"])
    1.0
    """
    start = require_date(start, "start")
    end = require_date(end, "end")
    if end < start:
        raise AnalyticsError(
            f"end must be on or after start, got start={start.isoformat()} end={end.isoformat()}"
        )
    n_symbols = require_positive_int(n_symbols, "n_symbols")
    if not MIN_SYMBOLS <= n_symbols <= MAX_SYMBOLS:
        raise AnalyticsError(
            f"n_symbols must be between {MIN_SYMBOLS} ({MIN_STOCKS_PER_SECTOR} stocks in each "
            f"of the {len(GICS_SECTORS)} GICS sectors) and {MAX_SYMBOLS}, got {n_symbols}"
        )
    seed = require_positive_int(seed, "seed", minimum=0)
    n_etfs = require_positive_int(n_etfs, "n_etfs", minimum=0)
    if n_etfs > MAX_ETFS:
        raise AnalyticsError(f"n_etfs must be between 0 and {MAX_ETFS}, got {n_etfs}")
    dates, holidays = trading_calendar(start, end)
    if len(dates) < MIN_TRADING_DAYS:
        raise AnalyticsError(
            f"end must leave at least {MIN_TRADING_DAYS} trading days in [start, end], got "
            f"{len(dates)} ({start.isoformat()} to {end.isoformat()})"
        )
    # Event dates come from a calendar that does not depend on end.
    last_event = max(LATE_LISTING_DAY, SPLIT_DAY, ETF_LATE_LISTING_DAYS[1], ETF_DELISTING_DAYS[1])
    event_dates, _ = _calendar(start, start + dt.timedelta(days=2 * last_event))
    n_days = len(dates)

    u = _build_universe(n_symbols, seed)
    order = np.argsort(u.symbols.astype(str), kind="stable").astype(np.int64)
    sorted_symbols = [str(s) for s in u.symbols[order]]
    sorted_row = np.empty(len(order), dtype=np.int64)  # universe index -> sorted row
    sorted_row[order] = np.arange(len(order))
    paths, factors = _simulate_paths(u, n_days, seed, order)
    market_variance = factors.market_variance
    first_adj = paths["adj"][sorted_row, 0]  # universe order, adj_close on the first day
    e = _build_etf_universe(n_etfs, seed)
    split_row = int(sorted_row[u.split_stock])
    price_symbols = sorted_symbols
    etf_missing = np.empty((0, 2), dtype=np.int64)
    if n_etfs:
        etf_paths, etf_missing = _simulate_etf_paths(e, factors, n_days, seed)
        price_symbols = sorted_symbols + e.symbols
        merged = np.argsort(np.array(price_symbols), kind="stable")
        for name in paths:
            paths[name] = np.concatenate((paths[name], etf_paths.pop(name)))[merged]
        split_row = int(np.flatnonzero(merged == split_row)[0])
        price_symbols = [price_symbols[i] for i in merged]
    prices = _prices_frame(
        paths,
        dates,
        price_symbols,
        split_row=split_row,
        split_day=min(SPLIT_DAY, n_days),
    )

    n = u.n_stocks
    stock_symbols = [str(s) for s in u.symbols[:n]]
    etf_symbols = [str(s) for s in u.symbols[n + 1 :]]
    sector_names = np.array(GICS_SECTORS, dtype=object)[u.sector]
    late_symbol = stock_symbols[u.late_stock]
    listing_date = event_dates[LATE_LISTING_DAY]
    split_date = event_dates[SPLIT_DAY]

    instruments = _instruments_frame(u, sector_names, order, e)
    etf_holdings, final_weights = _etf_holdings_frame(
        u, stock_symbols, etf_symbols, dates, listing_in_range=n_days > LATE_LISTING_DAY
    )
    benchmark = _benchmark_frame(dates, seed)
    positions = _positions_frame(u, first_adj)

    etf_betas = np.bincount(u.sector, weights=final_weights * u.beta, minlength=len(GICS_SECTORS))
    fund_betas = np.concatenate(([1.0], etf_betas))  # [SPY, sector ETFs]
    special = e.underlying >= 0
    universe_betas = e.beta.copy()
    universe_betas[special] = e.leverage[special] * fund_betas[e.underlying[special]]
    betas = pd.Series(
        np.concatenate((u.beta, [1.0], etf_betas, universe_betas)),
        index=pd.Index(
            [*stock_symbols, MARKET_SYMBOL, *etf_symbols, *e.symbols], name="symbol", dtype="str"
        ),
        name="beta",
    ).sort_index()
    missing_mask = u.missing_day < n_days
    missing = pd.DataFrame(
        {
            "symbol": pd.array(
                [stock_symbols[i] for i in u.missing_stock[missing_mask]], dtype="str"
            ),
            "date": dates[u.missing_day[missing_mask]],
        }
    ).sort_values(["symbol", "date"], ignore_index=True)
    truth = PlantedTruth(
        betas=betas,
        sectors=pd.Series(
            pd.array(sector_names, dtype="str"),
            index=pd.Index(stock_symbols, name="symbol", dtype="str"),
            name="sector",
        ).sort_index(),
        holidays=holidays,
        missing=missing,
        listings=pd.Series(
            [listing_date],
            index=pd.Index([late_symbol], name="symbol", dtype="str"),
            name="first_date",
        ),
        splits=pd.DataFrame(
            {
                "symbol": pd.array([stock_symbols[u.split_stock]], dtype="str"),
                "date": pd.DatetimeIndex([split_date]),
                "ratio": [SPLIT_RATIO],
            }
        ),
        stock_params=_stock_params(u, stock_symbols, sector_names),
        factor_params=_factor_params(),
        market_variance=pd.Series(market_variance, index=dates, name="market_variance"),
        etf_params=_etf_params(e, universe_betas, event_dates),
        etf_filter_failures=_etf_filter_failures(e),
        etf_missing=_etf_missing(e, etf_missing, dates),
    )
    return DemoMarket(
        prices=prices,
        instruments=instruments,
        benchmark_sector_weights=benchmark,
        etf_holdings=etf_holdings,
        positions=positions,
        truth=truth,
    )


# --------------------------------------------------------------------------------------------
# Small frames


def _instruments_frame(
    u: _Universe, sector_names: npt.NDArray[np.object_], order: IntArray, e: _EtfUniverse
) -> pd.DataFrame:
    n = u.n_stocks
    n_etfs = len(u.symbols) - n
    categories = ["US Large Cap", *(f"Sector {spec.sector}" for spec in _SECTOR_SPECS)]
    frame = pd.DataFrame(
        {
            "symbol": pd.array([str(s) for s in u.symbols], dtype="str"),
            "name": pd.array(u.names, dtype="str"),
            "sector": pd.array([*sector_names, *([None] * n_etfs)], dtype="str"),
            "industry": pd.array([*u.industry, *([None] * n_etfs)], dtype="str"),
            "market_cap": np.concatenate((u.market_cap, np.full(n_etfs, np.nan))),
            "asset_type": pd.array(["stock"] * n + ["etf"] * n_etfs, dtype="str"),
            "currency": pd.array(["USD"] * len(u.symbols), dtype="str"),
            "category": pd.array([*sector_names, *categories], dtype="str"),
            "expense_ratio": np.concatenate(
                (np.full(n, np.nan), np.full(n_etfs, _SECTOR_ETF_EXPENSE))
            ),
        }
    )
    frame = frame.iloc[order].reset_index(drop=True)
    if not e.symbols:
        return frame
    n_universe = len(e.symbols)
    universe = pd.DataFrame(
        {
            "symbol": pd.array(e.symbols, dtype="str"),
            "name": pd.array(e.names, dtype="str"),
            "sector": pd.array([None] * n_universe, dtype="str"),
            "industry": pd.array([None] * n_universe, dtype="str"),
            "market_cap": np.full(n_universe, np.nan),
            "asset_type": pd.array(["etf"] * n_universe, dtype="str"),
            "currency": pd.array(["USD"] * n_universe, dtype="str"),
            "category": pd.array([ETF_CATEGORIES[c] for c in e.category], dtype="str"),
            "expense_ratio": np.where(e.expense_known, e.expense_ratio, np.nan),
        }
    )
    combined = pd.concat((frame, universe), ignore_index=True)
    return combined.sort_values("symbol", kind="stable", ignore_index=True)


def _etf_params(e: _EtfUniverse, betas: FloatArray, event_dates: pd.DatetimeIndex) -> pd.DataFrame:
    special = e.underlying >= 0
    funds = np.array([MARKET_SYMBOL, *(spec.etf for spec in _SECTOR_SPECS)], dtype=object)
    sectors = np.array([*(spec.sector for spec in _SECTOR_SPECS), ""], dtype=object)
    last = pd.DatetimeIndex(
        [event_dates[d] if d >= 0 else pd.NaT for d in e.last_day.tolist()], dtype="datetime64[ns]"
    )
    return pd.DataFrame(
        {
            "category": pd.array([ETF_CATEGORIES[c] for c in e.category], dtype="str"),
            "leverage": e.leverage,
            "underlying": pd.array(
                np.where(special, funds[np.maximum(e.underlying, 0)], ""), dtype="str"
            ),
            "alpha": e.alpha,
            "beta": betas,
            "factor": pd.array(sectors[e.factor], dtype="str"),
            "factor_loading": e.loading,
            "idio_vol": e.idio_vol,
            "expense_ratio": e.expense_ratio,
            "dollar_volume": e.dollar_volume,
            "price0": e.price0,
            "first_date": event_dates[e.listing_day],
            "last_date": last,
            "construction": pd.array(e.construction, dtype="str"),
        },
        index=pd.Index(e.symbols, name="symbol", dtype="str"),
    )


def _etf_filter_failures(e: _EtfUniverse) -> Mapping[str, tuple[str, ...]]:
    constructed = {
        reason: tuple(
            symbol
            for symbol, made in zip(e.symbols, e.construction, strict=True)
            if made == name or (name == "leveraged_inverse" and made in ("leveraged", "inverse"))
        )
        for name, reason in _CONSTRUCTION_REASON.items()
    }
    return MappingProxyType(constructed)


def _etf_missing(e: _EtfUniverse, missing: IntArray, dates: pd.DatetimeIndex) -> pd.DataFrame:
    """``missing``: ``(K, 2)`` (fund index, day) pairs -> the ``symbol, date`` frame, sorted."""
    symbols = np.array(e.symbols, dtype=object)
    return pd.DataFrame(
        {
            "symbol": pd.array(symbols[missing[:, 0]], dtype="str"),
            "date": dates[missing[:, 1]],
        }
    )


def _etf_holdings_frame(
    u: _Universe,
    stock_symbols: list[str],
    etf_symbols: list[str],
    dates: pd.DatetimeIndex,
    *,
    listing_in_range: bool,
) -> tuple[pd.DataFrame, FloatArray]:
    """Cap weights of listed members on day 0 and (if in range) the listing day."""
    n_sectors = len(_SECTOR_SPECS)
    asof_days = [0, LATE_LISTING_DAY] if listing_in_range else [0]
    parts = []
    weights = np.zeros(u.n_stocks)
    for day in asof_days:
        listed = u.listing_day <= day
        cap = np.where(listed, u.market_cap, 0.0)
        total = np.bincount(u.sector, weights=cap, minlength=n_sectors)
        weights = cap / total[u.sector]
        keep = np.flatnonzero(listed)
        parts.append(
            pd.DataFrame(
                {
                    "etf": pd.array([etf_symbols[s] for s in u.sector[keep]], dtype="str"),
                    "asof_date": dates[np.full(len(keep), day)],
                    "symbol": pd.array([stock_symbols[i] for i in keep], dtype="str"),
                    "weight": weights[keep],
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sort_values(["etf", "asof_date", "symbol"], ignore_index=True)
    return frame, weights


def _benchmark_frame(dates: pd.DatetimeIndex, seed: int) -> pd.DataFrame:
    """S&P-like sector weights every ``BENCHMARK_REBALANCE_DAYS`` as a log random walk."""
    base = np.log(np.array([spec.benchmark_weight for spec in _SECTOR_SPECS]))
    asof_days = np.arange(0, len(dates), BENCHMARK_REBALANCE_DAYS)
    steps = np.zeros((len(asof_days), len(base)))
    for k in range(1, len(asof_days)):
        steps[k] = 0.02 * np.random.default_rng([seed, 3, k]).standard_normal(len(base))
    log_weights = base + np.cumsum(steps, axis=0)
    weights = np.exp(log_weights)
    weights /= weights.sum(axis=1, keepdims=True)
    n_sectors = len(base)
    return pd.DataFrame(
        {
            "benchmark": pd.array([BENCHMARK] * weights.size, dtype="str"),
            "asof_date": dates[np.repeat(asof_days, n_sectors)],
            "sector": pd.array(list(GICS_SECTORS) * len(asof_days), dtype="str"),
            "weight": weights.ravel(),
        }
    )


def _positions_frame(u: _Universe, first_adj: FloatArray) -> pd.DataFrame:
    """Whole-share positions worth ``position_values`` at the first day's adjusted close."""
    price = first_adj[u.position_columns]
    quantity = np.maximum(np.rint(u.position_values / price), 1.0)
    symbols = [str(s) for s in u.symbols[u.position_columns]]
    frame = pd.DataFrame(
        {
            "account": pd.array([ACCOUNT] * len(symbols), dtype="str"),
            "symbol": pd.array(symbols, dtype="str"),
            "quantity": quantity,
            "cost_basis": quantity * price,
            "currency": pd.array(["USD"] * len(symbols), dtype="str"),
        }
    )
    return frame.sort_values("symbol", ignore_index=True)


def _stock_params(
    u: _Universe, stock_symbols: list[str], sector_names: npt.NDArray[np.object_]
) -> pd.DataFrame:
    factor_vol = np.array([spec.factor_vol for spec in _SECTOR_SPECS])[u.sector]
    long_run = np.sqrt((u.beta * _MARKET_VOL) ** 2 + (u.loading * factor_vol) ** 2 + u.idio_vol**2)
    return pd.DataFrame(
        {
            "sector": pd.array(sector_names, dtype="str"),
            "alpha": u.alpha,
            "beta": u.beta,
            "sector_loading": u.loading,
            "idio_vol": u.idio_vol,
            "garch_alpha": u.idio_garch_alpha,
            "garch_beta": u.idio_garch_beta,
            "half_life": _half_life(u.idio_garch_alpha + u.idio_garch_beta),
            "long_run_vol": long_run,
            "market_cap": u.market_cap,
        },
        index=pd.Index(stock_symbols, name="symbol", dtype="str"),
    ).sort_index()


def _factor_params() -> pd.DataFrame:
    a_m, b_m = _MARKET_GARCH
    a_f, b_f = _SECTOR_GARCH
    rows = [
        ("market", _MARKET_MEAN, _MARKET_VOL, a_m, b_m, *_MARKET_SPIKE),
        *((spec.sector, 0.0, spec.factor_vol, a_f, b_f, 0.0, 1.0) for spec in _SECTOR_SPECS),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "factor", "mean", "vol", "garch_alpha", "garch_beta", "spike_prob",
            "spike_multiplier",
        ],
    ).set_index("factor")  # fmt: skip
    persistence = (frame["garch_alpha"] + frame["garch_beta"]).to_numpy()
    frame.insert(4, "half_life", _half_life(persistence))
    return frame
