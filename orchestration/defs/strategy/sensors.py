"""Strategy sensor: every new ``trade_plan`` materialization → one ``preview_trade_plan`` run.

It reads the Dagster event log only and requests runs; it never touches a broker. The cursor
is the storage id of the last event seen, so every materialization is handled once
(``asset_sensor`` would only see the newest), and the run key makes a repeated tick harmless.
"""

import dagster as dg

from orchestration import constants as c
from orchestration.defs.strategy.jobs import preview_trade_plan
from orchestration.resources.trading_policy import TradingPolicy

TRADE_PLAN_BATCH = 100


def _plan_request(record: dg.EventLogRecord, approve: bool) -> dg.RunRequest | str | None:
    """The preview run of one materialization, a problem to log, or None (nothing to trade)."""
    materialization = record.asset_materialization
    metadata = materialization.metadata if materialization is not None else {}
    entry = metadata.get(c.TRADE_PLAN_ID_METADATA)
    plan_id = entry.value if entry is not None else None
    if not isinstance(plan_id, int) or isinstance(plan_id, bool):
        return (
            f"trade_plan event {record.storage_id} has no integer "
            f"{c.TRADE_PLAN_ID_METADATA} metadata ({plan_id!r})"
        )
    trades = metadata.get("trades")
    if trades is not None and trades.value == 0:
        return None
    config = {
        "trade_plan_id": plan_id,
        "approve": approve,
        "source": f"trade plan {plan_id} (event {record.storage_id})",
    }
    return dg.RunRequest(
        run_key=f"trade-plan-{plan_id}-event-{record.storage_id}",
        run_config={"ops": {"trade_plan_preview": {"config": config}}},
        tags={"portfolio/trade_plan": str(plan_id)},
    )


@dg.sensor(
    name=c.TRADE_PLAN_SENSOR,
    job=preview_trade_plan,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One preview_trade_plan run per new trade_plan materialization with trades.",
)
def trade_plan_sensor(
    context: dg.SensorEvaluationContext, trading_policy: TradingPolicy
) -> dg.SensorResult | dg.SkipReason:
    """Turn every new ``trade_plan`` materialization into a preview group of the plan's trades.

    Contract: the materialization's metadata carries ``trade_plan_id`` (the stored plan) and
    ``trades`` (how many; a plan without trades is skipped). Groups are approved automatically
    only with ``PORTFOLIO_AUTO_APPROVE=true`` (paper broker only; the preview op checks again).
    """
    cursor = int(context.cursor or 0)
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(c.TRADE_PLAN_ASSET), after_storage_id=cursor),
        limit=TRADE_PLAN_BATCH,
        ascending=True,
    ).records
    if not records:
        return dg.SkipReason("no new trade_plan materializations")
    requests = []
    for record in records:
        outcome = _plan_request(record, trading_policy.auto_approve)
        if isinstance(outcome, str):
            context.log.warning(outcome)
        elif outcome is not None:
            requests.append(outcome)
    return dg.SensorResult(run_requests=requests, cursor=str(records[-1].storage_id))
