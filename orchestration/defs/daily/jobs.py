"""The daily pipeline: market data, risk and positions for one trading day."""

import dagster as dg

from orchestration import constants as c

daily_pipeline = dg.define_asset_job(
    c.DAILY_PIPELINE_JOB,
    selection=dg.AssetSelection.groups(c.MARKET_DATA, c.RISK)
    | dg.AssetSelection.assets("portfolio_positions"),
    description="Everything for one trading day: market data, returns and risk.",
)
