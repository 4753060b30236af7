"""The strategy group on a simulated market: universe, scores, target, backtest, trade plan.

Expectations come from the simulation's construction (its planted leveraged/inverse funds),
the optimizer's contract (bounds, full investment) and hand arithmetic on the stored plan, not
from the code under test.
"""

import base64
import math

import pandas as pd
import pytest

from tests.strategy_support import END, run_strategy, seed_simulated, strategy_definitions

MIN_WEIGHT, MAX_WEIGHT = 0.03, 0.075


@pytest.fixture
def strategy_run(tmp_path, database_url, instance):
    database, market = seed_simulated(database_url)
    defs = strategy_definitions(tmp_path, database_url)
    result = run_strategy(defs, instance)
    assert result.success, result
    return database, market, defs, result


def _metadata(result, asset: str) -> dict:
    [event] = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == asset
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_universe_excludes_leveraged_and_inverse_funds_with_reasons(strategy_run):
    database, market, _, result = strategy_run
    universe = database.read_frame(
        "SELECT symbol, eligible, leveraged_inverse, reason FROM strategy_universe "
        "WHERE as_of = :d",
        {"d": END},
    )
    etfs = market.instruments.loc[market.instruments["asset_type"] == "etf", "symbol"]
    assert set(universe["symbol"]) == set(etfs)
    planted = set(market.truth.etf_filter_failures["leveraged_inverse"])
    flagged = set(universe.loc[universe["leveraged_inverse"].astype(bool), "symbol"])
    assert planted <= flagged
    assert not universe.loc[universe["symbol"].isin(planted), "eligible"].astype(bool).any()
    excluded = universe.loc[~universe["eligible"].astype(bool)]
    assert excluded["reason"].notna().all()
    assert universe.loc[universe["eligible"].astype(bool), "reason"].isna().all()
    meta = _metadata(result, "etf_universe")
    assert meta["candidates"] == len(universe)
    assert meta["eligible"] + meta["excluded"] == meta["candidates"]
    assert meta["dagster/partition_row_count"] == len(universe)
    assert "dagster/row_count" not in meta


def test_target_portfolio_is_fully_invested_within_bounds(strategy_run):
    database, _, _, result = strategy_run
    weights = database.read_frame(
        "SELECT symbol, weight FROM target_weights WHERE as_of = :d", {"d": END}
    )
    assert len(weights) == 30
    assert math.fsum(weights["weight"]) == pytest.approx(1.0, abs=1e-8)
    assert weights["weight"].min() >= MIN_WEIGHT - 1e-8
    assert weights["weight"].max() <= MAX_WEIGHT + 1e-8
    scores = database.read_frame(
        "SELECT symbol, combined FROM factor_scores WHERE as_of = :d", {"d": END}
    ).set_index("symbol")["combined"]
    top = set(scores.sort_values(ascending=False).index[:30])
    assert set(weights["symbol"]) == top
    meta = _metadata(result, "target_portfolio")
    hhi = 10_000 * float((weights["weight"] ** 2).sum())
    assert meta["hhi"] == pytest.approx(hhi, rel=1e-9)
    assert meta["effective_n"] == pytest.approx(10_000 / hhi, rel=1e-9)
    assert meta["dagster/partition_row_count"] == len(weights)


def test_backtest_is_stored_and_charted(strategy_run):
    database, _, _, result = strategy_run
    curve = database.read_frame(
        "SELECT date, equity, drawdown, benchmark FROM backtest_equity WHERE as_of = :d "
        "ORDER BY date",
        {"d": END},
    )
    assert len(curve) > 100
    assert str(curve["date"].iloc[-1])[:10] == END.isoformat()
    running_peak = curve["equity"].cummax()
    expected = curve["equity"] / running_peak - 1.0
    assert curve["drawdown"].to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-12)
    assert curve["benchmark"].notna().all()
    meta = _metadata(result, "backtest_results")
    total = curve["equity"].iloc[-1] / 1_000_000.0 - 1.0
    assert meta["total_return"] == pytest.approx(total, rel=1e-9)
    chart = meta["equity_chart"]
    encoded = chart.split("base64,", 1)[1].rstrip(")")
    png = base64.b64decode(encoded)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000


def test_trade_plan_moves_the_paper_book_to_the_target(strategy_run):
    database, market, _, result = strategy_run
    meta = _metadata(result, "trade_plan")
    plan_id = meta["trade_plan_id"]
    trades = database.read_frame(
        "SELECT seq, symbol, side, quantity, price, value FROM trade_plan_trades "
        "WHERE plan_id = :p ORDER BY seq",
        {"p": plan_id},
    )
    sides = trades["side"].tolist()
    assert sides == sorted(sides, key=lambda side: side != "sell"), "sells come before buys"
    held = set(market.positions["symbol"])
    targets = database.read_frame("SELECT symbol FROM target_weights WHERE as_of = :d", {"d": END})[
        "symbol"
    ]
    exits = held - set(targets)
    sold = set(trades.loc[trades["side"] == "sell", "symbol"])
    assert exits <= sold, "every position outside the target is a sell"
    assert (trades["quantity"] > 0).all()
    assert trades["value"].to_numpy() == pytest.approx(
        (trades["quantity"] * trades["price"]).to_numpy(), rel=1e-12
    )
    plan = database.read_frame(
        "SELECT buys_total, sells_total, cash_after, cash_reserve FROM trade_plans WHERE id = :p",
        {"p": plan_id},
    ).iloc[0]
    buys = trades.loc[trades["side"] == "buy", "value"].sum()
    sells = trades.loc[trades["side"] == "sell", "value"].sum()
    assert plan["buys_total"] == pytest.approx(buys, rel=1e-12)
    assert plan["sells_total"] == pytest.approx(sells, rel=1e-12)
    cash = 100_000.0
    assert plan["cash_after"] == pytest.approx(cash + sells - buys, rel=1e-12)
    assert plan["cash_after"] >= plan["cash_reserve"] - 1e-6
    assert meta["trades"] == len(trades)
    assert pd.notna(meta["plan_hash"])
