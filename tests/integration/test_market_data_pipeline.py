"""The market-data part of the daily pipeline on the simulated market, on SQLite and PostgreSQL."""

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from analytics_lib.simulation import simulate_market
from orchestration.cli.runs import execute_job
from orchestration.definitions import build_definitions
from orchestration.defs.market_data import checks
from orchestration.resources.database import Database
from tests.support import make_settings

START = dt.date(2024, 1, 1)
END = dt.date(2024, 4, 30)
SYMBOLS = 40


@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(
        tmp_path,
        database_url,
        PORTFOLIO_START_DATE=START.isoformat(),
        PORTFOLIO_DEMO_SYMBOLS=str(SYMBOLS),
        PORTFOLIO_DEMO_END_DATE=END.isoformat(),
    )


def _prices(database: Database) -> pd.DataFrame:
    frame = database.read_frame("SELECT * FROM prices ORDER BY symbol, date")
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def test_single_run_backfill_ingests_the_simulated_market_exactly(settings, instance):
    defs = build_definitions(settings)
    result = execute_job(defs, "daily_pipeline", instance, partition_range=(START, END))
    assert result.success
    market = simulate_market(start=START, end=END, n_symbols=SYMBOLS, seed=settings.demo_seed)
    database = Database(url=settings.database_url)
    stored = _prices(database)
    expected = market.prices.sort_values(["symbol", "date"]).reset_index(drop=True)
    assert len(stored) == len(expected)
    for column in ("open", "high", "low", "close", "adj_close"):
        np.testing.assert_array_equal(stored[column].astype(float), expected[column])
    assert stored["volume"].astype("int64").tolist() == expected["volume"].tolist()
    assert set(stored["source"]) == {defs.resources["market_data"].label}

    # holidays are partitions that materialized empty, not errors
    holidays = [d for d in market.truth.holidays if START <= d <= END]
    assert holidays, "the range should contain a simulated holiday"
    stored_days = set(stored["date"].dt.date)
    assert not stored_days & set(holidays)
    materialized = instance.get_materialized_partitions(dg.AssetKey("daily_prices"))
    assert {d.isoformat() for d in holidays} <= materialized
    weekdays = pd.bdate_range(START, END)
    assert len(materialized) == len(weekdays)

    # every partition of the range run carries its own day's figures, not the run's totals
    per_day = {
        e.materialization.partition: e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("daily_prices")
    }
    assert set(per_day) == {d.strftime("%Y-%m-%d") for d in weekdays}
    simulated = market.prices.groupby(market.prices["date"].dt.strftime("%Y-%m-%d"))
    rows, symbols = simulated.size(), simulated["symbol"].nunique()
    for key, metadata in per_day.items():
        assert metadata["dagster/row_count"].value == rows.get(key, 0)
        assert metadata["symbols"].value == symbols.get(key, 0)
        assert metadata["market_holiday"].value == (dt.date.fromisoformat(key) in holidays)
        coverage = metadata["coverage"].value
        assert np.isnan(coverage) if key not in rows else 0 < coverage <= 1

    checks_ = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks_["prices_unique_keys"] and checks_["prices_positive_closes"]
    assert checks_["returns_finite"] and checks_["prices_cover_universe"]
    assert instance.get_materialized_partitions(dg.AssetKey("returns_panel")) == materialized


def test_rerunning_a_partition_replaces_it(settings, instance):
    defs = build_definitions(settings)
    day = dt.date(2024, 3, 5)
    for _ in range(2):
        assert execute_job(defs, "daily_pipeline", instance, partition_key=day.isoformat()).success
    database = Database(url=settings.database_url)
    stored = _prices(database)
    assert set(stored["date"].dt.date) == {day}
    market = simulate_market(start=START, end=END, n_symbols=SYMBOLS, seed=settings.demo_seed)
    on_day = market.prices.loc[market.prices["date"] == pd.Timestamp(day)]
    assert len(stored) == stored["symbol"].nunique() == len(on_day)


def test_price_checks_fail_on_bad_rows(settings, instance):
    defs = build_definitions(settings)
    before, day = dt.date(2024, 3, 4), dt.date(2024, 3, 5)
    result = execute_job(defs, "daily_pipeline", instance, partition_range=(before, day))
    assert result.success
    database = Database(url=settings.database_url)
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE prices SET close = 0 WHERE symbol = 'SPY' AND date = '2024-03-05'"
        )
    result = checks.prices_positive_closes(database, day, day)
    assert not result.passed
    assert result.metadata["non_positive_rows"].value == 1
    assert checks.prices_positive_closes(database, before, before).passed

    on_day = int(
        database.read_frame("SELECT COUNT(*) AS n FROM prices WHERE date = :d", {"d": day})[
            "n"
        ].iloc[0]
    )
    assert checks.prices_cover_universe(database, day, day, 0.999).passed
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "DELETE FROM prices WHERE symbol = 'SPY' AND date = '2024-03-05'"
        )
    coverage = checks.prices_cover_universe(database, day, day, 0.999)
    assert not coverage.passed
    # SPY traded the day before, so it is still expected on the day it is missing
    assert coverage.metadata["lowest_coverage"].value == pytest.approx((on_day - 1) / on_day)

    fresh = checks.prices_fresh(database, day + dt.timedelta(days=7), 3)
    assert not fresh.passed and fresh.metadata["stale_weekdays"].value == 5
    assert checks.prices_fresh(database, day + dt.timedelta(days=1), 3).passed
