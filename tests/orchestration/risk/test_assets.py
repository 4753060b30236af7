"""The risk group on a tiny hand-made CSV market: concentration, sector tables (with and without
ETF look-through), unpriced holdings, and a blocking check that stops the snapshot."""

import json

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from orchestration.cli.runs import execute_job
from orchestration.definitions import build_definitions
from orchestration.defs.risk import assets as risk_assets
from orchestration.resources.database import Database
from tests.support import make_settings

# NYSE sessions: weekdays without MLK Day and Presidents' Day
DATES = pd.bdate_range("2024-01-02", periods=45, freq="C", holidays=["2024-01-15", "2024-02-19"])
AS_OF = DATES[-1].date()
START = DATES[0].date()
# last-day prices: round numbers, so the market values below are exact
LAST_PRICE = {"SPY": 400.0, "AAA": 100.0, "BBB": 50.0, "CCC": 25.0, "DDD": 20.0, "EEE": 10.0}
LAST_PRICE["XLK"] = 200.0
SECTORS = {
    "AAA": "Information Technology",
    "BBB": "Health Care",
    "CCC": "Financials",
    "DDD": "",  # no sector: Unclassified
    "EEE": "Energy",
}
# market values on AS_OF: AAA 400 x 100 = 40,000 (two accounts), BBB 400 x 50 = 20,000,
# CCC 400 x 25 = 10,000, DDD 500 x 20 = 10,000, XLK 100 x 200 = 20,000; total 100,000.
# ZZZ is held but never priced: left out of the book and reported.
POSITIONS = [
    ("DEMO", "AAA", 300),
    ("IRA", "AAA", 100),
    ("DEMO", "BBB", 400),
    ("DEMO", "CCC", 400),
    ("DEMO", "DDD", 500),
    ("DEMO", "XLK", 100),
    ("DEMO", "ZZZ", 10),
]
WEIGHTS = {"AAA": 0.4, "BBB": 0.2, "CCC": 0.1, "DDD": 0.1, "XLK": 0.2}
BENCHMARK = [  # in force at AS_OF: the 2024-02-01 snapshot (the later one is after AS_OF)
    ("2024-01-02", {"Information Technology": 0.30, "Health Care": 0.15, "Financials": 0.15}),
    ("2024-02-01", {"Information Technology": 0.32, "Health Care": 0.13, "Financials": 0.15}),
    ("2024-12-31", {"Information Technology": 0.50, "Health Care": 0.05, "Financials": 0.05}),
]
BENCHMARK_REST = {"Energy": 0.10, "Industrials": 0.30}


def _write_market(directory) -> None:
    rng = np.random.default_rng(20240102)
    market = 0.01 * rng.standard_normal(len(DATES))
    rows = []
    for number, (symbol, last) in enumerate(LAST_PRICE.items()):
        beta = 0.5 + 0.25 * number
        returns = market if symbol == "SPY" else beta * market + 0.01 * rng.standard_normal(45)
        path = np.cumprod(1.0 + returns)
        prices = path * (last / path[-1])
        rows += [
            f"{d.date()},{symbol},,,,{p:.10f},{p:.10f}," for d, p in zip(DATES, prices, strict=True)
        ]
    header = "date,symbol,open,high,low,close,adj_close,volume"
    (directory / "prices.csv").write_text("\n".join([header, *sorted(rows)]) + "\n")
    instruments = ["symbol,name,sector,industry,market_cap,asset_type,currency"]
    for symbol in [*LAST_PRICE, "ZZZ"]:
        kind = "etf" if symbol in ("SPY", "XLK") else "stock"
        instruments.append(f"{symbol},,{SECTORS.get(symbol, '')},,,{kind},USD")
    (directory / "instruments.csv").write_text("\n".join(instruments) + "\n")
    bench = ["benchmark,asof_date,sector,weight"]
    for day, weights in BENCHMARK:
        for sector, weight in {**weights, **BENCHMARK_REST}.items():
            bench.append(f"SP500,{day},{sector},{weight}")
    (directory / "benchmark_sector_weights.csv").write_text("\n".join(bench) + "\n")
    holdings = [
        "etf,asof_date,symbol,weight",
        "XLK,2024-01-02,AAA,0.6",
        "XLK,2024-01-02,EEE,0.3",
        "XLK,2024-06-03,AAA,0.9",
        "XLK,2024-06-03,EEE,0.1",
    ]
    (directory / "etf_holdings.csv").write_text("\n".join(holdings) + "\n")
    positions = ["account,symbol,quantity,cost_basis,currency"]
    positions += [f"{a},{s},{q},,USD" for a, s, q in POSITIONS]
    (directory / "positions.csv").write_text("\n".join(positions) + "\n")


SQLITE_ONLY = pytest.mark.parametrize("module_database_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def market(module_database_url, tmp_path_factory):
    """The tiny market written as CSV and its market data loaded (once per backend)."""
    root = tmp_path_factory.mktemp("tiny")
    (root / "market").mkdir()
    _write_market(root / "market")
    with dg.DagsterInstance.ephemeral() as instance:
        run = execute_job(
            build_definitions(_settings(root, module_database_url)),
            "market_data_backfill",
            instance,
            partition_range=(START, AS_OF),
        )
    assert run.success
    return root, module_database_url


def _settings(root, database_url, **env):
    return make_settings(
        root / "home",
        database_url,
        PORTFOLIO_MARKET_DATA="csv",
        PORTFOLIO_CSV_DIR=str(root / "market"),
        PORTFOLIO_START_DATE=START.isoformat(),
        **env,
    )


def _run_risk(settings, instance) -> dg.ExecuteInProcessResult:
    defs = build_definitions(settings)
    return execute_job(defs, "risk_backfill", instance, partition_key=AS_OF.isoformat())


def _snapshot(settings) -> pd.Series:
    database = Database(url=settings.database_url)
    frame = database.read_frame(
        "SELECT * FROM portfolio_snapshots WHERE calc_date = :d", {"d": AS_OF}
    )
    assert len(frame) == 1
    return frame.iloc[0]


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def test_hand_checked_concentration_and_sectors(market, instance):
    settings = _settings(*market)
    result = _run_risk(settings, instance)
    assert result.success
    row = _snapshot(settings)
    # HHI = 10,000 x (0.4² + 0.2² + 0.1² + 0.1² + 0.2²) = 10,000 x 0.26
    assert row["hhi"] == pytest.approx(2600.0, rel=1e-12)
    assert row["effective_positions"] == pytest.approx(1 / 0.26, rel=1e-12)
    assert row["positions"] == 5
    # top 3: AAA 0.4, then the 0.2 tie broken by symbol: BBB before XLK
    assert row["top3_weight"] == pytest.approx(0.8, rel=1e-12)
    assert _json(row["top3_symbols"]) == ["AAA", "BBB", "XLK"]
    assert row["top10_weight"] == pytest.approx(1.0, rel=1e-12)
    assert _json(row["unpriced_holdings"]) == ["ZZZ"]
    assert row["return_coverage"] == 1.0

    exposure = _json(row["sector_exposure"])
    assert exposure["benchmark_asof"] == "2024-02-01"
    table = pd.DataFrame(exposure["sectors"]).set_index("sector")
    expected_net = {
        "Information Technology": 0.4,
        "Health Care": 0.2,
        "Financials": 0.1,
        "Energy": 0.0,
        "Industrials": 0.0,
        "ETF": 0.2,
        "Unclassified": 0.1,
    }
    expected_active = {
        "Information Technology": 0.4 - 0.32,
        "Health Care": 0.2 - 0.13,
        "Financials": 0.1 - 0.15,
        "Energy": -0.10,
        "Industrials": -0.30,
        "Materials": 0.0,
    }
    for sector, weight in expected_net.items():
        assert table.loc[sector, "net_weight"] == pytest.approx(weight, abs=1e-12), sector
    for sector, active in expected_active.items():
        assert table.loc[sector, "active_weight"] == pytest.approx(active, abs=1e-12), sector
    assert table["net_weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert table.loc["ETF", "positions"] == 1 and table.loc["Unclassified", "positions"] == 1
    assert row["largest_overweight_sector"] == "Information Technology"
    assert row["largest_overweight"] == pytest.approx(0.08, abs=1e-12)
    # the JSON keeps full float precision: the same float as the column, not 10 decimals
    assert table.loc["Information Technology", "active_weight"] == row["largest_overweight"]
    assert table.loc["Industrials", "active_weight"] == row["largest_underweight"]
    assert row["largest_underweight_sector"] == "Industrials"
    assert row["largest_underweight"] == pytest.approx(-0.30, abs=1e-12)
    assert row["largest_active_weight"] == pytest.approx(0.30, abs=1e-12)
    assert row["unclassified_weight"] == pytest.approx(0.1, abs=1e-12)

    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["sector_weights_sum_to_one"].passed
    assert evaluations["effective_positions_at_most_positions"].passed
    # DDD has no sector: 10% of the book is unclassified, above the 5% warning line
    assert not evaluations["unclassified_share_within_limit"].passed
    assert evaluations["unclassified_share_within_limit"].severity == dg.AssetCheckSeverity.WARN

    # every symbol with a price has a beta row; 44 returns >= 30 pairs, so all are estimated
    database = Database(url=settings.database_url)
    betas = database.read_frame(
        "SELECT symbol, status FROM position_market_betas WHERE calc_date = :d", {"d": AS_OF}
    )
    assert sorted(betas["symbol"]) == sorted(LAST_PRICE)
    assert set(betas["status"]) == {"ok"}


@SQLITE_ONLY
def test_look_through_spreads_the_etf_over_its_holdings(market, instance):
    settings = _settings(*market, PORTFOLIO_ETF_LOOK_THROUGH="true")
    assert _run_risk(settings, instance).success
    row = _snapshot(settings)
    exposure = _json(row["sector_exposure"])
    assert exposure["look_through"]
    table = pd.DataFrame(exposure["sectors"]).set_index("sector")
    # XLK (0.2) holds AAA 0.6 and EEE 0.3 in the snapshot in force (2024-01-02); 0.1 is cash
    assert "ETF" not in table.index
    assert table.loc["Information Technology", "net_weight"] == pytest.approx(0.4 + 0.2 * 0.6)
    assert table.loc["Energy", "net_weight"] == pytest.approx(0.2 * 0.3)
    assert table.loc["Unclassified", "net_weight"] == pytest.approx(0.1 + 0.2 * 0.1)
    assert table.loc["Information Technology", "positions"] == 2  # AAA and XLK
    assert table["net_weight"].sum() == pytest.approx(1.0, abs=1e-12)


@SQLITE_ONLY
def test_a_failing_blocking_check_stops_the_snapshot(market, instance, monkeypatch):
    settings = _settings(*market)
    original = risk_assets.book_concentration

    def inflated(weights):
        result = original(weights)
        return {**result, "effective_n": result["positions"] + 1.0}

    monkeypatch.setattr(risk_assets, "book_concentration", inflated)
    result = _run_risk(settings, instance)
    assert not result.success
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations["effective_positions_at_most_positions"] is False
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "concentration" in materialized
    assert "portfolio_snapshot" not in materialized
    database = Database(url=settings.database_url)
    row = database.read_frame(
        "SELECT effective_positions, positions FROM portfolio_snapshots WHERE calc_date = :d",
        {"d": AS_OF},
    )
    # the asset is stored before its check runs (Dagster semantics); the check reports it
    assert row["effective_positions"].iloc[0] == row["positions"].iloc[0] + 1


@SQLITE_ONLY
def test_snapshot_alone_names_the_missing_assets(market, instance):
    settings = _settings(*market)
    defs = build_definitions(settings)
    database = Database(url=settings.database_url)
    with database.transaction() as connection:
        connection.exec_driver_sql("DELETE FROM portfolio_snapshots")
        connection.exec_driver_sql("DELETE FROM position_volatility")
    job = defs.resolve_job_def("risk_backfill")
    result = job.execute_in_process(
        instance=instance,
        partition_key=AS_OF.isoformat(),
        asset_selection=[dg.AssetKey("portfolio_positions"), dg.AssetKey("portfolio_snapshot")],
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.cause.message
    assert f"portfolio_snapshots is missing figures for {AS_OF}" in message
    assert "portfolio_beta" in message and "volatility_forecasts" in message


@SQLITE_ONLY
def test_a_market_holiday_materializes_empty(market, instance):
    settings = _settings(*market)
    defs = build_definitions(settings)
    holiday = (DATES[-1] + pd.offsets.BDay(1)).date()
    assert holiday > AS_OF
    run = execute_job(defs, "risk_backfill", instance, partition_range=(AS_OF, holiday))
    assert run.success
    database = Database(url=settings.database_url)
    days = database.read_frame("SELECT DISTINCT calc_date FROM position_market_betas")
    assert [str(d)[:10] for d in days["calc_date"]] == [AS_OF.isoformat()]
    events = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey("portfolio_snapshot"), asset_partitions=[holiday.isoformat()]
        ),
        limit=1,
    ).records
    assert "no prices" in events[0].asset_materialization.metadata["skipped"].value
