"""`portfolio demo` end to end on a small simulated market: fresh state, one backfill run, the
latest day, a summary; runs recorded on the persistent instance."""

import json

import dagster as dg
import pytest

from orchestration.cli import main
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


def test_demo_from_fresh_state_twice(demo_env, capsys):
    for _ in range(2):
        assert main(["demo", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["success"] and len(report["runs"]) == 2
        assert report["summary"]["market data"] == "demo"
        trade = report["trade"]
        assert (trade["basket"], trade["status"]) == ("demo_basket", "completed")
        assert trade["filled_legs"] == trade["legs"] == 5
        assert report["summary"]["broker reconciliation"] == "passed"
    settings = load_settings()
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    runs = instance.get_runs()
    assert len(runs) == 3  # the second demo started from a fresh instance
    assert sorted(r.job_name for r in runs) == [
        "daily_pipeline",
        "daily_pipeline",
        "execute_basket_trade",
    ]
    [execution] = [r for r in runs if r.job_name == "execute_basket_trade"]
    assert execution.tags["dagster/sensor_name"] == "trade_approval_sensor"
    assert execution.tags["dagster/run_key"].startswith("execute-group-1-approval-1")
    tags = [r.tags for r in runs]
    assert any(t.get("dagster/asset_partition_range_end") == "2024-03-27" for t in tags)
    assert any(t.get("dagster/partition") == "2024-03-28" for t in tags)
    database = Database(url=settings.database_url)
    latest = database.read_frame("SELECT MAX(date) AS d FROM prices")["d"].iloc[0]
    assert str(latest)[:10] == "2024-03-28"
