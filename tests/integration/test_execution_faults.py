"""Fault injection in basket-trade execution, with real processes where it matters.

- SIGKILL the executing process right after each leg's order reached the paper ledger, for
  every leg of a ten-leg basket in turn, restarting it each time: every leg is placed exactly
  once and the group ends completed. The executors are forked processes running the engine
  (no interpreter start-up per kill, so the chain of eleven processes stays fast).
- The same through the real command line (`python -m orchestration.cli trade execute ID`): a
  killed run leaves a STARTED run holding the broker pool's only slot; the next `trade execute`
  marks it failed, frees the slot, reconciles and finishes.
- Two executions of one group at once (two processes): one trades, the other reports.
- A dropped broker connection at every possible call: the legs are left in a state the next
  execution's reconciliation resolves, and nothing is placed twice.

Everything runs on SQLite (a file shared between processes) and PostgreSQL. Waits are bounded.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from orchestration.clock import naive_utc, utc_now
from orchestration.execution.approve import approve_basket_trade
from orchestration.execution.execute import execute_basket_trade
from orchestration.execution.preview import preview_basket_trade
from orchestration.execution.reconcile import latest_reconciliation
from orchestration.execution.records import GROUPS, read_group
from orchestration.resources.database import Database
from orchestration.resources.paper_broker import PaperBroker
from orchestration.settings import load_settings
from orchestration.storage.engine import dispose_engines
from orchestration.storage.models import BrokerFill, BrokerOrder, PaperOrder
from tests.trading_support import make_basket, paper_broker, seed_market, trading

ROOT = Path(__file__).resolve().parents[2]
PROJECT_INSTANCE = ROOT / "dagster.yaml"
WAIT_SECONDS = 90.0
LATENCY = 0.01

pytestmark = pytest.mark.slow


def _environment(tmp_path: Path, database_url: str, dagster_home: Path, **extra: str) -> dict:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PORTFOLIO_", "IB_", "DAGSTER"))
    }
    env.update(
        {
            "PORTFOLIO_HOME": str(tmp_path),
            "PORTFOLIO_DATABASE_URL": database_url,
            "DAGSTER_HOME": str(dagster_home),
            "PORTFOLIO_PAPER_CASH": "1000000",
            "PORTFOLIO_MAX_NET_LIQUIDATION_FRACTION": "1",
            "PORTFOLIO_EXECUTION_LEASE_SECONDS": "2",
            "PORTFOLIO_ORDER_TIMEOUT_SECONDS": "20",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    dagster_home.mkdir(parents=True, exist_ok=True)
    return env


def _approved_group(env: dict, legs: int = 10) -> int:
    """Seed the tiny market and preview + approve a buy of a basket with ``legs`` tickers."""
    settings = load_settings(env)
    database = seed_market(settings.database_url)
    make_basket(database, "faults", legs)
    broker = PaperBroker(settings.database_url, settings.paper, readonly=True)
    broker.connect()
    group = preview_basket_trade(
        database, broker, "faults", "buy", 1_000.0 * legs, trading=settings.trading
    )
    approve_basket_trade(database, group.id)
    return group.id


def _start(env: dict, log: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log.open("ab"),
        start_new_session=True,
    )


def _finish(process: subprocess.Popen, log: Path) -> dict:
    try:
        out, _ = process.communicate(timeout=WAIT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"executor did not finish in {WAIT_SECONDS} s; log: {log}")
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        tail = log.read_text()[-3000:]
        pytest.fail(f"exit {process.returncode}, no JSON on stdout: {out[-500:]!r}\n{tail}")


def _paper_refs(database) -> list[str]:
    table = PaperOrder.__table__
    with database.engine.connect() as connection:
        return list(connection.execute(select(table.c.order_ref).order_by(table.c.id)).scalars())


def _count(database, model) -> int:
    with database.engine.connect() as connection:
        return len(connection.execute(select(model.__table__.c.id)).all())


def _wait_for_lease_expiry(database, group_id: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with database.engine.connect() as connection:
            lease = connection.execute(
                select(GROUPS.c.lease_expires_at).where(GROUPS.c.id == group_id)
            ).scalar_one()
        if lease is None or naive_utc(lease) < naive_utc(utc_now()):
            return
        time.sleep(0.05)
    pytest.fail("the killed executor's lease never expired")


def _wait_for_orders(database, count: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if len(_paper_refs(database)) >= count:
            return
        if process.poll() is not None:
            pytest.fail(f"executor exited ({process.returncode}) before order {count}: {log}")
        time.sleep(0.02)
    process.kill()
    pytest.fail(f"order {count} never reached the paper ledger; log: {log}")


def _fork_executor(database_url: str, group_id: int, env: dict, report: Path) -> int:
    """Run the engine on ``group_id`` in a forked process; return its pid."""
    settings = load_settings(env)
    dispose_engines()  # the child must not share the parent's database connections
    pid = os.fork()
    if pid != 0:
        return pid
    code = 1
    try:
        broker = PaperBroker(database_url, settings.paper, poll_seconds=0.01)
        broker.connect()
        result = execute_basket_trade(
            Database(url=database_url),
            lambda: broker,
            group_id,
            trading=settings.trading,
            owner=f"pid-{os.getpid()}",
        )
        report.write_text(json.dumps(result.as_dict()))
        code = 0
    finally:
        os._exit(code)


def _wait_for_exit(pid: int) -> int:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"executor {pid} did not finish in {WAIT_SECONDS} s")


def _wait_for_orders_of(database, count: int, pid: int, report: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if len(_paper_refs(database)) >= count:
            return
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            said = report.read_text() if report.exists() else "no report"
            pytest.fail(f"executor exited ({status}) before order {count} was placed: {said}")
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    pytest.fail(f"order {count} never reached the paper ledger")


def test_sigkill_after_every_leg_then_restart_places_each_leg_once(tmp_path, database_url):
    env = _environment(
        tmp_path, database_url, tmp_path / "dagster", PORTFOLIO_PAPER_FILL_LATENCY_SECONDS="0.3"
    )
    group_id = _approved_group(env)
    database = Database(url=database_url)
    refs = [leg.order_ref for leg in read_group(database, group_id).legs]
    killed_states = []
    for k in range(1, 11):
        _wait_for_lease_expiry(database, group_id)
        report = tmp_path / f"report-{k}.json"
        pid = _fork_executor(database_url, group_id, env, report)
        _wait_for_orders_of(database, k, pid, report)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        assert _paper_refs(database) == refs[:k], f"after the kill at leg {k}"
        legs = read_group(database, group_id).legs
        assert [leg.status for leg in legs[: k - 1]] == ["filled"] * (k - 1)
        assert legs[k - 1].status in ("submitting", "submitted", "filled")
        assert {leg.status for leg in legs[k:]} <= {"pending"}
        killed_states.append(legs[k - 1].status)
    _wait_for_lease_expiry(database, group_id)
    report_file = tmp_path / "report-final.json"
    assert _wait_for_exit(_fork_executor(database_url, group_id, env, report_file)) == 0
    final = json.loads(report_file.read_text())
    assert (final["outcome"], final["status"], final["placed"]) == ("finished", "completed", 0)
    group = read_group(database, group_id)
    assert _paper_refs(database) == refs
    assert all(leg.status == "filled" and leg.filled_quantity == leg.quantity for leg in group.legs)
    assert group.execution_attempts == 11
    assert _count(database, BrokerOrder) == 10
    assert _count(database, BrokerFill) == 10
    with database.engine.connect() as connection:
        assert latest_reconciliation(connection).passed
    # the kills landed while the leg was in doubt (not only after it had been settled)
    assert {"submitting", "submitted"} & set(killed_states)


def test_sigkill_of_the_cli_executor_then_cli_restart(tmp_path, database_url):
    import dagster as dg

    dagster_home = tmp_path / "dagster"
    env = _environment(
        tmp_path, database_url, dagster_home, PORTFOLIO_PAPER_FILL_LATENCY_SECONDS="0.5"
    )
    (dagster_home / "dagster.yaml").write_text(PROJECT_INSTANCE.read_text())
    group_id = _approved_group(env, legs=4)
    database = Database(url=database_url)
    refs = [leg.order_ref for leg in read_group(database, group_id).legs]
    log = tmp_path / "executor.log"
    process = _start(env, log, "trade", "execute", str(group_id), "--json")
    _wait_for_orders(database, 2, process, log)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=WAIT_SECONDS)
    assert _paper_refs(database) == refs[:2]
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    [dead] = instance.get_runs(filters=dg.RunsFilter(job_name="execute_basket_trade"))
    assert dead.status == dg.DagsterRunStatus.STARTED
    holders = instance.event_log_storage.get_concurrency_info("broker").claimed_slots
    assert [slot.run_id for slot in holders] == [dead.run_id]
    _wait_for_lease_expiry(database, group_id)
    final = _finish(_start(env, log, "trade", "execute", str(group_id), "--json"), log)
    assert (final["outcome"], final["group"]["status"]) == ("finished", "completed")
    assert final["released_runs"] == [dead.run_id]
    assert _paper_refs(database) == refs
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.event_log_storage.get_concurrency_info("broker").claimed_slots == []


def test_sigkill_then_an_immediate_cli_rerun_waits_out_the_lease_and_finishes(
    tmp_path, database_url
):
    import dagster as dg

    dagster_home = tmp_path / "dagster"
    env = _environment(
        tmp_path, database_url, dagster_home, PORTFOLIO_PAPER_FILL_LATENCY_SECONDS="0.5"
    )
    (dagster_home / "dagster.yaml").write_text(PROJECT_INSTANCE.read_text())
    group_id = _approved_group(env, legs=4)
    database = Database(url=database_url)
    refs = [leg.order_ref for leg in read_group(database, group_id).legs]
    log = tmp_path / "executor.log"
    process = _start(env, log, "trade", "execute", str(group_id), "--json")
    _wait_for_orders(database, 2, process, log)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=WAIT_SECONDS)
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    [dead] = instance.get_runs(filters=dg.RunsFilter(job_name="execute_basket_trade"))
    # no waiting for the lease here: the re-run frees the dead process's pool slot at once,
    # waits (bounded) for its lease on the group, reconciles and finishes
    final = _finish(_start(env, log, "trade", "execute", str(group_id), "--json"), log)
    assert (final["outcome"], final["group"]["status"]) == ("finished", "completed")
    assert dead.run_id in final["released_runs"]
    assert _paper_refs(database) == refs, "every leg placed exactly once"
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE


def test_a_busy_pool_ends_in_one_line_naming_the_holder(tmp_path, database_url):
    dagster_home = tmp_path / "dagster"
    env = _environment(
        tmp_path,
        database_url,
        dagster_home,
        PORTFOLIO_PAPER_FILL_LATENCY_SECONDS="30",
        PORTFOLIO_EXECUTION_LEASE_SECONDS="60",
    )
    (dagster_home / "dagster.yaml").write_text(PROJECT_INSTANCE.read_text())
    group_id = _approved_group(env, legs=2)
    database = Database(url=database_url)
    log = tmp_path / "executor.log"
    first = _start(env, log, "trade", "execute", str(group_id), "--json")
    _wait_for_orders(database, 1, first, log)
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestration.cli",
            "trade",
            "execute",
            str(group_id),
            "--wait",
            "1",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )
    assert second.returncode == 3
    line = second.stderr.strip().splitlines()[-1]
    assert f"group {group_id} is leased by" in line and "retry after the lease expires" in line
    # SIGTERM stops the first one like Ctrl-C, leaving its leg in flight to reconciliation
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=WAIT_SECONDS)
    assert first.returncode != 0
    assert len(_paper_refs(database)) == 1, "nothing more was placed after the signal"


def test_two_executions_at_once_one_trades_the_other_reports(tmp_path, database_url):
    env = _environment(
        tmp_path, database_url, tmp_path / "dagster", PORTFOLIO_PAPER_FILL_LATENCY_SECONDS="0.1"
    )
    group_id = _approved_group(env)
    files = [tmp_path / "a.json", tmp_path / "b.json"]
    pids = [_fork_executor(database_url, group_id, env, path) for path in files]
    assert [_wait_for_exit(pid) for pid in pids] == [0, 0]
    reports = [json.loads(path.read_text()) for path in files]
    outcomes = sorted(report["outcome"] for report in reports)
    assert outcomes.count("finished") == 1, outcomes
    assert set(outcomes) <= {"finished", "already_executing", "already_finished"}
    assert sum(report["placed"] for report in reports) == 10
    database = Database(url=database_url)
    refs = _paper_refs(database)
    assert len(refs) == len(set(refs)) == 10
    assert read_group(database, group_id).status == "completed"


def _calls_of_a_clean_execution(database, legs: int) -> int:
    group = _preview_approved(database, legs)
    broker = paper_broker(database.url, fill_latency_seconds=LATENCY)
    report = execute_basket_trade(database, lambda: broker, group, trading=trading(), owner="count")
    assert report.status == "completed"
    return broker._calls


def _preview_approved(database, legs: int) -> int:
    group = preview_basket_trade(
        database,
        paper_broker(database.url),
        "drops",
        "buy",
        1_000.0 * legs,
        trading=trading(),
    )
    approve_basket_trade(database, group.id)
    return group.id


def test_a_disconnect_at_every_broker_call_is_resolved_by_reconciliation(database_url):
    database = seed_market(database_url)
    legs = 3
    make_basket(database, "drops", legs)
    calls = _calls_of_a_clean_execution(database, legs)
    # at least: place, wait_for_terminal and executions per leg, plus the start's
    # reconciliation (account summary, positions) and the limits' net liquidation
    assert calls >= 3 * legs + 3
    # the last two calls reconcile positions after the group is final: a drop there is only
    # logged, the group stays completed
    final_check = calls - 2
    for drop_after in range(calls):
        group_id = _preview_approved(database, legs)
        dropping = paper_broker(
            database_url, disconnect_after_calls=drop_after, fill_latency_seconds=LATENCY
        )
        first = execute_basket_trade(
            database, lambda b=dropping: b, group_id, trading=trading(), owner=f"drop-{drop_after}"
        )
        group = read_group(database, group_id)
        if drop_after >= final_check:
            assert (first.outcome, group.status) == ("finished", "completed"), drop_after
            continue
        assert first.outcome == "interrupted", f"dropped after {drop_after} calls"
        assert group.status == "executing"
        assert {leg.status for leg in group.legs} <= {
            "pending",
            "submitting",
            "submitted",
            "filled",
        }
        second = execute_basket_trade(
            database,
            lambda: paper_broker(database_url),
            group_id,
            trading=trading(),
            owner=f"resume-{drop_after}",
        )
        assert (second.outcome, second.status) == ("finished", "completed"), drop_after
        refs = [leg.order_ref for leg in read_group(database, group_id).legs]
        placed = [ref for ref in _paper_refs(database) if ref in refs]
        assert placed == refs, f"dropped after {drop_after} calls"
