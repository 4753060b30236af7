"""Stale members and per-basket metadata on a five-session hand-made market: a member whose
last price is a session before the newest price date does not count as covered, is listed and
named by the warning ``symbols_fresh``; each basket's partition carries its own row count and
equity chart (a PNG that decodes), the run's figures sit on its last partition only."""

import base64
import datetime as dt
import io
import re

import dagster as dg
import numpy as np
import pytest
from matplotlib import image as mpimg

from orchestration import constants as c
from orchestration.cli.runs import execute_job
from orchestration.definitions import build_definitions
from orchestration.defs.baskets import store as basket_store
from orchestration.resources.database import Database
from tests.support import make_settings

START = dt.date(2024, 3, 4)
END = dt.date(2024, 3, 8)
DATES = ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"]
CLOSES = {
    "AAA": [100.0, 110.0, 99.0, 99.0, 108.9],
    "BBB": [50.0, 51.0, 50.0, 52.0, None],  # last price 2024-03-07: one session behind END
    "SPY": [400.0, 404.0, 400.0, 402.0, 410.0],
}


def _write_market(directory) -> None:
    directory.mkdir()
    rows = [
        f"{day},{symbol},,,,{close},{close},"
        for symbol in sorted(CLOSES)
        for day, close in zip(DATES, CLOSES[symbol], strict=True)
        if close is not None
    ]
    (directory / "prices.csv").write_text(
        "date,symbol,open,high,low,close,adj_close,volume\n" + "\n".join(rows) + "\n"
    )
    (directory / "instruments.csv").write_text(
        "symbol,name,sector,industry,market_cap,asset_type,currency\n"
        "AAA,,Information Technology,,,stock,USD\nBBB,,Health Care,,,stock,USD\n"
        "SPY,,,,,etf,USD\n"
    )
    (directory / "benchmark_sector_weights.csv").write_text("benchmark,asof_date,sector,weight\n")
    (directory / "etf_holdings.csv").write_text("etf,asof_date,symbol,weight\n")
    (directory / "positions.csv").write_text(
        "account,symbol,quantity,cost_basis,currency\nDEMO,AAA,10,1000,USD\n"
    )


@pytest.fixture
def market(tmp_path, sqlite_url, instance):
    _write_market(tmp_path / "market")
    settings = make_settings(
        tmp_path / "home",
        sqlite_url,
        PORTFOLIO_MARKET_DATA="csv",
        PORTFOLIO_CSV_DIR=str(tmp_path / "market"),
        PORTFOLIO_START_DATE=START.isoformat(),
    )
    defs = build_definitions(settings)
    assert execute_job(defs, "market_data_backfill", instance, partition_range=(START, END)).success
    return defs, Database(url=settings.database_url)


def _png(markdown: str) -> np.ndarray:
    found = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert found, markdown[:80]
    data = base64.b64decode(found.group(1))
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return mpimg.imread(io.BytesIO(data), format="png")


def test_a_stale_member_is_not_covered_and_is_named(market, instance):
    defs, database = market
    basket_store.create_basket(
        database, "tilted", ["AAA", "BBB"], weights=[0.75, 0.25], method="custom"
    )
    basket_store.create_basket(database, "solo", ["AAA"])
    instance.add_dynamic_partitions(c.BASKET_PARTITIONS, ["tilted", "solo"])
    result = execute_job(
        defs,
        "refresh_basket",
        instance,
        tags={c.RANGE_START_TAG: "tilted", c.RANGE_END_TAG: "solo"},
    )
    assert result.success  # coverage 0.75 is a WARN, which blocks nothing

    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    fresh = checks[c.SYMBOLS_FRESH]
    assert not fresh.passed and fresh.severity == dg.AssetCheckSeverity.WARN
    assert fresh.description == "stale members: BBB (tilted)"
    coverage = checks[c.BASKET_COVERAGE_SUFFICIENT]
    assert not coverage.passed and coverage.severity == dg.AssetCheckSeverity.WARN
    assert coverage.metadata["lowest_covered_weight"].value == 0.75

    events = {
        e.materialization.partition: e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("basket_returns")
    }
    tilted, solo = events["tilted"], events["solo"]
    # BBB still had returns in the window (its old ones stay in the series) but is stale
    assert tilted["data_coverage"].value == {
        "available": ["AAA", "BBB"],
        "stale": ["BBB"],
        "excluded": [],
        "covered_weight": 0.75,
    }
    assert tilted["covered_weight"].value == 0.75
    assert tilted["stale_tickers"].value == 1
    assert solo["covered_weight"].value == 1.0
    # four returns per basket: that partition's rows, not the run's eight
    assert tilted["dagster/partition_row_count"].value == 4
    assert solo["dagster/partition_row_count"].value == 4
    assert "dagster/row_count" not in tilted
    # the run's figures once, on its last partition
    assert "per_basket" not in tilted and "baskets" not in tilted
    assert solo["baskets"].value == 2 and solo["min_covered_weight"].value == 0.75
    analytics = {
        e.materialization.partition: e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("basket_analytics")
    }
    # each basket's own figures in a run of two; the run's table on the last partition only
    for name in ("tilted", "solo"):
        assert analytics[name]["dagster/partition_row_count"].value == 1
        assert "total_return" in analytics[name] and "dagster/row_count" not in analytics[name]
    solo_total = 108.9 / 100.0 - 1.0  # AAA alone, compounded by hand over the four returns
    assert analytics["solo"]["total_return"].value == pytest.approx(solo_total, abs=1e-12)
    assert "per_basket" not in analytics["tilted"] and "per_basket" in analytics["solo"]
    for meta in (tilted, solo):
        pixels = _png(meta["equity_chart"].value)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
        assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 10


def test_a_basket_of_fresh_members_passes(market, instance):
    defs, database = market
    basket_store.create_basket(database, "solo", ["AAA"])
    instance.add_dynamic_partitions(c.BASKET_PARTITIONS, ["solo"])
    result = execute_job(defs, "refresh_basket", instance, partition_key="solo")
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks[c.SYMBOLS_FRESH] and checks[c.BASKET_COVERAGE_SUFFICIENT]
