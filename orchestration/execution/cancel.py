"""Cancel a basket trade: legs not yet submitted are cancelled, submitted ones at the broker.

- preview / approved: the group and all its legs become ``cancelled`` (one transaction).
- executing under a live executor: the group is flagged ``cancel_requested_at`` and its pending
  legs are cancelled; the executor cancels the order it is waiting for at the broker (it owns
  the broker session, and IB lets only the placing client cancel) and finishes the group.
- executing without a live executor (it died): this command takes the group over like an
  execution would, reconciles the legs in doubt, cancels what is still open at the broker and
  finishes the group. Filled legs cannot be undone (that needs an opposite trade).
- finished: reported, nothing changes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.engine import Connection

from orchestration.clock import utc_now
from orchestration.execution.execute import ExecutionReport, execute_basket_trade, leg_rows
from orchestration.execution.reconcile import USER_CANCEL_REASON
from orchestration.execution.records import (
    GROUPS,
    GroupStatus,
    LegStatus,
    TradeGroup,
    load_group,
    set_group_status,
    set_leg_status,
)
from orchestration.resources.broker import Broker
from orchestration.settings import TradingSettings

if TYPE_CHECKING:
    from orchestration.resources.database import Database

CANCELLED = "cancelled"
CANCEL_REQUESTED = "cancel_requested"
ALREADY_FINISHED = "already_finished"


def _cancel_pending_legs(connection: Connection, group: TradeGroup, now: dt.datetime) -> None:
    for leg in group.legs:
        if leg.status == LegStatus.PENDING:
            set_leg_status(
                connection,
                leg.id,
                LegStatus.PENDING,
                LegStatus.CANCELLED,
                status_reason=USER_CANCEL_REASON,
                finished_at=now,
                updated_at=now,
            )


def _report(database: Database, group_id: int, outcome: str, message: str) -> ExecutionReport:
    with database.engine.connect() as connection:
        group = load_group(connection, group_id)
    return ExecutionReport(
        group_id=group_id,
        outcome=outcome,
        status=group.status.value,
        message=message,
        legs=leg_rows(group),
        drift_warnings=list(group.drift_warnings),
    )


def cancel_basket_trade(
    database: Database,
    broker: Callable[[], Broker],
    group_id: int,
    *,
    trading: TradingSettings,
    owner: str,
    clock: Callable[[], dt.datetime] = utc_now,
    log: logging.Logger | None = None,
) -> ExecutionReport:
    """Cancel group ``group_id`` as far as it can still be cancelled (see the module docstring).

    ``broker`` connects on demand: only a takeover of an abandoned execution needs it.
    """
    now = clock()
    with database.transaction() as connection:
        group = load_group(connection, group_id)
        if group.status.final:
            return _report(
                database, group_id, ALREADY_FINISHED, f"group {group_id} already {group.status}"
            )
        if group.status in (GroupStatus.PREVIEW, GroupStatus.APPROVED) and set_group_status(
            connection,
            group_id,
            [GroupStatus.PREVIEW, GroupStatus.APPROVED],
            GroupStatus.CANCELLED,
            finished_at=now,
            note=USER_CANCEL_REASON,
            updated_at=now,
        ):
            _cancel_pending_legs(connection, group, now)
            cancelled = True
        else:
            cancelled = False
    if cancelled:
        return _report(database, group_id, CANCELLED, f"group {group_id} cancelled")
    with database.transaction() as connection:
        connection.execute(
            update(GROUPS)
            .where(GROUPS.c.id == group_id, GROUPS.c.status == GroupStatus.EXECUTING.value)
            .values(cancel_requested_at=now, updated_at=now)
        )
        group = load_group(connection, group_id)
        if group.status != GroupStatus.EXECUTING:
            return _report(
                database, group_id, ALREADY_FINISHED, f"group {group_id} already {group.status}"
            )
        _cancel_pending_legs(connection, group, now)
    if group.lease_live(now):
        return _report(
            database,
            group_id,
            CANCEL_REQUESTED,
            f"cancel requested: pending legs cancelled; the executor {group.owner} cancels the "
            "order in flight and finishes the group",
        )
    return execute_basket_trade(
        database,
        broker,
        group_id,
        trading=trading,
        owner=owner,
        clock=clock,
        log=log,
        cancelling=True,
    )
