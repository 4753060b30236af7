"""The NYSE trading calendar: the one source of sessions.

A session is a day the New York Stock Exchange trades, as exchange_calendars' ``XNYS`` calendar
has it: weekdays minus the regular holidays on their observed days (Juneteenth from 2022) and
minus unscheduled closures (2001-09-11 … 14, 2012-10-29/30, 2018-12-05, 2025-01-09, …). Half
days (early closes) are sessions. Every date rule of the pipeline asks here: the ``trading_days``
partitions, the daily schedule, the validation of price rows, the freshness and coverage windows
and the command line.

The calendar spans :data:`FIRST_DATE` … :data:`LAST_DATE`; a date outside raises
:class:`CalendarRangeError`. A closure the NYSE announces at short notice (a national day of
mourning) is a session here until an exchange_calendars release has it: its missing bars then
fail ``daily_prices`` (check ``prices_present_on_session``) instead of passing as a holiday.
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings

import exchange_calendars as xcals
import pandas as pd

EXCHANGE = "XNYS"
FIRST_DATE = dt.date(1953, 1, 2)
"""First day the calendar covers: exchange_calendars models a five-day week, and the NYSE
traded on Saturdays until 1952."""
LAST_DATE = dt.date(2040, 12, 31)
"""Last day the calendar covers (regular holidays follow their rules that far)."""


class CalendarRangeError(ValueError):
    """A date outside the span of the NYSE calendar (:data:`FIRST_DATE` … :data:`LAST_DATE`)."""


@functools.cache
def _calendar() -> xcals.ExchangeCalendar:
    with warnings.catch_warnings():
        # exchange_calendars 4.13.2 reads tz-aware Series.values, which pandas 3.1 deprecates
        warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning)
        return xcals.get_calendar(EXCHANGE, start=FIRST_DATE.isoformat(), end=LAST_DATE.isoformat())


@functools.cache
def _sessions() -> pd.DatetimeIndex:
    """Every session in the span, tz-naive ``datetime64[ns]``, named ``date``."""
    return pd.DatetimeIndex(_calendar().sessions, name="date").as_unit("ns")


@functools.cache
def _holiday_names() -> dict[dt.date, str]:
    calendar = _calendar()
    names = calendar.regular_holidays.holidays(
        pd.Timestamp(FIRST_DATE), pd.Timestamp(LAST_DATE), return_name=True
    )
    return {stamp.date(): str(name) for stamp, name in names.items()}


def require_in_range(day: dt.date, name: str) -> dt.date:
    """``day`` unchanged, or :class:`CalendarRangeError` naming ``name`` when the calendar does
    not cover it."""
    if not FIRST_DATE <= day <= LAST_DATE:
        raise CalendarRangeError(
            f"{name} {day.isoformat()} is outside the NYSE calendar (exchange_calendars "
            f"{EXCHANGE}) the pipeline knows: {FIRST_DATE.isoformat()} … {LAST_DATE.isoformat()}"
        )
    return day


def sessions(first: dt.date, last: dt.date) -> pd.DatetimeIndex:
    """The sessions ``d`` with ``first <= d <= last`` (empty when ``last < first``)."""
    index = _sessions()
    start = index.searchsorted(pd.Timestamp(first))
    return index[start : index.searchsorted(pd.Timestamp(last), side="right")]


def is_session(day: dt.date) -> bool:
    """Whether the NYSE trades on ``day``."""
    require_in_range(day, "date")
    stamp = pd.Timestamp(day)
    index = _sessions()
    position = index.searchsorted(stamp)
    return bool(position < len(index) and index[position] == stamp)


def sessions_mask(dates: pd.Series) -> pd.Series:
    """Per value of ``dates`` (datetime64, midnight): whether it is a session."""
    return dates.isin(_sessions())


def sessions_between(first: dt.date, last: dt.date) -> int:
    """Number of sessions ``d`` with ``first < d <= last`` (0 when ``last <= first``)."""
    if last <= first:
        return 0
    index = _sessions()
    return int(
        index.searchsorted(pd.Timestamp(last), side="right")
        - index.searchsorted(pd.Timestamp(first), side="right")
    )


def next_session(day: dt.date) -> dt.date:
    """The first session after ``day``."""
    index = _sessions()
    position = index.searchsorted(pd.Timestamp(day), side="right")
    if position >= len(index):
        raise CalendarRangeError(
            f"the session after {day.isoformat()} lies after {LAST_DATE.isoformat()}, the last "
            "day of the NYSE calendar the pipeline knows"
        )
    return index[position].date()


def previous_session(day: dt.date) -> dt.date:
    """The last session before ``day``."""
    index = _sessions()
    position = index.searchsorted(pd.Timestamp(day)) - 1
    if position < 0:
        raise CalendarRangeError(
            f"the session before {day.isoformat()} lies before {FIRST_DATE.isoformat()}, the "
            "first day of the NYSE calendar the pipeline knows"
        )
    return index[position].date()


def latest_session(day: dt.date) -> dt.date:
    """The last session on or before ``day``."""
    return day if is_session(day) else previous_session(day)


def non_sessions(first: dt.date, last: dt.date) -> list[dt.date]:
    """The weekdays ``d`` with ``first <= d <= last`` the NYSE is closed on."""
    weekdays = pd.bdate_range(first, last).as_unit("ns")
    return [stamp.date() for stamp in weekdays.difference(_sessions())]


def closure(day: dt.date) -> str:
    """Why ``day`` is not a session, e.g. ``a weekend day (Saturday)``, ``an NYSE holiday
    (Thanksgiving)`` or ``an NYSE closure`` (unscheduled: weather, a day of mourning)."""
    if day.weekday() >= 5:
        return f"a weekend day ({day:%A})"
    name = _holiday_names().get(day)
    return f"an NYSE holiday ({name})" if name else "an NYSE closure"
