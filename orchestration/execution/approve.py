"""Approve a previewed group: preview → approved, plus one ``trade_approvals`` row.

The execution sensor launches one run per approval row. Approving an expired preview is
allowed: the executor re-previews expired legs before placing them and reports every leg whose
estimated cost moved by more than 1 % (``drift_warnings``); the result says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import insert

from orchestration.clock import utc_now
from orchestration.execution.records import (
    GroupStatus,
    TradeError,
    TradeGroup,
    load_group,
    set_group_status,
)
from orchestration.storage.models import TradeApproval

if TYPE_CHECKING:
    from orchestration.resources.database import Database

APPROVALS = TradeApproval.__table__


@dataclass(frozen=True)
class Approval:
    """The approved group, the approval's id and what the approver should know."""

    group: TradeGroup
    approval_id: int
    expired_legs: tuple[int, ...]

    @property
    def message(self) -> str:
        """One line for people."""
        text = f"group {self.group.id} approved (approval {self.approval_id})"
        if self.expired_legs:
            legs = ", ".join(str(n) for n in self.expired_legs)
            text += (
                f"; the previews of legs {legs} have expired: they are re-previewed before "
                "they are placed and cost moves over 1% are reported as drift warnings"
            )
        return text

    def as_dict(self) -> dict[str, object]:
        """JSON-ready representation."""
        return {
            "group_id": self.group.id,
            "status": self.group.status.value,
            "approval_id": self.approval_id,
            "expired_legs": list(self.expired_legs),
            "message": self.message,
        }


def approve_basket_trade(
    database: Database,
    group_id: int,
    *,
    source: str = "cli",
    clock: Callable[[], dt.datetime] = utc_now,
) -> Approval:
    """Move group ``group_id`` from preview to approved (one transaction).

    Raises
    ------
    TradeError
        Unknown group, or a group that is not in preview (its status is named).
    """
    now = clock()
    with database.transaction() as connection:
        if not set_group_status(
            connection,
            group_id,
            [GroupStatus.PREVIEW],
            GroupStatus.APPROVED,
            approved_at=now,
            updated_at=now,
        ):
            group = load_group(connection, group_id)
            raise TradeError(
                f"group {group_id} is {group.status.value}; only a group in preview can be approved"
            )
        approval_id = connection.execute(
            insert(APPROVALS).values(group_id=group_id, approved_at=now, source=source)
        ).inserted_primary_key[0]
        group = load_group(connection, group_id)
    expired = tuple(leg.leg_no for leg in group.legs if leg.expired(now))
    return Approval(group=group, approval_id=int(approval_id), expired_legs=expired)
