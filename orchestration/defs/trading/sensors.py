"""Trading sensors: approved trade groups → executions; new trade plans → preview groups.

They only read (the app database, the Dagster event log) and request runs; they never touch a
broker (IB must not be called from sensor threads, DESIGN.md section 5). Run keys make a
repeated tick harmless: Dagster launches one run per key.
"""

import dagster as dg
from sqlalchemy import select

from orchestration import constants as c
from orchestration.defs.trading.jobs import execute_basket_trade, preview_basket_trade
from orchestration.execution.reconcile import latest_reconciliation
from orchestration.execution.records import GROUPS, GroupStatus
from orchestration.resources.database import Database
from orchestration.resources.trading_policy import TradingPolicy
from orchestration.storage.models import TradeApproval

APPROVALS = TradeApproval.__table__
TRADE_PLAN_BATCH = 100
TRADE_PLAN_FIELDS = ("basket", "action", "value")


def execution_run_key(group_id: int, approval_id: int) -> str:
    """The run key of the execution launched for one approval of one group."""
    return f"execute-group-{group_id}-approval-{approval_id}"


@dg.sensor(
    name=c.TRADE_APPROVAL_SENSOR,
    job=execute_basket_trade,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One execute_basket_trade run per approval of a trade group.",
)
def trade_approval_sensor(
    context: dg.SensorEvaluationContext, database: Database
) -> dg.SensorResult | dg.SkipReason:
    """Launch an execution for every approval newer than the cursor whose group is still
    approved. While the newest broker reconciliation has breaks nothing is launched and the
    cursor stays, so the approvals run once the breaks are resolved."""
    cursor = int(context.cursor or 0)
    with database.engine.connect() as connection:
        latest = latest_reconciliation(connection)
        if latest is not None and not latest.passed:
            return dg.SkipReason(
                f"not launching executions: {latest.describe()}. Resolve it (re-materialize "
                "broker_reconciliation, or `portfolio trading rebaseline`)"
            )
        rows = connection.execute(
            select(APPROVALS.c.id, APPROVALS.c.group_id, GROUPS.c.status)
            .join(GROUPS, GROUPS.c.id == APPROVALS.c.group_id)
            .where(APPROVALS.c.id > cursor)
            .order_by(APPROVALS.c.id)
        ).all()
    requests = [
        dg.RunRequest(
            run_key=execution_run_key(row.group_id, row.id),
            run_config={"ops": {"basket_trade_execution": {"config": {"group_id": row.group_id}}}},
            tags={c.TRADE_GROUP_TAG: str(row.group_id), c.APPROVAL_TAG: str(row.id)},
        )
        for row in rows
        if row.status == GroupStatus.APPROVED
    ]
    new_cursor = str(max([cursor, *(row.id for row in rows)]))
    if not requests:
        return dg.SensorResult(skip_reason="no new approved trade groups", cursor=new_cursor)
    return dg.SensorResult(run_requests=requests, cursor=new_cursor)


def _trade_plan_request(
    record: dg.EventLogRecord, approve: bool
) -> tuple[dg.RunRequest | None, str | None]:
    materialization = record.asset_materialization
    metadata = materialization.metadata if materialization is not None else {}
    missing = [name for name in TRADE_PLAN_FIELDS if name not in metadata]
    if missing:
        return None, f"trade_plan event {record.storage_id} lacks metadata {', '.join(missing)}"
    basket, action, value = (metadata[name].value for name in TRADE_PLAN_FIELDS)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None, f"trade_plan event {record.storage_id}: value {value!r} is not a number"
    config = {
        "basket": str(basket),
        "action": str(action),
        "value": float(value),
        "approve": approve,
        "source": f"trade_plan event {record.storage_id}",
    }
    return (
        dg.RunRequest(
            run_key=f"trade-plan-{record.storage_id}",
            run_config={"ops": {"basket_trade_preview": {"config": config}}},
            tags={"portfolio/trade_plan_event": str(record.storage_id)},
        ),
        None,
    )


@dg.sensor(
    name=c.TRADE_PLAN_SENSOR,
    job=preview_basket_trade,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One preview_basket_trade run per new trade_plan materialization.",
)
def trade_plan_sensor(
    context: dg.SensorEvaluationContext, trading_policy: TradingPolicy
) -> dg.SensorResult | dg.SkipReason:
    """Turn every new ``trade_plan`` materialization into a preview group.

    Contract: the materialization's metadata carries ``basket`` (text), ``action`` (buy, sell
    or rebalance) and ``value`` (a number). The cursor is the storage id of the last event
    seen, so every materialization is seen once (``asset_sensor`` would only see the newest).
    Groups are approved automatically only with ``PORTFOLIO_AUTO_APPROVE=true`` (paper broker
    only; the preview op checks again).
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
        request, problem = _trade_plan_request(record, trading_policy.auto_approve)
        if problem:
            context.log.warning(problem)
        if request is not None:
            requests.append(request)
    return dg.SensorResult(run_requests=requests, cursor=str(records[-1].storage_id))


TRADE_SENSORS = (trade_approval_sensor, trade_plan_sensor)
