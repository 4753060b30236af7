"""The daily pipeline: market data, risk, positions and the broker reconciliation for one
trading day."""

import dagster as dg

from orchestration import constants as c

daily_pipeline = dg.define_asset_job(
    c.DAILY_PIPELINE_JOB,
    selection=dg.AssetSelection.groups(c.MARKET_DATA, c.RISK)
    | dg.AssetSelection.assets("portfolio_positions", "broker_reconciliation"),
    description="Everything for one trading day: market data, returns, risk, the book's "
    "positions and their reconciliation with the broker.",
)
