"""Trade performance at scale: FIFO matching and the ``trading`` performance assets, timed.

Run ``python -m benchmarks.performance [--executions 100000] [--symbols 2000] [--seed N]
[--repeats 3] [--postgres CONNINFO | --postgres none]``.

It simulates ``--executions`` executions (random buys and sells, longs and shorts, 10 % of the
symbols in CAD) over ``--symbols`` symbols and prints wall-clock seconds for

* :func:`analytics_lib.trade_analysis.match_fifo` (issue 11 target <= 2 s), against a naive
  reference (one Python dict per execution and per match, pandas only at the end) with the
  speed ratio and the largest difference in realized P&L;
* the four assets of ``refresh_trading_performance`` through Dagster (target <= 15 s), with
  the executions already in the ``transactions`` table (SQLite file, and PostgreSQL when the
  server in ``--postgres`` is reachable); an in-memory Dagster instance.

Prints only, never asserts.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections import deque
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from analytics_lib.trade_analysis import match_fifo
from orchestration.definitions import build_definitions
from orchestration.defs.performance.jobs import REFRESH_TRADING_PERFORMANCE_JOB
from orchestration.resources.database import Database
from orchestration.settings import configure_dagster_process, load_settings
from orchestration.storage.bulk import insert_frame
from orchestration.storage.engine import dispose_engines
from orchestration.storage.models import Instrument, Price, Transaction

FIFO_TARGET = 2.0
GROUP_TARGET = 15.0
DEFAULT_POSTGRES = "host=127.0.0.1 port=5432 user=postgres"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
START = pd.Timestamp("2020-01-02 14:30", tz="UTC")


def simulate(executions: int, symbols: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Executions (TRANSACTION_COLUMNS) and each symbol's latest close."""
    rng = np.random.default_rng(seed)
    names = np.array([f"B{i:05d}" for i in range(symbols)], dtype=object)
    base = rng.uniform(10.0, 300.0, symbols)
    which = rng.integers(0, symbols, executions)
    drift = np.exp(rng.normal(0.0, 0.02, executions))
    frame = pd.DataFrame(
        {
            "account": np.where(rng.random(executions) < 0.5, "A1", "A2").astype(object),
            "trade_id": np.array([f"x{i:07d}" for i in range(executions)], dtype=object),
            "datetime": START
            + pd.to_timedelta(np.sort(rng.integers(0, 5 * 365 * 86400, executions)), unit="s"),
            "symbol": names[which],
            "side": np.where(rng.random(executions) < 0.55, "buy", "sell").astype(object),
            "quantity": rng.integers(1, 200, executions).astype(np.float64),
            "price": np.round(base[which] * drift, 2),
            "fees": np.round(rng.uniform(0.0, 2.0, executions), 2),
            "currency": np.where(which % 10 == 0, "CAD", "USD").astype(object),
        }
    )
    closes = pd.DataFrame({"symbol": names, "close": np.round(base, 2)})
    return frame, closes


def naive_fifo(frame: pd.DataFrame) -> pd.DataFrame:
    """The textbook implementation: a dict per execution, a deque of lot dicts per book."""
    rows = frame.sort_values(["datetime", "trade_id"], kind="stable").to_dict("records")
    books: dict[tuple, deque] = {}
    matches = []
    for row in rows:
        key = (row["account"], row["currency"], row["symbol"])
        book = books.setdefault(key, deque())
        sign = 1 if row["side"] == "buy" else -1
        remaining = row["quantity"]
        while book and remaining > 1e-9 and book[0]["sign"] != sign:
            lot = book[0]
            take = min(lot["remaining"], remaining)
            fees = take * (lot["fees"] / lot["quantity"] + row["fees"] / row["quantity"])
            pnl = lot["sign"] * (row["price"] - lot["price"]) * take - fees
            matches.append({"symbol": row["symbol"], "quantity": take, "pnl": pnl})
            lot["remaining"] -= take
            remaining -= take
            if lot["remaining"] <= 1e-9:
                book.popleft()
        if remaining > 1e-9:
            book.append({**row, "sign": sign, "remaining": remaining})
    return pd.DataFrame(matches)


def best_of(repeats: int, fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def group_seconds(
    database_url: str, frame: pd.DataFrame, closes: pd.DataFrame, home: Path
) -> tuple[float, bool]:
    """Load instruments, one day of prices and the executions; time the job in Dagster."""
    database = Database(url=database_url)
    now = pd.Timestamp.now(tz="UTC")
    instruments = pd.DataFrame(
        {
            "symbol": closes["symbol"],
            "name": "Bench Co " + closes["symbol"],
            "asset_type": "stock",
            "currency": "USD",
            "source": "benchmark",
            "updated_at": now,
        }
    )
    prices = closes.assign(
        date=pd.Timestamp("2024-12-31"),
        adj_close=closes["close"],
        source="benchmark",
        ingested_at=now,
    )
    with database.transaction() as connection:
        insert_frame(connection, Instrument.__table__, instruments)
        insert_frame(connection, Price.__table__, prices)
        insert_frame(
            connection,
            Transaction.__table__,
            frame.assign(source="csv", recorded_at=now),
        )
    settings = load_settings({"PORTFOLIO_HOME": str(home), "PORTFOLIO_DATABASE_URL": database_url})
    job = build_definitions(settings).resolve_job_def(REFRESH_TRADING_PERFORMANCE_JOB)
    with dg.DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        result = job.execute_in_process(instance=instance, run_config=QUIET, raise_on_error=False)
        seconds = time.perf_counter() - started
    return seconds, result.success


def postgres_url(conninfo: str) -> tuple[str, str] | None:
    try:
        import psycopg

        with psycopg.connect(
            f"{conninfo} dbname=postgres connect_timeout=3", autocommit=True
        ) as admin:
            name = f"pp_bench_{uuid.uuid4().hex[:10]}"
            admin.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # no server: skip the PostgreSQL figures
        print(f"PostgreSQL skipped: {exc.__class__.__name__}")
        return None
    params = dict(part.split("=", 1) for part in conninfo.split())
    return (
        f"postgresql+psycopg://{params['user']}@{params.get('host', '127.0.0.1')}:"
        f"{params.get('port', '5432')}/{name}",
        name,
    )


def drop_postgres(conninfo: str, name: str) -> None:
    import psycopg

    dispose_engines()
    with psycopg.connect(f"{conninfo} dbname=postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--symbols", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="conninfo, or 'none'")
    args = parser.parse_args()
    configure_dagster_process()
    frame, closes = simulate(args.executions, args.symbols, args.seed)
    print(f"{len(frame):,} executions over {args.symbols:,} symbols (simulated)")

    fifo_s, fifo = best_of(args.repeats, lambda: match_fifo(frame))
    naive_s, naive = best_of(1, lambda: naive_fifo(frame))
    diff = float(np.max(np.abs(fifo.realized["pnl"].to_numpy() - naive["pnl"].to_numpy())))
    print(
        f"match_fifo: {fifo_s:.2f} s (target <= {FIFO_TARGET:.0f} s), {len(fifo.realized):,} "
        f"realized trades, {len(fifo.open_lots):,} open lots"
    )
    print(
        f"naive reference: {naive_s:.2f} s ({naive_s / fifo_s:.1f}x slower), same matches: "
        f"{len(naive) == len(fifo.realized)}, max |P&L difference| {diff:.2e}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        sqlite_s, ok = group_seconds(f"sqlite:///{home / 'bench.db'}", frame, closes, home)
        print(
            f"trading performance group, SQLite: {sqlite_s:.2f} s "
            f"(target <= {GROUP_TARGET:.0f} s), success {ok}"
        )
        dispose_engines()
        if args.postgres != "none":
            made = postgres_url(args.postgres)
            if made is not None:
                url, name = made
                try:
                    pg_s, ok = group_seconds(url, frame, closes, home / "pg")
                    print(f"trading performance group, PostgreSQL: {pg_s:.2f} s, success {ok}")
                finally:
                    drop_postgres(args.postgres, name)


if __name__ == "__main__":
    main()
