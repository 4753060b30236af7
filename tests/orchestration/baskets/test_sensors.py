"""The ``basket_changes`` sensor over cursor states, on a real instance and a real baskets table
(SQLite and PostgreSQL): new, unchanged, updated, deleted, committed late, prices advanced."""

import datetime as dt
import json

import dagster as dg
import pandas as pd
import pytest
from sqlalchemy import update

from orchestration.cli.runs import apply_dynamic_partitions_requests
from orchestration.definitions import build_definitions
from orchestration.defs.baskets import store as basket_store
from orchestration.defs.baskets.sensors import BasketCursor
from orchestration.resources.database import Database
from orchestration.storage.bulk import insert_frame
from orchestration.storage.models import Basket, Instrument, Price
from tests.support import make_settings

NOW = pd.Timestamp("2024-03-01 12:00:00")


def _prices(day: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": ["AAA"],
            "date": [pd.Timestamp(day)],
            "close": [10.0],
            "source": "test",
            "ingested_at": NOW,
        }
    )


@pytest.fixture
def instance(persistent_instance):
    """Sensors are evaluated as the daemon does, which needs an on-disk instance."""
    return persistent_instance


@pytest.fixture
def setup(tmp_path, database_url):
    database = Database(url=database_url)
    instruments = pd.DataFrame(
        {
            "symbol": ["AAA", "BBB", "CCC"],
            "asset_type": "stock",
            "currency": "USD",
            "source": "test",
            "updated_at": NOW,
        }
    )
    with database.transaction() as connection:
        insert_frame(connection, Instrument.__table__, instruments)
        insert_frame(connection, Price.__table__, _prices("2024-03-01"))
    return build_definitions(make_settings(tmp_path, database_url)), database


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    sensor = defs.resolve_sensor_def("basket_changes")
    with dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        definitions=defs,
        resources=defs.resources,
        cursor=cursor,
    ) as context:
        result = sensor.evaluate_tick(context)
    apply_dynamic_partitions_requests(instance, result.dynamic_partitions_requests or [])
    return result


def _partition_requests(result) -> list[tuple[str, list[str]]]:
    return [
        (type(r).__name__, list(r.partition_keys)) for r in result.dynamic_partitions_requests or []
    ]


def _runs(result) -> list[tuple[str, str | None]]:
    return [(r.run_key, r.partition_key) for r in result.run_requests]


def test_cursor_states_new_unchanged_updated_deleted(setup, instance):
    defs, database = setup
    a = basket_store.create_basket(database, "alpha", ["AAA", "BBB"])
    b = basket_store.create_basket(database, "beta", ["BBB", "CCC"])

    new = _tick(defs, instance, None)
    assert _partition_requests(new) == [("AddDynamicPartitionsRequest", ["alpha", "beta"])]
    assert _runs(new) == [(f"alpha@{a.version}", "alpha"), (f"beta@{b.version}", "beta")]
    assert {r.job_name for r in new.run_requests} <= {None, "refresh_basket"}
    assert instance.get_dynamic_partitions("baskets") == ["alpha", "beta"]
    state = BasketCursor.parse(new.cursor)
    assert state.updated_at == max(a.updated_at, b.updated_at)
    assert state.prices_through == dt.date(2024, 3, 1)

    unchanged = _tick(defs, instance, new.cursor)
    assert _runs(unchanged) == [] and _partition_requests(unchanged) == []

    a2 = basket_store.update_basket(database, "alpha", tickers=["AAA", "CCC"])
    updated = _tick(defs, instance, unchanged.cursor)
    assert _runs(updated) == [(f"alpha@{a2.version}", "alpha")]
    assert a2.version != a.version
    assert _partition_requests(updated) == []
    assert _runs(_tick(defs, instance, updated.cursor)) == []

    basket_store.delete_basket(database, "beta")
    deleted = _tick(defs, instance, updated.cursor)
    assert _partition_requests(deleted) == [("DeleteDynamicPartitionsRequest", ["beta"])]
    assert _runs(deleted) == []
    assert instance.get_dynamic_partitions("baskets") == ["alpha"]


def _set_updated_at(database: Database, name: str, stamp: dt.datetime) -> None:
    table = Basket.__table__
    with database.transaction() as connection:
        connection.execute(
            update(table)
            .where(table.c.name == name)
            .values(updated_at=stamp.replace(tzinfo=dt.UTC))
        )


def test_a_late_commit_inside_the_overlap_is_picked_up_and_older_ones_are_not(setup, instance):
    defs, database = setup
    basket_store.create_basket(database, "alpha", ["AAA", "BBB"])
    first = _tick(defs, instance, None)
    cursor_time = BasketCursor.parse(first.cursor).updated_at
    # Two baskets whose partitions exist but which this sensor never saw: one stamped 10 s
    # before the cursor (its commit became visible late), one 10 minutes before.
    late = basket_store.create_basket(database, "late", ["AAA"])
    basket_store.create_basket(database, "old", ["BBB"])
    _set_updated_at(database, "late", cursor_time - dt.timedelta(seconds=10))
    _set_updated_at(database, "old", cursor_time - dt.timedelta(minutes=10))
    instance.add_dynamic_partitions("baskets", ["late", "old"])
    late_version = basket_store.get_basket(database, "late").version
    assert late_version != late.version

    result = _tick(defs, instance, first.cursor)
    assert _runs(result) == [(f"late@{late_version}", "late")]
    assert _runs(_tick(defs, instance, result.cursor)) == []


def test_new_prices_refresh_every_basket_in_one_range_run(setup, instance):
    defs, database = setup
    for name in ("alpha", "beta", "gamma"):
        basket_store.create_basket(database, name, ["AAA", "BBB"])
    first = _tick(defs, instance, None)
    with database.transaction() as connection:
        insert_frame(connection, Price.__table__, _prices("2024-03-04"))

    # partitions change in this tick: the price refresh waits for the next one
    basket_store.create_basket(database, "delta", ["CCC"])
    waiting = _tick(defs, instance, first.cursor)
    assert [partition for _, partition in _runs(waiting)] == ["delta"]
    assert BasketCursor.parse(waiting.cursor).prices_through == dt.date(2024, 3, 1)

    refresh = _tick(defs, instance, waiting.cursor)
    [request] = refresh.run_requests
    assert request.run_key == "all baskets@2024-03-04" and request.partition_key is None
    assert request.tags["dagster/asset_partition_range_start"] == "alpha"
    assert request.tags["dagster/asset_partition_range_end"] == "delta"
    assert BasketCursor.parse(refresh.cursor).prices_through == dt.date(2024, 3, 4)
    assert _runs(_tick(defs, instance, refresh.cursor)) == []


def test_first_prices_refresh_baskets_created_before_them(setup, instance):
    defs, database = setup
    with database.transaction() as connection:
        connection.exec_driver_sql("DELETE FROM prices")
    basket_store.create_basket(database, "early", ["AAA"])
    first = _tick(defs, instance, None)
    assert [partition for _, partition in _runs(first)] == ["early"]
    assert BasketCursor.parse(first.cursor).prices_through is None
    assert _runs(_tick(defs, instance, first.cursor)) == []
    with database.transaction() as connection:
        insert_frame(connection, Price.__table__, _prices("2024-03-04"))
    refresh = _tick(defs, instance, first.cursor)
    assert [r.run_key for r in refresh.run_requests] == ["all baskets@2024-03-04"]


def test_no_baskets_no_runs_and_a_foreign_cursor_is_refused(setup, instance):
    defs, _ = setup
    result = _tick(defs, instance, None)
    assert _runs(result) == [] and _partition_requests(result) == []
    assert json.loads(result.cursor)["prices_through"] == "2024-03-01"
    with pytest.raises(ValueError, match="basket_changes cursor is not a basket cursor"):
        BasketCursor.parse("42")
