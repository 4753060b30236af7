"""Risk tables: position betas, position (and portfolio) volatility, portfolio snapshots.

Every row carries its as-of date (``calc_date``); a run replaces the rows of its as-of dates in
one transaction. Numbers that are undefined (a beta without enough data, the market's t-stat
against itself) are stored as NULL, never as NaN or ±inf.
"""

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, DateTime, Double, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from orchestration.storage.base import Base


class PositionMarketBeta(Base):
    """OLS beta of one symbol on the market proxy at one as-of date.

    ``beta`` is capped (±cap) and ``beta_raw`` is the OLS value; ``status`` is ``ok``,
    ``insufficient_data``, ``degenerate`` or ``stale`` (no price at the as-of date, see
    ``PORTFOLIO_STALE_SESSIONS``) and the statistics are NULL unless ``ok``.
    ``window_days`` is the number of paired observations the method asks for (90);
    ``observations`` is how many it found.
    """

    __tablename__ = "position_market_betas"
    __table_args__ = (Index("ix_position_market_betas_calc_date", "calc_date"),)

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    calc_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    method: Mapped[str] = mapped_column(String(16), primary_key=True)
    window_days: Mapped[int] = mapped_column(Integer, primary_key=True)
    market_index: Mapped[str] = mapped_column(String(32))
    beta: Mapped[float | None] = mapped_column(Double)
    beta_raw: Mapped[float | None] = mapped_column(Double)
    capped: Mapped[bool] = mapped_column(Boolean)
    alpha: Mapped[float | None] = mapped_column(Double)
    r_squared: Mapped[float | None] = mapped_column(Double)
    std_error: Mapped[float | None] = mapped_column(Double)
    t_stat: Mapped[float | None] = mapped_column(Double)
    p_value: Mapped[float | None] = mapped_column(Double)
    observations: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(24))
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PositionVolatility(Base):
    """Realized and expected (HAR) volatility of a symbol, or of the portfolio, at an as-of date.

    ``kind`` is ``symbol`` (``symbol`` is the ticker) or ``portfolio`` (``symbol`` is
    ``portfolio``: the book's own return series). Vols are annualised; ``har_rv_*`` are the HAR
    components at the as-of date in daily variance units (mean squared daily return over 1, 5
    and 22 days); ``expected_variance_raw`` is the uncapped HAR prediction (daily variance, may
    be <= 0) and ``expected_vol_21d`` the forecast after the (0, 300%] cap.
    """

    __tablename__ = "position_volatility"
    __table_args__ = (Index("ix_position_volatility_calc_date", "calc_date"),)

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    calc_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    realized_vol_21d: Mapped[float | None] = mapped_column(Double)
    realized_vol_63d: Mapped[float | None] = mapped_column(Double)
    har_rv_daily: Mapped[float | None] = mapped_column(Double)
    har_rv_weekly: Mapped[float | None] = mapped_column(Double)
    har_rv_monthly: Mapped[float | None] = mapped_column(Double)
    expected_vol_21d: Mapped[float | None] = mapped_column(Double)
    expected_variance_raw: Mapped[float | None] = mapped_column(Double)
    forecast_capped: Mapped[bool] = mapped_column(Boolean)
    cap_reason: Mapped[str] = mapped_column(String(16))
    har_r_squared: Mapped[float | None] = mapped_column(Double)
    har_observations: Mapped[int] = mapped_column(Integer)
    har_status: Mapped[str] = mapped_column(String(24))
    vol_trend: Mapped[str | None] = mapped_column(String(16))
    vol_trend_strength: Mapped[float | None] = mapped_column(Double)
    vol_percentile: Mapped[float | None] = mapped_column(Double)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PortfolioSnapshot(Base):
    """The portfolio's risk figures at one as-of date (one row per ``calc_date``).

    Each asset of the risk group owns a group of columns and writes them for its as-of dates:
    ``portfolio_beta`` the ``market_beta_*`` columns, ``sector_exposure`` the sector columns,
    ``concentration`` the concentration columns, ``portfolio_returns`` the return columns and
    ``portfolio_snapshot`` the volatility columns and ``completed_at``, which it sets once every
    group is present. Weights are market value / net equity (shorts negative); concentration
    figures are on gross (absolute) weights.
    """

    __tablename__ = "portfolio_snapshots"

    calc_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    # portfolio_beta
    market_index: Mapped[str | None] = mapped_column(String(32))
    market_beta_weighted: Mapped[float | None] = mapped_column(Double)
    market_beta_r_squared: Mapped[float | None] = mapped_column(Double)
    market_beta_observations: Mapped[int | None] = mapped_column(Integer)
    market_beta_coverage: Mapped[float | None] = mapped_column(Double)
    market_beta_direct: Mapped[float | None] = mapped_column(Double)
    market_beta_direct_r_squared: Mapped[float | None] = mapped_column(Double)
    market_beta_direct_observations: Mapped[int | None] = mapped_column(Integer)
    # sector_exposure
    sector_exposure: Mapped[dict | None] = mapped_column(JSON)
    sector_look_through: Mapped[bool | None] = mapped_column(Boolean)
    benchmark: Mapped[str | None] = mapped_column(String(32))
    benchmark_asof: Mapped[dt.date | None] = mapped_column(Date)
    largest_overweight_sector: Mapped[str | None] = mapped_column(String(64))
    largest_overweight: Mapped[float | None] = mapped_column(Double)
    largest_underweight_sector: Mapped[str | None] = mapped_column(String(64))
    largest_underweight: Mapped[float | None] = mapped_column(Double)
    largest_active_weight: Mapped[float | None] = mapped_column(Double)
    unclassified_weight: Mapped[float | None] = mapped_column(Double)
    # concentration
    positions: Mapped[int | None] = mapped_column(Integer)
    hhi: Mapped[float | None] = mapped_column(Double)
    effective_positions: Mapped[float | None] = mapped_column(Double)
    top3_weight: Mapped[float | None] = mapped_column(Double)
    top3_symbols: Mapped[list | None] = mapped_column(JSON)
    top10_weight: Mapped[float | None] = mapped_column(Double)
    top10_symbols: Mapped[list | None] = mapped_column(JSON)
    # portfolio_returns
    portfolio_return: Mapped[float | None] = mapped_column(Double)
    return_coverage: Mapped[float | None] = mapped_column(Double)
    unpriced_holdings: Mapped[list | None] = mapped_column(JSON)
    # portfolio_snapshot
    realized_volatility_21d: Mapped[float | None] = mapped_column(Double)
    realized_volatility_63d: Mapped[float | None] = mapped_column(Double)
    expected_volatility_21d: Mapped[float | None] = mapped_column(Double)
    volatility_trend: Mapped[str | None] = mapped_column(String(16))
    volatility_trend_strength: Mapped[float | None] = mapped_column(Double)
    volatility_percentile: Mapped[float | None] = mapped_column(Double)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
