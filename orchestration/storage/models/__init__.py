"""All app-database models, imported so ``Base.metadata`` knows every table."""

from orchestration.storage.base import Base
from orchestration.storage.models.baskets import Basket, BasketAnalyticsRow, BasketReturn
from orchestration.storage.models.market import (
    BenchmarkSectorWeight,
    EtfHolding,
    Instrument,
    PortfolioPosition,
    Price,
)

__all__ = [
    "Base",
    "Basket",
    "BasketAnalyticsRow",
    "BasketReturn",
    "BenchmarkSectorWeight",
    "EtfHolding",
    "Instrument",
    "PortfolioPosition",
    "Price",
]
