"""`portfolio strategy run|plan|backtest` end to end on a simulated market (JSON output)."""

import json
import math

import pytest

from orchestration.cli import main
from tests.strategy_support import END, GENEROUS_LIMITS, START, seed_simulated


@pytest.fixture
def cli(tmp_path, sqlite_url, monkeypatch):
    for name in ("PORTFOLIO_MARKET_DATA", "PORTFOLIO_CSV_DIR", "PORTFOLIO_BROKER", "IB_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTFOLIO_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("PORTFOLIO_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("PORTFOLIO_START_DATE", START.isoformat())
    monkeypatch.setenv("PORTFOLIO_PAPER_CASH", "1000000")
    for name, value in GENEROUS_LIMITS.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "dagster").mkdir()
    return seed_simulated(sqlite_url, with_positions=False)[0]


def _json(capsys, *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_run_then_plan_with_deployed_cash(cli, capsys):
    run = _json(capsys, "strategy", "run", "--date", END.isoformat())
    weights = [row["weight"] for row in run["target"]]
    assert len(weights) == 30 and math.fsum(weights) == pytest.approx(1.0, abs=1e-8)
    plan = run["plan"]
    assert {t["side"] for t in plan["trades"]} == {"buy"}, "a cash-only book only buys"
    assert plan["cash_after"] >= 70_000.0 - 1e-6, "the cash reserve stays"
    assert len(run["preview"]["group_ids"]) == 1 and run["preview"]["status"] == ["preview"]
    deployed = _json(capsys, "strategy", "plan", "--deploy-cash", "50000")
    assert deployed["trade_plan_id"] == plan["trade_plan_id"] + 1
    assert deployed["deploy_cash"] == 50_000.0
    assert 0 < deployed["buys_total"] <= 50_000.0, "an empty book deploys at most the cash given"
    assert deployed["cash_after"] == pytest.approx(1_000_000.0 - deployed["buys_total"])


def test_backtest_with_other_parameters_stores_nothing(cli, capsys):
    result = _json(capsys, "strategy", "backtest", "--rebalance", "monthly", "--stop-loss", "none")
    assert result["stop_loss_events"] == []
    metrics = result["metrics"]
    assert metrics["stop_loss_events"] == 0
    assert metrics["rebalances_scheduled"] >= 12
    frame = cli.read_frame("SELECT COUNT(*) AS n FROM backtest_runs")
    assert int(frame["n"].iloc[0]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["strategy", "plan", "--deploy-cash", "-5"], "must be greater than 0"),
        (["strategy", "backtest", "--start", "2024-06-28", "--end", "2024-01-02"], "--start"),
        (["strategy", "plan"], "no target portfolio yet"),
    ],
)
def test_bad_input_fails_with_one_line(cli, capsys, argv, message):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse rejects the value itself
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1]
