"""A trade plan into execution: the sensor previews exactly the plan's trades as one group,
approval launches the execution through the sensor path, the paper book ends at the plan's
share counts, and a drifted book refuses the plan naming what changed."""

import dagster as dg
import pytest
from sqlalchemy import update

from orchestration.cli.runs import run_sensor_once
from orchestration.execution.approve import approve_basket_trade
from orchestration.execution.records import read_group
from orchestration.storage.models import PaperAccount
from tests.strategy_support import run_strategy, seed_simulated, strategy_definitions


@pytest.fixture
def planned(tmp_path, database_url, persistent_instance):
    database, _ = seed_simulated(database_url, with_positions=False)
    defs = strategy_definitions(tmp_path, database_url, PORTFOLIO_PAPER_CASH="1000000")
    result = run_strategy(defs, persistent_instance)
    assert result.success
    [event] = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "trade_plan"
    ]
    plan_id = event.materialization.metadata["trade_plan_id"].value
    return database, defs, plan_id


def _plan_trades(database, plan_id):
    return database.read_frame(
        "SELECT symbol, side, quantity FROM trade_plan_trades WHERE plan_id = :p ORDER BY seq",
        {"p": plan_id},
    )


def _preview_group(database, defs, persistent_instance, plan_id) -> int:
    [launch] = run_sensor_once(defs, persistent_instance, "trade_plan_sensor")
    assert launch.success, launch.error
    assert launch.job_name == "preview_trade_plan"
    groups = database.read_frame(
        "SELECT id, status, trade_plan_id FROM basket_trade_groups WHERE trade_plan_id = :p",
        {"p": plan_id},
    )
    assert list(groups["status"]) == ["preview"]
    return int(groups["id"].iloc[0])


def test_the_plan_becomes_one_preview_group_with_its_trades_as_legs(planned, persistent_instance):
    database, defs, plan_id = planned
    group_id = _preview_group(database, defs, persistent_instance, plan_id)
    group = read_group(database, group_id)
    legs = [(leg.symbol, leg.side.lower(), leg.quantity) for leg in group.legs]
    trades = _plan_trades(database, plan_id)
    assert legs == list(trades.itertuples(index=False, name=None))
    [again] = run_sensor_once(defs, persistent_instance, "trade_plan_sensor")
    assert again.result is None, "the run key already ran: nothing is launched twice"
    groups = database.read_frame("SELECT COUNT(*) AS n FROM basket_trade_groups")
    assert int(groups["n"].iloc[0]) == 1


def test_the_approved_plan_executes_through_the_sensor_path(planned, persistent_instance):
    database, defs, plan_id = planned
    group_id = _preview_group(database, defs, persistent_instance, plan_id)
    before = _paper_positions(database)
    approve_basket_trade(database, group_id, source="test")
    [execution] = run_sensor_once(defs, persistent_instance, "trade_approval_sensor")
    assert execution.success, execution.error
    assert read_group(database, group_id).status == "completed"
    expected = dict(before)
    for symbol, side, quantity in _plan_trades(database, plan_id).itertuples(index=False):
        expected[symbol] = expected.get(symbol, 0.0) + (quantity if side == "buy" else -quantity)
    after = _paper_positions(database)
    assert {s: q for s, q in after.items() if q} == {s: q for s, q in expected.items() if q}


def test_a_drifted_book_refuses_the_plan_and_names_the_change(planned, persistent_instance):
    database, defs, plan_id = planned
    group_id = _preview_group(database, defs, persistent_instance, plan_id)
    with database.transaction() as connection:
        connection.execute(update(PaperAccount.__table__).values(cash=PaperAccount.cash - 50_000))
    approve_basket_trade(database, group_id, source="test")
    [execution] = run_sensor_once(defs, persistent_instance, "trade_approval_sensor")
    assert not execution.success
    assert "drifted from the plan's snapshot" in execution.error
    assert "cash" in execution.error
    group = read_group(database, group_id)
    assert group.status == "failed"
    assert all(leg.status == "failed" for leg in group.legs)
    orders = database.read_frame("SELECT COUNT(*) AS n FROM paper_orders")
    assert int(orders["n"].iloc[0]) == 0, "nothing was placed"


def test_a_plan_without_trades_previews_nothing(tmp_path, sqlite_url, persistent_instance):
    persistent_instance.report_runless_asset_event(
        dg.AssetMaterialization("trade_plan", metadata={"trade_plan_id": 7, "trades": 0})
    )
    persistent_instance.report_runless_asset_event(
        dg.AssetMaterialization("trade_plan", metadata={"trades": 3})
    )
    defs = strategy_definitions(tmp_path, sqlite_url)
    assert run_sensor_once(defs, persistent_instance, "trade_plan_sensor") == []


def _paper_positions(database) -> dict[str, float]:
    frame = database.read_frame("SELECT symbol, quantity FROM paper_positions")
    return dict(zip(frame["symbol"], frame["quantity"].astype(float), strict=True))
