"""Time helpers: the one place that asks for the current time."""

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd

from orchestration.constants import MARKET_TIMEZONE


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


def market_today() -> dt.date:
    """Today's date in New York, the market's time zone."""
    return dt.datetime.now(ZoneInfo(MARKET_TIMEZONE)).date()
