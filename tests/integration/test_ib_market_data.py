"""``PORTFOLIO_MARKET_DATA=ib`` through Dagster: the definitions built from the settings, with
the IB client replaced by the project's fake gateway (tests/support_ib.py). A market-data
backfill writes what IB served, a later day asks IB only for the new days, and a connection
lost in the middle of a run fails it naming the symbol reached, with the app tables and the
bar cache unchanged."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from orchestration import constants as c
from orchestration import definitions, market_calendar
from orchestration.cli.runs import execute_job, run_failure
from orchestration.resources.database import Database
from orchestration.resources.ib_market_data import IbMarketData
from tests.support import make_settings
from tests.support_ib import HISTORY_ETFS, HISTORY_STOCKS, FakeGateway, history_gateway

START = dt.date(2024, 1, 2)
END = dt.date(2024, 5, 24)
NEXT = dt.date(2024, 5, 29)
GATEWAYS: dict[str, FakeGateway] = {}
pytestmark = pytest.mark.slow


class FakeGatewayMarketData(IbMarketData):
    """The IB source with its client from a fake gateway of this module."""

    gateway: str

    def client_factory(self) -> Callable[[], Any]:
        return GATEWAYS[self.gateway].client


@pytest.fixture
def ib_source(tmp_path, sqlite_url, monkeypatch, request):
    sessions = [stamp.date() for stamp in market_calendar.sessions(START, NEXT)]
    gateway = history_gateway(sessions)
    gateway.history_today = END
    GATEWAYS[request.node.name] = gateway
    positions = tmp_path / "positions.csv"
    positions.write_text(
        "account,symbol,quantity,cost_basis,currency\nMAIN,AAPL,50,8000,USD\nMAIN,XLV,40,5000,USD\n"
    )
    settings = make_settings(
        tmp_path / "home",
        sqlite_url,
        PORTFOLIO_MARKET_DATA="ib",
        PORTFOLIO_IB_SYMBOLS=",".join(HISTORY_STOCKS),
        PORTFOLIO_IB_POSITIONS_CSV=str(positions),
        PORTFOLIO_START_DATE=START.isoformat(),
        IB_PORT="4002",
        IB_MARKET_DATA_CLIENT_ID="21",
    )
    ends = {"end": END}
    original = definitions.build_market_data

    def build(selected):
        real = original(selected)
        assert isinstance(real, IbMarketData)
        fields = {name: getattr(real, name) for name in IbMarketData.model_fields}
        fields["end_date"] = ends["end"].isoformat()
        return FakeGatewayMarketData(**fields, gateway=request.node.name)

    monkeypatch.setattr(definitions, "build_market_data", build)
    yield settings, gateway, ends, Database(url=sqlite_url)
    del GATEWAYS[request.node.name]


def _run(settings, instance, first: dt.date, last: dt.date):
    defs = definitions.build_definitions(settings)
    return execute_job(defs, c.MARKET_DATA_JOB, instance, partition_range=(first, last))


def _table(database: Database, name: str, order: str) -> pd.DataFrame:
    return database.read_frame(f"SELECT * FROM {name} ORDER BY {order}")


def _served(gateway: FakeGateway, symbol: str, last: dt.date) -> pd.DataFrame:
    bars = [bar for bar in gateway.daily_bars[symbol] if START <= bar.date <= last]
    return pd.DataFrame(
        {
            "close": [bar.close for bar in bars],
            "adj_close": [bar.close * bar.factor for bar in bars],
            "volume": [bar.volume for bar in bars],
        }
    )


def test_backfill_and_next_day_through_dagster(ib_source, instance):
    settings, gateway, ends, database = ib_source
    result = _run(settings, instance, START, END)
    assert result.success, run_failure(result).message
    assert gateway.connections[0]["client_id"] == 21

    prices = _table(database, "prices", "symbol, date")
    symbols = [*HISTORY_STOCKS, *HISTORY_ETFS]
    assert set(prices["symbol"]) == set(symbols)
    for symbol in ("AAPL", "XLV"):
        stored = prices.loc[prices["symbol"] == symbol, ["close", "adj_close", "volume"]]
        pd.testing.assert_frame_equal(
            stored.astype(float).reset_index(drop=True), _served(gateway, symbol, END)
        )
    instruments = _table(database, "instruments", "symbol").set_index("symbol")
    assert instruments.loc["JPM", "sector"] == "Financials"
    assert instruments.loc["AMZN", "sector"] == "Consumer Discretionary"
    assert instruments.loc["SPY", "asset_type"] == "etf"
    assert _table(database, "benchmarks_sector_weights", "sector").empty
    cache = settings.home / "ib_bars"
    assert sorted(path.stem for path in cache.glob("*.json")) == sorted(symbols)

    gateway.history_requests.clear()
    gateway.history_today = NEXT
    ends["end"] = NEXT
    result = _run(settings, instance, dt.date(2024, 5, 28), NEXT)
    assert result.success, run_failure(result).message
    trades = [r for r in gateway.history_requests if r.what_to_show == "TRADES"]
    assert sorted(r.symbol for r in trades) == sorted(symbols)  # one each, for the new days
    assert {r.duration for r in trades} == {"6 D"}
    prices = _table(database, "prices", "symbol, date")
    aapl = prices.loc[prices["symbol"] == "AAPL", ["close", "adj_close", "volume"]]
    pd.testing.assert_frame_equal(
        aapl.astype(float).reset_index(drop=True), _served(gateway, "AAPL", NEXT)
    )


def test_a_disconnect_mid_run_fails_and_changes_nothing(ib_source, instance):
    settings, gateway, ends, database = ib_source
    assert _run(settings, instance, START, END).success
    prices = _table(database, "prices", "symbol, date")
    instruments = _table(database, "instruments", "symbol")
    cache = {path.name: path.read_bytes() for path in (settings.home / "ib_bars").iterdir()}

    gateway.history_today = NEXT
    ends["end"] = NEXT
    gateway.history_requests.clear()
    gateway.drop_on_history_request = 7  # the TRADES request of the 4th symbol
    result = _run(settings, instance, dt.date(2024, 5, 28), NEXT)
    assert not result.success
    failure = run_failure(result)
    symbols = [*HISTORY_STOCKS, *HISTORY_ETFS]
    assert f"{symbols[3]} (symbol 4 of {len(symbols)})" in failure.message
    assert "the connection was lost" in failure.message
    assert failure.exit_code == 3  # BrokerDisconnected: infrastructure, not bad input

    pd.testing.assert_frame_equal(_table(database, "prices", "symbol, date"), prices)
    pd.testing.assert_frame_equal(_table(database, "instruments", "symbol"), instruments)
    after = {path.name: path.read_bytes() for path in (settings.home / "ib_bars").iterdir()}
    assert after == cache
