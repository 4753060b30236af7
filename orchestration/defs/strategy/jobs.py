"""Strategy jobs: the investment process for one as-of date, and a trade plan's preview.

``strategy_pipeline`` materializes the strategy group for one trading day (universe → scores →
target → backtest and trade plan). ``preview_trade_plan`` turns a stored plan into a preview
trade group whose legs are the plan's trades; from there the basket-trade path applies
unchanged (approve → ``trade_approval_sensor`` → ``execute_basket_trade``).
"""

import dagster as dg

from orchestration import constants as c
from orchestration.defs.trading.jobs import group_metadata
from orchestration.execution.approve import approve_basket_trade as approve_group
from orchestration.execution.preview import preview_trade_plan as preview_plan
from orchestration.resources.broker_connection import BrokerConnection
from orchestration.resources.database import Database
from orchestration.resources.trading_policy import TradingPolicy

strategy_pipeline = dg.define_asset_job(
    c.STRATEGY_JOB,
    selection=dg.AssetSelection.groups(c.STRATEGY),
    description="The investment process for one trading day: ETF universe, factor scores, "
    "target portfolio, walk-forward backtest and the trade plan against the live book.",
)


class TradePlanPreviewConfig(dg.Config):
    """The plan to preview; ``approve`` only with auto-approval (paper broker)."""

    trade_plan_id: int
    approve: bool = False
    source: str = "job"


@dg.op(out=dg.Out(dg.Nothing), tags={"kind": "broker"})
def trade_plan_preview(
    context: dg.OpExecutionContext,
    config: TradePlanPreviewConfig,
    database: Database,
    broker_data: BrokerConnection,
    trading_policy: TradingPolicy,
) -> dg.Output:
    """Preview a plan's trades (what-if per leg) as one group; approve it when auto-approval is
    on with the paper broker."""
    if config.approve and not (trading_policy.auto_approve and broker_data.kind == "paper"):
        raise dg.Failure(
            description="approve=true needs PORTFOLIO_AUTO_APPROVE=true and the paper broker"
        )
    group = preview_plan(
        database,
        broker_data.get(),
        config.trade_plan_id,
        trading=trading_policy.settings,
        source=config.source,
    )
    context.log.info(f"group {group.id}: {len(group.legs)} legs of plan {config.trade_plan_id}")
    if config.approve:
        approval = approve_group(database, group.id, source=f"auto-approval ({config.source})")
        context.log.info(approval.message)
        group = approval.group
    return dg.Output(
        None, metadata={**group_metadata(group), "trade_plan_id": config.trade_plan_id}
    )


@dg.job(
    name=c.PREVIEW_TRADE_PLAN_JOB,
    description="Preview a trade plan as a trade group (per-leg what-if).",
)
def preview_trade_plan() -> None:
    trade_plan_preview()
