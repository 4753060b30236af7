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


def test_status_says_what_happens_to_a_group_approved_while_halted(sqlite_cli_env, capsys):
    group = _json(capsys, "trade", "preview", "tenleg", "--action", "buy", "--value", "5000")
    gid = str(group["id"])
    assert "portfolio trade approve" in _json(capsys, "trade", "status", gid)["next_step"]
    _json(capsys, "trading", "halt", "--reason", "maintenance")
    _json(capsys, "trade", "approve", gid)
    waiting = _json(capsys, "trade", "status", gid)["next_step"]
    assert "halted" in waiting and "portfolio trading resume" in waiting
    _json(capsys, "trading", "resume")
    assert "trade_approval_sensor" in _json(capsys, "trade", "status", gid)["next_step"]


def test_an_absurd_value_is_refused_in_one_line(sqlite_cli_env, capsys):
    assert main(["trade", "preview", "tenleg", "--action", "buy", "--value", "1e18"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "portfolio trade: error: --value 1,000,000,000,000,000,000.00 is over the limit "
        "max_group_notional 100,000.00 (PORTFOLIO_MAX_GROUP_NOTIONAL): a buy trades up to its "
        "value\n"
    )


def test_a_preview_whose_every_leg_is_refused_fails(sqlite_cli_env, capsys, monkeypatch):
    monkeypatch.setenv("PORTFOLIO_MAX_ORDER_NOTIONAL", "100")
    group = _json(
        capsys, "trade", "preview", "tenleg", "--action", "buy", "--value", "5000", code=1
    )
    assert group["status"] == "failed"
    assert {leg["status"] for leg in group["legs"]} == {"failed"}
    main(["trade", "preview", "tenleg", "--action", "buy", "--value", "5000"])
    err = capsys.readouterr().err
    assert err.startswith(
        f"portfolio trade: error: group {group['id'] + 1} failed: every leg was refused; "
        "leg 1 S01: refused at preview by limit max_order_notional"
    )
    assert err.count("\n") == 1


def test_unfilled_legs_print_a_blank_average_price(sqlite_cli_env, capsys):
    group = _json(capsys, "trade", "preview", "tenleg", "--action", "buy", "--value", "5000")
    gid = str(group["id"])
    assert {leg["average_fill_price"] for leg in group["legs"]} == {None}
    _json(capsys, "trade", "approve", gid)
    for argv in (
        ["trade", "status", gid],
        ["trade", "list"],
        ["trade", "execute", gid, "--dry-run"],
    ):
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "avg_price" in out or "would" in out or "approval_requested" in out
        assert "nan" not in out.lower()
        assert "NaT" not in out
    listed = _json(capsys, "trade", "list")
    assert listed[0]["approval_requested"] is None


def test_preview_help_says_how_trades_are_sized(sqlite_cli_env, capsys):
    with pytest.raises(SystemExit) as done:
        main(["trade", "preview", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "reduces the basket's CURRENT holdings proportionally to those holdings" in text
    assert (
        "Leftover cash uses the what-if estimated costs (slippage and commissions included)" in text
    )
    assert "VALUE minus the estimated net proceeds" in text
