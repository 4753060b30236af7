"""Schedules: the daily pipeline after the US close."""

import dagster as dg

from orchestration import constants as c
from orchestration.defs.daily.jobs import daily_pipeline


@dg.schedule(
    name="daily_pipeline_after_close",
    cron_schedule=c.DAILY_PIPELINE_CRON,
    execution_timezone=c.MARKET_TIMEZONE,
    job=daily_pipeline,
    description="Runs the daily pipeline for the current trading day at 18:30 New York time.",
)
def daily_pipeline_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Request the partition of the tick's own (New York) date."""
    day = context.scheduled_execution_time.date().isoformat()
    return dg.RunRequest(run_key=f"{c.DAILY_PIPELINE_JOB}-{day}", partition_key=day)
