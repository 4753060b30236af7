"""Jobs: asset selections that run together."""

import dagster as dg

from orchestration import constants as c

daily_pipeline = dg.define_asset_job(
    c.DAILY_PIPELINE_JOB,
    selection=dg.AssetSelection.groups(c.MARKET_DATA, c.RISK)
    | dg.AssetSelection.assets("portfolio_positions"),
    description="Everything for one trading day: market data, returns and risk.",
)

refresh_basket = dg.define_asset_job(
    c.REFRESH_BASKET_JOB,
    selection=dg.AssetSelection.assets("baskets") | dg.AssetSelection.groups(c.BASKETS),
    description="Observe the baskets, then materialize the return series and analytics of the "
    "run's basket partition(s) and rebuild the factor returns panel.",
)
