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
from orchestration.storage.models.risk import (
    PortfolioSnapshot,
    PositionMarketBeta,
    PositionVolatility,
)
from orchestration.storage.models.trading import (
    BasketTradeGroup,
    BrokerFill,
    BrokerOrder,
    BrokerReconciliation,
    PaperAccount,
    PaperFill,
    PaperOrder,
    PaperPosition,
    PositionBaseline,
    PositionBaselineRow,
    TradeApproval,
    TradePreview,
    TradingHalt,
)

__all__ = [
    "Base",
    "Basket",
    "BasketAnalyticsRow",
    "BasketReturn",
    "BasketTradeGroup",
    "BenchmarkSectorWeight",
    "BrokerFill",
    "BrokerOrder",
    "BrokerReconciliation",
    "EtfHolding",
    "Instrument",
    "PaperAccount",
    "PaperFill",
    "PaperOrder",
    "PaperPosition",
    "PortfolioPosition",
    "PortfolioSnapshot",
    "PositionBaseline",
    "PositionBaselineRow",
    "PositionMarketBeta",
    "PositionVolatility",
    "Price",
    "TradeApproval",
    "TradePreview",
    "TradingHalt",
]
