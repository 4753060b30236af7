"""A small simulated market with an ETF universe loaded straight into the app database, for
the strategy tests (no market-data run needed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd

from analytics_lib.simulation import DemoMarket, simulate_market
from orchestration.cli.runs import execute_job
from orchestration.definitions import build_definitions
from orchestration.resources.database import Database
from orchestration.storage import bulk
from orchestration.storage.models import Instrument, PortfolioPosition, Price
from tests.support import make_settings

START = dt.date(2022, 1, 3)
END = dt.date(2024, 6, 28)
STAMP = pd.Timestamp("2024-06-28 21:00", tz="UTC")
GENEROUS_LIMITS = {
    "PORTFOLIO_MAX_ORDER_NOTIONAL": "10000000",
    "PORTFOLIO_MAX_GROUP_NOTIONAL": "100000000",
    "PORTFOLIO_MAX_NET_LIQUIDATION_FRACTION": "1",
}


def seed_simulated(
    database_url: str, *, n_etfs: int = 80, with_positions: bool = True
) -> tuple[Database, DemoMarket]:
    """Migrate the database and load a simulated market (40 stocks, SPY, the sector ETFs and
    ``n_etfs`` strategy ETFs) from 2022-01-03 to 2024-06-28, with the demo portfolio unless
    ``with_positions`` is false (the paper account then opens with cash only)."""
    market = simulate_market(start=START, end=END, n_symbols=40, seed=7, n_etfs=n_etfs)
    database = Database(url=database_url)
    stamp = {"source": "tests"}
    with database.transaction() as connection:
        bulk.insert_frame(
            connection,
            Instrument.__table__,
            market.instruments,
            constants={**stamp, "updated_at": STAMP},
        )
        bulk.insert_frame(
            connection, Price.__table__, market.prices, constants={**stamp, "ingested_at": STAMP}
        )
        if with_positions:
            bulk.insert_frame(
                connection,
                PortfolioPosition.__table__,
                market.positions,
                constants={**stamp, "updated_at": STAMP},
            )
    return database, market


def strategy_definitions(home: Path, database_url: str, **env: str) -> dg.Definitions:
    """Definitions on ``database_url`` with the strategy's partitions covering the market."""
    settings = make_settings(
        home, database_url, PORTFOLIO_START_DATE=START.isoformat(), **{**GENEROUS_LIMITS, **env}
    )
    return build_definitions(settings)


def run_strategy(
    defs: dg.Definitions, instance: dg.DagsterInstance, as_of: dt.date = END
) -> dg.ExecuteInProcessResult:
    """The ``strategy_pipeline`` job for ``as_of``."""
    return execute_job(defs, "strategy_pipeline", instance, partition_key=as_of.isoformat())
