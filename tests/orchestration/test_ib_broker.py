"""IbBroker against a fake gateway that behaves like ib_async.IB at the API boundary.

No IB Gateway exists here: tests/support_ib.py reproduces the ib_async behaviours the adapter
relies on (see its docstring). The last tests drive the real ``ib_async.IB`` on the adapter's
own loop in a worker thread: against refused and silent sockets and against a protocol stub
that speaks just enough of the TWS socket protocol to connect, probe and drop it.
"""

import asyncio
import datetime as dt
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import ib_async
import pytest
from ib_async import OrderState as IbOrderState
from ib_async.util import UNSET_DOUBLE, UNSET_INTEGER

from orchestration.resources.broker import (
    AccountSummary,
    BrokerDisconnected,
    BrokerError,
    OrderRequest,
    OrderSide,
    OrderStatus,
)
from orchestration.resources.ib_broker import IbBroker, known_number, map_status
from tests.support_ib import (
    ACCOUNT,
    FIRST_ORDER_ID,
    OTHER_ACCOUNT,
    FakeGateway,
    Listing,
    TwsProtocolStub,
)

SUBMITTED, PARTIAL = OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED
FILLED, CANCELLED, REJECTED = OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED


def ib_broker(gateway: FakeGateway, **options: Any) -> IbBroker:
    arguments: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 4002,
        "account": ACCOUNT,
        "client_id": 11,
        "client_factory": gateway.client,
        "request_timeout": 2.0,
        "submit_timeout": 0.5,
        "probe_timeout": 0.2,
        "poll_interval": 0.02,
    }
    arguments.update(options)
    return IbBroker(**arguments)


def buy(symbol: str, quantity: int, ref: str, **fields: Any) -> OrderRequest:
    return OrderRequest(symbol, OrderSide.BUY, quantity, ref, **fields)


def sell(symbol: str, quantity: int, ref: str, **fields: Any) -> OrderRequest:
    return OrderRequest(symbol, OrderSide.SELL, quantity, ref, **fields)


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def broker(gateway: FakeGateway) -> Iterator[IbBroker]:
    with ib_broker(gateway) as connected:
        yield connected


def server_order(gateway: FakeGateway, ref: str):
    (record,) = [record for record in gateway.orders if record.order.orderRef == ref]
    return record


# ------------------------------------------------------------------------ sentinel values


@pytest.mark.parametrize(
    "value",
    [
        UNSET_DOUBLE,
        -UNSET_DOUBLE,
        "1.7976931348623157E308",
        UNSET_INTEGER,
        "",
        "   ",
        None,
        float("nan"),
        float("inf"),
        "n/a",
        True,
    ],
)
def test_ib_unset_encodings_are_unknown(value):
    assert known_number(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1250.5", 1250.5), (" -3.25 ", -3.25), (0.0, 0.0), (Decimal("2.5"), 2.5), (7, 7.0)],
)
def test_reported_numbers_are_kept(value, expected):
    assert known_number(value) == expected


# ------------------------------------------------------------------------ status mapping

IB_STATUSES = {
    name
    for name, value in vars(ib_async.OrderStatus).items()
    if isinstance(value, str) and name == value
}
STATUS_TABLE = {
    "PendingSubmit": SUBMITTED,
    "ApiPending": SUBMITTED,
    "PreSubmitted": SUBMITTED,
    "Submitted": SUBMITTED,
    "ApiUpdate": SUBMITTED,
    "ValidationError": SUBMITTED,
    "PendingCancel": SUBMITTED,
    "Filled": FILLED,
    "Cancelled": CANCELLED,
    "ApiCancelled": CANCELLED,
    "Inactive": REJECTED,
}


def test_status_table_covers_every_status_ib_async_knows():
    assert set(STATUS_TABLE) == IB_STATUSES


@pytest.mark.parametrize(("ib_status", "expected"), sorted(STATUS_TABLE.items()))
def test_every_ib_status_maps_and_agrees_with_ib_async_on_terminality(ib_status, expected):
    status, _reason = map_status(ib_status, filled=0, quantity=10)
    assert status is expected
    assert status.terminal == (ib_status in ib_async.OrderStatus.DoneStates)


@pytest.mark.parametrize(
    "ib_status", sorted(s for s, mapped in STATUS_TABLE.items() if not mapped.terminal)
)
def test_partial_fill_of_an_open_order_is_partially_filled(ib_status):
    status, reason = map_status(ib_status, filled=4, quantity=10)
    assert status is PARTIAL
    assert "4 of 10 shares filled" in reason


def test_open_order_fully_reported_as_filled_quantity_is_not_partial():
    assert map_status("Submitted", filled=10, quantity=10)[0] is SUBMITTED


def test_cancelled_after_a_partial_fill_keeps_the_count_in_the_reason():
    status, reason = map_status("Cancelled", filled=4, quantity=10)
    assert status is CANCELLED
    assert "cancelled after 4 of 10 shares filled" in reason


@pytest.mark.parametrize(
    ("error", "cancel_requested", "expected"),
    [
        ((201, "Error 201, reqId 7: Order rejected - reason: no permissions"), False, REJECTED),
        ((103, "Error 103, reqId 7: Duplicate order id"), False, REJECTED),
        ((202, "Error 202, reqId 7: Order Canceled - reason:"), False, CANCELLED),
        (
            (161, "Error 161, reqId 7: Cancel attempted when order is not cancellable"),
            True,
            SUBMITTED,
        ),
        (None, False, CANCELLED),
    ],
)
def test_cancelled_with_an_ib_error_is_a_rejection_unless_we_cancelled(
    error, cancel_requested, expected
):
    status, reason = map_status(
        "Cancelled", filled=0, quantity=10, error=error, cancel_requested=cancel_requested
    )
    assert status is expected
    if error is not None:
        assert error[1] in reason


def test_inactive_is_rejected_with_ibs_message():
    status, reason = map_status("Inactive", filled=0, quantity=5, error=(10, "Error 10: no"))
    assert (status, reason) == (REJECTED, "IB: Error 10: no")


def test_unrecognised_status_stays_open_for_reconciliation():
    status, reason = map_status("SomethingNew", filled=0, quantity=5)
    assert status is SUBMITTED
    assert "unrecognised IB status 'SomethingNew'" in reason


def test_held_orders_say_why():
    _status, reason = map_status("PreSubmitted", filled=0, quantity=5, why_held="locate")
    assert "held: locate" in reason


# ------------------------------------------------------------------- contract qualification


def test_unknown_tickers_are_errors_naming_each_of_them(broker):
    with pytest.raises(BrokerError, match=r"for NOPE, ZZZZ \(IB error 200: No security def"):
        broker.quotes(["SPY", "NOPE", "ZZZZ"])


def test_unknown_ticker_is_never_previewed_or_placed(broker, gateway):
    with pytest.raises(BrokerError, match="NOPE"):
        broker.preview(buy("NOPE", 1, "pp-1-0"))
    with pytest.raises(BrokerError, match="NOPE"):
        broker.place(buy("NOPE", 1, "pp-1-0"))
    assert gateway.what_if_orders == []
    assert gateway.orders == []


def test_qualified_contracts_are_cached_per_connection(gateway):
    with ib_broker(gateway) as first:
        first.quotes(["SPY", "AAPL"])
        first.preview(buy("SPY", 1, "pp-1-0"))
        first.quotes(["AAPL"])
    assert sorted(gateway.qualify_requests) == ["AAPL", "SPY"]
    with ib_broker(gateway) as second:
        second.quotes(["SPY"])
    assert sorted(gateway.qualify_requests) == ["AAPL", "SPY", "SPY"]


# ------------------------------------------------------------------------------ previews


def test_preview_reports_ibs_commission_and_margin(broker, gateway):
    gateway.what_if = IbOrderState(
        status="PreSubmitted", initMarginChange="1250.5", commission=1.25, commissionCurrency="USD"
    )
    bought = broker.preview(buy("SPY", 10, "pp-1-0"))
    sold = broker.preview(sell("SPY", 10, "pp-1-1"))
    last = gateway.listings["SPY"].last
    assert (bought.price, bought.notional) == (last, last * 10)
    assert (bought.commission, bought.margin_change) == (1.25, 1250.5)
    assert bought.cash_change == pytest.approx(-(last * 10) - 1.25)
    assert sold.cash_change == pytest.approx(last * 10 - 1.25)
    assert bought.warnings == ()
    assert gateway.orders == []
    assert [o.whatIf for o in gateway.what_if_orders] == [True, True]
    assert {o.account for o in gateway.what_if_orders} == {ACCOUNT}


def test_preview_treats_ibs_unset_values_as_unknown(broker, gateway):
    gateway.what_if = IbOrderState(
        status="PreSubmitted",
        initMarginChange="1.7976931348623157E308",
        commission=UNSET_DOUBLE,
        minCommission=1.0,
        maxCommission=3.5,
        warningText="Order size exceeds the typical size",
    )
    preview = broker.preview(buy("SPY", 10, "pp-1-0"))
    assert (preview.commission, preview.margin_change, preview.cash_change) == (None, None, None)
    assert preview.warnings == (
        "Order size exceeds the typical size",
        "IB did not estimate the commission (IB's range: 1 to 3.5)",
    )


def test_preview_warns_about_a_commission_in_another_currency(broker, gateway):
    gateway.what_if = IbOrderState(initMarginChange="10", commission=2.0, commissionCurrency="EUR")
    assert broker.preview(buy("SPY", 1, "pp-1-0")).warnings == ("commission is in EUR, not USD",)


@pytest.mark.parametrize(
    ("order", "expected_price"),
    [
        (buy("SPY", 2, "r", order_type="LMT", limit_price=480.0), 480.0),
        (buy("IWM", 2, "r"), (210.0 + 210.2) / 2),  # no last trade: bid/ask midpoint
        (buy("QQQ", 2, "r"), 450.0),  # no last, no bid/ask: previous close
    ],
)
def test_preview_price_falls_back_from_last_to_midpoint_to_close(broker, order, expected_price):
    preview = broker.preview(order)
    assert preview.price == pytest.approx(expected_price)
    assert preview.notional == pytest.approx(expected_price * 2)


def test_preview_of_a_market_order_without_any_price_is_an_error(broker, gateway):
    listing = gateway.listings["QQQ"]
    listing.close = float("nan")
    with pytest.raises(BrokerError, match="IB has no price for QQQ"):
        broker.preview(buy("QQQ", 1, "r"))


def test_refused_preview_names_the_order_and_ibs_reason(broker, gateway):
    gateway.what_if_error = (201, "Order rejected - reason: no trading permissions")
    with pytest.raises(BrokerError, match=r"what-if preview of BUY 3 SPY.*no trading permissions"):
        broker.preview(buy("SPY", 3, "pp-1-0"))


# ---------------------------------------------------------------------------- placing


def test_every_placed_order_carries_its_order_ref_account_and_transmit(broker, gateway):
    orders = [
        buy("SPY", 3, "pp-7-0"),
        sell("AAPL", 2, "pp-7-1"),
        buy("MSFT", 1, "pp-7-2", order_type="LMT", limit_price=390.5),
    ]
    states = [broker.place(order) for order in orders]
    assert [state.order_ref for state in states] == ["pp-7-0", "pp-7-1", "pp-7-2"]
    assert [(s.symbol, s.side, s.quantity) for s in states] == [
        (o.symbol, o.side, o.quantity) for o in orders
    ]
    placed = [record.order for record in gateway.orders]
    assert [o.orderRef for o in placed] == ["pp-7-0", "pp-7-1", "pp-7-2"]
    assert {(o.account, o.transmit, o.tif) for o in placed} == {(ACCOUNT, True, "DAY")}
    assert [(o.action, o.orderType) for o in placed] == [
        ("BUY", "MKT"),
        ("SELL", "MKT"),
        ("BUY", "LMT"),
    ]
    assert placed[2].lmtPrice == 390.5
    # ids come from the server's nextValidId, one per order
    assert [o.orderId for o in placed] == [FIRST_ORDER_ID, FIRST_ORDER_ID + 1, FIRST_ORDER_ID + 2]


def test_order_ids_continue_from_the_server_after_a_reconnect(gateway):
    with ib_broker(gateway) as first:
        first.place(buy("SPY", 1, "pp-1-0"))
    with ib_broker(gateway) as second:
        second.place(buy("SPY", 1, "pp-1-1"))
    first_id, second_id = (record.order.orderId for record in gateway.orders)
    assert second_id > first_id


def test_place_returns_after_acknowledgement_without_waiting_for_fills(broker, gateway):
    gateway.behaviour["SPY"] = "hold"
    state = broker.place(buy("SPY", 10, "pp-1-0"))
    assert state.status is SUBMITTED
    assert state.filled_quantity == 0
    assert "accepted by IB, held" in state.reason
    assert state.broker_order_id == str(server_order(gateway, "pp-1-0").order.permId)


def test_one_reference_is_never_placed_twice_on_a_connection(broker, gateway):
    broker.place(buy("SPY", 1, "pp-1-0"))
    with pytest.raises(BrokerError, match="pp-1-0 was already placed on this connection"):
        broker.place(buy("SPY", 1, "pp-1-0"))
    assert len(gateway.orders) == 1


def test_fills_arrive_through_events_until_filled(broker, gateway):
    placed = broker.place(buy("SPY", 10, "pp-1-0"))
    assert not placed.status.terminal
    final = broker.wait_for_terminal("pp-1-0", timeout=2)
    assert final.status is FILLED
    assert final.filled_quantity == 10
    assert final.average_fill_price == gateway.listings["SPY"].last
    assert final.reason is None


def test_partial_fills_follow_filled_and_remaining(broker, gateway):
    gateway.behaviour["SPY"] = "partial_then_fill"
    gateway.behaviour["AAPL"] = "partial"
    broker.place(buy("SPY", 10, "pp-1-0"))
    broker.place(buy("AAPL", 10, "pp-1-1"))
    done = broker.wait_for_terminal("pp-1-0", timeout=2)
    stuck = broker.wait_for_terminal("pp-1-1", timeout=0.1)
    fills = {e.order_ref: e.quantity for e in broker.executions() if e.order_ref == "pp-1-1"}
    assert done.status is FILLED
    assert done.filled_quantity == 10
    assert stuck.status is PARTIAL
    assert stuck.filled_quantity == fills["pp-1-1"]
    assert 0 < stuck.filled_quantity < 10
    assert f"{stuck.filled_quantity:g} of 10 shares filled" in stuck.reason


def test_wait_returns_the_current_state_when_the_timeout_expires(broker, gateway):
    gateway.behaviour["SPY"] = "hold"
    broker.place(buy("SPY", 10, "pp-1-0"))
    state = broker.wait_for_terminal("pp-1-0", timeout=0.05)
    assert state.status is SUBMITTED
    assert not state.status.terminal


def test_wait_for_an_unknown_reference_is_an_error(broker):
    with pytest.raises(BrokerError, match="wait for pp-9-9: IB has no order with this reference"):
        broker.wait_for_terminal("pp-9-9", timeout=0.05)


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_wait_timeout_must_be_positive(broker, timeout):
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        broker.wait_for_terminal("pp-1-0", timeout=timeout)


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [("reject", "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED"), ("inactive", "Inactive")],
)
def test_rejections_are_terminal_with_ibs_reason(broker, gateway, behaviour, reason):
    gateway.behaviour["SPY"] = behaviour
    broker.place(buy("SPY", 10, "pp-1-0"))
    state = broker.wait_for_terminal("pp-1-0", timeout=2)
    assert state.status is REJECTED
    assert reason in state.reason
    assert state.filled_quantity == 0


# ------------------------------------------------------------------------ reconciliation


def test_reconcile_by_order_ref_after_a_reconnect(gateway):
    gateway.behaviour.update({"SPY": "fill", "AAPL": "hold", "MSFT": "partial"})
    with ib_broker(gateway) as first:
        placed = {
            order.order_ref: first.place(order)
            for order in (
                buy("SPY", 10, "pp-4-0"),
                buy("AAPL", 6, "pp-4-1"),
                buy("MSFT", 8, "pp-4-2"),
            )
        }
    gateway.advance()  # the orders kept working while nobody was connected
    with ib_broker(gateway) as second:
        assert gateway.sessions[-1].trades() == []  # the previous session's orders are gone
        filled = second.order_status("pp-4-0")
        held = second.order_status("pp-4-1")
        partial = second.order_status("pp-4-2")
        missing = second.order_status("pp-4-3")
        open_refs = {state.order_ref for state in second.open_orders()}
        completed_refs = {state.order_ref for state in second.completed_orders()}
        executions = second.executions()
    shares = {ref: sum(e.quantity for e in executions if e.order_ref == ref) for ref in placed}
    assert (filled.status, filled.filled_quantity) == (FILLED, 10)
    assert filled.average_fill_price == gateway.listings["SPY"].last
    assert (held.status, held.filled_quantity) == (SUBMITTED, 0)
    assert partial.status is PARTIAL
    assert partial.filled_quantity == shares["pp-4-2"]
    assert missing is None
    assert open_refs == {"pp-4-1", "pp-4-2"}
    assert completed_refs == {"pp-4-0"}
    assert {e.order_ref for e in executions} == {"pp-4-0", "pp-4-2"}
    assert shares["pp-4-0"] == 10
    for ref, state in placed.items():  # the same IB id before and after the reconnect
        assert state.broker_order_id == str(server_order(gateway, ref).order.permId)


def test_completed_orders_of_an_earlier_day_keep_their_filled_quantity(gateway):
    gateway.behaviour["AAPL"] = "partial"
    with ib_broker(gateway) as first:
        first.place(buy("SPY", 10, "pp-4-0"))
        first.place(buy("AAPL", 10, "pp-4-1"))
        first.wait_for_terminal("pp-4-1", timeout=0.1)
        first.cancel("pp-4-1")
    gateway.advance()
    gateway.expire_executions()
    with ib_broker(gateway) as next_day:
        assert next_day.executions() == []
        filled = next_day.order_status("pp-4-0")
        cancelled = next_day.order_status("pp-4-1")
    assert (filled.status, filled.filled_quantity) == (FILLED, 10)
    assert filled.average_fill_price is None  # only executions carry prices
    assert cancelled.status is CANCELLED
    assert cancelled.filled_quantity == server_order(gateway, "pp-4-1").filled
    assert 0 < cancelled.filled_quantity < 10


def test_an_order_that_fills_between_the_open_and_completed_answers_is_filled(gateway):
    gateway.behaviour["SPY"] = "hold"
    with ib_broker(gateway) as first:
        first.place(buy("SPY", 3, "pp-4-0"))
    server_order(gateway, "pp-4-0").steps = [("fill", 3.0)]
    gateway.fill_between_requests = True
    with ib_broker(gateway, client_id=13) as other_client:  # not kept in sync with client 11
        assert other_client.order_status("pp-4-0").status is FILLED


def test_open_orders_leave_out_orders_that_just_finished(broker, gateway):
    gateway.behaviour["SPY"] = "hold"
    broker.place(buy("SPY", 3, "pp-4-0"))
    server_order(gateway, "pp-4-0").steps = [("fill", 3.0)]
    gateway.fill_between_requests = True
    assert broker.open_orders() == []
    assert broker.order_status("pp-4-0").status is FILLED


def test_orders_of_another_account_are_not_reported(gateway):
    gateway.accounts.append(OTHER_ACCOUNT)
    gateway.behaviour["AAPL"] = "hold"
    with ib_broker(gateway, client_id=21, account=OTHER_ACCOUNT) as other:
        other.place(buy("AAPL", 1, "pp-4-0"))
    with ib_broker(gateway) as mine:
        assert mine.open_orders() == []
        assert mine.order_status("pp-4-0") is None


def test_wait_polls_the_server_for_orders_placed_by_an_earlier_session(gateway):
    gateway.behaviour.update({"SPY": "fill", "AAPL": "hold"})
    with ib_broker(gateway) as first:
        first.place(buy("SPY", 5, "pp-5-0"))
        first.place(buy("AAPL", 5, "pp-5-1"))
    gateway.advance()
    with ib_broker(gateway) as second:
        gateway.requests.clear()
        assert second.wait_for_terminal("pp-5-0", timeout=5).status is FILLED
        assert gateway.requests.count("reqAllOpenOrdersAsync") == 1  # finished: no more polls
        assert second.wait_for_terminal("pp-5-1", timeout=0.1).status is SUBMITTED
        assert gateway.requests.count("reqAllOpenOrdersAsync") > 2


def test_two_orders_with_one_reference_are_an_error_not_a_guess(gateway):
    with ib_broker(gateway) as first:
        first.place(buy("SPY", 1, "pp-6-0"))
    with ib_broker(gateway, client_id=13) as another_program:
        another_program.place(buy("SPY", 2, "pp-6-0"))
    with (
        ib_broker(gateway) as checker,
        pytest.raises(BrokerError, match="2 different IB orders carry order_ref pp-6-0"),
    ):
        checker.order_status("pp-6-0")


def test_an_order_seen_only_through_executions_counts_as_received(gateway):
    with ib_broker(gateway) as first:
        first.place(buy("SPY", 4, "pp-8-0"))
    gateway.advance()
    gateway.forget_order("pp-8-0")
    with ib_broker(gateway) as second:
        state = second.order_status("pp-8-0")
        with pytest.raises(BrokerError, match=r"cannot cancel pp-8-0.*cancel it in TWS"):
            second.cancel("pp-8-0")
    assert state.status is PARTIAL  # not terminal: it reached IB, its end is unknown
    assert state.filled_quantity == 4
    assert "executions for this reference but not the order" in state.reason


def test_executions_carry_commission_and_filter_by_time(gateway):
    with ib_broker(gateway) as broker:
        broker.place(buy("SPY", 3, "pp-9-0"))
        broker.place(sell("AAPL", 2, "pp-9-1"))
        broker.wait_for_terminal("pp-9-0", timeout=2)
        broker.wait_for_terminal("pp-9-1", timeout=2)
        live = broker.executions()
        first = min(e.time for e in live)
        last = max(e.time for e in live)
        since_last = broker.executions(since=last)
        after_all = broker.executions(since=last + dt.timedelta(microseconds=1))
        naive = broker.executions(since=first.replace(tzinfo=None))
    with ib_broker(gateway) as later:
        reported = later.executions()
    server = {
        fill.execution.execId: fill.commissionReport.commission
        for record in gateway.orders
        for fill in record.fills
    }
    assert {e.execution_id: e.commission for e in live} == server
    assert {e.execution_id: e.commission for e in reported} == server
    assert {(e.order_ref, e.side) for e in live} == {
        ("pp-9-0", OrderSide.BUY),
        ("pp-9-1", OrderSide.SELL),
    }
    assert [e.time for e in live] == sorted(e.time for e in live)
    assert since_last == [e for e in live if e.time >= last]
    assert after_all == []
    assert naive == live


# ---------------------------------------------------------------------------- cancelling


def test_cancel_an_open_order(broker, gateway):
    gateway.behaviour["SPY"] = "hold"
    broker.place(buy("SPY", 10, "pp-1-0"))
    state = broker.cancel("pp-1-0")
    assert state.status is CANCELLED
    assert server_order(gateway, "pp-1-0").status == "Cancelled"


def test_cancel_after_a_partial_fill_keeps_the_filled_shares(broker, gateway):
    gateway.behaviour["SPY"] = "partial"
    broker.place(buy("SPY", 10, "pp-1-0"))
    partial = broker.wait_for_terminal("pp-1-0", timeout=0.1)
    state = broker.cancel("pp-1-0")
    assert state.status is CANCELLED
    assert state.filled_quantity == partial.filled_quantity
    assert f"cancelled after {partial.filled_quantity:g} of 10 shares filled" in state.reason


def test_cancel_of_a_finished_order_changes_nothing(gateway):
    with ib_broker(gateway) as broker:
        broker.place(buy("SPY", 2, "pp-1-0"))
        broker.wait_for_terminal("pp-1-0", timeout=2)
        assert broker.cancel("pp-1-0").status is FILLED
    with ib_broker(gateway) as later:
        assert later.cancel("pp-1-0").status is FILLED
    assert gateway.cancel_requests == []
    assert server_order(gateway, "pp-1-0").status == "Filled"


def test_a_refused_cancel_leaves_the_order_open_for_reconciliation(broker, gateway):
    gateway.behaviour["SPY"] = "hold"
    gateway.cancel_error = (161, "Cancel attempted when order is not in a cancellable state.")
    broker.place(buy("SPY", 10, "pp-1-0"))
    state = broker.cancel("pp-1-0")
    assert state.status is SUBMITTED
    assert "161" in state.reason
    assert "may still be working" in state.reason
    assert not server_order(gateway, "pp-1-0").done


def test_cancel_of_an_unknown_reference_is_an_error(broker):
    with pytest.raises(BrokerError, match="cannot cancel pp-3-3: IB has no order"):
        broker.cancel("pp-3-3")


def test_cancel_an_order_placed_by_an_earlier_session(gateway):
    gateway.behaviour["SPY"] = "hold"
    with ib_broker(gateway) as first:
        first.place(buy("SPY", 5, "pp-2-0"))
    with ib_broker(gateway) as second:
        assert second.cancel("pp-2-0").status is CANCELLED


def test_cancel_of_another_client_ids_order_reports_ibs_refusal(gateway):
    gateway.behaviour["SPY"] = "hold"
    with ib_broker(gateway, client_id=13) as other:
        other.place(buy("SPY", 5, "pp-2-0"))
    with ib_broker(gateway) as mine:
        state = mine.cancel("pp-2-0")
    assert state.status is SUBMITTED
    assert "IB error 10147" in state.reason
    assert server_order(gateway, "pp-2-0").status == "PreSubmitted"


# ----------------------------------------------------------------------------- account


def test_account_summary_in_the_base_currency(broker, gateway):
    summary = broker.account_summary()
    assert summary.account == ACCOUNT
    assert summary.net_liquidation == float(gateway.account_values["NetLiquidation"])
    assert summary.cash == float(gateway.account_values["TotalCashValue"])
    assert summary.currency == "USD"


def test_account_summary_without_net_liquidation_is_an_error(broker, gateway):
    del gateway.account_values["NetLiquidation"]
    with pytest.raises(BrokerError, match="0 NetLiquidation values"):
        broker.account_summary()


def test_positions_of_the_account_only_and_without_zeros(broker, gateway):
    gateway.listings["SPY   250620C00500000"] = Listing(1, "CBOE", 5.0, 4.9, 5.1, 5.0, "OPT")
    gateway.positions[(ACCOUNT, "SPY   250620C00500000")] = (-2.0, 510.0)
    positions = broker.positions()
    expected = {
        symbol if gateway.listings[symbol].sec_type == "STK" else f"{symbol} (OPT)": quantity
        for (account, symbol), (quantity, _cost) in gateway.positions.items()
        if account == ACCOUNT and quantity
    }
    assert {p.symbol: p.quantity for p in positions} == expected
    assert {p.account for p in positions} == {ACCOUNT}
    assert positions[0].average_cost == gateway.positions[(ACCOUNT, "AAPL")][1]


def test_quotes_ask_for_delayed_data_where_live_is_not_subscribed(broker, gateway):
    quotes = broker.quotes(["SPY", "IWM", "QQQ"])
    broker.quotes(["SPY"])
    spy = gateway.listings["SPY"]
    assert gateway.market_data_types == [3]  # once per connection
    assert (quotes["SPY"].last, quotes["SPY"].bid, quotes["SPY"].ask) == (
        spy.last,
        spy.bid,
        spy.ask,
    )
    assert quotes["SPY"].time.tzinfo is not None
    assert quotes["IWM"].last is None  # NaN: no trade
    assert (quotes["QQQ"].bid, quotes["QQQ"].ask) == (None, None)  # IB's -1: no quote


def test_live_only_quotes_without_a_subscription_are_unknown(gateway):
    with ib_broker(gateway, market_data_type=1) as broker:
        quote = broker.quotes(["SPY"])["SPY"]
    assert (quote.last, quote.bid, quote.ask, quote.time) == (None, None, None, None)


@pytest.mark.parametrize("symbols", ["SPY", ["SPY", ""], ["SPY", None]])
def test_quotes_validate_the_symbols(broker, symbols):
    with pytest.raises(ValueError, match="symbols must be"):
        broker.quotes(symbols)


# --------------------------------------------------------------------------- disconnects


def test_disconnect_right_after_sending_an_order_leaves_it_for_reconciliation(gateway):
    gateway.drop_after_place = True
    broker = ib_broker(gateway)
    broker.connect()
    with pytest.raises(BrokerDisconnected, match="pp-3-0 \\(sent, so it may have reached IB\\)"):
        broker.place(buy("SPY", 10, "pp-3-0"))
    every_call: list[Callable[[], object]] = [
        lambda: broker.order_status("pp-3-0"),
        broker.account_summary,
        broker.positions,
        broker.open_orders,
        broker.completed_orders,
        broker.executions,
        lambda: broker.quotes(["SPY"]),
        lambda: broker.preview(buy("SPY", 1, "x")),
        lambda: broker.place(buy("SPY", 1, "pp-3-1")),
        lambda: broker.cancel("pp-3-0"),
        lambda: broker.wait_for_terminal("pp-3-0", 1),
        broker.ping,
    ]
    for call in every_call:
        with pytest.raises(BrokerDisconnected, match="reconcile by order reference"):
            call()
    assert len(gateway.orders) == 1
    gateway.drop_after_place = False
    broker.connect()  # reconnect closes the lost session first
    assert broker.order_status("pp-3-0") is not None  # reached IB: never place it again
    gateway.advance()
    assert broker.wait_for_terminal("pp-3-0", timeout=1).status is FILLED
    broker.close()


def test_socket_closed_between_calls_is_noticed_before_an_order_is_sent(broker, gateway):
    gateway.sessions[-1].drop_between_calls()
    with pytest.raises(BrokerDisconnected, match="place pp-3-0: IB closed the connection"):
        broker.place(buy("SPY", 1, "pp-3-0"))
    assert gateway.orders == []


def test_disconnect_in_the_middle_of_a_request(broker, gateway):
    gateway.drop_on.add("reqExecutionsAsync")
    with pytest.raises(BrokerDisconnected, match="IB closed the connection: Socket disconnect"):
        broker.executions()
    with pytest.raises(BrokerDisconnected):
        broker.account_summary()
    gateway.drop_on.clear()
    broker.connect()
    assert broker.account_summary().account == ACCOUNT


def test_disconnect_while_waiting_for_fills(broker, gateway):
    gateway.behaviour["SPY"] = "partial_then_fill"
    gateway.drop_after_steps = 3  # after the first partial fill
    broker.place(buy("SPY", 10, "pp-3-0"))
    with pytest.raises(BrokerDisconnected, match="IB closed the connection"):
        broker.wait_for_terminal("pp-3-0", timeout=2)
    gateway.drop_after_steps = None
    gateway.advance()
    broker.connect()
    assert broker.order_status("pp-3-0").status is FILLED


def test_gateway_losing_its_link_to_ib_counts_as_disconnected_until_restored(broker, gateway):
    session = gateway.sessions[-1]
    session.emit_error(1100, "Connectivity between IB and Trader Workstation has been lost.")
    with pytest.raises(BrokerDisconnected, match="IB error 1100"):
        broker.account_summary()
    session.emit_error(1102, "Connectivity between IB and TWS has been restored - data maintained.")
    assert broker.account_summary().account == ACCOUNT


def test_zombie_connection_is_caught_before_an_order_is_sent(broker, gateway):
    gateway.unanswered.add("reqCurrentTimeAsync")  # a zombie connection
    with pytest.raises(BrokerDisconnected, match=r"does not answer reqCurrentTime.*zombie"):
        broker.place(buy("SPY", 1, "pp-3-0"))
    assert gateway.orders == []
    with pytest.raises(BrokerDisconnected, match="zombie"):
        broker.ping()


def test_zombie_connection_fails_connect(gateway):
    gateway.unanswered.add("reqCurrentTimeAsync")  # a zombie connection
    broker = ib_broker(gateway)
    with pytest.raises(BrokerError, match=r"connected to IB at 127\.0\.0\.1:4002.*zombie"):
        broker.connect()
    assert not broker.connected


def test_a_request_ib_does_not_answer_is_an_error_naming_it(gateway):
    gateway.unanswered.add("accountSummaryAsync")
    with (
        ib_broker(gateway, request_timeout=0.1) as broker,
        pytest.raises(BrokerError, match=r"account summary: IB did not answer within 0\.1 s"),
    ):
        broker.account_summary()


def test_an_order_is_not_sent_when_its_contract_lookup_times_out(gateway):
    gateway.unanswered.add("qualifyContractsAsync")
    with (
        ib_broker(gateway, request_timeout=0.1) as broker,
        pytest.raises(BrokerError, match="place pp-1-0: IB did not answer"),
    ):
        broker.place(buy("SPY", 1, "pp-1-0"))
    assert gateway.orders == []


def test_ping_returns_the_gateway_clock(broker):
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    assert broker.ping() >= before


# ------------------------------------------------------------- connection and client ids


def test_readonly_connection_previews_but_refuses_orders(gateway):
    readonly = IbBroker(
        host="127.0.0.1",
        port=4002,
        account=ACCOUNT,
        client_id=12,
        readonly=True,
        client_factory=gateway.client,
    )
    with readonly as broker:
        assert broker.preview(buy("SPY", 1, "pp-1-0")).symbol == "SPY"
        with pytest.raises(BrokerError, match="read-only \\(client id 12\\)"):
            broker.place(buy("SPY", 1, "pp-1-0"))
        with pytest.raises(BrokerError, match="read-only"):
            broker.cancel("pp-1-0")
    assert gateway.orders == []


def test_a_client_id_in_use_is_named_in_the_error(gateway):
    with ib_broker(gateway):
        second = ib_broker(gateway)
        with pytest.raises(BrokerError, match=r"client id 11 free.*IB error 326"):
            second.connect()
        with ib_broker(gateway, client_id=12, readonly=True) as readonly:
            assert readonly.connected


def test_refused_connection_is_an_error(gateway):
    gateway.refuse = True
    with pytest.raises(
        BrokerError, match=r"could not connect to IB at 127\.0\.0\.1:4002 with client"
    ):
        ib_broker(gateway).connect()


def test_account_must_be_managed_by_the_gateway(gateway):
    with pytest.raises(BrokerError, match=r"IB_ACCOUNT DU0000000 is not managed.*DU1234567"):
        ib_broker(gateway, account="DU0000000").connect()


def test_empty_account_means_the_only_managed_account(gateway):
    with ib_broker(gateway, account="") as broker:
        assert broker.account == ACCOUNT
    gateway.accounts.append(OTHER_ACCOUNT)
    with pytest.raises(BrokerError, match=r"IB_ACCOUNT is empty and .* manages 2 accounts"):
        ib_broker(gateway, account="").connect()


def test_calls_before_connect_are_errors(gateway):
    with pytest.raises(BrokerError, match="not connected to IB; call connect\\(\\) first"):
        ib_broker(gateway).account_summary()


def test_context_manager_disconnects(gateway):
    with ib_broker(gateway) as broker:
        session = gateway.sessions[-1]
        assert session.isConnected()
    assert not session.isConnected()
    assert not broker.connected
    broker.close()  # closing twice is harmless


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"port": 0}, "port must be an integer in 1..65535"),
        ({"port": 70000}, "port must be an integer"),
        ({"client_id": -1}, "client_id must be a non-negative integer"),
        ({"host": ""}, "host must be"),
        ({"request_timeout": 0}, "request_timeout must be a positive number"),
        ({"submit_timeout": -1}, "submit_timeout must be a positive number"),
        ({"market_data_type": 5}, "market_data_type must be one of"),
    ],
)
def test_constructor_validates_its_arguments(gateway, options, match):
    with pytest.raises(ValueError, match=match):
        ib_broker(gateway, **options)


def test_without_ib_async_or_ib_insync_the_error_says_to_install_the_extra(monkeypatch, gateway):
    monkeypatch.setitem(sys.modules, "ib_async", None)
    monkeypatch.setitem(sys.modules, "ib_insync", None)
    with pytest.raises(BrokerError, match="install the `ib` extra"):
        ib_broker(gateway)


def test_falls_back_to_ib_insync_when_ib_async_is_missing(monkeypatch, gateway):
    monkeypatch.setitem(sys.modules, "ib_async", None)
    monkeypatch.setitem(sys.modules, "ib_insync", ib_async)  # same API
    with ib_broker(gateway) as broker:
        assert broker.library == "ib_insync"
        assert broker.quotes(["SPY"])["SPY"].last == gateway.listings["SPY"].last


# ------------------------------------------------------------------------------ event loops


def run_in_thread(work: Callable[[], object]) -> dict[str, object]:
    """Run ``work`` in a fresh thread (as Dagster runs ops); report its result, error and
    whether the thread was left with an installed event loop."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["result"] = work()
        except Exception as exc:
            outcome["error"] = exc
        try:
            asyncio.get_event_loop_policy().get_event_loop()
            outcome["thread_loop"] = "installed"
        except RuntimeError:
            outcome["thread_loop"] = None

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    return outcome


def test_works_in_a_worker_thread_on_its_own_loop_and_closes_it(gateway):
    def trade() -> OrderStatus:
        with ib_broker(gateway) as broker:
            broker.place(buy("SPY", 2, "pp-1-0"))
            return broker.wait_for_terminal("pp-1-0", timeout=2).status

    outcome = run_in_thread(trade)
    assert outcome == {"result": FILLED, "thread_loop": None}
    (session,) = gateway.sessions
    assert session.loop.is_closed()


def test_each_connection_gets_a_new_loop_and_closes_the_old_one(gateway):
    broker = ib_broker(gateway)
    broker.connect()
    broker.connect()
    broker.close()
    first, second = gateway.sessions
    assert first.loop is not second.loop
    assert first.loop.is_closed()
    assert second.loop.is_closed()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_real_ib_async_client_reports_a_refused_connection_from_a_worker_thread():
    broker = IbBroker(host="127.0.0.1", port=free_port(), account="", client_id=11)
    outcome = run_in_thread(broker.connect)
    assert isinstance(outcome["error"], BrokerError)
    assert "could not connect to IB at 127.0.0.1" in str(outcome["error"])
    assert outcome["thread_loop"] is None
    assert not broker.connected


def test_real_ib_async_client_times_out_on_a_silent_listener():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        broker = IbBroker(
            host="127.0.0.1", port=port, account="", client_id=11, connect_timeout=0.3
        )
        outcome = run_in_thread(broker.connect)
    assert isinstance(outcome["error"], BrokerError)
    assert "no answer within 0.3 s" in str(outcome["error"])
    assert "client id 11 free" in str(outcome["error"])
    assert outcome["thread_loop"] is None


# ------------------------------------------- the real ib_async client on a protocol stub


@pytest.fixture
def tws() -> Iterator[TwsProtocolStub]:
    stub = TwsProtocolStub()
    yield stub
    stub.stop()


def real_broker(port: int, **options: Any) -> IbBroker:
    """An IbBroker with the real ``ib_async.IB`` client (no client_factory)."""
    arguments: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "account": "",
        "client_id": 11,
        "connect_timeout": 2.0,
        "request_timeout": 2.0,
        "probe_timeout": 0.5,
    }
    arguments.update(options)
    return IbBroker(**arguments)


def test_real_ib_async_connects_probes_and_reads_the_account_in_a_worker_thread(tws):
    def session() -> tuple[object, ...]:
        with real_broker(tws.port) as broker:
            return broker.account, broker.ping(), broker.account_summary()

    outcome = run_in_thread(session)
    account, clock, summary = outcome["result"]
    assert account == ACCOUNT  # the gateway's only managed account
    assert clock.utcoffset() == dt.timedelta(0)
    assert summary == AccountSummary(
        ACCOUNT,
        float(tws.account_values["NetLiquidation"]),
        float(tws.account_values["TotalCashValue"]),
        "USD",
    )
    assert outcome["thread_loop"] is None
    assert "49" in tws.received  # reqCurrentTime: the probe reached the gateway


def test_real_ib_async_connection_closed_by_the_gateway_is_broker_disconnected(tws):
    def session() -> list[str]:
        broker = real_broker(tws.port)
        broker.connect()
        try:
            tws.close_connection()
            messages = []
            for call in (broker.ping, broker.account_summary):
                try:
                    call()
                except BrokerDisconnected as exc:
                    messages.append(str(exc))
            return messages
        finally:
            broker.close()

    outcome = run_in_thread(session)
    first, second = outcome["result"]
    assert first.startswith("ping: ")
    assert "reconnect and reconcile by order reference" in first
    assert second.startswith("account summary: ")
    assert outcome["thread_loop"] is None


def test_real_ib_async_gateway_outage_blocks_orders_until_restored(tws):
    def session() -> tuple[str, object]:
        with real_broker(tws.port) as broker:
            tws.send_error(1100, "Connectivity between IB and Trader Workstation has been lost.")
            try:
                broker.place(buy("SPY", 1, "pp-1-0"))
            except BrokerDisconnected as exc:
                refused = str(exc)
            tws.send_error(1102, "Connectivity between IB and TWS has been restored.")
            broker.ping()  # reads the 1102 …
            return refused, broker.ping()  # … after which calls work again

    outcome = run_in_thread(session)
    refused, clock = outcome["result"]
    assert "place pp-1-0: IB error 1100: Connectivity between IB and Trader" in refused
    assert isinstance(clock, dt.datetime)
    assert "3" not in tws.received  # placeOrder never sent
    assert "9" not in tws.received  # not even a contract lookup


def test_real_ib_async_zombie_gateway_is_caught_before_an_order_is_sent(tws):
    def session() -> str:
        with real_broker(tws.port) as broker:
            tws.mute.set()
            try:
                broker.place(buy("SPY", 1, "pp-1-0"))
            except BrokerDisconnected as exc:
                return str(exc)
            return "placed"

    outcome = run_in_thread(session)
    assert "does not answer reqCurrentTime within 0.5 s (zombie connection)" in outcome["result"]
    assert "3" not in tws.received
