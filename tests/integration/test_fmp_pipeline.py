"""``PORTFOLIO_MARKET_DATA=fmp`` end to end through the CLI against an in-process FMP on
127.0.0.1: a backfill and the daily pipeline through 429s, 5xx and a timeout; a market-cap
basket weighted by the profiles' market caps; a run whose payload is malformed (truncated
JSON, a wrong-typed field) fails naming endpoint, symbol and field and writes nothing; the API
key appears in no error, log line, run event or metadata."""

from __future__ import annotations

import json

import dagster as dg
import pandas as pd
import pytest
from pytest_httpserver import HTTPServer

from orchestration.cli import main
from orchestration.resources.database import Database
from tests.fixtures.fmp import API_KEY, STOCKS, FakeFmp, rate_limited, server_error, slow, truncated

START = "2024-01-02"
BACKFILL_END = "2024-05-23"
LAST = "2024-05-24"
pytestmark = pytest.mark.slow


@pytest.fixture
def fmp_env(tmp_path, sqlite_url, monkeypatch):
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    fake = FakeFmp.default()
    fake.install(server)
    positions = tmp_path / "positions.csv"
    positions.write_text(
        "account,symbol,quantity,cost_basis,currency\n"
        "MAIN,AAPL,50,8000,USD\nMAIN,XOM,100,10000,USD\nMAIN,XLV,40,5000,USD\n"
    )
    home = tmp_path / "home"
    for name, value in {
        "PORTFOLIO_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "PORTFOLIO_DATABASE_URL": sqlite_url,
        "PORTFOLIO_MARKET_DATA": "fmp",
        "FMP_API_KEY": API_KEY,
        "PORTFOLIO_FMP_BASE_URL": server.url_for("/api/v3"),
        "PORTFOLIO_FMP_SYMBOLS": ",".join(STOCKS),
        "PORTFOLIO_FMP_POSITIONS_CSV": str(positions),
        "PORTFOLIO_FMP_CALLS_PER_MINUTE": "6000",
        "PORTFOLIO_FMP_TIMEOUT_SECONDS": "1",
        "PORTFOLIO_START_DATE": START,
    }.items():
        monkeypatch.setenv(name, value)
    yield fake, Database(url=sqlite_url), home
    server.stop()


def _prices(database: Database) -> pd.DataFrame:
    return database.read_frame("SELECT * FROM prices ORDER BY symbol, date")


def _instance_text(home) -> str:
    """Every run of the instance and every event of it, serialized (metadata, errors, logs)."""
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs = instance.get_runs()
        texts = [dg.serialize_value(run) for run in runs]
        texts += [
            dg.serialize_value(entry) for run in runs for entry in instance.all_logs(run.run_id)
        ]
    return "\n".join(texts)


def test_backfill_and_daily_run_through_faults(fmp_env, capsys, caplog):
    fake, database, home = fmp_env
    fake.fail("profile", rate_limited("1"))
    fake.fail("historical-price-full", server_error(500), symbol="AAPL")
    fake.fail("etf-holder", server_error(503), symbol="SPY")
    fake.fail("sp500_constituent", slow(fake, 2.0))  # past the client's 1 s timeout
    assert main(["backfill", START, BACKFILL_END]) == 0, capsys.readouterr().err
    assert main(["run", "--date", LAST]) == 0, capsys.readouterr().err

    prices = _prices(database)
    aapl = prices.loc[prices["symbol"] == "AAPL"]
    served = {bar["date"]: bar for bar in fake.bars["AAPL"]}
    assert len(aapl) == len(served)
    last = aapl.loc[aapl["date"].astype(str).str.startswith(LAST)].iloc[0]
    assert float(last["close"]) == served[LAST]["close"]
    assert float(last["adj_close"]) == served[LAST]["adjClose"]
    sectors = database.read_frame("SELECT symbol, sector, market_cap FROM instruments")
    sectors = sectors.set_index("symbol")
    assert sectors.loc["LIN", "sector"] == "Materials"
    assert float(sectors.loc["MSFT", "market_cap"]) == STOCKS["MSFT"][2]
    bench = database.read_frame("SELECT sector, weight FROM benchmarks_sector_weights")
    assert len(bench) == 11
    assert bench["weight"].astype(float).sum() == pytest.approx(1.0)
    positions = database.read_frame("SELECT symbol FROM portfolio_positions")
    assert set(positions["symbol"]) == {"AAPL", "XOM", "XLV"}

    create = ["basket", "create", "megacaps", "--tickers", "AAPL,MSFT", "--method", "market_cap"]
    assert main(create) == 0
    capsys.readouterr()
    assert main(["basket", "show", "megacaps", "--json"]) == 0
    weights = json.loads(capsys.readouterr().out)["resolved_weights"]
    cap_aapl, cap_msft = STOCKS["AAPL"][2], STOCKS["MSFT"][2]
    assert weights["AAPL"] == pytest.approx(cap_aapl / (cap_aapl + cap_msft))

    assert API_KEY not in _instance_text(home)
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug")]
    assert not any(API_KEY in line for line in ours)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            lambda fake: fake.fail("historical-price-full", truncated(fake), symbol="JPM"),
            "FMP historical-price-full (AAPL,MSFT,JNJ,JPM,AMZN): not valid JSON",
        ),
        (
            lambda fake: fake.bars["XOM"][0].update(close="118.20"),
            "FMP historical-price-full (XOM) row 1, field 'close': input should be a valid "
            "number (got '118.20')",
        ),
    ],
)
def test_a_malformed_payload_fails_the_run_and_writes_nothing(fmp_env, capsys, fault, message):
    fake, database, home = fmp_env
    assert main(["backfill", START, BACKFILL_END, "--market-data-only"]) == 0
    before = _prices(database)
    fault(fake)
    capsys.readouterr()
    assert main(["run", "--date", LAST]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert API_KEY not in err
    pd.testing.assert_frame_equal(_prices(database), before)
    assert API_KEY not in _instance_text(home)
