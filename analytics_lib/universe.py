"""Investable universe: candidate funds, the leveraged/inverse flag and the data-quality filter.

Currently implemented: :class:`UniverseParams`, :func:`is_leveraged_inverse` and
:func:`select_universe` (-> :class:`Universe`).

The universe is evaluated on the rows of the price panel it is given and nothing later: the last
row is the as-of date, so a backtest slices the panel at each rebalance date and calls
:func:`select_universe` again (no look-ahead). Windows are trading days (panel rows).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd

from analytics_lib._typing import ASSET_TYPES, TRADING_DAYS_PER_YEAR, PricePanel
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.validation import (
    require_columns,
    require_date_index,
    require_finite_number,
    require_float_values,
    require_fraction,
    require_frame,
    require_positive_int,
    require_returns_values,
)

__all__ = [
    "EXCLUSION_REASONS",
    "LEVERAGED_INVERSE_PATTERN",
    "Universe",
    "UniverseParams",
    "is_leveraged_inverse",
    "select_universe",
]

EXCLUSION_REASONS: Final[tuple[str, ...]] = (
    "leveraged_inverse",
    "no_price_data",
    "non_positive_price",
    "insufficient_history",
    "too_many_missing",
    "stale_price",
    "below_min_price",
    "no_dollar_volume",
    "below_min_dollar_volume",
)
"""Exclusion reasons in the order the rules are applied; a symbol gets the first that fails."""

# Words that, after "short"/"ultra short", make it a maturity (bond) description, not a bet
# against the market: "Short-Term Treasury", "Ultra-Short Income", "Ultrashort Bond".
_MATURITY_WORDS: Final = (
    r"term|duration|maturity|dated|bonds?|income|treasury|treasuries|muni|municipal|government"
)
_LEVERAGE_MULTIPLE: Final = (
    r"(?<![\w.])(?:-\d+(?:\.\d+)?|(?:[2-9]|[1-9]\d+)(?:\.\d+)?|1\.\d*[1-9]\d*)x\b"
)
_ULTRA: Final = rf"\bultra(?:pro|[\s-]?short)?\b(?![\s-]*(?:short[\s-]*)?(?:{_MATURITY_WORDS})\b)"
_SHORT: Final = rf"(?<!long/)(?<!long-)(?<!long )\bshort\b(?![\s-]*(?:{_MATURITY_WORDS})\b)"
_WORDS: Final = r"\b(?:leveraged|inverse|bear)\b"

LEVERAGED_INVERSE_PATTERN: Final[re.Pattern[str]] = re.compile(
    "|".join((_LEVERAGE_MULTIPLE, _ULTRA, _SHORT, _WORDS)), re.IGNORECASE
)
"""Case-insensitive rule flagging a fund as leveraged or inverse from its name or category.

Matches any of

* a leverage multiple written ``<number>x``: negative (``-1x``, ``-3X``) or above one (``2x``,
  ``3X``, ``1.5x``), not preceded by a letter, digit or dot;
* the words ``leveraged``, ``inverse``, ``bear``;
* ``ultra``, ``ultrapro``, ``ultrashort``, ``ultra short``, ``ultra-short`` as whole words,
  unless followed by a maturity word (``term``, ``duration``, ``maturity``, ``dated``,
  ``bond(s)``, ``income``, ``treasury``/``treasuries``, ``muni``/``municipal``,
  ``government``), optionally after ``short``;
* ``short`` as a whole word, unless followed by a maturity word or preceded by ``long/``,
  ``long-`` or ``long `` (long/short funds).

So "ProShares UltraShort 20+ Year Treasury", "ProShares Short S&P500", "Direxion Daily
Semiconductor Bull 3X" and the category "Trading--Inverse Equity" are flagged, while
"Schwab Short-Term US Treasury", "iShares Short Treasury Bond", "JPMorgan Ultra-Short Income",
the category "Ultrashort Bond", "First Trust Long/Short Equity" and "Global X ..." are not.
"""


def is_leveraged_inverse(text: str) -> bool:
    """Whether ``text`` (a fund's name or category) matches :data:`LEVERAGED_INVERSE_PATTERN`."""
    if not isinstance(text, str):
        raise AnalyticsError(f"text must be a string, got {type(text).__name__}")
    return LEVERAGED_INVERSE_PATTERN.search(_normalise_text(text)) is not None


def _normalise_text(text: str) -> str:
    # "Long / Short" -> "Long/Short" so the fixed-width look-behind sees it.
    return re.sub(r"\s*/\s*", "/", text)


@dataclass(frozen=True)
class UniverseParams:
    """Rules of the investable universe (validated on construction).

    Attributes
    ----------
    asset_types
        Instrument ``asset_type`` values that are candidates (default ETFs only, as in the seed's
        ETF universe). Each must be one of :data:`analytics_lib._typing.ASSET_TYPES`.
    min_history_days
        Minimum number of trading days (panel rows) from a symbol's first price to the as-of
        row, i.e. of daily returns it could have (default 252 = one year of returns = 253 prices,
        exactly what 12-1 momentum and the one-year volatility in
        :mod:`analytics_lib.scoring` need).
    max_missing_fraction
        Largest share of rows without a price since the symbol's first price (default 0.10).
    max_stale_days
        Largest number of rows since the symbol's last price (default 5: a fund with no price in
        the last week is treated as delisted or halted).
    min_price
        Minimum last price (default 5.0).
    min_median_dollar_volume
        Minimum median of ``close × volume`` over the last ``dollar_volume_window`` rows
        (default 1,000,000). ``0`` disables the liquidity rules.
    dollar_volume_window
        Rows of dollar volume the median is taken over (default 63, one quarter).
    leveraged_inverse_symbols
        Symbols flagged as leveraged/inverse whatever their name says (sorted, de-duplicated).
    """

    asset_types: tuple[str, ...] = ("etf",)
    min_history_days: int = TRADING_DAYS_PER_YEAR
    max_missing_fraction: float = 0.10
    max_stale_days: int = 5
    min_price: float = 5.0
    min_median_dollar_volume: float = 1_000_000.0
    dollar_volume_window: int = 63
    leveraged_inverse_symbols: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        types = _string_tuple(self.asset_types, "asset_types")
        if not types:
            raise AnalyticsError("asset_types must name at least one asset type")
        unknown = sorted(set(types) - set(ASSET_TYPES))
        if unknown:
            raise AnalyticsError(
                f"asset_types has unknown type(s) {', '.join(unknown)}; "
                f"expected some of {', '.join(ASSET_TYPES)}"
            )
        object.__setattr__(self, "asset_types", tuple(dict.fromkeys(types)))
        require_positive_int(self.min_history_days, "min_history_days")
        require_fraction(self.max_missing_fraction, "max_missing_fraction")
        require_positive_int(self.max_stale_days, "max_stale_days", minimum=0)
        if require_finite_number(self.min_price, "min_price") < 0:
            raise AnalyticsError(f"min_price must be >= 0, got {self.min_price!r}")
        volume = require_finite_number(self.min_median_dollar_volume, "min_median_dollar_volume")
        if volume < 0:
            raise AnalyticsError(
                f"min_median_dollar_volume must be >= 0, got {self.min_median_dollar_volume!r}"
            )
        require_positive_int(self.dollar_volume_window, "dollar_volume_window")
        symbols = _string_tuple(self.leveraged_inverse_symbols, "leveraged_inverse_symbols")
        object.__setattr__(self, "leveraged_inverse_symbols", tuple(sorted(set(symbols))))


def _string_tuple(value: object, name: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise AnalyticsError(f"{name} must be a tuple of strings, got {value!r}")
    items = tuple(value)
    bad = [item for item in items if not isinstance(item, str) or not item]
    if bad:
        raise AnalyticsError(f"{name} must hold non-empty strings, got {bad[0]!r}")
    return items


@dataclass(frozen=True)
class Universe:
    """The eligible symbols as of the last row of the price panel, with the reasons for the rest.

    Attributes
    ----------
    as_of
        Date of the last row of the price panel.
    eligible
        Sorted symbols that passed every rule.
    exclusions
        One row per candidate that is not eligible: ``symbol``, ``reason`` (first failing rule in
        :data:`EXCLUSION_REASONS` order), sorted by rule order then symbol.
    leveraged_inverse
        Sorted candidates flagged leveraged/inverse (kept for data collection, never eligible).
    counts
        ``candidates`` (instruments of the selected asset types), then one count per reason in
        :data:`EXCLUSION_REASONS` (zeros included), then ``eligible``; the reasons and
        ``eligible`` add up to ``candidates``.
    quality
        One row per candidate (index ``symbol``): ``leveraged_inverse``, ``history_days``,
        ``missing_fraction``, ``stale_days``, ``last_price``, ``median_dollar_volume`` (``NaN``
        when unknown) and ``reason`` (``''`` when eligible).
    """

    as_of: pd.Timestamp
    eligible: tuple[str, ...]
    exclusions: pd.DataFrame
    leveraged_inverse: tuple[str, ...]
    counts: dict[str, int]
    quality: pd.DataFrame


def _validate_instruments(instruments: object) -> pd.DataFrame:
    frame = require_frame(instruments, "instruments")
    require_columns(frame, ("symbol", "name", "category", "asset_type"), "instruments")
    symbols = frame["symbol"]
    if symbols.isna().any() or not all(isinstance(s, str) and s for s in symbols):
        raise AnalyticsError("instruments.symbol must hold non-empty strings")
    if symbols.duplicated().any():
        dups = sorted(set(symbols[symbols.duplicated()]))
        raise AnalyticsError(f"instruments has duplicate symbol(s): {', '.join(dups[:10])}")
    return frame


def _dollar_volume_median(
    dollar_volume: object, as_of: pd.Timestamp, symbols: pd.Index, window: int
) -> np.ndarray:
    frame = require_frame(dollar_volume, "dollar_volume")
    require_date_index(frame, "dollar_volume")
    if frame.columns.has_duplicates:
        dup = frame.columns[frame.columns.duplicated()][0]
        raise AnalyticsError(f"dollar_volume has duplicate symbol column {dup!r}")
    recent = frame.loc[frame.index <= as_of].iloc[-window:]
    values = require_float_values(recent, "dollar_volume")
    if (values < 0).any():
        raise AnalyticsError("dollar_volume must be >= 0; found a negative value")
    median = pd.DataFrame(values, columns=recent.columns).median(axis=0, skipna=True)
    return median.reindex(symbols).to_numpy(dtype=np.float64, na_value=np.nan)


def select_universe(
    instruments: pd.DataFrame,
    prices: PricePanel,
    dollar_volume: pd.DataFrame | None = None,
    params: UniverseParams | None = None,
) -> Universe:
    """Select the eligible symbols as of the last row of ``prices``.

    Parameters
    ----------
    instruments
        One row per instrument: ``symbol`` (unique), ``name``, ``category`` (may be null),
        ``asset_type``; other columns (e.g. ``expense_ratio``) are ignored here.
    prices
        Dates x symbols adjusted closes (sorted unique tz-naive dates); the last row is the
        as-of date. Symbols not in ``instruments`` are ignored.
    dollar_volume
        Dates x symbols ``close × volume``, or ``None`` (the liquidity rules are then skipped).
        Only rows dated on or before the as-of date are used; ``NaN`` = unknown.
    params
        The rules (default :class:`UniverseParams`).

    Returns
    -------
    Universe

    Notes
    -----
    Candidates are the instruments whose ``asset_type`` is in ``params.asset_types``. With
    :math:`T` rows, :math:`f_i` the row of symbol :math:`i`'s first positive price, :math:`\\ell_i`
    the row of its last one and :math:`n_i` its number of prices, a candidate is excluded with the
    first failing rule of

    1. ``leveraged_inverse``: its symbol is in ``params.leveraged_inverse_symbols``, or (for any
       asset type but ``stock``) its name or category matches :data:`LEVERAGED_INVERSE_PATTERN`;
    2. ``no_price_data``: no column in ``prices`` or no price at all;
    3. ``non_positive_price``: a price :math:`\\le 0`;
    4. ``insufficient_history``: history :math:`h_i = T - 1 - f_i <` ``min_history_days``
       (trading days since the first price);
    5. ``too_many_missing``: :math:`1 - n_i / (h_i + 1) >` ``max_missing_fraction`` (share of
       rows without a price since the first one);
    6. ``stale_price``: :math:`T - 1 - \\ell_i >` ``max_stale_days``;
    7. ``below_min_price``: last price :math:`P_{\\ell_i,i} <` ``min_price``;
    8. ``no_dollar_volume``: no dollar volume in the window (only when ``dollar_volume`` is given
       and ``min_median_dollar_volume > 0``);
    9. ``below_min_dollar_volume``: median dollar volume over the last ``dollar_volume_window``
       rows :math:`<` ``min_median_dollar_volume`` (same condition).

    Raises
    ------
    AnalyticsError
        When an input has the wrong type or shape (the message names it).
    """
    params = UniverseParams() if params is None else params
    if not isinstance(params, UniverseParams):
        raise AnalyticsError(f"params must be a UniverseParams, got {type(params).__name__}")
    frame = _validate_instruments(instruments)
    panel, values = require_returns_values(prices, "prices")
    as_of = pd.Timestamp(panel.index[-1])

    asset_type = frame["asset_type"].astype(object)
    candidates = frame.loc[asset_type.isin(params.asset_types).to_numpy()]
    candidates = candidates.sort_values("symbol", kind="stable")
    symbols = pd.Index(candidates["symbol"].astype(str).to_numpy(dtype=object), name="symbol")
    n = len(symbols)

    text = (
        candidates["name"].astype(object).fillna("").astype(str).to_numpy(dtype=object)
        + " | "
        + candidates["category"].astype(object).fillna("").astype(str).to_numpy(dtype=object)
    )
    by_text = pd.Series(text, dtype=object).str.replace(r"\s*/\s*", "/", regex=True)
    flagged_text = by_text.str.contains(LEVERAGED_INVERSE_PATTERN, regex=True).to_numpy(bool)
    is_stock = (candidates["asset_type"].astype(object) == "stock").to_numpy(bool)
    leveraged = (flagged_text & ~is_stock) | symbols.isin(params.leveraged_inverse_symbols)

    position = panel.columns.get_indexer(symbols)
    in_panel = position >= 0
    rows = values.shape[0]
    sub = np.full((rows, n), np.nan)
    sub[:, in_panel] = values[:, position[in_panel]]
    priced = np.isfinite(sub)
    non_positive = (priced & (sub <= 0)).any(axis=0)
    has_price = priced.any(axis=0)
    first = np.where(has_price, priced.argmax(axis=0), rows)
    last = np.where(has_price, rows - 1 - priced[::-1].argmax(axis=0), -1)
    span = rows - first
    history = span - 1
    observed = priced.sum(axis=0)
    missing_fraction = np.where(span > 0, 1.0 - observed / np.maximum(span, 1), 1.0)
    stale_days = np.where(has_price, rows - 1 - last, rows)
    last_price = np.where(has_price, sub[np.maximum(last, 0), np.arange(n)], np.nan)

    liquidity = dollar_volume is not None and params.min_median_dollar_volume > 0
    if dollar_volume is not None:
        median_dv = _dollar_volume_median(
            dollar_volume, as_of, symbols, params.dollar_volume_window
        )
    else:
        median_dv = np.full(n, np.nan)

    failing = {
        "leveraged_inverse": leveraged,
        "no_price_data": ~has_price,
        "non_positive_price": non_positive,
        "insufficient_history": history < params.min_history_days,
        "too_many_missing": missing_fraction > params.max_missing_fraction,
        "stale_price": stale_days > params.max_stale_days,
        "below_min_price": last_price < params.min_price,
        "no_dollar_volume": np.isnan(median_dv) & liquidity,
        "below_min_dollar_volume": (median_dv < params.min_median_dollar_volume) & liquidity,
    }
    reason = np.full(n, "", dtype=object)
    for name in reversed(EXCLUSION_REASONS):
        reason[failing[name]] = name

    quality = pd.DataFrame(
        {
            "leveraged_inverse": leveraged,
            "history_days": np.maximum(history, 0).astype(np.int64),
            "missing_fraction": missing_fraction,
            "stale_days": stale_days.astype(np.int64),
            "last_price": last_price,
            "median_dollar_volume": median_dv,
            "reason": reason.astype(str),
        },
        index=symbols,
    )
    order = {name: i for i, name in enumerate(EXCLUSION_REASONS)}
    excluded = quality.loc[quality["reason"] != "", ["reason"]]
    excluded = excluded.assign(_order=excluded["reason"].map(order)).reset_index()
    exclusions = (
        excluded.sort_values(["_order", "symbol"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )
    eligible = tuple(str(s) for s in symbols[reason == ""])
    counts = {"candidates": n}
    counts.update({name: int((reason == name).sum()) for name in EXCLUSION_REASONS})
    counts["eligible"] = len(eligible)
    return Universe(
        as_of=as_of,
        eligible=eligible,
        exclusions=exclusions,
        leveraged_inverse=tuple(str(s) for s in symbols[leveraged]),
        counts=counts,
        quality=quality,
    )
