"""Basket jobs: refresh the series and analytics of changed baskets."""

import dagster as dg

from orchestration import constants as c

refresh_basket = dg.define_asset_job(
    c.REFRESH_BASKET_JOB,
    selection=dg.AssetSelection.assets("baskets") | dg.AssetSelection.groups(c.BASKETS),
    description="Observe the baskets, then materialize the return series and analytics of the "
    "run's basket partition(s) and rebuild the factor returns panel.",
)
