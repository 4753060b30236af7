"""Alert sensors: a failed run and a run's failed asset checks each become one webhook POST.

``run_failure_alerts`` is Dagster's run-failure sensor (its own cursor walks every failed run
of this code location once). ``check_failure_alerts`` walks every run that ended (succeeded,
failed or was cancelled) after its cursor, oldest first, in pages, and sends one alert per run
with the checks that did not pass, so a backfill's many runs are each reported, not only the
latest. Both skip, saying so, when ``PORTFOLIO_ALERT_WEBHOOK`` is unset; the check sensor then
moves its cursor on, so setting the variable later sends no backlog.
"""

import dagster as dg
from dagster_shared.error import SerializableErrorInfo

from orchestration import constants as c
from orchestration.defs.alerts.webhook import AlertWebhook

RUN_END_EVENTS = (
    dg.DagsterEventType.RUN_SUCCESS,
    dg.DagsterEventType.RUN_FAILURE,
    dg.DagsterEventType.RUN_CANCELED,
)
PAGE_SIZE = 100
PARTITION_TAG = "dagster/partition"


def _partition(run: dg.DagsterRun) -> str | None:
    """The run's partition, or its partition range ``start…end``, or None."""
    if PARTITION_TAG in run.tags:
        return run.tags[PARTITION_TAG]
    if c.RANGE_START_TAG in run.tags:
        return f"{run.tags[c.RANGE_START_TAG]}…{run.tags.get(c.RANGE_END_TAG, '')}"
    return None


def _where(run: dg.DagsterRun) -> str:
    partition = _partition(run)
    return f"`{run.job_name}`" + (f" ({partition})" if partition else "")


def _root_cause(error: SerializableErrorInfo | None) -> str:
    """The innermost error's message (``ValueError: …``), not Dagster's wrapper around it."""
    if error is None:
        return ""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def run_failure_payload(
    run: dg.DagsterRun, message: str, step_errors: list[dict[str, str]]
) -> dict[str, object]:
    """The alert of a failed run: a Slack ``text`` line plus the same facts as fields."""
    return {
        "text": f":red_circle: Run failed: {_where(run)}, run {run.run_id[:8]}: {message}",
        "event": "run_failure",
        "job": run.job_name,
        "run_id": run.run_id,
        "partition": _partition(run),
        "message": message,
        "step_errors": step_errors,
    }


def check_failure_payload(
    run: dg.DagsterRun, evaluations: list[dg.AssetCheckEvaluation]
) -> dict[str, object]:
    """The alert of a run's failed checks: a Slack ``text`` summary plus one entry per check."""
    checks = [
        {
            "asset": evaluation.asset_key.to_user_string(),
            "check": evaluation.check_name,
            "severity": evaluation.severity.value,
            "partition": evaluation.partition,
            "description": evaluation.description,
        }
        for evaluation in evaluations
    ]
    names = ", ".join(f"`{item['asset']}` {item['check']} ({item['severity']})" for item in checks)
    return {
        "text": (
            f":warning: {len(checks)} asset check(s) failed in {_where(run)}, "
            f"run {run.run_id[:8]}: {names}"
        ),
        "event": "check_failure",
        "job": run.job_name,
        "run_id": run.run_id,
        "partition": _partition(run),
        "checks": checks,
    }


@dg.run_failure_sensor(
    name=c.RUN_FAILURE_ALERTS_SENSOR,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="POST every failed run of this code location to PORTFOLIO_ALERT_WEBHOOK.",
)
def run_failure_alerts(context: dg.RunFailureSensorContext, alert_webhook: AlertWebhook):
    """One alert per failed run, with the failure message and each failed step's error."""
    if not alert_webhook.enabled:
        return dg.SkipReason(alert_webhook.disabled_reason)
    step_errors = [
        {"step": event.step_key or "", "error": _root_cause(event.step_failure_data.error)}
        for event in context.get_step_failure_events()
    ]
    alert_webhook.post(
        run_failure_payload(context.dagster_run, context.failure_event.message or "", step_errors)
    )
    return None


def _latest_run_end(instance: dg.DagsterInstance) -> int:
    """Storage id of the newest run-end event (0 when no run ever ended)."""
    newest = [
        instance.fetch_run_status_changes(event_type, limit=1).records
        for event_type in RUN_END_EVENTS
    ]
    return max((records[0].storage_id for records in newest if records), default=0)


def _run_ends_after(instance: dg.DagsterInstance, after: int) -> list[dg.EventLogRecord]:
    """Run-end events with a storage id above ``after``, oldest first; at most a page of each
    kind, cut at the first page's end where a page is full (the rest comes next tick)."""
    found: list[dg.EventLogRecord] = []
    cut: int | None = None
    for event_type in RUN_END_EVENTS:
        page = instance.fetch_run_status_changes(
            dg.RunStatusChangeRecordsFilter(event_type=event_type, after_storage_id=after),
            limit=PAGE_SIZE,
            ascending=True,
        )
        found.extend(page.records)
        if page.has_more:
            last = page.records[-1].storage_id
            cut = last if cut is None else min(cut, last)
    kept = [record for record in found if cut is None or record.storage_id <= cut]
    return sorted(kept, key=lambda record: record.storage_id)


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckEvaluation]:
    """Every check evaluation of the run that did not pass, in the order they were recorded."""
    failed: list[dg.AssetCheckEvaluation] = []
    cursor = None
    while True:
        page = instance.get_records_for_run(
            run_id,
            cursor=cursor,
            of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            limit=PAGE_SIZE,
        )
        for record in page.records:
            evaluation = record.event_log_entry.dagster_event.event_specific_data
            if not evaluation.passed:
                failed.append(evaluation)
        if not page.has_more:
            return failed
        cursor = page.cursor


@dg.sensor(
    name=c.CHECK_FAILURE_ALERTS_SENSOR,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "POST the failed asset checks of every run that ended to PORTFOLIO_ALERT_WEBHOOK "
        "(one alert per run)."
    ),
)
def check_failure_alerts(context: dg.SensorEvaluationContext, alert_webhook: AlertWebhook):
    """One alert per ended run with failed checks; the cursor is the storage id of the last
    run-end event handled, so every run is looked at once."""
    instance = context.instance
    if context.cursor is None or not alert_webhook.enabled:
        context.update_cursor(str(_latest_run_end(instance)))
        if not alert_webhook.enabled:
            return dg.SkipReason(alert_webhook.disabled_reason)
        return dg.SkipReason("first tick: watching runs that end from now on")
    sent = 0
    records = _run_ends_after(instance, int(context.cursor))
    for record in records:
        run = instance.get_run_by_id(record.event_log_entry.run_id)
        evaluations = failed_checks(instance, run.run_id) if run is not None else []
        if evaluations:
            alert_webhook.post(check_failure_payload(run, evaluations))
            sent += 1
        context.update_cursor(str(record.storage_id))
    if not sent:
        return dg.SkipReason(f"no failed check in the {len(records)} run(s) that ended")
    return None
