"""`portfolio demo` end to end on a small simulated market: fresh state, a market data run, a
risk run over the last days, the latest day, a summary; runs recorded on the persistent
instance."""

import json

import dagster as dg
import pytest

from orchestration import constants
from orchestration.cli import main
from orchestration.defs.baskets import store as basket_store
from orchestration.resources.database import Database
from orchestration.settings import load_settings


@pytest.fixture
def demo_env(tmp_path, monkeypatch):
    for name in ("PORTFOLIO_MARKET_DATA", "PORTFOLIO_CSV_DIR", "PORTFOLIO_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTFOLIO_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("PORTFOLIO_START_DATE", "2024-01-01")
    monkeypatch.setenv("PORTFOLIO_DEMO_END_DATE", "2024-03-28")
    monkeypatch.setenv("PORTFOLIO_DEMO_SYMBOLS", "33")
    return tmp_path


def test_demo_from_fresh_state_twice(demo_env, capsys, monkeypatch):
    # a 10-day risk window keeps the test short; the demo's own is 63 trading days
    monkeypatch.setattr(constants, "DEMO_RISK_WINDOW", 10)
    for _ in range(2):
        assert main(["demo", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["success"] and len(report["runs"]) == 5
        assert report["summary"]["market data"] == "demo"
        assert "portfolio beta to SPY" in report["summary"]
        assert "no portfolio snapshot" not in str(report["summary"])
        trade = report["trade"]
        assert trade["status"] == "completed"
        assert trade["filled_legs"] == trade["legs"] > 0
        assert report["summary"]["broker reconciliation"] == "passed"
        assert report["summary"]["baskets"] >= 2
        # about 60 sessions of history: too short for the strategy's one-year universe rule
        assert "needs more than 252" in report["strategy"]["skipped"]
    settings = load_settings()
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    runs = instance.get_runs()
    # the second demo started from a fresh instance
    assert sorted(r.job_name for r in runs) == [
        "daily_pipeline",
        "execute_basket_trade",
        "execute_basket_trade",
        "market_data_backfill",
        "refresh_basket",
        "refresh_basket",
        "refresh_trading_performance",
        "risk_backfill",
    ]
    by_job = {r.job_name: r for r in runs}
    history = by_job["market_data_backfill"].tags
    assert history["dagster/asset_partition_range_start"] == "2024-01-01"
    assert history["dagster/asset_partition_range_end"] == "2024-03-27"
    # the risk group covers the last DEMO_RISK_WINDOW weekdays before the latest day
    window = by_job["risk_backfill"].tags
    assert window["dagster/asset_partition_range_start"] == "2024-03-14"
    assert window["dagster/asset_partition_range_end"] == "2024-03-27"
    assert by_job["daily_pipeline"].tags["dagster/partition"] == "2024-03-28"
    execution = by_job["execute_basket_trade"]
    assert execution.tags["dagster/sensor_name"] == "trade_approval_sensor"
    assert execution.tags["dagster/run_key"].startswith("execute-group-1-approval-1")
    database = Database(url=settings.database_url)
    latest = database.read_frame("SELECT MAX(date) AS d FROM prices")["d"].iloc[0]
    assert str(latest)[:10] == "2024-03-28"

    # one equal-weighted basket and one seeded from XLK's ten largest holdings, each refreshed
    # by a run the sensor requested (so the daemon will not request it again)
    baskets = {b.name: b for b in basket_store.list_baskets(database)}
    assert baskets.keys() == {"Demo largest five", "Demo tech top 10"}
    assert baskets["Demo largest five"].method == "equal"
    assert len(baskets["Demo largest five"].tickers) == 5
    xlk = database.read_frame(
        "SELECT symbol, weight FROM etf_holdings WHERE etf = 'XLK' AND asof_date = "
        "(SELECT MAX(asof_date) FROM etf_holdings WHERE etf = 'XLK') "
        "ORDER BY weight DESC, symbol LIMIT 10"
    )
    seeded = baskets["Demo tech top 10"]
    assert list(seeded.tickers) == xlk["symbol"].tolist()
    expected = xlk["weight"] / xlk["weight"].sum()
    assert seeded.weights == pytest.approx(expected.tolist(), abs=1e-15)
    basket_runs = [r for r in runs if r.job_name == "refresh_basket"]
    assert {r.tags["dagster/sensor_name"] for r in basket_runs} == {"basket_changes"}
    assert {r.tags["dagster/run_key"] for r in basket_runs} == {
        f"{b.name}@{b.version}" for b in baskets.values()
    }
    assert instance.get_dynamic_partitions("baskets") == sorted(baskets)
    analytics = database.read_frame("SELECT basket, end_date FROM basket_analytics")
    assert sorted(analytics["basket"]) == sorted(baskets)
    assert {str(d)[:10] for d in analytics["end_date"]} == {"2024-03-28"}
