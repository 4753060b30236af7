"""The market-data part of the daily pipeline on the simulated market, on SQLite and PostgreSQL."""

import datetime as dt

import dagster as dg
import exchange_calendars as xcals
import numpy as np
import pandas as pd
import pytest

from analytics_lib.simulation import simulate_market
from orchestration.cli.runs import execute_job, run_failure
from orchestration.definitions import build_definitions
from orchestration.defs.market_data import checks
from orchestration.resources import market_data as source_cache
from orchestration.resources.database import Database
from tests.support import make_settings

START = dt.date(2024, 1, 1)
END = dt.date(2024, 4, 30)
SYMBOLS = 40
# NYSE holidays in the range (New Year's Day, MLK Day, Presidents' Day, Good Friday)
HOLIDAYS = {dt.date(2024, 1, 1), dt.date(2024, 1, 15), dt.date(2024, 2, 19), dt.date(2024, 3, 29)}


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

    # the partitions are exactly the NYSE sessions: holidays are no partition and have no rows
    sessions = xcals.get_calendar("XNYS").sessions_in_range(START, END)
    assert set(market.truth.holidays) == HOLIDAYS
    stored_days = set(stored["date"].dt.date)
    assert stored_days == set(sessions.date)
    materialized = instance.get_materialized_partitions(dg.AssetKey("daily_prices"))
    assert materialized == {d.strftime("%Y-%m-%d") for d in sessions}
    assert not {d.isoformat() for d in HOLIDAYS} & materialized

    # every partition of the range run carries its own day's figures, not the run's totals
    per_day = {
        e.materialization.partition: e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("daily_prices")
    }
    assert set(per_day) == {d.strftime("%Y-%m-%d") for d in sessions}
    simulated = market.prices.groupby(market.prices["date"].dt.strftime("%Y-%m-%d"))
    rows, symbols = simulated.size(), simulated["symbol"].nunique()
    for key, metadata in per_day.items():
        assert metadata["dagster/partition_row_count"].value == rows[key] > 0
        assert "dagster/row_count" not in metadata
        assert metadata["symbols"].value == symbols[key]
        assert 0 < metadata["coverage"].value <= 1
        assert "market_holiday" not in metadata

    checks_ = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks_["prices_present_on_session"]
    assert checks_["prices_unique_keys"] and checks_["prices_positive_closes"]
    assert checks_["returns_finite"] and checks_["prices_cover_universe"]
    assert instance.get_materialized_partitions(dg.AssetKey("returns_panel")) == materialized

    # once written, the run's source prices are let go (the steps after daily_prices read the
    # prices table); the run keeps the other tables and the span of the source's prices
    (key, entry), *others = [
        (k, v) for k, v in source_cache._run_snapshots.items() if k[0] == result.run_id
    ]
    assert not others and entry.prices_released and entry.snapshot.prices.empty
    span = (market.prices["date"].min().date(), market.prices["date"].max().date())
    assert entry.released_span == span
    assert len(entry.snapshot.instruments) == len(market.instruments)
    source = defs.resources["market_data"]
    source._run_key = key  # a resource of that run
    assert source.price_dates() == span
    with pytest.raises(source_cache.PricesReleasedError, match="released after daily_prices"):
        source.prices(START, END)


def test_rerunning_a_partition_replaces_it(settings, instance):
    defs = build_definitions(settings)
    day = dt.date(2024, 3, 5)
    for _ in range(2):
        result = execute_job(defs, "daily_pipeline", instance, partition_key=day.isoformat())
        assert result.success, run_failure(result)
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

    stored = _prices(database)
    symbols = {d: set(stored.loc[stored["date"].dt.date == d, "symbol"]) for d in (before, day)}
    # a symbol priced on either loaded day is expected on `day` (delistings included)
    expected = len(symbols[before] | symbols[day])
    coverage = checks.prices_cover_universe(checks.universe_coverage(database, day, day), 0.0)
    assert coverage.metadata["lowest_coverage"].value == pytest.approx(len(symbols[day]) / expected)
    with database.engine.begin() as connection:
        connection.exec_driver_sql(
            "DELETE FROM prices WHERE symbol = 'SPY' AND date = '2024-03-05'"
        )
    coverage = checks.prices_cover_universe(checks.universe_coverage(database, day, day), 0.999)
    assert not coverage.passed
    # SPY traded the day before, so it is still expected on the day it is missing
    assert coverage.metadata["lowest_coverage"].value == pytest.approx(
        (len(symbols[day]) - 1) / expected
    )

    fresh = checks.prices_fresh(database, day + dt.timedelta(days=7), 3)
    assert not fresh.passed and fresh.metadata["stale_sessions"].value == 5
    assert checks.prices_fresh(database, day + dt.timedelta(days=1), 3).passed


def _write_csv(market, directory, *, without: dt.date) -> None:
    """The simulated market as a CSV directory whose prices lack the bars of ``without``."""
    directory.mkdir()
    prices = market.prices.loc[market.prices["date"] != pd.Timestamp(without)]
    for name, frame in (
        ("prices", prices),
        ("instruments", market.instruments),
        ("benchmark_sector_weights", market.benchmark_sector_weights),
        ("etf_holdings", market.etf_holdings),
        ("positions", market.positions),
    ):
        frame.to_csv(directory / f"{name}.csv", index=False, date_format="%Y-%m-%d")


def test_a_session_without_bars_fails_the_run_naming_the_date(tmp_path, database_url, instance):
    missing = dt.date(2024, 3, 6)  # a Wednesday session
    market = simulate_market(start=START, end=END, n_symbols=33, seed=7, n_etfs=0)
    _write_csv(market, tmp_path / "csv", without=missing)
    settings = make_settings(
        tmp_path / "home",
        database_url,
        PORTFOLIO_START_DATE=START.isoformat(),
        PORTFOLIO_MARKET_DATA="csv",
        PORTFOLIO_CSV_DIR=str(tmp_path / "csv"),
    )
    defs = build_definitions(settings)
    result = execute_job(
        defs, "daily_pipeline", instance, partition_range=(dt.date(2024, 3, 4), dt.date(2024, 3, 8))
    )
    assert not result.success
    [present] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "prices_present_on_session"
    ]
    assert not present.passed
    assert present.description == (
        "no prices on NYSE session(s) 2024-03-06: the source lacks those days' bars"
    )
    assert present.metadata["missing_sessions"].value == "2024-03-06"
    assert present.metadata["sessions_checked"].value == 5
    # the blocking check stops everything downstream of daily_prices in the run
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "daily_prices" in materialized and "returns_panel" not in materialized
    # a command line reports the check with the date, in one line
    failure = run_failure(result)
    assert failure.message == (
        "check prices_present_on_session failed: no prices on NYSE session(s) 2024-03-06: "
        "the source lacks those days' bars"
    )


def test_an_instance_with_weekday_partitions_keeps_working(settings, instance):
    """Before the NYSE calendar a holiday was a partition that materialized empty. Those old
    materializations stay in the event log; the holiday is no partition any more, and a run over
    a range that used to include it succeeds and says nothing about it."""
    holiday = dt.date(2024, 2, 19)  # Presidents' Day
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            "daily_prices",
            partition=holiday.isoformat(),
            metadata={"dagster/row_count": 0, "market_holiday": True},
        )
    )
    defs = build_definitions(settings)
    partitions = defs.resolve_assets_def("daily_prices").partitions_def
    assert holiday.isoformat() not in partitions.get_partition_keys_in_range(
        dg.PartitionKeyRange("2024-02-16", "2024-02-20")
    )
    result = execute_job(
        defs,
        "daily_pipeline",
        instance,
        partition_range=(dt.date(2024, 2, 16), dt.date(2024, 2, 20)),
    )
    assert result.success
    failed = {
        e.check_name
        for e in result.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey("daily_prices") and not e.passed
    }
    assert failed == {"prices_fresh"}  # the newest price is from 2024
    keys = {
        e.materialization.partition
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("daily_prices")
    }
    assert keys == {"2024-02-16", "2024-02-20"}
    for event in result.all_events:
        assert holiday.isoformat() not in str(event.message or ""), event.message


def test_freshness_and_coverage_count_sessions(settings, instance):
    defs = build_definitions(settings)
    first, friday = dt.date(2024, 2, 14), dt.date(2024, 2, 16)
    assert execute_job(defs, "daily_pipeline", instance, partition_range=(first, friday)).success
    database = Database(url=settings.database_url)
    # Friday → Wednesday over Presidents' Day: two sessions (20, 21 February), three weekdays
    fresh = checks.prices_fresh(database, dt.date(2024, 2, 21), 2)
    assert fresh.passed and fresh.metadata["stale_sessions"].value == 2
    # one row per session, none for the holiday; a session without prices has coverage 0
    coverage = checks.universe_coverage(database, first, dt.date(2024, 2, 21))
    assert [d.date() for d in coverage["date"]] == [
        dt.date(2024, 2, 14),
        dt.date(2024, 2, 15),
        dt.date(2024, 2, 16),
        dt.date(2024, 2, 20),
        dt.date(2024, 2, 21),
    ]
    assert coverage["coverage"].tolist()[-2:] == [0.0, 0.0]
    assert (coverage["coverage"].iloc[:3] > 0.9).all()
