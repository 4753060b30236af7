"""Risk jobs: recompute the risk figures of a range of as-of dates over stored prices."""

import dagster as dg

from orchestration import constants as c

risk_backfill = dg.define_asset_job(
    c.RISK_JOB,
    selection=dg.AssetSelection.groups(c.RISK) | dg.AssetSelection.assets("portfolio_positions"),
    description="The risk group (and the positions it weighs) over stored prices: recompute the "
    "risk figures of a range of as-of dates without reloading market data.",
)
