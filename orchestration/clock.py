"""Time helpers: the one place that asks for the current time."""

import datetime as dt

import pandas as pd


def utc_now() -> dt.datetime:
    """The current time, timezone-aware in UTC (what every timestamp column is written as)."""
    return dt.datetime.now(dt.UTC)


def naive_utc(value: dt.datetime) -> dt.datetime:
    """A timestamp read back from either database as a naive UTC datetime.

    PostgreSQL returns aware values (in the session's time zone), SQLite naive UTC ones.
    """
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()


def aware_utc(value: dt.datetime) -> dt.datetime:
    """A timestamp read back from either database as a timezone-aware UTC datetime."""
    return naive_utc(value).replace(tzinfo=dt.UTC)


def last_weekday(today: dt.date | None = None) -> dt.date:
    """The latest weekday on or before ``today`` (default: the current date)."""
    day = today or dt.date.today()
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def weekdays_between(first: dt.date, last: dt.date) -> int:
    """Number of weekdays ``d`` with ``first < d <= last`` (0 when ``last <= first``)."""
    if last <= first:
        return 0
    days = (last - first).days
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    for offset in range(1, rest + 1):
        if (first + dt.timedelta(days=offset)).weekday() < 5:
            count += 1
    return count
