"""The trade-approval sensor: approvals → one execution each (duplicate
ticks launch nothing new), breaks and the halt switch stop launches, a resume re-launches
groups whose execution failed on the halt."""

import dagster as dg
import pytest
from sqlalchemy import insert

from orchestration.cli.runs import execute_job, run_sensor_once
from orchestration.definitions import build_definitions
from orchestration.execution.approve import approve_basket_trade
from orchestration.execution.cancel import cancel_basket_trade
from orchestration.execution.halts import halt_trading, resume_trading
from orchestration.execution.preview import preview_basket_trade
from orchestration.execution.reconcile import reconcile_positions
from orchestration.execution.records import read_group
from orchestration.storage.models import PaperPosition
from tests.support import make_settings
from tests.trading_support import make_basket, paper_broker, seed_market, trading


@pytest.fixture
def instance(persistent_instance):
    """Sensors are evaluated as the daemon does, which needs an on-disk instance."""
    return persistent_instance


@pytest.fixture
def setup(tmp_path, database_url):
    database = seed_market(database_url)
    make_basket(database)
    defs = build_definitions(make_settings(tmp_path, database_url))
    return database, defs


def _preview(database, value=5_000.0):
    return preview_basket_trade(
        database, paper_broker(database.url), "tenleg", "buy", value, trading=trading()
    )


def _tick(defs, instance, name):
    with dg.build_sensor_context(
        instance=instance, definitions=defs, resources=defs.resources
    ) as context:
        return defs.resolve_sensor_def(name).evaluate_tick(context)


def test_one_execution_per_approval_and_duplicate_ticks_repeat_the_run_keys(setup, instance):
    database, defs = setup
    first, second, cancelled = _preview(database), _preview(database), _preview(database)
    approvals = [approve_basket_trade(database, g.id).approval_id for g in (first, second)]
    approve_basket_trade(database, cancelled.id)
    cancel_basket_trade(database, None, cancelled.id, trading=trading(), owner="test")
    tick = _tick(defs, instance, "trade_approval_sensor")
    keys = [request.run_key for request in tick.run_requests]
    assert keys == [
        f"execute-group-{first.id}-approval-{approvals[0]}",
        f"execute-group-{second.id}-approval-{approvals[1]}",
    ]
    request = tick.run_requests[0]
    assert request.run_config == {
        "ops": {"basket_trade_execution": {"config": {"group_id": first.id}}}
    }
    assert request.tags["portfolio/trade_group"] == str(first.id)
    repeated = _tick(defs, instance, "trade_approval_sensor")
    assert [r.run_key for r in repeated.run_requests] == keys, "Dagster launches a key once"


def test_sensor_runs_in_process_launch_one_run_per_run_key(setup, instance):
    database, defs = setup
    group = _preview(database)
    approve_basket_trade(database, group.id)
    launches = run_sensor_once(defs, instance, "trade_approval_sensor")
    assert [(launch.launched, launch.success) for launch in launches] == [(True, True)]
    assert read_group(database, group.id).status == "completed"
    again = run_sensor_once(defs, instance, "trade_approval_sensor")
    assert again == []  # the group is no longer approved
    runs = instance.get_runs(filters=dg.RunsFilter(job_name="execute_basket_trade"))
    assert len(runs) == 1
    assert runs[0].tags["dagster/run_key"] == launches[0].run_key
    assert runs[0].tags["portfolio/execution"] == "basket_trade"


def test_a_repeated_tick_for_a_still_approved_group_launches_nothing_new(setup, instance):
    database, defs = setup
    group = _preview(database)
    approve_basket_trade(database, group.id)
    key = _tick(defs, instance, "trade_approval_sensor").run_requests[0].run_key
    # a run for that key already exists (e.g. launched by the daemon, still queued)
    instance.create_run_for_job(
        defs.resolve_job_def("execute_basket_trade"),
        run_config={"ops": {"basket_trade_execution": {"config": {"group_id": group.id}}}},
        tags={"dagster/run_key": key, "dagster/sensor_name": "trade_approval_sensor"},
    )
    launches = run_sensor_once(defs, instance, "trade_approval_sensor")
    assert [launch.launched for launch in launches] == [False]
    assert read_group(database, group.id).status == "approved"


def test_no_launch_while_the_latest_reconciliation_has_breaks(setup, instance):
    database, defs = setup
    group = _preview(database)
    approve_basket_trade(database, group.id)
    with database.transaction() as connection:
        connection.execute(
            insert(PaperPosition.__table__).values(
                account="PAPER", symbol="S11", quantity=3.0, average_cost=97.0
            )
        )
    assert not reconcile_positions(database, paper_broker(database.url), source="test").passed
    tick = _tick(defs, instance, "trade_approval_sensor")
    assert tick.run_requests == []
    assert "do not reconcile" in tick.skip_message


def test_the_preview_job_refuses_approval_unless_auto_approval_is_on(
    tmp_path, sqlite_url, instance
):
    database = seed_market(sqlite_url)
    make_basket(database)
    defs = build_definitions(make_settings(tmp_path, sqlite_url))
    result = defs.resolve_job_def("preview_basket_trade").execute_in_process(
        run_config={
            "ops": {
                "basket_trade_preview": {
                    "config": {
                        "basket": "tenleg",
                        "action": "buy",
                        "value": 5000.0,
                        "approve": True,
                    }
                }
            }
        },
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "PORTFOLIO_AUTO_APPROVE=true and the paper broker" in str(
        failure.step_failure_data.user_failure_data.description
    )
    assert database.read_frame("SELECT COUNT(*) AS n FROM basket_trade_groups")["n"][0] == 0


def test_a_group_approved_while_halted_runs_after_the_resume(setup, instance):
    database, defs = setup
    halt_trading(database, "maintenance")
    group = _preview(database)
    approve_basket_trade(database, group.id)
    tick = _tick(defs, instance, "trade_approval_sensor")
    assert tick.run_requests == []
    assert "halted" in tick.skip_message and "portfolio trading resume" in tick.skip_message
    resume_trading(database)
    [launch] = run_sensor_once(defs, instance, "trade_approval_sensor")
    assert launch.success
    assert read_group(database, group.id).status == "completed"


def test_an_execution_that_failed_on_the_halt_runs_again_after_the_resume(setup, instance):
    database, defs = setup
    group = _preview(database)
    approve_basket_trade(database, group.id)
    [request] = _tick(defs, instance, "trade_approval_sensor").run_requests
    halt_trading(database, "halted between the tick and the run")
    failed = execute_job(
        defs,
        "execute_basket_trade",
        instance,
        run_config=request.run_config,
        tags={
            **request.tags,
            "dagster/run_key": request.run_key,
            "dagster/sensor_name": "trade_approval_sensor",
        },
    )
    assert not failed.success
    assert read_group(database, group.id).status == "approved"
    assert run_sensor_once(defs, instance, "trade_approval_sensor") == []  # still halted
    resume_trading(database)
    [launch] = run_sensor_once(defs, instance, "trade_approval_sensor")
    assert launch.run_key.startswith(f"{request.run_key}-resume-")
    assert launch.success
    assert read_group(database, group.id).status == "completed"
    assert run_sensor_once(defs, instance, "trade_approval_sensor") == []
