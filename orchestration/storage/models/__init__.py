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
from orchestration.storage.models.performance import (
    PositionPnl,
    PositionsPnlSnapshot,
    RealizedTrade,
    TradingPerformanceSnapshot,
    Transaction,
)
from orchestration.storage.models.risk import (
    PortfolioSnapshot,
    PositionMarketBeta,
    PositionVolatility,
)
from orchestration.storage.models.strategy import (
    BacktestEquityRow,
    BacktestRun,
    FactorScoreRow,
    StrategyUniverseRow,
    TargetWeightRow,
    TradePlan,
    TradePlanTrade,
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
    TradeApprovalRequest,
    TradePreview,
    TradingHalt,
)

__all__ = [
    "BacktestEquityRow",
    "BacktestRun",
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
    "FactorScoreRow",
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
    "PositionPnl",
    "PositionVolatility",
    "PositionsPnlSnapshot",
    "Price",
    "RealizedTrade",
    "StrategyUniverseRow",
    "TargetWeightRow",
    "TradeApproval",
    "TradeApprovalRequest",
    "TradePlan",
    "TradePlanTrade",
    "TradePreview",
    "TradingHalt",
    "TradingPerformanceSnapshot",
    "Transaction",
]
