"""``portfolio demo | backfill | run | db upgrade``: the daily pipeline from the command line.

Runs execute in this process on the persistent Dagster instance (``DAGSTER_HOME``), so they
appear in the UI exactly like runs launched there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from orchestration import constants as c
from orchestration import market_calendar
from orchestration.cli.arguments import iso_date
from orchestration.cli.database import AppDatabase
from orchestration.cli.output import print_json, print_pairs, progress
from orchestration.cli.progress import stages
from orchestration.defs.baskets import store as basket_store
from orchestration.defs.market_data.removals import ALLOW_REMOVALS_TAG
from orchestration.settings import Settings
from orchestration.storage import migrate
from orchestration.storage.engine import dispose_engines, get_engine

if TYPE_CHECKING:
    import dagster as dg

UI_HINT = "Open the Dagster UI on the same state with `make dev`, then http://127.0.0.1:3000"
DEMO_EQUAL_BASKET = "Demo largest five"
DEMO_EQUAL_BASKET_SIZE = 5
DEMO_ETF_BASKET = "Demo tech top 10"
DEMO_ETF = "XLK"
DEMO_ETF_TOP_N = 10
DEMO_STAGES = (
    "fresh state and app database",
    "market data",
    "risk group",
    "daily pipeline",
    "baskets and their refresh runs",
    "basket trade on the paper broker",
    "trading performance (transactions, realized trades, report, positions P&L)",
    "strategy: universe, scores, target, backtest, trade plan",
)
"""The stages ``portfolio demo`` reports (the three runs announce themselves in full)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the pipeline commands to the ``portfolio`` parser."""
    demo = subparsers.add_parser(
        "demo",
        help="fresh state, migrate, backfill the simulated market, run the latest day",
        description="Reset the embedded state, backfill the market data of the SIMULATED demo "
        f"market in one run, the risk group over the last {c.DEMO_RISK_WINDOW} trading days in "
        "a second, run the daily pipeline for the latest trading day and print a summary.",
    )
    demo.add_argument("--json", action="store_true", help="print the summary as JSON")
    demo.set_defaults(handler=demo_command)

    backfill = subparsers.add_parser(
        "backfill",
        help="single-run backfill of daily prices and everything that depends on them",
    )
    backfill.add_argument("start", type=iso_date, help="first trading day (YYYY-MM-DD)")
    backfill.add_argument("end", type=iso_date, help="last trading day (YYYY-MM-DD)")
    backfill.add_argument(
        "--market-data-only",
        action="store_true",
        help="load prices, benchmark and holdings only (job market_data_backfill), e.g. a long "
        "history for `portfolio evaluate-volatility`",
    )
    backfill.add_argument("--allow-removals", action="store_true", help=ALLOW_REMOVALS_HELP)
    backfill.add_argument("--json", action="store_true", help="print the result as JSON")
    backfill.set_defaults(handler=backfill_command)

    run = subparsers.add_parser("run", help="the daily pipeline for one trading day")
    run.add_argument(
        "--date",
        type=iso_date,
        default=None,
        help="trading day (default: the latest day with prices)",
    )
    run.add_argument("--allow-removals", action="store_true", help=ALLOW_REMOVALS_HELP)
    run.add_argument("--json", action="store_true", help="print the result as JSON")
    run.set_defaults(handler=run_command)

    db = subparsers.add_parser("db", help="app database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    upgrade = db_sub.add_parser("upgrade", help="apply pending migrations")
    upgrade.set_defaults(handler=db_upgrade_command)


ALLOW_REMOVALS_HELP = (
    "let the run delete stored prices of its days that the source no longer has (otherwise "
    "such a run fails and writes nothing); recorded as the run tag "
    f"{ALLOW_REMOVALS_TAG}=true"
)


def _removal_tags(args: argparse.Namespace) -> dict[str, str]:
    return {ALLOW_REMOVALS_TAG: "true"} if args.allow_removals else {}


def _finish(args: argparse.Namespace, outcome: dict[str, object]) -> int:
    if args.json:
        print_json(outcome)
    if not outcome["success"]:
        from orchestration.cli.runs import RunFailed, RunFailure

        raise RunFailed(RunFailure(str(outcome["error"]), int(outcome["exit_code"])))
    return 0


def _require_trading_day(day: dt.date, settings: Settings, name: str) -> None:
    if not market_calendar.is_session(market_calendar.require_in_range(day, name)):
        raise ValueError(
            f"{name} {day.isoformat()} is {market_calendar.closure(day)}, not an NYSE session; "
            f"the next session is {market_calendar.next_session(day).isoformat()}"
        )
    if day < settings.start_date:
        raise ValueError(
            f"{name} {day.isoformat()} is before the first partition "
            f"{settings.start_date.isoformat()} (PORTFOLIO_START_DATE)"
        )


def _embedded_database_file(settings: Settings) -> Path | None:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    path = Path(url.database).resolve()
    return path if settings.home in path.parents else None


def _reset_state(settings: Settings) -> list[str]:
    from orchestration.cli.runs import reset_instance_storage

    notes = []
    dispose_engines()
    database_file = _embedded_database_file(settings)
    if database_file is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database_file}{suffix}").unlink(missing_ok=True)
        notes.append(f"reset the embedded app database {database_file}")
    else:
        notes.append("kept the configured app database (only the embedded one is reset)")
    if settings.home in settings.dagster_home.resolve().parents:
        reset_instance_storage(settings.dagster_home)
        notes.append(f"reset the Dagster instance storage in {settings.dagster_home}")
    return notes


def _outcome(result: dg.ExecuteInProcessResult, seconds: float, label: str) -> dict[str, object]:
    from orchestration.cli.runs import run_failure

    outcome: dict[str, object] = {
        "run_id": result.run_id,
        "job": result.job_def.name,
        "success": result.success,
        "seconds": round(seconds, 1),
        "materializations": len(result.get_asset_materialization_events()),
    }
    if not result.success:
        failure = run_failure(result)
        outcome["error"] = failure.message
        outcome["exit_code"] = failure.exit_code
    status = "succeeded" if result.success else f"FAILED ({outcome['error']})"
    progress(f"  {label}run {result.run_id} {status} in {seconds:.1f} s")
    return outcome


def _run(
    settings: Settings,
    label: str,
    *,
    job: str = c.DAILY_PIPELINE_JOB,
    partition_key: str | None = None,
    partition_range: tuple[dt.date, dt.date] | None = None,
    tags: dict[str, str] | None = None,
    announce: Callable[[str], None] | None = None,
) -> dict[str, object]:
    """Run ``job`` in this process; ``announce`` (default: a ``→`` line) says so first."""
    from orchestration.cli.runs import execute_job, instance_for
    from orchestration.definitions import build_definitions

    defs = build_definitions(settings)
    instance = instance_for(settings)
    started = time.perf_counter()
    if announce is None:
        progress(f"→ {label}")
    else:
        announce(label)
    result = execute_job(
        defs,
        job,
        instance,
        partition_key=partition_key,
        partition_range=partition_range,
        tags=tags,
    )
    return _outcome(result, time.perf_counter() - started, "")


def _demo_baskets(settings: Settings) -> list[dict[str, object]]:
    """Create the two demo baskets (the largest stocks priced on the latest day, and the top
    of a sector ETF), then let the ``basket_changes`` sensor (evaluated once, in
    this process) add their partitions and run ``refresh_basket`` for each."""
    from orchestration.cli.runs import instance_for, run_sensor_once
    from orchestration.definitions import build_definitions

    database = AppDatabase(settings.database_url)
    largest = database.read_frame(
        "SELECT i.symbol FROM instruments i JOIN prices p ON p.symbol = i.symbol "
        "WHERE i.asset_type = 'stock' AND p.date = (SELECT MAX(date) FROM prices) "
        "ORDER BY i.market_cap DESC, i.symbol LIMIT :n",
        {"n": DEMO_EQUAL_BASKET_SIZE},
    )["symbol"].tolist()
    basket_store.create_basket(
        database,
        DEMO_EQUAL_BASKET,
        largest,
        description=f"Equal-weighted: the {DEMO_EQUAL_BASKET_SIZE} largest demo stocks",
    )
    basket_store.create_basket_from_etf(database, DEMO_ETF, DEMO_ETF_BASKET, top_n=DEMO_ETF_TOP_N)
    progress(f"· created baskets {DEMO_EQUAL_BASKET!r} and {DEMO_ETF_BASKET!r} (from {DEMO_ETF})")
    progress(f"→ sensor {c.BASKET_CHANGES_SENSOR}: partitions and refresh runs")
    launches = run_sensor_once(
        build_definitions(settings), instance_for(settings), c.BASKET_CHANGES_SENSOR
    )
    outcomes = []
    for launch in launches:
        outcome: dict[str, object] = {
            "run_id": launch.run_id,
            "job": launch.job_name,
            "success": bool(launch.success),
            "seconds": round(launch.seconds, 1),
        }
        if launch.error:
            outcome["error"] = launch.error
        status = "succeeded" if launch.success else f"FAILED ({launch.error})"
        progress(
            f"  {launch.job_name} {launch.partition_key!r} run {launch.run_id} {status} "
            f"in {launch.seconds:.1f} s"
        )
        outcomes.append(outcome)
    return outcomes


def demo_command(args: argparse.Namespace, settings: Settings) -> int:
    """Fresh state → migrate → market data history in one run → the risk group over the last
    weeks of it in a second run (so the UI plots a line) → the whole daily pipeline for the
    latest day.

    Every partition materialization costs the instance ~25 ms whatever the asset does, so the
    risk group is backfilled over a short recent window only, not over the whole history."""
    from orchestration.cli import strategy as strategy_cli
    from orchestration.cli import trading
    from orchestration.cli.summary import pipeline_summary
    from orchestration.definitions import build_market_data
    from orchestration.defs.performance.jobs import REFRESH_TRADING_PERFORMANCE_JOB

    if settings.market_data != "demo":
        raise ValueError(
            "portfolio demo runs the simulated demo market; unset PORTFOLIO_MARKET_DATA "
            "(or set it to demo) — use `portfolio backfill` and `portfolio run` for CSV data"
        )
    with stages(len(DEMO_STAGES)) as stage:
        stage.start(DEMO_STAGES[0])
        for note in _reset_state(settings):
            progress(f"· {note}")
        revision = migrate.upgrade(get_engine(settings.database_url, migrated=False))
        progress(
            f"· app database at migration {revision} ({settings.database_url.split('://')[0]})"
        )
        latest = build_market_data(settings).latest_date()
        if latest is None or latest <= settings.start_date:
            raise ValueError("the demo market has no history before its latest day")
        days = _partition_keys(settings, settings.start_date, latest)
        history_end = dt.date.fromisoformat(days[-2])
        risk_days = days[-1 - c.DEMO_RISK_WINDOW : -1] or days[:-1]
        risk_start = dt.date.fromisoformat(risk_days[0])
        runs = [
            _run(
                settings,
                f"market data {settings.start_date} … {history_end} ({len(days) - 1} trading "
                "days, one run)",
                job=c.MARKET_DATA_JOB,
                partition_range=(settings.start_date, history_end),
                announce=stage.start,
            )
        ]
        if runs[-1]["success"]:
            runs.append(
                _run(
                    settings,
                    f"risk group {risk_start} … {history_end} ({len(risk_days)} trading days, "
                    "one run)",
                    job=c.RISK_JOB,
                    partition_range=(risk_start, history_end),
                    announce=stage.start,
                )
            )
        if runs[-1]["success"]:
            runs.append(
                _run(
                    settings,
                    f"daily pipeline for {latest}",
                    partition_key=latest.isoformat(),
                    announce=stage.start,
                )
            )
        if runs[-1]["success"]:
            stage.start(DEMO_STAGES[4])
            runs.extend(_demo_baskets(settings))
        # Trading step (issue 5): a basket buy on the paper broker through the approval sensor.
        trade: dict[str, object] = {"skipped": "the pipeline runs failed"}
        if runs[-1]["success"]:
            stage.start(DEMO_STAGES[5])
            trade = trading.demo_basket_trade(settings)
        # Trade performance (issue 11): the paper fills become transactions, the round trip a
        # realized trade; the four assets of the trading-performance job on the same instance.
        performance: dict[str, object] = {"skipped": "the demo trades did not complete"}
        if trade.get("success", False):
            performance = _run(
                settings,
                DEMO_STAGES[6],
                job=REFRESH_TRADING_PERFORMANCE_JOB,
                announce=stage.start,
            )
        # Strategy (issue 10): universe → scores → target → backtest → trade plan, previewed.
        strategy: dict[str, object] = {"skipped": "the pipeline runs failed"}
        if all(run["success"] for run in runs):
            stage.start(DEMO_STAGES[7])
            strategy = strategy_cli.demo_strategy(settings, latest)
        summary = pipeline_summary(settings, latest)
    ok = (
        all(run["success"] for run in runs)
        and trade.get("success", True)
        and performance.get("success", True)
        and strategy.get("success", True)
    )
    if args.json:
        print_json(
            {
                "success": ok,
                "runs": runs,
                "trade": trade,
                "performance": performance,
                "strategy": strategy,
                "summary": dict(summary),
            }
        )
    else:
        print("\nSummary (SIMULATED demo market — not real data)")
        print_pairs(summary)
        print(f"\n{UI_HINT}")
    return 0 if ok else 1


def _partition_keys(settings: Settings, start: dt.date, end: dt.date) -> list[str]:
    import dagster as dg

    from orchestration.definitions import build_definitions

    defs = build_definitions(settings)
    partitions = defs.resolve_assets_def("daily_prices").partitions_def
    keys = partitions.get_partition_keys_in_range(
        dg.PartitionKeyRange(start.isoformat(), end.isoformat())
    )
    return list(keys)


def backfill_command(args: argparse.Namespace, settings: Settings) -> int:
    """One run over every trading day from START to END: the daily pipeline, or only its
    market data with ``--market-data-only``."""
    _require_trading_day(args.start, settings, "START")
    _require_trading_day(args.end, settings, "END")
    if args.end < args.start:
        raise ValueError(f"END {args.end} is before START {args.start}")
    job = c.MARKET_DATA_JOB if args.market_data_only else c.DAILY_PIPELINE_JOB
    with stages(2) as stage:
        stage.start(f"loading the definitions of {job}")
        count = len(_partition_keys(settings, args.start, args.end))
        outcome = _run(
            settings,
            f"backfill {args.start} … {args.end} ({count} trading days, one run of {job})",
            job=job,
            partition_range=(args.start, args.end),
            tags=_removal_tags(args),
            announce=stage.start,
        )
    return _finish(args, outcome)


def _latest_price_date(settings: Settings) -> dt.date | None:
    frame = AppDatabase(settings.database_url).read_frame("SELECT MAX(date) AS d FROM prices")
    value = frame["d"].iloc[0]
    return None if value is None else dt.date.fromisoformat(str(value)[:10])


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """The daily pipeline for one day (default: the latest day with prices)."""
    from orchestration.definitions import build_market_data

    day = args.date or _latest_price_date(settings) or build_market_data(settings).latest_date()
    if day is None:
        raise ValueError("no prices anywhere yet; pass --date or run `portfolio backfill` first")
    _require_trading_day(day, settings, "--date")
    outcome = _run(
        settings,
        f"daily pipeline for {day}",
        partition_key=day.isoformat(),
        tags=_removal_tags(args),
    )
    return _finish(args, outcome)


def db_upgrade_command(args: argparse.Namespace, settings: Settings) -> int:
    """Apply pending app-database migrations."""
    engine = get_engine(settings.database_url, migrated=False)
    before = migrate.current_revision(engine)
    after = migrate.upgrade(engine)
    print(f"app database: {before or 'empty'} → {after}")
    return 0
