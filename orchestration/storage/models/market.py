"""Market data tables: instruments, prices, benchmark sector weights, ETF holdings, positions."""

import datetime as dt

from sqlalchemy import BigInteger, Date, DateTime, Double, String
from sqlalchemy.orm import Mapped, mapped_column

from orchestration.storage.base import Base


class Instrument(Base):
    """One tradable symbol with its classification; ``category`` (e.g. an ETF's "US Large
    Cap") and ``expense_ratio`` (a fraction a year) are optional."""

    __tablename__ = "instruments"

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    sector: Mapped[str | None] = mapped_column(String(64))
    industry: Mapped[str | None] = mapped_column(String(128))
    market_cap: Mapped[float | None] = mapped_column(Double)
    asset_type: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    category: Mapped[str | None] = mapped_column(String(128))
    expense_ratio: Mapped[float | None] = mapped_column(Double)
    source: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Price(Base):
    """Daily bar of one symbol; a partition (date) is replaced in one transaction.

    The primary key is (date, symbol): partitions are written, replaced and read by date, so
    the key's date-first order makes those range operations sequential.
    """

    __tablename__ = "prices"
    __table_args__ = ({"sqlite_with_rowid": False},)

    date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    open: Mapped[float | None] = mapped_column(Double)
    high: Mapped[float | None] = mapped_column(Double)
    low: Mapped[float | None] = mapped_column(Double)
    close: Mapped[float] = mapped_column(Double)
    adj_close: Mapped[float | None] = mapped_column(Double)
    volume: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(200))
    ingested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class BenchmarkSectorWeight(Base):
    """Sector weight of a benchmark (e.g. SP500) in force from ``asof_date``."""

    __tablename__ = "benchmarks_sector_weights"

    benchmark: Mapped[str] = mapped_column(String(32), primary_key=True)
    asof_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    sector: Mapped[str] = mapped_column(String(64), primary_key=True)
    weight: Mapped[float] = mapped_column(Double)
    source: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class EtfHolding(Base):
    """Weight of ``symbol`` in ``etf`` on ``asof_date`` (cash excluded: may sum below 1)."""

    __tablename__ = "etf_holdings"

    etf: Mapped[str] = mapped_column(String(32), primary_key=True)
    asof_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    weight: Mapped[float] = mapped_column(Double)
    source: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class PortfolioPosition(Base):
    """Current holding of ``symbol`` in ``account`` (negative quantity = short)."""

    __tablename__ = "portfolio_positions"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    quantity: Mapped[float] = mapped_column(Double)
    cost_basis: Mapped[float | None] = mapped_column(Double)
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
