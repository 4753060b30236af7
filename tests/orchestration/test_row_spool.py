"""RowSpool: rows appended date by date are spooled in chunks, kept columns stay in memory, and
replace writes every row in the caller's transaction, replacing the range's old rows."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Column, Date, Float, MetaData, String, Table, create_engine, select

from orchestration.storage.bulk import RowSpool

METADATA = MetaData()
FIGURES = Table(
    "figures",
    METADATA,
    Column("calc_date", Date, primary_key=True),
    Column("symbol", String, primary_key=True),
    Column("value", Float),
    Column("note", String),
)
DATES = pd.bdate_range("2024-01-02", periods=7, name="calc_date")


def day(as_of: pd.Timestamp, number: int) -> pd.DataFrame:
    symbols = [f"S{i}" for i in range(3 + number % 2)]
    return pd.DataFrame(
        {
            "calc_date": as_of,
            "symbol": symbols,
            "value": [number * 10.0 + i for i in range(len(symbols))],
            "note": "x",
        }
    )


def spool_folder(spool: RowSpool) -> Path | None:
    folder = spool._folder  # the test checks the files really go away
    return None if folder is None else Path(folder.name)


@pytest.fixture
def engine():
    engine = create_engine("sqlite://")
    METADATA.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            FIGURES.insert(),
            [
                {"calc_date": DATES[0].date(), "symbol": "OLD", "value": -1.0, "note": "old"},
                {
                    "calc_date": DATES[0].date() - pd.Timedelta(days=1),
                    "symbol": "KEEP",
                    "value": 0.0,
                    "note": "keep",
                },
            ],
        )
    return engine


def test_kept_columns_and_written_rows_equal_the_appended_frames(engine) -> None:
    frames = [day(as_of, n) for n, as_of in enumerate(DATES)]
    spool = RowSpool(["calc_date", "value"], chunk_rows=5)
    for frame in frames:
        spool.append(frame)
    folder = spool_folder(spool)
    # days of 3, 4, 3, 4, 3, 4, 3 rows: 7, 7 and 7 rows spooled, the last 3 still buffered
    assert folder is not None and len(list(folder.iterdir())) == 3
    expected = pd.concat(frames, ignore_index=True)
    assert len(spool) == len(expected) == 24
    pd.testing.assert_frame_equal(spool.kept(), expected[["calc_date", "value"]])
    with engine.begin() as connection:
        written = spool.replace(connection, FIGURES, FIGURES.c.calc_date >= DATES[0].date())
    assert written == 24
    assert not folder.exists()
    with engine.connect() as connection:
        stored = pd.DataFrame(connection.execute(select(FIGURES)).all(), columns=expected.columns)
    assert "OLD" not in set(stored["symbol"])  # replaced
    assert "KEEP" in set(stored["symbol"])  # outside the condition
    stored = stored.loc[stored["symbol"] != "KEEP"].sort_values(["calc_date", "symbol"])
    assert (
        stored["value"].tolist() == expected.sort_values(["calc_date", "symbol"])["value"].tolist()
    )


def test_transform_applies_to_every_chunk_before_it_is_kept_and_written(engine) -> None:
    def halve_odd(rows: pd.DataFrame) -> pd.DataFrame:
        out = rows.copy()
        odd = out["value"].to_numpy() % 2 == 1
        out.loc[odd, "value"] = np.nan
        out.loc[odd, "note"] = "masked"
        return out

    spool = RowSpool(["symbol", "value", "note"], chunk_rows=4, transform=halve_odd)
    for n, as_of in enumerate(DATES):
        spool.append(day(as_of, n))
    kept = spool.kept()
    # odd values are the second symbol of every day and the fourth of the 4-symbol days
    assert kept["value"].isna().sum() == (kept["note"] == "masked").sum() == 4 * 1 + 3 * 2
    with engine.begin() as connection:
        spool.replace(connection, FIGURES, FIGURES.c.calc_date >= DATES[0].date())
    with engine.connect() as connection:
        notes = [r.note for r in connection.execute(select(FIGURES.c.note, FIGURES.c.value))]
    assert notes.count("masked") == 10


def test_a_failed_transaction_leaves_the_old_rows(engine) -> None:
    spool = RowSpool(["value"], chunk_rows=3)
    for n, as_of in enumerate(DATES):
        spool.append(day(as_of, n))
    with pytest.raises(RuntimeError), engine.begin() as connection:
        spool.replace(connection, FIGURES, FIGURES.c.calc_date >= DATES[0].date())
        raise RuntimeError("after the write")
    with engine.connect() as connection:
        symbols = {r.symbol for r in connection.execute(select(FIGURES.c.symbol))}
    assert symbols == {"OLD", "KEEP"}


def test_without_rows_kept_has_the_types_of_an_empty_frame() -> None:
    spool = RowSpool(["value"])
    assert list(spool.kept().columns) == ["value"]
    spool.append(day(DATES[0], 0).iloc[:0])
    assert spool.kept()["value"].dtype == np.float64
    assert len(spool) == 0


def test_rejects_a_frame_without_the_kept_columns() -> None:
    spool = RowSpool(["value", "weight"])
    with pytest.raises(ValueError, match="weight"):
        spool.append(day(DATES[0], 0))
    with pytest.raises(ValueError, match="chunk_rows"):
        RowSpool(["value"], chunk_rows=0)


def test_on_chunk_sees_every_row_once_after_the_transform(engine) -> None:
    def mask_odd(rows: pd.DataFrame) -> pd.DataFrame:
        return rows.assign(note=np.where(rows["value"].to_numpy() % 2 == 1, "masked", rows["note"]))

    seen: list[pd.DataFrame] = []
    spool = RowSpool([], chunk_rows=4, transform=mask_odd, on_chunk=seen.append)
    frames = [day(as_of, n) for n, as_of in enumerate(DATES)]
    for frame in frames:
        spool.append(frame)
    with engine.begin() as connection:
        spool.replace(connection, FIGURES, FIGURES.c.calc_date >= DATES[0].date())
    together = pd.concat(seen, ignore_index=True)
    expected = pd.concat(frames, ignore_index=True)
    assert together["value"].tolist() == expected["value"].tolist()
    # the second symbol of every day and the fourth of the 4-symbol days hold odd values
    assert (together["note"] == "masked").sum() == 4 * 1 + 3 * 2
