"""Trade groups and legs as stored, their states, and the compare-and-set transitions.

Every state change is ONE ``UPDATE … WHERE id = ? AND status IN (…)`` whose row count says
whether it happened, so two processes can never both make the same transition (for example
both start executing a group, or both place a leg).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Row

from orchestration.clock import naive_utc
from orchestration.storage.models import BasketTradeGroup, BrokerOrder, TradePreview

if TYPE_CHECKING:
    from orchestration.resources.database import Database

GROUPS = BasketTradeGroup.__table__
LEGS = TradePreview.__table__
ORDERS = BrokerOrder.__table__


class TradeError(ValueError):
    """A trade command that cannot be carried out (unknown group, wrong state, …)."""


class GroupStatus(enum.StrEnum):
    """preview → approved → executing → completed | partial | failed | cancelled."""

    PREVIEW = "preview"
    APPROVED = "approved"
    EXECUTING = "executing"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        """True once the group can no longer change."""
        return self in FINAL_GROUP_STATUSES


FINAL_GROUP_STATUSES = frozenset(
    {GroupStatus.COMPLETED, GroupStatus.PARTIAL, GroupStatus.FAILED, GroupStatus.CANCELLED}
)


class LegStatus(enum.StrEnum):
    """pending → submitting → submitted → filled | partially_filled | failed | cancelled.

    ``submitting`` is written (with the order reference) before the broker is called: a leg
    found in ``submitting`` after a crash may or may not have reached the broker, and only
    reconciliation by reference decides which.
    """

    PENDING = "pending"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        """True once the leg can no longer change."""
        return self in FINAL_LEG_STATUSES

    @property
    def in_doubt(self) -> bool:
        """True while the broker may hold an order for the leg that we have not settled."""
        return self in (LegStatus.SUBMITTING, LegStatus.SUBMITTED)


FINAL_LEG_STATUSES = frozenset(
    {LegStatus.FILLED, LegStatus.PARTIALLY_FILLED, LegStatus.FAILED, LegStatus.CANCELLED}
)


def _stamp(value: dt.datetime | None) -> dt.datetime | None:
    return naive_utc(value) if value is not None else None


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


@dataclass(frozen=True)
class TradeLeg:
    """One leg as stored (timestamps naive UTC)."""

    id: int
    group_id: int
    leg_no: int
    order_ref: str
    symbol: str
    side: str
    quantity: int
    target_value: float
    current_quantity: float
    estimated_price: float
    estimated_notional: float
    estimated_commission: float | None
    estimated_cost: float
    original_estimated_cost: float
    margin_change: float | None
    warnings: tuple[str, ...]
    drift_warning: str | None
    previewed_at: dt.datetime
    expires_at: dt.datetime
    status: LegStatus
    status_reason: str | None
    filled_quantity: float
    average_fill_price: float | None
    commission: float | None
    submitted_at: dt.datetime | None
    finished_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Row) -> TradeLeg:
        """The leg of a ``trade_previews`` row."""
        return cls(
            id=row.id,
            group_id=row.group_id,
            leg_no=row.leg_no,
            order_ref=row.order_ref,
            symbol=row.symbol,
            side=row.side,
            quantity=int(row.quantity),
            target_value=float(row.target_value),
            current_quantity=float(row.current_quantity),
            estimated_price=float(row.estimated_price),
            estimated_notional=float(row.estimated_notional),
            estimated_commission=row.estimated_commission,
            estimated_cost=float(row.estimated_cost),
            original_estimated_cost=float(row.original_estimated_cost),
            margin_change=row.margin_change,
            warnings=tuple(row.warnings or ()),
            drift_warning=row.drift_warning,
            previewed_at=naive_utc(row.previewed_at),
            expires_at=naive_utc(row.expires_at),
            status=LegStatus(row.status),
            status_reason=row.status_reason,
            filled_quantity=float(row.filled_quantity),
            average_fill_price=row.average_fill_price,
            commission=row.commission,
            submitted_at=_stamp(row.submitted_at),
            finished_at=_stamp(row.finished_at),
        )

    def expired(self, now: dt.datetime) -> bool:
        """True when the what-if preview is older than its TTL at ``now``."""
        return self.expires_at <= naive_utc(now)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready representation."""
        data = asdict(self)
        data["status"] = self.status.value
        data["warnings"] = list(self.warnings)
        for key in ("previewed_at", "expires_at", "submitted_at", "finished_at"):
            data[key] = _iso(data[key])
        return data


@dataclass(frozen=True)
class TradeGroup:
    """One basket trade as stored, with its legs in execution order."""

    id: int
    basket_name: str
    action: str
    requested_value: float
    status: GroupStatus
    ref_token: str
    broker: str
    account: str
    source: str
    total_notional: float
    total_commission: float | None
    estimated_cost: float
    leftover_cash: float
    warnings: tuple[str, ...]
    drift_warnings: tuple[str, ...]
    owner: str | None
    lease_expires_at: dt.datetime | None
    execution_attempts: int
    cancel_requested_at: dt.datetime | None
    note: str | None
    created_at: dt.datetime
    approved_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    legs: tuple[TradeLeg, ...]
    trade_plan_id: int | None = None

    @classmethod
    def from_rows(cls, row: Row, legs: Iterable[Row]) -> TradeGroup:
        """The group of a ``basket_trade_groups`` row and its ``trade_previews`` rows."""
        return cls(
            id=row.id,
            basket_name=row.basket_name,
            action=row.action,
            requested_value=float(row.requested_value),
            status=GroupStatus(row.status),
            ref_token=row.ref_token,
            broker=row.broker,
            account=row.account,
            source=row.source,
            total_notional=float(row.total_notional),
            total_commission=row.total_commission,
            estimated_cost=float(row.estimated_cost),
            leftover_cash=float(row.leftover_cash),
            warnings=tuple(row.warnings or ()),
            drift_warnings=tuple(row.drift_warnings or ()),
            owner=row.owner,
            lease_expires_at=_stamp(row.lease_expires_at),
            execution_attempts=int(row.execution_attempts),
            cancel_requested_at=_stamp(row.cancel_requested_at),
            note=row.note,
            created_at=naive_utc(row.created_at),
            approved_at=_stamp(row.approved_at),
            started_at=_stamp(row.started_at),
            finished_at=_stamp(row.finished_at),
            legs=tuple(sorted((TradeLeg.from_row(r) for r in legs), key=lambda leg: leg.leg_no)),
            trade_plan_id=row.trade_plan_id,
        )

    def lease_live(self, now: dt.datetime) -> bool:
        """True while an executor holds an unexpired lease on the group."""
        return (
            self.status == GroupStatus.EXECUTING
            and self.owner is not None
            and self.lease_expires_at is not None
            and self.lease_expires_at > naive_utc(now)
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-ready representation (legs included)."""
        data = asdict(self)
        data["status"] = self.status.value
        data["warnings"] = list(self.warnings)
        data["drift_warnings"] = list(self.drift_warnings)
        for key in (
            "lease_expires_at",
            "cancel_requested_at",
            "created_at",
            "approved_at",
            "started_at",
            "finished_at",
        ):
            data[key] = _iso(data[key])
        data["legs"] = [leg.as_dict() for leg in self.legs]
        return data


def load_group(connection: Connection, group_id: int) -> TradeGroup:
    """The group with its legs; :class:`TradeError` when there is none."""
    row = connection.execute(select(GROUPS).where(GROUPS.c.id == group_id)).first()
    if row is None:
        raise TradeError(f"trade group {group_id} does not exist")
    legs = connection.execute(select(LEGS).where(LEGS.c.group_id == group_id)).all()
    return TradeGroup.from_rows(row, legs)


def read_group(database: Database, group_id: int) -> TradeGroup:
    """The group with its legs, read in its own connection."""
    with database.engine.connect() as connection:
        return load_group(connection, group_id)


def set_group_status(
    connection: Connection,
    group_id: int,
    expected: Iterable[GroupStatus],
    new: GroupStatus,
    *conditions: object,
    **values: object,
) -> bool:
    """Compare-and-set the group's status; True when this call made the transition."""
    result = connection.execute(
        update(GROUPS)
        .where(
            GROUPS.c.id == group_id,
            GROUPS.c.status.in_([status.value for status in expected]),
            *conditions,
        )
        .values(status=new.value, **values)
    )
    return result.rowcount == 1


def set_leg_status(
    connection: Connection,
    leg_id: int,
    expected: LegStatus,
    new: LegStatus,
    **values: object,
) -> bool:
    """Compare-and-set the leg's status; True when this call made the transition."""
    result = connection.execute(
        update(LEGS)
        .where(LEGS.c.id == leg_id, LEGS.c.status == expected.value)
        .values(status=new.value, **values)
    )
    return result.rowcount == 1


def final_group_status(legs: Iterable[TradeLeg]) -> GroupStatus:
    """The outcome of a group whose legs are all final.

    completed: every leg filled; partial: some shares filled but not every leg; cancelled: every
    leg cancelled without a fill; failed: nothing filled otherwise.
    """
    legs = list(legs)
    if legs and all(leg.status == LegStatus.FILLED for leg in legs):
        return GroupStatus.COMPLETED
    if any(leg.filled_quantity > 0 for leg in legs):
        return GroupStatus.PARTIAL
    if legs and all(leg.status == LegStatus.CANCELLED for leg in legs):
        return GroupStatus.CANCELLED
    return GroupStatus.FAILED
