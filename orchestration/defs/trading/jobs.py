"""Jobs: asset selections that run together, and the basket-trade op jobs.

The trade ops are thin: they call :mod:`orchestration.execution` with the run's resources and
attach the outcome as metadata. ``execute_basket_trade`` runs its op in the ``broker`` pool (the
instance limits every pool to one step at a time) and carries the execution tag, so executions
are serialised however they were launched.
"""

import dagster as dg
import pandas as pd

from orchestration import constants as c
from orchestration.execution.approve import approve_basket_trade as approve_group
from orchestration.execution.cancel import cancel_basket_trade as cancel_group
from orchestration.execution.execute import ExecutionReport
from orchestration.execution.execute import execute_basket_trade as execute_group
from orchestration.execution.preview import preview_basket_trade as preview_group
from orchestration.execution.records import TradeGroup
from orchestration.metadata import markdown
from orchestration.resources.broker_connection import BrokerConnection
from orchestration.resources.database import Database
from orchestration.resources.trading_policy import TradingPolicy

reconcile_broker_positions = dg.define_asset_job(
    c.RECONCILE_BROKER_POSITIONS_JOB,
    selection=dg.AssetSelection.assets("broker_reconciliation"),
    description="Compare the broker's positions with our ledger (blocking check on breaks).",
)


class BasketTradePreviewConfig(dg.Config):
    """Which basket to trade, how and for how much; ``approve`` only with auto-approval."""

    basket: str
    action: str
    value: float
    approve: bool = False
    source: str = "job"


class TradeGroupConfig(dg.Config):
    """The trade group to act on."""

    group_id: int


class BasketTradeExecutionConfig(dg.Config):
    """The trade group to execute; ``dry_run`` previews and checks without placing."""

    group_id: int
    dry_run: bool = False


def group_metadata(group: TradeGroup) -> dict[str, object]:
    """A trade group as metadata: status, totals, the legs table and the warnings."""
    legs = pd.DataFrame(
        [
            {
                "leg": leg.leg_no,
                "symbol": leg.symbol,
                "side": leg.side,
                "quantity": leg.quantity,
                "price": leg.estimated_price,
                "cost": leg.estimated_cost,
                "order_ref": leg.order_ref,
            }
            for leg in group.legs
        ]
    )
    return {
        "group_id": group.id,
        "status": group.status.value,
        "legs": len(group.legs),
        "estimated_cost": group.estimated_cost,
        "total_notional": group.total_notional,
        "leftover_cash": group.leftover_cash,
        "leg_previews": markdown(legs),
        "warnings": dg.MetadataValue.md("\n".join(f"- {w}" for w in group.warnings) or "_none_"),
    }


def _report_output(report: ExecutionReport) -> dg.Output:
    metadata = {
        "group_id": report.group_id,
        "outcome": report.outcome,
        "status": report.status,
        "orders_placed": report.placed,
        "message": report.message,
        "legs": markdown(pd.DataFrame(report.legs)),
        "drift_warnings": dg.MetadataValue.md(
            "\n".join(f"- {w}" for w in report.drift_warnings) or "_none_"
        ),
    }
    if report.needs_attention:
        raise dg.Failure(description=report.message, metadata=metadata)
    return dg.Output(None, metadata=metadata)


@dg.op(out=dg.Out(dg.Nothing), tags={"kind": "broker"}, pool=c.BROKER_DATA_POOL)
def basket_trade_preview(
    context: dg.OpExecutionContext,
    config: BasketTradePreviewConfig,
    database: Database,
    broker_data: BrokerConnection,
    trading_policy: TradingPolicy,
) -> dg.Output:
    """Preview a basket trade (what-if per leg); approve it too when auto-approval is on."""
    if config.approve and not (trading_policy.auto_approve and broker_data.kind == "paper"):
        raise dg.Failure(
            description="approve=true needs PORTFOLIO_AUTO_APPROVE=true and the paper broker"
        )
    group = preview_group(
        database,
        broker_data.get(),
        config.basket,
        config.action,
        config.value,
        trading=trading_policy.settings,
        source=config.source,
    )
    context.log.info(f"group {group.id}: {len(group.legs)} legs previewed")
    if config.approve:
        approval = approve_group(database, group.id, source=f"auto-approval ({config.source})")
        context.log.info(approval.message)
        group = approval.group
    return dg.Output(None, metadata=group_metadata(group))


@dg.op(out=dg.Out(dg.Nothing))
def basket_trade_approval(
    context: dg.OpExecutionContext, config: TradeGroupConfig, database: Database
) -> dg.Output:
    """Approve a previewed group (preview → approved)."""
    approval = approve_group(database, config.group_id, source=f"run {context.run_id}")
    context.log.info(approval.message)
    return dg.Output(
        None, metadata={**group_metadata(approval.group), "approval_id": approval.approval_id}
    )


@dg.op(out=dg.Out(dg.Nothing), pool=c.BROKER_POOL)
def basket_trade_execution(
    context: dg.OpExecutionContext,
    config: BasketTradeExecutionConfig,
    database: Database,
    broker: BrokerConnection,
    trading_policy: TradingPolicy,
) -> dg.Output:
    """Execute an approved group, every leg placed at most once (the run id owns the lease)."""
    report = execute_group(
        database,
        broker.get,
        config.group_id,
        trading=trading_policy.settings,
        owner=context.run_id,
        dry_run=config.dry_run,
        log=context.log,
    )
    return _report_output(report)


@dg.op(out=dg.Out(dg.Nothing))
def basket_trade_cancellation(
    context: dg.OpExecutionContext,
    config: TradeGroupConfig,
    database: Database,
    broker: BrokerConnection,
    trading_policy: TradingPolicy,
) -> dg.Output:
    """Cancel a group as far as it can still be cancelled. Not in the broker pool: it must be
    able to run while an execution holds the pool (it then only flags the group and cancels
    pending legs; the live executor cancels its order in flight)."""
    report = cancel_group(
        database,
        broker.get,
        config.group_id,
        trading=trading_policy.settings,
        owner=context.run_id,
        log=context.log,
    )
    return _report_output(report)


@dg.job(name=c.PREVIEW_BASKET_TRADE_JOB, description="Preview a basket trade (per-leg what-if).")
def preview_basket_trade() -> None:
    basket_trade_preview()


@dg.job(name=c.APPROVE_BASKET_TRADE_JOB, description="Approve a previewed basket trade.")
def approve_basket_trade() -> None:
    basket_trade_approval()


@dg.job(
    name=c.EXECUTE_BASKET_TRADE_JOB,
    description="Execute an approved basket trade (serialised by the broker pool).",
    # Never retried by the instance's run retries: a crashed execution is taken over by
    # reconciliation and a new run of the operator's, never by launching the same run again.
    tags={c.EXECUTION_TAG: "basket_trade", c.MAX_RETRIES_TAG: "0"},
)
def execute_basket_trade() -> None:
    basket_trade_execution()


@dg.job(
    name=c.CANCEL_BASKET_TRADE_JOB,
    description="Cancel a basket trade's pending and open legs.",
)
def cancel_basket_trade() -> None:
    basket_trade_cancellation()


TRADE_JOBS = (
    preview_basket_trade,
    approve_basket_trade,
    execute_basket_trade,
    cancel_basket_trade,
    reconcile_broker_positions,
)
