"""App database on SQLite and PostgreSQL: migrations, exact bulk round trips, atomic replaces."""

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import inspect

from orchestration.clock import naive_utc
from orchestration.resources.database import Database
from orchestration.storage import bulk, migrate
from orchestration.storage.engine import get_engine
from orchestration.storage.models import Base, Instrument, PortfolioSnapshot, Price

EXPECTED_TABLES = {
    "baskets",
    "basket_returns",
    "basket_analytics",
    "instruments",
    "prices",
    "benchmarks_sector_weights",
    "etf_holdings",
    "portfolio_positions",
    "basket_trade_groups",
    "trade_previews",
    "trade_approvals",
    "broker_orders",
    "broker_fills",
    "trading_halts",
    "position_baselines",
    "position_baseline_rows",
    "broker_reconciliations",
    "paper_accounts",
    "paper_positions",
    "paper_orders",
    "paper_fills",
    "position_market_betas",
    "position_volatility",
    "portfolio_snapshots",
}


def _prices() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 2_500
    frame = pd.DataFrame(
        {
            "symbol": [f"S{i % 50:03d}" for i in range(n)],
            "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n) // 50, unit="D"),
            "open": rng.uniform(1, 500, n),
            "high": rng.uniform(1, 500, n),
            "low": rng.uniform(1, 500, n),
            "close": rng.uniform(1, 500, n) * np.pi,
            "adj_close": rng.uniform(1, 500, n) / 3.0,
            "volume": pd.array(rng.integers(0, 10**12, n), dtype="Int64"),
            "source": "test",
            "ingested_at": pd.Timestamp("2026-11-20 12:34:56.789"),
        }
    )
    frame.loc[3, ["open", "high", "low", "adj_close"]] = np.nan
    frame.loc[4, "volume"] = pd.NA
    return frame


def test_migrations_create_every_table_and_are_idempotent(database_url):
    engine = get_engine(database_url, migrated=False)
    assert migrate.current_revision(engine) is None
    head = migrate.upgrade(engine)
    assert head == migrate.head_revision()
    assert migrate.upgrade(engine) == head
    assert migrate.current_revision(engine) == head
    tables = set(inspect(engine).get_table_names())
    assert tables >= EXPECTED_TABLES
    assert tables >= set(Base.metadata.tables)


def test_models_match_the_migrations(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = get_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_bulk_insert_round_trips_exactly(database_url):
    database = Database(url=database_url)
    frame = _prices()
    with database.transaction() as connection:
        written = bulk.insert_frame(connection, Price.__table__, frame, chunk_rows=700)
    assert written == len(frame)
    back = database.read_frame("SELECT * FROM prices ORDER BY date, symbol")
    assert len(back) == len(frame)
    expected = frame.sort_values(["date", "symbol"]).reset_index(drop=True)
    for column in ("open", "high", "low", "close", "adj_close"):
        np.testing.assert_array_equal(
            pd.to_numeric(back[column]).to_numpy(dtype=float), expected[column].to_numpy()
        )
    assert back["volume"].isna().sum() == 1
    assert pd.to_numeric(back["volume"]).dropna().astype("int64").tolist() == (
        expected["volume"].dropna().astype("int64").tolist()
    )
    assert [str(d)[:10] for d in back["date"]] == [d.date().isoformat() for d in expected["date"]]


def test_replace_rows_is_atomic(database_url):
    database = Database(url=database_url)
    frame = _prices()
    table = Price.__table__
    with database.transaction() as connection:
        bulk.insert_frame(connection, table, frame)
    replacement = frame.iloc[:10].assign(close=1.0)
    with pytest.raises(RuntimeError, match="boom"), database.transaction() as connection:
        bulk.replace_rows(connection, table, replacement, table.c.date == dt.date(2024, 1, 1))
        raise RuntimeError("boom")
    after = database.read_frame("SELECT COUNT(*) AS n, SUM(close) AS s FROM prices")
    assert int(after["n"].iloc[0]) == len(frame)
    assert float(after["s"].iloc[0]) == pytest.approx(frame["close"].sum(), rel=1e-12)
    with database.transaction() as connection:
        bulk.replace_rows(connection, table, replacement, table.c.date == dt.date(2024, 1, 1))
    day = database.read_frame(
        "SELECT close FROM prices WHERE date = :d", {"d": dt.date(2024, 1, 1)}
    )
    assert len(day) == 10 and set(day["close"]) == {1.0}
    assert (
        int(database.read_frame("SELECT COUNT(*) AS n FROM prices")["n"].iloc[0])
        == len(frame) - 50 + 10
    )


def test_insert_frame_names_missing_required_columns(database_url):
    database = Database(url=database_url)
    with database.transaction() as connection, pytest.raises(ValueError, match="lacks column"):
        bulk.insert_frame(connection, Price.__table__, _prices().drop(columns=["close"]))


def test_text_columns_with_missing_values_round_trip(database_url):
    database = Database(url=database_url)
    frame = pd.DataFrame(
        {
            "symbol": pd.Series(["AAA", "BBB", "CCC"], dtype=object),
            "name": pd.Series(["A Inc", None, "C Corp"], dtype=object),
            "sector": pd.Series([None, "Energy", None], dtype=object),
            "industry": pd.Series([None, None, None], dtype=object),
            "market_cap": [1.5e9, np.nan, 3.0],
            "asset_type": ["stock", "etf", "stock"],
            "currency": ["USD", "USD", "EUR"],
        }
    )
    stamp = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
    with database.transaction() as connection:
        bulk.insert_frame(
            connection, Instrument.__table__, frame, constants={"source": "t", "updated_at": stamp}
        )
    back = database.read_frame("SELECT * FROM instruments ORDER BY symbol")
    assert back["name"].isna().tolist() == [False, True, False]
    assert back["name"].dropna().tolist() == ["A Inc", "C Corp"]
    assert back["sector"].isna().tolist() == [True, False, True]
    assert back["industry"].isna().all()
    assert back["market_cap"].isna().tolist() == [False, True, False]
    assert back["source"].tolist() == ["t"] * 3
    assert {naive_utc(v) for v in back["updated_at"]} == {dt.datetime(2026, 11, 20, 12, 0)}


def test_upsert_rows_writes_only_the_columns_it_is_given(database_url):
    database = Database(url=database_url)
    table = PortfolioSnapshot.__table__
    day, other = dt.date(2024, 3, 1), dt.date(2024, 3, 4)
    stamp = dt.datetime(2024, 3, 1, 22, 0)
    with database.transaction() as connection:
        written = bulk.upsert_rows(
            connection,
            table,
            [
                {"calc_date": day, "hhi": 2500.0, "top3_symbols": ["A", "B"], "updated_at": stamp},
                {"calc_date": other, "hhi": np.nan, "top3_symbols": None, "updated_at": stamp},
            ],
            keys=["calc_date"],
        )
    assert written == 2
    with database.transaction() as connection:
        bulk.upsert_rows(
            connection,
            table,
            [{"calc_date": day, "market_beta_weighted": np.float64(1.25), "updated_at": stamp}],
            keys=["calc_date"],
        )
    rows = database.read_frame(
        "SELECT calc_date, hhi, top3_symbols, market_beta_weighted FROM portfolio_snapshots "
        "ORDER BY calc_date"
    )
    assert len(rows) == 2
    first = rows.iloc[0]
    assert first["hhi"] == 2500.0 and first["market_beta_weighted"] == 1.25
    top3 = first["top3_symbols"]
    assert (json.loads(top3) if isinstance(top3, str) else top3) == ["A", "B"]
    assert rows.iloc[1]["hhi"] is None or np.isnan(rows.iloc[1]["hhi"])
    with database.transaction() as connection, pytest.raises(ValueError, match="no column"):
        bulk.upsert_rows(connection, table, [{"calc_date": day, "nope": 1}], keys=["calc_date"])
