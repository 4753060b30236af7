"""``portfolio strategy run|backtest|plan``: the investment process from the command line.

``run`` materializes the strategy group for a day (universe → scores → target → backtest →
trade plan) and lets ``trade_plan_sensor`` preview the plan as a trade group; ``plan`` redoes
only the trade plan (e.g. with another cash deployment); ``backtest`` runs the walk-forward
backtest with other parameters and prints it without storing anything.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import time
from typing import TYPE_CHECKING

from sqlalchemy import select

from analytics_lib.backtest import REBALANCE_FREQUENCIES
from orchestration import constants as c
from orchestration.cli.arguments import iso_date
from orchestration.cli.database import AppDatabase
from orchestration.cli.output import print_json, print_pairs, print_table, progress
from orchestration.settings import STRATEGY_METHODS, Settings
from orchestration.storage.models import BacktestRun

if TYPE_CHECKING:
    import dagster as dg

    from orchestration.resources.database import Database

BACKTESTS = BacktestRun.__table__


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def _stop_loss(text: str) -> float | None:
    return None if text == "none" else _positive(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``portfolio strategy …`` to the parser."""
    strategy = subparsers.add_parser(
        "strategy", help="universe, factor scores, target portfolio, backtest and trade plan"
    )
    commands = strategy.add_subparsers(dest="strategy_command", required=True, metavar="ACTION")

    run = commands.add_parser(
        "run",
        help="materialize the strategy group for a day and preview its trade plan",
        description="Universe → factor scores → target portfolio → backtest → trade plan for "
        "one trading day, then the trade_plan_sensor previews the plan as a trade group "
        "(approve it with `portfolio trade approve ID`).",
    )
    run.add_argument("--date", type=iso_date, help="as-of date (default: the latest price date)")
    run.add_argument("--json", action="store_true", help="print the result as JSON")
    run.set_defaults(handler=run_command)

    backtest = commands.add_parser(
        "backtest",
        help="walk-forward backtest of the strategy with other parameters (nothing stored)",
    )
    backtest.add_argument("--end", type=iso_date, help="last day (default: latest price date)")
    backtest.add_argument("--start", type=iso_date, help="first day (default: 5 years before)")
    backtest.add_argument("--rebalance", choices=REBALANCE_FREQUENCIES)
    backtest.add_argument("--method", choices=STRATEGY_METHODS)
    backtest.add_argument("--positions", type=int)
    backtest.add_argument(
        "--stop-loss",
        type=_stop_loss,
        default=argparse.SUPPRESS,
        help="fraction, e.g. 0.12, or none (default: 0.12)",
    )
    backtest.add_argument("--cost-bps", type=float)
    backtest.add_argument("--json", action="store_true", help="print the result as JSON")
    backtest.set_defaults(handler=backtest_command)

    plan = commands.add_parser(
        "plan",
        help="redo the trade plan of the latest target (optionally deploying a cash amount)",
    )
    plan.add_argument("--date", type=iso_date, help="as-of date of the target (default: latest)")
    plan.add_argument(
        "--deploy-cash",
        type=_positive,
        help="size the book to the invested value plus this cash (default: net liquidation "
        "less the cash reserve, PORTFOLIO_CASH_RESERVE)",
    )
    plan.add_argument("--json", action="store_true", help="print the result as JSON")
    plan.set_defaults(handler=plan_command)


def _latest(database: AppDatabase | Database, sql: str, what: str) -> dt.date:
    value = database.read_frame(sql)["d"].iloc[0]
    if value is None:
        raise ValueError(f"no {what} yet")
    return dt.date.fromisoformat(str(value)[:10])


def _materialize_outcome(
    settings: Settings, day: dt.date, assets: list[str] | None = None
) -> dg.ExecuteInProcessResult:
    """Run the strategy job (or only ``assets`` of it) for ``day`` on the persistent
    instance, with progress lines."""
    from orchestration.cli.runs import execute_job, failure_summary, instance_for
    from orchestration.definitions import build_definitions

    label = ", ".join(assets) if assets else "the strategy group"
    progress(f"→ {label} for {day}")
    started = time.perf_counter()
    result = execute_job(
        build_definitions(settings),
        c.STRATEGY_JOB,
        instance_for(settings),
        partition_key=day.isoformat(),
        assets=assets,
    )
    status = "succeeded" if result.success else f"FAILED ({failure_summary(result)})"
    progress(f"  run {result.run_id} {status} in {time.perf_counter() - started:.1f} s")
    return result


def _materialize(settings: Settings, day: dt.date, assets: list[str] | None) -> None:
    from orchestration.cli.runs import RunFailed, run_failure

    result = _materialize_outcome(settings, day, assets)
    if not result.success:
        raise RunFailed(run_failure(result))


def _preview(settings: Settings, plan_id: int) -> dict[str, object]:
    from orchestration.cli.runs import instance_for, run_sensor_once
    from orchestration.definitions import build_definitions

    progress(f"→ sensor {c.TRADE_PLAN_SENSOR}: preview trade plan {plan_id}")
    launches = run_sensor_once(
        build_definitions(settings), instance_for(settings), c.TRADE_PLAN_SENSOR
    )
    groups = AppDatabase(settings.database_url).read_frame(
        "SELECT id, status FROM basket_trade_groups WHERE trade_plan_id = :p ORDER BY id",
        {"p": plan_id},
    )
    failed = [launch.error for launch in launches if launch.result is not None and launch.error]
    return {
        "group_ids": [int(g) for g in groups["id"]],
        "status": groups["status"].tolist(),
        "errors": failed,
    }


def plan_summary(settings: Settings, plan_id: int) -> dict[str, object]:
    """A stored plan as a JSON-ready summary (trades, totals, transition, cleanup)."""
    from orchestration.defs.strategy.store import read_plan

    database = AppDatabase(settings.database_url)
    with database.engine.connect() as connection:
        plan = read_plan(connection, plan_id)
    return {
        "trade_plan_id": plan.id,
        "as_of": plan.as_of.isoformat(),
        "plan_hash": plan.plan_hash,
        "buys_total": plan.buys_total,
        "sells_total": plan.sells_total,
        "cash_after": plan.cash_after,
        "cash_reserve": plan.cash_reserve,
        "deploy_cash": plan.deploy_cash,
        "transition": plan.transition,
        "cleanup": plan.cleanup,
        "trades": plan.trades.to_dict(orient="records"),
    }


def _print_plan(summary: dict[str, object], preview: dict[str, object]) -> None:
    print(f"\nTrade plan {summary['trade_plan_id']} (as of {summary['as_of']})")
    print_table(summary["trades"], floatfmt=",.2f")
    transition = summary["transition"]
    print_pairs(
        [
            ("sells", f"{summary['sells_total']:,.2f}"),
            ("buys", f"{summary['buys_total']:,.2f}"),
            ("cash after", f"{summary['cash_after']:,.2f}"),
            ("retained", ", ".join(transition["retained"]) or "none"),
            ("exiting", ", ".join(transition["exiting"]) or "none"),
            ("entering", ", ".join(transition["entering"]) or "none"),
        ]
    )
    if preview["group_ids"]:
        group = preview["group_ids"][-1]
        print(f"\nPreviewed as trade group {group}: `portfolio trade approve {group}` executes it.")


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """The strategy group for one day, then the plan's preview group."""
    database = AppDatabase(settings.database_url)
    day = args.date or _latest(database, "SELECT MAX(date) AS d FROM prices", "prices")
    _materialize(settings, day, None)
    targets = database.read_frame(
        "SELECT symbol, weight, combined, category FROM target_weights WHERE as_of = :d "
        "ORDER BY weight DESC, symbol",
        {"d": day},
    )
    with database.engine.connect() as connection:
        metrics = connection.execute(
            select(BACKTESTS.c.metrics).where(BACKTESTS.c.as_of == day)
        ).scalar_one()
    plan_id = _latest_plan_id(database, day)
    summary = plan_summary(settings, plan_id)
    preview = _preview(settings, plan_id)
    if args.json:
        print_json(
            {
                "as_of": day.isoformat(),
                "target": targets.to_dict(orient="records"),
                "backtest": metrics,
                "plan": summary,
                "preview": preview,
            }
        )
        return 0
    print(f"\nTarget portfolio (as of {day})")
    print_table(targets, floatfmt=".4f")
    print("\nBacktest")
    print_pairs([(name, f"{value:.4g}") for name, value in metrics.items()])
    _print_plan(summary, preview)
    return 0


def _latest_plan_id(database: AppDatabase, day: dt.date) -> int:
    frame = database.read_frame(
        "SELECT MAX(id) AS id FROM trade_plans WHERE as_of = :d", {"d": day}
    )
    value = frame["id"].iloc[0]
    if value is None:
        raise ValueError(f"no trade plan for {day}")
    return int(value)


def plan_command(args: argparse.Namespace, settings: Settings) -> int:
    """Only the trade plan of a day's target (with ``--deploy-cash``, sized that way)."""
    database = AppDatabase(settings.database_url)
    day = args.date or _latest(
        database, "SELECT MAX(as_of) AS d FROM target_weights", "target portfolio"
    )
    if args.deploy_cash is not None:
        settings = settings.with_overrides(
            strategy=dataclasses.replace(settings.strategy, deploy_cash=args.deploy_cash)
        )
    _materialize(settings, day, [c.TRADE_PLAN_ASSET])
    plan_id = _latest_plan_id(database, day)
    summary = plan_summary(settings, plan_id)
    preview = _preview(settings, plan_id)
    if args.json:
        print_json({**summary, "preview": preview})
    else:
        _print_plan(summary, preview)
    return 0


def backtest_command(args: argparse.Namespace, settings: Settings) -> int:
    """The walk-forward backtest with the given parameters; nothing is stored."""
    from orchestration.defs.strategy.backtests import strategy_backtest
    from orchestration.resources.database import Database
    from orchestration.resources.panels import ReturnsPanels
    from orchestration.resources.strategy import strategy_model

    database = Database(url=settings.database_url)
    end = args.end or _latest(database, "SELECT MAX(date) AS d FROM prices", "prices")
    if args.start is not None and args.start >= end:
        raise ValueError(f"--start {args.start} must be before --end {end}")
    changes = {
        "rebalance": args.rebalance,
        "method": args.method,
        "positions": args.positions,
        "cost_bps": args.cost_bps,
    }
    model = strategy_model(settings).model_copy(
        update={k: v for k, v in changes.items() if v is not None}
    )
    if hasattr(args, "stop_loss"):
        model = model.model_copy(update={"stop_loss": args.stop_loss})
    progress(f"→ walk-forward backtest to {end} ({model.rebalance}, {model.method})")
    started = time.perf_counter()
    backtest = strategy_backtest(database, ReturnsPanels(database=database), model, end, args.start)
    progress(f"  done in {time.perf_counter() - started:.1f} s")
    result = backtest.result
    stops = result.stop_loss_events.assign(date=lambda f: f["date"].astype(str))
    payload = {
        "start": result.equity.index[0].date().isoformat(),
        "end": result.equity.index[-1].date().isoformat(),
        "benchmark": backtest.benchmark,
        "metrics": {k: float(v) for k, v in result.metrics.items()},
        "stop_loss_events": stops.to_dict(orient="records"),
    }
    if args.json:
        print_json(payload)
        return 0
    print(f"\nBacktest {payload['start']} … {payload['end']}")
    print_pairs([(name, f"{value:.4g}") for name, value in payload["metrics"].items()])
    print("\nStop-loss events")
    print_table(stops)
    return 0


def demo_strategy(settings: Settings, day: dt.date) -> dict[str, object]:
    """The demo's strategy step: the strategy group for ``day``, then its plan previewed (not
    executed) by the trade_plan_sensor. Skipped, with the reason, when the stored history is
    shorter than the universe's minimum history."""
    from orchestration.cli.runs import failure_summary
    from orchestration.resources.strategy import strategy_model

    database = AppDatabase(settings.database_url)
    model = strategy_model(settings)
    sessions = int(
        database.read_frame(
            "SELECT COUNT(DISTINCT date) AS n FROM prices WHERE date <= :d", {"d": day}
        )["n"].iloc[0]
    )
    if sessions <= model.min_history_days:
        return {
            "skipped": f"the history holds {sessions} price dates; the strategy universe needs "
            f"more than {model.min_history_days}"
        }
    started = time.perf_counter()
    result = _materialize_outcome(settings, day)
    if not result.success:
        return {"success": False, "error": failure_summary(result)}
    plan_id = _latest_plan_id(database, day)
    preview = _preview(settings, plan_id)
    summary = plan_summary(settings, plan_id)
    return {
        "success": not preview["errors"],
        "run_id": result.run_id,
        "seconds": round(time.perf_counter() - started, 1),
        "trade_plan_id": plan_id,
        "trades": len(summary["trades"]),
        "preview_group_ids": preview["group_ids"],
        "errors": preview["errors"],
    }
