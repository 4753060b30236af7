"""Baskets: named custom indexes of tickers with weights.

Currently implemented:

- definitions and validation: :func:`validate_basket_name`, :func:`validate_basket_definition`
  (-> :class:`BasketDefinition`), :func:`resolve_weights`, :func:`etf_basket_weights`;
- return series for many baskets at once: :func:`basket_returns` (-> :class:`BasketReturns`),
  daily-rebalanced constant weights or buy-and-hold drift between monthly / quarterly rebalances;
- analytics of one basket: :func:`basket_analytics` (-> :class:`BasketAnalytics`);
- the equity curve and drawdown of a return series: :func:`equity_curve`.

Every function is pure: inputs are never mutated, invalid input raises
:class:`~analytics_lib.exceptions.AnalyticsError` naming the argument and the problem.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from analytics_lib._typing import TRADING_DAYS_PER_YEAR, FloatArray
from analytics_lib.exceptions import AnalyticsError, InsufficientDataError
from analytics_lib.validation import (
    require_columns,
    require_date_index,
    require_float_values,
    require_fraction,
    require_frame,
    require_positive_int,
    require_returns_panel,
    require_returns_values,
    require_series,
    require_unique_index,
)

__all__ = [
    "BASKET_NAME_MAX",
    "CUSTOM_WEIGHT_TOLERANCE",
    "ETF_DEFAULT_TOP_N",
    "REBALANCE_FREQUENCIES",
    "WEIGHTING_METHODS",
    "BasketAnalytics",
    "BasketDefinition",
    "BasketReturns",
    "PortfolioComparison",
    "RebalanceFrequency",
    "WeightingMethod",
    "basket_analytics",
    "basket_returns",
    "equity_curve",
    "etf_basket_weights",
    "resolve_weights",
    "validate_basket_definition",
    "validate_basket_name",
]

BASKET_NAME_MAX = 100
"""Longest allowed basket name, in characters."""

CUSTOM_WEIGHT_TOLERANCE = 0.01
"""Custom weights must sum to 1 within this absolute tolerance; they are then normalised."""

ETF_DEFAULT_TOP_N = 10
"""Holdings kept by :func:`etf_basket_weights` when neither ``top_n`` nor ``min_weight`` given."""

WEIGHT_SUM_TOLERANCE = 1e-6
"""Resolved weights (``basket_returns``, ``basket_analytics``) must sum to 1 within this."""

WeightingMethod: TypeAlias = Literal["equal", "market_cap", "custom"]
WEIGHTING_METHODS: tuple[str, ...] = ("equal", "market_cap", "custom")

RebalanceFrequency: TypeAlias = Literal["daily", "monthly", "quarterly"]
REBALANCE_FREQUENCIES: tuple[str, ...] = ("daily", "monthly", "quarterly")

_NAME_PATTERN = re.compile(r"[A-Za-z0-9 _.\-]+")
_NAME_BAD_CHAR = re.compile(r"[^A-Za-z0-9 _.\-]")
_LIST_LIMIT = 20


def _listing(items: Iterable[object], limit: int = _LIST_LIMIT) -> str:
    """Comma-separated listing, truncated after ``limit`` items with a count of the rest."""
    shown = [str(item) for item in items]
    if len(shown) <= limit:
        return ", ".join(shown)
    return ", ".join(shown[:limit]) + f", … and {len(shown) - limit} more"


# --------------------------------------------------------------------------------------------
# Definitions and validation
# --------------------------------------------------------------------------------------------


def validate_basket_name(name: object) -> str:
    """Validate a basket name and return it unchanged.

    Parameters
    ----------
    name
        Candidate basket name.

    Returns
    -------
    str
        ``name`` itself (it is never stripped or otherwise rewritten).

    Raises
    ------
    AnalyticsError
        If ``name`` is not a string, is empty, is longer than :data:`BASKET_NAME_MAX`
        characters, starts or ends with a space, or contains a character other than ASCII
        letters, digits, space, ``_``, ``-`` and ``.``.
    """
    if not isinstance(name, str):
        raise AnalyticsError(f"name must be a string, got {type(name).__name__}")
    if not name:
        raise AnalyticsError("name must not be empty")
    if len(name) > BASKET_NAME_MAX:
        raise AnalyticsError(
            f"name is {len(name)} characters long; the maximum is {BASKET_NAME_MAX}"
        )
    if name != name.strip(" "):
        raise AnalyticsError(f"name must not start or end with a space: {name!r}")
    if not _NAME_PATTERN.fullmatch(name):
        bad = sorted(set(_NAME_BAD_CHAR.findall(name)))
        raise AnalyticsError(
            "name may contain only letters, digits, space, '_', '-' and '.'; "
            f"found {', '.join(repr(c) for c in bad)} in {name!r}"
        )
    return name


def _check_weight_values(tickers: Sequence[str], weights: FloatArray, arg: str = "weights") -> None:
    """Raise naming the tickers whose weights are non-finite or negative."""
    non_finite = [t for t, w in zip(tickers, weights, strict=True) if not math.isfinite(w)]
    if non_finite:
        raise AnalyticsError(f"{arg} must be finite; non-finite for: {_listing(non_finite)}")
    negative = [t for t, w in zip(tickers, weights, strict=True) if w < 0.0]
    if negative:
        raise AnalyticsError(f"{arg} must be >= 0; negative for: {_listing(negative)}")


def _normalise_exactly(weights: FloatArray) -> FloatArray:
    """Divide by the sum, then put the rounding residual on the largest weight.

    After this, ``math.fsum(result)`` is 1 to within one unit in the last place.
    """
    out = weights / math.fsum(weights)
    residual = 1.0 - math.fsum(out)
    if residual != 0.0:
        k = int(np.argmax(out))
        out[k] = out[k] + residual
    return out


@dataclass(frozen=True)
class BasketDefinition:
    """A validated basket: tickers, weighting method and (custom only) weights.

    Build one with :func:`validate_basket_definition` (which also checks the tickers against
    the known symbols and normalises custom weights). Constructing it directly, e.g. when a
    stored basket is loaded, re-checks the structural invariants below but not the symbols.

    Attributes
    ----------
    tickers
        Unique upper-case tickers, in the user's order (non-empty).
    method
        ``"equal"``, ``"market_cap"`` or ``"custom"``.
    weights
        One non-negative finite weight per ticker summing to 1 (within 1e-9) when
        ``method == "custom"``; ``None`` otherwise.
    """

    tickers: tuple[str, ...]
    method: WeightingMethod
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.tickers, tuple) or not self.tickers:
            raise AnalyticsError("tickers must be a non-empty tuple of strings")
        if not all(isinstance(t, str) for t in self.tickers):
            raise AnalyticsError("tickers must contain only strings")
        if len(set(self.tickers)) != len(self.tickers):
            raise AnalyticsError("tickers must be unique")
        if self.method not in WEIGHTING_METHODS:
            raise AnalyticsError(
                f"method must be one of {', '.join(WEIGHTING_METHODS)}, got {self.method!r}"
            )
        if self.method != "custom":
            if self.weights is not None:
                raise AnalyticsError(f"weights must be None for method={self.method!r}")
            return
        if self.weights is None:
            raise AnalyticsError("weights are required for method='custom'")
        if len(self.weights) != len(self.tickers):
            raise AnalyticsError(
                f"weights has {len(self.weights)} values for {len(self.tickers)} tickers"
            )
        values = np.asarray(self.weights, dtype=np.float64)
        _check_weight_values(self.tickers, values)
        total = math.fsum(values)
        if abs(total - 1.0) > 1e-9:
            raise AnalyticsError(f"weights must sum to 1, got {total!r}")


def validate_basket_definition(
    *,
    tickers: Sequence[str],
    weights: Sequence[float] | None = None,
    method: str = "equal",
    known_symbols: Iterable[str],
) -> BasketDefinition:
    """Validate the tickers, weighting method and weights of a basket.

    Parameters
    ----------
    tickers
        The basket's tickers. They are **normalised by upper-casing** (``"aapl"`` becomes
        ``"AAPL"``), because stored symbols are upper-case; nothing else is rewritten
        (surrounding spaces make a ticker unknown).
    weights
        Custom weights, one per ticker, in the same order. Only with ``method="custom"``.
    method
        ``"equal"`` (default), ``"market_cap"`` or ``"custom"``.
    known_symbols
        Every symbol the instruments table knows (any iterable of strings).

    Returns
    -------
    BasketDefinition
        With upper-cased tickers in the given order and, for ``"custom"``, weights normalised
        to sum to 1.

    Raises
    ------
    AnalyticsError
        Checked in this order: method not one of the three; ``tickers`` not a sequence of
        strings; empty basket; duplicate tickers (after upper-casing, all listed, sorted);
        unknown tickers (all listed, sorted); weights given for a non-custom method; custom
        without weights; weights count different from tickers count (both numbers given);
        negative or non-finite weights (the tickers named); custom weights whose sum is not
        within 1 ± :data:`CUSTOM_WEIGHT_TOLERANCE` (the sum given).

    Notes
    -----
    Custom weights within tolerance are normalised: :math:`w_i \\leftarrow w_i / \\sum_j w_j`,
    with the floating-point residual of :math:`1 - \\sum_i w_i` added to the largest weight, so
    the stored weights sum to 1 to within one unit in the last place.
    """
    if method not in WEIGHTING_METHODS:
        raise AnalyticsError(
            f"method must be one of {', '.join(WEIGHTING_METHODS)}, got {method!r}"
        )
    if isinstance(tickers, str) or not isinstance(tickers, Sequence):
        raise AnalyticsError(f"tickers must be a sequence of strings, got {type(tickers).__name__}")
    if len(tickers) == 0:
        raise AnalyticsError("tickers is empty: a basket needs at least one ticker")
    not_str = [repr(t) for t in tickers if not isinstance(t, str)]
    if not_str:
        raise AnalyticsError(f"tickers must be strings; got {_listing(not_str)}")
    if isinstance(known_symbols, str):
        raise AnalyticsError("known_symbols must be an iterable of symbols, not one string")
    upper = tuple(t.upper() for t in tickers)
    duplicates = sorted({t for t, count in Counter(upper).items() if count > 1})
    if duplicates:
        raise AnalyticsError(f"duplicate tickers: {_listing(duplicates)}")
    known = frozenset(known_symbols)
    unknown = sorted(t for t in upper if t not in known)
    if unknown:
        raise AnalyticsError(
            f"unknown tickers ({len(unknown)}): {', '.join(repr(t) for t in unknown)}"
        )
    if method != "custom":
        if weights is not None:
            raise AnalyticsError(
                f"weights are only accepted with method='custom', got method={method!r}"
            )
        return BasketDefinition(tickers=upper, method=cast(WeightingMethod, method))
    if weights is None:
        raise AnalyticsError("method='custom' requires weights")
    if isinstance(weights, str) or not isinstance(weights, Sequence | np.ndarray):
        raise AnalyticsError(f"weights must be a sequence of numbers, got {weights!r}")
    if any(isinstance(w, bool) or not isinstance(w, int | float | np.number) for w in weights):
        raise AnalyticsError(f"weights must be numbers, got {list(weights)!r}")
    if len(weights) != len(upper):
        raise AnalyticsError(
            f"weights count ({len(weights)}) does not match tickers count ({len(upper)})"
        )
    values = np.asarray(weights, dtype=np.float64)
    _check_weight_values(upper, values)
    total = math.fsum(values)
    if abs(total - 1.0) > CUSTOM_WEIGHT_TOLERANCE:
        raise AnalyticsError(
            f"custom weights must sum to 1 ± {CUSTOM_WEIGHT_TOLERANCE}, got sum {total:.6g}"
        )
    normalised = _normalise_exactly(values)
    return BasketDefinition(
        tickers=upper, method="custom", weights=tuple(float(w) for w in normalised)
    )


def resolve_weights(
    definition: BasketDefinition, market_caps: pd.Series | None = None
) -> pd.Series:
    """Resolve a basket definition to weights that sum to 1.

    Parameters
    ----------
    definition
        A :class:`BasketDefinition`.
    market_caps
        Market capitalisation by symbol. Required for ``method="market_cap"``; ignored for
        the other methods (so callers may always pass it). Extra symbols are ignored.

    Returns
    -------
    pd.Series
        Float weights named ``weight``, indexed by ``symbol`` in the definition's order.

    Raises
    ------
    AnalyticsError
        If ``definition`` is not a :class:`BasketDefinition`; for ``"market_cap"`` if
        ``market_caps`` is missing, not a Series, has duplicate symbols, or lacks a positive
        finite cap for any ticker (every such ticker named).

    Notes
    -----
    equal: :math:`w_i = 1/N`; market_cap: :math:`w_i = c_i / \\sum_j c_j`;
    custom: the stored (already normalised) weights.
    """
    if not isinstance(definition, BasketDefinition):
        raise AnalyticsError(
            f"definition must be a BasketDefinition, got {type(definition).__name__}"
        )
    tickers = list(definition.tickers)
    index = pd.Index(tickers, name="symbol")
    if definition.method == "equal":
        values = np.full(len(tickers), 1.0 / len(tickers))
    elif definition.method == "custom":
        values = np.asarray(definition.weights, dtype=np.float64)  # set for custom
    else:
        if market_caps is None:
            raise AnalyticsError("market_caps is required for method='market_cap'")
        caps = require_series(market_caps, "market_caps")
        require_unique_index(caps, "market_caps")
        aligned = pd.Series(require_float_values(caps, "market_caps"), index=caps.index).reindex(
            index
        )
        arr = aligned.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = [t for t, c in zip(tickers, arr, strict=True) if not (math.isfinite(c) and c > 0)]
        if bad:
            raise AnalyticsError(
                f"market_caps has no positive finite market cap for: {', '.join(sorted(bad))}"
            )
        values = _normalise_exactly(arr)
    return pd.Series(values, index=index, name="weight", dtype=np.float64)


def etf_basket_weights(
    holdings: pd.DataFrame,
    etf: str,
    *,
    top_n: int | None = None,
    min_weight: float | None = None,
    as_of: str | dt.date | None = None,
) -> pd.Series:
    """Seed basket weights from an ETF's holdings.

    Parameters
    ----------
    holdings
        Long frame with columns ``etf, asof_date, symbol, weight`` (the ``etf_holdings``
        table). ``asof_date`` may be dates or ISO strings.
    etf
        The ETF whose holdings to use (exact match).
    top_n
        Keep the ``top_n`` largest holdings by weight (ties broken by symbol, ascending).
    min_weight
        Keep holdings with ``weight >= min_weight`` (in (0, 1]). Exclusive with ``top_n``;
        when neither is given, ``top_n`` = :data:`ETF_DEFAULT_TOP_N`.
    as_of
        Use the latest snapshot dated on or before this date (anything
        :class:`pandas.Timestamp` accepts); the latest snapshot overall when ``None``.

    Returns
    -------
    pd.Series
        Weights named ``weight`` indexed by ``symbol``, largest first, summing to 1.

    Raises
    ------
    AnalyticsError
        Both ``top_n`` and ``min_weight`` given; bad ``top_n`` / ``min_weight``; missing
        columns; unparseable dates or weights; unknown ETF; no snapshot on or before
        ``as_of``; duplicate symbols, negative or non-finite weights in the snapshot (named);
        empty selection; selected weights summing to zero.

    Notes
    -----
    With :math:`S` the selected holdings of the snapshot, :math:`w_i = h_i / \\sum_{j\\in S} h_j`.
    """
    if top_n is not None and min_weight is not None:
        raise AnalyticsError("give either top_n or min_weight, not both")
    keep_n = 0
    if min_weight is not None:
        min_weight = require_fraction(min_weight, "min_weight", allow_zero=False)
    else:
        keep_n = require_positive_int(ETF_DEFAULT_TOP_N if top_n is None else top_n, "top_n")
    frame = require_frame(holdings, "holdings")
    require_columns(frame, ("etf", "asof_date", "symbol", "weight"), "holdings")
    sub = frame.loc[frame["etf"] == etf, ["asof_date", "symbol", "weight"]]
    if sub.empty:
        available = sorted({str(e) for e in frame["etf"].dropna().unique()})
        raise AnalyticsError(
            f"etf {etf!r} has no rows in holdings (ETFs present: {_listing(available) or 'none'})"
        )
    try:
        dates = pd.to_datetime(sub["asof_date"])
    except (TypeError, ValueError) as exc:
        raise AnalyticsError(f"holdings.asof_date has unparseable dates: {exc}") from None
    if dates.isna().any():
        raise AnalyticsError(f"holdings.asof_date is missing for ETF {etf!r}")
    if as_of is not None:
        try:
            cutoff = pd.Timestamp(as_of)
        except (TypeError, ValueError) as exc:
            raise AnalyticsError(f"as_of is not a date: {as_of!r} ({exc})") from None
        keep = (dates <= cutoff).to_numpy()
        if not keep.any():
            raise AnalyticsError(
                f"etf {etf!r} has no holdings snapshot on or before as_of "
                f"{cutoff.date().isoformat()} (first is {dates.min().date().isoformat()})"
            )
        sub, dates = sub.loc[keep], dates.loc[keep]
    latest = dates.max()
    snap = sub.loc[(dates == latest).to_numpy()]
    label = f"holdings of {etf} on {latest.date().isoformat()}"
    symbols = snap["symbol"].astype(str).to_numpy()
    if pd.Index(symbols).has_duplicates:
        dups = sorted(set(pd.Index(symbols)[pd.Index(symbols).duplicated()]))
        raise AnalyticsError(f"{label} list duplicate symbols: {_listing(dups)}")
    weights = require_float_values(snap["weight"], "holdings.weight")
    _check_weight_values(list(symbols), weights, arg=f"{label}: weight")
    order = np.lexsort((symbols, -weights))  # weight descending, then symbol ascending
    symbols, weights = symbols[order], weights[order]
    if min_weight is not None:
        chosen = weights >= min_weight
        if not chosen.any():
            raise AnalyticsError(
                f"no {label} have weight >= min_weight {min_weight} (largest is {weights[0]:.6g})"
            )
        symbols, weights = symbols[chosen], weights[chosen]
    else:
        symbols, weights = symbols[:keep_n], weights[:keep_n]
    if math.fsum(weights) <= 0.0:
        raise AnalyticsError(f"the selected {label} all have zero weight")
    return pd.Series(
        _normalise_exactly(weights),
        index=pd.Index(symbols, name="symbol"),
        name="weight",
        dtype=np.float64,
    )


# --------------------------------------------------------------------------------------------
# Basket return series
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BasketReturns:
    """Return series of many baskets computed from one returns panel.

    Attributes
    ----------
    returns
        Dates × baskets simple returns (same dates as the panel, columns in the order of the
        weights' rows); ``NaN`` on days when none of a basket's members has a return.
    coverage
        Dates × baskets covered weight in [0, 1]: the share of the basket (target weights in
        daily mode, drifted values in drift mode) whose members have a return that day.
    available
        Basket → members (weight > 0) with at least one finite return in the panel, in the
        weights' column order.
    excluded
        Basket → members with no finite return anywhere in the panel, or absent from its
        columns; they never contribute.
    rebalance
        The rebalancing mode used.
    """

    returns: pd.DataFrame
    coverage: pd.DataFrame
    available: dict[Hashable, tuple[Hashable, ...]]
    excluded: dict[Hashable, tuple[Hashable, ...]]
    rebalance: RebalanceFrequency


def _require_simple_returns(
    values: FloatArray, symbols: pd.Index, dates: pd.DatetimeIndex, name: str
) -> None:
    """Raise if any simple return in ``values`` (symbols × dates) is below -1."""
    below = values < -1.0
    if below.any():
        row, col = np.argwhere(below)[0]
        raise AnalyticsError(
            f"{name} has a simple return below -1 ({float(values[row, col])!r} for "
            f"{symbols[row]!s} on {dates[col].date().isoformat()})"
        )


_SPARSE_MAX_DENSITY = 0.1
"""Weight matrices at most this dense are multiplied as CSR sparse matrices."""


def _weights_operator(w: FloatArray) -> FloatArray | sp.csr_array:
    """``w`` (baskets × symbols) as the left operand of the basket products.

    Sparse when few cells are non-zero (many small baskets over a large universe): the
    product then costs O(dates × members) instead of O(dates × symbols × baskets).
    """
    if w.size and np.count_nonzero(w) <= _SPARSE_MAX_DENSITY * w.size:
        return sp.csr_array(w)
    return np.ascontiguousarray(w)


def _validate_weight_matrix(weights: object) -> tuple[pd.DataFrame, FloatArray]:
    """Validate the baskets × symbols weights frame; return it and its values (NaN -> 0)."""
    frame = require_frame(weights, "weights")
    require_unique_index(frame, "weights")
    if frame.shape[0] == 0:
        raise AnalyticsError("weights has no baskets (no rows)")
    values = require_float_values(frame, "weights")
    values = np.where(np.isnan(values), 0.0, values)
    bad_rows = np.isinf(values).any(axis=1)
    if bad_rows.any():
        raise AnalyticsError(
            f"weights has infinite values for basket(s): {_listing(frame.index[bad_rows])}"
        )
    bad_rows = (values < 0.0).any(axis=1)
    if bad_rows.any():
        raise AnalyticsError(
            f"weights has negative values for basket(s): {_listing(frame.index[bad_rows])}"
        )
    sums = values.sum(axis=1)
    bad_rows = np.abs(sums - 1.0) > WEIGHT_SUM_TOLERANCE
    if bad_rows.any():
        detail = [
            f"{b} ({s:.6g})" for b, s in zip(frame.index[bad_rows], sums[bad_rows], strict=True)
        ]
        raise AnalyticsError(f"weights rows must sum to 1; they do not for: {_listing(detail)}")
    return frame, values / sums[:, None]


def _period_starts(index: pd.DatetimeIndex, rebalance: RebalanceFrequency) -> npt.NDArray[np.intp]:
    """Row positions of the first date of each rebalancing period (always includes 0)."""
    if rebalance == "daily":
        return np.arange(len(index))
    month = index.month.to_numpy()
    month_code = month - 1 if rebalance == "monthly" else (month - 1) // 3 * 3
    code = index.year.to_numpy() * 12 + month_code
    change = np.ones(len(index), dtype=bool)
    change[1:] = code[1:] != code[:-1]
    return np.flatnonzero(change)


def _group_members(
    mask: np.ndarray, baskets: pd.Index, symbols: pd.Index
) -> dict[Hashable, tuple[Hashable, ...]]:
    """Map each basket (row of ``mask``) to the symbols whose cells are True, in column order."""
    rows, cols = np.nonzero(mask)
    bounds = np.cumsum(np.bincount(rows, minlength=len(baskets)))[:-1]
    labels = np.asarray(symbols, dtype=object)[cols]
    return {
        basket: tuple(group.tolist())
        for basket, group in zip(baskets, np.split(labels, bounds), strict=True)
    }


def basket_returns(
    returns: pd.DataFrame,
    weights: pd.DataFrame,
    *,
    rebalance: RebalanceFrequency = "daily",
) -> BasketReturns:
    """Return series of every basket, vectorised across baskets.

    Parameters
    ----------
    returns
        Returns panel: dates × symbols simple returns, ``NaN`` = no data that day
        (sorted unique tz-naive DatetimeIndex, no infinities, no value below -1).
    weights
        Baskets × symbols target weights (index = basket names). Non-members are ``NaN`` or
        0; each row must be non-negative and sum to 1 within 1e-6 (it is then divided by its
        sum). Members absent from ``returns``' columns are excluded.
    rebalance
        ``"daily"`` (default): constant weights, rebalanced every day. ``"monthly"`` /
        ``"quarterly"``: reset to the target weights at the first panel date of each
        calendar month / quarter (and at the first panel date), buy-and-hold drift between.

    Returns
    -------
    BasketReturns

    Raises
    ------
    AnalyticsError
        Unknown ``rebalance``; ``returns`` not a valid panel (dates, duplicate symbols,
        infinities, non-numeric, no rows or columns, a return below -1); ``weights`` not a
        DataFrame, with duplicate baskets or symbols, no rows, infinite or negative values
        or a row not summing to 1 (baskets named).

    Notes
    -----
    Let :math:`a_{it} = 1` when symbol *i* has a finite return on day *t* (else 0) and
    :math:`\\tilde r_{it} = r_{it} a_{it}` (NaN → 0).

    Daily: with :math:`W` the baskets × symbols weights,

    .. math:: r_{bt} = \\frac{\\sum_i w_{bi} \\tilde r_{it}}{\\sum_i w_{bi} a_{it}}
              = \\frac{(\\tilde R W^\\top)_{tb}}{(A W^\\top)_{tb}},

    i.e. weights renormalised over the members available that day; coverage
    :math:`c_{bt} = (A W^\\top)_{tb}`. Two matrix products, no loop over baskets.

    Drift: within a period starting at :math:`t_0`, member values grow as
    :math:`v_{bit} = w_{bi} g_{i,t-1}` with :math:`g_{i,t} = \\prod_{s=t_0}^{t}(1+\\tilde r_{is})`
    and :math:`g_{i,t_0-1} = 1`; a member without a return keeps its value that day. Then

    .. math:: r_{bt} = \\frac{\\sum_i w_{bi} g_{i,t-1} \\tilde r_{it}}
                           {\\sum_i w_{bi} g_{i,t-1} a_{it}}, \\qquad
              c_{bt} = \\frac{\\sum_i w_{bi} g_{i,t-1} a_{it}}{\\sum_i w_{bi} g_{i,t-1}},

    computed with the same products on :math:`G_{t-1}\\odot\\tilde R` and
    :math:`G_{t-1}\\odot A` (the loop runs over periods, never over baskets). With full data
    and no rebalance date inside a span, :math:`\\prod_t (1 + r_{bt})` equals the change in
    value of the buy-and-hold portfolio bought at the start.

    Days on which a basket has zero coverage have ``NaN`` return and coverage 0.
    """
    if rebalance not in REBALANCE_FREQUENCIES:
        raise AnalyticsError(
            f"rebalance must be one of {', '.join(REBALANCE_FREQUENCIES)}, got {rebalance!r}"
        )
    panel, panel_values = require_returns_values(returns, "returns")
    frame, w_all = _validate_weight_matrix(weights)

    used = (w_all > 0.0).any(axis=0)
    symbols = frame.columns[used]
    w_used = w_all[:, used]
    position = panel.columns.get_indexer(symbols)
    in_panel = position >= 0
    # Symbol-major layout (symbols × dates): pandas stores a float frame column-wise, so the
    # transpose is free and ``take`` gathers contiguous rows. ``take`` copies: the caller's
    # memory is never written.
    values_t = panel_values.T
    r = values_t.take(position[in_panel], axis=0)
    _require_simple_returns(r, symbols[in_panel], panel.index, "returns")
    available = ~np.isnan(r)
    r[~available] = 0.0
    avail_f = available.astype(np.float64)
    w_op = _weights_operator(w_used[:, in_panel])
    absent_weight = w_used[:, ~in_panel].sum(axis=1)

    if rebalance == "daily":
        numerator = w_op @ r  # baskets × dates
        covered = w_op @ avail_f
        total = np.ones_like(covered)
    else:
        growth_prev = np.empty_like(r)
        starts = _period_starts(panel.index, rebalance)
        ends = np.append(starts[1:], len(panel.index))
        gross = 1.0 + r
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            growth_prev[:, start] = 1.0
            if end - start > 1:
                np.cumprod(gross[:, start : end - 1], axis=1, out=growth_prev[:, start + 1 : end])
        numerator = w_op @ (growth_prev * r)
        covered = w_op @ (growth_prev * avail_f)
        total = w_op @ growth_prev + absent_weight[:, None]

    has_cover = covered > 0.0
    basket_ret = np.divide(numerator, covered, out=np.full_like(numerator, np.nan), where=has_cover)
    coverage = np.divide(covered, total, out=np.zeros_like(covered), where=total > 0.0)
    np.minimum(coverage, 1.0, out=coverage)  # rounding can give 1 + 1 ulp

    has_data = np.zeros(len(symbols), dtype=bool)
    has_data[in_panel] = available.any(axis=1)
    member = w_used > 0.0
    baskets = frame.index.rename("basket")
    return BasketReturns(
        returns=pd.DataFrame(basket_ret.T, index=panel.index, columns=baskets),
        coverage=pd.DataFrame(coverage.T, index=panel.index, columns=baskets),
        available=_group_members(member & has_data[None, :], baskets, symbols),
        excluded=_group_members(member & ~has_data[None, :], baskets, symbols),
        rebalance=rebalance,
    )


# --------------------------------------------------------------------------------------------
# Analytics of one basket
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PortfolioComparison:
    """Basket against the portfolio on their common dates (both finite).

    Attributes
    ----------
    correlation
        Pearson correlation of daily returns (NaN if either series is constant).
    beta
        :math:`\\mathrm{cov}(r_b, r_p) / \\mathrm{var}(r_p)` (NaN if the portfolio is constant).
    tracking_error
        Sample std (ddof=1) of :math:`r_b - r_p` × √252.
    observations
        Number of common dates.
    """

    correlation: float
    beta: float
    tracking_error: float
    observations: int


@dataclass(frozen=True)
class BasketAnalytics:
    """Performance analytics of one basket (see :func:`basket_analytics` for definitions).

    Attributes
    ----------
    start, end
        First and last date with a finite basket return.
    observations
        Number of days with a finite basket return (:math:`n`).
    total_return, annualized_return, annualized_volatility, sharpe, max_drawdown
        Headline statistics.
    arithmetic_return
        :math:`\\sum_t r_{bt}` of the given basket series.
    components
        Indexed by ``symbol`` (the weights' order): ``weight``, ``total_return``,
        ``contribution``, ``observations``.
    contribution_residual
        ``arithmetic_return - components.contribution.sum()``: 0 up to rounding when the
        basket series is the daily-rebalanced series of the same components and weights;
        for a drift-mode series it measures the drift effect.
    monthly_returns
        Compounded return per calendar month (PeriodIndex named ``month``).
    vs_portfolio
        Comparison with the portfolio, or ``None`` when no portfolio series was given.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    observations: int
    total_return: float
    annualized_return: float
    annualized_volatility: float
    sharpe: float
    max_drawdown: float
    arithmetic_return: float
    components: pd.DataFrame
    contribution_residual: float
    monthly_returns: pd.Series
    vs_portfolio: PortfolioComparison | None


def _require_return_series(series: object, name: str) -> pd.Series:
    """Validate a dated simple-return series (finite or NaN, none below -1)."""
    s = require_series(series, name)
    require_date_index(s, name)
    values = require_float_values(s, name)
    if np.isinf(values).any():
        raise AnalyticsError(f"{name} contains infinite values")
    below = values < -1.0
    if below.any():
        k = int(np.argmax(below))
        raise AnalyticsError(
            f"{name} has a simple return below -1 on {s.index[k].date().isoformat()}"
        )
    return pd.Series(values, index=s.index, name=s.name)


def _is_constant(values: FloatArray) -> bool:
    return bool(values.size == 0 or np.all(values == values[0]))


def equity_curve(returns: pd.Series) -> pd.DataFrame:
    """Wealth and drawdown of a daily return series, starting from 1.

    Parameters
    ----------
    returns
        Dated simple returns (a basket's, the market's); ``NaN`` means no return that day.

    Returns
    -------
    pd.DataFrame
        Indexed like ``returns``: ``equity`` and ``drawdown`` (<= 0).

    Raises
    ------
    AnalyticsError
        ``returns`` not a date-indexed Series of numbers, infinite values or a return below -1.

    Notes
    -----
    :math:`W_t = \\prod_{s \\le t}(1 + r_s)` over the days with a return (a day without one
    keeps the previous wealth) and
    :math:`D_t = W_t / \\max(1, \\max_{s \\le t} W_s) - 1`, the drawdown
    :func:`basket_analytics` takes the minimum of.
    """
    series = _require_return_series(returns, "returns")
    gross = 1.0 + series.fillna(0.0).to_numpy()
    wealth = np.cumprod(gross)
    peak = np.maximum.accumulate(np.maximum(wealth, 1.0))
    return pd.DataFrame(
        {"equity": wealth, "drawdown": np.minimum(wealth / peak - 1.0, 0.0)}, index=series.index
    )


def basket_analytics(
    basket_returns: pd.Series,
    component_returns: pd.DataFrame,
    weights: pd.Series,
    *,
    portfolio_returns: pd.Series | None = None,
    risk_free_rate: float = 0.0,
) -> BasketAnalytics:
    """Performance, attribution and portfolio comparison of one basket.

    Parameters
    ----------
    basket_returns
        The basket's daily simple returns (e.g. a column of :func:`basket_returns`). Days
        with ``NaN`` are left out of every statistic; at least two finite days are needed.
    component_returns
        Returns panel covering every date of the finite basket returns; members absent from
        its columns are treated as having no data (zero contribution).
    weights
        The basket's target weights by symbol (non-negative, summing to 1 within 1e-6).
    portfolio_returns
        Optional portfolio daily returns for the comparison.
    risk_free_rate
        Annual risk-free rate (simple), default 0; the daily rate is ``risk_free_rate / 252``.

    Returns
    -------
    BasketAnalytics

    Raises
    ------
    AnalyticsError
        Invalid inputs (named), ``component_returns`` missing some basket dates;
        :class:`InsufficientDataError` with fewer than 2 finite basket returns or fewer than
        2 common dates with ``portfolio_returns``.

    Notes
    -----
    Over the :math:`n` days with a finite basket return :math:`r_t`:

    - total return :math:`R = \\prod_t (1 + r_t) - 1`;
      annualised return :math:`(1 + R)^{252/n} - 1`;
    - annualised volatility :math:`\\sigma = s \\sqrt{252}`, with :math:`s` the sample
      standard deviation (ddof = 1) of :math:`r_t`;
    - Sharpe :math:`(\\bar r - r_f/252) / s \\cdot \\sqrt{252}`; ``NaN`` when :math:`s = 0`
      (all returns identical), volatility is then exactly 0;
    - wealth :math:`W_t = \\prod_{s \\le t}(1 + r_s)`, :math:`W_0 = 1`; max drawdown
      :math:`\\min_t (W_t / \\max(1, \\max_{s \\le t} W_s) - 1) \\le 0`;
    - component total return :math:`\\prod_{t: a_{it}=1}(1 + r_{it}) - 1` (NaN without data);
    - contribution :math:`c_i = \\sum_t \\tilde w_{it} r_{it}` with
      :math:`\\tilde w_{it} = w_i a_{it} / \\sum_j w_j a_{jt}` (0 on days no member has data), so
      :math:`\\sum_i c_i = \\sum_t \\hat r_t`, the daily-rebalanced basket's arithmetic return;
    - monthly returns :math:`\\prod_{t \\in m}(1 + r_t) - 1`;
    - versus the portfolio :math:`p_t` on common finite dates: Pearson correlation,
      :math:`\\beta = \\mathrm{cov}(r, p)/\\mathrm{var}(p)` and tracking error
      :math:`\\mathrm{sd}(r - p)\\sqrt{252}` (ddof = 1).
    """
    series = _require_return_series(basket_returns, "basket_returns")
    panel = require_returns_panel(component_returns, "component_returns")
    w = require_series(weights, "weights")
    require_unique_index(w, "weights")
    if w.empty:
        raise AnalyticsError("weights is empty")
    w_values = require_float_values(w, "weights")
    _check_weight_values([str(s) for s in w.index], w_values)
    w_sum = math.fsum(w_values)
    if abs(w_sum - 1.0) > WEIGHT_SUM_TOLERANCE:
        raise AnalyticsError(f"weights must sum to 1, got {w_sum:.6g}")
    rf = risk_free_rate
    if isinstance(rf, bool) or not isinstance(rf, int | float | np.floating | np.integer):
        raise AnalyticsError(f"risk_free_rate must be a number, got {rf!r}")
    if not math.isfinite(rf):
        raise AnalyticsError(f"risk_free_rate must be finite, got {rf!r}")

    series = series.dropna()
    n = len(series)
    if n < 2:
        raise InsufficientDataError(f"basket_returns needs at least 2 finite returns, got {n}")
    dates = series.index
    missing = dates.difference(panel.index)
    if len(missing):
        raise AnalyticsError(
            f"component_returns lacks {len(missing)} date(s) of basket_returns "
            f"(first {missing[0].date().isoformat()})"
        )
    r = series.to_numpy()

    # Headline statistics
    gross = 1.0 + r
    wealth = np.cumprod(gross)
    total_return = float(wealth[-1] - 1.0)
    annualized_return = float((1.0 + total_return) ** (TRADING_DAYS_PER_YEAR / n) - 1.0)
    if _is_constant(r):
        std = 0.0
        sharpe = float("nan")
    else:
        std = float(np.std(r, ddof=1))
        sharpe = float(
            (r.mean() - rf / TRADING_DAYS_PER_YEAR) / std * math.sqrt(TRADING_DAYS_PER_YEAR)
        )
    peak = np.maximum.accumulate(np.maximum(wealth, 1.0))
    max_drawdown = float(min(np.min(wealth / peak - 1.0), 0.0))

    # Components: weights renormalised over the members available each day
    comp = panel.reindex(index=dates, columns=w.index).to_numpy(dtype=np.float64, na_value=np.nan)
    avail = ~np.isnan(comp)
    comp0 = np.where(avail, comp, 0.0)
    held = avail * w_values[None, :]
    day_weight = held.sum(axis=1)
    scale = np.divide(1.0, day_weight, out=np.zeros_like(day_weight), where=day_weight > 0.0)
    contribution = (held * scale[:, None] * comp0).sum(axis=0)
    obs = avail.sum(axis=0)
    comp_total = np.prod(1.0 + comp0, axis=0) - 1.0
    comp_total[obs == 0] = np.nan
    components = pd.DataFrame(
        {
            "weight": w_values,
            "total_return": comp_total,
            "contribution": contribution,
            "observations": obs.astype(np.int64),
        },
        index=pd.Index(w.index, name="symbol"),
    )
    arithmetic_return = float(r.sum())

    monthly = pd.Series(gross, index=dates).groupby(dates.to_period("M")).prod() - 1.0
    monthly.index.name = "month"
    monthly.name = "monthly_return"

    comparison = None
    if portfolio_returns is not None:
        port = _require_return_series(portfolio_returns, "portfolio_returns").dropna()
        common = dates.intersection(port.index)
        if len(common) < 2:
            raise InsufficientDataError(
                f"portfolio_returns shares {len(common)} date(s) with basket_returns; "
                "at least 2 are needed"
            )
        b = series.reindex(common).to_numpy()
        p = port.reindex(common).to_numpy()
        cov = np.cov(b, p, ddof=1)
        const_b, const_p = _is_constant(b), _is_constant(p)
        correlation = (
            float("nan")
            if const_b or const_p
            else float(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]))
        )
        beta = float("nan") if const_p else float(cov[0, 1] / cov[1, 1])
        diff = b - p
        te = 0.0 if _is_constant(diff) else float(np.std(diff, ddof=1))
        comparison = PortfolioComparison(
            correlation=correlation,
            beta=beta,
            tracking_error=te * math.sqrt(TRADING_DAYS_PER_YEAR),
            observations=len(common),
        )

    return BasketAnalytics(
        start=dates[0],
        end=dates[-1],
        observations=n,
        total_return=total_return,
        annualized_return=annualized_return,
        annualized_volatility=std * math.sqrt(TRADING_DAYS_PER_YEAR),
        sharpe=sharpe,
        max_drawdown=max_drawdown,
        arithmetic_return=arithmetic_return,
        components=components,
        contribution_residual=arithmetic_return - float(contribution.sum()),
        monthly_returns=monthly,
        vs_portfolio=comparison,
    )
