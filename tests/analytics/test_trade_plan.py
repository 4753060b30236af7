"""Tests for analytics_lib.trade_plan: basket legs and the portfolio rebalance plan.

Expected shares, cash and hashes are worked by hand (or recomputed from the documented formula)
in the tests.
"""

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest

from analytics_lib.exceptions import AnalyticsError
from analytics_lib.trade_plan import (
    LEG_COLUMNS,
    PLAN_COLUMNS,
    LiveBook,
    basket_trade_legs,
    plan_hash,
    rebalance_plan,
    state_drift,
)

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
        (
            {"value": 1e30},
            r"value 1e\+30 needs more than 9,007,199,254,740,992 shares .* for: A, B, C",
        ),
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


# --------------------------------------------------------------------------------------------
# Portfolio rebalance plan (seed 003, section 6)
# --------------------------------------------------------------------------------------------


def _book(
    positions: dict[str, float],
    cash: float,
    prices: dict[str, float],
    nlv: float | None = None,
) -> LiveBook:
    invested = sum(q * prices[s] for s, q in positions.items())
    return LiveBook(
        positions=pd.Series(positions, dtype=float),
        cash=cash,
        net_liquidation=cash + invested if nlv is None else nlv,
        prices=pd.Series(prices, dtype=float),
    )


# The seed's account before its $50,000 deployment: NLV $187,213, cash $98,572, positions
# worth $88,481 (NLV is the broker's figure and differs from cash + invested by $160).
SEED_BOOK = _book(
    {"A": 5_000, "B": 1_000, "C": 2_609}, 98_572.0, {"A": 8.0, "B": 25.0, "C": 9.0}, 187_213.0
)
SEED_BASIS = 88_481.0 + 50_000.0  # "Sizing basis: $138,481 (invested + deploy_cash)"
SEED_WEIGHTS = pd.Series(
    {"A": 60_010 / SEED_BASIS, "B": 40_010 / SEED_BASIS, "C": 38_461 / SEED_BASIS}
)


def test_seed_deploy_50k_example() -> None:
    assert 5_000 * 8 + 1_000 * 25 + 2_609 * 9 == 88_481
    plan = rebalance_plan(SEED_WEIGHTS, SEED_BOOK, deploy_cash=50_000)
    assert plan.sizing_basis == SEED_BASIS == 138_481
    # Targets 60,010 / 40,010 / 38,461 against holdings 40,000 / 25,000 / 23,481:
    # A: 20,010 / 8 = 2501.25 -> 2501; B: 15,010 / 25 = 600.4 -> 600; C: 14,980 / 9 = 1664.4
    # -> 1664. Buys 20,008 + 15,000 + 14,976 = 49,984 ("Buys: $49,984 | Sells: $0").
    assert list(plan.trades.columns) == list(PLAN_COLUMNS)
    assert plan.trades["symbol"].tolist() == ["A", "B", "C"]
    assert plan.trades["side"].tolist() == ["buy"] * 3
    assert plan.trades["quantity"].tolist() == [2501, 600, 1664]
    assert plan.trades["quantity"].dtype == np.int64
    assert plan.trades["value"].tolist() == [20_008.0, 15_000.0, 14_976.0]
    assert plan.trades["reason"].tolist() == ["increase"] * 3
    assert plan.buys_total == 49_984.0
    assert plan.sells_total == 0.0
    assert plan.cash_after == 98_572 - 49_984 == 48_588  # "Cash after: $48,588"
    assert plan.cash_reserve == 98_572 - 50_000
    assert plan.leftover_cash == 16.0  # of the $50,000, $16 stays undeployed
    assert plan.buy_scale == 1.0
    assert plan.transition == {"retained": ("A", "B", "C"), "exiting": (), "entering": ()}
    assert plan.skipped.empty


def test_reserve_mode_sizes_to_nlv_and_scales_buys_to_keep_the_reserve() -> None:
    book = _book({"X": 100, "Y": 200}, 100_000.0, {"X": 50.0, "Y": 100.0, "Z": 80.0})
    weights = pd.Series({"X": 0.4, "Z": 0.4})  # Y exits, Z enters, 20% cash
    plan = rebalance_plan(weights, book)  # default reserve 70,000
    nlv = 100_000 + 100 * 50 + 200 * 100  # 125,000
    assert plan.sizing_basis == nlv
    # Unscaled: X 0.4 * 125,000 / 50 = 1000 -> buy 900; Z 50,000 / 80 = 625. Y sells 200.
    # Cash for buys: 100,000 + 20,000 - 70,000 = 50,000 < 45,000 + 50,000 -> scale by
    # f = 50,000 / (desired 45,000 + 50,000).
    f = 50_000 / 95_000
    qx, qz = math.floor(f * 45_000 / 50), math.floor(f * 50_000 / 80)
    assert (qx, qz) == (473, 328)
    assert plan.buy_scale == pytest.approx(f)
    assert plan.trades["symbol"].tolist() == ["Y", "X", "Z"]  # sells before buys
    assert plan.trades["side"].tolist() == ["sell", "buy", "buy"]
    assert plan.trades["quantity"].tolist() == [200, qx, qz]
    assert plan.trades["reason"].tolist() == ["exit", "increase", "enter"]
    assert plan.sells_total == 20_000.0
    assert plan.buys_total == qx * 50 + qz * 80 == 49_890
    assert plan.cash_after == 100_000 + 20_000 - 49_890
    assert plan.cash_after >= 70_000
    assert plan.leftover_cash == plan.cash_after - 70_000 == 110
    assert plan.transition == {"retained": ("X",), "exiting": ("Y",), "entering": ("Z",)}


def test_reserve_mode_without_scaling_and_reductions() -> None:
    book = _book({"X": 1_000, "Y": 10}, 200_000.0, {"X": 50.0, "Y": 100.0}, nlv=251_000.0)
    weights = pd.Series({"X": 0.1, "Y": 0.3})
    plan = rebalance_plan(weights, book, cash_reserve=10_000)
    # X: 25,100 / 50 = 502 -> sell 498; Y: 75,300 / 100 = 753 -> buy 743.
    assert plan.trades["symbol"].tolist() == ["X", "Y"]
    assert plan.trades["side"].tolist() == ["sell", "buy"]
    assert plan.trades["quantity"].tolist() == [498, 743]
    assert plan.trades["reason"].tolist() == ["reduce", "increase"]
    assert plan.buy_scale == 1.0
    assert plan.cash_after == 200_000 + 498 * 50 - 743 * 100


def test_min_trade_value_skips_small_trades_but_not_exits() -> None:
    book = _book(
        {"X": 101, "Y": 100, "W": 1}, 10_000.0, {"X": 30.0, "Y": 10.0, "W": 5.0, "V": 60.0}
    )
    total = 10_000 + 101 * 30 + 100 * 10 + 5  # 14,035
    # X target 3,000 / 30 = 100 -> sell 1 ($30, skipped); Y target 1,010 / 10 = 101 -> buy 1
    # ($10, skipped); V enters with 7,000 / 60 = 116 shares; W (not targeted) exits for $5.
    weights = pd.Series({"X": 3_000 / total, "Y": 1_010 / total, "V": 7_000 / total})
    plan = rebalance_plan(weights, book, cash_reserve=0, min_trade_value=100)
    assert plan.trades["symbol"].tolist() == ["W", "V"]
    assert plan.trades["quantity"].tolist() == [1, 116]
    assert plan.trades["reason"].tolist() == ["exit", "enter"]
    assert plan.skipped["symbol"].tolist() == ["X", "Y"]
    assert plan.skipped["side"].tolist() == ["sell", "buy"]
    assert plan.skipped["quantity"].tolist() == [1, 1]
    assert plan.skipped["value"].tolist() == [30.0, 10.0]
    assert list(plan.skipped.columns) == list(PLAN_COLUMNS)
    assert plan.transition == {"retained": ("X", "Y"), "exiting": ("W",), "entering": ("V",)}


def test_short_positions_are_covered_as_exits_or_increases() -> None:
    book = _book({"S": -10, "T": -5}, 5_000.0, {"S": 20.0, "T": 40.0})
    invested = -10 * 20 - 5 * 40  # -400
    plan = rebalance_plan(pd.Series({"T": 0.5}), book, deploy_cash=1_000)
    # Basis = -400 + 1,000 = 600; T target 300 / 40 = 7 shares -> buy 12; S covered (exit).
    assert plan.sizing_basis == invested + 1_000
    assert plan.trades["symbol"].tolist() == ["S", "T"]
    assert plan.trades["side"].tolist() == ["buy", "buy"]
    assert plan.trades["quantity"].tolist() == [10, 12]
    assert plan.trades["reason"].tolist() == ["exit", "increase"]
    assert plan.cash_after == 5_000 - 200 - 480


def test_covering_shorts_without_cash_is_an_error() -> None:
    book = _book({"S": -100}, 500.0, {"S": 20.0}, nlv=5_000.0)
    message = r"book\.positions: covering short positions costs 2,000\.00 but cash plus sales"
    with pytest.raises(AnalyticsError, match=message):
        rebalance_plan(pd.Series(dtype=float), book, cash_reserve=0)


def test_cash_below_reserve_buys_nothing() -> None:
    book = _book({"X": 10}, 50_000.0, {"X": 100.0, "Z": 10.0})
    plan = rebalance_plan(pd.Series({"X": 0.01, "Z": 0.9}), book)
    # X: 510 / 100 = 5 -> sell 5 ($500); buys would need more than 50,500 - 70,000 < 0.
    assert plan.trades["side"].tolist() == ["sell"]
    assert plan.buys_total == 0.0
    assert plan.buy_scale == 0.0
    assert plan.cash_after == 50_500
    assert plan.leftover_cash == 50_500 - 70_000


@pytest.mark.parametrize("seed", range(30))
def test_plan_invariants_on_random_books(seed: int) -> None:
    rng = np.random.default_rng(seed)
    symbols = [f"T{i}" for i in range(12)]
    prices = dict(zip(symbols, np.round(rng.uniform(1, 500, 12), 2).tolist(), strict=True))
    held = rng.choice(symbols, size=int(rng.integers(0, 8)), replace=False)
    positions = {s: float(rng.integers(1, 400)) for s in held}
    cash = float(np.round(rng.uniform(0, 200_000), 2))
    book = _book(positions, cash, prices)
    chosen = rng.choice(symbols, size=int(rng.integers(1, 10)), replace=False)
    raw = rng.random(len(chosen))
    weights = pd.Series(raw / raw.sum() * rng.uniform(0.5, 1.0), index=chosen)
    deploy = None if seed % 2 else float(np.round(rng.uniform(0, cash), 2))
    reserve = float(rng.uniform(0, 100_000))
    plan = rebalance_plan(weights, book, deploy_cash=deploy, cash_reserve=reserve)

    trades = plan.trades
    assert (trades["quantity"] > 0).all()
    sides = trades["side"].tolist()
    assert sides == sorted(sides, key=lambda side: side != "sell")  # sells first
    assert plan.cash_after >= 0
    assert plan.cash_after == pytest.approx(cash + plan.sells_total - plan.buys_total)
    expected_reserve = reserve if deploy is None else cash - deploy
    assert plan.cash_reserve == pytest.approx(expected_reserve)
    if cash + plan.sells_total >= expected_reserve:
        assert plan.cash_after >= expected_reserve - 1e-9
    after = pd.Series(positions, dtype=float).reindex(symbols, fill_value=0.0)
    signed = trades.set_index("symbol")["quantity"].where(
        trades.set_index("symbol")["side"] == "buy", -trades.set_index("symbol")["quantity"]
    )
    after = after.add(signed, fill_value=0.0)
    basis = plan.sizing_basis
    for s in symbols:
        if s in weights.index:
            assert after[s] <= math.floor(weights[s] * basis / prices[s] * (1 + 1e-12))
            assert after[s] >= 0
        else:
            assert after[s] == 0  # exits are full
    exiting = set(positions) - set(weights.index)
    assert set(plan.transition["exiting"]) == exiting
    assert set(plan.transition["entering"]) == set(weights.index) - set(positions)


def test_plan_inputs_are_not_mutated() -> None:
    weights = SEED_WEIGHTS.copy()
    positions = SEED_BOOK.positions.copy()
    rebalance_plan(weights, SEED_BOOK, deploy_cash=50_000)
    pd.testing.assert_series_equal(weights, SEED_WEIGHTS)
    pd.testing.assert_series_equal(SEED_BOOK.positions, positions)


# --------------------------------------------------------------------------------------------
# Snapshot, hash and drift
# --------------------------------------------------------------------------------------------


def test_state_is_json_and_hash_is_the_documented_sha256() -> None:
    plan = rebalance_plan(SEED_WEIGHTS, SEED_BOOK, deploy_cash=50_000)
    state = plan.state
    assert json.loads(json.dumps(state)) == state
    assert state["positions"] == {"A": 5_000, "B": 1_000, "C": 2_609}
    assert state["cash"] == 98_572.0 and state["net_liquidation"] == 187_213.0
    assert state["prices"] == {"A": 8.0, "B": 25.0, "C": 9.0}
    assert state["deploy_cash"] == 50_000.0 and state["cash_after"] == 48_588.0
    assert state["trades"][0] == {
        "symbol": "A",
        "side": "buy",
        "quantity": 2501,
        "price": 8.0,
        "value": 20_008.0,
        "reason": "increase",
    }
    payload = {
        "target_weights": state["target_weights"],
        "book": {k: state[k] for k in ("positions", "cash", "net_liquidation", "prices")},
        "trades": state["trades"],
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    assert state["plan_hash"] == hashlib.sha256(text.encode()).hexdigest()


def test_hash_is_stable_and_changes_with_a_quantity() -> None:
    one = rebalance_plan(SEED_WEIGHTS, SEED_BOOK, deploy_cash=50_000).state
    two = rebalance_plan(SEED_WEIGHTS.copy(), SEED_BOOK, deploy_cash=50_000).state
    assert one["plan_hash"] == two["plan_hash"]
    edited = json.loads(json.dumps(one))
    edited["trades"][1]["quantity"] += 1
    assert plan_hash(edited["target_weights"], edited, edited["trades"]) != one["plan_hash"]
    # A different holding changes the plan and the hash.
    other = _book(
        {"A": 5_001, "B": 1_000, "C": 2_609}, 98_572.0, {"A": 8.0, "B": 25.0, "C": 9.0}, 187_213.0
    )
    assert (
        rebalance_plan(SEED_WEIGHTS, other, deploy_cash=50_000).state["plan_hash"]
        != one["plan_hash"]
    )


def test_state_drift_none_after_a_json_round_trip() -> None:
    state = json.loads(
        json.dumps(rebalance_plan(SEED_WEIGHTS, SEED_BOOK, deploy_cash=50_000).state)
    )
    assert state_drift(state, SEED_BOOK, 0.0) == []


def test_state_drift_names_each_difference() -> None:
    state = rebalance_plan(SEED_WEIGHTS, SEED_BOOK, deploy_cash=50_000).state
    live = _book(
        {"A": 5_000, "B": 900, "C": 2_609, "D": 3},
        90_000.0,
        {"A": 8.1, "B": 25.0, "C": 10.0, "D": 1.0},
        187_300.0,
    )
    problems = state_drift(state, live, 0.02)
    assert problems == [
        "B: 1,000 shares in the plan, 900 now",
        "D: 0 shares in the plan, 3 now",
        "cash: 98,572.00 in the plan, 90,000.00 now (-8.70%)",
        "C price: 9.00 in the plan, 10.00 now (+11.11%)",
    ]
    # NLV moved 0.05% and A's price 1.25%: within 2%. At 1% A's price is reported too.
    assert "A price: 8.00 in the plan, 8.10 now (+1.25%)" in state_drift(state, live, 0.01)


def test_state_drift_reports_missing_prices_and_edits() -> None:
    state = json.loads(
        json.dumps(rebalance_plan(SEED_WEIGHTS, SEED_BOOK, deploy_cash=50_000).state)
    )
    state["trades"][0]["quantity"] = 9_999  # edited after planning
    live = _book({"B": 1_000, "C": 2_609}, 98_572.0, {"B": 25.0, "C": 9.0}, 187_213.0)
    assert state_drift(state, live, 0.01) == [
        "plan_hash: the snapshot's weights, book or trades no longer match its hash "
        "(edited after planning)",
        "A: 5,000 shares in the plan, 0 now",
        "A price: 8.00 in the plan, missing now",
    ]


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"positions": {"A": 1}}, "positions must be a pandas Series"),
        ({"positions": pd.Series({"A": 1.5})}, "positions must be whole shares; fractional for: A"),
        ({"positions": pd.Series({"A": np.nan})}, "positions must be finite; not for: A"),
        ({"positions": pd.Series([1, 2], index=["A", "A"])}, "positions has duplicate index"),
        ({"positions": pd.Series({"A": 1, "Z": 2})}, r"prices are missing for held symbol\(s\): Z"),
        ({"cash": np.inf}, "cash must be finite"),
        ({"net_liquidation": "1"}, "net_liquidation must be a real number"),
        ({"prices": pd.Series({"A": 0.0})}, "prices must be positive and finite; not for: A"),
        ({"prices": pd.Series({"A": np.nan})}, "prices must be positive and finite; not for: A"),
    ],
)
def test_live_book_errors(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "positions": pd.Series({"A": 10}),
        "cash": 1_000.0,
        "net_liquidation": 2_000.0,
        "prices": pd.Series({"A": 100.0}),
    }
    args.update(kwargs)
    with pytest.raises(AnalyticsError, match=message):
        LiveBook(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_weights": {"A": 1.0}}, "target_weights must be a pandas Series"),
        (
            {"target_weights": pd.Series({"A": -0.1})},
            "target_weights must be >= 0; negative for: A",
        ),
        ({"target_weights": pd.Series({"A": np.nan})}, "target_weights must be finite"),
        (
            {"target_weights": pd.Series({"A": 0.6, "B": 0.5})},
            "target_weights must sum to at most 1, got 1.1",
        ),
        (
            {"target_weights": pd.Series([0.1, 0.1], index=["A", "A"])},
            "target_weights has duplicate",
        ),
        (
            {"target_weights": pd.Series({"Q": 0.5})},
            r"book.prices are missing for target symbol\(s\): Q",
        ),
        ({"book": {"positions": {}}}, "book must be a LiveBook"),
        ({"deploy_cash": -1.0}, "deploy_cash must be >= 0, got -1.0"),
        ({"deploy_cash": 5_000.0}, "deploy_cash 5,000.00 exceeds the book's cash 1,000.00"),
        ({"deploy_cash": np.nan}, "deploy_cash must be finite"),
        ({"cash_reserve": -5}, "cash_reserve must be >= 0, got -5"),
        ({"min_trade_value": -1}, "min_trade_value must be >= 0, got -1"),
        ({"min_trade_value": None}, "min_trade_value must be a real number"),
        (
            {"book": LiveBook(pd.Series(dtype=float), 10.0, 0.0, pd.Series({"A": 1.0}))},
            "the sizing basis must be > 0, got 0.00",
        ),
    ],
)
def test_rebalance_plan_errors(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "target_weights": pd.Series({"A": 0.5}),
        "book": _book({"A": 10}, 1_000.0, {"A": 100.0}),
    }
    args.update(kwargs)
    with pytest.raises(AnalyticsError, match=message):
        rebalance_plan(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("snapshot", "book", "tolerance", "message"),
    [
        ([1, 2], SEED_BOOK, 0.01, "snapshot must be a mapping, got list"),
        (
            {"positions": {}},
            SEED_BOOK,
            0.01,
            "snapshot is missing key.*cash, net_liquidation, prices",
        ),
        (
            {"positions": [1], "cash": 1.0, "net_liquidation": 1.0, "prices": {}},
            SEED_BOOK,
            0.01,
            r"snapshot\['positions'\] must be a mapping",
        ),
        (
            {"positions": {}, "cash": "x", "net_liquidation": 1.0, "prices": {}},
            SEED_BOOK,
            0.01,
            r"snapshot\['cash'\] must be a real number",
        ),
        (
            {"positions": {}, "cash": 1.0, "net_liquidation": 1.0, "prices": {}},
            "book",
            0.01,
            "book must be a LiveBook",
        ),
        (
            {"positions": {}, "cash": 1.0, "net_liquidation": 1.0, "prices": {}},
            SEED_BOOK,
            -0.1,
            "tolerance must be >= 0",
        ),
        (
            {"positions": {}, "cash": 1.0, "net_liquidation": 1.0, "prices": {}},
            SEED_BOOK,
            np.inf,
            "tolerance must be finite",
        ),
    ],
)
def test_state_drift_errors(snapshot, book, tolerance, message) -> None:
    with pytest.raises(AnalyticsError, match=message):
        state_drift(snapshot, book, tolerance)
