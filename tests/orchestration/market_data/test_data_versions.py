"""Data versions of the unpartitioned market-data assets: re-materializing the same
instruments (and snapshot, benchmark, holdings) keeps every ``daily_prices`` partition in sync;
a real change marks them unsynced. Issue 16, item 10 (in process, with Dagster's stale-status
resolver, which the UI's "Unsynced" label shows)."""

import hashlib

import dagster as dg
import pandas as pd
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest

from orchestration.cli.runs import execute_job
from orchestration.definitions import build_definitions
from orchestration.defs.market_data.versions import frame_version
from tests.orchestration.market_data.history import FIRST, SESSIONS, write_history
from tests.support import make_settings

BACKFILLED = ("2024-03-25", "2024-03-26", "2024-03-27")
DAILY = "2024-03-28"
UNPARTITIONED = ("market_data_snapshot", "instruments", "benchmark_sector_weights", "etf_holdings")


def test_frame_version_hashes_the_sorted_rows():
    frame = pd.DataFrame({"x": [2.5, 1.0], "symbol": ["B", "A"]})
    expected = hashlib.sha256(b"symbol,x\nA,1.0\nB,2.5\n").hexdigest()
    assert frame_version(frame, ["symbol"]) == dg.DataVersion(expected)
    assert frame_version(frame.iloc[::-1], ["symbol"]) == dg.DataVersion(expected)
    changed = frame.assign(x=[2.5, 1.5])
    assert frame_version(changed, ["symbol"]) != dg.DataVersion(expected)


@pytest.fixture
def market(tmp_path, sqlite_url, instance):
    """The history backfilled over 2024-03-25 … 2024-03-27 in one run."""
    directory = write_history(tmp_path / "csv")
    settings = make_settings(
        tmp_path / "home",
        sqlite_url,
        PORTFOLIO_START_DATE=FIRST.isoformat(),
        PORTFOLIO_MARKET_DATA="csv",
        PORTFOLIO_CSV_DIR=str(directory),
    )
    defs = build_definitions(settings)
    days = (pd.Timestamp(BACKFILLED[0]).date(), pd.Timestamp(BACKFILLED[-1]).date())
    assert execute_job(defs, "market_data_backfill", instance, partition_range=days).success
    return defs, directory


def _statuses(defs: dg.Definitions, instance: dg.DagsterInstance, key: str) -> set[StaleStatus]:
    resolver = CachingStaleStatusResolver(
        instance, defs.resolve_asset_graph(), LoadingContextForTest(instance)
    )
    return {resolver.get_status(dg.AssetKey(key), day) for day in BACKFILLED}


def _versions(instance: dg.DagsterInstance) -> dict[str, str]:
    versions = {}
    for key in UNPARTITIONED:
        record = instance.get_latest_data_version_record(dg.AssetKey(key))
        assert record is not None and record.asset_materialization is not None
        versions[key] = record.asset_materialization.tags["dagster/data_version"]
    return versions


def _daily_run(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    """What the daily schedule does to the market data: the unpartitioned assets again and
    the day's partition."""
    assert execute_job(defs, "market_data_backfill", instance, partition_key=DAILY).success


def test_an_identical_daily_run_keeps_the_backfilled_partitions_in_sync(market, instance):
    defs, _ = market
    assert _statuses(defs, instance, "daily_prices") == {StaleStatus.FRESH}
    before = _versions(instance)

    _daily_run(defs, instance)

    assert _versions(instance) == before
    assert _statuses(defs, instance, "daily_prices") == {StaleStatus.FRESH}
    assert _statuses(defs, instance, "returns_panel") == {StaleStatus.FRESH}


def test_changed_instruments_mark_the_partitions_unsynced(market, instance):
    defs, directory = market
    before = _versions(instance)
    write_history(directory, aaa_name="Alpha Holdings Inc")

    _daily_run(defs, instance)

    after = _versions(instance)
    assert after["instruments"] != before["instruments"]
    assert {k: v for k, v in after.items() if k != "instruments"} == {
        k: v for k, v in before.items() if k != "instruments"
    }
    assert _statuses(defs, instance, "daily_prices") == {StaleStatus.STALE}
    resolver = CachingStaleStatusResolver(
        instance, defs.resolve_asset_graph(), LoadingContextForTest(instance)
    )
    causes = resolver.get_stale_root_causes(dg.AssetKey("daily_prices"), BACKFILLED[0])
    assert {cause.asset_key for cause in causes} == {dg.AssetKey("instruments")}
    # the day the run materialized again read the new instruments: it is in sync
    assert resolver.get_status(dg.AssetKey("daily_prices"), DAILY) == StaleStatus.FRESH
    assert DAILY in SESSIONS


def test_changed_benchmark_and_holdings_get_new_versions(market, instance):
    defs, directory = market
    before = _versions(instance)
    (directory / "etf_holdings.csv").write_text(
        "etf,asof_date,symbol,weight\nSPY,2024-03-20,AAA,0.55\nSPY,2024-03-20,BBB,0.45\n"
    )
    weights = (directory / "benchmark_sector_weights.csv").read_text()
    (directory / "benchmark_sector_weights.csv").write_text(
        weights.replace("2024-03-20", "2024-03-21")
    )

    _daily_run(defs, instance)

    after = _versions(instance)
    assert after["etf_holdings"] != before["etf_holdings"]
    assert after["benchmark_sector_weights"] != before["benchmark_sector_weights"]
    assert after["instruments"] == before["instruments"]
    assert after["market_data_snapshot"] == before["market_data_snapshot"]
    # prices depend on neither: they stay in sync
    assert _statuses(defs, instance, "daily_prices") == {StaleStatus.FRESH}
