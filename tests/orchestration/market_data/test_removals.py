"""The removal guard over a range checked in consecutive parts: same count and message as the
whole range at once (a long backfill checks its prices a part at a time)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import create_engine

from orchestration.defs.market_data.removals import (
    PriceRemovalError,
    check_price_removals,
    check_range_removals,
)
from orchestration.storage.models.market import Price

FIRST, LAST = dt.date(2024, 1, 1), dt.date(2024, 3, 31)
STORED = [
    ("2024-01-02", "AAA"),
    ("2024-01-02", "BBB"),
    ("2024-02-15", "AAA"),
    ("2024-02-15", "BBB"),
    ("2024-03-01", "AAA"),
]
# the source lacks BBB on 2024-01-02 and every price of 2024-03-01
SOURCE = pd.DataFrame(
    {
        "date": pd.to_datetime(["2024-01-02", "2024-02-15", "2024-02-15", "2024-03-04"]),
        "symbol": ["AAA", "AAA", "BBB", "AAA"],
    }
)
MESSAGE = (
    "replacing prices 2024-01-01 … 2024-03-31 would delete 2 stored row(s) the source no "
    "longer has, on 2 date(s) from 2024-01-02, symbols BBB, AAA; 1 date(s) would disappear "
    "entirely (first 2024-03-01); rerun with --allow-removals"
)


@pytest.fixture
def connection():
    engine = create_engine("sqlite://")
    Price.__table__.create(engine)
    with engine.begin() as connection:
        for day, symbol in STORED:
            connection.exec_driver_sql(
                "INSERT INTO prices (date, symbol, close, source, ingested_at) "
                "VALUES (?, ?, 1.0, 'test', '2024-04-01 00:00:00.000000')",
                (day, symbol),
            )
        yield connection


def _parts(bounds: list[tuple[dt.date, dt.date]]):
    for first, last in bounds:
        inside = (SOURCE["date"] >= pd.Timestamp(first)) & (SOURCE["date"] <= pd.Timestamp(last))
        yield first, last, SOURCE.loc[inside].reset_index(drop=True)


SPLITS = [
    [(FIRST, LAST)],
    [(FIRST, dt.date(2024, 1, 31)), (dt.date(2024, 2, 1), LAST)],
    [
        (FIRST, dt.date(2024, 1, 1)),
        (dt.date(2024, 1, 2), dt.date(2024, 2, 29)),
        (dt.date(2024, 3, 1), dt.date(2024, 3, 1)),
        (dt.date(2024, 3, 2), LAST),
    ],
]


@pytest.mark.parametrize("bounds", SPLITS, ids=["whole", "two-parts", "four-parts"])
def test_parts_refuse_with_the_whole_range_message(connection, bounds):
    with pytest.raises(PriceRemovalError) as raised:
        check_range_removals(connection, _parts(bounds), FIRST, LAST, allowed=False)
    assert str(raised.value).startswith(MESSAGE)


@pytest.mark.parametrize("bounds", SPLITS, ids=["whole", "two-parts", "four-parts"])
def test_parts_count_the_whole_range_when_allowed(connection, bounds):
    assert check_range_removals(connection, _parts(bounds), FIRST, LAST, allowed=True) == 2


def test_one_frame_is_one_part(connection):
    with pytest.raises(PriceRemovalError, match="would delete 2 stored row"):
        check_price_removals(connection, SOURCE, FIRST, LAST, allowed=False)
    assert check_price_removals(connection, SOURCE.iloc[:0], FIRST, FIRST, allowed=False) == 0
