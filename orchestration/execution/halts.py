"""The persistent halt switch: ``portfolio trading halt`` / ``resume``.

Trading is halted while the newest ``trading_halts`` row says ``halt``. The executor reads it
before every leg, so a halt stops an execution between two legs; the order in flight is left
to finish.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from orchestration.clock import naive_utc, utc_now
from orchestration.storage.models import TradingHalt

if TYPE_CHECKING:
    from orchestration.resources.database import Database

HALTS = TradingHalt.__table__
HALT = "halt"
RESUME = "resume"


@dataclass(frozen=True)
class HaltState:
    """Whether trading is halted, since when and why."""

    halted: bool
    since: dt.datetime | None
    reason: str | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready representation."""
        return {
            "halted": self.halted,
            "since": self.since.isoformat(timespec="seconds") if self.since else None,
            "reason": self.reason,
        }

    def describe(self) -> str:
        """One line for people."""
        if not self.halted:
            return "trading is not halted"
        since = self.since.isoformat(timespec="seconds") if self.since else "?"
        return f"trading is halted since {since} UTC: {self.reason or 'no reason given'}"


def halt_state(connection: Connection) -> HaltState:
    """The current state of the switch (not halted when it was never used)."""
    row = connection.execute(select(HALTS).order_by(HALTS.c.id.desc()).limit(1)).first()
    if row is None or row.action != HALT:
        return HaltState(
            halted=False, since=naive_utc(row.created_at) if row else None, reason=None
        )
    return HaltState(halted=True, since=naive_utc(row.created_at), reason=row.reason)


@dataclass(frozen=True)
class Resume:
    """One ``resume`` of the switch: its row id and when (naive UTC)."""

    id: int
    at: dt.datetime


def latest_resume(connection: Connection) -> Resume | None:
    """The newest ``resume`` of the switch (None when it was never resumed)."""
    row = connection.execute(
        select(HALTS.c.id, HALTS.c.created_at)
        .where(HALTS.c.action == RESUME)
        .order_by(HALTS.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else Resume(id=int(row.id), at=naive_utc(row.created_at))


def current_halt(database: Database) -> HaltState:
    """The current state of the switch."""
    with database.engine.connect() as connection:
        return halt_state(connection)


def _switch(database: Database, action: str, reason: str | None) -> HaltState:
    with database.transaction() as connection:
        connection.execute(insert(HALTS).values(action=action, reason=reason, created_at=utc_now()))
        return halt_state(connection)


def halt_trading(database: Database, reason: str | None = None) -> HaltState:
    """Halt trading: no execution places another leg until :func:`resume_trading`."""
    return _switch(database, HALT, reason or "halted by the operator")


def resume_trading(database: Database, reason: str | None = None) -> HaltState:
    """Lift the halt."""
    return _switch(database, RESUME, reason)
