"""Baskets: named custom indexes (tickers with a weighting method), their return series and
their analytics."""

import datetime as dt

from sqlalchemy import JSON, Date, DateTime, Double, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orchestration.storage.base import Base


class Basket(Base):
    """A named set of tickers tracked as a custom index and tradable as one order.

    ``weights`` is stored for ``custom`` baskets only (normalised to sum to 1, in ticker
    order); ``equal`` and ``market_cap`` weights are resolved when used.
    """

    __tablename__ = "baskets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    tickers: Mapped[list] = mapped_column(JSON)
    weights: Mapped[list | None] = mapped_column(JSON)
    weighting_method: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class BasketReturn(Base):
    """One day of a basket's return series (the ``basket_returns`` asset).

    ``daily_return`` is NULL on days when no member has a return; ``coverage`` is the share of
    the basket's weight whose members have a return that day. A basket's rows are replaced
    together, in one transaction, each time its series is materialized.
    """

    __tablename__ = "basket_returns"
    __table_args__ = ({"sqlite_with_rowid": False},)

    basket: Mapped[str] = mapped_column(String(100), primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    daily_return: Mapped[float | None] = mapped_column(Double)
    coverage: Mapped[float] = mapped_column(Double)
    rebalance: Mapped[str] = mapped_column(String(16))
    basket_version: Mapped[str] = mapped_column(String(16))
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class BasketAnalyticsRow(Base):
    """Performance analytics of a basket's series ending on ``end_date`` (``basket_analytics``).

    One row per basket and end date: re-running the same end date replaces it, a later end date
    adds a row, so the table keeps the history of the headline figures. ``components`` and
    ``monthly_returns`` are JSON lists of records; undefined statistics (Sharpe of a constant
    series, the portfolio comparison without positions) are NULL.
    """

    __tablename__ = "basket_analytics"

    basket: Mapped[str] = mapped_column(String(100), primary_key=True)
    end_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    start_date: Mapped[dt.date] = mapped_column(Date)
    observations: Mapped[int] = mapped_column(Integer)
    basket_version: Mapped[str] = mapped_column(String(16))
    rebalance: Mapped[str] = mapped_column(String(16))
    risk_free_rate: Mapped[float] = mapped_column(Double)
    total_return: Mapped[float] = mapped_column(Double)
    annualized_return: Mapped[float] = mapped_column(Double)
    annualized_volatility: Mapped[float] = mapped_column(Double)
    sharpe: Mapped[float | None] = mapped_column(Double)
    max_drawdown: Mapped[float] = mapped_column(Double)
    arithmetic_return: Mapped[float] = mapped_column(Double)
    contribution_residual: Mapped[float] = mapped_column(Double)
    portfolio_correlation: Mapped[float | None] = mapped_column(Double)
    portfolio_beta: Mapped[float | None] = mapped_column(Double)
    tracking_error: Mapped[float | None] = mapped_column(Double)
    portfolio_observations: Mapped[int | None] = mapped_column(Integer)
    components: Mapped[list] = mapped_column(JSON)
    monthly_returns: Mapped[list] = mapped_column(JSON)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
