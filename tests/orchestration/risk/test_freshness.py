"""Stale inputs in the risk group, on a hand-made 45-session CSV market (2024-01-02 …
2024-03-06, MLK and Presidents' Day excluded), run over 2024-03-05 … 2024-03-06:

- the benchmark's only snapshot is dated 2024-03-06, so on 2024-03-05 no benchmark is in force:
  NULL active / over / underweight figures, metadata saying so, the warning
  ``benchmark_in_force`` naming the date;
- the holding CCC last traded on 2024-03-04: status ``stale`` in betas and vols (NULL
  figures), no beta in the book's weighted beta, the warning ``symbols_fresh`` naming it;
  with ``stale_sessions=2`` it counts again on 2024-03-06;
- realized vol divides by the returns present (17 of 21 is enough, 15 is not);
- betas use the unfiltered returns (every symbol here fails the 60-return quality filter);
- per-partition row counts, range figures on the last partition only, and charts (PNG that
  decodes) on the last as-of date.
"""

import base64
import io
import json
import math
import re

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from matplotlib import image as mpimg

from analytics_lib.returns import returns_panel
from orchestration import constants as c
from orchestration.cli.runs import execute_job
from orchestration.definitions import build_definitions
from orchestration.resources.database import Database
from tests.support import make_settings

DATES = pd.bdate_range("2024-01-02", periods=45, freq="C", holidays=["2024-01-15", "2024-02-19"])
AS_OF, PREV = DATES[-1].date(), DATES[-2].date()  # 2024-03-06, 2024-03-05
START = DATES[0].date()
# last prices: round numbers; CCC's last price is on 2024-03-04 (DATES[-3])
LAST_PRICE = {"SPY": 400.0, "AAA": 100.0, "BBB": 50.0, "CCC": 25.0, "DDD": 20.0, "EEE": 10.0}
LAST_DAY = {"CCC": -3}
# missing bars: DDD loses 4 of its last 21 returns (17 left), EEE 6 (15 left)
GAPS = {"DDD": (-6, -11), "EEE": (-4, -8, -12)}
SECTORS = {"AAA": "Information Technology", "BBB": "Health Care", "CCC": "Financials"}
# 100 x 100 = 200 x 50 = 400 x 25 = 10,000 each: weights 1/3
POSITIONS = [("DEMO", "AAA", 100), ("DEMO", "BBB", 200), ("DEMO", "CCC", 400)]
BENCHMARK = {"Information Technology": 0.30, "Health Care": 0.25, "Financials": 0.20}
BENCHMARK["Energy"] = 0.25

SQLITE_ONLY = pytest.mark.parametrize("module_database_url", ["sqlite"], indirect=True)


def _write_market(directory) -> None:
    rng = np.random.default_rng(20240306)
    market = 0.01 * rng.standard_normal(len(DATES))
    rows = []
    for number, (symbol, last) in enumerate(LAST_PRICE.items()):
        returns = (
            market
            if symbol == "SPY"
            else (0.5 + 0.3 * number) * market + 0.01 * rng.standard_normal(len(DATES))
        )
        end = len(DATES) + LAST_DAY.get(symbol, 0) + 1 if symbol in LAST_DAY else len(DATES)
        path = np.cumprod(1.0 + returns[:end])
        prices = path * (last / path[-1])
        skipped = {len(DATES) + k for k in GAPS.get(symbol, ())}
        rows += [
            f"{d.date()},{symbol},,,,{p:.10f},{p:.10f},"
            for i, (d, p) in enumerate(zip(DATES[:end], prices, strict=True))
            if i not in skipped
        ]
    (directory / "prices.csv").write_text(
        "date,symbol,open,high,low,close,adj_close,volume\n" + "\n".join(sorted(rows)) + "\n"
    )
    instruments = ["symbol,name,sector,industry,market_cap,asset_type,currency"]
    for symbol in LAST_PRICE:
        kind = "etf" if symbol == "SPY" else "stock"
        instruments.append(f"{symbol},,{SECTORS.get(symbol, '')},,,{kind},USD")
    (directory / "instruments.csv").write_text("\n".join(instruments) + "\n")
    bench = ["benchmark,asof_date,sector,weight"]
    bench += [f"SP500,{AS_OF},{sector},{weight}" for sector, weight in BENCHMARK.items()]
    (directory / "benchmark_sector_weights.csv").write_text("\n".join(bench) + "\n")
    (directory / "etf_holdings.csv").write_text("etf,asof_date,symbol,weight\n")
    positions = ["account,symbol,quantity,cost_basis,currency"]
    positions += [f"{a},{s},{q},,USD" for a, s, q in POSITIONS]
    (directory / "positions.csv").write_text("\n".join(positions) + "\n")


def _settings(root, database_url):
    return make_settings(
        root / "home",
        database_url,
        PORTFOLIO_MARKET_DATA="csv",
        PORTFOLIO_CSV_DIR=str(root / "market"),
        PORTFOLIO_START_DATE=START.isoformat(),
    )


@pytest.fixture(scope="module")
def loaded(module_database_url, tmp_path_factory):
    """The market loaded and the risk group run over PREV … AS_OF once."""
    root = tmp_path_factory.mktemp("stale")
    (root / "market").mkdir()
    _write_market(root / "market")
    settings = _settings(root, module_database_url)
    defs = build_definitions(settings)
    with dg.DagsterInstance.ephemeral() as instance:
        assert execute_job(
            defs, "market_data_backfill", instance, partition_range=(START, AS_OF)
        ).success
        run = execute_job(defs, "risk_backfill", instance, partition_range=(PREV, AS_OF))
    return root, settings, run


def _oracle_returns(root) -> pd.DataFrame:
    """Returns straight from the CSV (pandas, not the pipeline)."""
    prices = pd.read_csv(root / "market" / "prices.csv", parse_dates=["date"])
    panel = prices.pivot(index="date", columns="symbol", values="adj_close").sort_index()
    return panel.pct_change(fill_method=None).iloc[1:]


def _read(settings, table) -> pd.DataFrame:
    frame = Database(url=settings.database_url).read_frame(f"SELECT * FROM {table}")
    frame["calc_date"] = pd.to_datetime(frame["calc_date"]).dt.date
    return frame


def _events(run, asset) -> dict[str, dict[str, object]]:
    return {
        e.materialization.partition: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in run.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(asset)
    }


def _checks(run) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in run.get_asset_check_evaluations()}


def _png(markdown: str) -> np.ndarray:
    found = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert found, markdown[:80]
    data = base64.b64decode(found.group(1))
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pixels = mpimg.imread(io.BytesIO(data), format="png")
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 10
    return pixels


@SQLITE_ONLY
def test_no_benchmark_in_force_stores_nulls_says_so_and_warns(loaded):
    root, settings, run = loaded
    assert run.success
    snapshots = _read(settings, "portfolio_snapshots").set_index("calc_date")
    before = snapshots.loc[PREV]
    for column in (
        "benchmark",
        "benchmark_asof",
        "largest_overweight_sector",
        "largest_overweight",
        "largest_underweight_sector",
        "largest_underweight",
        "largest_active_weight",
    ):
        assert before[column] is None or pd.isna(before[column]), column
    exposure = before["sector_exposure"]
    exposure = json.loads(exposure) if isinstance(exposure, str) else exposure
    sectors = {row["sector"]: row for row in exposure["sectors"]}
    # the book's own weights stay: CCC's 400 x 25 over the book valued at PREV's prices
    prices = pd.read_csv(root / "market" / "prices.csv", parse_dates=["date"])
    on_prev = prices.loc[prices["date"] == pd.Timestamp(PREV)].set_index("symbol")["adj_close"]
    book = 100 * on_prev["AAA"] + 200 * on_prev["BBB"] + 400 * 25.0
    assert sectors["Financials"]["net_weight"] == pytest.approx(10_000 / book, rel=1e-9)
    assert all(
        row["active_weight"] is None and row["benchmark_weight"] is None for row in sectors.values()
    )
    # on AS_OF the snapshot is in force: hand-worked active weights (book 1/3 in IT, HC, Fin)
    after = snapshots.loc[AS_OF]
    assert after["benchmark"] == "SP500"
    assert after["largest_overweight_sector"] == "Financials"
    assert float(after["largest_overweight"]) == pytest.approx(1 / 3 - 0.20, abs=1e-12)
    assert after["largest_underweight_sector"] == "Energy"
    assert float(after["largest_underweight"]) == pytest.approx(-0.25, abs=1e-12)

    meta = _events(run, "sector_exposure")
    assert meta[PREV.isoformat()]["benchmark_in_force"].startswith(
        "none: no SP500 sector weights dated on or before 2024-03-05"
    )
    assert meta[AS_OF.isoformat()]["benchmark_in_force"] == "SP500 of 2024-03-06"
    assert math.isnan(meta[PREV.isoformat()]["largest_active_weight"])
    check = _checks(run)[c.BENCHMARK_IN_FORCE]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "2024-03-05" in check.description and "2024-03-06" not in check.description


@SQLITE_ONLY
def test_a_stale_holding_is_stale_in_betas_and_vols_and_named(loaded):
    root, settings, run = loaded
    betas = _read(settings, "position_market_betas").set_index(["calc_date", "symbol"])
    vols = _read(settings, "position_volatility").set_index(["calc_date", "symbol"])
    for day in (PREV, AS_OF):
        ccc = betas.loc[(day, "CCC")]
        assert ccc["status"] == "stale"
        assert all(pd.isna(ccc[name]) for name in ("beta", "beta_raw", "r_squared", "p_value"))
        assert betas.loc[(day, "AAA"), "status"] == "ok"
        assert vols.loc[(day, "CCC"), "har_status"] == "stale"
        assert pd.isna(vols.loc[(day, "CCC"), "realized_vol_21d"])
    # the book's weighted beta: CCC contributes nothing, AAA and BBB a third each (OLS oracle)
    returns = _oracle_returns(root).loc[: pd.Timestamp(AS_OF)]
    expected = 0.0
    for symbol in ("AAA", "BBB"):
        pairs = returns[[symbol, "SPY"]].dropna()
        expected += np.polyfit(pairs["SPY"], pairs[symbol], 1)[0] / 3
    snapshot = _read(settings, "portfolio_snapshots").set_index("calc_date").loc[AS_OF]
    assert float(snapshot["market_beta_weighted"]) == pytest.approx(expected, rel=1e-9)
    assert float(snapshot["market_beta_coverage"]) == pytest.approx(2 / 3, rel=1e-12)

    check = _checks(run)[c.SYMBOLS_FRESH]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.description.startswith("stale holdings: CCC (no price within 0 session(s)")
    assert _events(run, "portfolio_snapshot")[AS_OF.isoformat()]["stale_holdings"] == 1
    assert _events(run, "position_betas")[PREV.isoformat()]["stale_symbols"] == 1
    # staleness is not a data-sufficiency warning
    assert _checks(run)[c.BETAS_HAVE_SUFFICIENT_DATA].passed


@SQLITE_ONLY
def test_realized_vol_divides_by_the_returns_present(loaded):
    root, settings, _ = loaded
    window = _oracle_returns(root).loc[: pd.Timestamp(AS_OF)].iloc[-21:]
    present = window["DDD"].dropna()
    assert len(present) == 17 and window["EEE"].notna().sum() == 15
    vols = _read(settings, "position_volatility").set_index(["calc_date", "symbol"])
    expected = math.sqrt(252.0 / 17 * float((present**2).sum()))
    assert float(vols.loc[(AS_OF, "DDD"), "realized_vol_21d"]) == pytest.approx(expected, rel=1e-12)
    assert pd.isna(vols.loc[(AS_OF, "EEE"), "realized_vol_21d"])  # 15 < 80 % of 21


@SQLITE_ONLY
def test_betas_use_the_unfiltered_returns(loaded):
    root, settings, _ = loaded
    prices = pd.read_csv(root / "market" / "prices.csv", parse_dates=["date"])
    panel = prices.pivot(index="date", columns="symbol", values="adj_close").sort_index()
    filtered = returns_panel(panel)  # the quality filter of returns_panel (60 returns)
    assert "AAA" not in filtered.returns.columns
    betas = _read(settings, "position_market_betas").set_index(["calc_date", "symbol"])
    aaa = betas.loc[(AS_OF, "AAA")]
    assert aaa["status"] == "ok" and aaa["observations"] == 44


@SQLITE_ONLY
def test_partition_row_counts_range_figures_once_and_charts_on_the_last_date(loaded):
    _, _, run = loaded
    betas = _events(run, "position_betas")
    assert betas[PREV.isoformat()]["dagster/partition_row_count"] == 6
    assert betas[AS_OF.isoformat()]["dagster/partition_row_count"] == 6
    assert "as_of_dates" not in betas[PREV.isoformat()]
    assert betas[AS_OF.isoformat()]["as_of_dates"] == 2
    assert betas[AS_OF.isoformat()]["rows_in_run"] == 12
    for asset in ("portfolio_beta", "sector_exposure", "portfolio_snapshot", "concentration"):
        events = _events(run, asset)
        assert events[PREV.isoformat()]["dagster/partition_row_count"] == 1, asset
        assert "dagster/row_count" not in events[PREV.isoformat()], asset
        assert "dates_without_prices" not in events[PREV.isoformat()], asset
        assert events[AS_OF.isoformat()]["dates_without_prices"] == 0, asset
    vols = _events(run, "volatility_forecasts")
    assert vols[PREV.isoformat()]["dagster/partition_row_count"] == 7  # 6 symbols + portfolio
    sectors = _events(run, "sector_exposure")
    assert "sector_chart" not in sectors[PREV.isoformat()]
    _png(sectors[AS_OF.isoformat()]["sector_chart"])
    book = _events(run, "portfolio_beta")
    assert "beta_distribution" not in book[PREV.isoformat()]
    _png(book[AS_OF.isoformat()]["beta_distribution"])


@SQLITE_ONLY
def test_stale_sessions_lets_a_lagging_price_count(loaded):
    _, settings, _ = loaded
    defs = build_definitions(settings.with_overrides(stale_sessions=2))
    with dg.DagsterInstance.ephemeral() as instance:
        run = execute_job(defs, "risk_backfill", instance, partition_key=AS_OF.isoformat())
    assert run.success
    betas = _read(settings, "position_market_betas").set_index(["calc_date", "symbol"])
    # two sessions behind (2024-03-05, 2024-03-06) is within the allowed lag
    assert betas.loc[(AS_OF, "CCC"), "status"] == "ok"
    assert betas.loc[(AS_OF, "CCC"), "observations"] == 42
    assert _checks(run)[c.SYMBOLS_FRESH].passed
