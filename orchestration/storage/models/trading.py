"""Basket trading: trade groups and their legs, what we sent to the broker and what filled,
the halt switch, position reconciliation, and the paper broker's own ledger.

Our records (``basket_trade_groups`` … ``broker_fills``) and the paper broker's ledger
(``paper_*``) are separate on purpose: after a crash the executor reconciles the first against
the broker, and for the paper broker the second *is* the broker.
"""

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from orchestration.storage.base import Base


class BasketTradeGroup(Base):
    """One basket trade: preview → approved → executing → completed | partial | failed |
    cancelled. ``owner`` and ``lease_expires_at`` say which executor holds it and until when."""

    __tablename__ = "basket_trade_groups"
    __table_args__ = (Index("ix_basket_trade_groups_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    basket_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(16))
    requested_value: Mapped[float] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(16))
    ref_token: Mapped[str] = mapped_column(String(16))
    broker: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(100))
    total_notional: Mapped[float] = mapped_column(Double)
    total_commission: Mapped[float | None] = mapped_column(Double)
    estimated_cost: Mapped[float] = mapped_column(Double)
    leftover_cash: Mapped[float] = mapped_column(Double)
    warnings: Mapped[list] = mapped_column(JSON)
    drift_warnings: Mapped[list] = mapped_column(JSON)
    owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    execution_attempts: Mapped[int] = mapped_column(Integer)
    cancel_requested_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    trade_plan_id: Mapped[int | None] = mapped_column(Integer)


class TradePreview(Base):
    """One leg of a basket trade with its what-if preview (expiring) and its outcome:
    pending → submitting → submitted → filled | partially_filled | failed | cancelled."""

    __tablename__ = "trade_previews"
    __table_args__ = (UniqueConstraint("group_id", "leg_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("basket_trade_groups.id"))
    leg_no: Mapped[int] = mapped_column(Integer)
    order_ref: Mapped[str] = mapped_column(String(64), unique=True)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int] = mapped_column(Integer)
    target_value: Mapped[float] = mapped_column(Double)
    current_quantity: Mapped[float] = mapped_column(Double)
    estimated_price: Mapped[float] = mapped_column(Double)
    estimated_notional: Mapped[float] = mapped_column(Double)
    estimated_commission: Mapped[float | None] = mapped_column(Double)
    estimated_cost: Mapped[float] = mapped_column(Double)
    original_estimated_cost: Mapped[float] = mapped_column(Double)
    margin_change: Mapped[float | None] = mapped_column(Double)
    warnings: Mapped[list] = mapped_column(JSON)
    drift_warning: Mapped[str | None] = mapped_column(Text)
    previewed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20))
    status_reason: Mapped[str | None] = mapped_column(Text)
    filled_quantity: Mapped[float] = mapped_column(Double)
    average_fill_price: Mapped[float | None] = mapped_column(Double)
    commission: Mapped[float | None] = mapped_column(Double)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class TradeApproval(Base):
    """An approval of a group: the execution sensor launches one run per row."""

    __tablename__ = "trade_approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("basket_trade_groups.id"), index=True)
    approved_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(100))


class BrokerOrder(Base):
    """What we sent: written (status ``sending``) before ``place`` is called, then updated with
    the broker's answers. One row per leg and order reference."""

    __tablename__ = "broker_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    leg_id: Mapped[int] = mapped_column(ForeignKey("trade_previews.id"), unique=True)
    order_ref: Mapped[str] = mapped_column(String(64), unique=True)
    broker: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int] = mapped_column(Integer)
    order_type: Mapped[str] = mapped_column(String(8))
    broker_order_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    filled_quantity: Mapped[float] = mapped_column(Double)
    average_fill_price: Mapped[float | None] = mapped_column(Double)
    reason: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class BrokerFill(Base):
    """A fill the broker reported for one of our orders (unique by execution id)."""

    __tablename__ = "broker_fills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    execution_id: Mapped[str] = mapped_column(String(128), unique=True)
    order_ref: Mapped[str] = mapped_column(String(64), index=True)
    broker: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[float] = mapped_column(Double)
    price: Mapped[float] = mapped_column(Double)
    commission: Mapped[float | None] = mapped_column(Double)
    executed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class TradingHalt(Base):
    """The halt switch's history: trading is halted while the newest row says ``halt``."""

    __tablename__ = "trading_halts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PositionBaseline(Base):
    """Positions we accept as the starting point of an account's ledger: expected positions
    are the baseline plus every fill in ``broker_fills`` with an id above ``fill_watermark``."""

    __tablename__ = "position_baselines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    broker: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    fill_watermark: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PositionBaselineRow(Base):
    """One symbol's quantity in a baseline."""

    __tablename__ = "position_baseline_rows"

    baseline_id: Mapped[int] = mapped_column(ForeignKey("position_baselines.id"), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    quantity: Mapped[float] = mapped_column(Double)


class BrokerReconciliation(Base):
    """One comparison of broker positions with the expected ones; the newest row decides
    whether executions may proceed."""

    __tablename__ = "broker_reconciliations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    broker: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(64))
    baseline_id: Mapped[int] = mapped_column(ForeignKey("position_baselines.id"))
    passed: Mapped[bool] = mapped_column(Boolean)
    breaks: Mapped[int] = mapped_column(Integer)
    symbols_checked: Mapped[int] = mapped_column(Integer)
    details: Mapped[list] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(100))
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PaperAccount(Base):
    """The paper broker's account: cash (positions in ``paper_positions``)."""

    __tablename__ = "paper_accounts"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    cash: Mapped[float] = mapped_column(Double)
    currency: Mapped[str] = mapped_column(String(3))
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PaperPosition(Base):
    """A position in the paper broker's ledger."""

    __tablename__ = "paper_positions"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    quantity: Mapped[float] = mapped_column(Double)
    average_cost: Mapped[float | None] = mapped_column(Double)


class PaperOrder(Base):
    """An order the paper broker received. ``order_ref`` is deliberately not unique: like a
    real broker, the paper broker does not de-duplicate, so a second ``place`` for one
    reference would show up here as a second row."""

    __tablename__ = "paper_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64))
    order_ref: Mapped[str] = mapped_column(String(64), index=True)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int] = mapped_column(Integer)
    order_type: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(20), index=True)
    filled_quantity: Mapped[float] = mapped_column(Double)
    average_fill_price: Mapped[float | None] = mapped_column(Double)
    reason: Mapped[str | None] = mapped_column(Text)
    fill_due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PaperFill(Base):
    """A fill in the paper broker's ledger."""

    __tablename__ = "paper_fills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("paper_orders.id"), index=True)
    account: Mapped[str] = mapped_column(String(64))
    order_ref: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[float] = mapped_column(Double)
    price: Mapped[float] = mapped_column(Double)
    commission: Mapped[float] = mapped_column(Double)
    executed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class TradeApprovalRequest(Base):
    """A request, made by an agent on the MCP server, that a person approve a previewed group
    (``portfolio trade list`` shows the requests of groups still in preview)."""

    __tablename__ = "trade_approval_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("basket_trade_groups.id"), index=True)
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    requested_by: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
