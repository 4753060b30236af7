"""Schedules: the daily pipeline after the US close, on NYSE sessions."""

import dagster as dg

from orchestration import constants as c
from orchestration import market_calendar
from orchestration.defs.daily.jobs import daily_pipeline
from orchestration.resources.market_data import MarketDataSource


@dg.schedule(
    name="daily_pipeline_after_close",
    cron_schedule=c.DAILY_PIPELINE_CRON,
    execution_timezone=c.MARKET_TIMEZONE,
    job=daily_pipeline,
    description="Runs the daily pipeline for the current NYSE session at 18:30 New York time; "
    "skips weekdays the NYSE is closed (they are no trading_days partition) and sessions after "
    "the end of the market data source's data (a fixed history has no data for them yet).",
)
def daily_pipeline_schedule(
    context: dg.ScheduleEvaluationContext, market_data: MarketDataSource
) -> dg.RunRequest | dg.SkipReason:
    """Request the partition of the tick's own (New York) date, or skip a non-session or a
    session the source has no data for yet."""
    day = context.scheduled_execution_time.date()
    if not market_calendar.is_session(day):
        return dg.SkipReason(
            f"{day.isoformat()} is {market_calendar.closure(day)}, not an NYSE session; "
            f"the next session is {market_calendar.next_session(day).isoformat()}"
        )
    data_end = market_data.data_end()
    if data_end is None or day > data_end:
        ends = f"ends on {data_end.isoformat()}" if data_end else "holds no prices"
        return dg.SkipReason(f"no data yet for {day.isoformat()} (the source's data {ends})")
    key = day.isoformat()
    return dg.RunRequest(run_key=f"{c.DAILY_PIPELINE_JOB}-{key}", partition_key=key)
