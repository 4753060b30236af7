"""Trade plans as stored: written once by ``trade_plan``, read by previews, execution and CLI.

A plan is never rewritten: a new materialization adds a plan, and the trade groups previewed
from a plan keep pointing at the state snapshot they were sized on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, insert, select

from analytics_lib.trade_plan import RebalancePlan
from orchestration.resources.database import Database
from orchestration.storage.models import TradePlan, TradePlanTrade

PLANS = TradePlan.__table__
PLAN_TRADES = TradePlanTrade.__table__
TRADE_COLUMNS = ["symbol", "side", "quantity", "price", "value", "reason"]


class PlanError(ValueError):
    """A trade plan that does not exist or cannot be used; the message names it."""


@dataclass(frozen=True)
class StoredPlan:
    """One stored trade plan with its trades (sells before buys)."""

    id: int
    as_of: dt.date
    broker: str
    account: str
    plan_hash: str
    deploy_cash: float | None
    cash_reserve: float
    buys_total: float
    sells_total: float
    cash_after: float
    transition: dict[str, list[str]]
    cleanup: dict[str, Any]
    state: dict[str, Any]
    created_at: dt.datetime
    trades: pd.DataFrame


def write_plan(
    connection: Connection,
    *,
    as_of: dt.date,
    broker: str,
    account: str,
    plan: RebalancePlan,
    deploy_cash: float | None,
    cleanup: dict[str, Any],
    created_at: dt.datetime,
) -> int:
    """Insert ``plan`` and its trades on ``connection`` (the caller's transaction); its id."""
    plan_id = connection.execute(
        insert(PLANS).values(
            as_of=as_of,
            broker=broker,
            account=account,
            plan_hash=str(plan.state["plan_hash"]),
            deploy_cash=deploy_cash,
            cash_reserve=plan.cash_reserve,
            buys_total=plan.buys_total,
            sells_total=plan.sells_total,
            cash_after=plan.cash_after,
            transition={key: list(value) for key, value in plan.transition.items()},
            cleanup=cleanup,
            state=plan.state,
            created_at=created_at,
        )
    ).inserted_primary_key[0]
    if not plan.trades.empty:
        connection.execute(
            insert(PLAN_TRADES),
            [
                {
                    "plan_id": plan_id,
                    "seq": seq,
                    "symbol": str(row.symbol),
                    "side": str(row.side),
                    "quantity": int(row.quantity),
                    "price": float(row.price),
                    "value": float(row.value),
                    "reason": str(row.reason),
                }
                for seq, row in enumerate(plan.trades.itertuples(index=False), start=1)
            ],
        )
    return int(plan_id)


def read_plan(connection: Connection, plan_id: int) -> StoredPlan:
    """The plan ``plan_id``.

    Raises
    ------
    PlanError
        No plan has that id.
    """
    row = connection.execute(select(PLANS).where(PLANS.c.id == plan_id)).first()
    if row is None:
        raise PlanError(f"trade plan {plan_id} does not exist")
    trades = connection.execute(
        select(*(PLAN_TRADES.c[name] for name in TRADE_COLUMNS))
        .where(PLAN_TRADES.c.plan_id == plan_id)
        .order_by(PLAN_TRADES.c.seq)
    ).fetchall()
    return StoredPlan(
        id=int(row.id),
        as_of=row.as_of,
        broker=row.broker,
        account=row.account,
        plan_hash=row.plan_hash,
        deploy_cash=row.deploy_cash,
        cash_reserve=float(row.cash_reserve),
        buys_total=float(row.buys_total),
        sells_total=float(row.sells_total),
        cash_after=float(row.cash_after),
        transition=dict(row.transition),
        cleanup=dict(row.cleanup),
        state=dict(row.state),
        created_at=row.created_at,
        trades=pd.DataFrame([tuple(t) for t in trades], columns=TRADE_COLUMNS),
    )


def latest_plan_id(database: Database) -> int | None:
    """The id of the newest plan (None before the first)."""
    frame = database.read_frame("SELECT MAX(id) AS id FROM trade_plans")
    value = frame["id"].iloc[0]
    return None if value is None or pd.isna(value) else int(value)
