"""Strategy tables: the ETF universe, factor scores, target weights, backtests and trade plans.

Rows of the as-of dated tables (``as_of``) are replaced per as-of date in one transaction.
Trade plans are history: every ``trade_plan`` materialization adds a plan (with its state
snapshot and trades) that trade groups refer to, so a plan is never rewritten after a group was
previewed from it. Undefined numbers are NULL, never NaN.
"""

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, DateTime, Double, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from orchestration.storage.base import Base


class StrategyUniverseRow(Base):
    """One candidate of the strategy universe at an as-of date: eligible, or why not."""

    __tablename__ = "strategy_universe"

    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    asset_type: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(128))
    leveraged_inverse: Mapped[bool] = mapped_column(Boolean)
    eligible: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(64))
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class FactorScoreRow(Base):
    """Percentile factor scores in [0, 1] (NULL: no data, or the factor was skipped)."""

    __tablename__ = "factor_scores"

    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    momentum: Mapped[float | None] = mapped_column(Double)
    quality: Mapped[float | None] = mapped_column(Double)
    value: Mapped[float | None] = mapped_column(Double)
    volatility: Mapped[float | None] = mapped_column(Double)
    combined: Mapped[float | None] = mapped_column(Double)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class TargetWeightRow(Base):
    """One position of the target portfolio at an as-of date."""

    __tablename__ = "target_weights"

    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    method: Mapped[str] = mapped_column(String(16))
    weight: Mapped[float] = mapped_column(Double)
    combined: Mapped[float | None] = mapped_column(Double)
    category: Mapped[str | None] = mapped_column(String(128))
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class BacktestRun(Base):
    """The walk-forward backtest ending at an as-of date: parameters, metrics, stop-losses."""

    __tablename__ = "backtest_runs"

    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    params: Mapped[dict] = mapped_column(JSON)
    metrics: Mapped[dict] = mapped_column(JSON)
    stop_loss_events: Mapped[list] = mapped_column(JSON)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class BacktestEquityRow(Base):
    """One day of a backtest's equity curve, its drawdown and the benchmark's equity."""

    __tablename__ = "backtest_equity"

    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    equity: Mapped[float] = mapped_column(Double)
    drawdown: Mapped[float] = mapped_column(Double)
    benchmark: Mapped[float | None] = mapped_column(Double)


class TradePlan(Base):
    """A trade plan: the target weights against the live book, with the state it assumed.

    ``state`` is the snapshot execution compares the live book with (positions, cash, net
    liquidation, prices, target weights, trades and ``plan_hash``); ``cleanup`` lists the open
    orders of no trade group of ours and the short positions found before planning, and what
    was done about them.
    """

    __tablename__ = "trade_plans"
    __table_args__ = (Index("ix_trade_plans_as_of", "as_of"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    broker: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(64))
    plan_hash: Mapped[str] = mapped_column(String(64))
    deploy_cash: Mapped[float | None] = mapped_column(Double)
    cash_reserve: Mapped[float] = mapped_column(Double)
    buys_total: Mapped[float] = mapped_column(Double)
    sells_total: Mapped[float] = mapped_column(Double)
    cash_after: Mapped[float] = mapped_column(Double)
    transition: Mapped[dict] = mapped_column(JSON)
    cleanup: Mapped[dict] = mapped_column(JSON)
    state: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class TradePlanTrade(Base):
    """One whole-share trade of a plan, in execution order (sells before buys)."""

    __tablename__ = "trade_plan_trades"

    plan_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int] = mapped_column(Integer)
    price: Mapped[float] = mapped_column(Double)
    value: Mapped[float] = mapped_column(Double)
    reason: Mapped[str] = mapped_column(String(16))
