"""The NYSE calendar: sessions, the ``trading_days`` partitions, the schedule and the command
line agree with exchange_calendars' XNYS (the oracle) and with hand-picked holidays."""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import exchange_calendars as xcals
import pandas as pd
import pytest

from analytics_lib.simulation import trading_calendar
from orchestration import market_calendar
from orchestration.cli import main
from orchestration.definitions import build_definitions
from orchestration.partitions import is_trading_days, trading_days
from orchestration.settings import DEFAULT_START_DATE, SettingsError
from tests.support import make_settings

THANKSGIVING = dt.date(2026, 11, 26)
BLACK_FRIDAY = dt.date(2026, 11, 27)  # a half day: a session
NEW_YORK = ZoneInfo("America/New_York")

# Weekdays the NYSE is closed, picked by hand from its published holiday lists.
CLOSED = {
    dt.date(2026, 11, 26): "Thanksgiving",
    dt.date(2026, 1, 19): "Martin Luther King Jr. Day",
    dt.date(2026, 2, 16): "Presidents' Day",
    dt.date(2026, 4, 3): "Good Friday",
    dt.date(2026, 5, 25): "Memorial Day",
    dt.date(2026, 6, 19): "Juneteenth",
    dt.date(2026, 7, 3): "Independence Day observed (4 July is a Saturday)",
    dt.date(2026, 9, 7): "Labor Day",
    dt.date(2022, 6, 20): "Juneteenth observed (19 June is a Sunday)",
    dt.date(2022, 12, 26): "Christmas observed (25 December is a Sunday)",
    dt.date(2021, 12, 24): "Christmas observed (25 December is a Saturday)",
    dt.date(2025, 1, 9): "National Day of Mourning for Jimmy Carter",
    dt.date(2018, 12, 5): "George H. W. Bush's funeral",
    dt.date(2012, 10, 29): "Hurricane Sandy",
    dt.date(2012, 10, 30): "Hurricane Sandy",
    dt.date(2001, 9, 11): "September 11",
    dt.date(2001, 9, 14): "September 11",
}
OPEN = {
    dt.date(2026, 11, 27): "day after Thanksgiving (half day)",
    dt.date(2024, 12, 24): "Christmas Eve (half day)",
    dt.date(2026, 7, 2): "before Independence Day observed",
    dt.date(2021, 12, 31): "New Year's Eve (1 January 2022 is a Saturday: not observed)",
    dt.date(2026, 10, 12): "Columbus Day (the NYSE trades)",
    dt.date(2026, 11, 11): "Veterans Day (the NYSE trades)",
    dt.date(2021, 6, 18): "Juneteenth before 2022",
}
HOLIDAYS_2026 = {day for day in CLOSED if day.year == 2026} | {
    dt.date(2026, 1, 1),
    dt.date(2026, 12, 25),
}


@pytest.mark.parametrize("day", sorted(CLOSED))
def test_hand_picked_closures_are_no_sessions(day):
    assert not market_calendar.is_session(day), CLOSED[day]


@pytest.mark.parametrize("day", sorted(OPEN))
def test_hand_picked_trading_days_are_sessions(day):
    assert market_calendar.is_session(day), OPEN[day]


def test_the_2026_holidays_are_the_weekdays_without_a_session():
    assert set(market_calendar.non_sessions(dt.date(2026, 1, 1), dt.date(2026, 12, 31))) == (
        HOLIDAYS_2026
    )


def test_sessions_are_exchange_calendars_xnys_over_the_whole_span():
    oracle = xcals.get_calendar(
        "XNYS",
        start=market_calendar.FIRST_DATE.isoformat(),
        end=market_calendar.LAST_DATE.isoformat(),
    ).sessions
    ours = market_calendar.sessions(market_calendar.FIRST_DATE, market_calendar.LAST_DATE)
    assert ours.equals(pd.DatetimeIndex(oracle).as_unit("ns").rename("date"))


def test_neighbours_and_counts_around_thanksgiving():
    assert market_calendar.next_session(THANKSGIVING) == BLACK_FRIDAY
    assert market_calendar.previous_session(BLACK_FRIDAY) == dt.date(2026, 11, 25)
    assert market_calendar.latest_session(dt.date(2026, 11, 29)) == BLACK_FRIDAY
    assert market_calendar.latest_session(BLACK_FRIDAY) == BLACK_FRIDAY
    # Wednesday 25 → Monday 30 November: Friday and Monday (4 weekdays, 2 sessions)
    assert market_calendar.sessions_between(dt.date(2026, 11, 25), dt.date(2026, 11, 30)) == 2
    assert market_calendar.sessions_between(dt.date(2026, 11, 30), dt.date(2026, 11, 25)) == 0
    assert list(market_calendar.sessions(THANKSGIVING, dt.date(2026, 11, 30)).date) == [
        BLACK_FRIDAY,
        dt.date(2026, 11, 30),
    ]


def test_why_a_day_is_no_session():
    assert market_calendar.closure(THANKSGIVING) == "an NYSE holiday (Thanksgiving)"
    assert market_calendar.closure(dt.date(2026, 11, 28)) == "a weekend day (Saturday)"
    assert market_calendar.closure(dt.date(2025, 1, 9)) == "an NYSE closure"


def test_dates_outside_the_span_are_refused():
    with pytest.raises(market_calendar.CalendarRangeError, match="START 1950-01-03 is outside"):
        market_calendar.require_in_range(dt.date(1950, 1, 3), "START")
    with pytest.raises(market_calendar.CalendarRangeError, match="2041-01-02 is outside"):
        market_calendar.is_session(dt.date(2041, 1, 2))
    with pytest.raises(market_calendar.CalendarRangeError, match="lies after 2040-12-31"):
        market_calendar.next_session(market_calendar.LAST_DATE)
    with pytest.raises(market_calendar.CalendarRangeError, match="before 1953-01-02"):
        market_calendar.previous_session(market_calendar.FIRST_DATE)


# --------------------------------------------------------------------------------------------
# Partitions


def test_thanksgiving_is_no_partition_at_all():
    partitions = trading_days(dt.date(2026, 11, 2))
    keys = partitions.get_partition_keys(current_time=dt.datetime(2026, 12, 1, 12))
    assert "2026-11-26" not in keys
    assert keys[keys.index("2026-11-25") + 1] == "2026-11-27"
    with dg.partition_loading_context(dt.datetime(2026, 12, 1, 12, tzinfo=NEW_YORK)):
        assert not partitions.has_partition_key("2026-11-26")
        assert partitions.has_partition_key("2026-11-27")
    in_range = partitions.get_partition_keys_in_range(
        dg.PartitionKeyRange("2026-11-23", "2026-11-30")
    )
    assert in_range == ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-27", "2026-11-30"]


@pytest.mark.parametrize(
    "start",
    [
        dt.date(1990, 1, 2),  # before MLK Day (1998) and Juneteenth (2022) were holidays
        dt.date(1998, 1, 2),
        dt.date(2021, 6, 1),  # Juneteenth 2021 fell on a Saturday
        dt.date(2024, 1, 2),
    ],
)
def test_partition_keys_are_the_xnys_sessions(start):
    now = dt.datetime(2027, 12, 30, 12)
    keys = trading_days(start).get_partition_keys(current_time=now)
    oracle = xcals.get_calendar("XNYS", start=start.isoformat(), end="2027-12-31")
    assert keys == [d.strftime("%Y-%m-%d") for d in oracle.sessions_in_range(start, now.date())]


def test_the_demo_market_simulates_exactly_the_partitions():
    """Every simulated date is a ``trading_days`` key and vice versa, over the demo range."""
    end = dt.date(2026, 12, 4)
    keys = trading_days(DEFAULT_START_DATE).get_partition_keys(
        current_time=dt.datetime.combine(end, dt.time(12))
    )
    simulated, _ = trading_calendar(DEFAULT_START_DATE, end)
    assert [d.strftime("%Y-%m-%d") for d in simulated] == keys


def test_a_start_on_a_holiday_starts_at_the_next_session():
    partitions = trading_days(dt.date(2024, 1, 1))
    assert partitions.get_first_partition_key() == "2024-01-02"


def test_a_start_date_outside_the_calendar_names_the_setting(tmp_path):
    with pytest.raises(SettingsError, match=r"PORTFOLIO_START_DATE=1950-01-03 is outside"):
        build_definitions(make_settings(tmp_path, PORTFOLIO_START_DATE="1950-01-03"))


def test_every_daily_asset_uses_the_session_partitions(tmp_path):
    defs = build_definitions(make_settings(tmp_path, PORTFOLIO_START_DATE="2024-01-02"))
    for name in ("daily_prices", "returns_panel", "position_betas"):
        partitions = defs.resolve_assets_def(name).partitions_def
        assert is_trading_days(partitions), name
        assert partitions == trading_days(dt.date(2024, 1, 2)), name


# --------------------------------------------------------------------------------------------
# Schedule and command line


def _tick(defs: dg.Definitions, day: dt.date) -> dg.SensorResult:
    schedule = defs.resolve_schedule_def("daily_pipeline_after_close")
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime.combine(day, dt.time(18, 30), tzinfo=NEW_YORK),
        repository_def=defs.get_repository_def(),
        resources={"market_data": defs.resources["market_data"]},
    )
    return schedule.evaluate_tick(context)


def test_the_schedule_skips_a_holiday_and_runs_the_next_session(tmp_path):
    defs = build_definitions(make_settings(tmp_path))
    holiday = _tick(defs, THANKSGIVING)
    assert not holiday.run_requests
    assert holiday.skip_message == (
        "2026-11-26 is an NYSE holiday (Thanksgiving), not an NYSE session; "
        "the next session is 2026-11-27"
    )
    session = _tick(defs, BLACK_FRIDAY)
    assert [r.partition_key for r in session.run_requests] == ["2026-11-27"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["backfill", "2026-11-26", "2026-11-30"],
            "portfolio backfill: error: START 2026-11-26 is an NYSE holiday (Thanksgiving), "
            "not an NYSE session; the next session is 2026-11-27",
        ),
        (
            ["backfill", "2026-11-02", "2026-11-28"],
            "portfolio backfill: error: END 2026-11-28 is a weekend day (Saturday), not an "
            "NYSE session; the next session is 2026-11-30",
        ),
        (
            ["run", "--date", "2025-01-09"],
            "portfolio run: error: --date 2025-01-09 is an NYSE closure, not an NYSE session; "
            "the next session is 2025-01-10",
        ),
    ],
)
def test_the_command_line_refuses_a_non_session_naming_the_next(
    argv, message, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("PORTFOLIO_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    for name in ("PORTFOLIO_MARKET_DATA", "PORTFOLIO_DATABASE_URL", "PORTFOLIO_START_DATE"):
        monkeypatch.delenv(name, raising=False)
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == message


def test_the_schedule_skips_a_session_after_the_sources_data_ends(tmp_path):
    defs = build_definitions(make_settings(tmp_path, PORTFOLIO_DEMO_END_DATE="2026-11-25"))
    after_end = _tick(defs, BLACK_FRIDAY)
    assert not after_end.run_requests
    assert after_end.skip_message == (
        "no data yet for 2026-11-27 (the source's data ends on 2026-11-25)"
    )
    last = _tick(defs, dt.date(2026, 11, 25))
    assert [r.partition_key for r in last.run_requests] == ["2026-11-25"]
