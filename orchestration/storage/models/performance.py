"""Trade performance: every execution of the book (the system of record), the realized trades
FIFO matching derives from them, the open positions' unrealized P&L, and one snapshot row per
materialization of the performance report and the positions summary (their history).

``transactions`` is written idempotently by (account, trade_id) from the broker's executions and
CSV imports; ``realized_trades`` and ``positions_pnl`` are replaced wholesale by each
materialization (they are derived); the two ``*_snapshots`` tables only grow.
"""

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, DateTime, Double, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from orchestration.storage.base import Base


class Transaction(Base):
    """One execution: ``side`` is ``buy`` or ``sell``, ``quantity`` and ``price`` positive,
    ``fees`` (commissions and charges, >= 0) in ``currency``. ``source`` says where it came from
    (``paper``, ``ib``, ``csv``); ``name`` is the provider's company name when it gave one."""

    __tablename__ = "transactions"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    trade_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    datetime: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[float] = mapped_column(Double)
    price: Mapped[float] = mapped_column(Double)
    fees: Mapped[float] = mapped_column(Double)
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(32))
    order_ref: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class RealizedTrade(Base):
    """One FIFO match of an opening lot with a closing execution (see
    :class:`analytics_lib.trade_analysis.FifoResult`); ``pnl`` is net of fees."""

    __tablename__ = "realized_trades"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    open_trade_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    close_trade_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    symbol: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(5))
    open_datetime: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    close_datetime: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    holding_days: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[float] = mapped_column(Double)
    entry_price: Mapped[float] = mapped_column(Double)
    exit_price: Mapped[float] = mapped_column(Double)
    cost_basis: Mapped[float] = mapped_column(Double)
    proceeds: Mapped[float] = mapped_column(Double)
    fees: Mapped[float] = mapped_column(Double)
    pnl: Mapped[float] = mapped_column(Double)
    pnl_pct: Mapped[float | None] = mapped_column(Double)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PositionPnl(Base):
    """An open position (the FIFO open lots of one account, currency and symbol) at the latest
    close: exposure and unrealized P&L (``None`` where the seed's guards say undefined)."""

    __tablename__ = "positions_pnl"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(5))
    quantity: Mapped[float] = mapped_column(Double)
    shares: Mapped[float] = mapped_column(Double)
    cost_basis: Mapped[float | None] = mapped_column(Double)
    entry_price: Mapped[float | None] = mapped_column(Double)
    current_price: Mapped[float] = mapped_column(Double)
    price_date: Mapped[dt.date] = mapped_column(Date)
    market_value: Mapped[float] = mapped_column(Double)
    gross_exposure: Mapped[float] = mapped_column(Double)
    net_exposure: Mapped[float] = mapped_column(Double)
    pnl_dollars: Mapped[float | None] = mapped_column(Double)
    pnl_percent: Mapped[float | None] = mapped_column(Double)
    entry_price_warning: Mapped[bool] = mapped_column(Boolean)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class TradingPerformanceSnapshot(Base):
    """The realized-performance report of one materialization (JSON, the seed's shape)."""

    __tablename__ = "trading_performance_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64))
    total_trades: Mapped[int] = mapped_column(Integer)
    primary_currency: Mapped[str | None] = mapped_column(String(3))
    report: Mapped[dict] = mapped_column(JSON)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PositionsPnlSnapshot(Base):
    """The open positions' summary (by currency and account) of one materialization."""

    __tablename__ = "positions_pnl_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64))
    positions: Mapped[int] = mapped_column(Integer)
    primary_currency: Mapped[str | None] = mapped_column(String(3))
    summary: Mapped[dict] = mapped_column(JSON)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
