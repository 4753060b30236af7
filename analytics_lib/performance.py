"""Trade performance: realized win/loss summary, return distribution and statistics, open P&L.

Conventions (seed 004 "Trading Analysis Enhancement Plan", section "Conventions & Edge Cases"):

* Sign convention: ``quantity`` and ``cost_basis`` are positive for a long and negative for a
  short, ``entry_price = |cost_basis| / |quantity|`` is always positive, the current value is
  ``quantity * price`` and :math:`\\text{P\\&L} = \\text{value} - \\text{cost\\_basis}` for
  longs and shorts alike; :math:`\\text{P\\&L\\%} = 100\\,\\text{P\\&L} / |\\text{cost\\_basis}|`.
* Division guards: rates and averages (win %, avg win, avg loss, ...) fall back to ``0.0``;
  undefined ratios (win/loss ratio, profit factor, P&L %, entry price) are ``None``. No result
  is ever ``inf`` or ``NaN``; statistics of too few observations are ``None``.
* Currencies are never converted or mixed: a dollar amount over trades or positions in more
  than one currency is ``None``; ``by_currency`` breaks every figure down per currency.
* Return buckets are ``[min, max)``: 0 % falls in ``0% to 10%``, 50 % in ``>= 50%``.

The dict results are JSON-ready (plain ``int``, ``float``, ``str``, ``bool`` and ``None``) and use
the seed's field names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import pandas as pd

from analytics_lib._typing import FloatArray
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.validation import require_columns, require_frame

__all__ = [
    "ENTRY_PRICE_WARNING_RATIO",
    "POSITION_PNL_COLUMNS",
    "RETURN_BUCKETS",
    "performance_report",
    "positions_pnl",
    "positions_summary",
    "primary_currency",
    "realized_summary",
    "return_distribution",
    "return_statistics",
]

RETURN_BUCKETS: tuple[tuple[str, float | None, float | None], ...] = (
    ("< -50%", None, -50.0),
    ("-50% to -30%", -50.0, -30.0),
    ("-30% to -20%", -30.0, -20.0),
    ("-20% to -10%", -20.0, -10.0),
    ("-10% to 0%", -10.0, 0.0),
    ("0% to 10%", 0.0, 10.0),
    ("10% to 20%", 10.0, 20.0),
    ("20% to 30%", 20.0, 30.0),
    ("30% to 50%", 30.0, 50.0),
    (">= 50%", 50.0, None),
)
"""(label, lower bound % inclusive, upper bound % exclusive); ``None`` is unbounded."""

_BUCKET_EDGES: Final = np.array([b[1] for b in RETURN_BUCKETS[1:]], dtype=np.float64)

ENTRY_PRICE_WARNING_RATIO: Final = 10.0
"""A position's entry price above this multiple of the current price, or below its inverse,
sets ``entry_price_warning`` (the cost basis may be inaccurate)."""

POSITION_PNL_COLUMNS: tuple[str, ...] = (
    "account",
    "symbol",
    "currency",
    "direction",
    "quantity",
    "shares",
    "cost_basis",
    "entry_price",
    "current_price",
    "market_value",
    "gross_exposure",
    "net_exposure",
    "pnl_dollars",
    "pnl_percent",
    "entry_price_warning",
)

_SUMMARY_DOLLAR_KEYS: Final = (
    "total_win_dollars",
    "total_loss_dollars",
    "net_pnl",
    "avg_win",
    "avg_loss",
    "win_loss_ratio",
    "expectancy",
    "profit_factor",
)


# --------------------------------------------------------------------------------------------
# Guards and input checks
# --------------------------------------------------------------------------------------------


def _safe_divide(numerator: float, denominator: float, default: float = 0.0) -> float:
    """:math:`n/d`, or ``default`` when :math:`d = 0` (rates and averages)."""
    return default if denominator == 0 else float(numerator / denominator)


def _safe_ratio(numerator: float, denominator: float | None) -> float | None:
    """:math:`n/d`, or ``None`` when :math:`d` is 0 or missing (undefined ratios)."""
    if denominator is None or denominator == 0:
        return None
    return float(numerator / denominator)


def _label(frame: pd.DataFrame, position: int) -> object:
    """The index label at ``position`` as a plain Python value (for error messages)."""
    label = frame.index[position]
    return label.item() if isinstance(label, np.generic) else label


def _float_column(
    frame: pd.DataFrame, name: str, column: str, *, allow_missing: bool
) -> FloatArray:
    """A numeric column as float64, NaN for missing; raise on inf (and on NaN unless allowed)."""
    series = frame[column]
    if pd.api.types.is_bool_dtype(series):
        raise AnalyticsError(f"{name} column {column} must be numeric, got bool")
    try:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise AnalyticsError(f"{name} column {column} must be numeric") from None
    if np.isinf(values).any():
        label = _label(frame, int(np.flatnonzero(np.isinf(values))[0]))
        raise AnalyticsError(f"{name} row {label!r}: {column} is infinite")
    if not allow_missing and np.isnan(values).any():
        label = _label(frame, int(np.flatnonzero(np.isnan(values))[0]))
        raise AnalyticsError(f"{name} row {label!r}: {column} is missing")
    return values


def _currencies(frame: pd.DataFrame, name: str) -> np.ndarray:
    values = frame["currency"].to_numpy(dtype=object)
    ok = [isinstance(v, str) and bool(v.strip()) for v in values]
    if not all(ok):
        label = _label(frame, ok.index(False))
        raise AnalyticsError(f"{name} row {label!r}: currency must be a non-empty string")
    return values


def _realized(realized: object, columns: tuple[str, ...]) -> pd.DataFrame:
    frame = require_frame(realized, "realized")
    require_columns(frame, columns, "realized")
    return frame


def _single_currency(frame: pd.DataFrame) -> bool:
    return len(pd.unique(_currencies(frame, "realized"))) <= 1


# --------------------------------------------------------------------------------------------
# Realized performance
# --------------------------------------------------------------------------------------------


def realized_summary(realized: pd.DataFrame) -> dict[str, Any]:
    """Win/loss statistics of realized trades (seed component 3, ``realized_performance``).

    Parameters
    ----------
    realized
        One row per realized trade with ``pnl`` (finite, in the trade's currency) and
        ``currency`` (see :class:`analytics_lib.trade_analysis.FifoResult`).

    Returns
    -------
    dict
        With :math:`W`, :math:`L`, :math:`B`, :math:`N` the numbers of trades with
        ``pnl`` > 0, < 0, = 0 and in total, :math:`\\Sigma^+` the sum of positive P&L and
        :math:`\\Sigma^-` the absolute sum of negative P&L:

        * ``num_wins`` :math:`W`, ``num_losses`` :math:`L`, ``num_breakeven`` :math:`B`,
          ``total_trades`` :math:`N = W + L + B`;
        * ``win_percent`` :math:`100 W/N`, ``loss_percent`` :math:`100 L/N` (0.0 when
          :math:`N = 0`);
        * ``total_win_dollars`` :math:`\\Sigma^+`, ``total_loss_dollars`` :math:`\\Sigma^-`
          (positive), ``net_pnl`` :math:`\\Sigma^+ - \\Sigma^-`;
        * ``avg_win`` :math:`\\Sigma^+/W` (0.0 when :math:`W = 0`), ``avg_loss``
          :math:`\\Sigma^-/L` (positive; 0.0 when :math:`L = 0`);
        * ``win_loss_ratio`` and ``profit_factor`` :math:`\\Sigma^+/\\Sigma^-` (``None`` when
          :math:`\\Sigma^- = 0`). The seed defines both as total win dollars over total loss
          dollars (its example: $12,500 / $8,200 = 1.52 for both);
        * ``expectancy`` :math:`(W/N)\\,\\overline{\\text{win}} - (L/N)\\,\\overline{\\text{loss}}`
          dollars per trade, with proportions, not percentages (0.0 when :math:`N = 0`).

        The dollar fields (``total_win_dollars`` through ``profit_factor`` above, ratios
        included) are ``None`` when the trades span more than one currency: amounts are never
        summed across currencies. Counts and percentages are always given.

    Raises
    ------
    AnalyticsError
        Not a DataFrame, a column missing, a missing or infinite ``pnl``, a missing currency.
    """
    frame = _realized(realized, ("pnl", "currency"))
    pnl = _float_column(frame, "realized", "pnl", allow_missing=False)
    single = _single_currency(frame)
    total = len(pnl)
    wins = int((pnl > 0).sum())
    losses = int((pnl < 0).sum())
    win_dollars = float(pnl[pnl > 0].sum())
    loss_dollars = float(-pnl[pnl < 0].sum())
    avg_win = _safe_divide(win_dollars, wins)
    avg_loss = _safe_divide(loss_dollars, losses)
    win_proportion = _safe_divide(wins, total)
    loss_proportion = _safe_divide(losses, total)
    summary: dict[str, Any] = {
        "num_wins": wins,
        "num_losses": losses,
        "num_breakeven": total - wins - losses,
        "total_trades": total,
        "win_percent": win_proportion * 100.0,
        "loss_percent": loss_proportion * 100.0,
        "total_win_dollars": win_dollars,
        "total_loss_dollars": loss_dollars,
        "net_pnl": win_dollars - loss_dollars,
        "avg_win": avg_win,
        "avg_loss": avg_loss,
        "win_loss_ratio": _safe_ratio(win_dollars, loss_dollars),
        "expectancy": win_proportion * avg_win - loss_proportion * avg_loss,
        "profit_factor": _safe_ratio(win_dollars, loss_dollars),
    }
    if not single:
        summary.update(dict.fromkeys(_SUMMARY_DOLLAR_KEYS))
    return summary


def _percent_returns(frame: pd.DataFrame) -> FloatArray:
    """The defined ``pnl_pct`` values (missing ones dropped)."""
    values = _float_column(frame, "realized", "pnl_pct", allow_missing=True)
    return values[~np.isnan(values)]


def _buckets(returns: FloatArray) -> list[dict[str, Any]]:
    counts = np.bincount(
        np.searchsorted(_BUCKET_EDGES, returns, side="right"), minlength=len(RETURN_BUCKETS)
    )
    cumulative = np.cumsum(counts)
    total = len(returns)
    return [
        {
            "range_min": low,
            "range_max": high,
            "range_label": label,
            "count": int(count),
            "frequency": _safe_divide(int(count), total) * 100.0,
            "cumulative_frequency": _safe_divide(int(running), total) * 100.0,
        }
        for (label, low, high), count, running in zip(
            RETURN_BUCKETS, counts, cumulative, strict=True
        )
    ]


def return_distribution(realized: pd.DataFrame) -> list[dict[str, Any]]:
    """Histogram of per-trade % returns in the seed's 10 ``[min, max)`` buckets.

    Parameters
    ----------
    realized
        Realized trades with ``pnl_pct`` (percent, e.g. 12.5 for +12.5 %); trades whose
        ``pnl_pct`` is missing (undefined, zero cost basis) are left out.

    Returns
    -------
    list of dict
        One dict per bucket of :data:`RETURN_BUCKETS`, in order: ``range_label``,
        ``range_min`` (inclusive, ``None`` = :math:`-\\infty`), ``range_max`` (exclusive,
        ``None`` = :math:`+\\infty`), ``count`` :math:`c_k`, ``frequency``
        :math:`100\\,c_k/n` and ``cumulative_frequency`` :math:`100\\sum_{j\\le k} c_j/n`, in
        percent (0-100, as the seed), where :math:`n` is the number of defined returns; the
        last cumulative frequency is 100.0 (0.0 for no trades). Exactly 0 % falls in
        ``0% to 10%``, exactly 50 % in ``>= 50%``. Trades are bucketed on the unrounded return.

    Raises
    ------
    AnalyticsError
        Not a DataFrame, ``pnl_pct`` missing as a column or holding infinities.
    """
    frame = _realized(realized, ("pnl_pct",))
    return _buckets(_percent_returns(frame))


def _moments(values: FloatArray) -> tuple[float | None, float | None]:
    """Bias-corrected sample skewness G1 and excess kurtosis G2 (``None`` when undefined)."""
    n = len(values)
    if n < 3 or np.ptp(values) == 0.0:
        return None, None
    deviations = values - values.mean()
    m2 = float(np.mean(deviations**2))
    m3 = float(np.mean(deviations**3))
    m4 = float(np.mean(deviations**4))
    skewness = m3 / m2**1.5 * math.sqrt(n * (n - 1)) / (n - 2)
    if n < 4:
        return skewness, None
    kurtosis = ((n * n - 1) * m4 / m2**2 - 3.0 * (n - 1) ** 2) / ((n - 2) * (n - 3))
    return skewness, kurtosis


def _describe(values: FloatArray, suffix: str) -> dict[str, float | None]:
    n = len(values)
    positive = values[values > 0]
    negative = values[values < 0]
    return {
        f"avg_return_{suffix}": float(values.mean()) if n else None,
        f"median_return_{suffix}": float(np.median(values)) if n else None,
        f"std_dev_{suffix}": float(values.std(ddof=1)) if n >= 2 else None,
        f"avg_positive_{suffix}": _safe_divide(float(positive.sum()), len(positive)),
        f"avg_negative_{suffix}": _safe_divide(float(negative.sum()), len(negative)),
        f"best_return_{suffix}": float(values.max()) if n else None,
        f"worst_return_{suffix}": float(values.min()) if n else None,
    }


def return_statistics(realized: pd.DataFrame) -> dict[str, float | None]:
    """Per-trade return statistics in % and in dollars (seed component 5).

    Parameters
    ----------
    realized
        Realized trades with ``pnl`` (finite), ``pnl_pct`` (missing = undefined, left out of
        the % statistics) and ``currency``.

    Returns
    -------
    dict
        For :math:`x` = ``pnl_pct`` (suffix ``percent``) and :math:`x` = ``pnl`` (suffix
        ``dollars``): ``avg_return_*`` :math:`\\bar x`, ``median_return_*``, ``std_dev_*`` the
        sample standard deviation :math:`\\sqrt{\\sum (x-\\bar x)^2/(n-1)}` (ddof = 1),
        ``avg_positive_*`` / ``avg_negative_*`` the means of the positive / negative values
        (0.0 when there are none, as the seed's avg win / avg loss; the negative one is
        negative), ``best_return_*`` / ``worst_return_*`` max and min. Then, on the % returns:
        ``skewness`` the adjusted Fisher-Pearson coefficient
        :math:`G_1 = \\frac{\\sqrt{n(n-1)}}{n-2}\\,\\frac{m_3}{m_2^{3/2}}` and ``kurtosis`` the
        bias-corrected *excess* kurtosis
        :math:`G_2 = \\frac{(n^2-1)\\,m_4/m_2^2 - 3(n-1)^2}{(n-2)(n-3)}` (0 for a normal),
        with :math:`m_k` the central moments (``scipy.stats.skew(bias=False)`` and
        ``scipy.stats.kurtosis(fisher=True, bias=False)``).

        Mean, median, best and worst are ``None`` without observations, the standard
        deviation with fewer than 2, skewness with fewer than 3 or constant returns, kurtosis
        with fewer than 4 or constant returns. The dollar statistics are ``None`` when the
        trades span more than one currency.

    Raises
    ------
    AnalyticsError
        Not a DataFrame, a column missing, a missing or infinite ``pnl``, an infinite
        ``pnl_pct``, a missing currency.
    """
    frame = _realized(realized, ("pnl", "pnl_pct", "currency"))
    pnl = _float_column(frame, "realized", "pnl", allow_missing=False)
    percent = _percent_returns(frame)
    stats: dict[str, float | None] = _describe(percent, "percent")
    dollars = _describe(pnl, "dollars")
    if not _single_currency(frame):
        dollars = dict.fromkeys(dollars)
    stats.update(dollars)
    stats["skewness"], stats["kurtosis"] = _moments(percent)
    return stats


def _distribution_report(frame: pd.DataFrame) -> dict[str, Any]:
    returns = _percent_returns(frame)
    return {
        "buckets": _buckets(returns),
        "total_trades": len(returns),
        "min_return": float(returns.min()) if len(returns) else None,
        "max_return": float(returns.max()) if len(returns) else None,
    }


def primary_currency(
    currencies: pd.Series | np.ndarray, amounts: pd.Series | np.ndarray
) -> str | None:
    """The currency with the largest gross amount :math:`\\sum |a|` (ties: alphabetical first).

    Parameters
    ----------
    currencies, amounts
        Equal-length currency codes and finite amounts (gross exposure of positions, cost basis
        of realized trades).

    Returns
    -------
    str or None
        ``None`` when there are no rows. The seed's example names the currency with the largest
        gross exposure (USD $150,000 over CAD $25,000) as the primary one.

    Raises
    ------
    AnalyticsError
        Different lengths or a non-finite amount.
    """
    codes = np.asarray(currencies, dtype=object)
    values = np.asarray(amounts, dtype=np.float64)
    if codes.shape != values.shape:
        raise AnalyticsError("currencies and amounts must have the same length")
    if not np.isfinite(values).all():
        raise AnalyticsError("amounts must be finite")
    if len(codes) == 0:
        return None
    gross = pd.Series(np.abs(values)).groupby(codes, sort=True).sum()
    return str(gross.index[int(np.argmax(gross.to_numpy()))])


def performance_report(realized: pd.DataFrame) -> dict[str, Any]:
    """The realized-performance report: overall, per currency, and the primary currency.

    Parameters
    ----------
    realized
        Realized trades with ``pnl``, ``pnl_pct``, ``cost_basis`` and ``currency`` (the
        :class:`analytics_lib.trade_analysis.FifoResult` ``realized`` frame).

    Returns
    -------
    dict
        ``realized_performance`` (:func:`realized_summary`), ``return_distribution``
        (``buckets`` = :func:`return_distribution`, ``total_trades`` with a defined % return,
        ``min_return``, ``max_return``; ``None`` without trades), ``return_statistics``
        (:func:`return_statistics`), all over every trade — counts and % figures combine
        currencies, dollar figures are ``None`` when more than one currency is present — then
        ``by_currency`` ``{currency: {the same three sections}}`` computed on that currency's
        trades only (no FX conversion), and ``primary_currency``: the currency with the largest
        gross traded cost basis :math:`\\sum |\\text{cost\\_basis}|` (:func:`primary_currency`;
        ``None`` without trades).

    Raises
    ------
    AnalyticsError
        As :func:`realized_summary` and :func:`return_statistics`, or a non-finite
        ``cost_basis``.
    """
    frame = _realized(realized, ("pnl", "pnl_pct", "cost_basis", "currency"))
    currencies = _currencies(frame, "realized")
    cost_basis = _float_column(frame, "realized", "cost_basis", allow_missing=False)

    def sections(part: pd.DataFrame) -> dict[str, Any]:
        return {
            "realized_performance": realized_summary(part),
            "return_distribution": _distribution_report(part),
            "return_statistics": return_statistics(part),
        }

    report = sections(frame)
    report["by_currency"] = {
        str(code): sections(frame.loc[currencies == code]) for code in sorted(set(currencies))
    }
    report["primary_currency"] = primary_currency(currencies, cost_basis)
    return report


# --------------------------------------------------------------------------------------------
# Open positions
# --------------------------------------------------------------------------------------------


def _price_lookup(prices: object) -> Mapping[Any, Any]:
    if isinstance(prices, pd.Series):
        if prices.index.has_duplicates:
            dups = sorted({str(s) for s in prices.index[prices.index.duplicated()]})
            raise AnalyticsError(f"prices has duplicate symbol(s): {', '.join(dups)}")
        return prices.to_dict()
    if isinstance(prices, Mapping):
        return prices
    raise AnalyticsError(
        f"prices must be a Series or a mapping of symbol -> price, got {type(prices).__name__}"
    )


def _optional(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def positions_pnl(positions: pd.DataFrame, prices: pd.Series | Mapping[str, float]) -> pd.DataFrame:
    """Unrealized P&L of open positions at the latest prices (seed component 1).

    Parameters
    ----------
    positions
        One row per position with ``account``, ``symbol``, ``currency`` (non-empty strings),
        ``quantity`` (finite, signed: long > 0, short < 0) and ``cost_basis`` (signed like the
        quantity per the seed's convention; 0 allowed; missing = unknown, e.g. a transferred
        position). :attr:`FifoResult.positions <analytics_lib.trade_analysis.FifoResult>` has
        this shape.
    prices
        Latest close per symbol (Series or mapping), finite and > 0, in the position's
        currency; looked up by the position's ``symbol`` exactly as given.

    Returns
    -------
    DataFrame
        Columns :data:`POSITION_PNL_COLUMNS`, one row per position with a non-zero quantity
        (flat positions are skipped, as the seed's guard says), input order, fresh index.
        With :math:`q` the quantity, :math:`C` the cost basis and :math:`p` the price:
        ``direction`` ``"long"`` (:math:`q > 0`) / ``"short"``, ``shares`` :math:`|q|`,
        ``entry_price`` :math:`|C|/|q|`, ``current_price`` :math:`p`, ``market_value`` and
        ``net_exposure`` :math:`q p`, ``gross_exposure`` :math:`|q p|`, ``pnl_dollars``
        :math:`q p - C` (a short gains when the price falls), ``pnl_percent``
        :math:`100 (q p - C)/|C|`, ``entry_price_warning`` True when the entry price is above
        :math:`10 p` or below :math:`0.1 p` (strictly). The columns ``cost_basis``,
        ``entry_price``, ``pnl_dollars`` and ``pnl_percent`` hold floats or ``None`` (object
        dtype): all four are ``None`` when the cost basis is missing (and then no warning);
        ``pnl_percent`` is also ``None`` when the cost basis is 0.

    Raises
    ------
    AnalyticsError
        Not a DataFrame or a column missing; a row (named) with a missing string field, a
        non-finite quantity, an infinite cost basis or one whose sign contradicts the
        quantity; ``prices`` not a Series/mapping, with duplicate symbols, without a price for
        a held symbol (listed), or with a non-finite or non-positive price.
    """
    frame = require_frame(positions, "positions")
    require_columns(frame, ("account", "symbol", "quantity", "cost_basis", "currency"), "positions")
    for column in ("account", "symbol", "currency"):
        values = frame[column].to_numpy(dtype=object)
        ok = [isinstance(v, str) and bool(v.strip()) for v in values]
        if not all(ok):
            label = _label(frame, ok.index(False))
            raise AnalyticsError(
                f"positions row {label!r}: {column} must be a non-empty string, "
                f"got {values[ok.index(False)]!r}"
            )
    quantity = _float_column(frame, "positions", "quantity", allow_missing=False)
    cost = _float_column(frame, "positions", "cost_basis", allow_missing=True)
    contradicts = ~np.isnan(cost) & (np.sign(cost) * np.sign(quantity) < 0)
    contradicts |= ~np.isnan(cost) & (quantity == 0) & (cost != 0)
    if contradicts.any():
        position = int(np.flatnonzero(contradicts)[0])
        raise AnalyticsError(
            f"positions row {_label(frame, position)!r}: cost_basis {float(cost[position])!r} "
            f"must have the sign of quantity {float(quantity[position])!r} (long > 0, short < 0)"
        )

    keep = quantity != 0
    symbols = frame["symbol"].to_numpy(dtype=object)[keep]
    lookup = _price_lookup(prices)
    missing = sorted({s for s in symbols if s not in lookup})
    if missing:
        raise AnalyticsError(f"prices has no price for held symbol(s): {', '.join(missing)}")
    price = (
        np.array([lookup[s] for s in symbols], dtype=np.float64)
        if len(symbols)
        else (np.empty(0, dtype=np.float64))
    )
    bad = ~np.isfinite(price) | (price <= 0)
    if bad.any():
        raise AnalyticsError(
            f"prices must be finite and > 0, got {float(price[bad][0])!r} for {symbols[bad][0]!s}"
        )
    q = quantity[keep]
    c = cost[keep]
    known = ~np.isnan(c)
    value = q * price
    with np.errstate(divide="ignore", invalid="ignore"):
        entry = np.where(known, np.abs(c) / np.abs(q), np.nan)
        pnl = np.where(known, value - c, np.nan)
        pnl_pct = np.where(known & (c != 0), pnl / np.abs(c) * 100.0, np.nan)
    warning = known & (
        (entry > ENTRY_PRICE_WARNING_RATIO * price) | (entry < price / ENTRY_PRICE_WARNING_RATIO)
    )

    def nullable(values: FloatArray) -> list[float | None]:
        return [_optional(v) for v in values.tolist()]

    return pd.DataFrame(
        {
            "account": frame["account"].to_numpy(dtype=object)[keep],
            "symbol": symbols,
            "currency": frame["currency"].to_numpy(dtype=object)[keep],
            "direction": np.where(q > 0, "long", "short").astype(object),
            "quantity": q,
            "shares": np.abs(q),
            "cost_basis": pd.Series(nullable(c), dtype=object),
            "entry_price": pd.Series(nullable(entry), dtype=object),
            "current_price": price,
            "market_value": value,
            "gross_exposure": np.abs(value),
            "net_exposure": value,
            "pnl_dollars": pd.Series(nullable(pnl), dtype=object),
            "pnl_percent": pd.Series(nullable(pnl_pct), dtype=object),
            "entry_price_warning": warning,
        },
        columns=list(POSITION_PNL_COLUMNS),
    )


def _exposure_totals(part: pd.DataFrame) -> dict[str, Any]:
    pnl = part["pnl_dollars"].to_numpy(dtype=np.float64, na_value=np.nan)
    cost = part["cost_basis"].to_numpy(dtype=np.float64, na_value=np.nan)
    known = ~np.isnan(pnl)
    pnl_total = float(pnl[known].sum())
    return {
        "num_positions": len(part),
        "gross_exposure": float(part["gross_exposure"].sum()),
        "net_exposure": float(part["net_exposure"].sum()),
        "unrealized_pnl_dollars": pnl_total,
        "unrealized_pnl_percent": _safe_ratio(pnl_total * 100.0, float(np.abs(cost[known]).sum())),
        "positions_without_cost_basis": int((~known).sum()),
        "entry_price_warnings": int(part["entry_price_warning"].sum()),
    }


def positions_summary(pnl: pd.DataFrame) -> dict[str, Any]:
    """Exposure and unrealized P&L totals per currency and per account (seed component 1).

    Parameters
    ----------
    pnl
        The frame returned by :func:`positions_pnl`.

    Returns
    -------
    dict
        ``by_currency`` ``{currency: totals}``, ``by_account`` ``{account: {currency:
        totals}}`` (an account's currencies stay separate) and ``primary_currency``, the
        currency with the largest gross exposure (``None`` without positions; ties:
        alphabetical first). ``totals`` holds ``num_positions``, ``gross_exposure``
        :math:`\\sum |q p|`, ``net_exposure`` :math:`\\sum q p`, ``unrealized_pnl_dollars``
        :math:`\\sum (q p - C)` over positions with a known cost basis,
        ``unrealized_pnl_percent`` :math:`100 \\sum (q p - C) / \\sum |C|` over the same
        positions (``None`` when :math:`\\sum |C| = 0`), ``positions_without_cost_basis`` and
        ``entry_price_warnings`` (counts).

    Raises
    ------
    AnalyticsError
        Not a DataFrame or a :data:`POSITION_PNL_COLUMNS` column missing.
    """
    frame = require_frame(pnl, "pnl")
    require_columns(frame, POSITION_PNL_COLUMNS, "pnl")
    currencies = frame["currency"].to_numpy(dtype=object)
    accounts = frame["account"].to_numpy(dtype=object)
    by_currency = {
        str(code): _exposure_totals(frame.loc[currencies == code])
        for code in sorted(set(currencies))
    }
    by_account: dict[str, dict[str, Any]] = {}
    for account in sorted(set(accounts)):
        mine = frame.loc[accounts == account]
        mine_currencies = mine["currency"].to_numpy(dtype=object)
        by_account[str(account)] = {
            str(code): _exposure_totals(mine.loc[mine_currencies == code])
            for code in sorted(set(mine_currencies))
        }
    return {
        "by_currency": by_currency,
        "by_account": by_account,
        "primary_currency": primary_currency(currencies, frame["gross_exposure"].to_numpy()),
    }
