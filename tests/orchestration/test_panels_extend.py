"""ReturnsPanels.prices over a window that extends one already read in the run reads only the
missing dates, and gives the panel a single read of the whole window gives."""

import numpy as np
import pandas as pd
import pytest

from orchestration.resources import panels as panels_module
from orchestration.resources.database import Database
from orchestration.resources.panels import ReturnsPanels
from orchestration.storage.bulk import insert_frame
from orchestration.storage.models import Price

DATES = pd.bdate_range("2024-01-01", periods=40)


@pytest.fixture
def stored(database_url) -> tuple[Database, pd.DataFrame]:
    """AAA every day; OLD only in the first ten days, NEW only in the last ten; some rows
    without an adjusted close."""
    rng = np.random.default_rng(7)
    rows = []
    for k, day in enumerate(DATES):
        for symbol in ("AAA", "NEW", "OLD"):
            if (symbol == "OLD" and k >= 10) or (symbol == "NEW" and k < 30):
                continue
            close = float(rng.uniform(10, 20))
            rows.append(
                {
                    "date": day,
                    "symbol": symbol,
                    "close": close,
                    "adj_close": close * 0.99 if k % 5 else np.nan,
                }
            )
    frame = pd.DataFrame(rows).assign(source="test", ingested_at=pd.Timestamp("2026-01-01"))
    database = Database(url=database_url)
    with database.transaction() as connection:
        insert_frame(connection, Price.__table__, frame)
    return database, frame


def pivot(rows: pd.DataFrame, first: int, last: int) -> pd.DataFrame:
    rows = rows.loc[(rows["date"] >= DATES[first]) & (rows["date"] <= DATES[last])]
    return rows.assign(price=rows["adj_close"].fillna(rows["close"])).pivot(
        index="date", columns="symbol", values="price"
    )


@pytest.fixture
def reads(monkeypatch) -> list[tuple]:
    seen: list[tuple] = []
    real = panels_module.read_price_window

    def recording(connection, start, end, symbols=None):
        seen.append((start, end))
        return real(connection, start, end, symbols)

    monkeypatch.setattr(panels_module, "read_price_window", recording)
    return seen


@pytest.mark.parametrize(("inner", "outer"), [((20, 39), (0, 39)), ((15, 25), (3, 36))])
def test_an_extended_window_reads_only_the_missing_dates(stored, reads, inner, outer):
    database, rows = stored
    panels = ReturnsPanels(database=database)
    panels.prices(DATES[inner[0]].date(), DATES[inner[1]].date())
    panel = panels.prices(DATES[outer[0]].date(), DATES[outer[1]].date())
    single = ReturnsPanels(database=database).prices(DATES[outer[0]].date(), DATES[outer[1]].date())
    pd.testing.assert_frame_equal(panel, single)
    expected = pivot(rows, *outer)
    np.testing.assert_array_equal(panel.to_numpy(), expected.to_numpy())
    assert list(panel.columns) == list(expected.columns)
    one_day = pd.Timedelta(days=1)
    missing = [(DATES[outer[0]].date(), (DATES[inner[0]] - one_day).date())]
    if outer[1] > inner[1]:
        missing.append(((DATES[inner[1]] + one_day).date(), DATES[outer[1]].date()))
    assert reads[1:-1] == missing
    assert reads[0] == (DATES[inner[0]].date(), DATES[inner[1]].date())


def test_symbols_filter_extends_the_same_way(stored, reads):
    database, _ = stored
    panels = ReturnsPanels(database=database)
    panels.prices(DATES[20].date(), DATES[39].date(), ["OLD", "AAA"])
    panel = panels.prices(DATES[0].date(), DATES[39].date(), ["OLD", "AAA"])
    single = ReturnsPanels(database=database).prices(
        DATES[0].date(), DATES[39].date(), ["OLD", "AAA"]
    )
    pd.testing.assert_frame_equal(panel, single)
    assert len(reads) == 3  # inner, the missing older dates, then the single read
    assert panel["OLD"].iloc[10:].isna().all() and panel["OLD"].iloc[:10].notna().all()
