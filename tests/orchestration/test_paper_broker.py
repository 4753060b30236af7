"""The paper broker on SQLite and PostgreSQL: fills, commissions, rejects, partial fills,
latency, cancels, dropped connections; expected values worked by hand from the tiny market
(latest close of S<i> = 20 + 7 i)."""

import datetime as dt
from dataclasses import replace

import pytest

from orchestration.resources.broker import (
    BrokerDisconnected,
    BrokerError,
    OrderRequest,
    OrderSide,
    OrderStatus,
)
from orchestration.resources.paper_broker import PaperBroker
from tests.trading_support import HOLDINGS, PAPER, close, paper_broker, seed_market

BUY, SELL = OrderSide.BUY, OrderSide.SELL


class Clock:
    """A settable clock for the broker's fill latency."""

    def __init__(self) -> None:
        self.now = dt.datetime(2024, 3, 28, 15, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def market(database_url):
    seed_market(database_url)
    return database_url


def _orders(database_url: str) -> list[tuple]:
    broker = paper_broker(database_url)
    with broker._engine.connect() as connection:
        return connection.exec_driver_sql(
            "SELECT order_ref, status, filled_quantity FROM paper_orders ORDER BY id"
        ).all()


def test_account_opens_from_the_portfolio_and_cash(market):
    broker = paper_broker(market)
    positions = {p.symbol: p.quantity for p in broker.positions()}
    assert positions == HOLDINGS
    summary = broker.account_summary()
    # cash 1,000,000 + 100 × 27 + 50 × 34 + 10 × 41 = 1,004,810
    assert summary.cash == 1_000_000.0
    assert summary.net_liquidation == pytest.approx(1_000_000 + 100 * 27 + 50 * 34 + 10 * 41)
    assert summary.account == "PAPER"


def test_quotes_are_the_latest_close(market):
    broker = paper_broker(market)
    quotes = broker.quotes(["S01", "S12"])
    assert quotes["S01"].last == close("S01") == 27.0
    assert quotes["S12"].last == 104.0
    with pytest.raises(BrokerError, match="no price for NOPE"):
        broker.quotes(["S01", "NOPE"])


def test_market_buy_fills_at_close_plus_slippage_with_commission(market):
    broker = paper_broker(market)  # 10 bps slippage, 0.01/share, minimum 1.00
    state = broker.place(OrderRequest("S04", BUY, 200, "ref-1"))
    # 48 × 1.001 = 48.048; commission max(1, 200 × 0.01) = 2.00
    assert state.status == OrderStatus.FILLED
    assert state.filled_quantity == 200
    assert state.average_fill_price == pytest.approx(48.048)
    [fill] = broker.executions()
    assert (fill.order_ref, fill.quantity, fill.commission) == ("ref-1", 200, pytest.approx(2.0))
    assert broker.account_summary().cash == pytest.approx(1_000_000 - 200 * 48.048 - 2.0)
    assert {p.symbol: p.quantity for p in broker.positions()}["S04"] == 200
    assert broker.order_status("ref-1") == state
    assert [o.order_ref for o in broker.completed_orders()] == ["ref-1"]
    assert broker.open_orders() == []


def test_market_sell_fills_at_close_minus_slippage_and_never_goes_short(market):
    broker = paper_broker(market)
    state = broker.place(OrderRequest("S01", SELL, 40, "ref-s"))
    # 27 × 0.999 = 26.973; commission minimum 1.00 (40 × 0.01 = 0.40)
    assert state.average_fill_price == pytest.approx(26.973)
    assert broker.account_summary().cash == pytest.approx(1_000_000 + 40 * 26.973 - 1.0)
    position = {p.symbol: p for p in broker.positions()}["S01"]
    assert position.quantity == 60
    short = broker.place(OrderRequest("S01", SELL, 61, "ref-short"))
    assert short.status == OrderStatus.REJECTED
    assert "does not sell short" in short.reason


def test_buy_average_cost_is_quantity_weighted(market):
    broker = paper_broker(market, slippage_bps=0.0)
    broker.place(OrderRequest("S01", BUY, 100, "ref-avg"))
    # opened at cost basis 100 × 27 (average 27), bought 100 at 27: average stays 27
    assert {p.symbol: p.average_cost for p in broker.positions()}["S01"] == pytest.approx(27.0)
    broker.place(OrderRequest("S05", BUY, 10, "ref-new"))
    assert {p.symbol: p.average_cost for p in broker.positions()}["S05"] == pytest.approx(55.0)


def test_rejected_symbols_and_insufficient_cash(market):
    broker = paper_broker(market, reject_symbols=("S02",), cash=100.0)
    rejected = broker.place(OrderRequest("S02", BUY, 1, "ref-r"))
    assert rejected.status == OrderStatus.REJECTED
    assert rejected.reason == "paper broker rejects S02 (PORTFOLIO_PAPER_REJECT_SYMBOLS)"
    assert rejected.filled_quantity == 0
    poor = broker.place(OrderRequest("S03", BUY, 10, "ref-cash"))
    assert poor.status == OrderStatus.REJECTED
    assert poor.reason.startswith("insufficient cash")
    assert broker.executions() == []


def test_partial_fill_cancels_the_remainder(market):
    broker = paper_broker(market, fill_fraction=0.5)
    state = broker.place(OrderRequest("S06", BUY, 7, "ref-p"))
    # floor(7 × 0.5) = 3 filled, 4 cancelled
    assert state.status == OrderStatus.CANCELLED
    assert state.filled_quantity == 3
    assert "filled 3 of 7 shares" in state.reason and "remaining 4" in state.reason
    [fill] = broker.executions()
    assert fill.quantity == 3
    nothing = broker.place(OrderRequest("S06", BUY, 1, "ref-p0"))
    assert (nothing.status, nothing.filled_quantity) == (OrderStatus.CANCELLED, 0)


def test_latency_delays_the_fill_and_cancel_wins_before_it(market):
    clock = Clock()
    broker = PaperBroker(market, replace(PAPER, fill_latency_seconds=10.0), clock=clock)
    broker.connect()
    placed = broker.place(OrderRequest("S07", BUY, 5, "ref-late"))
    assert placed.status == OrderStatus.SUBMITTED
    assert broker.wait_for_terminal("ref-late", 0.0).status == OrderStatus.SUBMITTED
    assert [o.order_ref for o in broker.open_orders()] == ["ref-late"]
    clock.now += dt.timedelta(seconds=10)
    assert broker.order_status("ref-late").status == OrderStatus.FILLED
    broker.place(OrderRequest("S08", BUY, 5, "ref-cancel"))
    cancelled = broker.cancel("ref-cancel")
    assert cancelled.status == OrderStatus.CANCELLED
    assert cancelled.reason == "cancelled on request"
    clock.now += dt.timedelta(seconds=60)
    assert broker.order_status("ref-cancel").filled_quantity == 0
    assert broker.cancel("ref-late").status == OrderStatus.FILLED
    with pytest.raises(BrokerError, match="no order with order_ref 'ref-none'"):
        broker.cancel("ref-none")


def test_dropped_connection_processes_one_call_then_refuses(market):
    broker = paper_broker(market, disconnect_after_calls=2)
    broker.positions()
    broker.account_summary()
    with pytest.raises(BrokerDisconnected, match="answer to place was lost"):
        broker.place(OrderRequest("S01", BUY, 1, "ref-lost"))
    with pytest.raises(BrokerDisconnected, match="not connected"):
        broker.place(OrderRequest("S02", BUY, 1, "ref-never"))
    assert [row.order_ref for row in _orders(market)] == ["ref-lost"]
    with pytest.raises(BrokerDisconnected, match="dropped"):
        broker.connect()


def test_sessions_refuse_what_they_may_not_do(market):
    readonly = PaperBroker(market, PAPER, readonly=True)
    with pytest.raises(BrokerDisconnected, match="not connected"):
        readonly.positions()
    readonly.connect()
    with pytest.raises(BrokerError, match="place needs a trading session"):
        readonly.place(OrderRequest("S01", BUY, 1, "ref-ro"))
    with pytest.raises(BrokerError, match="cancel needs a trading session"):
        readonly.cancel("ref-ro")
    preview = readonly.preview(OrderRequest("S01", BUY, 10, "ref-ro"))
    assert preview.price == pytest.approx(27.027)
    assert preview.notional == pytest.approx(270.27)
    assert preview.cash_change == pytest.approx(-(270.27 + 1.0))
    assert _orders(market) == []


def test_preview_warns_about_a_rejection_without_placing(market):
    broker = paper_broker(market, reject_symbols=("S03",))
    preview = broker.preview(OrderRequest("S03", BUY, 1, "ref-w"))
    assert preview.warnings == (
        "the order would be rejected: paper broker rejects S03 (PORTFOLIO_PAPER_REJECT_SYMBOLS)",
    )
    assert _orders(market) == []


def test_a_reference_placed_twice_is_reported_not_hidden(market):
    broker = paper_broker(market)
    broker.place(OrderRequest("S01", BUY, 1, "ref-twice"))
    broker.place(OrderRequest("S01", BUY, 1, "ref-twice"))
    assert len(_orders(market)) == 2
    with pytest.raises(BrokerError, match="2 orders with order_ref 'ref-twice'"):
        broker.order_status("ref-twice")


def test_buying_back_a_short_opening_position_flattens_it(database_url):
    seed_market(database_url, holdings={"S01": -10.0})
    broker = paper_broker(database_url)
    assert {p.symbol: p.quantity for p in broker.positions()} == {"S01": -10.0}
    broker.place(OrderRequest("S01", BUY, 10, "ref-cover"))
    assert broker.positions() == []
