"""The stale-price rule on a hand-written January 2024 calendar (MLK Day, 2024-01-15, is no
session): sessions behind are counted by hand."""

import numpy as np
import pandas as pd
import pytest

from analytics_lib.exceptions import AnalyticsError
from analytics_lib.freshness import price_staleness

# NYSE sessions 2024-01-08 ... 2024-01-19, written out: Monday the 15th is a holiday
SESSIONS = pd.DatetimeIndex(
    [
        *("2024-01-08", "2024-01-09", "2024-01-10", "2024-01-11", "2024-01-12"),
        *("2024-01-16", "2024-01-17", "2024-01-18", "2024-01-19"),
    ]
)
AS_OF = "2024-01-16"


def _last(**dates: str | None) -> pd.Series:
    return pd.Series(
        [pd.NaT if d is None else pd.Timestamp(d) for d in dates.values()], index=list(dates)
    )


def test_sessions_behind_skip_the_holiday_and_default_needs_a_price_at_the_as_of_date():
    last = _last(NOW="2024-01-16", FRI="2024-01-12", THU="2024-01-11", HOL="2024-01-15", NONE=None)
    result = price_staleness(last, AS_OF, SESSIONS)
    assert list(result.columns) == ["last_price_date", "sessions_behind", "stale"]
    assert result.index.name == "symbol"
    # by hand: sessions after the last price up to 2024-01-16 (the 15th is no session)
    assert result["sessions_behind"].to_dict() == pytest.approx(
        {"NOW": 0.0, "FRI": 1.0, "THU": 2.0, "HOL": 1.0, "NONE": np.nan}, nan_ok=True
    )
    assert result["stale"].to_dict() == {
        "NOW": False,
        "FRI": True,
        "THU": True,
        "HOL": True,
        "NONE": True,
    }
    assert result.loc["FRI", "last_price_date"] == pd.Timestamp("2024-01-12")


def test_max_sessions_allows_a_lag():
    last = _last(FRI="2024-01-12", THU="2024-01-11", WED="2024-01-10", NONE=None)
    result = price_staleness(last, "2024-01-17", SESSIONS, max_sessions=2)
    # 2024-01-17: FRI missed 16, 17 (2); THU 12, 16, 17 (3); WED 11, 12, 16, 17 (4)
    assert result["sessions_behind"].tolist()[:3] == [2.0, 3.0, 4.0]
    assert result["stale"].tolist() == [False, True, True, True]


def test_an_as_of_date_that_is_no_session_counts_the_sessions_before_it():
    result = price_staleness(_last(FRI="2024-01-12", THU="2024-01-11"), "2024-01-15", SESSIONS)
    assert result["sessions_behind"].tolist() == [0.0, 1.0]
    assert result["stale"].tolist() == [False, True]


def test_inputs_are_not_mutated():
    last = _last(FRI="2024-01-12", NONE=None)
    before = last.copy()
    price_staleness(last, AS_OF, SESSIONS)
    pd.testing.assert_series_equal(last, before)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"last_price_dates": [pd.Timestamp("2024-01-12")]}, "last_price_dates must be a pandas"),
        ({"last_price_dates": _last(A="2024-01-17")}, "'A' priced on 2024-01-17, after as_of"),
        ({"last_price_dates": pd.Series(["x"], index=["A"])}, "must hold dates"),
        ({"as_of": "not a date"}, "as_of must be a date"),
        ({"sessions": SESSIONS[::-1]}, "sessions must be sorted"),
        ({"sessions": list(SESSIONS)}, "sessions must be a DatetimeIndex"),
        ({"max_sessions": -1}, "max_sessions must be >= 0"),
        ({"max_sessions": 1.5}, "max_sessions must be an integer"),
    ],
)
def test_invalid_inputs_are_named(kwargs, message):
    arguments = {
        "last_price_dates": _last(A="2024-01-12"),
        "as_of": AS_OF,
        "sessions": SESSIONS,
        **kwargs,
    }
    with pytest.raises(AnalyticsError, match=message):
        price_staleness(
            arguments["last_price_dates"],
            arguments["as_of"],
            arguments["sessions"],
            max_sessions=arguments.get("max_sessions", 0),
        )
