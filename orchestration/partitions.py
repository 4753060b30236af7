"""Partitions: ``trading_days`` (one per weekday, as-of dates) used by every daily asset, and
``baskets`` (dynamic, one per basket)."""

import datetime as dt

import dagster as dg

from orchestration import constants as c
from orchestration.settings import DEFAULT_START_DATE

DATE_FORMAT = "%Y-%m-%d"


def trading_days(start: dt.date) -> dg.TimeWindowPartitionsDefinition:
    """Weekday partitions from ``start``, keyed ``YYYY-MM-DD`` in New York time.

    ``end_offset=1`` makes the current weekday a partition, so the schedule that runs after the
    US close materializes that same day. Market holidays are partitions too: they materialize
    as empty days.
    """
    return dg.TimeWindowPartitionsDefinition(
        start=start.isoformat(),
        fmt=DATE_FORMAT,
        cron_schedule="0 0 * * 1-5",
        timezone=c.MARKET_TIMEZONE,
        end_offset=1,
    )


TRADING_DAYS = trading_days(DEFAULT_START_DATE)


def is_trading_days(partitions_def: object) -> bool:
    """True for a partitions definition built by :func:`trading_days`."""
    return (
        isinstance(partitions_def, dg.TimeWindowPartitionsDefinition)
        and partitions_def.cron_schedule == TRADING_DAYS.cron_schedule
        and partitions_def.fmt == DATE_FORMAT
    )


def partition_dates(keys: list[str]) -> list[dt.date]:
    """Partition keys as dates."""
    return [dt.date.fromisoformat(key) for key in keys]


BASKET_PARTITIONS = dg.DynamicPartitionsDefinition(name=c.BASKET_PARTITIONS)
"""One partition per basket, keyed by the basket's name; the ``basket_changes`` sensor adds
and removes them as baskets are created and deleted."""
