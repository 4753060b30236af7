"""The trade-performance job: record the executions, match them, report on them."""

import dagster as dg

REFRESH_TRADING_PERFORMANCE_JOB = "refresh_trading_performance"
PERFORMANCE_ASSETS = ("transactions", "realized_trades", "trading_performance", "positions_pnl")

refresh_trading_performance = dg.define_asset_job(
    REFRESH_TRADING_PERFORMANCE_JOB,
    selection=dg.AssetSelection.assets(*PERFORMANCE_ASSETS),
    description="Record the broker's executions, match them FIFO into realized trades, and "
    "report realized performance and the open positions' P&L.",
)
