"""Preview a trade: whole-share legs, a what-if preview per leg, one stored group.

Two origins share one path: a basket trade (legs from
:func:`analytics_lib.trade_plan.basket_trade_legs` with the broker's quotes and current
holdings) and a stored trade plan (its trades are the legs, exits of positions outside the
target included). Sells are ordered before buys (they free the cash the buys need). Each leg
gets its order reference ``pp-<group>-<leg>-<token>`` here, once: the random ``token`` keeps
references unique even when the app database is reset while the broker account lives on.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import insert

from analytics_lib.execution import leg_cost
from analytics_lib.trade_plan import TRADE_ACTIONS, TradeLegs, basket_trade_legs
from orchestration.clock import utc_now
from orchestration.defs.baskets import store as basket_store
from orchestration.execution.limits import LegCheck, leg_verdicts
from orchestration.execution.records import (
    GROUPS,
    LEGS,
    GroupStatus,
    LegStatus,
    TradeError,
    TradeGroup,
    load_group,
)
from orchestration.resources.broker import (
    AccountSummary,
    Broker,
    BrokerError,
    OrderRequest,
    OrderSide,
    Quote,
)
from orchestration.settings import TradingSettings

if TYPE_CHECKING:
    from orchestration.resources.database import Database

PREVIEW_REF = "pp-preview"
MAX_LEG_SHARES = 2**31 - 1  # trade_previews.quantity is a 32-bit integer
SIZING_ATTEMPTS = 3
PREVIEW_REFUSAL = "refused at preview by"
WOULD_BE_REFUSED = "would be refused by"


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


def _validate(action: str, value: float, trading: TradingSettings) -> None:
    """The arguments alone: a known action and a finite, positive value a buy or sell may
    trade under the group limit (checked before the broker is asked anything)."""
    if action not in TRADE_ACTIONS:
        raise TradeError(f"--action must be one of {', '.join(TRADE_ACTIONS)}, got {action!r}")
    if not (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    ):
        raise TradeError(f"--value must be a positive amount, got {value!r}")
    if action != "rebalance" and value > trading.max_group_notional:
        raise TradeError(
            f"--value {value:,.2f} is over the limit max_group_notional "
            f"{trading.max_group_notional:,.2f} (PORTFOLIO_MAX_GROUP_NOTIONAL): a {action} "
            "trades up to its value"
        )


def _validate_against_account(
    action: str, value: float, trading: TradingSettings, summary: AccountSummary
) -> None:
    """A buy or sell may trade at most the allowed fraction of the net liquidation value; a
    rebalance's target cannot be worth more than the whole account."""
    net_liquidation = summary.net_liquidation
    if action == "rebalance" and value > net_liquidation:
        raise TradeError(
            f"--value {value:,.2f} is over the account's net liquidation value "
            f"{net_liquidation:,.2f}: a rebalance cannot hold a basket worth more than the account"
        )
    allowed = trading.max_net_liquidation_fraction * net_liquidation
    if action != "rebalance" and value > allowed:
        raise TradeError(
            f"--value {value:,.2f} is over the limit max_net_liquidation_fraction: "
            f"{trading.max_net_liquidation_fraction:.1%} of the net liquidation value "
            f"{net_liquidation:,.2f} = {allowed:,.2f} (PORTFOLIO_MAX_NET_LIQUIDATION_FRACTION): "
            f"a {action} trades up to its value"
        )


def _leftover(
    action: str, value: float, plan: TradeLegs, legs: pd.DataFrame, rows: list[dict[str, object]]
) -> float:
    """What is left of ``value`` at the what-if's estimated costs (slippage and commissions
    included). Buy and rebalance: ``value`` minus the target holdings at the reference prices
    minus the legs' estimated slippage and commissions (what their estimated costs exceed the
    reference notionals by). Sell: ``value`` minus the legs' estimated net proceeds."""
    costs = [float(row["estimated_cost"]) for row in rows]
    if action == "sell":
        return value + math.fsum(costs)
    signed = np.where(legs["side"].to_numpy() == "BUY", 1.0, -1.0) * legs["notional"].to_numpy()
    frictions = math.fsum(costs) - math.fsum(signed)
    return value - (plan.value - plan.leftover_cash) - frictions


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

    Sizing (:func:`basket_trade_legs` at the broker's reference prices): a buy allocates
    ``value`` by the basket's weights; a sell reduces the basket's CURRENT holdings
    proportionally to those holdings (not to the weights) by ``value``; a rebalance moves the
    holdings to the weights of ``value``. The leftover is computed from each leg's what-if
    estimated cost (slippage and commissions included): a buy or rebalance never spends more
    than ``value`` (when the estimated costs would exceed it, the legs are sized again for the
    value less the shortfall, and a warning says so), a sell's leftover is the part of the
    value its net proceeds do not raise. Then every leg is checked like the executor checks it
    (:func:`orchestration.execution.limits.leg_verdicts`).

    Raises
    ------
    TradeError
        Unknown action; a value that is not finite and positive, or over the group limit or
        the allowed fraction of net liquidation (buy, sell) or the net liquidation value
        (rebalance); no leg of at least one share; a leg over 2,147,483,647 shares; costs
        that do not fit the value after three sizings.
    basket_store.BasketError
        Unknown basket.
    BrokerError
        The broker cannot quote a ticker or preview a leg.
    """
    _validate(action, value, trading)
    record = basket_store.get_basket(database, basket)
    weights = basket_store.resolved_weights(database, record)
    summary = broker.account_summary()
    _validate_against_account(action, float(value), trading, summary)
    tickers = [str(t) for t in weights.index]
    quotes = broker.quotes(tickers)
    prices = pd.Series({t: reference_price(quotes[t]) for t in tickers})
    holdings = _holdings(broker, tickers)
    sized = float(value)
    for _attempt in range(SIZING_ATTEMPTS):
        plan = basket_trade_legs(
            action=action, value=sized, weights=weights, prices=prices, holdings=holdings
        )
        if plan.legs.empty:
            detail = "; ".join(plan.warnings) or "every leg rounds to 0 shares"
            raise TradeError(
                f"nothing to trade for basket {basket!r} ({action} {value:,.2f}): {detail}"
            )
        legs = pd.concat([plan.legs.loc[plan.legs["side"] == side] for side in ("SELL", "BUY")])
        rows = _what_ifs(broker, legs)
        leftover = _leftover(action, float(value), plan, legs, rows)
        if leftover >= 0.0:
            break
        sized += leftover
    else:
        raise TradeError(
            f"cannot fit the {action} of basket {basket!r} into --value {value:,.2f} once the "
            f"estimated slippage and commissions are counted ({-leftover:,.2f} short after "
            f"{SIZING_ATTEMPTS} sizings)"
        )
    warnings = list(plan.warnings)
    if sized != float(value):
        warnings.append(
            f"sized for {sized:,.2f} instead of {float(value):,.2f} so that the estimated "
            "slippage and commissions fit the value"
        )
    return _store_group(
        database,
        rows,
        summary=summary,
        broker_name=broker.name,
        basket_name=record.name,
        action=action,
        requested_value=float(value),
        leftover_cash=leftover,
        plan_warnings=warnings,
        trading=trading,
        source=source,
        trade_plan_id=None,
        clock=clock,
    )


def preview_trade_plan(
    database: Database,
    broker: Broker,
    plan_id: int,
    *,
    trading: TradingSettings,
    source: str = "cli",
    clock: Callable[[], dt.datetime] = utc_now,
) -> TradeGroup:
    """Create a group in ``preview`` whose legs are exactly the trades of plan ``plan_id``.

    Every leg is checked like the executor checks it; the group's leftover cash is the
    account's cash after the legs the checks accept, at their estimated costs.

    Raises
    ------
    TradeError
        The plan has no trades, or was made with another broker.
    orchestration.defs.strategy.store.PlanError
        No plan has that id.
    BrokerError
        The broker cannot preview a leg.
    """
    # imported here: the strategy store pulls in Dagster, which basket trades never need
    from orchestration.defs.strategy.store import read_plan

    with database.engine.connect() as connection:
        plan = read_plan(connection, plan_id)
    if plan.trades.empty:
        raise TradeError(f"trade plan {plan_id} has no trades: nothing to preview")
    if plan.broker != broker.name:
        raise TradeError(
            f"trade plan {plan_id} was made with the {plan.broker} broker, but the configured "
            f"broker is {broker.name} (PORTFOLIO_BROKER)"
        )
    held = plan.state.get("positions", {})
    legs = pd.DataFrame(
        {
            "side": plan.trades["side"].str.upper().to_numpy(),
            "quantity": plan.trades["quantity"].to_numpy(),
            "target_value": plan.trades["value"].to_numpy(),
            "current_quantity": [float(held.get(s, 0.0)) for s in plan.trades["symbol"]],
        },
        index=pd.Index(plan.trades["symbol"], name="symbol"),
    )
    summary = broker.account_summary()
    return _store_group(
        database,
        _what_ifs(broker, legs),
        summary=summary,
        broker_name=broker.name,
        basket_name=f"trade plan {plan_id}",
        action="rebalance",
        requested_value=plan.buys_total + plan.sells_total,
        leftover_cash=None,
        plan_warnings=[],
        trading=trading,
        source=source,
        trade_plan_id=plan_id,
        clock=clock,
    )


def _what_ifs(broker: Broker, legs: pd.DataFrame) -> list[dict[str, object]]:
    """Preview every leg (``side``, ``quantity``, ``target_value``, ``current_quantity`` by
    symbol, in execution order) with the broker; a quantity is checked before it is sent."""
    rows = []
    for symbol, leg in legs.iterrows():
        side = OrderSide(leg["side"])
        shares = float(leg["quantity"])
        if not (shares.is_integer() and 1 <= shares <= MAX_LEG_SHARES):
            raise TradeError(
                f"{side.value} {symbol}: {shares:g} shares is not a whole number from 1 to "
                f"{MAX_LEG_SHARES:,} (the most one leg can hold)"
            )
        quantity = int(shares)
        preview = broker.preview(OrderRequest(str(symbol), side, quantity, PREVIEW_REF))
        rows.append(
            {
                "symbol": str(symbol),
                "side": side.value,
                "quantity": quantity,
                "target_value": float(leg["target_value"]),
                "current_quantity": float(leg["current_quantity"]),
                "estimated_price": preview.price,
                "estimated_notional": preview.notional,
                "estimated_commission": preview.commission,
                "estimated_cost": leg_cost(side.value, preview.notional, preview.commission),
                "margin_change": preview.margin_change,
                "warnings": list(preview.warnings),
            }
        )
    return rows


def _store_group(
    database: Database,
    previewed: list[dict[str, object]],
    *,
    summary: AccountSummary,
    broker_name: str,
    basket_name: str,
    action: str,
    requested_value: float,
    leftover_cash: float | None,
    plan_warnings: list[str],
    trading: TradingSettings,
    source: str,
    trade_plan_id: int | None,
    clock: Callable[[], dt.datetime],
) -> TradeGroup:
    """Check the previewed legs (limits and cash, :func:`leg_verdicts` with the account's
    net liquidation and cash) and store the group in one transaction.

    A leg the checks refuse stays ``pending`` with the reason (``would be refused by …``) and a
    group warning: the executor checks every leg again before placing it with the same
    :func:`leg_verdicts` and fails it then when the reason still holds (the preview is never
    trusted, and a trade plan's drift check needs every leg of an unstarted group pending). A
    group whose every leg is refused is stored ``failed``, its legs ``failed``
    (``refused at preview by …``). ``leftover_cash`` None (a trade plan, whose value is no
    budget) stores the account's cash after the accepted legs at their estimated costs.
    """
    now = clock()
    expires = now + dt.timedelta(seconds=trading.preview_ttl_seconds)
    verdicts = leg_verdicts(
        [
            LegCheck(str(r["side"]), float(r["estimated_notional"]), float(r["estimated_cost"]))
            for r in previewed
        ],
        committed=0.0,
        net_liquidation=summary.net_liquidation,
        cash=summary.cash,
        limits=trading,
    )
    refused_all = all(verdicts)
    rows = []
    refusals = []
    for leg_no, (leg, verdict) in enumerate(zip(previewed, verdicts, strict=True), start=1):
        reason = None
        if verdict:
            reason = f"{PREVIEW_REFUSAL if refused_all else WOULD_BE_REFUSED} {verdict}"
            refusals.append(
                f"leg {leg_no} {leg['side']} {leg['quantity']} {leg['symbol']}: {reason}"
            )
        rows.append(
            {
                **leg,
                "leg_no": leg_no,
                "original_estimated_cost": leg["estimated_cost"],
                "drift_warning": None,
                "previewed_at": now,
                "expires_at": expires,
                "status": (LegStatus.FAILED if refused_all else LegStatus.PENDING).value,
                "status_reason": reason,
                "filled_quantity": 0.0,
                "average_fill_price": None,
                "commission": None,
                "submitted_at": None,
                "finished_at": now if refused_all else None,
                "updated_at": now,
            }
        )
    accepted = [row for row, verdict in zip(rows, verdicts, strict=True) if verdict is None]
    if leftover_cash is None:
        leftover_cash = summary.cash - math.fsum(row["estimated_cost"] for row in accepted)
    commissions = [row["estimated_commission"] for row in rows]
    warnings = (
        plan_warnings
        + [f"{row['symbol']}: {warning}" for row in rows for warning in row["warnings"]]
        + refusals
    )
    if None in commissions:
        warnings.append("the broker did not estimate every commission; totals exclude them")
    token = secrets.token_hex(3)
    with database.transaction() as connection:
        group_id = connection.execute(
            insert(GROUPS).values(
                basket_name=basket_name,
                action=action,
                requested_value=requested_value,
                status=(GroupStatus.FAILED if refused_all else GroupStatus.PREVIEW).value,
                ref_token=token,
                broker=broker_name,
                account=summary.account,
                source=source,
                total_notional=math.fsum(row["estimated_notional"] for row in rows),
                total_commission=(
                    None if None in commissions else math.fsum(c for c in commissions if c)
                ),
                estimated_cost=math.fsum(row["estimated_cost"] for row in rows),
                leftover_cash=leftover_cash,
                warnings=warnings,
                drift_warnings=[],
                owner=None,
                lease_expires_at=None,
                execution_attempts=0,
                cancel_requested_at=None,
                note="every leg was refused at preview" if refused_all else None,
                created_at=now,
                approved_at=None,
                started_at=None,
                finished_at=now if refused_all else None,
                updated_at=now,
                trade_plan_id=trade_plan_id,
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
