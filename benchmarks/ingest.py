"""Ingest benchmark: the simulated market into the app database, then the returns panel.

    python -m benchmarks.ingest --symbols 5000 --days 1260

Targets (issue 2): >= 250,000 price rows/s into SQLite and into PostgreSQL (6.3M rows in under
30 s); the returns panel for 5000 x 1260 built in <= 2 s once prices are loaded; peak RSS of the
whole benchmark <= 2 GB. The write path is the one ``daily_prices`` uses (one transaction,
``bulk.replace_rows``); the read path is the one every asset uses (``ReturnsPanels``). Prints
figures, never asserts.
"""

import argparse
import datetime as dt
import resource
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd

from analytics_lib.returns import returns_panel
from analytics_lib.simulation import simulate_market, trading_calendar
from orchestration.clock import utc_now
from orchestration.resources.database import Database
from orchestration.resources.panels import ReturnsPanels
from orchestration.storage.bulk import replace_rows
from orchestration.storage.engine import dispose_engines, get_engine
from orchestration.storage.models import Price

POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _calendar(days: int, end: dt.date) -> dt.date:
    start = end - dt.timedelta(days=int(days * 1.5) + 30)
    trading, _ = trading_calendar(start, end)
    return trading[-days].date()


def _postgres_url() -> str | None:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            name = f"pp_bench_{uuid.uuid4().hex[:8]}"
            admin.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    except Exception as exc:  # no server here: report and skip
        print(f"PostgreSQL skipped: {exc.__class__.__name__}: {exc}")
        return None


def _drop_postgres(url: str) -> None:
    import psycopg

    dispose_engines()
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_database(label: str, url: str, frame: pd.DataFrame, first: dt.date, last: dt.date):
    """Write every row in one transaction, then read the panel back and build returns."""
    database = Database(url=url)
    get_engine(url)  # connect and migrate outside the timing
    table = Price.__table__
    started = time.perf_counter()
    with database.transaction() as connection:
        rows = replace_rows(
            connection,
            table,
            frame,
            table.c.date >= first,
            table.c.date <= last,
            constants={"source": "benchmark", "ingested_at": utc_now()},
        )
    write = time.perf_counter() - started
    print(f"{label}: wrote {rows:,} rows in {write:.1f} s = {rows / write:,.0f} rows/s")

    panels = ReturnsPanels(database=database, lookback_days=len(frame["date"].unique()) - 1)
    started = time.perf_counter()
    prices = panels.prices(first, last)
    read = time.perf_counter() - started
    started = time.perf_counter()
    result = returns_panel(prices, min_history=panels.min_history)
    build = time.perf_counter() - started
    shape = result.returns.shape
    print(
        f"{label}: read {prices.shape[0]} x {prices.shape[1]} price panel in {read:.1f} s; "
        f"built the {shape[0]} x {shape[1]} returns panel in {build:.2f} s"
    )
    return {"write_s": write, "rows_per_s": rows / write, "read_s": read, "build_s": build}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=5000)
    parser.add_argument("--days", type=int, default=1260)
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    end = dt.date(2026, 10, 30)
    start = _calendar(args.days, end)
    started = time.perf_counter()
    market = simulate_market(start=start, end=end, n_symbols=args.symbols, seed=args.seed)
    frame = market.prices
    print(
        f"simulated {len(frame):,} rows ({args.symbols} stocks + ETFs, {start} … {end}) in "
        f"{time.perf_counter() - started:.1f} s; peak RSS {peak_rss_mb():,.0f} MiB"
    )
    with tempfile.TemporaryDirectory() as tmp:
        bench_database("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", frame, start, end)
        dispose_engines()
    print(f"peak RSS after SQLite {peak_rss_mb():,.0f} MiB")
    if not args.no_postgres:
        url = _postgres_url()
        if url is not None:
            try:
                bench_database("postgresql", url, frame, start, end)
            finally:
                _drop_postgres(url)
    print(f"peak RSS of the whole benchmark {peak_rss_mb():,.0f} MiB (target <= 2048)")


if __name__ == "__main__":
    main()
