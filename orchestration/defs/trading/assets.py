"""Trading assets: the portfolio's current holdings and their reconciliation with the broker."""

import dagster as dg

from orchestration import constants as c
from orchestration.clock import utc_now
from orchestration.constants import SIMULATED_NOTICE
from orchestration.defs.market_data.assets import instruments
from orchestration.defs.market_data.versions import frame_version
from orchestration.defs.trading import checks
from orchestration.execution.reconcile import reconcile_positions
from orchestration.metadata import markdown
from orchestration.resources.broker_connection import BrokerConnection
from orchestration.resources.database import Database
from orchestration.resources.positions import PositionsSource
from orchestration.storage.bulk import replace_rows
from orchestration.storage.models import PortfolioPosition


@dg.asset(group_name=c.TRADING, deps=[instruments], pool=c.BROKER_DATA_POOL)
def portfolio_positions(
    positions_source: PositionsSource, database: Database
) -> dg.MaterializeResult:
    """Current holdings (account, symbol, quantity, cost basis) from ``positions.csv``, the demo
    portfolio or the broker (``PORTFOLIO_POSITIONS_SOURCE``); every symbol must be a known
    instrument."""
    frame = positions_source.positions()
    known = set(database.read_frame("SELECT symbol FROM instruments")["symbol"])
    unknown = sorted(set(frame["symbol"]) - known)
    if unknown:
        raise ValueError(
            f"positions reference symbols that are not instruments: {', '.join(unknown)}"
        )
    with database.transaction() as connection:
        replace_rows(
            connection,
            PortfolioPosition.__table__,
            frame,
            constants={"source": positions_source.label, "updated_at": utc_now()},
        )
    notice = {"notice": SIMULATED_NOTICE} if positions_source.simulated else {}
    # The version is the holdings themselves: the same book again keeps every risk partition
    # that depends on it in sync; a changed book marks them unsynced.
    return dg.MaterializeResult(
        data_version=frame_version(frame, ["account", "symbol"]),
        metadata={
            "source": positions_source.label,
            "simulated": positions_source.simulated,
            **notice,
            "dagster/row_count": len(frame),
            "accounts": int(frame["account"].nunique()),
            "long_positions": int((frame["quantity"] > 0).sum()),
            "short_positions": int((frame["quantity"] < 0).sum()),
            "positions": markdown(frame),
        },
    )


@dg.asset(
    group_name=c.TRADING,
    deps=[portfolio_positions],
    pool=c.BROKER_DATA_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            c.BROKER_POSITIONS_RECONCILED,
            asset="broker_reconciliation",
            blocking=True,
            description=(
                "The broker holds exactly the positions our ledger expects; a break stops "
                "executions."
            ),
        )
    ],
)
def broker_reconciliation(
    context: dg.AssetExecutionContext, database: Database, broker_data: BrokerConnection
) -> dg.MaterializeResult:
    """The broker's positions compared with the ones our ledger expects (baseline plus every
    recorded fill). A break fails the blocking check; the execution sensor and the executor
    refuse to trade while the newest reconciliation has breaks."""
    result = reconcile_positions(
        database, broker_data.get(), source=f"broker_reconciliation run {context.run.run_id}"
    )
    return dg.MaterializeResult(
        metadata={
            "broker": result.broker,
            "account": result.account,
            "symbols_checked": result.symbols_checked,
            "breaks": len(result.breaks),
            "reconciliation_id": result.id,
            "baseline_id": result.baseline_id,
        },
        check_results=[checks.broker_positions_reconciled(result)],
    )
