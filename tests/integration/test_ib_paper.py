"""IbBroker against a real IB paper gateway (optional; skipped unless ``IB_PAPER_TESTS=1``).

Gateway address from ``IB_HOST`` / ``IB_PORT`` (default 127.0.0.1:4002, the Gateway's paper
port), account from ``IB_ACCOUNT`` (default: the gateway's only account), client ids from
``IB_CLIENT_ID`` / ``IB_READONLY_CLIENT_ID`` (11 / 12). Placing an order additionally needs
``IB_PAPER_PLACE=1`` and a paper account (``DU…``): it places a 1-share SPY limit buy at $1.00,
far below the market, and cancels it.
"""

import os
import uuid
from collections.abc import Iterator

import pytest

from orchestration.resources.broker import BrokerError, OrderRequest, OrderSide, OrderStatus
from orchestration.resources.ib_broker import IbBroker

pytestmark = pytest.mark.skipif(
    os.environ.get("IB_PAPER_TESTS") != "1",
    reason="live IB paper-gateway tests: set IB_PAPER_TESTS=1 (gateway at IB_HOST:IB_PORT)",
)

FAR_BELOW_MARKET = 1.00


def gateway_broker(*, readonly: bool) -> IbBroker:
    client_id = os.environ.get("IB_READONLY_CLIENT_ID" if readonly else "IB_CLIENT_ID", "")
    return IbBroker(
        host=os.environ.get("IB_HOST", "127.0.0.1"),
        port=int(os.environ.get("IB_PORT", "4002")),
        account=os.environ.get("IB_ACCOUNT", ""),
        client_id=int(client_id or (12 if readonly else 11)),
        readonly=readonly,
    )


@pytest.fixture(scope="module")
def readonly_broker() -> Iterator[IbBroker]:
    with gateway_broker(readonly=True) as broker:
        yield broker


def test_connects_and_reports_the_account(readonly_broker):
    summary = readonly_broker.account_summary()
    assert summary.account == readonly_broker.account
    assert summary.net_liquidation > 0
    assert len(summary.currency) == 3
    assert readonly_broker.ping().tzinfo is not None


def test_qualifies_spy_and_rejects_an_unknown_ticker(readonly_broker):
    assert set(readonly_broker.quotes(["SPY"])) == {"SPY"}
    with pytest.raises(BrokerError, match="ZZZZQX"):
        readonly_broker.quotes(["ZZZZQX"])


def test_what_if_preview_places_nothing(readonly_broker):
    order = OrderRequest("SPY", OrderSide.BUY, 1, "pp-live-preview", "LMT", FAR_BELOW_MARKET)
    before = {state.order_ref for state in readonly_broker.open_orders()}
    preview = readonly_broker.preview(order)
    assert (preview.symbol, preview.price, preview.notional) == ("SPY", 1.0, 1.0)
    assert preview.commission is None or preview.commission >= 0
    assert {state.order_ref for state in readonly_broker.open_orders()} == before


@pytest.mark.skipif(
    os.environ.get("IB_PAPER_PLACE") != "1",
    reason="places and cancels a real paper order: set IB_PAPER_PLACE=1 as well",
)
def test_place_and_cancel_a_limit_order_far_from_the_market():
    order_ref = f"pp-live-{uuid.uuid4().hex[:8]}"
    order = OrderRequest("SPY", OrderSide.BUY, 1, order_ref, "LMT", FAR_BELOW_MARKET)
    with gateway_broker(readonly=False) as broker:
        if not broker.account.startswith("DU"):
            pytest.fail(f"refusing to place an order in {broker.account}: not a paper account")
        placed = broker.place(order)
        try:
            assert placed.order_ref == order_ref
            assert broker.order_status(order_ref) is not None
            assert order_ref in {state.order_ref for state in broker.open_orders()}
        finally:
            broker.cancel(order_ref)
        final = broker.wait_for_terminal(order_ref, timeout=15)
    assert final.status is OrderStatus.CANCELLED
    assert final.filled_quantity == 0
