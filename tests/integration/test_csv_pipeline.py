"""CSV market data through the CLI (`portfolio backfill` / `portfolio run`) on SQLite and
PostgreSQL: exact ingestion of real data; a malformed file fails clearly and writes nothing."""

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest

from orchestration.cli import main
from orchestration.resources.database import Database
from tests.support import LEAN_DIR, require_dir

pytestmark = pytest.mark.realdata

START = dt.date(2021, 1, 4)
LAST = dt.date(2021, 3, 31)


@pytest.fixture
def csv_env(tmp_path, database_url, monkeypatch):
    require_dir(LEAN_DIR)
    data = tmp_path / "data"
    shutil.copytree(LEAN_DIR, data)
    monkeypatch.setenv("PORTFOLIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    monkeypatch.setenv("PORTFOLIO_DATABASE_URL", database_url)
    monkeypatch.setenv("PORTFOLIO_MARKET_DATA", "csv")
    monkeypatch.setenv("PORTFOLIO_CSV_DIR", str(data))
    monkeypatch.setenv("PORTFOLIO_START_DATE", START.isoformat())
    return data, Database(url=database_url)


def _stored(database: Database) -> pd.DataFrame:
    frame = database.read_frame("SELECT * FROM prices ORDER BY symbol, date")
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def test_backfill_then_run_ingest_the_csv_exactly(csv_env, capsys):
    data, database = csv_env
    assert main(["backfill", START.isoformat(), "2021-03-30"]) == 0
    assert main(["run", "--date", LAST.isoformat()]) == 0
    source = pd.read_csv(data / "prices.csv", parse_dates=["date"])
    source = source.loc[
        (source["date"] >= pd.Timestamp(START)) & (source["date"] <= pd.Timestamp(LAST))
    ]
    source = source.sort_values(["symbol", "date"]).reset_index(drop=True)
    stored = _stored(database)
    assert len(stored) == len(source)
    assert stored["symbol"].tolist() == source["symbol"].tolist()
    assert (stored["date"].to_numpy() == source["date"].to_numpy()).all()
    for column in ("open", "high", "low", "close", "adj_close"):
        np.testing.assert_array_equal(
            pd.to_numeric(stored[column]).to_numpy(dtype=float),
            source[column].to_numpy(dtype=float),
        )
    assert stored["volume"].astype("int64").tolist() == source["volume"].astype("int64").tolist()
    instruments = database.read_frame("SELECT symbol, sector FROM instruments ORDER BY symbol")
    assert instruments["symbol"].tolist() == sorted(pd.read_csv(data / "instruments.csv")["symbol"])
    positions = database.read_frame("SELECT symbol, quantity, cost_basis FROM portfolio_positions")
    expected = pd.read_csv(data / "positions.csv")
    assert sorted(positions["quantity"].tolist()) == sorted(expected["quantity"].astype(float))
    # `run` without --date takes the latest trading day with prices
    assert main(["run", "--json"]) == 0
    assert '"success": true' in capsys.readouterr().out


def test_malformed_csv_fails_naming_file_line_and_field_and_writes_nothing(csv_env, capsys):
    data, database = csv_env
    assert main(["backfill", START.isoformat(), "2021-01-29"]) == 0
    before = _stored(database)
    lines = (data / "prices.csv").read_text().splitlines(keepends=True)
    fields = lines[99].split(",")
    fields[5] = "-1"
    lines[99] = ",".join(fields)
    (data / "prices.csv").write_text("".join(lines))
    capsys.readouterr()
    assert main(["backfill", "2021-02-01", LAST.isoformat()]) == 2
    err = capsys.readouterr().err
    assert "prices.csv line 100, field 'close': must be > 0" in err
    after = _stored(database)
    pd.testing.assert_frame_equal(before, after)
