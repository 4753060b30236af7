"""The four trade-performance assets on the paper broker (SQLite and PostgreSQL), and the
reconciliation check passing on FIFO's output and failing on a tampered one.

Hand-worked: S05 closes at 55; the paper broker fills a buy at 55 * 1.001 = 55.055 and a sell
at 55 * 0.999 = 54.945 with a $1 minimum commission. Buy 10, sell 4: the realized trade is 4
shares long, fees 4 * (1/10 + 1/4) = 1.40, P&L (54.945 - 55.055) * 4 - 1.40 = -1.84; 6 shares
stay open at 55.055 (cost 330.33), worth 330 at the close: unrealized P&L -0.33.
"""

import dataclasses

import dagster as dg
import pytest

from analytics_lib.trade_analysis import match_fifo
from orchestration.definitions import build_resources
from orchestration.defs.performance import checks, store
from orchestration.defs.performance.assets import (
    positions_pnl,
    realized_trades,
    trading_performance,
    transactions,
)
from orchestration.resources.broker import OrderRequest, OrderSide
from tests.support import make_settings
from tests.trading_support import paper_broker, seed_market

ASSETS = [transactions, realized_trades, trading_performance, positions_pnl]


@pytest.fixture
def resources(tmp_path, database_url):
    seed_market(database_url)
    broker = paper_broker(database_url)
    broker.place(OrderRequest("S05", OrderSide.BUY, 10, "ref-buy"))
    broker.place(OrderRequest("S05", OrderSide.SELL, 4, "ref-sell"))
    return build_resources(make_settings(tmp_path, database_url))


def test_paper_fills_become_a_realized_trade_and_an_open_position(resources, instance):
    result = dg.materialize(ASSETS, resources=resources, instance=instance)
    assert result.success
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.check_name == checks.REALIZED_PNL_RECONCILES and evaluation.passed
    database = resources["database"]
    with database.transaction() as connection:
        recorded = store.read_transactions(connection)
        realized = store.read_realized_trades(connection)
        positions = store.read_positions_pnl(connection)
    assert recorded["order_ref"].tolist() == ["ref-buy", "ref-sell"]
    assert set(recorded["source"]) == {"paper"}
    [trade] = realized.to_dict("records")
    assert (trade["symbol"], trade["name"], trade["direction"]) == ("S05", "Test Co S05", "long")
    assert trade["quantity"] == 4.0 and trade["holding_days"] == 0
    assert trade["entry_price"] == pytest.approx(55.055)
    assert trade["exit_price"] == pytest.approx(54.945)
    assert trade["fees"] == pytest.approx(1.40)
    assert trade["pnl"] == pytest.approx(-1.84)
    [position] = positions.to_dict("records")
    assert position["shares"] == 6.0 and position["current_price"] == 55.0
    assert position["pnl_dollars"] == pytest.approx(-0.33)
    assert position["gross_exposure"] == pytest.approx(330.0)
    events = {
        e.asset_key.path[-1]: e.materialization for e in result.get_asset_materialization_events()
    }
    metadata = events["trading_performance"].metadata
    assert metadata["net_realized_pnl"].value == pytest.approx(-1.84)
    assert metadata["win_rate"].value == 0.0
    assert "REALIZED PERFORMANCE" in metadata["report"].value
    assert metadata["return_distribution_chart"].value.startswith("![")
    assert "data:image/png;base64," in metadata["return_distribution_chart"].value
    assert events["positions_pnl"].metadata["unrealized_pnl"].value == pytest.approx(-0.33)


def test_rerunning_records_nothing_twice_and_keeps_history(resources, instance):
    for _ in range(2):
        result = dg.materialize(ASSETS, resources=resources, instance=instance)
    events = {
        e.asset_key.path[-1]: e.materialization for e in result.get_asset_materialization_events()
    }
    assert events["transactions"].metadata["new_transactions"].value == 0
    assert events["transactions"].metadata["unchanged_transactions"].value == 2
    database = resources["database"]
    counts = database.read_frame(
        "SELECT (SELECT COUNT(*) FROM transactions) AS t, (SELECT COUNT(*) FROM realized_trades)"
        " AS r, (SELECT COUNT(*) FROM trading_performance_snapshots) AS s,"
        " (SELECT COUNT(*) FROM positions_pnl_snapshots) AS p"
    ).iloc[0]
    assert [int(v) for v in counts] == [2, 1, 2, 2]


def test_reconciliation_fails_when_money_goes_missing(resources, instance):
    assert dg.materialize([transactions], resources=resources, instance=instance).success
    with resources["database"].transaction() as connection:
        table = store.read_transactions(connection)
    fifo = match_fifo(store.kernel_frame(table))
    assert len(fifo.realized) == 1
    assert checks.realized_pnl_reconciles(table, fifo).passed
    tampered = dataclasses.replace(
        fifo, realized=fifo.realized.assign(pnl=fifo.realized["pnl"] + 1)
    )
    failed = checks.realized_pnl_reconciles(table, tampered)
    assert not failed.passed
    assert "PAPER/USD: cash off by 1" in failed.description
