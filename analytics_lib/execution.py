"""Execution arithmetic: simulated fills, commissions, cost drift and position reconciliation.

The broker adapters and the basket-trade executor (``orchestration``) call these pure functions;
they never touch a database or a broker.
"""

from __future__ import annotations

import math
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd

from analytics_lib.exceptions import AnalyticsError
from analytics_lib.validation import (
    require_columns,
    require_finite_number,
    require_float_values,
    require_frame,
    require_series,
    require_unique_index,
)

__all__ = [
    "BREAK_COLUMNS",
    "DEFAULT_QUANTITY_TOLERANCE",
    "Side",
    "cost_drift",
    "expected_positions",
    "leg_cost",
    "per_share_commission",
    "position_breaks",
    "slipped_price",
]

Side: TypeAlias = Literal["BUY", "SELL"]
SIDES: tuple[str, ...] = ("BUY", "SELL")
BREAK_COLUMNS: tuple[str, ...] = ("symbol", "expected", "actual", "difference")
DEFAULT_QUANTITY_TOLERANCE = 1e-6


def _side(side: object) -> str:
    if side not in SIDES:
        raise AnalyticsError(f"side must be BUY or SELL, got {side!r}")
    return str(side)


def slipped_price(price: float, side: Side, slippage_bps: float) -> float:
    """The fill price of a market order that pays ``slippage_bps`` against ``price``.

    Parameters
    ----------
    price
        Reference price (the latest close), finite and > 0.
    side
        ``"BUY"`` or ``"SELL"``.
    slippage_bps
        Slippage in basis points, finite, in [0, 10,000).

    Returns
    -------
    float
        :math:`p (1 + s / 10^4)` for a buy, :math:`p (1 - s / 10^4)` for a sell.

    Raises
    ------
    AnalyticsError
        Non-positive or non-finite price, unknown side, slippage outside [0, 10,000).
    """
    p = require_finite_number(price, "price", positive=True)
    s = require_finite_number(slippage_bps, "slippage_bps")
    if not 0.0 <= s < 10_000.0:
        raise AnalyticsError(f"slippage_bps must be in [0, 10000), got {slippage_bps!r}")
    sign = 1.0 if _side(side) == "BUY" else -1.0
    return p * (1.0 + sign * s / 10_000.0)


def per_share_commission(quantity: float, per_share: float, minimum: float) -> float:
    """Commission of an order charged per share with a minimum per order.

    Parameters
    ----------
    quantity
        Shares traded, finite and >= 0 (0 means nothing traded: no commission).
    per_share, minimum
        Rate per share and minimum per order, finite and >= 0.

    Returns
    -------
    float
        :math:`\\max(m, r q)` when :math:`q > 0`, else 0.

    Raises
    ------
    AnalyticsError
        A negative or non-finite argument (named).
    """
    q = require_finite_number(quantity, "quantity")
    r = require_finite_number(per_share, "per_share")
    m = require_finite_number(minimum, "minimum")
    for name, value in (("quantity", q), ("per_share", r), ("minimum", m)):
        if value < 0.0:
            raise AnalyticsError(f"{name} must be >= 0, got {value!r}")
    return max(m, r * q) if q > 0.0 else 0.0


def leg_cost(side: Side, notional: float, commission: float | None) -> float:
    """Signed cash cost of an order: what leaves the account (negative = proceeds).

    Parameters
    ----------
    side
        ``"BUY"`` or ``"SELL"``.
    notional
        Quantity × price, finite and >= 0.
    commission
        Commission, finite and >= 0; ``None`` (unknown) counts as 0.

    Returns
    -------
    float
        :math:`N + c` for a buy, :math:`-(N - c)` for a sell.

    Raises
    ------
    AnalyticsError
        Unknown side, negative or non-finite notional or commission.
    """
    n = require_finite_number(notional, "notional")
    c = 0.0 if commission is None else require_finite_number(commission, "commission")
    if n < 0.0 or c < 0.0:
        raise AnalyticsError(f"notional and commission must be >= 0, got {n!r} and {c!r}")
    return n + c if _side(side) == "BUY" else -(n - c)


def cost_drift(original: float, current: float) -> float:
    """Relative change of an estimated cost between two previews.

    Parameters
    ----------
    original, current
        The first and the latest estimated cost (finite; signed costs are compared as given).

    Returns
    -------
    float
        :math:`|c_1 - c_0| / |c_0|`; 0 when both are 0, ``inf`` when only :math:`c_0` is 0.

    Raises
    ------
    AnalyticsError
        A non-finite argument (named).
    """
    c0 = require_finite_number(original, "original")
    c1 = require_finite_number(current, "current")
    if c0 == 0.0:
        return 0.0 if c1 == 0.0 else math.inf
    return abs(c1 - c0) / abs(c0)


def _quantities(series: object, name: str) -> pd.Series:
    s = require_series(series, name)
    require_unique_index(s, name)
    values = require_float_values(s, name)
    bad = [str(k) for k, v in zip(s.index, values, strict=True) if not math.isfinite(v)]
    if bad:
        raise AnalyticsError(f"{name} must be finite; not for: {', '.join(bad)}")
    return pd.Series(values, index=pd.Index([str(k) for k in s.index], name="symbol"))


def expected_positions(baseline: pd.Series, fills: pd.DataFrame) -> pd.Series:
    """Positions a ledger expects: a baseline plus every recorded fill since it was taken.

    Parameters
    ----------
    baseline
        Shares by symbol at the baseline (negative = short), unique finite values.
    fills
        One row per fill with columns ``symbol``, ``side`` (``"BUY"``/``"SELL"``) and
        ``quantity`` (finite, > 0).

    Returns
    -------
    pandas.Series
        Shares by symbol (sorted, name ``quantity``) over the union of the baseline's and the
        fills' symbols: :math:`e_s = b_s + \\sum_{f \\in s} \\pm q_f` (+ for buys, − for sells).

    Raises
    ------
    AnalyticsError
        Duplicate or non-finite baseline entries, missing fill columns, unknown sides,
        non-positive or non-finite fill quantities.
    """
    base = _quantities(baseline, "baseline")
    frame = require_frame(fills, "fills")
    require_columns(frame, ("symbol", "side", "quantity"), "fills")
    quantity = require_float_values(frame["quantity"], "fills.quantity")
    if not np.all(np.isfinite(quantity) & (quantity > 0.0)):
        raise AnalyticsError("fills.quantity must be finite and > 0")
    sides = frame["side"].astype(str).to_numpy()
    unknown = sorted(set(sides) - set(SIDES))
    if unknown:
        raise AnalyticsError(f"fills.side must be BUY or SELL; got {', '.join(unknown)}")
    signed = pd.Series(
        np.where(sides == "BUY", quantity, -quantity),
        index=pd.Index(frame["symbol"].astype(str).to_numpy(), name="symbol"),
    )
    moves = signed.groupby(level=0).sum()
    symbols = base.index.union(moves.index).sort_values()
    total = base.reindex(symbols, fill_value=0.0) + moves.reindex(symbols, fill_value=0.0)
    return total.rename("quantity")


def position_breaks(
    expected: pd.Series,
    actual: pd.Series,
    tolerance: float = DEFAULT_QUANTITY_TOLERANCE,
) -> pd.DataFrame:
    """Symbols whose actual position differs from the expected one.

    Parameters
    ----------
    expected, actual
        Shares by symbol; a symbol absent from one side counts as 0 there.
    tolerance
        Largest ignored absolute difference in shares (finite, >= 0).

    Returns
    -------
    pandas.DataFrame
        Columns ``symbol, expected, actual, difference`` (:math:`a_s - e_s`), one row per
        symbol with :math:`|a_s - e_s| > \\text{tolerance}`, sorted by symbol; empty when the
        positions reconcile.

    Raises
    ------
    AnalyticsError
        Duplicate or non-finite quantities, negative tolerance.
    """
    e = _quantities(expected, "expected")
    a = _quantities(actual, "actual")
    tol = require_finite_number(tolerance, "tolerance")
    if tol < 0.0:
        raise AnalyticsError(f"tolerance must be >= 0, got {tolerance!r}")
    symbols = e.index.union(a.index).sort_values()
    e_all = e.reindex(symbols, fill_value=0.0)
    a_all = a.reindex(symbols, fill_value=0.0)
    difference = a_all - e_all
    broken = difference.abs() > tol
    return pd.DataFrame(
        {
            "symbol": pd.array(symbols[broken.to_numpy()], dtype="str"),
            "expected": e_all[broken].to_numpy(),
            "actual": a_all[broken].to_numpy(),
            "difference": difference[broken].to_numpy(),
        },
        columns=list(BREAK_COLUMNS),
    )
