"""The basket-trade engine on SQLite and PostgreSQL with the real paper broker (no mocks):
preview, approval, execution, limits, halts, drift, takeover, cancellation, reconciliation.

Hand-worked market (tests/trading_support.py): the latest close of S<i> is 20 + 7 i, so a buy
of 10,000 of the equal-weight ten-ticker basket allocates 1,000 per ticker and buys
floor(1000 / close) shares: 1000/27 → 37, /34 → 29, /41 → 24, /48 → 20, /55 → 18, /62 → 16,
/69 → 14, /76 → 13, /83 → 12, /90 → 11. The paper broker (settings PAPER) fills at
close × 1.001 (10 bps) with commission max(1, 0.01 × shares).
"""

import datetime as dt
import math
import threading
from dataclasses import replace

import pytest
from sqlalchemy import insert, select, update

from orchestration.defs.baskets.store import BasketError
from orchestration.execution.approve import approve_basket_trade
from orchestration.execution.cancel import cancel_basket_trade
from orchestration.execution.execute import execute_basket_trade
from orchestration.execution.halts import current_halt, halt_trading, resume_trading
from orchestration.execution.preview import preview_basket_trade
from orchestration.execution.reconcile import latest_reconciliation, take_baseline
from orchestration.execution.records import GROUPS, TradeError, read_group
from orchestration.resources.paper_broker import PaperBroker
from orchestration.storage.models import BrokerFill, BrokerOrder, PaperOrder, PaperPosition
from tests.trading_support import (
    HOLDINGS,
    PAPER,
    SYMBOLS,
    close,
    make_basket,
    paper_broker,
    seed_market,
    set_close,
    trading,
)

BUY_QUANTITIES = [37, 29, 24, 20, 18, 16, 14, 13, 12, 11]


class Clock:
    """A settable UTC clock for previews, leases and TTLs."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class Crash(Exception):
    """Stands for the executing process dying (not a broker error: nothing catches it)."""


class CrashAfterPlacing(PaperBroker):
    """The process dies right after the n-th order reached the broker."""

    def __init__(self, *args, crash_after: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.crash_after = crash_after
        self.placed = 0

    def place(self, order):
        state = super().place(order)
        self.placed += 1
        if self.placed == self.crash_after:
            raise Crash(f"killed after placing {order.order_ref}")
        return state


class HaltAfterPlacing(PaperBroker):
    """An operator halts trading right after the n-th order was placed."""

    def __init__(self, *args, app_database, halt_after: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.app_database = app_database
        self.halt_after = halt_after
        self.placed = 0

    def place(self, order):
        state = super().place(order)
        self.placed += 1
        if self.placed == self.halt_after:
            halt_trading(self.app_database, "operator pressed the button")
        return state


@pytest.fixture
def market(database_url):
    database = seed_market(database_url)
    make_basket(database)
    return database


def _broker(database, cls=PaperBroker, **kwargs):
    broker = cls(database.url, kwargs.pop("settings", PAPER), poll_seconds=0.005, **kwargs)
    broker.connect()
    return broker


def _preview(
    database,
    *,
    action="buy",
    value=10_000.0,
    basket="tenleg",
    clock=None,
    broker=None,
    **limits,
):
    broker = broker or paper_broker(database.url)
    kwargs = {"clock": clock} if clock else {}
    return preview_basket_trade(
        database, broker, basket, action, value, trading=trading(**limits), **kwargs
    )


def _approved(database, **kwargs) -> int:
    group = _preview(database, **kwargs)
    approve_basket_trade(database, group.id)
    return group.id


def _execute(database, group_id, broker=None, owner="executor-a", clock=None, **limits):
    broker = broker or paper_broker(database.url)
    kwargs = {"clock": clock} if clock else {}
    return execute_basket_trade(
        database, lambda: broker, group_id, trading=trading(**limits), owner=owner, **kwargs
    )


def _paper_refs(database) -> list[str]:
    table = PaperOrder.__table__
    with database.engine.connect() as connection:
        return list(connection.execute(select(table.c.order_ref).order_by(table.c.id)).scalars())


def _count(database, model) -> int:
    with database.engine.connect() as connection:
        return len(connection.execute(select(model.__table__)).all())


def test_preview_creates_one_leg_per_ticker(market):
    group = _preview(market)
    assert group.status == "preview"
    assert [leg.symbol for leg in group.legs] == SYMBOLS[:10]
    assert [leg.quantity for leg in group.legs] == BUY_QUANTITIES
    assert {leg.side for leg in group.legs} == {"BUY"}
    assert [leg.order_ref for leg in group.legs] == [
        f"pp-{group.id}-{n}-{group.ref_token}" for n in range(1, 11)
    ]
    for leg in group.legs:
        price = close(leg.symbol) * 1.001
        assert leg.estimated_price == pytest.approx(price)
        assert leg.estimated_cost == pytest.approx(
            leg.quantity * price + max(1.0, 0.01 * leg.quantity)
        )
        assert leg.status == "pending"
        # each leg's quote is valid for the configured preview lifetime (a setting, not a speed)
        lifetime = leg.expires_at - leg.previewed_at
        assert lifetime.total_seconds() == trading().preview_ttl_seconds
    assert group.estimated_cost == pytest.approx(sum(leg.estimated_cost for leg in group.legs))
    spent = sum(q * close(s) for q, s in zip(BUY_QUANTITIES, SYMBOLS, strict=False))
    # 9,851 at the close; the what-if adds 10 bps of slippage and a 1.00 commission per leg
    assert group.leftover_cash == pytest.approx(10_000 - spent * 1.001 - 10 * 1.0)
    assert (group.broker, group.account) == ("paper", "PAPER")


def test_rebalance_sells_before_it_buys(market):
    from orchestration.defs.baskets import store as basket_store

    basket_store.create_basket(market, "four", SYMBOLS[:4], method="equal")
    group = _preview(market, action="rebalance", value=4_000.0, basket="four")
    # targets floor(1000 / close): S01 37 (holds 100 → sell 63), S02 29 (holds 50 → sell 21),
    # S03 24 (holds 10 → buy 14), S04 20 (holds 0 → buy 20)
    assert [(leg.symbol, leg.side, leg.quantity) for leg in group.legs] == [
        ("S01", "SELL", 63),
        ("S02", "SELL", 21),
        ("S03", "BUY", 14),
        ("S04", "BUY", 20),
    ]
    assert [leg.current_quantity for leg in group.legs] == [100, 50, 10, 0]
    assert group.legs[0].estimated_cost == pytest.approx(-(63 * 27 * 0.999 - 1.0))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"action": "hold"}, TradeError, "--action must be one of buy, sell, rebalance"),
        ({"value": 0.0}, TradeError, "--value must be a positive amount"),
        ({"basket": "nope"}, BasketError, "basket 'nope' does not exist"),
        ({"value": 10.0}, TradeError, "nothing to trade for basket 'tenleg'"),
    ],
)
def test_preview_rejects_what_it_cannot_trade(market, kwargs, error, match):
    with pytest.raises(error, match=match):
        _preview(market, **kwargs)
    assert _count(market, PaperOrder) == 0


def test_approval_is_a_single_transition(market):
    group = _preview(market)
    approval = approve_basket_trade(market, group.id)
    assert approval.group.status == "approved"
    assert approval.expired_legs == ()
    with pytest.raises(TradeError, match=f"group {group.id} is approved; only a group in preview"):
        approve_basket_trade(market, group.id)
    with pytest.raises(TradeError, match="trade group 999 does not exist"):
        approve_basket_trade(market, 999)


def test_approving_an_expired_preview_says_it_will_be_re_previewed(market):
    group = _preview(market, preview_ttl_seconds=0.0)
    approval = approve_basket_trade(market, group.id)
    assert approval.expired_legs == tuple(range(1, 11))
    assert "re-previewed before they are placed" in approval.message


def test_execution_places_every_leg_once_and_is_idempotent(market):
    group_id = _approved(market)
    report = _execute(market, group_id)
    assert (report.outcome, report.status, report.placed) == ("finished", "completed", 10)
    group = read_group(market, group_id)
    assert _paper_refs(market) == [leg.order_ref for leg in group.legs]
    for leg in group.legs:
        assert leg.status == "filled"
        assert leg.filled_quantity == leg.quantity
        assert leg.average_fill_price == pytest.approx(close(leg.symbol) * 1.001)
        assert leg.commission == pytest.approx(max(1.0, 0.01 * leg.quantity))
    assert _count(market, BrokerFill) == 10
    assert _count(market, BrokerOrder) == 10
    again = _execute(market, group_id, owner="executor-b")
    assert (again.outcome, again.placed) == ("already_finished", 0)
    assert len(_paper_refs(market)) == 10
    broker = paper_broker(market.url)
    held = {p.symbol: p.quantity for p in broker.positions()}
    for symbol, quantity in zip(SYMBOLS, BUY_QUANTITIES, strict=False):
        assert held[symbol] == HOLDINGS.get(symbol, 0.0) + quantity
    with market.engine.connect() as connection:
        assert latest_reconciliation(connection).passed


def test_a_group_in_preview_is_not_executed(market):
    group = _preview(market)
    report = _execute(market, group.id)
    assert report.outcome == "not_approved" and report.needs_attention
    assert _paper_refs(market) == []


def test_rejects_and_partial_fills_end_partial_with_reasons(market):
    group_id = _approved(market)
    broker = paper_broker(market.url, reject_symbols=("S03",), fill_fraction=0.5)
    report = _execute(market, group_id, broker=broker)
    assert (report.outcome, report.status) == ("finished", "partial")
    for leg in read_group(market, group_id).legs:
        if leg.symbol == "S03":
            assert leg.status == "failed"
            assert leg.status_reason == (
                "rejected by the broker: paper broker rejects S03 (PORTFOLIO_PAPER_REJECT_SYMBOLS)"
            )
            assert leg.filled_quantity == 0
        else:
            assert leg.status == "partially_filled"
            assert leg.filled_quantity == math.floor(leg.quantity / 2)
            assert leg.status_reason.startswith(
                f"filled {math.floor(leg.quantity / 2)} of {leg.quantity} shares"
            )
    assert len(_paper_refs(market)) == 10


def test_every_leg_rejected_fails_the_group(market):
    group_id = _approved(market)
    broker = paper_broker(market.url, reject_symbols=tuple(SYMBOLS))
    report = _execute(market, group_id, broker=broker)
    assert report.status == "failed"
    assert {leg["status"] for leg in report.legs} == {"failed"}


def test_halt_before_execution_refuses_and_keeps_the_group_approved(market):
    group_id = _approved(market)
    halt_trading(market, "maintenance")
    report = _execute(market, group_id)
    assert report.outcome == "refused"
    assert "trading is halted" in report.message and "maintenance" in report.message
    assert read_group(market, group_id).status == "approved"
    assert _paper_refs(market) == []
    resume_trading(market)
    assert _execute(market, group_id).status == "completed"


def test_halt_during_execution_stops_the_remaining_legs(market):
    group_id = _approved(market)
    broker = _broker(market, HaltAfterPlacing, app_database=market, halt_after=3)
    report = _execute(market, group_id, broker=broker)
    assert report.status == "partial"
    legs = read_group(market, group_id).legs
    assert [leg.status for leg in legs] == ["filled"] * 3 + ["cancelled"] * 7
    assert all("trading is halted" in leg.status_reason for leg in legs[3:])
    assert len(_paper_refs(market)) == 3
    assert current_halt(market).halted


def test_order_limit_refuses_the_leg_and_names_the_limit(market):
    group_id = _approved(market)
    report = _execute(market, group_id, max_order_notional=990.0)
    assert report.status == "partial"
    for leg in read_group(market, group_id).legs:
        if leg.estimated_notional > 990.0:
            assert leg.status == "failed"
            assert leg.status_reason.startswith("refused by limit max_order_notional")
            assert "PORTFOLIO_MAX_ORDER_NOTIONAL" in leg.status_reason
        else:
            assert leg.status == "filled"
    refused = [leg for leg in read_group(market, group_id).legs if leg.status == "failed"]
    assert refused and len(_paper_refs(market)) == 10 - len(refused)


def test_group_limit_stops_placing_once_the_total_would_exceed_it(market):
    group_id = _approved(market)
    _execute(market, group_id, max_group_notional=3_500.0)
    legs = read_group(market, group_id).legs
    placed = [leg for leg in legs if leg.status == "filled"]
    # every leg is worth about 1,000: three fit under 3,500, a fourth would not
    assert [leg.leg_no for leg in placed] == [1, 2, 3]
    assert sum(leg.estimated_notional for leg in placed) <= 3_500.0
    for leg in legs[3:]:
        assert leg.status == "failed"
        assert "limit max_group_notional" in leg.status_reason


def test_net_liquidation_limit_names_the_fraction(market):
    group_id = _approved(market)
    net_liquidation = paper_broker(market.url).account_summary().net_liquidation
    fraction = 2_500.0 / net_liquidation
    _execute(market, group_id, max_net_liquidation_fraction=fraction)
    legs = read_group(market, group_id).legs
    assert [leg.status for leg in legs[:2]] == ["filled", "filled"]
    assert all("limit max_net_liquidation_fraction" in leg.status_reason for leg in legs[2:])


def test_expired_previews_are_re_previewed_with_drift_warnings(market):
    clock = Clock()
    group_id = _approved(market, clock=clock, preview_ttl_seconds=60.0)
    set_close(market, "S02", 34.0 * 1.05)
    set_close(market, "S04", 48.0 * 1.005)
    clock.advance(61)
    report = _execute(market, group_id, clock=clock, preview_ttl_seconds=60.0)
    assert report.status == "completed"
    group = read_group(market, group_id)
    # S02: cost 29 × 34 × 1.001 + 1 → 29 × 35.7 × 1.001 + 1, a move of about 4.9 %
    old = 29 * 34 * 1.001 + 1.0
    new = 29 * 35.7 * 1.001 + 1.0
    assert len(group.drift_warnings) == 1
    assert group.drift_warnings[0].startswith("leg 2 BUY 29 S02: estimated cost moved")
    assert f"{(new - old) / old:.2%}" in group.drift_warnings[0]
    s02, s04 = group.legs[1], group.legs[3]
    assert s02.drift_warning == group.drift_warnings[0]
    assert s04.drift_warning is None  # 0.5 % is under the 1 % threshold
    assert s04.estimated_price == pytest.approx(48.0 * 1.005 * 1.001)
    assert s02.average_fill_price == pytest.approx(35.7 * 1.001)
    assert all(leg.previewed_at == clock.now.replace(tzinfo=None) for leg in group.legs)


def test_unexpired_previews_are_not_re_previewed(market):
    clock = Clock()
    group_id = _approved(market, clock=clock)
    set_close(market, "S02", 34.0 * 1.05)
    _execute(market, group_id, clock=clock)
    group = read_group(market, group_id)
    assert group.drift_warnings == ()
    assert group.legs[1].estimated_price == pytest.approx(34.0 * 1.001)


def test_a_dead_executor_is_taken_over_only_after_its_lease_expired(market):
    clock = Clock()
    group_id = _approved(market, clock=clock)
    crashing = _broker(market, CrashAfterPlacing, crash_after=4)
    with pytest.raises(Crash):
        _execute(market, group_id, broker=crashing, clock=clock, lease_seconds=30.0)
    group = read_group(market, group_id)
    assert group.status == "executing" and group.owner == "executor-a"
    assert group.legs[3].status == "submitting"  # the answer of place never got recorded
    early = _execute(market, group_id, owner="executor-b", clock=clock, lease_seconds=30.0)
    assert early.outcome == "already_executing"
    assert len(_paper_refs(market)) == 4
    clock.advance(31)
    report = _execute(market, group_id, owner="executor-b", clock=clock, lease_seconds=30.0)
    assert (report.outcome, report.status, report.placed) == ("finished", "completed", 6)
    group = read_group(market, group_id)
    assert group.execution_attempts == 2
    assert _paper_refs(market) == [leg.order_ref for leg in group.legs]


def test_concurrent_executions_only_one_claims(market):
    group_id = _approved(market)
    barrier = threading.Barrier(3)
    reports = []

    def run(owner: str) -> None:
        broker = paper_broker(market.url, fill_latency_seconds=0.02)
        barrier.wait()
        reports.append(_execute(market, group_id, broker=broker, owner=owner))

    threads = [threading.Thread(target=run, args=(f"exec-{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    outcomes = sorted(report.outcome for report in reports)
    assert outcomes.count("finished") == 1
    assert set(outcomes) <= {"finished", "already_executing", "already_finished"}
    assert sum(report.placed for report in reports) == 10
    refs = _paper_refs(market)
    assert len(refs) == len(set(refs)) == 10


def test_position_break_refuses_until_rebaselined(market):
    group_id = _approved(market)
    with market.transaction() as connection:
        connection.execute(
            insert(PaperPosition.__table__).values(
                account="PAPER", symbol="S12", quantity=5.0, average_cost=104.0
            )
        )
    report = _execute(market, group_id)
    assert report.outcome == "refused"
    assert "do not reconcile" in report.message and "S12 expected 0 held 5" in report.message
    assert read_group(market, group_id).status == "approved"
    assert _paper_refs(market) == []
    with market.engine.connect() as connection:
        assert not latest_reconciliation(connection).passed
    take_baseline(market, paper_broker(market.url), reason="S12 was a manual trade")
    assert _execute(market, group_id).status == "completed"


def test_dry_run_places_and_changes_nothing(market):
    group_id = _approved(market)
    report = execute_basket_trade(
        market,
        lambda: paper_broker(market.url),
        group_id,
        trading=trading(max_order_notional=990.0),
        owner="dry",
        dry_run=True,
    )
    assert report.outcome == "dry_run"
    assert _paper_refs(market) == []
    assert read_group(market, group_id).status == "approved"
    for row in report.legs:
        leg_notional = row["quantity"] * close(row["symbol"]) * 1.001
        expected = "place" if leg_notional <= 990.0 else "refuse: limit max_order_notional"
        assert row["would"].startswith(expected)


def test_a_group_is_never_executed_on_another_broker(market):
    group_id = _approved(market)

    class OtherBroker(PaperBroker):
        name = "other"

    report = _execute(market, group_id, broker=_broker(market, OtherBroker))
    assert report.outcome == "refused"
    assert "previewed with the paper broker" in report.message
    assert _paper_refs(market) == []


def test_an_order_not_filled_in_time_is_cancelled(market):
    from orchestration.defs.baskets import store as basket_store

    basket_store.create_basket(market, "one", ["S05"], method="equal")
    group_id = _approved(market, basket="one", value=1_000.0)
    slow = paper_broker(market.url, fill_latency_seconds=30.0)
    report = _execute(market, group_id, broker=slow, order_timeout_seconds=0.2)
    assert report.status == "failed"
    [leg] = read_group(market, group_id).legs
    assert leg.status == "failed"
    assert leg.status_reason == (
        "cancelled without a fill: not filled within 0.2 s (PORTFOLIO_ORDER_TIMEOUT_SECONDS); "
        "cancel requested; cancelled on request"
    )


def test_cancel_before_execution(market):
    group = _preview(market)
    report = cancel_basket_trade(
        market, lambda: pytest.fail("no broker needed"), group.id, trading=trading(), owner="c"
    )
    assert (report.outcome, report.status) == ("cancelled", "cancelled")
    assert {leg["status"] for leg in report.legs} == {"cancelled"}
    approved = _approved(market)
    no_broker = lambda: pytest.fail("no broker needed")  # noqa: E731
    report = cancel_basket_trade(market, no_broker, approved, trading=trading(), owner="c")
    assert report.status == "cancelled"
    assert _execute(market, approved).outcome == "already_finished"
    again = cancel_basket_trade(market, no_broker, approved, trading=trading(), owner="c")
    assert again.outcome == "already_finished"


def test_cancel_while_executing_then_after_the_executor_died(market):
    clock = Clock()
    group_id = _approved(market, clock=clock)
    crashing = _broker(market, CrashAfterPlacing, crash_after=4)
    with pytest.raises(Crash):
        _execute(market, group_id, broker=crashing, clock=clock)
    live = cancel_basket_trade(
        market,
        lambda: pytest.fail("the live executor owns the broker"),
        group_id,
        trading=trading(),
        owner="canceller",
        clock=clock,
    )
    assert live.outcome == "cancel_requested"
    legs = read_group(market, group_id).legs
    assert [leg.status for leg in legs[4:]] == ["cancelled"] * 6
    clock.advance(31)
    report = cancel_basket_trade(
        market,
        lambda: paper_broker(market.url),
        group_id,
        trading=trading(),
        owner="canceller",
        clock=clock,
    )
    assert (report.outcome, report.status) == ("finished", "partial")
    legs = read_group(market, group_id).legs
    assert [leg.status for leg in legs] == ["filled"] * 4 + ["cancelled"] * 6
    assert len(_paper_refs(market)) == 4


def test_user_cancel_reaches_the_order_in_flight(market):
    group_id = _approved(market)

    class CancelWhileWaiting(PaperBroker):
        """The user cancels the group while the executor waits for leg 2's fill."""

        def wait_for_terminal(self, order_ref, timeout):
            if order_ref == read_group(market, group_id).legs[1].order_ref:
                with market.transaction() as connection:
                    connection.execute(
                        update(GROUPS)
                        .where(GROUPS.c.id == group_id)
                        .values(cancel_requested_at=dt.datetime.now(dt.UTC))
                    )
            return super().wait_for_terminal(order_ref, timeout)

    slow = replace(PAPER, fill_latency_seconds=30.0)
    broker = _broker(market, CancelWhileWaiting, settings=slow)
    report = _execute(market, group_id, broker=broker, order_timeout_seconds=0.2)
    legs = read_group(market, group_id).legs
    # leg 1 never fills in time (timeout cancel: failed); leg 2 is cancelled by the user while
    # in flight; legs 3-10 are never placed. Nothing filled and not every leg was cancelled by
    # the user, so the group failed.
    assert legs[0].status == "failed" and "not filled within 0.2 s" in legs[0].status_reason
    assert legs[1].status == "cancelled"
    assert legs[1].status_reason == "cancelled by user; cancelled on request"
    assert all(leg.status == "cancelled" for leg in legs[2:])
    assert report.status == "failed"
    assert len(_paper_refs(market)) == 2


def test_a_stalled_executor_does_not_place_after_half_its_lease(market):
    import time

    from orchestration.execution.execute import BasketTradeExecution

    group_id = _approved(market)

    class Stalling(BasketTradeExecution):
        """Stalls (like a paused process) between marking leg 1 submitting and placing it."""

        def _leg(self, leg_no):
            leg = super()._leg(leg_no)
            if leg.status == "submitting":
                time.sleep(0.4)
            return leg

    limits = trading(lease_seconds=0.6)
    broker = paper_broker(market.url)
    stalled = Stalling(market, lambda: broker, group_id, trading=limits, owner="slow").run()
    assert stalled.outcome == "lease_lost"
    assert "too long to place leg 1 safely" in stalled.message
    assert read_group(market, group_id).legs[0].status == "submitting"
    assert _paper_refs(market) == []
    time.sleep(0.7)  # the stalled executor's lease expires
    report = _execute(market, group_id, owner="fresh")
    assert (report.outcome, report.status) == ("finished", "completed")
    refs = _paper_refs(market)
    assert refs == [leg.order_ref for leg in read_group(market, group_id).legs]
