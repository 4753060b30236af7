"""The command line end to end on the SIMULATED demo market: backfills, a daily run, small commands.

Run ``python -m benchmarks.end_to_end [--symbols 500 5000] [--years 1 2.5 5] [--postgres CONNINFO |
--postgres none]``; every symbol count runs every history length on every backend (the README
quotes ``--symbols 500`` with the three lengths and ``--symbols 5000 --years 5``).

For each backend (the embedded default: SQLite app database and the project's ``dagster.yaml``
instance; then PostgreSQL for both, with ``orchestration/instance/dagster.postgres.yaml``, when
the server in ``--postgres`` is reachable) and each history length it starts from an empty state
and runs the ``portfolio`` console script as a user would, each command in its own process:

* ``portfolio backfill START END`` over the whole history (prices and the whole risk group for
  every session, one run): wall seconds, seconds per 1,000 (session x symbol) cells, so the cost
  curve over the lengths shows whether it is linear, the peak RSS of the process, and the
  run's slowest steps (from the instance's event log: where the time goes);
* ``portfolio run`` for the last day (the daily pipeline);
* ``portfolio basket list`` and ``portfolio trade list``, commands that run no pipeline.

Targets (issue 17): five-year backfill <= 2 min at 500 symbols and <= 15 min at 5,000, peak RSS
<= 2 GB, linear cost; ``portfolio run`` <= 60 s at 5,000; small commands <= 2 s. The machine is
shared, so the load average is printed beside every figure. Prints only, never asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from analytics_lib.simulation import trading_calendar
from benchmarks.risk import DEFAULT_POSTGRES, postgres_database

ROOT = Path(__file__).resolve().parents[1]
PORTFOLIO = str(Path(sys.executable).with_name("portfolio"))
TIME = "/usr/bin/time"
START = dt.date(2019, 1, 2)
SESSIONS_PER_YEAR = 252
TARGETS = {500: 120.0, 5000: 900.0}
SMALL_COMMANDS = (("basket", "list"), ("trade", "list"))


@dataclass(frozen=True)
class Timing:
    """One command: wall seconds, peak RSS (MiB) and whether it exited 0."""

    seconds: float
    rss_mib: float
    ok: bool


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def machine() -> str:
    """CPU count, memory and Python: the figures' context."""
    memory = "?"
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    return (
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), {memory} RAM, "
        f"Python {platform.python_version()}"
    )


def slowest_steps(home: Path, env: dict[str, str], count: int = 6) -> str:
    """The ``count`` longest steps of the latest run in the instance at ``home/dagster``."""
    script = (
        "import dagster as dg\n"
        "from dagster._core.events import DagsterEventType as T\n"
        "instance = dg.DagsterInstance.get()\n"
        "run = instance.get_runs(limit=1)[0]\n"
        "starts, spans = {}, []\n"
        "for e in instance.all_logs(run.run_id, of_type={T.STEP_START, T.STEP_SUCCESS}):\n"
        "    if e.dagster_event.event_type == T.STEP_START:\n"
        "        starts[e.step_key] = e.timestamp\n"
        "    else:\n"
        "        spans.append((e.timestamp - starts.get(e.step_key, e.timestamp), e.step_key))\n"
        f"spans = sorted(spans, reverse=True)[:{count}]\n"
        "print(', '.join(f'{k} {s:.1f} s' for s, k in spans))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or done.stderr.strip()[-200:]


def run(env: dict[str, str], *args: str) -> Timing:
    """Run ``portfolio ARGS`` in a fresh process under /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.perf_counter()
        done = subprocess.run(
            [TIME, "-f", "%M", "-o", report.name, PORTFOLIO, *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        rss_kib = float(report.read().strip().splitlines()[-1] or 0)
    if done.returncode != 0:
        print(f"  portfolio {' '.join(args)} FAILED: {done.stderr.strip()[-400:]}")
    return Timing(seconds, rss_kib / 1024, done.returncode == 0)


def environment(home: Path, symbols: int, end: dt.date, database_url: str | None) -> dict:
    env = {
        **os.environ,
        "PORTFOLIO_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "PORTFOLIO_DEMO_SYMBOLS": str(symbols),
        "PORTFOLIO_START_DATE": START.isoformat(),
        "PORTFOLIO_DEMO_END_DATE": end.isoformat(),
    }
    if database_url is not None:
        env["PORTFOLIO_DATABASE_URL"] = database_url
    return env


def postgres_instance(home: Path, env: dict, dagster_url: str) -> None:
    """Point the instance in ``home/dagster`` at the scratch PostgreSQL database."""
    user_host, database = dagster_url.split("://", 1)[1].split("/", 1)
    user, host_port = user_host.split("@", 1)
    host, port = host_port.split(":", 1)
    env.update(
        DAGSTER_PG_HOST=host,
        DAGSTER_PG_PORT=port,
        DAGSTER_PG_USER=user,
        DAGSTER_PG_PASSWORD="",
        DAGSTER_PG_DB=database,
    )
    shutil.copy(
        ROOT / "orchestration" / "instance" / "dagster.postgres.yaml",
        home / "dagster" / "dagster.yaml",
    )


def one_length(
    label: str, years: float, symbols: int, conninfo: str | None, small: bool = True
) -> tuple[int, Timing] | None:
    sessions = round(years * SESSIONS_PER_YEAR)
    calendar, _ = trading_calendar(START, START + dt.timedelta(days=2 * sessions + 30))
    end = calendar[sessions - 1].date()
    with tempfile.TemporaryDirectory(prefix="pp-e2e-") as scratch, ExitStack() as stack:
        home = Path(scratch)
        (home / "dagster").mkdir()
        app_url = None
        if conninfo is not None:
            app_url = stack.enter_context(postgres_database(conninfo))
            dagster_url = stack.enter_context(postgres_database(conninfo))
            if app_url is None or dagster_url is None:
                return None
        env = environment(home, symbols, end, app_url)
        if conninfo is not None:
            postgres_instance(home, env, dagster_url)
        else:
            shutil.copy(ROOT / "dagster.yaml", home / "dagster" / "dagster.yaml")
        if not run(env, "db", "upgrade").ok:
            return None
        backfill = run(env, "backfill", START.isoformat(), end.isoformat())
        cells = sessions * symbols
        print(
            f"{label:<10s} {years:>4g} y ({sessions:,} sessions x {symbols:,} symbols): backfill "
            f"{backfill.seconds:7.1f} s, {1000 * backfill.seconds / cells:6.3f} s per 1,000 "
            f"cells, peak RSS {backfill.rss_mib:,.0f} MiB ({load()})"
        )
        print(f"{'':<10s} slowest steps: {slowest_steps(home, env)}")
        daily = run(env, "run")
        print(
            f"{'':<10s} portfolio run (last day): {daily.seconds:6.1f} s, peak RSS "
            f"{daily.rss_mib:,.0f} MiB ({load()})"
        )
        for command in SMALL_COMMANDS if small else ():
            best = min((run(env, *command) for _ in range(3)), key=lambda t: t.seconds)
            print(
                f"{'':<10s} portfolio {' '.join(command)}: {best.seconds:5.2f} s best of 3 "
                f"(target <= 2 s: {'met' if best.seconds <= 2.0 else 'NOT met'})"
            )
        return sessions, backfill


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, nargs="+", default=[500])
    parser.add_argument("--years", type=float, nargs="+", default=[1.0, 2.5, 5.0])
    parser.add_argument(
        "--postgres", default=DEFAULT_POSTGRES, help="libpq conninfo, or 'none' to skip"
    )
    parser.add_argument(
        "--no-small-commands", action="store_true", help="skip the commands that run no job"
    )
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args(argv)
    print(f"SIMULATED demo market from {START}; {machine()}; {load()}")
    backends = [] if args.no_sqlite else [("SQLite", None)]
    if args.postgres != "none":
        backends.append(("PostgreSQL", args.postgres))
    for symbols in args.symbols:
        for label, conninfo in backends:
            curve(label, symbols, args.years, conninfo, small=not args.no_small_commands)


def curve(
    label: str, symbols: int, lengths: list[float], conninfo: str | None, small: bool
) -> None:
    """Backfills of every length on one backend, then the cost per session against the first."""
    results = [one_length(label, years, symbols, conninfo, small) for years in lengths]
    measured = [r for r in results if r is not None]
    if not measured:
        return
    sessions, longest = measured[-1]
    base_sessions, base = measured[0]
    ratio = (longest.seconds / sessions) / (base.seconds / base_sessions)
    target = TARGETS.get(symbols)
    verdict = ""
    if target is not None and sessions >= 5 * SESSIONS_PER_YEAR:
        met = "met" if longest.seconds <= target else "NOT met"
        verdict = f"; five-year target <= {target:g} s: {met}"
    print(
        f"{label}: cost per session at {sessions:,} sessions / at {base_sessions:,} = "
        f"{ratio:.2f} (1.00 = linear){verdict}"
    )


if __name__ == "__main__":
    main()
