"""Tests for analytics_lib.backtest: hand-worked cases, the ``bt`` library as oracle, invariants."""

import datetime as dt
import itertools
import math
import statistics

import bt
import ffn
import numpy as np
import pandas as pd
import pytest

from analytics_lib.backtest import (
    METRIC_NAMES,
    BacktestParams,
    walk_forward_backtest,
)
from analytics_lib.exceptions import AnalyticsError

K = 10 / 1e4  # 10 bps


def _frame(rows: dict[str, list[float]], dates: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, index=pd.DatetimeIndex(dates))


def _fixed(weights: dict[str, float]):
    def weigh(history: pd.DataFrame) -> pd.Series:
        return pd.Series(weights)

    return weigh


# --------------------------------------------------------------------------------------------
# Hand-worked: 3 assets, 2 scheduled rebalances, drift in between, a stop-loss, costs
# --------------------------------------------------------------------------------------------

HAND_DATES = ["2024-01-29", "2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02", "2024-02-05"]
HAND_PRICES = _frame(
    {
        "A": [100.0, 102.0, 104.0, 105.0, 103.0, 94.0],
        "B": [50.0, 48.0, 44.0, 46.0, 46.0, 41.0],
        "C": [20.0, 21.0, 22.0, 21.0, 21.0, 20.0],
    },
    HAND_DATES,
)


def test_hand_worked_three_assets_two_rebalances_stop_loss_and_costs() -> None:
    seen: list[pd.Timestamp] = []

    def weigh(history: pd.DataFrame) -> pd.Series:
        seen.append(history.index[-1])
        if len(seen) == 1:
            return pd.Series({"A": 0.5, "B": 0.3, "C": 0.2})
        return pd.Series({"A": 0.4, "B": 0.4})  # C leaves the target

    params = BacktestParams(
        rebalance="monthly",
        stop_loss=0.10,
        drift_threshold=None,
        cost_bps=10,
        initial_capital=10_000,
    )
    res = walk_forward_backtest(HAND_PRICES, weigh, params)

    # Day 0 (Jan 29), scheduled: outlay w * 10,000 per asset, notional outlay / (1 + k).
    a0, b0, c0 = 5000 / (1 + K) / 100, 3000 / (1 + K) / 50, 2000 / (1 + K) / 20
    costs = K * 10_000 / (1 + K)
    cash = 0.0
    e0 = a0 * 100 + b0 * 50 + c0 * 20 + cash  # = 10,000 / 1.001
    # Day 1 (Jan 30): prices drift, no trades.
    e1 = a0 * 102 + b0 * 48 + c0 * 21
    # Day 2 (Jan 31): B closes at 44 < 50 * 0.9 = 45 -> sold at 44, costs k * notional.
    cash += b0 * 44 * (1 - K)
    costs += K * b0 * 44
    e2 = a0 * 104 + c0 * 22 + cash
    # Day 3 (Feb 1), scheduled: C (weight 0) exits first, then base = cash + A's value.
    cash += c0 * 21 * (1 - K)
    costs += K * c0 * 21
    base = cash + a0 * 105
    a_outlay = 0.4 * base - a0 * 105
    b_outlay = 0.4 * base - 0.0
    assert a_outlay < 0 < b_outlay  # A is trimmed (entry price stays 100), B is re-bought
    a_sold = -a_outlay / (1 - K)
    b_bought = b_outlay / (1 + K)
    a1 = a0 - a_sold / 105
    b1 = b_bought / 46
    cash += -a_outlay - b_outlay  # = 0.2 * base
    costs += K * (a_sold + b_bought)
    e3 = a1 * 105 + b1 * 46 + cash
    # Day 4 (Feb 2): no stop (A 103, B 46 at entry).
    e4 = a1 * 103 + b1 * 46 + cash
    # Day 5 (Feb 5): B 41 < 46 * 0.9 = 41.4 -> stop. A 94 > 100 * 0.9 = 90: no stop (its entry
    # is the last *buy* at 100, not the trim at 105, where 94 < 94.5 would have stopped it).
    cash += b1 * 41 * (1 - K)
    costs += K * b1 * 41
    e5 = a1 * 94 + cash

    expected = [e0, e1, e2, e3, e4, e5]
    assert res.equity.tolist() == pytest.approx(expected, rel=1e-12)
    assert res.cash.iloc[-1] == pytest.approx(cash, rel=1e-12)
    assert e0 == pytest.approx(10_000 / 1.001, rel=1e-14)
    assert seen == [pd.Timestamp("2024-01-29"), pd.Timestamp("2024-02-01")]

    events = res.stop_loss_events
    assert list(events.columns) == ["date", "symbol", "shares", "price"]
    assert events["date"].tolist() == [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-05")]
    assert events["symbol"].tolist() == ["B", "B"]
    assert events["shares"].tolist() == pytest.approx([b0, b1], rel=1e-12)
    assert events["price"].tolist() == [44.0, 41.0]

    assert res.weights.index.tolist() == [pd.Timestamp("2024-01-29"), pd.Timestamp("2024-02-01")]
    assert res.weights.loc["2024-01-29"].tolist() == [0.5, 0.3, 0.2]
    assert res.weights.loc["2024-02-01"].tolist() == [0.4, 0.4, 0.0]
    assert res.rebalances["kind"].tolist() == ["scheduled", "scheduled"]
    assert res.rebalances["traded"].tolist() == pytest.approx(
        [10_000 / (1 + K), c0 * 21 + a_sold + b_bought], rel=1e-12
    )

    traded = 10_000 / (1 + K) + b0 * 44 + c0 * 21 + a_sold + b_bought + b1 * 41
    m = res.metrics
    assert m["costs"] == pytest.approx(costs, rel=1e-12)
    assert m["costs"] == pytest.approx(K * traded, rel=1e-12)
    assert m["turnover"] == pytest.approx(traded / (sum(expected) / 6), rel=1e-12)
    assert m["stop_loss_events"] == 2
    assert (m["rebalances"], m["rebalances_scheduled"], m["rebalances_drift"]) == (2, 2, 0)
    assert m["total_return"] == pytest.approx(e5 / 10_000 - 1, rel=1e-12)


def test_drift_rebalance_reapplies_targets_and_keeps_stopped_symbols_in_cash() -> None:
    prices = _frame(
        {
            "A": [100.0, 100.0, 130.0, 130.0],
            "B": [100.0, 85.0, 85.0, 85.0],
            "C": [100.0, 100.0, 100.0, 100.0],
        },
        ["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07"],
    )
    calls: list[pd.Timestamp] = []

    def weigh(history: pd.DataFrame) -> pd.Series:
        calls.append(history.index[-1])
        return pd.Series({"A": 0.4, "B": 0.3, "C": 0.3})

    params = BacktestParams(
        rebalance="monthly", stop_loss=0.1, drift_threshold=0.05, cost_bps=0, initial_capital=1000
    )
    res = walk_forward_backtest(prices, weigh, params)
    # Day 0: A 4, B 3, C 3 shares. Day 1: B 85 < 90 -> stopped, cash 255; weights A 400/955,
    # C 300/955: deviations 0.0188 and 0.0141 (B is excluded) -> no drift rebalance.
    assert abs(400 / 955 - 0.4) < 0.05 and abs(300 / 955 - 0.3) < 0.05
    # Day 2: A 130 -> equity 520 + 255 + 300 = 1075, A weight 520/1075 = 0.4837 > 0.4 + 0.05.
    e2 = 4 * 130 + 255 + 3 * 100
    assert 4 * 130 / e2 - 0.4 > 0.05
    # Drift rebalance to A 0.4, C 0.3 and B 0 (stopped until the next scheduled rebalance).
    a2, c2 = 0.4 * e2 / 130, 0.3 * e2 / 100
    cash2 = e2 - 0.4 * e2 - 0.3 * e2
    assert res.equity.tolist() == pytest.approx([1000, 955, e2, e2], rel=1e-12)
    assert res.cash.tolist() == pytest.approx([0, 255, cash2, cash2], rel=1e-12)
    assert calls == [pd.Timestamp("2024-03-04")]  # weigh is not called for drift rebalances
    assert res.rebalances["kind"].tolist() == ["scheduled", "drift"]
    assert res.weights.loc["2024-03-06"].tolist() == [0.4, 0.0, 0.3]
    assert res.rebalances["traded"].iloc[1] == pytest.approx(abs(a2 - 4) * 130 + abs(c2 - 3) * 100)
    assert res.metrics["rebalances_drift"] == 1
    assert res.metrics["costs"] == 0


def test_rebalance_dates_are_first_trading_day_of_each_period() -> None:
    dates = pd.bdate_range("2024-01-15", "2024-12-31")
    prices = pd.DataFrame({"A": np.linspace(10, 20, len(dates))}, index=dates)
    expected = {
        "quarterly": ["2024-01-15", "2024-04-01", "2024-07-01", "2024-10-01"],
        "bimonthly": [
            "2024-01-15",
            "2024-03-01",
            "2024-05-01",
            "2024-07-01",
            "2024-09-02",
            "2024-11-01",
        ],
        "monthly": ["2024-01-15"]
        + [str(d.date()) for d in pd.bdate_range("2024-02-01", "2024-12-31", freq="BMS")],
    }
    for freq, days in expected.items():
        seen: list[pd.Timestamp] = []

        def weigh(history: pd.DataFrame, seen: list[pd.Timestamp] = seen) -> pd.Series:
            seen.append(history.index[-1])
            return pd.Series({"A": 1.0})

        params = BacktestParams(rebalance=freq, stop_loss=None, drift_threshold=None)  # type: ignore[arg-type]
        res = walk_forward_backtest(prices, weigh, params)
        assert res.rebalances.index.tolist() == pd.DatetimeIndex(days).tolist(), freq
        assert seen == pd.DatetimeIndex(days).tolist()


def test_window_start_end_and_history_before_start() -> None:
    dates = pd.bdate_range("2024-01-01", periods=60)
    prices = pd.DataFrame({"A": np.arange(60, dtype=float) + 10}, index=dates)
    lengths: list[int] = []

    def weigh(history: pd.DataFrame) -> pd.Series:
        lengths.append(len(history))
        return pd.Series({"A": 1.0})

    res = walk_forward_backtest(
        prices,
        weigh,
        BacktestParams(rebalance="monthly", stop_loss=None, drift_threshold=None, cost_bps=0),
        start=dt.date(2024, 1, 20),  # a Saturday: the window starts on Monday the 22nd
        end=pd.Timestamp("2024-03-05"),
    )
    assert res.equity.index[0] == pd.Timestamp("2024-01-22")
    assert res.equity.index[-1] == pd.Timestamp("2024-03-05")
    # weigh sees the history before start: 15 rows up to and including Jan 22.
    assert lengths[0] == 16
    # Fully invested in one asset, no costs: equity follows the price.
    window = prices.loc["2024-01-22":"2024-03-05", "A"]
    assert res.equity.to_numpy() == pytest.approx(1_000_000 * window.to_numpy() / window.iloc[0])


# --------------------------------------------------------------------------------------------
# bt oracle
# --------------------------------------------------------------------------------------------


def _random_prices(seed: int, n_days: int, n_assets: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2021-02-01", periods=n_days)
    steps = rng.normal(0.0003, 0.015, (n_days, n_assets))
    start = rng.uniform(10, 300, n_assets)
    return pd.DataFrame(
        start * np.exp(np.cumsum(steps, axis=0)),
        index=dates,
        columns=[f"S{i}" for i in range(n_assets)],
    )


@pytest.mark.parametrize(
    ("freq", "run_algo", "cash_share", "bps", "seed"),
    [
        ("monthly", bt.algos.RunMonthly, 0.0, 10.0, 1),
        ("monthly", bt.algos.RunMonthly, 0.1, 25.0, 2),
        ("quarterly", bt.algos.RunQuarterly, 0.05, 10.0, 3),
    ],
)
def test_equity_matches_bt(freq, run_algo, cash_share, bps, seed) -> None:
    prices = _random_prices(seed, 500, 8)
    rng = np.random.default_rng(seed + 100)
    raw = rng.random(8)
    weights = pd.Series((1 - cash_share) * raw / raw.sum(), index=prices.columns)
    capital = 250_000.0

    strategy = bt.Strategy(
        "s",
        [
            run_algo(run_on_first_date=True),
            bt.algos.SelectAll(),
            bt.algos.WeighSpecified(**weights.to_dict()),
            bt.algos.Rebalance(),
        ],
    )
    test = bt.Backtest(
        strategy,
        prices,
        initial_capital=capital,
        commissions=lambda q, p: abs(q) * p * bps / 1e4,
        integer_positions=False,
        progress_bar=False,
    )
    bt.run(test)
    # bt prepends one date (the day before the first) holding the initial capital.
    reference = test.strategy.values.iloc[1:]
    assert reference.index.equals(prices.index)

    params = BacktestParams(
        rebalance=freq, stop_loss=None, drift_threshold=None, cost_bps=bps, initial_capital=capital
    )
    res = walk_forward_backtest(prices, _fixed(weights.to_dict()), params)
    np.testing.assert_allclose(res.equity.to_numpy(), reference.to_numpy(), rtol=1e-8, atol=0)
    periods = prices.index.to_period("M" if freq == "monthly" else "Q")
    assert len(res.rebalances) == periods.nunique()
    # Cash after each rebalance is (1 - sum w) of the pre-trade equity: never negative beyond
    # floating-point rounding.
    assert (res.cash >= -1e-12 * capital).all()


# --------------------------------------------------------------------------------------------
# No look-ahead
# --------------------------------------------------------------------------------------------


def _momentum_weigh(log: list[pd.Timestamp]):
    def weigh(history: pd.DataFrame) -> pd.Series:
        log.append(history.index[-1])
        lookback = history.iloc[-min(len(history), 60) :]
        momentum = lookback.iloc[-1] / lookback.iloc[0] - 1
        top = momentum.nlargest(3)
        score = top - top.min() + 0.01
        return 0.95 * score / score.sum()

    return weigh


def test_no_look_ahead() -> None:
    prices = _random_prices(7, 320, 6)
    params = BacktestParams(rebalance="monthly", stop_loss=0.05, drift_threshold=0.03)
    start = prices.index[80]
    log: list[pd.Timestamp] = []
    base = walk_forward_backtest(prices, _momentum_weigh(log), params, start=start)
    scheduled = base.rebalances.index[base.rebalances["kind"] == "scheduled"]
    assert log == scheduled.tolist()  # weigh never sees a row after its rebalance date

    cut = scheduled[4]
    rng = np.random.default_rng(0)
    perturbed = prices.copy()
    after = perturbed.index > cut
    perturbed.loc[after] = perturbed.loc[after].to_numpy() * rng.uniform(
        0.5, 1.5, (int(after.sum()), 6)
    )
    log2: list[pd.Timestamp] = []
    other = walk_forward_backtest(perturbed, _momentum_weigh(log2), params, start=start)

    pd.testing.assert_frame_equal(base.weights.loc[:cut], other.weights.loc[:cut])
    pd.testing.assert_series_equal(base.equity.loc[:cut], other.equity.loc[:cut])
    assert not base.weights.loc[cut:].iloc[1:].equals(other.weights.loc[cut:].iloc[1:])
    assert prices.equals(_random_prices(7, 320, 6))  # the input was not mutated


# --------------------------------------------------------------------------------------------
# Metrics against independent formulas
# --------------------------------------------------------------------------------------------


def test_metrics_match_independent_formulas() -> None:
    prices = _random_prices(11, 400, 5)
    bench = prices["S0"] * 0 + np.linspace(300, 360, 400)
    params = BacktestParams(rebalance="bimonthly", initial_capital=50_000)
    res = walk_forward_backtest(
        prices, _fixed({"S1": 0.3, "S2": 0.3, "S3": 0.3}), params, benchmark=bench
    )
    m = res.metrics
    assert set(m) == set(METRIC_NAMES)
    values = res.equity.tolist()
    rets = [b / a - 1 for a, b in itertools.pairwise(values)]
    n = len(rets)
    assert n == 399
    assert m["total_return"] == pytest.approx(values[-1] / 50_000 - 1, rel=1e-12)
    assert m["cagr"] == pytest.approx((values[-1] / 50_000) ** (252 / n) - 1, rel=1e-10)
    assert m["volatility"] == pytest.approx(statistics.stdev(rets) * math.sqrt(252), rel=1e-10)
    assert m["sharpe"] == pytest.approx(
        statistics.fmean(rets) / statistics.stdev(rets) * math.sqrt(252), rel=1e-10
    )
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in rets) / n)
    assert m["sortino"] == pytest.approx(statistics.fmean(rets) / downside * math.sqrt(252))
    assert m["win_rate"] == pytest.approx(sum(r > 0 for r in rets) / n)
    # Max drawdown: by a running peak here, and by ffn.
    peak, worst = -math.inf, 0.0
    for v in values:
        peak = max(peak, v)
        worst = min(worst, v / peak - 1)
    assert m["max_drawdown"] == pytest.approx(worst, rel=1e-12)
    assert m["max_drawdown"] == pytest.approx(ffn.calc_max_drawdown(res.equity), rel=1e-12)
    assert res.drawdown.min() == pytest.approx(worst, rel=1e-12)
    assert (res.drawdown <= 0).all()
    # ffn's Sharpe (rf = 0, 252 periods) uses the same sample standard deviation.
    assert m["sharpe"] == pytest.approx(
        ffn.calc_sharpe(res.returns, rf=0.0, nperiods=252), rel=1e-10
    )
    assert res.returns.tolist() == pytest.approx(rets, rel=1e-12)
    years = n / 252
    assert m["rebalances_per_year"] == pytest.approx(m["rebalances"] / years)
    assert m["turnover_annualised"] == pytest.approx(m["turnover"] / years)
    assert m["turnover"] == pytest.approx(
        (
            res.rebalances["traded"].sum()
            + (res.stop_loss_events["shares"] * res.stop_loss_events["price"]).sum()
        )
        / statistics.fmean(values)
    )
    assert m["costs"] == pytest.approx(K * m["turnover"] * statistics.fmean(values))
    # Benchmark scaled to the capital at the first date.
    assert res.benchmark is not None
    assert res.benchmark.iloc[0] == 50_000
    assert res.benchmark.iloc[-1] == pytest.approx(50_000 * 360 / 300)
    # Invariants.
    assert (res.cash >= -1e-9).all()
    scheduled = res.rebalances["kind"] == "scheduled"
    np.testing.assert_allclose(res.weights.loc[scheduled.to_numpy()].sum(axis=1), 0.9)
    assert (res.weights.sum(axis=1) <= 0.9 + 1e-12).all()


def test_constant_equity_has_nan_ratios() -> None:
    prices = _frame({"A": [10.0, 11.0, 12.0]}, ["2024-01-02", "2024-01-03", "2024-01-04"])
    res = walk_forward_backtest(
        prices, lambda h: pd.Series(dtype=float), BacktestParams(stop_loss=None)
    )
    assert res.equity.tolist() == [1_000_000.0] * 3
    assert math.isnan(res.metrics["sharpe"]) and math.isnan(res.metrics["sortino"])
    assert res.metrics["volatility"] == 0 and res.metrics["win_rate"] == 0
    assert res.metrics["max_drawdown"] == 0


# --------------------------------------------------------------------------------------------
# Missing prices
# --------------------------------------------------------------------------------------------


def test_weight_on_a_symbol_without_a_close_is_an_error() -> None:
    prices = _frame({"A": [10.0, 11.0], "B": [np.nan, 5.0]}, ["2024-01-02", "2024-01-03"])
    with pytest.raises(
        AnalyticsError, match="weights symbol\\(s\\) without a close on 2024-01-02: B"
    ):
        walk_forward_backtest(prices, _fixed({"A": 0.5, "B": 0.5}), BacktestParams())


def test_held_position_without_a_close_is_frozen_at_a_rebalance() -> None:
    prices = _frame(
        {"A": [10.0, 12.0, np.nan, 15.0], "B": [20.0, 20.0, 25.0, 25.0]},
        ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"],
    )

    def weigh(history: pd.DataFrame) -> pd.Series:
        if len(history) == 1:
            return pd.Series({"A": 0.5, "B": 0.5})
        return pd.Series({"B": 0.8})  # A has no close on Feb 1

    params = BacktestParams(
        rebalance="monthly", stop_loss=None, drift_threshold=None, cost_bps=0, initial_capital=100
    )
    res = walk_forward_backtest(prices, weigh, params)
    # Jan 30: A 5 shares, B 2.5. Feb 1: A is marked at 12 and left alone; base = B's 62.5.
    b_shares = 0.8 * 62.5 / 25
    cash = 0.2 * 62.5
    assert res.equity.tolist() == pytest.approx(
        [100, 60 + 50, 60 + 62.5, 5 * 15 + b_shares * 25 + cash], rel=1e-12
    )


# --------------------------------------------------------------------------------------------
# Performance-shaped input (no timing asserts)
# --------------------------------------------------------------------------------------------


def test_many_symbols_with_gaps() -> None:
    prices = _random_prices(5, 300, 200)
    prices.iloc[:50, :20] = np.nan  # late listings
    prices.iloc[250:, 20:30] = np.nan  # delistings

    def weigh(history: pd.DataFrame) -> pd.Series:
        last = history.iloc[-1].dropna()
        top = (last / history.iloc[max(0, len(history) - 40)]).dropna().nlargest(20).index
        return pd.Series(1 / 20, index=top)

    res = walk_forward_backtest(prices, weigh, BacktestParams(rebalance="monthly"))
    assert res.weights.shape[1] == 200
    np.testing.assert_allclose(res.weights.sum(axis=1), 1.0)
    assert np.isfinite(res.equity).all() and (res.equity > 0).all()
    assert (res.cash >= -1e-6).all()


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rebalance": "weekly"}, "rebalance must be one of quarterly, bimonthly, monthly"),
        ({"stop_loss": 0.0}, r"stop_loss must be None or in \(0, 1\), got 0.0"),
        ({"stop_loss": 1.0}, r"stop_loss must be None or in \(0, 1\)"),
        ({"stop_loss": "x"}, "stop_loss must be a real number"),
        ({"drift_threshold": -0.1}, r"drift_threshold must be None or in \(0, 1\]"),
        ({"drift_threshold": float("nan")}, "drift_threshold must be finite"),
        ({"cost_bps": -1}, r"cost_bps must be in \[0, 10000\), got -1"),
        ({"cost_bps": 10_000}, r"cost_bps must be in \[0, 10000\)"),
        ({"initial_capital": 0}, "initial_capital must be > 0, got 0"),
        ({"initial_capital": True}, "initial_capital must be a real number"),
    ],
)
def test_params_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(AnalyticsError, match=message):
        BacktestParams(**kwargs)  # type: ignore[arg-type]


def test_params_defaults_follow_the_seed() -> None:
    p = BacktestParams()
    assert (p.rebalance, p.stop_loss, p.drift_threshold, p.initial_capital) == (
        "quarterly",
        0.12,
        0.05,
        1_000_000.0,
    )
    assert BacktestParams(stop_loss=None, drift_threshold=None).stop_loss is None


GOOD = _frame({"A": [10.0, 11.0, 12.0], "B": [5.0, 5.0, 6.0]}, HAND_DATES[:3])


@pytest.mark.parametrize(
    ("prices", "weigh", "extra", "message"),
    [
        ({"A": [1.0]}, _fixed({"A": 1.0}), {}, "prices must be a pandas DataFrame"),
        (GOOD.iloc[::-1], _fixed({"A": 1.0}), {}, "prices dates must be sorted ascending"),
        (GOOD.iloc[:0], _fixed({"A": 1.0}), {}, "prices has no rows"),
        (GOOD.iloc[:, :0], _fixed({"A": 1.0}), {}, "prices has no columns"),
        (
            GOOD.set_axis(["A", "A"], axis=1),
            _fixed({"A": 1.0}),
            {},
            "prices has duplicate symbol column",
        ),
        (GOOD.replace(11.0, -1.0), _fixed({"A": 1.0}), {}, "positive and finite.*not for: A"),
        (GOOD.replace(6.0, np.inf), _fixed({"A": 1.0}), {}, "not for: B"),
        (GOOD, "weights", {}, "weigh must be callable"),
        (GOOD, _fixed({"A": 1.0}), {"params": {"rebalance": "monthly"}}, "params must be a"),
        (GOOD, _fixed({"A": 1.0}), {"start": "2024-01-29"}, "start must be a datetime.date"),
        (
            GOOD,
            _fixed({"A": 1.0}),
            {"start": dt.date(2024, 1, 31), "end": dt.date(2024, 1, 29)},
            "start 2024-01-31 is after end 2024-01-29",
        ),
        (
            GOOD,
            _fixed({"A": 1.0}),
            {"start": dt.date(2024, 1, 31)},
            "must contain at least 2 dates of prices, got 1",
        ),
        (GOOD, lambda h: {"A": 1.0}, {}, "weigh.*on 2024-01-29 must return a pandas Series"),
        (GOOD, _fixed({"A": 0.7, "B": 0.4}), {}, "weights summing to 1.1 > 1"),
        (GOOD, _fixed({"A": -0.1}), {}, r"negative weight\(s\) for: A"),
        (GOOD, _fixed({"A": np.nan}), {}, r"non-finite weight\(s\) for: A"),
        (GOOD, _fixed({"Z": 0.5}), {}, r"symbol\(s\) not in prices: Z"),
        (
            GOOD,
            lambda h: pd.Series([0.1, 0.1], index=["A", "A"]),
            {},
            r"duplicate symbol\(s\): A",
        ),
        (
            GOOD,
            _fixed({"A": 1.0}),
            {"benchmark": pd.Series([1.0, 2.0], index=GOOD.index[:2])},
            "benchmark needs a positive finite price on every backtest date; 1 missing",
        ),
        (GOOD, _fixed({"A": 1.0}), {"benchmark": [1.0]}, "benchmark must be a pandas Series"),
    ],
)
def test_errors(prices, weigh, extra, message) -> None:
    with pytest.raises(AnalyticsError, match=message):
        walk_forward_backtest(prices, weigh, **extra)


def test_inputs_are_not_mutated_even_by_a_mutating_weigh() -> None:
    prices = HAND_PRICES.copy()

    def weigh(history: pd.DataFrame) -> pd.Series:
        history.iloc[:, :] = 1.0  # a careless caller
        return pd.Series({"A": 1.0})

    walk_forward_backtest(prices, weigh, BacktestParams(rebalance="monthly"))
    pd.testing.assert_frame_equal(prices, HAND_PRICES)
