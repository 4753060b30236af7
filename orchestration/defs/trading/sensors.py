"""Trading sensors: approved trade groups → executions.

They only read (the app database, the Dagster event log) and request runs; they never touch a
broker (IB must not be called from sensor threads, DESIGN.md section 5). Run keys make a
repeated tick harmless: Dagster launches one run per key.
"""

import dagster as dg
from sqlalchemy import select

from orchestration import constants as c
from orchestration.clock import naive_utc
from orchestration.defs.trading.jobs import execute_basket_trade
from orchestration.execution.halts import halt_state, latest_resume
from orchestration.execution.reconcile import latest_reconciliation
from orchestration.execution.records import GROUPS, GroupStatus
from orchestration.resources.database import Database
from orchestration.storage.models import TradeApproval

APPROVALS = TradeApproval.__table__


def execution_run_key(group_id: int, approval_id: int, resume_id: int = 0) -> str:
    """The run key of the execution of one approval of one group; ``resume_id`` is the halt
    switch's newest ``resume`` when it came after the approval (0 otherwise), so a group whose
    execution failed on a halt gets a new key, and runs again, once trading resumes."""
    key = f"execute-group-{group_id}-approval-{approval_id}"
    return f"{key}-resume-{resume_id}" if resume_id else key


@dg.sensor(
    name=c.TRADE_APPROVAL_SENSOR,
    job=execute_basket_trade,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One execute_basket_trade run per approved trade group (and one more after a "
    "resume of the halt switch for a group still approved).",
)
def trade_approval_sensor(
    context: dg.SensorEvaluationContext, database: Database
) -> dg.SensorResult | dg.SkipReason:
    """Request an execution for every approved group, keyed by its latest approval.

    The run key is a function of the database alone (group, approval and, when trading was
    resumed after the approval, that resume), so a repeated tick repeats the same keys and
    Dagster launches one run per key, while a group whose execution failed on the halt gets a
    new key after ``portfolio trading resume``. Nothing is requested while trading is halted or
    the newest broker reconciliation has breaks: those groups run once the halt is lifted or
    the breaks are resolved.
    """
    with database.engine.connect() as connection:
        halt = halt_state(connection)
        if halt.halted:
            return dg.SkipReason(
                f"not launching executions: {halt.describe()}; approved groups run after "
                "`portfolio trading resume`"
            )
        latest = latest_reconciliation(connection)
        if latest is not None and not latest.passed:
            return dg.SkipReason(
                f"not launching executions: {latest.describe()}. Resolve it (re-materialize "
                "broker_reconciliation, or `portfolio trading rebaseline`)"
            )
        resume = latest_resume(connection)
        approved = connection.execute(
            select(APPROVALS.c.group_id, APPROVALS.c.id, APPROVALS.c.approved_at)
            .join(GROUPS, GROUPS.c.id == APPROVALS.c.group_id)
            .where(GROUPS.c.status == GroupStatus.APPROVED.value)
            .order_by(APPROVALS.c.group_id, APPROVALS.c.id)
        ).all()
    latest_approval = {row.group_id: row for row in approved}
    requests = [
        dg.RunRequest(
            run_key=execution_run_key(
                group_id,
                row.id,
                resume.id if resume and resume.at > naive_utc(row.approved_at) else 0,
            ),
            run_config={"ops": {"basket_trade_execution": {"config": {"group_id": group_id}}}},
            tags={c.TRADE_GROUP_TAG: str(group_id), c.APPROVAL_TAG: str(row.id)},
        )
        for group_id, row in latest_approval.items()
    ]
    if not requests:
        return dg.SkipReason("no approved trade groups")
    return dg.SensorResult(run_requests=requests)
