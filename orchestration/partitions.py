"""Partitions: ``trading_days`` (one per NYSE session, as-of dates) used by every daily asset,
and ``baskets`` (dynamic, one per basket)."""

import calendar
import datetime as dt
import functools
from collections.abc import Callable

import dagster as dg
import pandas as pd

from orchestration import constants as c
from orchestration import market_calendar
from orchestration.clock import market_today
from orchestration.settings import DEFAULT_START_DATE, SettingsError

DATE_FORMAT = "%Y-%m-%d"


def _on(month: int, day: int) -> Callable[[dt.date], bool]:
    return lambda d: (d.month, d.day) == (month, day)


def _nth(month: int, weekday: int, n: int) -> Callable[[dt.date], bool]:
    return lambda d: d.month == month and d.weekday() == weekday and (d.day - 1) // 7 == n - 1


def _last(month: int, weekday: int) -> Callable[[dt.date], bool]:
    return lambda d: (
        d.month == month
        and d.weekday() == weekday
        and d.day + 7 > calendar.monthrange(d.year, month)[1]
    )


HOLIDAY_RULES: tuple[tuple[str, Callable[[dt.date], bool]], ...] = (
    ("0 0 1 1 *", _on(1, 1)),  # New Year's Day
    ("0 0 * 1 1#3", _nth(1, 0, 3)),  # Martin Luther King Jr. Day
    ("0 0 * 2 1#3", _nth(2, 0, 3)),  # Washington's Birthday
    ("0 0 * 5 L1", _last(5, 0)),  # Memorial Day
    ("0 0 19 6 *", _on(6, 19)),  # Juneteenth
    ("0 0 4 7 *", _on(7, 4)),  # Independence Day
    ("0 0 * 9 1#1", _nth(9, 0, 1)),  # Labor Day
    ("0 0 * 11 4#4", _nth(11, 3, 4)),  # Thanksgiving
    ("0 0 25 12 *", _on(12, 25)),  # Christmas
)
"""The NYSE's regular holidays as Dagster cron exclusions, each with the same rule in Python.
They only compress the exclusions (Dagster serializes the definition, exclusions included, into
every planned check evaluation of every partition of a run): a rule is used only when no
weekday it matches from the first partition on is a session, and every other non-session
(observed days, Good Friday, unscheduled closures, a rule not yet in force) is excluded by
date. :mod:`orchestration.market_calendar` stays the one source of sessions."""


def _exclusions(start: dt.date, horizon: dt.date) -> list[str | dt.datetime]:
    """Dagster exclusions leaving exactly the NYSE sessions among the weekdays from ``start``."""
    closed = set(market_calendar.non_sessions(start, horizon))
    weekdays = [d.date() for d in pd.bdate_range(start, horizon)]
    rules = [
        (cron, matches)
        for cron, matches in HOLIDAY_RULES
        if all(d in closed for d in weekdays if matches(d))
    ]
    dated = sorted(d for d in closed if not any(matches(d) for _, matches in rules))
    return [cron for cron, _ in rules] + [dt.datetime.combine(d, dt.time()) for d in dated]


@functools.cache
def trading_days(start: dt.date) -> dg.TimeWindowPartitionsDefinition:
    """One partition per NYSE session from ``start`` (``PORTFOLIO_START_DATE``; a holiday
    starts at the next session), keyed ``YYYY-MM-DD`` in New York time.

    Weekday windows minus the weekdays the NYSE is closed (Dagster ``exclusions``, from
    :mod:`orchestration.market_calendar`), so a market holiday is no partition at all.
    ``end_offset=1`` makes the current session a partition, so the schedule that runs after the
    US close materializes that same day (on a holiday the next session is the last partition;
    the schedule skips holidays).

    Dated exclusions run to the end of next year (New York time, when the definition is first
    built in the process); the regular holidays are cron rules (:data:`HOLIDAY_RULES`).
    """
    if not market_calendar.FIRST_DATE <= start <= market_calendar.LAST_DATE:
        raise SettingsError(
            f"PORTFOLIO_START_DATE={start.isoformat()} is outside the NYSE calendar the pipeline "
            f"knows (exchange_calendars {market_calendar.EXCHANGE}): "
            f"{market_calendar.FIRST_DATE.isoformat()} … {market_calendar.LAST_DATE.isoformat()}"
        )
    horizon = min(dt.date(market_today().year + 1, 12, 31), market_calendar.LAST_DATE)
    return dg.TimeWindowPartitionsDefinition(
        start=start.isoformat(),
        fmt=DATE_FORMAT,
        cron_schedule="0 0 * * 1-5",
        timezone=c.MARKET_TIMEZONE,
        end_offset=1,
        exclusions=_exclusions(start, horizon),
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
