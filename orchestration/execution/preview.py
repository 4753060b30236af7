"""Preview a basket trade: whole-share legs, a what-if preview per leg, one stored group.

Legs come from :func:`analytics_lib.trade_plan.basket_trade_legs` with the broker's quotes and
current holdings. Sells are ordered before buys (they free the cash the buys need). Each leg
gets its order reference ``pp-<group>-<leg>-<token>`` here, once: the random ``token`` keeps
references unique even when the app database is reset while the broker account lives on.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections.abc import Callable

import pandas as pd
from sqlalchemy import insert

from analytics_lib.execution import leg_cost
from analytics_lib.trade_plan import TRADE_ACTIONS, basket_trade_legs
from orchestration.clock import utc_now
from orchestration.defs.baskets import store as basket_store
from orchestration.execution.records import (
    GROUPS,
    LEGS,
    GroupStatus,
    TradeError,
    TradeGroup,
    load_group,
)
from orchestration.resources.broker import Broker, BrokerError, OrderRequest, OrderSide, Quote
from orchestration.resources.database import Database
from orchestration.settings import TradingSettings

PREVIEW_REF = "pp-preview"


def order_ref(group_id: int, leg_no: int, token: str) -> str:
    """The client order reference of leg ``leg_no`` of group ``group_id``."""
    return f"pp-{group_id}-{leg_no}-{token}"


def reference_price(quote: Quote) -> float:
    """The price legs are sized with: the last trade, else the bid/ask midpoint."""
    if quote.last is not None and math.isfinite(quote.last) and quote.last > 0:
        return float(quote.last)
    if quote.bid and quote.ask and quote.bid > 0 and quote.ask > 0:
        return (quote.bid + quote.ask) / 2.0
    raise BrokerError(f"no usable price for {quote.symbol} (no last trade, no bid/ask)")


def _holdings(broker: Broker, tickers: list[str]) -> pd.Series:
    held: dict[str, float] = {}
    for position in broker.positions():
        if position.symbol in tickers:
            held[position.symbol] = held.get(position.symbol, 0.0) + position.quantity
    return pd.Series(held, dtype=float)


def _validate(action: str, value: float) -> None:
    if action not in TRADE_ACTIONS:
        raise TradeError(f"--action must be one of {', '.join(TRADE_ACTIONS)}, got {action!r}")
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise TradeError(f"--value must be a positive amount, got {value!r}")


def preview_basket_trade(
    database: Database,
    broker: Broker,
    basket: str,
    action: str,
    value: float,
    *,
    trading: TradingSettings,
    source: str = "cli",
    clock: Callable[[], dt.datetime] = utc_now,
) -> TradeGroup:
    """Create a group in ``preview`` for buying, selling or rebalancing ``basket`` for ``value``.

    Raises
    ------
    TradeError
        Unknown action, non-positive value, or no leg of at least one share.
    basket_store.BasketError
        Unknown basket.
    BrokerError
        The broker cannot quote a ticker or preview a leg.
    """
    _validate(action, value)
    record = basket_store.get_basket(database, basket)
    weights = basket_store.resolved_weights(database, record)
    tickers = [str(t) for t in weights.index]
    quotes = broker.quotes(tickers)
    prices = pd.Series({t: reference_price(quotes[t]) for t in tickers})
    holdings = _holdings(broker, tickers)
    plan = basket_trade_legs(
        action=action, value=float(value), weights=weights, prices=prices, holdings=holdings
    )
    if plan.legs.empty:
        detail = "; ".join(plan.warnings) or "every leg rounds to 0 shares"
        raise TradeError(
            f"nothing to trade for basket {basket!r} ({action} {value:,.2f}): {detail}"
        )
    legs = pd.concat([plan.legs.loc[plan.legs["side"] == side] for side in ("SELL", "BUY")])
    account = broker.account_summary().account
    now = clock()
    expires = now + dt.timedelta(seconds=trading.preview_ttl_seconds)
    rows = []
    for leg_no, (symbol, leg) in enumerate(legs.iterrows(), start=1):
        side = OrderSide(leg["side"])
        quantity = int(leg["quantity"])
        preview = broker.preview(OrderRequest(str(symbol), side, quantity, PREVIEW_REF))
        cost = leg_cost(side.value, preview.notional, preview.commission)
        rows.append(
            {
                "leg_no": leg_no,
                "symbol": str(symbol),
                "side": side.value,
                "quantity": quantity,
                "target_value": float(leg["target_value"]),
                "current_quantity": float(leg["current_quantity"]),
                "estimated_price": preview.price,
                "estimated_notional": preview.notional,
                "estimated_commission": preview.commission,
                "estimated_cost": cost,
                "original_estimated_cost": cost,
                "margin_change": preview.margin_change,
                "warnings": list(preview.warnings),
                "drift_warning": None,
                "previewed_at": now,
                "expires_at": expires,
                "status": "pending",
                "status_reason": None,
                "filled_quantity": 0.0,
                "average_fill_price": None,
                "commission": None,
                "submitted_at": None,
                "finished_at": None,
                "updated_at": now,
            }
        )
    commissions = [row["estimated_commission"] for row in rows]
    warnings = list(plan.warnings) + [
        f"{row['symbol']}: {warning}" for row in rows for warning in row["warnings"]
    ]
    if None in commissions:
        warnings.append("the broker did not estimate every commission; totals exclude them")
    token = secrets.token_hex(3)
    with database.transaction() as connection:
        group_id = connection.execute(
            insert(GROUPS).values(
                basket_name=record.name,
                action=action,
                requested_value=float(value),
                status=GroupStatus.PREVIEW.value,
                ref_token=token,
                broker=broker.name,
                account=account,
                source=source,
                total_notional=math.fsum(row["estimated_notional"] for row in rows),
                total_commission=(
                    None if None in commissions else math.fsum(c for c in commissions if c)
                ),
                estimated_cost=math.fsum(row["estimated_cost"] for row in rows),
                leftover_cash=plan.leftover_cash,
                warnings=warnings,
                drift_warnings=[],
                owner=None,
                lease_expires_at=None,
                execution_attempts=0,
                cancel_requested_at=None,
                note=None,
                created_at=now,
                approved_at=None,
                started_at=None,
                finished_at=None,
                updated_at=now,
            )
        ).inserted_primary_key[0]
        connection.execute(
            insert(LEGS),
            [
                {
                    **row,
                    "group_id": group_id,
                    "order_ref": order_ref(group_id, row["leg_no"], token),
                }
                for row in rows
            ],
        )
        return load_group(connection, group_id)
