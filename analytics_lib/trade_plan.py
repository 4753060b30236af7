"""Trade plans: turning a basket action or a target portfolio into whole-share orders.

Currently implemented
---------------------
:func:`basket_trade_legs` (-> :class:`TradeLegs`)
    The pure part of a basket trade preview (issue 5): buy, sell or rebalance a basket for a
    cash value.
:func:`rebalance_plan` (-> :class:`RebalancePlan`), :class:`LiveBook`, :func:`state_drift`
    The trade-recommendation step of the strategy process (seed design 003, section 6): move a
    live account to target weights with the seed's two cash modes, and the snapshot
    (``portfolio_state.json``) that execution compares with the live book before trading.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

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
    "DEFAULT_CASH_RESERVE",
    "DEFAULT_MIN_TRADE_VALUE",
    "LEG_COLUMNS",
    "MAX_LEG_SHARES",
    "PLAN_COLUMNS",
    "SHARE_ROUNDING_RTOL",
    "TRADE_ACTIONS",
    "LiveBook",
    "RebalancePlan",
    "TradeAction",
    "TradeLegs",
    "basket_trade_legs",
    "plan_hash",
    "rebalance_plan",
    "state_drift",
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


MAX_LEG_SHARES: Final = 2**53
"""Largest share count of one leg: beyond it whole numbers are not exact floats (and a leg's
count could no longer be stored as a 64-bit integer safely)."""


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
        holdings or with no basket holdings at all; a leg of more than ``MAX_LEG_SHARES``
        (2**53) shares (tickers named).

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
    oversized = [label for label, q in zip(labels, quantity, strict=True) if q > MAX_LEG_SHARES]
    if oversized:
        raise AnalyticsError(
            f"value {amount:g} needs more than {MAX_LEG_SHARES:,} shares (2**53, the "
            f"largest exact whole number) for: {', '.join(oversized)}"
        )
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


# --------------------------------------------------------------------------------------------
# Portfolio rebalance plan (seed 003, section 6)
# --------------------------------------------------------------------------------------------

DEFAULT_CASH_RESERVE: Final = 70_000.0
"""Cash held back when no ``deploy_cash`` is given (seed 003: "$70k held back")."""

DEFAULT_MIN_TRADE_VALUE: Final = 100.0
"""Trades worth less than this are skipped (the seed names no value; $100)."""

PLAN_COLUMNS: tuple[str, ...] = ("symbol", "side", "quantity", "price", "value", "reason")

TradeReason: TypeAlias = Literal["exit", "reduce", "increase", "enter"]

_STATE_KEYS: Final = ("positions", "cash", "net_liquidation", "prices")


def _whole_share_count(amount: float) -> int:
    """Scalar :func:`_whole_shares`: floor, forgiving float noise just below a whole number."""
    return math.floor(amount * (1.0 + SHARE_ROUNDING_RTOL))


def _symbol_series(value: object, name: str) -> tuple[list[str], FloatArray]:
    series = require_series(value, name)
    require_unique_index(series, name)
    labels = [str(s) for s in series.index]
    if len(set(labels)) != len(labels):
        raise AnalyticsError(f"{name} has symbols that coincide as text")
    return labels, require_float_values(series, name)


@dataclass(frozen=True)
class LiveBook:
    """The live account a plan starts from (validated and copied on construction).

    Attributes
    ----------
    positions
        Whole shares by symbol (negative = short; zero = not held), int64, index ``symbol``
        (labels as text).
    cash
        Cash balance (finite; may be negative on margin).
    net_liquidation
        The broker's net liquidation value (finite). It need not equal cash + Σ positions ×
        prices (accruals, stale marks): the seed's account shows NLV $187,213 with cash $98,572
        and positions worth $88,481.
    prices
        Latest price (> 0, finite) by symbol, float64; must cover every non-zero position.
        Symbols outside the positions are allowed (e.g. the target's entries).

    Raises
    ------
    AnalyticsError
        Naming the field: not a Series, duplicate symbols, non-finite, fractional shares,
        non-positive prices, held symbols without a price.
    """

    positions: pd.Series
    cash: float
    net_liquidation: float
    prices: pd.Series

    def __post_init__(self) -> None:
        labels, shares = _symbol_series(self.positions, "positions")
        bad = [s for s, q in zip(labels, shares, strict=True) if not math.isfinite(q)]
        if bad:
            raise AnalyticsError(f"positions must be finite; not for: {', '.join(bad)}")
        fractional = [s for s, q in zip(labels, shares, strict=True) if q != math.floor(q)]
        if fractional:
            raise AnalyticsError(
                f"positions must be whole shares; fractional for: {', '.join(fractional)}"
            )
        cash = require_finite_number(self.cash, "cash")
        nlv = require_finite_number(self.net_liquidation, "net_liquidation")
        price_labels, px = _symbol_series(self.prices, "prices")
        invalid = [s for s, p in zip(price_labels, px, strict=True) if not (p > 0 and p < np.inf)]
        if invalid:
            raise AnalyticsError(
                f"prices must be positive and finite; not for: {', '.join(invalid)}"
            )
        known = set(price_labels)
        unpriced = [s for s, q in zip(labels, shares, strict=True) if q != 0 and s not in known]
        if unpriced:
            raise AnalyticsError(f"prices are missing for held symbol(s): {', '.join(unpriced)}")
        index = pd.Index(labels, dtype=object, name="symbol")
        object.__setattr__(
            self, "positions", pd.Series(shares.astype(np.int64), index=index, name="shares")
        )
        object.__setattr__(self, "cash", cash)
        object.__setattr__(self, "net_liquidation", nlv)
        object.__setattr__(
            self,
            "prices",
            pd.Series(px, index=pd.Index(price_labels, dtype=object, name="symbol"), name="price"),
        )


@dataclass(frozen=True)
class RebalancePlan:
    """Whole-share orders moving a :class:`LiveBook` to target weights.

    Attributes
    ----------
    trades
        Columns :data:`PLAN_COLUMNS`: ``symbol``, ``side`` (``"sell"``/``"buy"``),
        ``quantity`` (int64 > 0), ``price``, ``value`` (quantity × price), ``reason``
        (``"exit"``/``"reduce"``/``"increase"``/``"enter"``). All sells first, then all buys,
        each by symbol. A short being closed is an ``exit`` buy.
    skipped
        Same columns: trades worth less than ``min_trade_value`` (not in ``trades``).
    buys_total, sells_total
        Σ value of the buys / sells in ``trades``.
    cash_after
        ``cash + sells_total − buys_total``.
    sizing_basis
        The value the target weights apply to: invested + ``deploy_cash``, or net liquidation.
    cash_reserve
        Cash that must remain: ``cash − deploy_cash`` in deploy mode, ``cash_reserve``
        otherwise.
    buy_scale
        The factor applied to the desired buy values when cash could not fund them (1.0 when
        it could), see :func:`rebalance_plan`.
    leftover_cash
        ``cash_after − cash_reserve``: cash above the reserve left unspent (deploy mode: the
        part of ``deploy_cash`` + sales not deployed). Negative only when the account started
        below its reserve or exits of shorts needed the reserve.
    transition
        ``retained`` (held and targeted), ``exiting`` (held, not targeted), ``entering``
        (targeted, not held), each a sorted tuple of symbols.
    state
        JSON-serialisable snapshot (the seed's ``portfolio_state.json`` contract):
        ``positions`` {symbol: int}, ``cash``, ``net_liquidation``, ``prices``
        {symbol: float}, ``target_weights`` {symbol: float}, ``trades`` (list of row dicts),
        ``deploy_cash`` (float or None), ``sizing_basis``, ``cash_reserve``, ``cash_after``,
        ``plan_hash`` (see :func:`plan_hash`).
    """

    trades: pd.DataFrame
    skipped: pd.DataFrame
    buys_total: float
    sells_total: float
    cash_after: float
    sizing_basis: float
    cash_reserve: float
    buy_scale: float
    leftover_cash: float
    transition: dict[str, tuple[str, ...]]
    state: dict[str, Any]


def _validate_targets(target_weights: object) -> dict[str, float]:
    labels, values = _symbol_series(target_weights, "target_weights")
    non_finite = [s for s, v in zip(labels, values, strict=True) if not math.isfinite(v)]
    if non_finite:
        raise AnalyticsError(
            f"target_weights must be finite; non-finite for: {', '.join(non_finite)}"
        )
    negative = [s for s, v in zip(labels, values, strict=True) if v < 0.0]
    if negative:
        raise AnalyticsError(f"target_weights must be >= 0; negative for: {', '.join(negative)}")
    total = math.fsum(values)
    if total > 1.0 + WEIGHT_SUM_TOLERANCE:
        raise AnalyticsError(f"target_weights must sum to at most 1, got {total:.10g}")
    return {s: float(v) for s, v in zip(labels, values, strict=True)}


def _trade_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(PLAN_COLUMNS))
    return frame.astype(
        {
            "symbol": object,
            "side": object,
            "quantity": np.int64,
            "price": np.float64,
            "value": np.float64,
            "reason": object,
        }
    )


def _canonical(payload: object) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)


def plan_hash(
    target_weights: Mapping[str, float],
    book: Mapping[str, Any],
    trades: list[Mapping[str, Any]],
) -> str:
    """SHA-256 (hex) of the canonical JSON of a plan's inputs and trades.

    Parameters
    ----------
    target_weights
        ``{symbol: weight}``.
    book
        ``{"positions": {symbol: int}, "cash": float, "net_liquidation": float,
        "prices": {symbol: float}}``.
    trades
        Trade rows as dicts with the keys :data:`PLAN_COLUMNS`.

    Returns
    -------
    str
        ``sha256(json.dumps({"target_weights": …, "book": …, "trades": …}, sort_keys=True,
        separators=(",", ":")))``. Floats are written with Python's shortest round-trip
        representation, so the hash survives a JSON round trip of the snapshot.

    Raises
    ------
    AnalyticsError
        When the content is not JSON-serialisable or holds NaN/infinity.
    """
    payload = {
        "target_weights": dict(target_weights),
        "book": {key: book[key] for key in _STATE_KEYS},
        "trades": [dict(row) for row in trades],
    }
    try:
        text = _canonical(payload)
    except (TypeError, ValueError) as exc:
        raise AnalyticsError(f"plan content is not canonical JSON: {exc}") from None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rebalance_plan(
    target_weights: pd.Series,
    book: LiveBook,
    *,
    deploy_cash: float | None = None,
    cash_reserve: float = DEFAULT_CASH_RESERVE,
    min_trade_value: float = DEFAULT_MIN_TRADE_VALUE,
) -> RebalancePlan:
    """Whole-share trades that move ``book`` to ``target_weights`` (seed 003 cash modes).

    Parameters
    ----------
    target_weights
        Weights by symbol, finite, ≥ 0, summing to at most 1 (the rest stays cash). Symbols
        with weight 0 count as not targeted. Every targeted symbol needs a price in ``book``.
    book
        The live account (:class:`LiveBook`).
    deploy_cash
        ``None`` (default): size the target to net liquidation and keep ``cash_reserve``.
        A number in [0, ``book.cash``]: size the target to invested + ``deploy_cash`` and
        spend at most ``deploy_cash`` plus the proceeds of sales (seed: "deploys exactly $50k
        more, sizes to (invested + $50k)").
    cash_reserve
        Cash to keep in the default mode (seed: $70,000), finite, ≥ 0; unused in deploy mode.
    min_trade_value
        Reduce/increase/enter trades worth less than this (finite, ≥ 0) are skipped and
        listed in ``skipped``; exits always trade in full.

    Returns
    -------
    RebalancePlan

    Raises
    ------
    AnalyticsError
        Naming the argument: invalid ``target_weights`` (not a Series, duplicate, non-finite,
        negative, sum > 1), ``book`` not a :class:`LiveBook`, targeted symbols without a price
        in ``book``, ``deploy_cash`` negative or above ``book.cash``, invalid
        ``cash_reserve`` / ``min_trade_value``, a non-positive sizing basis, or short
        positions whose covering cannot be paid from cash plus sales.

    Notes
    -----
    With holdings :math:`h_i` (whole), prices :math:`p_i`, weights :math:`w_i`, cash
    :math:`c`, net liquidation :math:`L` and invested value :math:`I = \\sum_i h_i p_i`
    (the positions at the book's prices, as in the seed):

    - sizing basis :math:`S = I + D` with ``deploy_cash`` :math:`D`, else :math:`S = L`;
      reserve :math:`R = c - D`, else ``cash_reserve``.
    - Target shares :math:`q^*_i = \\lfloor w_i S / p_i \\rfloor` (floored as in
      :func:`basket_trade_legs`, forgiving float noise). Trade :math:`q^*_i - h_i`: a sell
      (``reduce``) when negative, a buy (``enter`` when :math:`h_i = 0`, else ``increase``)
      when positive. Held symbols not targeted are ``exit``: their whole position is sold
      (bought back when short).
    - Reduce trades below ``min_trade_value`` are skipped. The cash for discretionary buys is
      :math:`A = c + \\text{sells} - \\text{exit buys} - R`. If the buys' value
      :math:`\\sum_i (q^*_i - h_i) p_i` exceeds :math:`A`, every buy is scaled by
      :math:`f = \\max(A, 0) / \\sum_i d_i` on its desired value
      :math:`d_i = w_i S - h_i p_i` and floored again: :math:`\\lfloor f d_i / p_i \\rfloor`
      shares, so the buys cost at most :math:`A` and cash never falls below :math:`R`
      (never below 0). Then buys below ``min_trade_value`` are skipped.
    """
    weights = _validate_targets(target_weights)
    if not isinstance(book, LiveBook):
        raise AnalyticsError(f"book must be a LiveBook, got {type(book).__name__}")
    reserve_in = require_finite_number(cash_reserve, "cash_reserve")
    if reserve_in < 0.0:
        raise AnalyticsError(f"cash_reserve must be >= 0, got {cash_reserve!r}")
    min_value = require_finite_number(min_trade_value, "min_trade_value")
    if min_value < 0.0:
        raise AnalyticsError(f"min_trade_value must be >= 0, got {min_trade_value!r}")
    deploy: float | None = None
    if deploy_cash is not None:
        deploy = require_finite_number(deploy_cash, "deploy_cash")
        if deploy < 0.0:
            raise AnalyticsError(f"deploy_cash must be >= 0, got {deploy_cash!r}")
        if deploy > book.cash:
            raise AnalyticsError(
                f"deploy_cash {_money(deploy)} exceeds the book's cash {_money(book.cash)}"
            )

    targeted = {s: w for s, w in weights.items() if w > 0.0}
    prices = {str(s): float(p) for s, p in book.prices.items()}
    unpriced = sorted(s for s in targeted if s not in prices)
    if unpriced:
        raise AnalyticsError(f"book.prices are missing for target symbol(s): {', '.join(unpriced)}")
    held = {str(s): int(q) for s, q in book.positions.items() if q != 0}
    invested = math.fsum(q * prices[s] for s, q in held.items())
    if deploy is None:
        basis, reserve = book.net_liquidation, reserve_in
    else:
        basis, reserve = invested + deploy, book.cash - deploy
    if not basis > 0.0:
        raise AnalyticsError(f"the sizing basis must be > 0, got {_money(basis)}")

    sells: list[dict[str, Any]] = []
    exit_buys: list[dict[str, Any]] = []
    wanted: dict[str, tuple[int, float]] = {}  # buys: symbol -> (shares, desired value)
    for symbol in sorted(set(held) | set(targeted)):
        price, current = prices[symbol], held.get(symbol, 0)
        if symbol not in targeted:
            row = {"symbol": symbol, "quantity": abs(current), "price": price, "reason": "exit"}
            (sells if current > 0 else exit_buys).append(
                {**row, "side": "sell" if current > 0 else "buy"}
            )
            continue
        desired = targeted[symbol] * basis
        change = _whole_share_count(desired / price) - current
        if change < 0:
            sells.append(
                {
                    "symbol": symbol,
                    "side": "sell",
                    "quantity": -change,
                    "price": price,
                    "reason": "reduce",
                }
            )
        elif change > 0:
            wanted[symbol] = (change, desired - current * price)

    skipped: list[dict[str, Any]] = []

    def keep(row: dict[str, Any]) -> bool:
        row["value"] = row["quantity"] * row["price"]
        if row["reason"] != "exit" and row["value"] < min_value:
            skipped.append(row)
            return False
        return True

    sells = [row for row in sells if keep(row)]
    sells_total = math.fsum(row["value"] for row in sells)
    exit_buys = [row for row in exit_buys if keep(row)]
    cover = math.fsum(row["value"] for row in exit_buys)
    if book.cash + sells_total - cover < 0.0:
        raise AnalyticsError(
            f"book.positions: covering short positions costs {_money(cover)} but cash plus "
            f"sales is only {_money(book.cash + sells_total)}"
        )
    available = book.cash + sells_total - cover - reserve
    scale = 1.0
    if math.fsum(q * prices[s] for s, (q, _) in wanted.items()) > available:
        desired_total = math.fsum(d for _, d in wanted.values())
        scale = max(available, 0.0) / desired_total
        wanted = {s: (math.floor(scale * d / prices[s]), d) for s, (_, d) in wanted.items()}
    buys = [
        {
            "symbol": s,
            "side": "buy",
            "quantity": q,
            "price": prices[s],
            "reason": "increase" if s in held else "enter",
        }
        for s, (q, _) in wanted.items()
        if q > 0
    ]
    buys = sorted([row for row in buys if keep(row)] + exit_buys, key=lambda r: r["symbol"])
    buys_total = math.fsum(row["value"] for row in buys)
    cash_after = book.cash + sells_total - buys_total

    ordered = [{k: row[k] for k in PLAN_COLUMNS} for row in [*sells, *buys]]
    skipped_rows = [{k: row[k] for k in PLAN_COLUMNS} for row in skipped]
    book_state = {
        "positions": {str(s): int(q) for s, q in book.positions.items()},
        "cash": book.cash,
        "net_liquidation": book.net_liquidation,
        "prices": prices,
    }
    state: dict[str, Any] = {
        **book_state,
        "target_weights": weights,
        "trades": ordered,
        "deploy_cash": deploy,
        "sizing_basis": basis,
        "cash_reserve": reserve,
        "cash_after": cash_after,
        "plan_hash": plan_hash(weights, book_state, ordered),
    }
    return RebalancePlan(
        trades=_trade_rows(ordered),
        skipped=_trade_rows(sorted(skipped_rows, key=lambda r: r["symbol"])),
        buys_total=buys_total,
        sells_total=sells_total,
        cash_after=cash_after,
        sizing_basis=basis,
        cash_reserve=reserve,
        buy_scale=scale,
        leftover_cash=cash_after - reserve,
        transition={
            "retained": tuple(sorted(set(held) & set(targeted))),
            "exiting": tuple(sorted(set(held) - set(targeted))),
            "entering": tuple(sorted(set(targeted) - set(held))),
        },
        state=state,
    )


def _snapshot_number(snapshot: Mapping[str, Any], key: str) -> float:
    return require_finite_number(snapshot[key], f"snapshot[{key!r}]")


def _snapshot_mapping(snapshot: Mapping[str, Any], key: str) -> dict[str, float]:
    value = snapshot[key]
    if not isinstance(value, Mapping):
        raise AnalyticsError(
            f"snapshot[{key!r}] must be a mapping of symbol to number, got {type(value).__name__}"
        )
    return {str(s): require_finite_number(v, f"snapshot[{key!r}][{s!r}]") for s, v in value.items()}


def _relative_change(plan: float, now: float) -> float:
    return math.inf if plan == 0.0 else (now - plan) / abs(plan)


def state_drift(snapshot: Mapping[str, Any], book: LiveBook, tolerance: float) -> list[str]:
    """What changed between a plan's snapshot and the live book; empty means safe to execute.

    Parameters
    ----------
    snapshot
        :attr:`RebalancePlan.state` (possibly after a JSON round trip): needs ``positions``,
        ``cash``, ``net_liquidation`` and ``prices``. When it also holds ``plan_hash``,
        ``target_weights`` and ``trades``, the hash is recomputed to detect edits.
    book
        The live account now.
    tolerance
        Relative tolerance (finite, ≥ 0) for cash, net liquidation and prices.

    Returns
    -------
    list of str
        One readable line per difference, in this order:

        - ``"plan_hash: …"`` when the snapshot's content no longer matches its hash;
        - ``"SYM: 120 shares in the plan, 100 now"`` for every symbol whose share count
          differs (exact: shares are whole; absent = 0), by symbol;
        - ``"cash: …"`` / ``"net_liquidation: …"`` when
          :math:`|x_{now} - x_{plan}| > \\text{tolerance} \\cdot |x_{plan}|`;
        - ``"SYM price: …"`` for every snapshot price that moved by more than
          ``tolerance`` relative, or has no live price, by symbol.

    Raises
    ------
    AnalyticsError
        ``snapshot`` not a mapping or missing a key or holding non-numbers, ``book`` not a
        :class:`LiveBook`, ``tolerance`` negative or non-finite.
    """
    if not isinstance(snapshot, Mapping):
        raise AnalyticsError(f"snapshot must be a mapping, got {type(snapshot).__name__}")
    missing = [k for k in _STATE_KEYS if k not in snapshot]
    if missing:
        raise AnalyticsError(f"snapshot is missing key(s): {', '.join(missing)}")
    if not isinstance(book, LiveBook):
        raise AnalyticsError(f"book must be a LiveBook, got {type(book).__name__}")
    tol = require_finite_number(tolerance, "tolerance")
    if tol < 0.0:
        raise AnalyticsError(f"tolerance must be >= 0, got {tolerance!r}")

    problems: list[str] = []
    if all(k in snapshot for k in ("plan_hash", "target_weights", "trades")):
        try:
            expected = plan_hash(snapshot["target_weights"], snapshot, snapshot["trades"])
        except (AnalyticsError, TypeError, ValueError):
            expected = None
        if expected != snapshot["plan_hash"]:
            problems.append(
                "plan_hash: the snapshot's weights, book or trades no longer match its hash "
                "(edited after planning)"
            )

    plan_positions = _snapshot_mapping(snapshot, "positions")
    live_positions = {str(s): float(q) for s, q in book.positions.items()}
    for symbol in sorted(set(plan_positions) | set(live_positions)):
        before, now = plan_positions.get(symbol, 0.0), live_positions.get(symbol, 0.0)
        if before != now:
            problems.append(f"{symbol}: {before:,.0f} shares in the plan, {now:,.0f} now")

    for key, now in (("cash", book.cash), ("net_liquidation", book.net_liquidation)):
        before = _snapshot_number(snapshot, key)
        if abs(now - before) > tol * abs(before):
            change = _relative_change(before, now)
            problems.append(
                f"{key}: {_money(before)} in the plan, {_money(now)} now ({change:+.2%})"
            )

    live_prices = {str(s): float(p) for s, p in book.prices.items()}
    for symbol, before in sorted(_snapshot_mapping(snapshot, "prices").items()):
        if symbol not in live_prices:
            problems.append(f"{symbol} price: {_money(before)} in the plan, missing now")
            continue
        now = live_prices[symbol]
        if abs(now - before) > tol * abs(before):
            change = _relative_change(before, now)
            problems.append(
                f"{symbol} price: {_money(before)} in the plan, {_money(now)} now ({change:+.2%})"
            )
    return problems
