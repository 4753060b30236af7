"""The risk group at scale: the simulated market loaded into an app database, then timed.

Run ``python -m benchmarks.risk [--symbols 5000] [--days 1260] [--seed N] [--repeats N]
[--reference-symbols 200] [--postgres CONNINFO | --postgres none]``.

For each backend (a SQLite file, and PostgreSQL when the server in ``--postgres`` is reachable)
it loads the SIMULATED demo market (``--symbols`` stocks plus SPY and 11 sector ETFs over
``--days`` trading days) with the project's bulk writers and prints wall-clock seconds for

* reading the price panel back and turning it into returns,
* ``market_betas`` at the last as-of date (issue 3 target <= 0.2 s),
* ``rolling_market_betas`` for every as-of date of the history, the backfill (<= 2 s),
* ``har_forecast`` for all symbols at the last as-of date (<= 2 s),
* the whole risk group for the last as-of date through Dagster, database reads and writes
  included (<= 10 s; an in-memory Dagster instance, so the event log is not what is timed),

plus the planted-beta error and the per-symbol statsmodels loop of the original design
(speed ratio, largest differences), reusing :mod:`benchmarks.risk_kernels`. Prints only, never
asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pandas as pd

from analytics_lib.betas import market_betas, rolling_market_betas
from analytics_lib.returns import simple_returns
from analytics_lib.simulation import DemoMarket, simulate_market, trading_calendar
from analytics_lib.volatility import har_forecast
from benchmarks.risk_kernels import compare_with_statsmodels, peak_rss_mb, timed
from orchestration import constants as c
from orchestration.definitions import build_definitions
from orchestration.resources.database import Database
from orchestration.resources.panels import ReturnsPanels
from orchestration.settings import configure_dagster_process, load_settings
from orchestration.storage.bulk import replace_rows
from orchestration.storage.engine import dispose_engines
from orchestration.storage.models import (
    BenchmarkSectorWeight,
    EtfHolding,
    Instrument,
    PortfolioPosition,
    Price,
)

START = dt.date(2020, 1, 2)
GROUP_TARGET = 10.0
DEFAULT_POSTGRES = "host=127.0.0.1 port=5432 user=postgres"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def end_date(days: int) -> dt.date:
    """The last day of a range that starts on START and holds ``days`` trading days."""
    calendar, _ = trading_calendar(START, START + dt.timedelta(days=2 * days + 30))
    return calendar[days - 1].date()


def load_market(database: Database, market: DemoMarket, label: str) -> None:
    """Write the simulated market's tables in one transaction (the assets' bulk writers)."""
    stamp = pd.Timestamp("2026-01-01")
    frames = [
        (Instrument, market.instruments, "updated_at"),
        (Price, market.prices, "ingested_at"),
        (BenchmarkSectorWeight, market.benchmark_sector_weights, "updated_at"),
        (EtfHolding, market.etf_holdings, "updated_at"),
        (PortfolioPosition, market.positions, "updated_at"),
    ]
    with database.transaction() as connection:
        for model, frame, column in frames:
            replace_rows(connection, model.__table__, frame.assign(source=label, **{column: stamp}))


@contextmanager
def postgres_database(conninfo: str) -> Iterator[str | None]:
    """A scratch PostgreSQL database (dropped afterwards), or None when none is reachable."""
    import psycopg

    name = f"pp_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(f"{conninfo} dbname=postgres connect_timeout=3", autocommit=True)
    except psycopg.Error as exc:
        print(f"PostgreSQL skipped: {exc.__class__.__name__} connecting to '{conninfo}'")
        yield None
        return
    params = dict(part.split("=", 1) for part in conninfo.split())
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            host, port = params.get("host", "127.0.0.1"), params.get("port", "5432")
            yield f"postgresql+psycopg://{params['user']}@{host}:{port}/{name}"
        finally:
            dispose_engines()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_backend(
    label: str, url: str, home: Path, market: DemoMarket, args: argparse.Namespace
) -> None:
    print(f"\n== {label}")
    last = market.prices["date"].max().date()
    settings = load_settings(
        {
            "PORTFOLIO_HOME": str(home),
            "PORTFOLIO_DATABASE_URL": url,
            "PORTFOLIO_START_DATE": START.isoformat(),
            "PORTFOLIO_DEMO_SYMBOLS": str(args.symbols),
            "PORTFOLIO_DEMO_SEED": str(args.seed),
            "PORTFOLIO_DEMO_END_DATE": last.isoformat(),
        }
    )
    database = Database(url=url)
    t0 = time.perf_counter()
    load_market(database, market, "benchmark: SIMULATED demo market")
    print(f"loaded {len(market.prices):,} price rows in {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    prices = ReturnsPanels(database=database).prices(START, last)
    returns = simple_returns(prices)
    print(
        f"price panel read and returns built in {time.perf_counter() - t0:.2f} s "
        f"({returns.shape[0]} dates x {returns.shape[1]} symbols)"
    )
    window = returns.iloc[-c.DEFAULT_RISK_HISTORY_DAYS :]
    single, single_seconds = timed("market_betas", args.repeats, lambda: market_betas(window))
    timed(
        "rolling_market_betas",
        args.repeats,
        lambda: rolling_market_betas(returns, lookback=c.DEFAULT_RISK_HISTORY_DAYS),
    )
    har, _ = timed(
        "har_forecast",
        args.repeats,
        lambda: har_forecast(returns, max_history=c.DEFAULT_RISK_HISTORY_DAYS),
    )
    ok = (single["status"] == "ok") & (single.index != "SPY")
    error = (single.loc[ok, "beta"] - market.truth.betas.reindex(single.index[ok])).abs()
    print(
        f"betas ok {int(ok.sum())} of {len(single)}; planted-beta MAE {error.mean():.4f}; "
        f"HAR forecasts ok {int((har['status'] == 'ok').sum())}, capped {int(har['capped'].sum())}"
    )

    defs = build_definitions(settings)
    job = defs.resolve_job_def(c.RISK_JOB)
    group = [k for k in job.asset_layer.executable_asset_keys if k.path != ["portfolio_positions"]]
    times = []
    for _ in range(args.repeats):
        with dg.DagsterInstance.ephemeral() as instance:
            t0 = time.perf_counter()
            result = job.execute_in_process(
                run_config=QUIET,
                instance=instance,
                partition_key=last.isoformat(),
                asset_selection=group,
                raise_on_error=False,
            )
            times.append(time.perf_counter() - t0)
        if not result.success:
            print("risk group FAILED")
            return
    checks = result.get_asset_check_evaluations()
    failed = ", ".join(f"{e.check_name} ({e.severity.value})" for e in checks if not e.passed)
    verdict = "met" if min(times) <= GROUP_TARGET else "NOT met"
    print(
        f"{'risk group, one date':<24s} first {times[0]:7.3f} s   best of {len(times)} "
        f"{min(times):7.3f} s   target <= {GROUP_TARGET:g} s: {verdict}; "
        f"{sum(e.passed for e in checks)} of {len(checks)} checks passed"
        + (f"; failed: {failed}" if failed else "")
    )
    stored = database.read_frame(
        "SELECT COUNT(*) AS n FROM position_market_betas WHERE calc_date = :d", {"d": last}
    )
    print(f"position_market_betas rows for {last}: {int(stored['n'].iloc[0]):,}")
    compare_with_statsmodels(window, single, single_seconds, args.reference_symbols)
    print(f"peak RSS {peak_rss_mb():.0f} MB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=5000)
    parser.add_argument("--days", type=int, default=1260)
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reference-symbols", type=int, default=200)
    parser.add_argument(
        "--postgres", default=DEFAULT_POSTGRES, help="libpq conninfo, or 'none' to skip"
    )
    args = parser.parse_args(argv)
    configure_dagster_process()
    last = end_date(args.days)
    t0 = time.perf_counter()
    market = simulate_market(start=START, end=last, n_symbols=args.symbols, seed=args.seed)
    print(
        f"simulated {args.symbols} stocks + 12 ETFs over {args.days} trading days "
        f"({START} … {last}) in {time.perf_counter() - t0:.1f} s"
    )
    with tempfile.TemporaryDirectory(prefix="pp-bench-") as scratch:
        home = Path(scratch)
        run_backend("SQLite", f"sqlite:///{home / 'portfolio.db'}", home, market, args)
        if args.postgres != "none":
            with postgres_database(args.postgres) as url:
                if url is not None:
                    run_backend("PostgreSQL", url, home, market, args)


if __name__ == "__main__":
    main()
