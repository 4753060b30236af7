"""Reconciliation with the broker: legs by order reference, and positions against our ledger.

Legs: the broker's answer for an order reference (:class:`OrderState`, executions) is adopted
into ``broker_orders``, ``broker_fills`` and the leg's status.

Positions: the positions we expect are a baseline (``position_baselines``: the
``portfolio_positions`` the account started from, or the broker's positions accepted by
``portfolio trading rebaseline``) plus every fill we recorded since; the broker's positions must
match them. Every comparison is stored in ``broker_reconciliations``; the newest row decides
whether executions may proceed (the executor also reconciles itself before it places anything).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from analytics_lib.execution import expected_positions, position_breaks
from orchestration.clock import naive_utc, utc_now
from orchestration.execution.records import (
    GROUPS,
    ORDERS,
    GroupStatus,
    LegStatus,
    TradeError,
    TradeLeg,
)
from orchestration.resources.broker import Broker, Execution, OrderState, OrderStatus
from orchestration.storage.bulk import insert_ignoring_conflicts
from orchestration.storage.models import (
    BrokerFill,
    BrokerReconciliation,
    PortfolioPosition,
    PositionBaseline,
    PositionBaselineRow,
)

if TYPE_CHECKING:
    from orchestration.resources.database import Database

FILLS = BrokerFill.__table__
RECONCILIATIONS = BrokerReconciliation.__table__
BASELINES = PositionBaseline.__table__
BASELINE_ROWS = PositionBaselineRow.__table__
PORTFOLIO = PortfolioPosition.__table__
USER_CANCEL_REASON = "cancelled by user"


class LegInDoubt(RuntimeError):
    """The broker's answer for a leg contradicts our records; a person must look at it."""


def check_order_matches(leg: TradeLeg, state: OrderState) -> None:
    """Refuse to adopt an order that carries the leg's reference but is a different order."""
    if (state.symbol, state.side.value, int(state.quantity)) != (
        leg.symbol,
        leg.side,
        leg.quantity,
    ):
        raise LegInDoubt(
            f"leg {leg.leg_no}: the broker's order {leg.order_ref} is {state.side.value} "
            f"{state.quantity} {state.symbol}, not {leg.side} {leg.quantity} {leg.symbol}"
        )


def record_order_state(connection: Connection, order_ref: str, state: OrderState) -> None:
    """Store the broker's view of one of our orders in ``broker_orders``."""
    now = utc_now()
    connection.execute(
        update(ORDERS)
        .where(ORDERS.c.order_ref == order_ref)
        .values(
            broker_order_id=state.broker_order_id,
            status=state.status.value,
            filled_quantity=state.filled_quantity,
            average_fill_price=state.average_fill_price,
            reason=state.reason,
            acknowledged_at=func.coalesce(ORDERS.c.acknowledged_at, now),
            updated_at=now,
        )
    )


def record_fills(
    connection: Connection, broker: str, account: str, executions: Iterable[Execution]
) -> int:
    """Insert fills not recorded yet (unique by execution id); return how many were new."""
    now = utc_now()
    added = 0
    for execution in executions:
        added += insert_ignoring_conflicts(
            connection,
            FILLS,
            {
                "execution_id": execution.execution_id,
                "order_ref": execution.order_ref,
                "broker": broker,
                "account": account,
                "symbol": execution.symbol,
                "side": execution.side.value,
                "quantity": execution.quantity,
                "price": execution.price,
                "commission": execution.commission,
                "executed_at": execution.time,
                "recorded_at": now,
            },
        )
    return added


def leg_outcome(leg: TradeLeg, state: OrderState) -> tuple[LegStatus, str | None]:
    """The final status of a leg whose order reached a terminal state, with the reason."""
    if not state.status.terminal:
        raise ValueError(f"order {state.order_ref} is not terminal ({state.status.value})")
    ours = leg.status_reason
    theirs = state.reason
    reason = "; ".join(r for r in (ours, theirs) if r) or None
    if state.filled_quantity >= leg.quantity:
        return LegStatus.FILLED, None
    if state.filled_quantity > 0:
        detail = f"filled {state.filled_quantity:g} of {leg.quantity} shares"
        return LegStatus.PARTIALLY_FILLED, f"{detail}: {reason}" if reason else detail
    if state.status == OrderStatus.REJECTED:
        return LegStatus.FAILED, f"rejected by the broker: {theirs or 'no reason given'}"
    if ours == USER_CANCEL_REASON:
        return LegStatus.CANCELLED, reason
    return LegStatus.FAILED, f"cancelled without a fill: {reason or 'no reason given'}"


def fills_for(broker: Broker, order_ref: str, sent_at: dt.datetime | None) -> list[Execution]:
    """The broker's fills for one order reference (searched from an hour before sending)."""
    if sent_at is None:
        return [e for e in broker.executions(None) if e.order_ref == order_ref]
    since = naive_utc(sent_at).replace(tzinfo=dt.UTC) - dt.timedelta(hours=1)
    return [e for e in broker.executions(since) if e.order_ref == order_ref]


@dataclass(frozen=True)
class PositionReconciliation:
    """One comparison of the broker's positions with the expected ones."""

    id: int
    broker: str
    account: str
    baseline_id: int
    passed: bool
    breaks: pd.DataFrame
    symbols_checked: int
    source: str
    checked_at: dt.datetime

    def describe(self) -> str:
        """One line for people."""
        if self.passed:
            return (
                f"broker positions reconcile ({self.symbols_checked} symbols, "
                f"{self.broker} account {self.account})"
            )
        symbols = ", ".join(
            f"{r.symbol} expected {r.expected:g} held {r.actual:g}"
            for r in self.breaks.head(5).itertuples()
        )
        more = "" if len(self.breaks) <= 5 else f" and {len(self.breaks) - 5} more"
        return (
            f"broker positions do not reconcile: {len(self.breaks)} break(s): {symbols}{more} "
            f"(reconciliation {self.id}, {self.checked_at.isoformat(timespec='seconds')} UTC)"
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-ready representation."""
        return {
            "id": self.id,
            "broker": self.broker,
            "account": self.account,
            "baseline_id": self.baseline_id,
            "passed": self.passed,
            "breaks": self.breaks.to_dict(orient="records"),
            "symbols_checked": self.symbols_checked,
            "source": self.source,
            "checked_at": self.checked_at.isoformat(timespec="seconds"),
        }


def _baseline(connection: Connection, broker: str, account: str) -> tuple[int, int] | None:
    row = connection.execute(
        select(BASELINES.c.id, BASELINES.c.fill_watermark)
        .where(BASELINES.c.broker == broker, BASELINES.c.account == account)
        .order_by(BASELINES.c.id.desc())
        .limit(1)
    ).first()
    return (row.id, row.fill_watermark) if row is not None else None


def _fill_watermark(connection: Connection) -> int:
    return int(connection.execute(select(func.coalesce(func.max(FILLS.c.id), 0))).scalar_one())


def _store_baseline(
    connection: Connection,
    broker: str,
    account: str,
    positions: pd.Series,
    source: str,
    reason: str | None,
) -> int:
    baseline_id = connection.execute(
        insert(BASELINES).values(
            broker=broker,
            account=account,
            source=source,
            reason=reason,
            fill_watermark=_fill_watermark(connection),
            taken_at=utc_now(),
        )
    ).inserted_primary_key[0]
    rows = [
        {"baseline_id": baseline_id, "symbol": str(symbol), "quantity": float(quantity)}
        for symbol, quantity in positions.items()
        if quantity != 0
    ]
    if rows:
        connection.execute(insert(BASELINE_ROWS), rows)
    return int(baseline_id)


def _portfolio_baseline(connection: Connection) -> pd.Series:
    rows = connection.execute(
        select(PORTFOLIO.c.symbol, func.sum(PORTFOLIO.c.quantity).label("quantity")).group_by(
            PORTFOLIO.c.symbol
        )
    ).all()
    return pd.Series({row.symbol: float(row.quantity) for row in rows}, dtype=float)


def _broker_positions(broker: Broker) -> pd.Series:
    held: dict[str, float] = {}
    for position in broker.positions():
        held[position.symbol] = held.get(position.symbol, 0.0) + position.quantity
    return pd.Series(held, dtype=float)


def take_baseline(database: Database, broker: Broker, *, reason: str | None) -> int:
    """Accept the broker's current positions as the expected ones from now on.

    Refused while a group is executing (an order in flight would be counted twice).
    """
    account = broker.account_summary().account
    positions = _broker_positions(broker)
    with database.transaction() as connection:
        executing = connection.execute(
            select(GROUPS.c.id).where(GROUPS.c.status == GroupStatus.EXECUTING.value)
        ).first()
        if executing is not None:
            raise TradeError(
                f"group {executing.id} is executing; rebaseline once no group is executing"
            )
        return _store_baseline(
            connection, broker.name, account, positions, "broker", reason or "rebaseline"
        )


def reconcile_positions(
    database: Database,
    broker: Broker,
    *,
    source: str,
    clock: Callable[[], dt.datetime] = utc_now,
) -> PositionReconciliation:
    """Compare the broker's positions with baseline + recorded fills and store the result.

    Without a baseline for the account, the first one is ``portfolio_positions`` (what the
    paper account opens with; for IB the user's own positions file).
    """
    account = broker.account_summary().account
    actual = _broker_positions(broker)
    with database.transaction() as connection:
        found = _baseline(connection, broker.name, account)
        if found is None:
            _store_baseline(
                connection,
                broker.name,
                account,
                _portfolio_baseline(connection),
                "portfolio_positions",
                "first reconciliation",
            )
            found = _baseline(connection, broker.name, account)
        baseline_id, watermark = found
        base_rows = connection.execute(
            select(BASELINE_ROWS.c.symbol, BASELINE_ROWS.c.quantity).where(
                BASELINE_ROWS.c.baseline_id == baseline_id
            )
        ).all()
        fills = connection.execute(
            select(FILLS.c.symbol, FILLS.c.side, FILLS.c.quantity).where(
                FILLS.c.broker == broker.name,
                FILLS.c.account == account,
                FILLS.c.id > watermark,
            )
        ).all()
        baseline = pd.Series({row.symbol: float(row.quantity) for row in base_rows}, dtype=float)
        fills_frame = pd.DataFrame(
            [(row.symbol, row.side, float(row.quantity)) for row in fills],
            columns=["symbol", "side", "quantity"],
        )
        expected = expected_positions(baseline, fills_frame)
        breaks = position_breaks(expected, actual)
        checked_at = clock()
        symbols = len(expected.index.union(actual.index))
        reconciliation_id = connection.execute(
            insert(RECONCILIATIONS).values(
                broker=broker.name,
                account=account,
                baseline_id=baseline_id,
                passed=breaks.empty,
                breaks=len(breaks),
                symbols_checked=symbols,
                details=breaks.to_dict(orient="records"),
                source=source,
                checked_at=checked_at,
            )
        ).inserted_primary_key[0]
    return PositionReconciliation(
        id=int(reconciliation_id),
        broker=broker.name,
        account=account,
        baseline_id=baseline_id,
        passed=breaks.empty,
        breaks=breaks,
        symbols_checked=symbols,
        source=source,
        checked_at=naive_utc(checked_at),
    )


def latest_reconciliation(connection: Connection) -> PositionReconciliation | None:
    """The newest stored reconciliation (None before the first)."""
    row = connection.execute(
        select(RECONCILIATIONS).order_by(RECONCILIATIONS.c.id.desc()).limit(1)
    ).first()
    if row is None:
        return None
    breaks = pd.DataFrame(row.details or [], columns=["symbol", "expected", "actual", "difference"])
    return PositionReconciliation(
        id=row.id,
        broker=row.broker,
        account=row.account,
        baseline_id=row.baseline_id,
        passed=bool(row.passed),
        breaks=breaks,
        symbols_checked=int(row.symbols_checked),
        source=row.source,
        checked_at=naive_utc(row.checked_at),
    )
