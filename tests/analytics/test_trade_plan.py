"""Tests for analytics_lib.trade_plan.basket_trade_legs (expected shares worked by hand)."""

import math

import numpy as np
import pandas as pd
import pytest

from analytics_lib.exceptions import AnalyticsError
from analytics_lib.trade_plan import LEG_COLUMNS, basket_trade_legs

WEIGHTS = pd.Series({"A": 0.5, "B": 0.3, "C": 0.2})
PRICES = pd.Series({"A": 123.45, "B": 67.89, "C": 250.0, "D": 10.0})


def test_buy_hand_worked() -> None:
    out = basket_trade_legs(action="buy", value=10_000, weights=WEIGHTS, prices=PRICES)
    # A: 5000 / 123.45 = 40.50 -> 40; B: 3000 / 67.89 = 44.19 -> 44; C: 2000 / 250 = 8.
    assert list(out.legs.columns) == list(LEG_COLUMNS)
    assert list(out.legs.index) == ["A", "B", "C"]
    assert list(out.legs["side"]) == ["BUY", "BUY", "BUY"]
    assert list(out.legs["quantity"]) == [40, 44, 8]
    assert out.legs["quantity"].dtype == np.int64
    assert out.legs["notional"].tolist() == pytest.approx([40 * 123.45, 44 * 67.89, 8 * 250.0])
    assert out.legs["target_value"].tolist() == pytest.approx([5000.0, 3000.0, 2000.0])
    assert list(out.legs["current_quantity"]) == [0, 0, 0]
    assert out.leftover_cash == pytest.approx(10_000 - 4938.0 - 2987.16 - 2000.0, abs=1e-9)
    assert out.omitted == ()
    assert out.warnings == ()
    assert (out.action, out.value) == ("buy", 10_000.0)


def test_buy_price_above_allocation_gets_zero_shares_and_a_warning() -> None:
    prices = pd.Series({"A": 100.0, "B": 30.0, "C": 250.0})
    out = basket_trade_legs(action="buy", value=1_000, weights=WEIGHTS, prices=prices)
    # A: 500 / 100 = 5; B: 300 / 30 = 10 (exactly, despite 0.3 * 1000 in floating point);
    # C: 200 / 250 = 0.8 -> 0 shares.
    assert list(out.legs.index) == ["A", "B"]
    assert list(out.legs["quantity"]) == [5, 10]
    assert out.omitted == ("C",)
    assert out.leftover_cash == pytest.approx(1_000 - 500 - 300, abs=1e-12)
    assert len(out.warnings) == 1
    assert "C: price 250.00 exceeds its allocation 200.00" in out.warnings[0]


def test_floating_noise_never_costs_a_share() -> None:
    weights = pd.Series({"A": 0.7, "B": 0.1, "C": 0.2})
    prices = pd.Series({"A": 7.0, "B": 0.1, "C": 2.0})
    out = basket_trade_legs(action="buy", value=1_000, weights=weights, prices=prices)
    assert list(out.legs["quantity"]) == [100, 1000, 100]  # 700/7, 100/0.1, 200/2


def test_sell_proportional_hand_worked() -> None:
    holdings = pd.Series({"A": 40, "B": 44, "C": 8, "D": 100})  # D is not in the basket
    out = basket_trade_legs(
        action="sell", value=5_000, weights=WEIGHTS, prices=PRICES, holdings=holdings
    )
    market_value = 40 * 123.45 + 44 * 67.89 + 8 * 250.0  # 9925.16
    f = 5_000 / market_value
    # A: 40 f = 20.15 -> 20; B: 44 f = 22.17 -> 22; C: 8 f = 4.03 -> 4.
    assert [math.floor(40 * f), math.floor(44 * f), math.floor(8 * f)] == [20, 22, 4]
    assert list(out.legs.index) == ["A", "B", "C"]
    assert list(out.legs["side"]) == ["SELL"] * 3
    assert list(out.legs["quantity"]) == [20, 22, 4]
    assert list(out.legs["current_quantity"]) == [40, 44, 8]
    proceeds = 20 * 123.45 + 22 * 67.89 + 4 * 250.0
    assert out.leftover_cash == pytest.approx(5_000 - proceeds, abs=1e-9)
    assert out.legs["target_value"].tolist() == pytest.approx(
        [40 * 123.45 * f, 44 * 67.89 * f, 8 * 250.0 * f]
    )
    assert out.warnings == ()


def test_sell_more_than_held_sells_everything_and_warns() -> None:
    holdings = pd.Series({"A": 40, "B": 44, "C": 8})
    out = basket_trade_legs(
        action="sell", value=20_000, weights=WEIGHTS, prices=PRICES, holdings=holdings
    )
    assert list(out.legs["quantity"]) == [40, 44, 8]
    assert out.leftover_cash == pytest.approx(20_000 - 9925.16, abs=1e-9)
    assert len(out.warnings) == 1
    assert "exceeds the basket's holdings market value 9,925.16; selling all" in out.warnings[0]


def test_sell_with_partial_holdings_and_rounding_to_zero() -> None:
    holdings = pd.Series({"A": 10, "C": 1})  # no B
    out = basket_trade_legs(
        action="sell", value=300, weights=WEIGHTS, prices=PRICES, holdings=holdings
    )
    market_value = 10 * 123.45 + 1 * 250.0  # 1484.5
    # A: 10 * 300 / 1484.5 = 2.02 -> 2; C: 1 * 300 / 1484.5 = 0.20 -> 0 (warned).
    assert list(out.legs.index) == ["A"]
    assert list(out.legs["quantity"]) == [2]
    assert out.omitted == ("B", "C")
    assert out.leftover_cash == pytest.approx(300 - 2 * 123.45, abs=1e-9)
    assert any(w.startswith("C: the proportional sale") for w in out.warnings)
    assert market_value == pytest.approx(1484.5)


def test_rebalance_hand_worked() -> None:
    holdings = pd.Series({"A": 50, "B": 10, "D": 7})
    out = basket_trade_legs(
        action="rebalance", value=10_000, weights=WEIGHTS, prices=PRICES, holdings=holdings
    )
    # Targets as in the buy example: A 40, B 44, C 8 -> A sells 10, B buys 34, C buys 8.
    assert list(out.legs.index) == ["A", "B", "C"]
    assert list(out.legs["side"]) == ["SELL", "BUY", "BUY"]
    assert list(out.legs["quantity"]) == [10, 34, 8]
    assert list(out.legs["current_quantity"]) == [50, 10, 0]
    assert out.leftover_cash == pytest.approx(10_000 - 4938.0 - 2987.16 - 2000.0, abs=1e-9)


def test_rebalance_sells_zero_weight_tickers_and_omits_matching_ones() -> None:
    weights = pd.Series({"A": 0.5, "B": 0.5, "C": 0.0})
    prices = pd.Series({"A": 100.0, "B": 50.0, "C": 20.0})
    holdings = pd.Series({"A": 10, "B": 3, "C": 5})
    out = basket_trade_legs(
        action="rebalance", value=2_000, weights=weights, prices=prices, holdings=holdings
    )
    # Targets: A 1000 / 100 = 10 (held: no leg), B 1000 / 50 = 20 (buy 17), C 0 (sell 5).
    assert list(out.legs.index) == ["B", "C"]
    assert list(out.legs["side"]) == ["BUY", "SELL"]
    assert list(out.legs["quantity"]) == [17, 5]
    assert out.omitted == ("A",)
    assert out.warnings == ()  # C has zero weight: no "price exceeds allocation" warning


@pytest.mark.parametrize("seed", range(25))
def test_invariants_on_random_baskets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 12))
    tickers = [f"T{i}" for i in range(n)]
    raw = rng.random(n)
    weights = pd.Series(raw / raw.sum(), index=tickers)
    prices = pd.Series(np.round(rng.uniform(1, 900, n), 2), index=tickers)
    holdings = pd.Series(rng.integers(0, 300, n).astype(float), index=tickers)
    if holdings.sum() == 0:
        holdings.iloc[0] = 1.0
    value = float(np.round(rng.uniform(100, 100_000), 2))

    buy = basket_trade_legs(action="buy", value=value, weights=weights, prices=prices)
    assert buy.legs["notional"].sum() <= value * (1 + 1e-12)
    assert (buy.legs["side"] == "BUY").all()
    assert buy.leftover_cash >= -1e-9 * value

    sell = basket_trade_legs(
        action="sell", value=value, weights=weights, prices=prices, holdings=holdings
    )
    assert (sell.legs["quantity"] <= holdings.reindex(sell.legs.index)).all()
    assert sell.legs["notional"].sum() <= value * (1 + 1e-12)
    assert (sell.legs["quantity"] > 0).all()

    reb = basket_trade_legs(
        action="rebalance", value=value, weights=weights, prices=prices, holdings=holdings
    )
    signed = reb.legs["quantity"].where(reb.legs["side"] == "BUY", -reb.legs["quantity"])
    after = holdings.add(signed, fill_value=0).reindex(tickers)
    target = np.floor(weights * value / prices * (1 + 1e-12))
    assert (after == target).all()
    assert (after >= 0).all()
    assert set(reb.legs.index) | set(reb.omitted) == set(tickers)


def test_inputs_are_not_mutated() -> None:
    w, p, h = WEIGHTS.copy(), PRICES.copy(), pd.Series({"A": 3.0})
    basket_trade_legs(action="rebalance", value=5_000, weights=w, prices=p, holdings=h)
    pd.testing.assert_series_equal(w, WEIGHTS)
    pd.testing.assert_series_equal(p, PRICES)
    pd.testing.assert_series_equal(h, pd.Series({"A": 3.0}))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "short"}, "action must be one of buy, sell, rebalance, got 'short'"),
        ({"value": 0}, "value must be > 0, got 0"),
        ({"value": -5.0}, "value must be > 0, got -5.0"),
        ({"value": float("inf")}, "value must be finite, got inf"),
        ({"value": float("nan")}, "value must be finite"),
        ({"value": True}, "value must be a real number, got True"),
        ({"weights": pd.Series({"A": 0.5, "B": 0.4})}, "weights must sum to 1, got 0.9"),
        ({"weights": pd.Series({"A": 1.5, "B": -0.5})}, "weights must be >= 0; negative for: B"),
        ({"weights": pd.Series({"A": np.nan, "B": 1.0})}, "non-finite for: A"),
        ({"weights": pd.Series(dtype=float)}, "weights is empty"),
        ({"weights": {"A": 1.0}}, "weights must be a pandas Series"),
        (
            {"prices": pd.Series({"A": 10.0})},
            "prices are missing for: B, C",
        ),
        (
            {"prices": pd.Series({"A": 10.0, "B": 0.0, "C": -1.0})},
            "prices must be positive and finite; not for: B, C",
        ),
        (
            {"prices": pd.Series({"A": 10.0, "B": np.inf, "C": 1.0})},
            "not for: B",
        ),
        (
            {"holdings": pd.Series({"A": 5.0, "B": -2.0, "Z": -1.0})},
            r"holdings must be >= 0 \(no short positions\); negative for: B, Z",
        ),
        ({"holdings": pd.Series({"A": 1.5})}, "holdings must be whole shares; fractional for: A"),
        ({"holdings": pd.Series({"A": np.nan})}, "holdings must be finite; not for: A"),
        ({"holdings": pd.Series([1.0, 2.0], index=["A", "A"])}, "holdings has duplicate index"),
        ({"action": "sell", "holdings": None}, "holdings is required for action='sell'"),
        (
            {"action": "sell", "holdings": pd.Series({"D": 10.0})},
            r"no shares of the basket's tickers \(A, B, C\): nothing to sell",
        ),
    ],
)
def test_errors(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "action": "buy",
        "value": 1_000.0,
        "weights": WEIGHTS,
        "prices": PRICES,
        "holdings": pd.Series({"A": 1.0}),
    }
    args.update(kwargs)
    with pytest.raises(AnalyticsError, match=message):
        basket_trade_legs(**args)  # type: ignore[arg-type]
