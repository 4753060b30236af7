"""`portfolio trade …` and `portfolio trading …` end to end on a tiny market (JSON output)."""

import json

import dagster as dg
import pytest

from orchestration.cli import main
from tests.trading_support import make_basket, seed_market


def _cli_env(tmp_path, database_url, monkeypatch):
    for name in ("PORTFOLIO_MARKET_DATA", "PORTFOLIO_CSV_DIR", "PORTFOLIO_BROKER", "IB_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTFOLIO_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("PORTFOLIO_DATABASE_URL", database_url)
    database = seed_market(database_url)
    make_basket(database)
    return tmp_path


@pytest.fixture
def cli_env(tmp_path, database_url, monkeypatch):
    """The CLI on SQLite and PostgreSQL."""
    return _cli_env(tmp_path, database_url, monkeypatch)


@pytest.fixture
def sqlite_cli_env(tmp_path, sqlite_url, monkeypatch):
    """The CLI on SQLite (commands whose queries the engine tests cover on both databases)."""
    return _cli_env(tmp_path, sqlite_url, monkeypatch)


def _json(capsys, *argv: str, code: int = 0) -> dict:
    assert main([*argv, "--json"]) == code
    return json.loads(capsys.readouterr().out)


def test_preview_approve_execute_status_list(cli_env, capsys):
    group = _json(capsys, "trade", "preview", "tenleg", "--action", "buy", "--value", "5000")
    assert group["status"] == "preview"
    assert [leg["quantity"] for leg in group["legs"]][:2] == [18, 14]  # 500/27, 500/34
    gid = str(group["id"])
    approval = _json(capsys, "trade", "approve", gid)
    assert approval["status"] == "approved"
    dry = _json(capsys, "trade", "execute", gid, "--dry-run")
    assert dry["outcome"] == "dry_run"
    assert {leg["would"] for leg in dry["legs"]} == {"place"}
    done = _json(capsys, "trade", "execute", gid)
    assert (done["outcome"], done["group"]["status"]) == ("finished", "completed")
    again = _json(capsys, "trade", "execute", gid)
    assert again["outcome"] == "already_finished"
    status = _json(capsys, "trade", "status", gid)
    assert {leg["status"] for leg in status["legs"]} == {"filled"}
    listed = _json(capsys, "trade", "list")
    assert [row["id"] for row in listed] == [group["id"]]
    cancelled = _json(capsys, "trade", "cancel", gid)
    assert cancelled["outcome"] == "already_finished"
    instance = dg.DagsterInstance.from_config(str(cli_env / "dagster"))
    assert {r.job_name for r in instance.get_runs()} == {"execute_basket_trade"}


def test_halt_resume_and_trading_status(sqlite_cli_env, capsys):
    halted = _json(capsys, "trading", "halt", "--reason", "fat finger")
    assert halted == {"halted": True, "since": halted["since"], "reason": "fat finger"}
    group = _json(capsys, "trade", "preview", "tenleg", "--action", "buy", "--value", "5000")
    _json(capsys, "trade", "approve", str(group["id"]))
    refused = _json(capsys, "trade", "execute", str(group["id"]), code=1)
    assert refused["outcome"] == "refused"
    assert "fat finger" in refused["message"]
    assert _json(capsys, "trading", "resume")["halted"] is False
    state = _json(capsys, "trading", "status")
    assert state["halt"]["halted"] is False
    assert state["latest_reconciliation"] is None
    rebased = _json(capsys, "trading", "rebaseline", "--reason", "start")
    assert rebased["reconciliation"]["passed"] is True


def test_errors_print_one_line(sqlite_cli_env, capsys, monkeypatch):
    group = _json(capsys, "trade", "preview", "tenleg", "--action", "buy", "--value", "5000")
    assert main(["trade", "status", "999"]) == 2
    assert "trade group 999 does not exist" in capsys.readouterr().err
    main(["trade", "approve", str(group["id"])])
    capsys.readouterr()
    assert main(["trade", "approve", str(group["id"])]) == 2
    assert "is approved; only a group in preview can be approved" in capsys.readouterr().err
    assert main(["trade", "preview", "nope", "--action", "buy", "--value", "1"]) == 2
    assert "basket 'nope' does not exist" in capsys.readouterr().err
    monkeypatch.setenv("PORTFOLIO_BROKER", "ib")
    monkeypatch.setenv("IB_ACCOUNT", "DU1")
    monkeypatch.setattr(
        "orchestration.resources.broker_connection.IB_MODULE", "orchestration.resources.no_such"
    )
    assert main(["trade", "preview", "tenleg", "--action", "buy", "--value", "1000"]) == 3
    assert "broker error: PORTFOLIO_BROKER=ib but" in capsys.readouterr().err
