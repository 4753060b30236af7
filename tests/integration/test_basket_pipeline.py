"""The basket assets on the simulated demo market, on SQLite and PostgreSQL: the sensor adds a
partition per basket and each refresh run stores series that match an independent pandas
computation from the simulated prices; the factor panel has the demo's proxies and baskets."""

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from analytics_lib.simulation import simulate_market
from orchestration.cli.runs import execute_job, run_sensor_once
from orchestration.definitions import build_definitions
from orchestration.defs.baskets import store as basket_store
from orchestration.resources.database import Database
from tests.support import make_settings


@pytest.fixture
def instance(persistent_instance):
    """Sensors are evaluated as the daemon does, which needs an on-disk instance."""
    return persistent_instance


START = dt.date(2024, 1, 1)
END = dt.date(2024, 2, 29)
SYMBOLS = 36


@pytest.fixture
def settings(tmp_path, database_url):
    return make_settings(
        tmp_path,
        database_url,
        PORTFOLIO_START_DATE=START.isoformat(),
        PORTFOLIO_DEMO_SYMBOLS=str(SYMBOLS),
        PORTFOLIO_DEMO_END_DATE=END.isoformat(),
    )


def _expected_series(returns: pd.DataFrame, weights: pd.Series) -> pd.Series:
    """Weights renormalised each day over the members with a return (plain pandas)."""
    sub = returns.reindex(columns=weights.index)
    numerator = sub.fillna(0.0).mul(weights, axis=1).sum(axis=1)
    covered = sub.notna().mul(weights, axis=1).sum(axis=1)
    return numerator / covered.where(covered > 0)


def test_baskets_refresh_on_the_demo_market(settings, instance):
    defs = build_definitions(settings)
    assert execute_job(defs, "daily_pipeline", instance, partition_range=(START, END)).success
    database = Database(url=settings.database_url)
    stocks = database.read_frame(
        "SELECT symbol, market_cap FROM instruments WHERE asset_type = 'stock' "
        "ORDER BY market_cap DESC, symbol LIMIT 4"
    )
    basket_store.create_basket(database, "equal four", stocks["symbol"].tolist())
    basket_store.create_basket(
        database, "cap weighted", stocks["symbol"].tolist(), method="market_cap"
    )
    basket_store.create_basket_from_etf(database, "XLK", "tech ten", top_n=10)

    results = run_sensor_once(defs, instance, "basket_changes")
    assert [r.success for r in results] == [True, True, True]
    assert instance.get_dynamic_partitions("baskets") == ["cap weighted", "equal four", "tech ten"]
    assert instance.get_materialized_partitions(dg.AssetKey("basket_analytics")) == {
        "cap weighted",
        "equal four",
        "tech ten",
    }

    market = simulate_market(start=START, end=END, n_symbols=SYMBOLS, seed=settings.demo_seed)
    prices = market.prices.pivot(index="date", columns="symbol", values="adj_close")
    returns = prices.pct_change(fill_method=None).iloc[1:]
    caps = stocks.set_index("symbol")["market_cap"].astype(float)
    holdings = market.etf_holdings.loc[market.etf_holdings["etf"] == "XLK"]
    top = holdings.loc[holdings["asof_date"] == holdings["asof_date"].max()].nlargest(10, "weight")
    expected_weights = {
        "equal four": pd.Series(0.25, index=stocks["symbol"]),
        "cap weighted": caps / caps.sum(),
        "tech ten": top.set_index("symbol")["weight"] / top["weight"].sum(),
    }
    for name, weights in expected_weights.items():
        stored = database.read_frame(
            "SELECT date, daily_return FROM basket_returns WHERE basket = :b ORDER BY date",
            {"b": name},
        )
        got = pd.Series(
            pd.to_numeric(stored["daily_return"]).to_numpy(dtype=float),
            index=pd.to_datetime(stored["date"]),
        )
        want = _expected_series(returns, weights)
        assert got.index.equals(want.index)
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=0, atol=1e-13)

    analytics = database.read_frame(
        "SELECT basket, end_date, arithmetic_return, contribution_residual, "
        "portfolio_correlation FROM basket_analytics ORDER BY basket"
    )
    assert {str(d)[:10] for d in analytics["end_date"]} == {END.isoformat()}
    assert (analytics["contribution_residual"].abs() < 1e-12).all()
    assert analytics["portfolio_correlation"].between(-1, 1).all()

    factors = [
        e.materialization.metadata
        for r in results
        for e in r.result.get_asset_materialization_events()
        if e.materialization.asset_key == dg.AssetKey("factor_returns_panel")
    ][-1]
    categories = factors["categories"].value
    assert categories["market"] == ["SPY"]  # the demo market has no QQQ or IWM
    assert set(categories["sector"]) == set(market.etf_holdings["etf"])
    assert sorted(categories["user_baskets"]) == ["cap weighted", "equal four", "tech ten"]
