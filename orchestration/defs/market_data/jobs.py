"""Market data jobs: the long single-run history load."""

import dagster as dg

from orchestration import constants as c

market_data_backfill = dg.define_asset_job(
    c.MARKET_DATA_JOB,
    selection=dg.AssetSelection.groups(c.MARKET_DATA),
    description="Market data only (instruments, prices, benchmark, holdings, returns): the "
    "cheap way to load a long price history in one run.",
)
