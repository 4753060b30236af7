"""Stale prices: the rule that decides whether a symbol's data is current at an as-of date.

:func:`price_staleness`
    Sessions between each symbol's last price and the as-of date, and whether that makes the
    symbol stale. The risk assets (betas, volatilities) and the basket series apply this one
    rule, so a symbol that stopped trading (or whose prices stopped arriving) is never reported
    as if its old observations were current.

The function is pure: the sessions come in as an argument (the caller's exchange calendar),
inputs are never mutated, and invalid input raises
:class:`~analytics_lib.exceptions.AnalyticsError` naming the argument.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from analytics_lib.exceptions import AnalyticsError
from analytics_lib.validation import require_positive_int, require_series, require_unique_index

__all__ = ["STALENESS_COLUMNS", "price_staleness"]

STALENESS_COLUMNS: Final[tuple[str, ...]] = ("last_price_date", "sessions_behind", "stale")
"""Columns of :func:`price_staleness`."""


def _timestamp(value: object, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AnalyticsError(f"{name} must be a date, got {value!r}") from None
    if pd.isna(stamp):
        raise AnalyticsError(f"{name} must be a date, got {value!r}")
    if stamp.tz is not None:
        raise AnalyticsError(f"{name} must be tz-naive, got {stamp}")
    return stamp


def price_staleness(
    last_price_dates: pd.Series,
    as_of: object,
    sessions: pd.DatetimeIndex,
    *,
    max_sessions: int = 0,
) -> pd.DataFrame:
    """Whether each symbol's last price is too old to count at ``as_of``.

    Parameters
    ----------
    last_price_dates
        Series symbol -> date of the symbol's latest price on or before ``as_of`` (``NaT``
        when it has none).
    as_of
        The as-of date (anything :class:`pandas.Timestamp` accepts, tz-naive).
    sessions
        The exchange's sessions, sorted and unique, covering every session from the earliest
        last price date through ``as_of`` (sessions outside that span do not matter).
    max_sessions
        Sessions a last price may lag ``as_of`` and still count (default 0: the symbol needs a
        price at the as-of session itself).

    Returns
    -------
    pd.DataFrame
        Indexed like ``last_price_dates`` (named ``symbol``): ``last_price_date``
        (``datetime64``), ``sessions_behind`` (float; NaN without a price) and ``stale``
        (bool).

    Raises
    ------
    AnalyticsError
        ``last_price_dates`` not a Series of dates with unique symbols, or a date after
        ``as_of``; ``as_of`` not a date; ``sessions`` not a sorted, unique, tz-naive
        DatetimeIndex; ``max_sessions`` not an integer >= 0.

    Notes
    -----
    With :math:`S` the sessions and :math:`d_i` symbol *i*'s last price date,

    .. math:: b_i = \\#\\{s \\in S : d_i < s \\le T\\},
              \\qquad \\mathrm{stale}_i = (d_i \\text{ missing}) \\lor (b_i > k),

    where :math:`T` is ``as_of`` and :math:`k` is ``max_sessions``. A price dated on a
    non-session counts from that date, and an as-of date that is no session is measured from
    the sessions before it: ``b`` counts the sessions the symbol missed.
    """
    series = require_series(last_price_dates, "last_price_dates")
    require_unique_index(series, "last_price_dates")
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(series.to_numpy(), errors="raise"))
    except (TypeError, ValueError) as exc:
        raise AnalyticsError(f"last_price_dates must hold dates: {exc}") from None
    if dates.tz is not None:
        raise AnalyticsError("last_price_dates must hold tz-naive dates")
    stamp = _timestamp(as_of, "as_of")
    late = dates > stamp
    if late.any():
        first = series.index[int(np.argmax(late))]
        raise AnalyticsError(
            f"last_price_dates has {first!r} priced on {dates[late][0].date().isoformat()}, "
            f"after as_of {stamp.date().isoformat()}"
        )
    if not isinstance(sessions, pd.DatetimeIndex):
        raise AnalyticsError(f"sessions must be a DatetimeIndex, got {type(sessions).__name__}")
    if sessions.tz is not None:
        raise AnalyticsError("sessions must be tz-naive")
    if not sessions.is_monotonic_increasing or sessions.has_duplicates:
        raise AnalyticsError("sessions must be sorted ascending without duplicates")
    lag = require_positive_int(max_sessions, "max_sessions", minimum=0)

    unit = "ns"
    known = sessions.as_unit(unit).asi8
    priced = ~dates.isna()
    end = np.searchsorted(known, stamp.as_unit(unit).value, side="right")
    start = np.searchsorted(known, dates.as_unit(unit).asi8, side="right")
    behind = np.where(priced, end - start, np.nan).astype(np.float64)
    stale = ~priced | (behind > lag)
    return pd.DataFrame(
        {
            "last_price_date": dates.as_unit(unit),
            "sessions_behind": behind,
            "stale": stale,
        },
        index=pd.Index(series.index, name="symbol"),
    )
