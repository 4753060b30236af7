"""The risk group on the simulated demo market, on SQLite and PostgreSQL: stored betas against
statsmodels, planted betas recovered, the portfolio's vol from its own returns, a range run equal
to single-date runs, and `portfolio evaluate-volatility` showing HAR ahead of the naive forecast.

The market data (about ten months) is loaded once per backend through the market data job; the
risk group then runs over the last few as-of dates in one range run.
"""

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analytics_lib.simulation import simulate_market
from orchestration.cli import main
from orchestration.cli.runs import execute_job
from orchestration.definitions import build_definitions
from orchestration.resources.database import Database
from orchestration.settings import Settings
from tests.support import make_settings

START = dt.date(2023, 6, 1)
END = dt.date(2024, 3, 28)
SYMBOLS = 40
RANGE = (dt.date(2024, 3, 21), dt.date(2024, 3, 26))  # four trading days
SINGLE_DATES = (dt.date(2024, 3, 22), dt.date(2024, 3, 26))
HISTORY_DAYS = 756
BETA_STATS = ("beta_raw", "alpha", "r_squared", "std_error", "t_stat", "p_value")


@dataclass(frozen=True)
class Loaded:
    settings: Settings
    home: Path
    gap_symbol: str
    gap_dates: tuple[dt.date, ...]
    range_run: dg.ExecuteInProcessResult
    stored: dict[str, pd.DataFrame]


def _read(database: Database, table: str) -> pd.DataFrame:
    frame = database.read_frame(f"SELECT * FROM {table}")
    frame["calc_date"] = pd.to_datetime(frame["calc_date"])
    return frame.drop(columns=[c for c in frame.columns if c.endswith("_at")])


def _stored(database: Database) -> dict[str, pd.DataFrame]:
    return {
        name: _read(database, name)
        for name in ("position_market_betas", "position_volatility", "portfolio_snapshots")
    }


@pytest.fixture(scope="module")
def loaded(module_database_url, tmp_path_factory) -> Loaded:
    home = tmp_path_factory.mktemp("risk")
    settings = make_settings(
        home,
        module_database_url,
        PORTFOLIO_START_DATE=START.isoformat(),
        PORTFOLIO_DEMO_SYMBOLS=str(SYMBOLS),
        PORTFOLIO_DEMO_END_DATE=END.isoformat(),
    )
    defs = build_definitions(settings)
    database = Database(url=settings.database_url)
    with dg.DagsterInstance.ephemeral() as instance:
        market = execute_job(defs, "market_data_backfill", instance, partition_range=(START, END))
        assert market.success
        # plant gaps: a stock that is not held loses three prices inside its beta window
        held = set(database.read_frame("SELECT symbol FROM portfolio_positions")["symbol"])
        stocks = database.read_frame(
            "SELECT symbol FROM instruments WHERE asset_type = 'stock' ORDER BY symbol"
        )
        gap_symbol = next(s for s in stocks["symbol"] if s not in held)
        days = pd.bdate_range(end=RANGE[0], periods=60)
        gap_dates = (days[10].date(), days[25].date(), days[40].date())
        with database.transaction() as connection:
            for day in gap_dates:
                connection.exec_driver_sql(
                    f"DELETE FROM prices WHERE symbol = '{gap_symbol}' "
                    f"AND date = '{day.isoformat()}'"
                )
        range_run = execute_job(defs, "risk_backfill", instance, partition_range=RANGE)
    return Loaded(settings, home, gap_symbol, gap_dates, range_run, _stored(database))


def _returns(database: Database, as_of: dt.date) -> pd.DataFrame:
    """Oracle returns straight from the prices table (pandas, not the pipeline's code)."""
    prices = database.read_frame(
        "SELECT date, symbol, close, adj_close FROM prices WHERE date <= :d", {"d": as_of}
    )
    prices["date"] = pd.to_datetime(prices["date"])
    prices["price"] = prices["adj_close"].astype(float).fillna(prices["close"].astype(float))
    panel = prices.pivot(index="date", columns="symbol", values="price").sort_index()
    return panel.pct_change(fill_method=None).iloc[1:].iloc[-HISTORY_DAYS:]


def _on(frame: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    return frame.loc[frame["calc_date"] == pd.Timestamp(day)]


def test_range_run_passes_every_check_and_covers_every_symbol(loaded):
    run = loaded.range_run
    assert run.success
    evaluations = {e.check_name: e for e in run.get_asset_check_evaluations()}
    blocking = [e for e in evaluations.values() if e.severity == dg.AssetCheckSeverity.ERROR]
    assert len(blocking) == 8 and all(e.passed for e in blocking)
    database = Database(url=loaded.settings.database_url)
    priced = set(database.read_frame("SELECT DISTINCT symbol FROM prices")["symbol"])
    betas = loaded.stored["position_market_betas"]
    dates = sorted(set(betas["calc_date"].dt.date))
    assert dates == [d.date() for d in pd.bdate_range(*RANGE)]
    for day in dates:
        assert set(_on(betas, day)["symbol"]) == priced
    vols = loaded.stored["position_volatility"]
    assert set(_on(vols, dates[-1])["symbol"]) == priced | {"portfolio"}
    snapshots = database.read_frame("SELECT calc_date, completed_at FROM portfolio_snapshots")
    assert len(snapshots) == len(dates) and snapshots["completed_at"].notna().all()
    # the market's t-stat against itself is infinite: stored as NULL, never ±inf
    spy = betas.loc[betas["symbol"] == "SPY"]
    assert spy["t_stat"].isna().all() and (spy["r_squared"] == 1.0).all()
    # every partition carries its own figures (what the UI plots over time)
    stored = loaded.stored["portfolio_snapshots"].set_index("calc_date")
    events = [
        e.materialization
        for e in run.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("portfolio_snapshot")
    ]
    assert sorted(e.partition for e in events) == [d.isoformat() for d in dates]
    for event in events:
        row = stored.loc[pd.Timestamp(event.partition)]
        for name, column in (
            ("realized_vol_21d", "realized_volatility_21d"),
            ("hhi", "hhi"),
            ("portfolio_beta", "market_beta_weighted"),
        ):
            assert event.metadata[name].value == pytest.approx(float(row[column]), rel=1e-12)


def test_stored_betas_equal_statsmodels_including_a_symbol_with_gaps(loaded):
    database = Database(url=loaded.settings.database_url)
    as_of = RANGE[1]
    returns = _returns(database, as_of)
    stored = _on(loaded.stored["position_market_betas"], as_of).set_index("symbol")
    checked = [loaded.gap_symbol, "TEC001", "UTL001", "XLF"]
    for symbol in checked:
        pairs = returns[[symbol, "SPY"]].dropna().iloc[-90:]
        fit = sm.OLS(pairs[symbol].to_numpy(), sm.add_constant(pairs["SPY"].to_numpy())).fit()
        expected = {
            "beta_raw": fit.params[1],
            "alpha": fit.params[0],
            "r_squared": fit.rsquared,
            "std_error": fit.bse[1],
            "t_stat": fit.tvalues[1],
            "p_value": fit.pvalues[1],
        }
        row = stored.loc[symbol]
        assert row["status"] == "ok" and row["observations"] == len(pairs) == 90
        for name in BETA_STATS:
            assert float(row[name]) == pytest.approx(expected[name], rel=1e-9, abs=1e-13), name
    # the gaps were skipped: the 90 pairs of the gap symbol span more than 90 trading days
    gap_pairs = returns[[loaded.gap_symbol, "SPY"]].dropna().iloc[-90:]
    assert returns.loc[gap_pairs.index[0] :].shape[0] > 90
    assert all(pd.Timestamp(d) not in gap_pairs.index for d in loaded.gap_dates)


def test_planted_betas_are_recovered_within_sampling_error(loaded):
    truth = simulate_market(
        start=START, end=END, n_symbols=SYMBOLS, seed=loaded.settings.demo_seed
    ).truth.betas
    stored = _on(loaded.stored["position_market_betas"], RANGE[1]).set_index("symbol")
    ok = stored.loc[(stored["status"] == "ok") & (stored.index != "SPY")]
    error = (ok["beta"].astype(float) - truth.reindex(ok.index)).abs()
    mae = float(error.mean())
    # with normal sampling errors E|b - beta| = sqrt(2/pi) * se; allow twice that on average
    # for GARCH tails and the sector factors that correlate the errors of one sector
    expected = float(np.sqrt(2 / np.pi) * ok["std_error"].astype(float).mean())
    print(f"planted-beta MAE over {len(ok)} symbols: {mae:.4f} (sampling error {expected:.4f})")
    # thinly traded demo ETFs without a bar on the as-of date are stale, never ok
    database = Database(url=loaded.settings.database_url)
    priced = database.read_frame("SELECT symbol FROM prices WHERE date = :d", {"d": RANGE[1]})
    stale = stored.loc[stored["status"] == "stale"]
    assert set(stale.index) == set(stored.index) - set(priced["symbol"])
    assert stale["beta"].isna().all()
    assert len(ok) == len(stored) - 1 - len(stale)
    assert mae <= 2.0 * expected


def test_portfolio_vol_comes_from_the_books_own_returns(loaded):
    database = Database(url=loaded.settings.database_url)
    as_of = RANGE[1]
    returns = _returns(database, as_of)
    positions = database.read_frame("SELECT symbol, quantity FROM portfolio_positions")
    quantity = positions.set_index("symbol")["quantity"].astype(float)
    prices = database.read_frame(
        "SELECT symbol, adj_close FROM prices WHERE date = :d", {"d": as_of}
    ).set_index("symbol")["adj_close"]
    value = quantity * prices.reindex(quantity.index).astype(float)
    weights = value / value.sum()
    book = (returns[weights.index].iloc[-21:] * weights).sum(axis=1)
    assert returns[weights.index].iloc[-21:].notna().all().all()
    oracle_vol = float(np.sqrt(252 / 21 * (book**2).sum()))
    vols = _on(loaded.stored["position_volatility"], as_of).set_index("symbol")
    assert float(vols.loc["portfolio", "realized_vol_21d"]) == pytest.approx(oracle_vol, rel=1e-9)
    holdings = vols.loc[weights.index, "realized_vol_21d"].astype(float)
    assert oracle_vol < float((weights * holdings).sum())  # diversification, not an average
    snapshot = _on(loaded.stored["portfolio_snapshots"], as_of).iloc[0]
    assert float(snapshot["realized_volatility_21d"]) == pytest.approx(oracle_vol, rel=1e-9)
    assert snapshot["portfolio_return"] == pytest.approx(float(book.iloc[-1]), rel=1e-9)


def _assert_same(range_rows: pd.DataFrame, single_rows: pd.DataFrame, keys: list[str]) -> None:
    a = range_rows.sort_values(keys).reset_index(drop=True)
    b = single_rows.sort_values(keys).reset_index(drop=True)
    assert list(a.columns) == list(b.columns) and len(a) == len(b) > 0
    for column in a.columns:
        left, right = a[column], b[column]
        if pd.api.types.is_float_dtype(left) or pd.api.types.is_float_dtype(right):
            np.testing.assert_allclose(
                left.astype(float), right.astype(float), rtol=1e-10, atol=1e-15, err_msg=column
            )
        else:
            assert [_plain(v) for v in left] == [_plain(v) for v in right], column


def _plain(value):
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def test_range_run_equals_single_date_runs(loaded):
    defs = build_definitions(loaded.settings)
    database = Database(url=loaded.settings.database_url)
    with dg.DagsterInstance.ephemeral() as instance:
        for day in SINGLE_DATES:
            run = execute_job(defs, "risk_backfill", instance, partition_key=day.isoformat())
            assert run.success
    single = _stored(database)
    keys = {
        "position_market_betas": ["calc_date", "symbol"],
        "position_volatility": ["calc_date", "kind", "symbol"],
        "portfolio_snapshots": ["calc_date"],
    }
    for table, columns in keys.items():
        for day in SINGLE_DATES:
            _assert_same(_on(loaded.stored[table], day), _on(single[table], day), columns)
        # the other dates of the range were left alone
        assert len(single[table]) == len(loaded.stored[table])


def test_evaluate_volatility_shows_har_ahead_of_the_naive_forecast(loaded, monkeypatch, capsys):
    for name, value in {
        "PORTFOLIO_HOME": str(loaded.home),
        "PORTFOLIO_DATABASE_URL": loaded.settings.database_url,
        "PORTFOLIO_START_DATE": START.isoformat(),
        "PORTFOLIO_DEMO_SYMBOLS": str(SYMBOLS),
        "PORTFOLIO_DEMO_END_DATE": END.isoformat(),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PORTFOLIO_MARKET_DATA", raising=False)
    assert main(["evaluate-volatility", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    database = Database(url=loaded.settings.database_url)
    priced = int(database.read_frame("SELECT COUNT(DISTINCT symbol) AS n FROM prices")["n"][0])
    complete = int(
        database.read_frame(
            "SELECT COUNT(*) AS n FROM (SELECT symbol FROM prices GROUP BY symbol "
            "HAVING COUNT(*) = (SELECT COUNT(DISTINCT date) FROM prices)) AS full_history"
        )["n"][0]
    )
    # every symbol with a complete history is evaluated; late-listed funds may not be
    assert complete <= report["symbols"] <= priced
    assert report["har_win_share_qlike"] > 0.5
    models = {m["model"]: m for m in report["models"]}
    assert set(models) == {"har", "naive"}
    assert len(report["per_symbol"]) == priced  # one row per symbol, with its count of forecasts
    assert main(["evaluate-volatility"]) == 0
    text = capsys.readouterr().out
    assert "Share of symbols where HAR's own loss is lower" in text
    for loss in ("mse", "qlike"):
        better = models["har"][f"mean_{loss}"] < models["naive"][f"mean_{loss}"]
        assert f"{loss.upper()} favours {'HAR' if better else 'naive'}" in text
    assert main(["evaluate-volatility", "--start", "2024-03-01", "--end", "2024-02-01"]) == 2
    assert "--end 2024-02-01 is before --start 2024-03-01" in capsys.readouterr().err
