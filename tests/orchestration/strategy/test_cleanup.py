"""Account cleanup before planning (the seed's phase 1): open orders of no trade group of ours
are listed and cancelled only when configured; short positions are reported, left out of the
plan, and covered only when configured."""

import json

import pytest
from sqlalchemy import insert

from orchestration.resources.broker import OrderRequest, OrderSide
from orchestration.storage.models import PaperPosition
from tests.strategy_support import END, run_strategy, seed_simulated, strategy_definitions
from tests.trading_support import paper_broker

LATENT = {"PORTFOLIO_PAPER_FILL_LATENCY_SECONDS": "3600", "PORTFOLIO_PAPER_CASH": "1000000"}


@pytest.fixture
def book(sqlite_url):
    database, _ = seed_simulated(sqlite_url, with_positions=False)
    broker = paper_broker(sqlite_url, cash=1_000_000.0, fill_latency_seconds=3600.0)
    broker.place(OrderRequest("E0001", OrderSide.BUY, 10, "manual-order-1"))
    with database.transaction() as connection:
        connection.execute(
            insert(PaperPosition.__table__).values(
                account="PAPER", symbol="XLK", quantity=-20.0, average_cost=100.0
            )
        )
    return database


def _plan(database, plan_id):
    row = database.read_frame("SELECT cleanup FROM trade_plans WHERE id = :p", {"p": plan_id})
    cleanup = row["cleanup"].iloc[0]
    trades = database.read_frame(
        "SELECT symbol, side, quantity FROM trade_plan_trades WHERE plan_id = :p", {"p": plan_id}
    )
    return (json.loads(cleanup) if isinstance(cleanup, str) else cleanup), trades


def _plan_id(result):
    [event] = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "trade_plan"
    ]
    return event.materialization.metadata["trade_plan_id"].value


def test_cleanup_reports_by_default(book, tmp_path, sqlite_url, instance):
    defs = strategy_definitions(tmp_path, sqlite_url, **LATENT)
    result = run_strategy(defs, instance, END)
    assert result.success
    cleanup, trades = _plan(book, _plan_id(result))
    assert cleanup["foreign_open_orders"] == ["manual-order-1: BUY 10 E0001"]
    assert cleanup["cancelled_orders"] == []
    assert cleanup["short_positions"] == ["XLK"]
    assert cleanup["shorts_covered"] is False
    assert "XLK" not in set(trades["symbol"]), "an uncovered short stays out of the plan"


def test_cleanup_cancels_and_covers_when_configured(book, tmp_path, sqlite_url, instance):
    defs = strategy_definitions(
        tmp_path,
        sqlite_url,
        PORTFOLIO_CLEANUP_CANCEL_ORDERS="true",
        PORTFOLIO_CLEANUP_COVER_SHORTS="true",
        **LATENT,
    )
    result = run_strategy(defs, instance, END)
    assert result.success
    cleanup, trades = _plan(book, _plan_id(result))
    assert cleanup["cancelled_orders"] == ["manual-order-1"]
    assert cleanup["shorts_covered"] is True
    cover = trades.loc[trades["symbol"] == "XLK"]
    assert cover[["side", "quantity"]].values.tolist() == [["buy", 20]]
    open_orders = book.read_frame(
        "SELECT COUNT(*) AS n FROM paper_orders WHERE order_ref = 'manual-order-1' "
        "AND status = 'cancelled'"
    )
    assert int(open_orders["n"].iloc[0]) == 1
