"""Limits and cash at preview time, in a dry run and in the executor; how legs are sized and
how leftover cash is computed (SQLite and PostgreSQL, the real paper broker).

Hand-worked market (tests/trading_support.py): the latest close of S<i> is 20 + 7 i (S01 27,
S02 34, S03 41, S04 48, S05 55, …); the portfolio holds S01 100, S02 50, S03 10, worth
2,700 + 1,700 + 410 = 4,810. The paper broker (settings PAPER) estimates and fills at
close × 1.001 for a buy and close × 0.999 for a sell, commission max(1, 0.01 × shares), so a
buy of q shares costs q × close × 1.001 + 1 and a sell raises q × close × 0.999 − 1 (q < 100).
"""

import math
from dataclasses import replace

import pytest
from sqlalchemy import select, update

from orchestration.defs.baskets import store as basket_store
from orchestration.execution.approve import approve_basket_trade
from orchestration.execution.execute import execute_basket_trade
from orchestration.execution.preview import preview_basket_trade
from orchestration.execution.records import GROUPS, TradeError, read_group
from orchestration.resources.paper_broker import PaperBroker
from orchestration.storage.models import PaperAccount, PaperOrder
from tests.trading_support import PAPER, make_basket, paper_broker, seed_market, trading

HELD_VALUE = 100 * 27 + 50 * 34 + 10 * 41  # 4,810


@pytest.fixture
def market(database_url):
    database = seed_market(database_url)
    make_basket(database)
    basket_store.create_basket(database, "pair", ["S01", "S02"], method="equal")
    basket_store.create_basket(database, "four", ["S01", "S02", "S03", "S04"], method="equal")
    basket_store.create_basket(database, "one", ["S05"], method="equal")
    return database


class NoWhatIf(PaperBroker):
    """A broker that fails the test when asked for a what-if preview."""

    def preview(self, order):
        pytest.fail(f"no what-if expected, got one for {order.symbol}")


def _broker(database, cls=PaperBroker, **changes):
    broker = cls(database.url, replace(PAPER, **changes), poll_seconds=0.005)
    broker.connect()
    return broker


def _preview(database, basket="tenleg", action="buy", value=10_000.0, broker=None, **limits):
    return preview_basket_trade(
        database,
        broker or paper_broker(database.url),
        basket,
        action,
        value,
        trading=trading(**limits),
    )


def _groups(database) -> int:
    with database.engine.connect() as connection:
        return len(connection.execute(select(GROUPS.c.id)).all())


def _paper_orders(database) -> int:
    with database.engine.connect() as connection:
        return len(connection.execute(select(PaperOrder.__table__.c.id)).all())


def _set_paper_cash(database, cash: float) -> None:
    with database.transaction() as connection:
        connection.execute(update(PaperAccount.__table__).values(cash=cash))


# ---- issue 12 §6: the requested value is validated before any what-if ----


@pytest.mark.parametrize(
    ("action", "value", "limits", "message"),
    [
        (
            "buy",
            1e18,
            {},
            "--value 1,000,000,000,000,000,000.00 is over the limit max_group_notional "
            "500,000.00 (PORTFOLIO_MAX_GROUP_NOTIONAL): a buy trades up to its value",
        ),
        ("sell", 600_000.0, {}, "--value 600,000.00 is over the limit max_group_notional"),
        ("buy", math.inf, {}, "--value must be a positive amount, got inf"),
        ("buy", math.nan, {}, "--value must be a positive amount, got nan"),
        ("buy", -5.0, {}, "--value must be a positive amount, got -5.0"),
        (
            # net liquidation = paper cash 1,000,000 + holdings 4,810; 1 % of it = 10,048.10
            "buy",
            20_000.0,
            {"max_net_liquidation_fraction": 0.01},
            "--value 20,000.00 is over the limit max_net_liquidation_fraction: 1.0% of the net "
            "liquidation value 1,004,810.00 = 10,048.10 (PORTFOLIO_MAX_NET_LIQUIDATION_FRACTION)",
        ),
        (
            "rebalance",
            1e18,
            {},
            "--value 1,000,000,000,000,000,000.00 is over the account's net liquidation value "
            "1,004,810.00",
        ),
    ],
)
def test_an_absurd_value_is_refused_before_any_what_if(market, action, value, limits, message):
    broker = _broker(market, NoWhatIf)
    with pytest.raises(TradeError) as raised:
        _preview(market, action=action, value=value, broker=broker, **limits)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
    assert _groups(market) == 0


# ---- issue 12 §6: a preview checks the executor's limits and marks each breaching leg ----


def test_preview_marks_each_leg_over_a_limit_and_the_executor_refuses_it(market):
    # buy 10,000: 1,000 per ticker; notional q × close × 1.001 over 990 for
    # S01 37 × 27.027 = 1,000.00, S05 18 × 55.055 = 990.99, S06 16 × 62.062 = 992.99,
    # S09 12 × 83.083 = 997.00, S10 11 × 90.09 = 990.99; the other five are under 990
    group = _preview(market, max_order_notional=990.0)
    refused = {"S01", "S05", "S06", "S09", "S10"}
    assert group.status == "preview"
    assert {leg.status for leg in group.legs} == {"pending"}
    for leg in group.legs:
        if leg.symbol in refused:
            assert leg.status_reason.startswith(
                "would be refused by limit max_order_notional: the order's notional"
            )
            assert "PORTFOLIO_MAX_ORDER_NOTIONAL" in leg.status_reason
        else:
            assert leg.status_reason is None
    flagged = [w for w in group.warnings if "would be refused by limit" in w]
    assert [w.split(":")[0] for w in flagged] == [
        "leg 1 BUY 37 S01",
        "leg 5 BUY 18 S05",
        "leg 6 BUY 16 S06",
        "leg 9 BUY 12 S09",
        "leg 10 BUY 11 S10",
    ]
    approve_basket_trade(market, group.id)
    report = execute_basket_trade(
        market,
        lambda: paper_broker(market.url),
        group.id,
        trading=trading(max_order_notional=990.0),
        owner="executor",
    )
    assert (report.status, report.placed) == ("partial", 5)
    after = read_group(market, group.id)
    assert {leg.symbol for leg in after.legs if leg.status == "filled"} == {
        f"S{i:02d}" for i in (2, 3, 4, 7, 8)
    }
    for leg in after.legs:
        if leg.symbol in refused:
            assert leg.status == "failed"
            assert leg.status_reason.startswith("refused by limit max_order_notional")
    assert _paper_orders(market) == 5


def test_group_limit_at_preview_counts_only_the_accepted_legs(market):
    # rebalance "four" to 4,000: sell S01 63 (63 × 27 × 0.999 = 1,699.299), sell S02 21
    # (714 × 0.999 = 713.286): 2,412.585 placed; buy S03 14 (574 × 1.001 = 574.574) would make
    # 2,987.159 and buy S04 20 (960.96) 3,373.545, both over 2,500
    group = _preview(
        market, basket="four", action="rebalance", value=4_000.0, max_group_notional=2_500.0
    )
    assert [leg.status_reason is None for leg in group.legs] == [True, True, False, False]
    assert group.legs[2].status_reason == (
        "would be refused by limit max_group_notional: the group would place 2,987.16 in "
        "total, over 2,500.00 (PORTFOLIO_MAX_GROUP_NOTIONAL)"
    )
    assert "would place 3,373.55 in total" in group.legs[3].status_reason


def test_a_group_whose_every_leg_is_refused_is_failed(market):
    group = _preview(market, max_order_notional=100.0)
    assert group.status == "failed"
    assert group.finished_at is not None
    assert {leg.status for leg in group.legs} == {"failed"}
    assert all("limit max_order_notional" in leg.status_reason for leg in group.legs)
    with pytest.raises(TradeError, match=f"group {group.id} is failed"):
        approve_basket_trade(market, group.id)


# ---- issue 16 §7: previews and dry runs check cash like the execution ----


def test_preview_refuses_a_buy_the_cash_cannot_fund(market):
    # pair buy 2,000: S01 37 shares cost 37 × 27 × 1.001 + 1 = 1,000.999, S02 29 shares
    # 29 × 34 × 1.001 + 1 = 987.986; with 1,500 cash only S01 is funded, 499.001 remain
    broker = _broker(market, cash=1_500.0)
    group = _preview(market, basket="pair", value=2_000.0, broker=broker)
    s01, s02 = group.legs
    assert s01.status_reason is None
    assert s02.status_reason == (
        "would be refused by insufficient cash: needs 987.99, 499.00 available after earlier legs"
    )
    assert group.status == "preview"


def test_sells_before_buys_fund_the_buys(market):
    # rebalance "four" to 4,000 with no cash at all: sell S01 63 (raises 63 × 27 × 0.999 − 1
    # = 1,698.299) and S02 21 (21 × 34 × 0.999 − 1 = 712.286), then buy S03 14
    # (14 × 41 × 1.001 + 1 = 575.574) and S04 20 (20 × 48 × 1.001 + 1 = 961.96): funded
    broker = _broker(market, cash=0.0)
    group = _preview(market, basket="four", action="rebalance", value=4_000.0, broker=broker)
    assert [(leg.symbol, leg.side, leg.status) for leg in group.legs] == [
        ("S01", "SELL", "pending"),
        ("S02", "SELL", "pending"),
        ("S03", "BUY", "pending"),
        ("S04", "BUY", "pending"),
    ]
    # target 37 × 27 + 29 × 34 + 24 × 41 + 20 × 48 = 3,929 at the close; slippage and
    # commissions 2.701 + 1.714 + 1.574 + 1.96 = 7.949
    assert group.leftover_cash == pytest.approx(4_000.0 - 3_929.0 - 7.949)


def test_dry_run_and_execution_check_cash_after_the_preview(market):
    group = _preview(market, basket="pair", value=2_000.0)
    assert {leg.status for leg in group.legs} == {"pending"}
    approve_basket_trade(market, group.id)
    _set_paper_cash(market, 1_500.0)  # the account spent its cash elsewhere since
    dry = execute_basket_trade(
        market,
        lambda: paper_broker(market.url),
        group.id,
        trading=trading(),
        owner="dry",
        dry_run=True,
    )
    assert [row["would"] for row in dry.legs] == [
        "place",
        "refuse: insufficient cash: needs 987.99, 499.00 available after earlier legs",
    ]
    assert _paper_orders(market) == 0
    report = execute_basket_trade(
        market, lambda: paper_broker(market.url), group.id, trading=trading(), owner="executor"
    )
    assert (report.status, report.placed) == ("partial", 1)
    s01, s02 = read_group(market, group.id).legs
    assert s01.status == "filled"
    assert (s02.status, s02.status_reason) == (
        "failed",
        "refused by insufficient cash: needs 987.99, 499.00 available after earlier legs",
    )
    assert _paper_orders(market) == 1


# ---- issue 16 §8: how trades are sized and how leftover cash is computed ----


def test_sell_reduces_current_holdings_proportionally_and_reports_net_proceeds(market):
    # equal weights, but a sell of 2,000 takes 2,000 / 4,810 of each holding:
    # S01 floor(41.58) = 41, S02 floor(20.79) = 20, S03 floor(4.158) = 4
    group = _preview(market, action="sell", value=2_000.0)
    assert [(leg.symbol, leg.side, leg.quantity) for leg in group.legs] == [
        ("S01", "SELL", 41),
        ("S02", "SELL", 20),
        ("S03", "SELL", 4),
    ]
    # 41 × 27 + 20 × 34 + 4 × 41 = 1,951 at the close, × 0.999 − 3 commissions = 1,946.049
    assert group.leftover_cash == pytest.approx(2_000.0 - 1_946.049)


def test_a_buy_never_costs_more_than_its_value(market):
    # 1,100 / 55 = 20 shares would cost 20 × 55.055 + 1 = 1,102.10: 2.10 over the value, so
    # the legs are sized again for 1,097.90: 19 shares costing 19 × 55.055 + 1 = 1,047.045
    group = _preview(market, basket="one", value=1_100.0)
    [leg] = group.legs
    assert leg.quantity == 19
    assert group.estimated_cost == pytest.approx(1_047.045)
    assert group.leftover_cash == pytest.approx(1_100.0 - 1_047.045)
    assert (
        "sized for 1,097.90 instead of 1,100.00 so that the estimated slippage and "
        "commissions fit the value" in group.warnings
    )
