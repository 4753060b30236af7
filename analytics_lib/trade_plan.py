"""Trade plans: turning a basket action into whole-share order legs.

Currently implemented: :func:`basket_trade_legs` (-> :class:`TradeLegs`), the pure part of a
basket trade preview (issue 5): buy, sell or rebalance a basket for a cash value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd

from analytics_lib._typing import FloatArray
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.validation import (
    require_finite_number,
    require_float_values,
    require_series,
    require_unique_index,
)

__all__ = [
    "LEG_COLUMNS",
    "SHARE_ROUNDING_RTOL",
    "TRADE_ACTIONS",
    "TradeAction",
    "TradeLegs",
    "basket_trade_legs",
]

TradeAction: TypeAlias = Literal["buy", "sell", "rebalance"]
TRADE_ACTIONS: tuple[str, ...] = ("buy", "sell", "rebalance")

LEG_COLUMNS: tuple[str, ...] = (
    "side",
    "quantity",
    "price",
    "notional",
    "target_value",
    "current_quantity",
)

SHARE_ROUNDING_RTOL = 1e-12
"""Share counts within this relative distance below a whole number count as that number
before flooring, so floating-point noise (``2.9999999999999996``) never costs a share."""

WEIGHT_SUM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class TradeLegs:
    """Whole-share order legs for one basket action.

    Attributes
    ----------
    action
        ``"buy"``, ``"sell"`` or ``"rebalance"``.
    value
        The requested cash value.
    legs
        Indexed by ``symbol`` (the weights' order), one row per leg with at least one share:
        ``side`` (``"BUY"``/``"SELL"``), ``quantity`` (int64 > 0), ``price``, ``notional``
        (quantity × price), ``target_value`` (see :func:`basket_trade_legs`),
        ``current_quantity`` (int64 shares held before the trade).
    omitted
        Basket tickers that get no leg (zero shares to trade), in the weights' order.
    leftover_cash
        buy: ``value`` − Σ notional; sell: ``value`` − Σ proceeds (what could not be sold);
        rebalance: ``value`` − Σ target position values at whole shares. Never negative
        beyond rounding.
    warnings
        Human-readable notes: tickers priced above their allocation, proportional sales
        that round to zero shares, a sell larger than the basket's holdings.
    """

    action: TradeAction
    value: float
    legs: pd.DataFrame
    omitted: tuple[str, ...]
    leftover_cash: float
    warnings: tuple[str, ...]


def _whole_shares(amount: FloatArray) -> FloatArray:
    """Floor to whole shares, forgiving floating-point noise just below a whole number."""
    return np.floor(amount * (1.0 + SHARE_ROUNDING_RTOL))


def _validate_weights(weights: object) -> tuple[pd.Index, FloatArray]:
    w = require_series(weights, "weights")
    require_unique_index(w, "weights")
    if w.empty:
        raise AnalyticsError("weights is empty: the basket has no tickers")
    values = require_float_values(w, "weights")
    non_finite = [str(t) for t, v in zip(w.index, values, strict=True) if not math.isfinite(v)]
    if non_finite:
        raise AnalyticsError(f"weights must be finite; non-finite for: {', '.join(non_finite)}")
    negative = [str(t) for t, v in zip(w.index, values, strict=True) if v < 0.0]
    if negative:
        raise AnalyticsError(f"weights must be >= 0; negative for: {', '.join(negative)}")
    total = math.fsum(values)
    if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
        raise AnalyticsError(f"weights must sum to 1, got {total:.10g}")
    return w.index, values


def _validate_prices(prices: object, tickers: pd.Index) -> FloatArray:
    p = require_series(prices, "prices")
    require_unique_index(p, "prices")
    aligned = pd.Series(require_float_values(p, "prices"), index=p.index).reindex(tickers)
    values = aligned.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = [str(t) for t, v in zip(tickers, values, strict=True) if math.isnan(v)]
    if missing:
        raise AnalyticsError(f"prices are missing for: {', '.join(missing)}")
    bad = [str(t) for t, v in zip(tickers, values, strict=True) if not (math.isfinite(v) and v > 0)]
    if bad:
        raise AnalyticsError(f"prices must be positive and finite; not for: {', '.join(bad)}")
    return values


def _validate_holdings(holdings: object, tickers: pd.Index) -> FloatArray:
    h = require_series(holdings, "holdings")
    require_unique_index(h, "holdings")
    values = require_float_values(h, "holdings")
    labels = [str(t) for t in h.index]
    non_finite = [t for t, v in zip(labels, values, strict=True) if not math.isfinite(v)]
    if non_finite:
        raise AnalyticsError(f"holdings must be finite; not for: {', '.join(non_finite)}")
    negative = [t for t, v in zip(labels, values, strict=True) if v < 0.0]
    if negative:
        raise AnalyticsError(
            f"holdings must be >= 0 (no short positions); negative for: {', '.join(negative)}"
        )
    fractional = [t for t, v in zip(labels, values, strict=True) if v != math.floor(v)]
    if fractional:
        raise AnalyticsError(
            f"holdings must be whole shares; fractional for: {', '.join(fractional)}"
        )
    return (
        pd.Series(values, index=h.index)
        .reindex(tickers, fill_value=0.0)
        .to_numpy(dtype=np.float64, na_value=0.0)
    )


def _money(x: float) -> str:
    return f"{x:,.2f}"


def basket_trade_legs(
    *,
    action: TradeAction,
    value: float,
    weights: pd.Series,
    prices: pd.Series,
    holdings: pd.Series | None = None,
) -> TradeLegs:
    """Whole-share legs that buy, sell or rebalance a basket for a cash value.

    Parameters
    ----------
    action
        ``"buy"``: allocate ``value`` across the basket's weights. ``"sell"``: reduce the
        basket's current holdings proportionally by ``value``. ``"rebalance"``: move the
        current holdings of the basket's tickers to the target weights of ``value``.
    value
        Cash value of the action (finite, > 0).
    weights
        The basket's weights by ticker (the basket's tickers), non-negative, summing to 1
        within 1e-6.
    prices
        Price per share by ticker; every basket ticker needs a positive finite price
        (extra symbols are ignored).
    holdings
        Current shares by symbol (whole, non-negative); symbols outside the basket are
        ignored, basket tickers absent count as 0. Required for ``"sell"``; optional (none
        held) for ``"buy"`` and ``"rebalance"``.

    Returns
    -------
    TradeLegs

    Raises
    ------
    AnalyticsError
        Unknown action; non-positive or non-finite value; weights empty, non-finite,
        negative or not summing to 1; missing or non-positive prices (tickers named);
        holdings negative, non-finite or fractional (tickers named); ``"sell"`` without
        holdings or with no basket holdings at all.

    Notes
    -----
    With weights :math:`w_i`, prices :math:`p_i`, holdings :math:`h_i`, value :math:`V` and
    :math:`\\lfloor\\cdot\\rfloor` the floor of :math:`x (1 + 10^{-12})`
    (``SHARE_ROUNDING_RTOL``, so rounding noise never costs a share; sums below then hold up
    to that relative tolerance):

    - buy: :math:`q_i = \\lfloor w_i V / p_i \\rfloor` shares bought, ``target_value``
      :math:`= w_i V`; a ticker with :math:`w_i > 0` and :math:`q_i = 0` (price above its
      allocation) is warned about. :math:`\\sum_i q_i p_i \\le V`.
    - sell: with the basket's market value :math:`M = \\sum_i h_i p_i`: if :math:`V \\ge M`
      sell everything (:math:`q_i = h_i`; warning when :math:`V > M`), otherwise
      :math:`q_i = \\min(h_i, \\lfloor h_i V / M \\rfloor)`; ``target_value``
      :math:`= h_i p_i \\min(1, V/M)`. Never below zero, never short;
      :math:`\\sum_i q_i p_i \\le V`.
    - rebalance: target :math:`q^*_i = \\lfloor w_i V / p_i \\rfloor`, trade
      :math:`q^*_i - h_i` (BUY if positive, SELL if negative); ``target_value``
      :math:`= w_i V`. Afterwards every basket ticker holds exactly :math:`q^*_i`.
    """
    if action not in TRADE_ACTIONS:
        raise AnalyticsError(f"action must be one of {', '.join(TRADE_ACTIONS)}, got {action!r}")
    amount = require_finite_number(value, "value", positive=True)
    tickers, w = _validate_weights(weights)
    p = _validate_prices(prices, tickers)
    if holdings is None:
        if action == "sell":
            raise AnalyticsError("holdings is required for action='sell'")
        h = np.zeros(len(tickers))
    else:
        h = _validate_holdings(holdings, tickers)

    labels = [str(t) for t in tickers]
    warnings: list[str] = []
    if action == "sell":
        market_value = math.fsum(h * p)
        if market_value <= 0.0:
            raise AnalyticsError(
                "holdings has no shares of the basket's tickers "
                f"({', '.join(labels)}): nothing to sell"
            )
        if amount >= market_value:
            if amount > market_value:
                warnings.append(
                    f"sell value {_money(amount)} exceeds the basket's holdings market value "
                    f"{_money(market_value)}; selling all holdings"
                )
            fraction = 1.0
            trade = h.copy()
        else:
            fraction = amount / market_value
            trade = np.minimum(h, _whole_shares(h * fraction))
        target = h * p * fraction
        for label, held, q in zip(labels, h, trade, strict=True):
            if held > 0 and q == 0:
                warnings.append(
                    f"{label}: the proportional sale of {held * fraction:.4g} shares rounds "
                    "to 0 shares"
                )
        signed = -trade
        leftover = amount - math.fsum(trade * p)
    else:
        target = w * amount
        target_shares = _whole_shares(target / p)
        for label, weight, q, price, alloc in zip(labels, w, target_shares, p, target, strict=True):
            if weight > 0 and q == 0:
                warnings.append(
                    f"{label}: price {_money(price)} exceeds its allocation {_money(alloc)}; "
                    "0 shares"
                )
        signed = target_shares if action == "buy" else target_shares - h
        leftover = amount - math.fsum(target_shares * p)

    quantity = np.abs(signed)
    traded = quantity > 0
    legs = pd.DataFrame(
        {
            "side": np.where(signed > 0, "BUY", "SELL"),
            "quantity": quantity.astype(np.int64),
            "price": p,
            "notional": quantity * p,
            "target_value": target,
            "current_quantity": h.astype(np.int64),
        },
        index=pd.Index(tickers, name="symbol"),
    ).loc[traded]
    return TradeLegs(
        action=action,
        value=amount,
        legs=legs,
        omitted=tuple(label for label, t in zip(labels, traded, strict=True) if not t),
        leftover_cash=float(leftover),
        warnings=tuple(warnings),
    )
