"""Position weights, the portfolio's own return series, and concentration.

Currently implemented
---------------------
:func:`position_weights`
    Market value / net equity per holding (shorts negative).
:func:`portfolio_returns`, :func:`missing_holdings`
    The daily return series of the current holdings, renormalised over holdings with data.
:func:`concentration`
    HHI, effective number of positions and top-3 / top-10 weights.

Portfolio volatility always comes from :func:`portfolio_returns` (e.g.
``realized_volatility(portfolio_returns(r, w)["return"], 21)``), never from weighting position
volatilities, which ignores correlations (DESIGN.md section 6).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from analytics_lib._typing import ReturnsPanel, Weights
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.validation import (
    require_finite_number,
    require_returns_values,
    require_weights,
)

__all__ = ["concentration", "missing_holdings", "portfolio_returns", "position_weights"]

HHI_SCALE: Final = 10_000.0


def position_weights(quantities: pd.Series, prices: pd.Series, *, cash: float = 0.0) -> pd.Series:
    """Weights of the holdings: market value over net equity, shorts negative.

    Parameters
    ----------
    quantities
        Series symbol -> quantity held (negative = short). Labels unique, values finite.
    prices
        Series symbol -> price (> 0) on the as-of date; must cover every non-zero quantity.
        Extra symbols are ignored.
    cash
        Cash balance counted in net equity (default 0: net equity = sum of market values).

    Returns
    -------
    Series
        Named ``weight``, indexed like ``quantities`` (index name ``symbol``):
        :math:`w_i = q_i p_i / E` with net equity :math:`E = \\sum_j q_j p_j + \\text{cash}`.
        Zero quantities get weight 0. Weights sum to :math:`1 - \\text{cash}/E`.

    Raises
    ------
    AnalyticsError
        Naming the symbols without a (finite, positive) price, on invalid inputs, or when net
        equity is not positive (weights would be meaningless).

    Notes
    -----
    No look-ahead concern: one as-of date. Prices are whatever the caller takes as the as-of
    close.
    """
    qty = require_weights(quantities, "quantities")
    cash_value = require_finite_number(cash, "cash")
    if not isinstance(prices, pd.Series):
        raise AnalyticsError(f"prices must be a pandas Series, got {type(prices).__name__}")
    if prices.index.has_duplicates:
        dups = sorted({str(s) for s in prices.index[prices.index.duplicated()]})
        raise AnalyticsError(f"prices has duplicate symbol(s): {', '.join(dups)}")
    held = qty[qty != 0.0]
    try:
        px = prices.reindex(held.index).to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise AnalyticsError(f"prices must hold numbers: {exc}") from None
    bad = ~(np.isfinite(px) & (px > 0.0))
    if bad.any():
        symbols = ", ".join(str(s) for s in held.index[bad])
        raise AnalyticsError(f"prices has no positive price for holding(s): {symbols}")
    market_value = pd.Series(0.0, index=qty.index)
    market_value.loc[held.index] = held.to_numpy() * px
    equity = float(market_value.sum()) + cash_value
    if not equity > 0.0:
        raise AnalyticsError(
            f"net equity must be > 0 to weight positions, got {equity:.6g} "
            "(sum of market values plus cash)"
        )
    weights = market_value / equity
    weights.name = "weight"
    weights.index.name = "symbol"
    return weights


def missing_holdings(returns: ReturnsPanel, weights: Weights) -> list[Any]:
    """Holdings with a non-zero weight that are not columns of ``returns`` (weights order).

    Raises
    ------
    AnalyticsError
        On an invalid panel or weights.
    """
    frame, _ = require_returns_values(returns)
    w = require_weights(weights, "weights")
    return [s for s in w.index[w != 0.0] if s not in frame.columns]


def portfolio_returns(returns: ReturnsPanel, weights: Weights) -> pd.DataFrame:
    """Daily return series of the current holdings, renormalised over holdings with data.

    Parameters
    ----------
    returns
        Returns panel (dates x symbols, simple returns, ``NaN`` = no return that day).
    weights
        Series symbol -> weight (e.g. :func:`position_weights`); zero weights are ignored.

    Returns
    -------
    DataFrame
        Indexed like ``returns`` with columns ``return`` and ``coverage`` (in [0, 1]).
        ``attrs["missing_symbols"]`` lists holdings absent from the panel (they count as
        unavailable every day); :func:`missing_holdings` returns the same list on its own.

    Raises
    ------
    AnalyticsError
        On an invalid panel or weights, or when every weight is zero.

    Notes
    -----
    With :math:`A_t` the holdings whose return on day t is finite and :math:`G = \\sum_i|w_i|`,

    .. math::

        r_{p,t} = \\Big(\\sum_{i\\in A_t} w_i r_{i,t}\\Big)\\,
                  \\frac{G}{\\sum_{i\\in A_t}|w_i|},\\qquad
        \\text{coverage}_t = \\frac{\\sum_{i\\in A_t}|w_i|}{G},

    and :math:`r_{p,t}` is NaN on days with zero coverage. With full coverage
    :math:`r_{p,t} = \\sum_i w_i r_{i,t}`. These are today's weights applied to past returns
    (the return of the current book, not a backtest); each day uses that day's returns only.
    """
    frame, values = require_returns_values(returns)
    w = require_weights(weights, "weights")
    w = w[w != 0.0]
    if w.empty:
        raise AnalyticsError("weights has no non-zero weight")
    gross = float(np.abs(w.to_numpy()).sum())
    present = [s for s in w.index if s in frame.columns]
    missing = [s for s in w.index if s not in frame.columns]
    absent_gross = float(np.abs(w.reindex(missing).to_numpy()).sum())
    r = values[:, frame.columns.get_indexer(present)]
    wv = w.reindex(present).to_numpy()
    available = np.isfinite(r)
    weighted = np.where(available, r, 0.0) @ wv
    # gross weight without data that day: exactly 0 on a full day, so no rescaling then
    unavailable = (~available).astype(np.float64) @ np.abs(wv) + absent_gross
    covered = np.where(available.any(axis=1), gross - unavailable, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        port = np.where(covered > 0.0, weighted * (gross / covered), np.nan)
    out = pd.DataFrame({"return": port, "coverage": covered / gross}, index=frame.index)
    out.attrs["missing_symbols"] = missing
    return out


def concentration(weights: Weights) -> dict[str, Any]:
    """Concentration of a book: HHI, effective number of positions, top-3 and top-10 weights.

    Parameters
    ----------
    weights
        Series symbol -> weight (shorts negative). Zero weights are ignored.

    Returns
    -------
    dict
        ``hhi`` (0-10,000], ``effective_n``, ``positions`` (non-zero weights),
        ``top3_weight``, ``top3_symbols``, ``top10_weight``, ``top10_symbols``, ``max_weight``
        (largest gross weight). Weights here are gross shares.

    Raises
    ------
    AnalyticsError
        On invalid weights or when every weight is zero.

    Notes
    -----
    Gross shares :math:`g_i = |w_i| / \\sum_j |w_j|`; :math:`HHI = 10{,}000\\sum_i g_i^2`;
    :math:`N_{eff} = 10{,}000 / HHI = 1/\\sum g_i^2 \\le` ``positions`` (equality for equal
    weights). Top-k weight is the sum of the k largest :math:`g_i` (fewer when the book is
    smaller); symbols are ordered by :math:`g` descending, ties by symbol.
    """
    w = require_weights(weights, "weights")
    w = w[w != 0.0]
    if w.empty:
        raise AnalyticsError("weights has no non-zero weight")
    absolute = np.abs(w.to_numpy())
    share = absolute / absolute.sum()
    order = np.lexsort((np.array([str(s) for s in w.index]), -share))
    ranked_symbols = [w.index[i] for i in order]
    ranked = share[order]
    sum_squares = float(np.sum(share * share))
    return {
        "hhi": HHI_SCALE * sum_squares,
        "effective_n": 1.0 / sum_squares,
        "positions": len(share),
        "top3_weight": float(ranked[:3].sum()),
        "top3_symbols": ranked_symbols[:3],
        "top10_weight": float(ranked[:10].sum()),
        "top10_symbols": ranked_symbols[:10],
        "max_weight": float(ranked[0]),
    }
