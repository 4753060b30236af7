"""The investment process composed: universe → scores → target, and no look-ahead in the
walk-forward backtest that recomputes it at every rebalance date."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analytics_lib.backtest import BacktestParams, walk_forward_backtest
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.simulation import simulate_market
from analytics_lib.strategy import StrategyParams, strategy_target, strategy_weigh
from analytics_lib.universe import UniverseParams


@pytest.fixture(scope="module")
def market():
    market = simulate_market(
        start=dt.date(2021, 1, 4), end=dt.date(2024, 6, 28), n_symbols=40, seed=3, n_etfs=120
    )
    prices = market.prices.pivot(index="date", columns="symbol", values="adj_close")
    closes = market.prices.pivot(index="date", columns="symbol", values="close")
    volume = market.prices.pivot(index="date", columns="symbol", values="volume")
    instruments = market.instruments.loc[
        :, ["symbol", "name", "category", "asset_type", "expense_ratio"]
    ]
    return market, prices, closes * volume, instruments


def test_target_is_fully_invested_in_eligible_funds_only(market):
    sim, prices, volume, instruments = market
    target = strategy_target(prices, instruments, volume, StrategyParams())
    weights = target.portfolio.weights
    assert weights.sum() == pytest.approx(1.0, abs=1e-10)
    assert set(weights.index) <= set(target.universe.eligible)
    planted = set(sim.truth.etf_filter_failures["leveraged_inverse"])
    assert not planted & set(target.universe.eligible)
    assert set(target.universe.leveraged_inverse) >= planted


def test_rows_after_the_as_of_date_change_nothing(market):
    _, prices, volume, instruments = market
    as_of = prices.index[-200]
    base = strategy_target(prices.loc[:as_of], instruments, volume, StrategyParams())
    noisy_volume = volume.copy()
    noisy_volume.loc[noisy_volume.index > as_of] *= 1e-6
    again = strategy_target(prices.loc[:as_of], instruments, noisy_volume, StrategyParams())
    pd.testing.assert_series_equal(base.portfolio.weights, again.portfolio.weights)


def test_backtest_weights_ignore_prices_after_each_rebalance(market):
    _, prices, _, instruments = market
    params = StrategyParams(universe=UniverseParams(min_median_dollar_volume=0.0))
    weigh = strategy_weigh(instruments, None, params)
    settings = BacktestParams(rebalance="quarterly", stop_loss=None, drift_threshold=None)
    start = prices.index[300]
    base = walk_forward_backtest(prices, weigh, settings, start=start)
    cut = base.weights.index[2]
    rng = np.random.default_rng(5)
    perturbed = prices.copy()
    later = perturbed.index > cut
    perturbed.loc[later] *= rng.uniform(0.5, 1.5, size=(int(later.sum()), prices.shape[1]))
    moved = walk_forward_backtest(perturbed, weigh, settings, start=start)
    pd.testing.assert_frame_equal(base.weights.loc[:cut], moved.weights.loc[:cut])
    assert not base.weights.loc[cut:].iloc[1:].equals(moved.weights.loc[cut:].iloc[1:])


def test_no_eligible_symbol_is_an_error_naming_the_reasons(market):
    _, prices, volume, instruments = market
    strict = StrategyParams(universe=UniverseParams(min_price=1e9))
    with pytest.raises(AnalyticsError, match=r"no eligible symbol.*below_min_price"):
        strategy_target(prices, instruments, volume, strict)
    with pytest.raises(AnalyticsError, match="params must be a StrategyParams"):
        strategy_target(prices, instruments, volume, {"universe": None})
