"""Approval requests: an agent asks a person to approve a previewed trade group.

Approving stays a human action (``portfolio trade approve ID``); the request is recorded in
``trade_approval_requests`` and ``portfolio trade list`` shows it while the group is in preview.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import insert

from orchestration.clock import naive_utc, utc_now
from orchestration.execution.records import GroupStatus, TradeError, load_group
from orchestration.resources.database import Database
from orchestration.storage.models import TradeApprovalRequest

REQUESTS = TradeApprovalRequest.__table__
NOTE_MAX = 2000


@dataclass(frozen=True)
class ApprovalRequest:
    """One stored request (timestamp naive UTC)."""

    id: int
    group_id: int
    requested_at: dt.datetime
    requested_by: str
    note: str | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready representation."""
        return {
            "request_id": self.id,
            "group_id": self.group_id,
            "requested_at": self.requested_at.isoformat(timespec="seconds"),
            "requested_by": self.requested_by,
            "note": self.note,
        }


def request_approval(
    database: Database,
    group_id: int,
    *,
    requested_by: str,
    note: str | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
) -> ApprovalRequest:
    """Record that ``requested_by`` asks a person to approve group ``group_id`` (one
    transaction).

    Raises
    ------
    TradeError
        Unknown group, a group that is not in preview (its status is named), or a note longer
        than :data:`NOTE_MAX` characters.
    """
    if note is not None and len(note) > NOTE_MAX:
        raise TradeError(f"note is {len(note)} characters; the maximum is {NOTE_MAX}")
    now = clock()
    with database.transaction() as connection:
        group = load_group(connection, group_id)
        if group.status != GroupStatus.PREVIEW:
            raise TradeError(
                f"group {group_id} is {group.status.value}; only a group in preview can be put "
                "up for approval"
            )
        request_id = connection.execute(
            insert(REQUESTS).values(
                group_id=group_id, requested_at=now, requested_by=requested_by, note=note
            )
        ).inserted_primary_key[0]
    return ApprovalRequest(int(request_id), group_id, naive_utc(now), requested_by, note)
