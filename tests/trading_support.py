"""Helpers for the trading tests: a tiny market in the app database, brokers, settings.

Kept beside ``tests/support.py`` (not in a package) so the trading tests share one small,
hand-checkable market: symbols ``S01``…``S12`` with a latest close of ``20 + 7 i`` (S01 = 27,
S02 = 34, …), the day before one dollar lower, and a portfolio holding some of them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd

from orchestration.defs.baskets import store as basket_store
from orchestration.resources.database import Database
from orchestration.resources.paper_broker import PaperBroker
from orchestration.settings import PaperBrokerSettings, TradingSettings
from orchestration.storage import bulk
from orchestration.storage.models import Instrument, PortfolioPosition, Price

LATEST = dt.date(2024, 3, 28)
PREVIOUS = dt.date(2024, 3, 27)
SYMBOLS = [f"S{i:02d}" for i in range(1, 13)]
HOLDINGS = {"S01": 100.0, "S02": 50.0, "S03": 10.0}
NOW = pd.Timestamp("2024-03-28 21:00", tz="UTC")


def close(symbol: str) -> float:
    """The latest close of ``symbol`` in the tiny market: 20 + 7 i for S<i>."""
    return 20.0 + 7.0 * int(symbol[1:])


def seed_market(database_url: str, holdings: dict[str, float] | None = None) -> Database:
    """Migrate the database and load instruments, two days of prices and the portfolio."""
    database = Database(url=database_url)
    held = HOLDINGS if holdings is None else holdings
    instruments = pd.DataFrame(
        {
            "symbol": SYMBOLS,
            "name": [f"Test Co {s}" for s in SYMBOLS],
            "sector": "Tests",
            "industry": "Tests",
            "market_cap": [1e9 * (i + 1) for i in range(len(SYMBOLS))],
            "asset_type": "stock",
            "currency": "USD",
            "source": "tests",
            "updated_at": NOW,
        }
    )
    prices = pd.DataFrame(
        [
            {
                "symbol": s,
                "date": pd.Timestamp(day),
                "close": close(s) - offset,
                "adj_close": close(s) - offset,
                "source": "tests",
                "ingested_at": NOW,
            }
            for s in SYMBOLS
            for day, offset in ((PREVIOUS, 1.0), (LATEST, 0.0))
        ]
    )
    positions = pd.DataFrame(
        {
            "account": "TEST",
            "symbol": list(held),
            "quantity": list(held.values()),
            "cost_basis": [q * close(s) for s, q in held.items()],
            "currency": "USD",
            "source": "tests",
            "updated_at": NOW,
        }
    )
    with database.transaction() as connection:
        bulk.insert_frame(connection, Instrument.__table__, instruments)
        bulk.insert_frame(connection, Price.__table__, prices)
        bulk.insert_frame(connection, PortfolioPosition.__table__, positions)
    return database


def set_close(database: Database, symbol: str, value: float) -> None:
    """Change the latest close of ``symbol`` (moves quotes, previews and paper fills)."""
    with database.transaction() as connection:
        connection.execute(
            Price.__table__.update()
            .where(Price.__table__.c.symbol == symbol, Price.__table__.c.date == LATEST)
            .values(close=value, adj_close=value)
        )


def make_basket(database: Database, name: str = "tenleg", n: int = 10) -> None:
    """An equal-weight basket of the first ``n`` symbols."""
    basket_store.create_basket(database, name, SYMBOLS[:n], method="equal")


PAPER = PaperBrokerSettings(
    account="PAPER",
    cash=1_000_000.0,
    slippage_bps=10.0,
    commission_per_share=0.01,
    commission_minimum=1.0,
)
TRADING = TradingSettings(
    preview_ttl_seconds=300.0,
    max_order_notional=50_000.0,
    max_group_notional=500_000.0,
    max_net_liquidation_fraction=1.0,
    order_timeout_seconds=5.0,
    lease_seconds=30.0,
)


def paper_broker(database_url: str, **changes: object) -> PaperBroker:
    """A connected trading session of the paper broker (settings ``PAPER`` with changes)."""
    broker = PaperBroker(database_url, replace(PAPER, **changes), poll_seconds=0.005)
    broker.connect()
    return broker


def trading(**changes: object) -> TradingSettings:
    """Execution settings ``TRADING`` with changes."""
    return replace(TRADING, **changes)
