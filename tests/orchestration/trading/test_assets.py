"""Trading assets: positions from the broker, and the broker reconciliation with its blocking
check (passes on matching positions, fails on a break)."""

import dagster as dg
import pytest
from sqlalchemy import insert

from orchestration.definitions import build_resources
from orchestration.defs.trading.assets import broker_reconciliation, portfolio_positions
from orchestration.resources.broker import OrderRequest, OrderSide
from orchestration.storage.models import PaperPosition
from tests.support import make_settings
from tests.trading_support import HOLDINGS, paper_broker, seed_market


def _resources(tmp_path, database_url):
    seed_market(database_url)
    settings = make_settings(tmp_path, database_url, PORTFOLIO_POSITIONS_SOURCE="broker")
    return build_resources(settings)


@pytest.fixture
def resources(tmp_path, sqlite_url):
    """Resources on SQLite: the reconciliation's queries run on both databases in the
    execution tests."""
    return _resources(tmp_path, sqlite_url)


def test_portfolio_positions_come_from_the_broker(tmp_path, database_url, instance):
    resources = _resources(tmp_path, database_url)
    paper_broker(database_url).place(OrderRequest("S05", OrderSide.BUY, 7, "ref-asset"))
    result = dg.materialize(
        [portfolio_positions], resources=resources, instance=instance, raise_on_error=False
    )
    assert result.success
    frame = resources["database"].read_frame(
        "SELECT account, symbol, quantity, source FROM portfolio_positions ORDER BY symbol"
    )
    assert dict(zip(frame["symbol"], frame["quantity"], strict=True)) == {**HOLDINGS, "S05": 7.0}
    assert set(frame["account"]) == {"PAPER"}
    assert set(frame["source"]) == {"paper broker positions"}
    [event] = result.get_asset_materialization_events()
    assert event.materialization.metadata["simulated"].value is True


def _reconcile(resources, instance):
    result = dg.materialize(
        [broker_reconciliation], resources=resources, instance=instance, raise_on_error=False
    )
    [evaluation] = result.get_asset_check_evaluations()
    return result, evaluation


def test_reconciliation_check_fails_on_an_order_placed_outside_the_pipeline(
    resources, sqlite_url, instance
):
    paper_broker(sqlite_url).place(OrderRequest("S06", OrderSide.BUY, 3, "ref-unrecorded"))
    result, evaluation = _reconcile(resources, instance)
    # the paper account holds 3 S06 that no recorded fill of ours explains: a break
    assert not evaluation.passed
    assert evaluation.metadata["breaks"].value == 1
    assert not result.success


def test_reconciliation_check_passes_on_the_opening_positions(resources, instance):
    result, evaluation = _reconcile(resources, instance)
    assert result.success and evaluation.passed
    assert evaluation.metadata["symbols_checked"].value == len(HOLDINGS)


def test_reconciliation_check_fails_on_a_position_nobody_recorded(resources, instance):
    with resources["database"].transaction() as connection:
        connection.execute(
            insert(PaperPosition.__table__).values(
                account="PAPER", symbol="S09", quantity=4.0, average_cost=83.0
            )
        )
    result, evaluation = _reconcile(resources, instance)
    assert not evaluation.passed
    assert "S09 expected 0 held 4" in evaluation.description
    assert not result.success
