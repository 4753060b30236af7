"""ReturnsPanels.prices reads the same panel whichever access path the database takes."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from orchestration.resources.database import Database
from orchestration.resources.panels import ReturnsPanels
from orchestration.storage.bulk import insert_frame
from orchestration.storage.models import Price

DATES = pd.bdate_range("2024-01-01", periods=40)


@pytest.fixture
def stored(database_url) -> tuple[Database, pd.DataFrame]:
    """Three symbols over 40 weekdays (some without an adjusted close), and the rows."""
    rng = np.random.default_rng(3)
    rows = [
        {"date": d, "symbol": s, "close": c, "adj_close": c if k % 7 else np.nan}
        for k, (d, s, c) in enumerate(
            (d, s, float(rng.uniform(10, 20))) for d in DATES for s in ("AAA", "BBB", "CCC")
        )
    ]
    frame = pd.DataFrame(rows).assign(source="test", ingested_at=pd.Timestamp("2026-01-01"))
    database = Database(url=database_url)
    with database.transaction() as connection:
        insert_frame(connection, Price.__table__, frame.sample(frac=1.0, random_state=1))
    return database, frame


@pytest.mark.parametrize(("first", "last"), [(0, 39), (5, 30), (12, 12), (30, 35)])
def test_prices_panel_equals_a_pivot_of_the_rows(stored, first, last):
    database, rows = stored
    start, end = DATES[first].date(), DATES[last].date()
    panel = ReturnsPanels(database=database).prices(start, end)
    rows = rows.loc[(rows["date"] >= DATES[first]) & (rows["date"] <= DATES[last])]
    expected = rows.assign(price=rows["adj_close"].fillna(rows["close"])).pivot(
        index="date", columns="symbol", values="price"
    )
    np.testing.assert_array_equal(panel.to_numpy(), expected.to_numpy())
    assert list(panel.index) == list(expected.index)
    assert list(panel.columns) == ["AAA", "BBB", "CCC"]


def test_empty_table_reads_an_empty_panel(database_url):
    panel = ReturnsPanels(database=Database(url=database_url)).prices(
        dt.date(2024, 1, 1), dt.date(2024, 2, 1)
    )
    assert panel.empty


@pytest.mark.parametrize(("end", "rows"), [(39, 1), (39, 10), (20, 21), (20, 40), (5, 3)])
def test_window_start_is_the_first_of_the_last_rows_dates(stored, end, rows):
    database, _ = stored
    panels = ReturnsPanels(database=database)
    expected = DATES[max(end - rows + 1, 0)].date()
    assert panels.window_start(DATES[end].date(), rows) == expected


def test_window_start_from_a_day_without_prices(stored):
    database, _ = stored
    saturday = dt.date(2024, 1, 6)  # after Friday 2024-01-05 = DATES[4]
    assert ReturnsPanels(database=database).window_start(saturday, 3) == DATES[2].date()


def test_window_start_without_prices_before_the_end(stored):
    database, _ = stored
    assert ReturnsPanels(database=database).window_start(dt.date(2023, 12, 29), 5) is None
