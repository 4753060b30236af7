"""Tests for analytics_lib.baskets: definitions, ETF seeding, return series and analytics.

Expected numbers are written as arithmetic from the definitions, never copied from the code.
"""

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analytics_lib.baskets import (
    BASKET_NAME_MAX,
    BasketDefinition,
    basket_analytics,
    basket_returns,
    equity_curve,
    etf_basket_weights,
    resolve_weights,
    validate_basket_definition,
    validate_basket_name,
)
from analytics_lib.exceptions import AnalyticsError, InsufficientDataError

KNOWN = {"AAPL", "MSFT", "NVDA", "JPM", "XOM", "BRK-B", "SPY"}

# --------------------------------------------------------------------------------------------
# A hand-computed three-stock basket: A 50 %, B 30 %, C 20 %; C has no return on day 2.
# --------------------------------------------------------------------------------------------
DATES = pd.DatetimeIndex(["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"], name="date")
HAND_RETURNS = pd.DataFrame(
    {
        "A": [0.01, -0.04, 0.02, -0.03],
        "B": [-0.02, 0.01, 0.05, -0.01],
        "C": [0.03, np.nan, -0.01, 0.00],
    },
    index=DATES,
)
HAND_WEIGHTS = pd.Series({"A": 0.5, "B": 0.3, "C": 0.2})
# Day 2 renormalises over A and B (covered weight 0.8).
R1 = 0.5 * 0.01 + 0.3 * -0.02 + 0.2 * 0.03
R2 = (0.5 * -0.04 + 0.3 * 0.01) / 0.8
R3 = 0.5 * 0.02 + 0.3 * 0.05 + 0.2 * -0.01
R4 = 0.5 * -0.03 + 0.3 * -0.01 + 0.2 * 0.00
HAND_BASKET = [R1, R2, R3, R4]


def hand_weight_frame() -> pd.DataFrame:
    return HAND_WEIGHTS.to_frame("hand").T


def test_hand_basket_daily_returns_and_coverage() -> None:
    out = basket_returns(HAND_RETURNS, hand_weight_frame())
    assert_allclose(out.returns["hand"].to_numpy(), HAND_BASKET, rtol=0, atol=1e-12)
    assert_allclose(out.coverage["hand"].to_numpy(), [1.0, 0.8, 1.0, 1.0], rtol=0, atol=1e-12)
    assert out.available == {"hand": ("A", "B", "C")}
    assert out.excluded == {"hand": ()}
    assert out.rebalance == "daily"
    assert list(out.returns.index) == list(DATES)


def test_renormalisation_with_missing_ticker_matches_two_stock_basket() -> None:
    # On day 2 C is missing: the basket equals A and B alone at 0.5/0.8 and 0.3/0.8.
    out = basket_returns(HAND_RETURNS, hand_weight_frame())
    expected_day2 = 0.5 / 0.8 * -0.04 + 0.3 / 0.8 * 0.01
    assert out.returns["hand"].iloc[1] == pytest.approx(expected_day2, abs=1e-15)
    assert out.coverage["hand"].iloc[1] == pytest.approx(0.8, abs=1e-15)


def test_hand_basket_analytics() -> None:
    series = basket_returns(HAND_RETURNS, hand_weight_frame()).returns["hand"]
    res = basket_analytics(series, HAND_RETURNS, HAND_WEIGHTS)

    wealth = [1 + R1, (1 + R1) * (1 + R2), (1 + R1) * (1 + R2) * (1 + R3)]
    wealth.append(wealth[2] * (1 + R4))
    total = (1 + R1) * (1 + R2) * (1 + R3) * (1 + R4) - 1
    assert res.total_return == pytest.approx(total, abs=1e-12)
    assert res.annualized_return == pytest.approx((1 + total) ** (252 / 4) - 1, rel=1e-12)
    sd = statistics.stdev(HAND_BASKET)
    assert res.annualized_volatility == pytest.approx(sd * math.sqrt(252), rel=1e-12)
    assert res.sharpe == pytest.approx(
        statistics.mean(HAND_BASKET) / sd * math.sqrt(252), rel=1e-12
    )
    # Peak 1.005 after day 1, trough after day 2 (-2.125 %); day 3 makes a new high, day 4
    # falls 1.8 % from it. The maximum drawdown is day 2's.
    assert wealth[2] > wealth[0]
    assert res.max_drawdown == pytest.approx(R2, abs=1e-12)
    assert res.observations == 4
    assert (res.start, res.end) == (DATES[0], DATES[-1])

    comp = res.components
    assert list(comp.index) == ["A", "B", "C"]
    contrib_a = 0.5 * 0.01 + 0.5 / 0.8 * -0.04 + 0.5 * 0.02 + 0.5 * -0.03
    contrib_b = 0.3 * -0.02 + 0.3 / 0.8 * 0.01 + 0.3 * 0.05 + 0.3 * -0.01
    contrib_c = 0.2 * 0.03 + 0.0 + 0.2 * -0.01 + 0.2 * 0.00
    assert_allclose(comp["contribution"], [contrib_a, contrib_b, contrib_c], rtol=0, atol=1e-12)
    assert comp["contribution"].sum() == pytest.approx(sum(HAND_BASKET), abs=1e-12)
    assert res.arithmetic_return == pytest.approx(sum(HAND_BASKET), abs=1e-15)
    assert abs(res.contribution_residual) < 1e-12
    expected_totals = [
        1.01 * 0.96 * 1.02 * 0.97 - 1,
        0.98 * 1.01 * 1.05 * 0.99 - 1,
        1.03 * 0.99 * 1.00 - 1,  # C compounds over its own 3 available days
    ]
    assert_allclose(comp["total_return"], expected_totals, rtol=0, atol=1e-12)
    assert list(comp["observations"]) == [4, 4, 3]
    assert_allclose(comp["weight"], [0.5, 0.3, 0.2])

    monthly = res.monthly_returns
    assert [str(p) for p in monthly.index] == ["2024-01", "2024-02"]
    assert_allclose(
        monthly.to_numpy(),
        [(1 + R1) * (1 + R2) - 1, (1 + R3) * (1 + R4) - 1],
        rtol=0,
        atol=1e-12,
    )
    assert res.vs_portfolio is None


def test_analytics_vs_portfolio_matches_numpy() -> None:
    series = pd.Series(HAND_BASKET, index=DATES)
    port = pd.Series(
        [0.004, -0.01, 0.012, np.nan, 0.002], index=[*DATES, pd.Timestamp("2024-02-05")]
    )
    res = basket_analytics(series, HAND_RETURNS, HAND_WEIGHTS, portfolio_returns=port)
    b = np.array(HAND_BASKET[:3])
    p = np.array([0.004, -0.01, 0.012])
    cmp_ = res.vs_portfolio
    assert cmp_ is not None
    assert cmp_.observations == 3
    assert cmp_.correlation == pytest.approx(np.corrcoef(b, p)[0, 1], rel=1e-12)
    assert cmp_.beta == pytest.approx(np.cov(b, p)[0, 1] / np.var(p, ddof=1), rel=1e-12)
    assert cmp_.tracking_error == pytest.approx(np.std(b - p, ddof=1) * math.sqrt(252), rel=1e-12)


def test_analytics_risk_free_rate_and_constant_series() -> None:
    series = pd.Series(HAND_BASKET, index=DATES)
    res = basket_analytics(series, HAND_RETURNS, HAND_WEIGHTS, risk_free_rate=0.05)
    excess = statistics.mean(HAND_BASKET) - 0.05 / 252
    expected = excess / statistics.stdev(HAND_BASKET) * math.sqrt(252)
    assert res.sharpe == pytest.approx(expected, rel=1e-12)

    flat = pd.Series([0.001] * 4, index=DATES)
    comps = pd.DataFrame({"A": [0.001] * 4}, index=DATES)
    res = basket_analytics(flat, comps, pd.Series({"A": 1.0}))
    assert res.annualized_volatility == 0.0
    assert math.isnan(res.sharpe)
    assert res.max_drawdown == 0.0


def test_analytics_skips_nan_basket_days_and_absent_members() -> None:
    series = pd.Series([0.01, np.nan, 0.02], index=DATES[:3])
    comps = pd.DataFrame({"A": [0.01, np.nan, 0.02]}, index=DATES[:3])
    weights = pd.Series({"A": 0.6, "Z": 0.4})  # Z has no column: excluded
    res = basket_analytics(series, comps, weights)
    assert res.observations == 2
    assert res.total_return == pytest.approx(1.01 * 1.02 - 1, abs=1e-15)
    assert math.isnan(res.components.loc["Z", "total_return"])
    assert res.components.loc["Z", "contribution"] == 0.0
    assert res.components.loc["A", "contribution"] == pytest.approx(0.03, abs=1e-15)


def test_drawdown_is_measured_from_the_starting_wealth_of_one() -> None:
    series = pd.Series([-0.1, 0.05], index=DATES[:2])
    comps = pd.DataFrame({"A": [-0.1, 0.05]}, index=DATES[:2])
    res = basket_analytics(series, comps, pd.Series({"A": 1.0}))
    assert res.max_drawdown == pytest.approx(-0.1, abs=1e-15)


# --------------------------------------------------------------------------------------------
# Daily mode against a per-basket pandas reference
# --------------------------------------------------------------------------------------------


def reference_daily(returns: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """Naive per-basket implementation (the loop is fine in a test)."""
    out = {}
    for basket, row in weights.iterrows():
        w = row.dropna()
        w = w[w > 0]
        w = w / w.sum()
        members = [s for s in w.index if s in returns.columns]
        sub = returns[members]
        avail = sub.notna()
        num = (sub.fillna(0.0) * w[members]).sum(axis=1)
        den = (avail * w[members]).sum(axis=1)
        out[basket] = num.where(den > 0) / den.where(den > 0)
    return pd.DataFrame(out)


def random_case(
    seed: int, n_symbols: int, n_baskets: int, size: tuple[int, int]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2023-01-02", periods=80)
    symbols = [f"S{i:03d}" for i in range(n_symbols)]
    values = rng.normal(0.0, 0.02, (len(dates), n_symbols))
    values[rng.random(values.shape) < 0.15] = np.nan
    values[:, 3] = np.nan  # a symbol with no data at all
    values[10:30, :] = np.where(rng.random((20, n_symbols)) < 0.9, np.nan, values[10:30, :])
    returns = pd.DataFrame(values, index=dates, columns=symbols)
    weights = pd.DataFrame(np.nan, index=[f"b{j}" for j in range(n_baskets)], columns=symbols)
    for j in range(n_baskets):
        k = int(rng.integers(size[0], size[1] + 1))
        members = rng.choice(n_symbols, k, replace=False)
        raw = rng.random(k) + 0.05
        weights.iloc[j, members] = raw / raw.sum()
    return returns, weights


@pytest.mark.parametrize(
    ("n_symbols", "n_baskets", "size"),
    [(200, 30, (2, 8)), (12, 4, (5, 10))],
    ids=["sparse-weights", "dense-weights"],
)
def test_daily_mode_matches_per_basket_reference(
    n_symbols: int, n_baskets: int, size: tuple[int, int]
) -> None:
    returns, weights = random_case(7, n_symbols, n_baskets, size)
    returns_before, weights_before = returns.copy(), weights.copy()
    out = basket_returns(returns, weights)
    expected = reference_daily(returns, weights)
    assert_allclose(out.returns.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-14)
    assert list(out.returns.columns) == list(weights.index)
    pd.testing.assert_frame_equal(returns, returns_before)
    pd.testing.assert_frame_equal(weights, weights_before)


def test_members_without_data_are_excluded_and_zero_coverage_days_are_nan() -> None:
    returns = pd.DataFrame(
        {"A": [0.01, np.nan, 0.03], "B": [np.nan, np.nan, np.nan], "C": [0.02, np.nan, 0.01]},
        index=DATES[:3],
    )
    weights = pd.DataFrame(
        {"A": [0.25, np.nan], "B": [0.25, 0.5], "C": [0.25, np.nan], "ZZZ": [0.25, 0.5]},
        index=["x", "y"],
    )
    out = basket_returns(returns, weights)
    assert out.available == {"x": ("A", "C"), "y": ()}
    assert out.excluded == {"x": ("B", "ZZZ"), "y": ("B", "ZZZ")}
    assert_allclose(out.returns["x"], [(0.01 + 0.02) / 2, np.nan, (0.03 + 0.01) / 2])
    assert_allclose(out.coverage["x"], [0.5, 0.0, 0.5])
    assert out.returns["y"].isna().all()
    assert (out.coverage["y"] == 0.0).all()


# --------------------------------------------------------------------------------------------
# Buy-and-hold drift
# --------------------------------------------------------------------------------------------


def price_path(seed: int, dates: pd.DatetimeIndex, symbols: list[str]) -> pd.DataFrame:
    """Prices with one base row before the first date."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0005, 0.02, (len(dates) + 1, len(symbols)))
    base = dates[0] - pd.Timedelta(days=3)
    return pd.DataFrame(
        50.0 * np.exp(np.cumsum(steps, axis=0)), index=[base, *dates], columns=symbols
    )


def test_drift_without_rebalance_inside_equals_buy_and_hold() -> None:
    dates = pd.bdate_range("2024-03-01", "2024-03-28")  # one calendar month
    symbols = ["A", "B", "C", "D"]
    prices = price_path(3, dates, symbols)
    returns = (prices / prices.shift(1) - 1.0).iloc[1:]
    w = pd.Series({"A": 0.4, "B": 0.3, "C": 0.2, "D": 0.1})
    # Independent buy-and-hold: buy shares worth w_i at the base prices, then hold them.
    shares = w / prices.iloc[0]
    value = (prices * shares).sum(axis=1)
    for mode in ("monthly", "quarterly"):
        out = basket_returns(returns, w.to_frame("b").T, rebalance=mode)
        compounded = (1.0 + out.returns["b"]).prod()
        assert compounded == pytest.approx(value.iloc[-1] / value.iloc[0], rel=1e-12)
        daily_value_change = (value / value.shift(1) - 1.0).iloc[1:].to_numpy()
        assert_allclose(out.returns["b"].to_numpy(), daily_value_change, rtol=0, atol=1e-12)
        assert_allclose(out.coverage["b"].to_numpy(), 1.0, rtol=0, atol=1e-15)
    daily = basket_returns(returns, w.to_frame("b").T, rebalance="daily")
    assert abs((1.0 + daily.returns["b"]).prod() - value.iloc[-1] / value.iloc[0]) > 1e-6


def test_drift_resets_to_target_weights_at_each_month_start() -> None:
    dates = pd.bdate_range("2024-01-15", "2024-02-20")
    symbols = ["A", "B", "C"]
    prices = price_path(11, dates, symbols)
    returns = (prices / prices.shift(1) - 1.0).iloc[1:]
    w = pd.Series({"A": 0.5, "B": 0.25, "C": 0.25})
    jan = prices.index <= pd.Timestamp("2024-01-31")
    # January: bought at the base prices. February: re-bought at target weights at the
    # January 31 close.
    jan_prices = prices.loc[jan]
    feb_prices = prices.loc[prices.index >= pd.Timestamp("2024-01-31")]
    jan_growth = ((jan_prices * (w / jan_prices.iloc[0])).sum(axis=1)).iloc[-1]
    feb_value = (feb_prices * (w / feb_prices.iloc[0])).sum(axis=1)
    out = basket_returns(returns, w.to_frame("b").T, rebalance="monthly")
    assert (1.0 + out.returns["b"]).prod() == pytest.approx(
        jan_growth * feb_value.iloc[-1], rel=1e-12
    )
    # Quarterly: no reset at February 1 -> one buy-and-hold over the whole span.
    quarterly = basket_returns(returns, w.to_frame("b").T, rebalance="quarterly")
    whole = (prices * (w / prices.iloc[0])).sum(axis=1)
    assert (1.0 + quarterly.returns["b"]).prod() == pytest.approx(whole.iloc[-1], rel=1e-12)


def test_drift_missing_day_carries_value_and_reports_drifted_coverage() -> None:
    days = pd.DatetimeIndex(["2024-03-04", "2024-03-05", "2024-03-06"])  # one month
    returns = pd.DataFrame({"A": [0.10, 0.02, 0.01], "B": [0.0, np.nan, 0.03]}, index=days)
    w = pd.DataFrame({"A": [0.5], "B": [0.5]}, index=["b"])
    out = basket_returns(returns, w, rebalance="monthly")
    # Day 1 both held at 0.5. Day 2: A is worth 0.55, B 0.5 but has no return -> only A counts.
    # Day 3: A worth 0.55 * 1.02, B still 0.5 (carried).
    a3 = 0.55 * 1.02
    expected = [0.5 * 0.10 + 0.5 * 0.0, 0.02, (a3 * 0.01 + 0.5 * 0.03) / (a3 + 0.5)]
    assert_allclose(out.returns["b"], expected, rtol=0, atol=1e-15)
    assert_allclose(out.coverage["b"], [1.0, 0.55 / 1.05, 1.0], rtol=0, atol=1e-15)


def test_drift_on_random_panel_matches_daily_when_every_day_is_a_period() -> None:
    returns, weights = random_case(5, 60, 6, (3, 9))
    daily = basket_returns(returns, weights)
    monthly = basket_returns(returns, weights, rebalance="monthly")
    first_days = ~returns.index.to_period("M").duplicated()
    # On each month's first day drift mode holds the target weights, as daily mode does.
    assert_allclose(
        monthly.returns.loc[first_days].to_numpy(),
        daily.returns.loc[first_days].to_numpy(),
        rtol=0,
        atol=1e-15,
    )
    assert monthly.available == daily.available


# --------------------------------------------------------------------------------------------
# basket_returns / basket_analytics validation
# --------------------------------------------------------------------------------------------


def test_basket_returns_errors() -> None:
    wf = hand_weight_frame()
    with pytest.raises(AnalyticsError, match="rebalance must be one of"):
        basket_returns(HAND_RETURNS, wf, rebalance="weekly")  # type: ignore[arg-type]
    with pytest.raises(AnalyticsError, match="returns must be a pandas DataFrame"):
        basket_returns(HAND_RETURNS.to_numpy(), wf)  # type: ignore[arg-type]
    with pytest.raises(AnalyticsError, match="returns has no rows"):
        basket_returns(HAND_RETURNS.iloc[:0], wf)
    with pytest.raises(AnalyticsError, match="returns dates must be sorted"):
        basket_returns(HAND_RETURNS.iloc[::-1], wf)
    bad = HAND_RETURNS.copy()
    bad.iloc[0, 0] = np.inf
    with pytest.raises(AnalyticsError, match="returns contains infinite values"):
        basket_returns(bad, wf)
    bad.iloc[0, 0] = -1.5
    with pytest.raises(AnalyticsError, match=r"below -1 \(-1.5 for A on 2024-01-30\)"):
        basket_returns(bad, wf)
    with pytest.raises(AnalyticsError, match="weights must be a pandas DataFrame"):
        basket_returns(HAND_RETURNS, HAND_WEIGHTS)  # type: ignore[arg-type]
    with pytest.raises(AnalyticsError, match="weights has no baskets"):
        basket_returns(HAND_RETURNS, wf.iloc[:0])
    with pytest.raises(AnalyticsError, match="weights has duplicate index label"):
        basket_returns(HAND_RETURNS, pd.concat([wf, wf]))
    with pytest.raises(AnalyticsError, match="weights has negative values for basket"):
        basket_returns(HAND_RETURNS, pd.DataFrame({"A": [1.2], "B": [-0.2]}, index=["neg"]))
    with pytest.raises(AnalyticsError, match="weights has infinite values for basket"):
        basket_returns(HAND_RETURNS, pd.DataFrame({"A": [np.inf]}, index=["inf"]))
    with pytest.raises(AnalyticsError, match=r"rows must sum to 1.*half \(0.5\)"):
        basket_returns(HAND_RETURNS, pd.DataFrame({"A": [0.5, 1.0]}, index=["half", "ok"]))
    with pytest.raises(AnalyticsError, match="weights must hold numbers"):
        basket_returns(HAND_RETURNS, pd.DataFrame({"A": ["x"]}, index=["s"]))


def test_basket_analytics_errors() -> None:
    series = pd.Series(HAND_BASKET, index=DATES)
    with pytest.raises(AnalyticsError, match="basket_returns must be a pandas Series"):
        basket_analytics(HAND_RETURNS, HAND_RETURNS, HAND_WEIGHTS)  # type: ignore[arg-type]
    with pytest.raises(InsufficientDataError, match="at least 2 finite returns, got 1"):
        basket_analytics(series.iloc[:1], HAND_RETURNS, HAND_WEIGHTS)
    with pytest.raises(AnalyticsError, match="basket_returns contains infinite"):
        basket_analytics(series.replace(R1, np.inf), HAND_RETURNS, HAND_WEIGHTS)
    with pytest.raises(AnalyticsError, match="basket_returns has a simple return below -1"):
        basket_analytics(series.replace(R1, -2.0), HAND_RETURNS, HAND_WEIGHTS)
    with pytest.raises(AnalyticsError, match=r"component_returns lacks 1 date.*2024-01-30"):
        basket_analytics(series, HAND_RETURNS.iloc[1:], HAND_WEIGHTS)
    with pytest.raises(AnalyticsError, match=r"weights must sum to 1, got 0\.9"):
        basket_analytics(series, HAND_RETURNS, HAND_WEIGHTS * 0.9)
    with pytest.raises(AnalyticsError, match="weights must be >= 0; negative for: B"):
        basket_analytics(series, HAND_RETURNS, pd.Series({"A": 1.3, "B": -0.3}))
    with pytest.raises(AnalyticsError, match="weights is empty"):
        basket_analytics(series, HAND_RETURNS, pd.Series(dtype=float))
    with pytest.raises(AnalyticsError, match="risk_free_rate must be finite"):
        basket_analytics(series, HAND_RETURNS, HAND_WEIGHTS, risk_free_rate=float("nan"))
    with pytest.raises(AnalyticsError, match="risk_free_rate must be a number"):
        basket_analytics(series, HAND_RETURNS, HAND_WEIGHTS, risk_free_rate="0.02")  # type: ignore[arg-type]
    far = pd.Series([0.01, 0.02], index=pd.DatetimeIndex(["2030-01-01", "2030-01-02"]))
    with pytest.raises(InsufficientDataError, match="portfolio_returns shares 0 date"):
        basket_analytics(series, HAND_RETURNS, HAND_WEIGHTS, portfolio_returns=far)


# --------------------------------------------------------------------------------------------
# Names and definitions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Tech Leaders", "a", "x" * BASKET_NAME_MAX, "v1.2_beta-3"])
def test_valid_names_are_returned_unchanged(name: str) -> None:
    assert validate_basket_name(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "name must not be empty"),
        ("x" * (BASKET_NAME_MAX + 1), "name is 101 characters long; the maximum is 100"),
        (" lead", "must not start or end with a space"),
        ("trail ", "must not start or end with a space"),
        ("semi;colon/", "found '/', ';' in 'semi;colon/'"),
        ("tab\tname", r"found '\\t'"),
        ("café", "found 'é'"),
        (42, "name must be a string, got int"),
    ],
)
def test_invalid_names(name: object, message: str) -> None:
    with pytest.raises(AnalyticsError, match=message):
        validate_basket_name(name)


def test_definition_equal_upper_cases_tickers() -> None:
    d = validate_basket_definition(tickers=["aapl", "Msft", "BRK-B"], known_symbols=KNOWN)
    assert d == BasketDefinition(tickers=("AAPL", "MSFT", "BRK-B"), method="equal")
    assert_allclose(resolve_weights(d), [1 / 3, 1 / 3, 1 / 3])
    assert list(resolve_weights(d).index) == ["AAPL", "MSFT", "BRK-B"]


def test_definition_custom_weights_are_normalised_exactly() -> None:
    d = validate_basket_definition(
        tickers=["AAPL", "MSFT", "NVDA"],
        weights=[0.5, 0.3, 0.195],
        method="custom",
        known_symbols=KNOWN,
    )
    assert d.weights is not None
    assert_allclose(d.weights, [0.5 / 0.995, 0.3 / 0.995, 0.195 / 0.995], rtol=1e-15)
    assert abs(math.fsum(d.weights) - 1.0) <= 2.0**-52
    w = resolve_weights(d)
    assert list(w) == list(d.weights)
    assert w.name == "weight"
    assert w.index.name == "symbol"


def test_definition_tiny_residual_lands_on_largest_weight() -> None:
    d = validate_basket_definition(
        tickers=["AAPL", "MSFT", "NVDA"],
        weights=[0.1, 0.2, 0.7],
        method="custom",
        known_symbols=KNOWN,
    )
    assert d.weights is not None
    assert abs(math.fsum(d.weights) - 1.0) <= 2.0**-52


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tickers": ["AAPL"], "method": "cap"}, "method must be one of equal, market_cap, custom"),
        ({"tickers": []}, "tickers is empty"),
        ({"tickers": "AAPL"}, "tickers must be a sequence of strings, got str"),
        ({"tickers": ["AAPL", 3]}, "tickers must be strings; got 3"),
        ({"tickers": ["AAPL", "msft", "MSFT", "aapl"]}, "duplicate tickers: AAPL, MSFT"),
        (
            {"tickers": ["ZZZ", "AAPL", "QQQQ", "ABC"]},
            r"unknown tickers \(3\): 'ABC', 'QQQQ', 'ZZZ'",
        ),
        ({"tickers": [" AAPL"]}, r"unknown tickers \(1\): ' AAPL'"),
        (
            {"tickers": ["AAPL"], "weights": [1.0], "method": "equal"},
            "weights are only accepted with method='custom', got method='equal'",
        ),
        (
            {"tickers": ["AAPL"], "weights": [1.0], "method": "market_cap"},
            "only accepted with method='custom'",
        ),
        ({"tickers": ["AAPL"], "method": "custom"}, "method='custom' requires weights"),
        (
            {"tickers": ["AAPL", "MSFT"], "weights": [1.0], "method": "custom"},
            r"weights count \(1\) does not match tickers count \(2\)",
        ),
        (
            {"tickers": ["AAPL", "MSFT", "JPM"], "weights": [1.2, -0.1, -0.1], "method": "custom"},
            "negative for: MSFT, JPM",
        ),
        (
            {"tickers": ["AAPL", "MSFT"], "weights": [float("nan"), 1.0], "method": "custom"},
            "weights must be finite; non-finite for: AAPL",
        ),
        (
            {"tickers": ["AAPL", "MSFT"], "weights": [0.5, float("inf")], "method": "custom"},
            "non-finite for: MSFT",
        ),
        (
            {"tickers": ["AAPL", "MSFT"], "weights": [0.6, 0.3], "method": "custom"},
            r"must sum to 1 ± 0.01, got sum 0.9",
        ),
        (
            {"tickers": ["AAPL", "MSFT"], "weights": [0.6, 0.4111], "method": "custom"},
            r"got sum 1.0111",
        ),
        (
            {"tickers": ["AAPL", "MSFT"], "weights": ["0.5", 0.5], "method": "custom"},
            "weights must be numbers",
        ),
        (
            {"tickers": ["AAPL"], "weights": [True], "method": "custom"},
            "weights must be numbers",
        ),
    ],
)
def test_definition_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(AnalyticsError, match=message):
        validate_basket_definition(known_symbols=KNOWN, **kwargs)  # type: ignore[arg-type]


def test_definition_known_symbols_must_not_be_a_string() -> None:
    with pytest.raises(AnalyticsError, match="known_symbols must be an iterable of symbols"):
        validate_basket_definition(tickers=["A"], known_symbols="ABC")


def test_definition_within_tolerance_edges() -> None:
    ok = validate_basket_definition(
        tickers=["AAPL", "MSFT"], weights=[0.5, 0.5099], method="custom", known_symbols=KNOWN
    )
    assert ok.weights is not None
    assert ok.weights[1] == pytest.approx(0.5099 / 1.0099, rel=1e-15)


def test_direct_definition_checks_invariants() -> None:
    with pytest.raises(AnalyticsError, match="weights must sum to 1"):
        BasketDefinition(tickers=("A", "B"), method="custom", weights=(0.5, 0.4))
    with pytest.raises(AnalyticsError, match="tickers must be unique"):
        BasketDefinition(tickers=("A", "A"), method="equal")
    with pytest.raises(AnalyticsError, match="weights must be None for method='equal'"):
        BasketDefinition(tickers=("A",), method="equal", weights=(1.0,))
    with pytest.raises(AnalyticsError, match="tickers must be a non-empty tuple"):
        BasketDefinition(tickers=(), method="equal")


def test_resolve_market_cap_weights() -> None:
    d = validate_basket_definition(
        tickers=["AAPL", "MSFT", "JPM"], method="market_cap", known_symbols=KNOWN
    )
    caps = pd.Series({"MSFT": 3.0e12, "AAPL": 2.5e12, "JPM": 0.5e12, "XOM": 0.4e12})
    w = resolve_weights(d, caps)
    assert list(w.index) == ["AAPL", "MSFT", "JPM"]
    assert_allclose(w, [2.5 / 6.0, 3.0 / 6.0, 0.5 / 6.0], rtol=1e-15)
    assert abs(math.fsum(w) - 1.0) <= 2.0**-52


def test_resolve_weights_errors() -> None:
    d = validate_basket_definition(
        tickers=["AAPL", "MSFT", "JPM", "NVDA"], method="market_cap", known_symbols=KNOWN
    )
    with pytest.raises(AnalyticsError, match="market_caps is required for method='market_cap'"):
        resolve_weights(d)
    caps = pd.Series({"AAPL": 1.0, "MSFT": 0.0, "JPM": np.nan})
    with pytest.raises(AnalyticsError, match="no positive finite market cap for: JPM, MSFT, NVDA"):
        resolve_weights(d, caps)
    with pytest.raises(AnalyticsError, match="market_caps has duplicate index label"):
        resolve_weights(d, pd.Series([1.0, 2.0], index=["AAPL", "AAPL"]))
    with pytest.raises(AnalyticsError, match="market_caps must be a pandas Series"):
        resolve_weights(d, {"AAPL": 1.0})  # type: ignore[arg-type]
    with pytest.raises(AnalyticsError, match="definition must be a BasketDefinition"):
        resolve_weights(("AAPL",))  # type: ignore[arg-type]


def test_resolve_ignores_caps_for_other_methods() -> None:
    d = validate_basket_definition(tickers=["AAPL", "MSFT"], known_symbols=KNOWN)
    assert_allclose(resolve_weights(d, pd.Series({"AAPL": 9.0})), [0.5, 0.5])


# --------------------------------------------------------------------------------------------
# ETF seeding
# --------------------------------------------------------------------------------------------


def holdings_frame() -> pd.DataFrame:
    rows = []
    latest = {f"T{i:02d}": w for i, w in enumerate([12, 10, 9, 8, 7, 7, 6, 5, 5, 4, 3, 2, 1])}
    for symbol, w in latest.items():
        rows.append(("XLK", "2024-03-31", symbol, w / 100))
    for symbol, w in {"OLD1": 0.6, "OLD2": 0.3, "OLD3": 0.1}.items():
        rows.append(("XLK", "2023-12-31", symbol, w))
    rows.append(("XLE", "2024-03-31", "XOM", 1.0))
    return pd.DataFrame(rows, columns=["etf", "asof_date", "symbol", "weight"])


def test_etf_top_n_equals_holdings_top_n_renormalised() -> None:
    holdings = holdings_frame()
    before = holdings.copy()
    w = etf_basket_weights(holdings, "XLK", top_n=4)
    latest = holdings[(holdings.etf == "XLK") & (holdings.asof_date == "2024-03-31")]
    top = latest.sort_values("weight", ascending=False).head(4).set_index("symbol")["weight"]
    assert list(w.index) == list(top.index) == ["T00", "T01", "T02", "T03"]
    assert_allclose(w.to_numpy(), (top / top.sum()).to_numpy(), rtol=1e-15)
    assert_allclose(w.to_numpy(), [12 / 39, 10 / 39, 9 / 39, 8 / 39], rtol=1e-15)
    assert abs(math.fsum(w) - 1.0) <= 2.0**-52
    pd.testing.assert_frame_equal(holdings, before)


def test_etf_default_top_ten_and_ties_by_symbol() -> None:
    w = etf_basket_weights(holdings_frame(), "XLK")
    assert len(w) == 10
    total = 12 + 10 + 9 + 8 + 7 + 7 + 6 + 5 + 5 + 4
    assert w["T00"] == pytest.approx(12 / total, rel=1e-15)
    w5 = etf_basket_weights(holdings_frame(), "XLK", top_n=5)
    assert list(w5.index) == ["T00", "T01", "T02", "T03", "T04"]  # T04 before T05 (tie at 7)


def test_etf_min_weight_and_as_of() -> None:
    w = etf_basket_weights(holdings_frame(), "XLK", min_weight=0.07)
    assert list(w.index) == ["T00", "T01", "T02", "T03", "T04", "T05"]
    assert_allclose(w.to_numpy(), np.array([12, 10, 9, 8, 7, 7]) / 53, rtol=1e-15)
    old = etf_basket_weights(holdings_frame(), "XLK", as_of="2024-01-15", top_n=2)
    assert list(old.index) == ["OLD1", "OLD2"]
    assert_allclose(old.to_numpy(), [0.6 / 0.9, 0.3 / 0.9], rtol=1e-15)


def test_etf_errors() -> None:
    h = holdings_frame()
    with pytest.raises(AnalyticsError, match="give either top_n or min_weight, not both"):
        etf_basket_weights(h, "XLK", top_n=3, min_weight=0.1)
    with pytest.raises(
        AnalyticsError, match=r"etf 'XLF' has no rows in holdings \(ETFs present: XLE, XLK\)"
    ):
        etf_basket_weights(h, "XLF")
    with pytest.raises(AnalyticsError, match="no holdings snapshot on or before as_of 2023-06-30"):
        etf_basket_weights(h, "XLK", as_of="2023-06-30")
    with pytest.raises(
        AnalyticsError,
        match=r"no holdings of XLK on 2024-03-31 have weight >= min_weight 0.5 \(largest is 0.12\)",
    ):
        etf_basket_weights(h, "XLK", min_weight=0.5)
    with pytest.raises(AnalyticsError, match="top_n must be >= 1"):
        etf_basket_weights(h, "XLK", top_n=0)
    with pytest.raises(AnalyticsError, match=r"min_weight must be in \(0, 1\]"):
        etf_basket_weights(h, "XLK", min_weight=0.0)
    with pytest.raises(AnalyticsError, match="holdings is missing column"):
        etf_basket_weights(h.drop(columns="weight"), "XLK")
    dup = pd.concat([h, h.iloc[[0]]])
    with pytest.raises(AnalyticsError, match="list duplicate symbols: T00"):
        etf_basket_weights(dup, "XLK")
    neg = h.copy()
    neg.loc[1, "weight"] = -0.1
    with pytest.raises(AnalyticsError, match="weight must be >= 0; negative for: T01"):
        etf_basket_weights(neg, "XLK")
    zero = h.copy()
    zero.loc[zero.etf == "XLE", "weight"] = 0.0
    with pytest.raises(AnalyticsError, match="all have zero weight"):
        etf_basket_weights(zero, "XLE")
    with pytest.raises(AnalyticsError, match="as_of is not a date"):
        etf_basket_weights(h, "XLK", as_of="not a date")


def test_equity_curve_hand_worked_with_a_missing_day():
    index = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
    returns = pd.Series([0.1, -0.2, np.nan, 0.05], index=index)
    curve = equity_curve(returns)
    # W = 1.1, 1.1 * 0.8, (no return: unchanged), 0.88 * 1.05; peak 1.1 throughout
    np.testing.assert_allclose(curve["equity"], [1.1, 0.88, 0.88, 0.924], rtol=1e-15)
    np.testing.assert_allclose(curve["drawdown"], [0.0, -0.2, -0.2, -0.16], atol=1e-15)
    # a first loss is a drawdown from the starting wealth 1
    first_loss = equity_curve(pd.Series([-0.1, 0.05], index=index[:2]))
    np.testing.assert_allclose(first_loss["drawdown"], [-0.1, -0.055], atol=1e-15)
    with pytest.raises(AnalyticsError, match="returns has a simple return below -1"):
        equity_curve(pd.Series([-1.5], index=index[:1]))
