"""``portfolio_positions`` is an unpartitioned upstream of the risk partitions: its data version
is its holdings, so re-reading the same book keeps those partitions in sync (issue 16, item 10,
for the trading domain) and a changed book marks them unsynced."""

import dagster as dg
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest

from orchestration.cli.runs import execute_job
from orchestration.definitions import build_definitions
from tests.support import make_settings

DAY = "2024-03-28"


def _status(defs: dg.Definitions, instance: dg.DagsterInstance, key: str) -> StaleStatus:
    resolver = CachingStaleStatusResolver(
        instance, defs.resolve_asset_graph(), LoadingContextForTest(instance)
    )
    return resolver.get_status(dg.AssetKey(key), DAY)


def _versions(instance: dg.DagsterInstance) -> list[str]:
    records = instance.fetch_materializations(dg.AssetKey("portfolio_positions"), limit=10)
    return [r.asset_materialization.tags["dagster/data_version"] for r in records.records]


def test_the_same_book_keeps_risk_partitions_in_sync_and_a_new_book_does_not(
    tmp_path, sqlite_url, instance
):
    settings = make_settings(
        tmp_path / "home",
        sqlite_url,
        PORTFOLIO_START_DATE="2024-01-02",
        PORTFOLIO_DEMO_END_DATE=DAY,
        PORTFOLIO_DEMO_SYMBOLS="33",
    )
    defs = build_definitions(settings)
    assert execute_job(defs, "daily_pipeline", instance, partition_key=DAY).success
    assert _status(defs, instance, "concentration") == StaleStatus.FRESH

    assert execute_job(defs, "daily_pipeline", instance, assets=["portfolio_positions"]).success
    first, second = _versions(instance)[:2]
    assert first == second
    assert _status(defs, instance, "concentration") == StaleStatus.FRESH

    other = build_definitions(settings.with_overrides(demo_seed=settings.demo_seed + 1))
    assert execute_job(other, "daily_pipeline", instance, assets=["portfolio_positions"]).success
    assert len(set(_versions(instance))) == 2
    assert _status(defs, instance, "concentration") == StaleStatus.STALE
