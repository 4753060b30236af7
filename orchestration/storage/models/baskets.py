"""Baskets: named custom indexes (tickers with a weighting method)."""

import datetime as dt

from sqlalchemy import JSON, DateTime, Integer, String, Text
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
