"""The basket assets on a tiny hand-made CSV market, on SQLite and PostgreSQL: a three-stock
basket matches hand arithmetic to 1e-12, a missing ticker is excluded and the weights
renormalised, the coverage check warns and fails, the factor panel has its categories, and a
changed basket gets a new data version while the others keep theirs."""

import datetime as dt
import json
import math
import statistics

import dagster as dg
import pandas as pd
import pytest

from orchestration.cli.runs import execute_job, failure_summary, run_sensor_once
from orchestration.definitions import build_definitions
from orchestration.defs.baskets import store as basket_store
from orchestration.defs.baskets.assets import baskets as baskets_source
from orchestration.resources.database import Database
from tests.support import make_settings


@pytest.fixture
def instance(persistent_instance):
    """Sensors are evaluated as the daemon does, which needs an on-disk instance."""
    return persistent_instance


START = dt.date(2024, 3, 4)
END = dt.date(2024, 3, 8)
DATES = ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"]
CLOSES = {
    "AAA": [100.0, 110.0, 99.0, 99.0, 108.9],
    "BBB": [50.0, 51.0, 50.0, 52.0, 52.0],
    "CCC": [20.0, 19.0, 19.95, 20.349, 20.0],
    "EEE": [10.0, 10.5, None, 11.0, 11.55],  # no bar on 2024-03-06
    "SPY": [400.0, 404.0, 400.0, 402.0, 410.0],
}
PRICELESS = ("DDD", "FFF")  # instruments that never trade


def _returns(symbol: str) -> list[float]:
    p = CLOSES[symbol]
    return [p[1] / p[0] - 1, p[2] / p[1] - 1, p[3] / p[2] - 1, p[4] / p[3] - 1]


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
    instruments = [
        f"{s},{s} Inc.,Information Technology,,,stock,USD"
        for s in sorted([*CLOSES, *PRICELESS])
        if s != "SPY"
    ] + ["SPY,,,,,etf,USD"]
    (directory / "instruments.csv").write_text(
        "symbol,name,sector,industry,market_cap,asset_type,currency\n"
        + "\n".join(instruments)
        + "\n"
    )
    (directory / "benchmark_sector_weights.csv").write_text("benchmark,asof_date,sector,weight\n")
    (directory / "etf_holdings.csv").write_text("etf,asof_date,symbol,weight\n")
    (directory / "positions.csv").write_text(
        "account,symbol,quantity,cost_basis,currency\nDEMO,AAA,10,1000,USD\n"
    )


@pytest.fixture
def market(tmp_path, database_url, instance):
    """The CSV market loaded by the daily pipeline; returns (definitions, database)."""
    _write_market(tmp_path / "market")
    settings = make_settings(
        tmp_path / "home",
        database_url,
        PORTFOLIO_MARKET_DATA="csv",
        PORTFOLIO_CSV_DIR=str(tmp_path / "market"),
        PORTFOLIO_START_DATE=START.isoformat(),
    )
    defs = build_definitions(settings)
    assert execute_job(defs, "daily_pipeline", instance, partition_range=(START, END)).success
    return defs, Database(url=settings.database_url)


def _materializations(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str | None], dict]:
    return {
        (e.materialization.asset_key.to_user_string(), e.materialization.partition): {
            k: v.value for k, v in e.materialization.metadata.items()
        }
        for e in result.get_asset_materialization_events()
    }


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, dg.AssetCheckSeverity]]:
    return {e.check_name: (e.passed, e.severity) for e in result.get_asset_check_evaluations()}


def _stored_returns(database: Database, basket: str) -> pd.DataFrame:
    return database.read_frame(
        "SELECT date, daily_return, coverage FROM basket_returns WHERE basket = :b ORDER BY date",
        {"b": basket},
    )


def test_three_stock_basket_matches_hand_arithmetic(market, instance):
    defs, database = market
    basket_store.create_basket(
        database, "three", ["AAA", "BBB", "CCC"], method="custom", weights=[0.5, 0.3, 0.2]
    )
    instance.add_dynamic_partitions("baskets", ["three"])
    result = execute_job(
        defs,
        "refresh_basket",
        instance,
        partition_key="three",
        run_config={"ops": {"basket_analytics": {"config": {"risk_free_rate": 0.02}}}},
    )
    assert result.success
    ra, rb, rc = _returns("AAA"), _returns("BBB"), _returns("CCC")
    basket = [0.5 * ra[t] + 0.3 * rb[t] + 0.2 * rc[t] for t in range(4)]

    stored = _stored_returns(database, "three")
    assert [str(d)[:10] for d in stored["date"]] == DATES[1:]
    for got, want in zip(stored["daily_return"], basket, strict=True):
        assert abs(float(got) - want) <= 1e-12
    assert stored["coverage"].astype(float).tolist() == [1.0] * 4

    row = database.read_frame("SELECT * FROM basket_analytics WHERE basket = 'three'").iloc[0]
    total = (1 + basket[0]) * (1 + basket[1]) * (1 + basket[2]) * (1 + basket[3]) - 1
    assert abs(row["total_return"] - total) <= 1e-12
    assert abs(row["annualized_return"] - ((1 + total) ** (252 / 4) - 1)) <= 1e-9
    sd = statistics.stdev(basket)
    assert abs(row["annualized_volatility"] - sd * math.sqrt(252)) <= 1e-12
    sharpe = (statistics.fmean(basket) - 0.02 / 252) / sd * math.sqrt(252)
    assert abs(row["sharpe"] - sharpe) <= 1e-9
    # wealth 1.046, 0.998, 1.014, 1.061: the peak is day 1 and the trough day 2
    assert basket[0] > 0 > basket[1] and (1 + basket[1]) * (1 + basket[2]) < 1
    assert abs(row["max_drawdown"] - basket[1]) <= 1e-12
    components = {c["symbol"]: c for c in _json(row["components"])}
    for symbol, weight, r in (("AAA", 0.5, ra), ("BBB", 0.3, rb), ("CCC", 0.2, rc)):
        assert abs(components[symbol]["contribution"] - weight * sum(r)) <= 1e-12
        growth = (1 + r[0]) * (1 + r[1]) * (1 + r[2]) * (1 + r[3]) - 1
        assert abs(components[symbol]["total_return"] - growth) <= 1e-12
    contributions = sum(c["contribution"] for c in components.values())
    assert abs(contributions - sum(basket)) <= 1e-12
    assert abs(row["arithmetic_return"] - sum(basket)) <= 1e-12
    assert [
        (m["month"], round(m["return"] - total, 12)) for m in _json(row["monthly_returns"])
    ] == [("2024-03", 0.0)]
    # the portfolio holds only AAA, so its return series is AAA's
    assert abs(row["portfolio_correlation"] - statistics.correlation(basket, ra)) <= 1e-12
    beta = statistics.covariance(basket, ra) / statistics.variance(ra)
    assert abs(row["portfolio_beta"] - beta) <= 1e-12
    te = statistics.stdev([b - a for b, a in zip(basket, ra, strict=True)]) * math.sqrt(252)
    assert abs(row["tracking_error"] - te) <= 1e-12

    meta = _materializations(result)
    assert meta[("basket_returns", "three")]["covered_weight"] == 1.0
    assert meta[("basket_analytics", "three")]["max_drawdown"] == row["max_drawdown"]
    factors = meta[("factor_returns_panel", None)]
    assert factors["categories"] == {"market": ["SPY"], "sector": [], "user_baskets": ["three"]}
    assert "| SPY" in factors["correlation"]
    assert all(passed for passed, _ in _checks(result).values())


def _json(value):
    """A JSON column as Python objects (SQLite returns text to raw SQL, PostgreSQL objects)."""
    return json.loads(value) if isinstance(value, str) else value


def test_missing_ticker_is_excluded_and_weights_renormalised(market, instance):
    defs, database = market
    basket_store.create_basket(database, "gappy", ["AAA", "EEE", "DDD"])
    results = run_sensor_once(defs, instance, "basket_changes")
    assert [r.success for r in results] == [True]
    ra, re_ = _returns("AAA"), [10.5 / 10 - 1, None, None, 11.55 / 11 - 1]
    # DDD never trades: excluded, AAA and EEE share its weight; EEE has no return on the two
    # days around its missing bar, so AAA carries the basket then
    expected = [(ra[0] + re_[0]) / 2, ra[1], ra[2], (ra[3] + re_[3]) / 2]
    stored = _stored_returns(database, "gappy")
    for got, want in zip(stored["daily_return"], expected, strict=True):
        assert abs(float(got) - want) <= 1e-12
    assert stored["coverage"].astype(float).tolist() == pytest.approx(
        [2 / 3, 1 / 3, 1 / 3, 2 / 3], abs=1e-15
    )
    meta = _materializations(results[0].result)[("basket_returns", "gappy")]
    assert meta["data_coverage"] == {
        "available": ["AAA", "EEE"],
        "stale": [],
        "excluded": ["DDD"],
        "covered_weight": pytest.approx(2 / 3, abs=1e-15),
    }
    # 2/3 covered: the coverage check fails as a WARN, which does not block the analytics
    assert _checks(results[0].result)["basket_coverage_sufficient"] == (
        False,
        dg.AssetCheckSeverity.WARN,
    )
    analytics = database.read_frame("SELECT basket FROM basket_analytics")
    assert analytics["basket"].tolist() == ["gappy"]

    # the run read only the members' prices; that panel still has every price date, so EEE's
    # missing bar stays a missing day (two NaN returns) instead of one two-day return
    panels = defs.resources["panels"]
    eee = panels.prices(START, END, ["EEE", "DDD"])
    assert list(eee.columns) == ["EEE"]
    pd.testing.assert_frame_equal(eee, panels.prices(START, END)[["EEE"]])
    assert eee["EEE"].isna().tolist() == [False, False, True, False, False]
    with pytest.raises(ValueError, match="symbols is empty"):
        panels.prices(START, END, [])


def test_low_coverage_fails_and_blocks_the_analytics(market, instance):
    defs, database = market
    basket_store.create_basket(database, "sparse", ["AAA", "DDD", "FFF"])
    instance.add_dynamic_partitions("baskets", ["sparse"])
    result = execute_job(defs, "refresh_basket", instance, partition_key="sparse")
    assert not result.success
    assert _checks(result)["basket_coverage_sufficient"] == (False, dg.AssetCheckSeverity.ERROR)
    materialized = {key for key, _ in _materializations(result)}
    assert materialized == {"basket_returns"}  # analytics and factor panel were skipped
    assert database.read_frame("SELECT COUNT(*) AS n FROM basket_analytics")["n"].iloc[0] == 0


def test_changed_basket_gets_a_new_data_version_and_goes_stale(market, instance):
    defs, database = market
    for name, tickers in (("one", ["AAA", "BBB"]), ("two", ["BBB", "CCC"])):
        basket_store.create_basket(database, name, tickers)
    assert all(r.success for r in run_sensor_once(defs, instance, "basket_changes"))
    before = {name: _observed_version(instance, name) for name in ("one", "two")}
    assert before == basket_store.basket_versions(database)

    basket_store.update_basket(database, "one", tickers=["AAA", "CCC"])
    observe = dg.Definitions(
        assets=[baskets_source],
        jobs=[dg.define_asset_job("observe_baskets", selection=["baskets"])],
        resources=defs.resources,
    )
    assert observe.resolve_job_def("observe_baskets").execute_in_process(instance=instance).success
    after = {name: _observed_version(instance, name) for name in ("one", "two")}
    assert after["one"] != before["one"]
    assert after["one"] == basket_store.get_basket(database, "one").version
    assert after["two"] == before["two"]

    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._core.loader import LoadingContextForTest

    resolver = CachingStaleStatusResolver(
        instance, defs.resolve_asset_graph(), LoadingContextForTest(instance)
    )
    key = dg.AssetKey("basket_returns")
    assert resolver.get_status(key, "one") == StaleStatus.STALE
    assert resolver.get_status(key, "two") == StaleStatus.FRESH


def _observed_version(instance: dg.DagsterInstance, partition: str) -> str:
    record = instance.get_latest_data_version_record(
        dg.AssetKey("baskets"), partition_key=partition
    )
    assert record is not None and record.asset_observation is not None
    return record.asset_observation.tags["dagster/data_version"]


def test_analytics_refuse_a_series_of_an_older_basket_version(market, instance):
    defs, database = market
    basket_store.create_basket(database, "moving", ["AAA", "BBB"])
    assert all(r.success for r in run_sensor_once(defs, instance, "basket_changes"))
    basket_store.update_basket(database, "moving", tickers=["AAA", "CCC"])
    job = defs.resolve_job_def("refresh_basket")
    result = job.execute_in_process(
        instance=instance,
        partition_key="moving",
        asset_selection=[dg.AssetKey("basket_analytics")],
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "changed after their return series was computed" in str(
        failure.step_failure_data.error.cause or failure.step_failure_data.error
    )


def test_monthly_rebalance_is_buy_and_hold_and_bad_config_is_refused(market, instance):
    defs, database = market
    basket_store.create_basket(
        database, "three", ["AAA", "BBB", "CCC"], method="custom", weights=[0.5, 0.3, 0.2]
    )
    instance.add_dynamic_partitions("baskets", ["three"])

    def refresh(config: dict) -> dg.ExecuteInProcessResult:
        return execute_job(
            defs,
            "refresh_basket",
            instance,
            partition_key="three",
            run_config={"ops": {"basket_returns": {"config": config}}},
        )

    for config, message in (
        ({"window_days": 0}, "window_days must be at least 1"),
        ({"rebalance": "weekly"}, "rebalance must be one of daily, monthly, quarterly"),
    ):
        failed = refresh(config)
        assert not failed.success and message in failure_summary(failed)
    assert database.read_frame("SELECT COUNT(*) AS n FROM basket_returns")["n"].iloc[0] == 0

    assert refresh({"rebalance": "monthly", "window_days": None}).success
    stored = _stored_returns(database, "three")
    growth = 1.0
    for r in stored["daily_return"]:
        growth *= 1 + float(r)
    # one month: bought on 2024-03-04 and held to 2024-03-08
    held = 0.5 * (108.9 / 100) + 0.3 * (52 / 50) + 0.2 * (20 / 20)
    assert abs(growth - held) <= 1e-12
    row = database.read_frame("SELECT rebalance, total_return FROM basket_analytics").iloc[0]
    assert row["rebalance"] == "monthly"
    assert abs(row["total_return"] - (held - 1)) <= 1e-12
