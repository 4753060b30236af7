"""Each market data source declares the end of its data; freshness is judged against it and a
session after it is "no data yet" (nothing written), never a holiday. Issue 16, item 6."""

import datetime as dt
import hashlib
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from sqlalchemy import create_engine, inspect, text

from orchestration.cli import main
from orchestration.cli.runs import execute_job, run_failure
from orchestration.definitions import build_definitions
from orchestration.defs.market_data import checks
from orchestration.defs.market_data.validation import MarketDataError
from orchestration.resources.database import Database
from orchestration.resources.fmp import FmpMarketData
from orchestration.resources.market_data import CsvMarketData, DemoMarketData
from tests.orchestration.market_data.history import (
    FIRST,
    GOOD_FRIDAY,
    LAST,
    NEXT_SESSION,
    ROWS_PER_SESSION,
    SESSIONS,
    write_history,
)
from tests.support import make_settings


def _new_york_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("America/New_York")).date()


@pytest.fixture
def history(tmp_path):
    return write_history(tmp_path / "csv")


def _settings(tmp_path, database_url, history):
    return make_settings(
        tmp_path / "home",
        database_url,
        PORTFOLIO_START_DATE=FIRST.isoformat(),
        PORTFOLIO_MARKET_DATA="csv",
        PORTFOLIO_CSV_DIR=str(history),
    )


def _table_hashes(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: hashlib.sha256(
                    repr(
                        sorted(map(repr, connection.execute(text(f'SELECT * FROM "{table}"'))))
                    ).encode()
                ).hexdigest()
                for table in sorted(inspect(connection).get_table_names())
            }
    finally:
        engine.dispose()


# --- the declared end of each source -------------------------------------------------------


def test_a_csv_history_ends_on_its_last_price_date(history):
    assert CsvMarketData(directory=str(history)).data_end() == LAST


def test_a_csv_history_may_declare_a_later_end(history):
    source = CsvMarketData(directory=str(history), end_date="2024-04-02")
    assert source.data_end() == dt.date(2024, 4, 2)


@pytest.mark.parametrize(
    ("end_date", "message"),
    [
        ("2024-03-27", r"end_date 2024-03-27 is before the last date in prices.csv, 2024-03-28"),
        ("28/03/2024", r"end_date '28/03/2024' is not an ISO date"),
        ("2999-01-04", r"end_date 2999-01-04 is after today"),
    ],
)
def test_a_declared_csv_end_is_validated_naming_the_field(history, end_date, message):
    with pytest.raises(MarketDataError, match=message):
        CsvMarketData(directory=str(history), end_date=end_date).data_end()


def test_the_demo_market_ends_on_its_end_date_or_today():
    fixed = DemoMarketData(start_date="2024-01-02", end_date="2024-03-28", n_symbols=33)
    assert fixed.data_end() == LAST
    live = DemoMarketData(start_date="2024-01-02", n_symbols=33)
    assert live.data_end() == _new_york_today()


def test_fmp_ends_today_in_new_york():
    source = FmpMarketData(api_key="k", symbols=["AAA"], start_date="2024-01-02")
    assert source.data_end() == _new_york_today()


# --- freshness against the declared end ------------------------------------------------------


def test_a_csv_history_ending_in_the_past_is_not_stale(tmp_path, database_url, history, instance):
    defs = build_definitions(_settings(tmp_path, database_url, history))
    result = execute_job(defs, "market_data_backfill", instance, partition_range=(FIRST, LAST))
    assert result.success
    [fresh] = [e for e in result.get_asset_check_evaluations() if e.check_name == "prices_fresh"]
    assert fresh.passed
    assert fresh.metadata["stale_sessions"].value == 0
    assert fresh.metadata["source_data_end"].value == "2024-03-28"
    assert fresh.metadata["expected_date"].value == "2024-03-28"


def test_freshness_counts_sessions_up_to_the_declared_end(tmp_path, sqlite_url, history):
    database = Database(url=sqlite_url)
    defs = build_definitions(_settings(tmp_path, sqlite_url, history))
    with dg.DagsterInstance.ephemeral() as instance:
        assert execute_job(
            defs, "market_data_backfill", instance, partition_range=(FIRST, LAST)
        ).success
    # declared end Saturday 2024-04-06: its last session is Friday 2024-04-05; after the newest
    # price (Thursday 2024-03-28) come 1, 2, 3, 4 and 5 April (Good Friday is no session)
    stale = checks.prices_fresh(database, dt.date(2024, 4, 6), 3)
    assert not stale.passed
    assert stale.metadata["expected_date"].value == "2024-04-05"
    assert stale.metadata["stale_sessions"].value == 5
    assert checks.prices_fresh(database, dt.date(2024, 4, 6), 5).passed
    empty = checks.prices_fresh(database, None, 3)
    assert not empty.passed and empty.metadata["expected_date"].value == "none"


# --- a session after the end: no data yet, nothing written ----------------------------------


def test_non_sessions_are_no_partitions(tmp_path, sqlite_url, history):
    defs = build_definitions(_settings(tmp_path, sqlite_url, history))
    partitions = defs.resolve_assets_def("daily_prices").partitions_def
    keys = partitions.get_partition_keys_in_range(dg.PartitionKeyRange("2024-03-20", "2024-04-01"))
    assert list(keys) == [*SESSIONS, NEXT_SESSION.isoformat()]
    assert GOOD_FRIDAY.isoformat() not in keys


def test_a_run_for_the_session_after_the_end_is_no_data_yet(
    tmp_path, database_url, history, monkeypatch, capsys
):
    for name, value in {
        "PORTFOLIO_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "home" / "dagster"),
        "PORTFOLIO_DATABASE_URL": database_url,
        "PORTFOLIO_MARKET_DATA": "csv",
        "PORTFOLIO_CSV_DIR": str(history),
        "PORTFOLIO_START_DATE": FIRST.isoformat(),
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["backfill", FIRST.isoformat(), LAST.isoformat()]) == 0
    before = _table_hashes(database_url)
    capsys.readouterr()

    code = main(["run", "--date", NEXT_SESSION.isoformat()])

    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2
    assert lines[-1] == (
        "portfolio run: error: market_data_snapshot: no data yet for 2024-04-01 "
        "(the source's data ends on 2024-03-28)"
    )
    assert "holiday" not in err and "Traceback" not in err
    assert _table_hashes(database_url) == before
    with dg.DagsterInstance.from_config(str(tmp_path / "home" / "dagster")) as instance:
        stored = instance.get_materialized_partitions(dg.AssetKey("daily_prices"))
    assert stored == set(SESSIONS)


def test_a_range_reaching_past_the_end_writes_nothing(tmp_path, sqlite_url, history, instance):
    defs = build_definitions(_settings(tmp_path, sqlite_url, history))
    days = (dt.date(2024, 3, 27), dt.date(2024, 4, 2))
    result = execute_job(defs, "daily_pipeline", instance, partition_range=days)
    assert not result.success
    assert run_failure(result).message == (
        "market_data_snapshot: no data yet for the 2 sessions 2024-04-01 … 2024-04-02 "
        "(the source's data ends on 2024-03-28)"
    )
    assert run_failure(result).exit_code == 2
    assert result.get_asset_materialization_events() == []
    assert Database(url=sqlite_url).read_frame("SELECT COUNT(*) AS n FROM prices")["n"][0] == 0


def test_a_session_after_the_end_of_the_demo_market_is_no_data_yet(tmp_path, sqlite_url, instance):
    settings = make_settings(
        tmp_path,
        sqlite_url,
        PORTFOLIO_START_DATE="2024-02-01",
        PORTFOLIO_DEMO_SYMBOLS="33",
        PORTFOLIO_DEMO_END_DATE=LAST.isoformat(),
    )
    defs = build_definitions(settings)
    result = execute_job(defs, "daily_pipeline", instance, partition_key=NEXT_SESSION.isoformat())
    assert not result.success
    assert run_failure(result).message == (
        "market_data_snapshot: no data yet for 2024-04-01 (the source's data ends on 2024-03-28)"
    )


# --- per-partition row counts -----------------------------------------------------------------


def test_each_partition_records_its_own_row_count(tmp_path, sqlite_url, history, instance):
    defs = build_definitions(_settings(tmp_path, sqlite_url, history))
    result = execute_job(defs, "market_data_backfill", instance, partition_range=(FIRST, LAST))
    assert result.success
    events = {
        e.materialization.partition: e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("daily_prices")
    }
    assert {key: m["dagster/partition_row_count"].value for key, m in events.items()} == (
        ROWS_PER_SESSION
    )
    assert all("dagster/row_count" not in metadata for metadata in events.values())
    # the figures of the whole run are on its last partition only
    run_level = {key for key, metadata in events.items() if "run_rows" in metadata}
    assert run_level == {"2024-03-28"}
    assert events["2024-03-28"]["run_rows"].value == 20
    assert events["2024-03-28"]["run_partitions"].value == 7

    panel = {
        e.materialization.partition: e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("returns_panel")
    }
    assert {key for key, m in panel.items() if "dagster/partition_row_count" in m} == {"2024-03-28"}
    assert all("dagster/row_count" not in metadata for metadata in panel.values())


def test_a_replaced_database_is_found_from_old_and_new_row_counts(tmp_path, sqlite_url, history):
    """``market_data_snapshot`` reads the rows a ``daily_prices`` materialization recorded to
    tell a replaced app database from a new one: per partition now, run-wide before."""
    defs = build_definitions(_settings(tmp_path, sqlite_url, history))
    for key in ("dagster/partition_row_count", "dagster/row_count"):
        with dg.DagsterInstance.ephemeral() as instance:
            instance.report_runless_asset_event(
                dg.AssetMaterialization("daily_prices", partition="2024-03-20", metadata={key: 3})
            )
            result = execute_job(defs, "market_data_backfill", instance, partition_key="2024-03-20")
            message = run_failure(result).message
            assert not result.success
            assert "holds no prices, but the Dagster instance recorded" in message
