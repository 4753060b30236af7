"""``portfolio trade preview|approve|cancel|status|list|execute`` and
``portfolio trading halt|resume|status|rebaseline``: basket trading from the command line.

``trade execute`` runs the ``execute_basket_trade`` job in this process on the persistent
Dagster instance (so it shows in the UI and needs no daemon); the other commands call the
execution engine directly. Broker failures print one line and exit 3.
"""

from __future__ import annotations

import argparse
import functools
import signal
import sys
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd

from orchestration import constants as c
from orchestration.cli.broker import broker_connection
from orchestration.cli.database import AppDatabase
from orchestration.cli.output import print_json, print_pairs, print_table, progress
from orchestration.clock import utc_now
from orchestration.defs.baskets import store as basket_store
from orchestration.execution.approve import approve_basket_trade
from orchestration.execution.cancel import cancel_basket_trade
from orchestration.execution.execute import ExecutionReport, execute_basket_trade
from orchestration.execution.halts import HaltState, current_halt, halt_trading, resume_trading
from orchestration.execution.preview import (
    WOULD_BE_REFUSED,
    preview_basket_trade,
    reference_price,
)
from orchestration.execution.reconcile import (
    latest_reconciliation,
    reconcile_positions,
    take_baseline,
)
from orchestration.execution.records import GROUPS, GroupStatus, LegStatus, TradeGroup, read_group
from orchestration.resources.broker import BrokerError
from orchestration.settings import Settings
from orchestration.storage.models import TradeApprovalRequest

if TYPE_CHECKING:
    import dagster as dg

APPROVAL_REQUESTS = TradeApprovalRequest.__table__
BROKER_ERROR_EXIT = 3
Handler = Callable[[argparse.Namespace, Settings], int]


def _broker_errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    def wrapped(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return handler(args, settings)
        except BrokerError as exc:
            print(f"portfolio {args.command}: broker error: {exc}", file=sys.stderr)
            return BROKER_ERROR_EXIT

    return wrapped


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def _amount(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--value {text!r} is not a number") from None


PREVIEW_DESCRIPTION = """\
Whole-share legs at the broker's reference price (last trade, else bid/ask midpoint), sells
before buys, each previewed what-if at the broker:
  buy        allocates VALUE by the basket's weights: floor(weight x VALUE / price) shares
  sell       reduces the basket's CURRENT holdings proportionally to those holdings (not to
             the weights): floor(held x VALUE / market value) shares of each; a basket held
             60/40 by value but weighted 26/74 is still sold 60/40; VALUE over the holdings'
             market value sells everything
  rebalance  moves the holdings to floor(weight x VALUE / price) shares each
Leftover cash uses the what-if estimated costs (slippage and commissions included): buy and
rebalance, VALUE minus the target holdings at the reference prices minus the estimated
slippage and commissions (a buy or rebalance never costs more than VALUE: when it would, the
legs are sized again for less and a warning says so); sell, VALUE minus the estimated net
proceeds. Every leg is checked like the executor checks it (per-order, per-group and
net-liquidation limits; buys after sells covered by the account's cash): a refused leg says
"would be refused by ..." and the executor checks it again before placing it; a group whose
every leg is refused is failed (exit 1)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``portfolio trade …`` and ``portfolio trading …`` to the parser."""
    trade = subparsers.add_parser("trade", help="preview, approve, execute and cancel trades")
    commands = trade.add_subparsers(dest="trade_command", required=True, metavar="ACTION")

    def add(group, name: str, help_text: str, handler: Handler) -> argparse.ArgumentParser:
        parser = group.add_parser(name, help=help_text)
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.set_defaults(handler=_broker_errors(handler))
        return parser

    preview = add(commands, "preview", "preview a basket trade (what-if per leg)", preview_command)
    preview.description = PREVIEW_DESCRIPTION
    preview.formatter_class = argparse.RawDescriptionHelpFormatter
    preview.add_argument("basket")
    preview.add_argument("--action", required=True, choices=["buy", "sell", "rebalance"])
    preview.add_argument(
        "--value",
        required=True,
        type=_amount,
        help="cash value, e.g. 10000: finite, > 0; a buy or sell at most "
        "PORTFOLIO_MAX_GROUP_NOTIONAL and the allowed fraction of net liquidation, a "
        "rebalance at most the net liquidation value",
    )

    for name, help_text, handler in (
        ("approve", "approve a previewed group", approve_command),
        ("cancel", "cancel a group's pending and open legs", cancel_command),
        ("status", "a group with its legs", status_command),
    ):
        add(commands, name, help_text, handler).add_argument("id", type=_positive_int)

    add(commands, "list", "recent trade groups", list_command).add_argument(
        "--limit", type=_positive_int, default=20, help="how many groups (newest first)"
    )

    execute = add(
        commands, "execute", "execute an approved group now (in this process)", execute_command
    )
    execute.add_argument("id", type=_positive_int)
    execute.add_argument(
        "--dry-run",
        action="store_true",
        help="re-preview the pending legs and check limits and cash like an execution, "
        "place nothing",
    )
    execute.add_argument(
        "--wait",
        type=float,
        default=None,
        help="seconds to wait for another execution's broker pool slot or lease on the group "
        "(default: the execution lease plus 5 s); then exit 3 naming the holder",
    )

    switch = subparsers.add_parser("trading", help="halt or resume trading; reconciliation")
    switches = switch.add_subparsers(dest="trading_command", required=True, metavar="ACTION")
    add(switches, "halt", "halt trading before the next leg", halt_command).add_argument(
        "--reason", help="why (shown to whoever resumes)"
    )
    add(switches, "resume", "resume trading", resume_command).add_argument("--reason")
    add(switches, "status", "halt switch and latest reconciliation", trading_status_command)
    add(
        switches,
        "rebaseline",
        "accept the broker's positions as the expected ones (resolves breaks)",
        rebaseline_command,
    ).add_argument("--reason", help="why the breaks are accepted")


def _database(settings: Settings) -> AppDatabase:
    return AppDatabase(settings.database_url)


def _owner(kind: str) -> str:
    return f"cli-{kind}-{uuid.uuid4().hex[:12]}"


def _text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` for a text table or JSON: missing values (an unfilled leg's average price)
    None, so they print blank (null in JSON), never ``nan``."""
    return frame.astype(object).where(frame.notna(), None)


def _legs_frame(group: TradeGroup) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "leg": leg.leg_no,
                "symbol": leg.symbol,
                "side": leg.side,
                "qty": leg.quantity,
                "est_price": leg.estimated_price,
                "est_cost": leg.estimated_cost,
                "status": leg.status.value,
                "filled": leg.filled_quantity,
                "avg_price": leg.average_fill_price,
                "reason": leg.status_reason or "",
            }
            for leg in group.legs
        ]
    )


def _leftover_basis(group: TradeGroup) -> str:
    """How the group's leftover cash was computed, in a few words."""
    if group.trade_plan_id is not None:
        return "(the account's cash after the accepted legs, at their estimated costs)"
    if group.action == "sell":
        return "(of the value, not raised by the estimated net proceeds)"
    return "(of the value, after the estimated slippage and commissions)"


def _print_group(group: TradeGroup) -> None:
    now = utc_now()
    status = group.status.value
    if group.status == GroupStatus.EXECUTING and not group.lease_live(now):
        status += " (no live executor: `portfolio trade execute ID` reconciles and resumes)"
    pairs: list[tuple[str, object]] = [
        ("group", group.id),
        ("basket", group.basket_name),
        ("action", f"{group.action} {group.requested_value:,.2f}"),
        ("status", status),
        ("broker", f"{group.broker} account {group.account}"),
        ("estimated cost", f"{group.estimated_cost:,.2f}"),
        ("leftover cash", f"{group.leftover_cash:,.2f} {_leftover_basis(group)}"),
    ]
    flagged = sum(
        leg.status == LegStatus.PENDING and (leg.status_reason or "").startswith(WOULD_BE_REFUSED)
        for leg in group.legs
    )
    if flagged:
        pairs.append(
            (
                "would be refused",
                f"{flagged} of {len(group.legs)} legs (see reasons; checked again before placing)",
            )
        )
    if group.legs:
        expires = min(leg.expires_at for leg in group.legs)
        pairs.append(("previews expire", f"{expires.isoformat(timespec='seconds')} UTC"))
    if group.note:
        pairs.append(("note", group.note))
    print_pairs(pairs)
    print()
    print_table(_text_frame(_legs_frame(group)), floatfmt=".2f")
    for title, lines in (("warnings", group.warnings), ("drift warnings", group.drift_warnings)):
        if lines:
            print(f"\n{title}:")
            for line in lines:
                print(f"  - {line}")


def preview_command(args: argparse.Namespace, settings: Settings) -> int:
    """Preview a basket trade and print its legs and group id."""
    database = _database(settings)
    with broker_connection(settings, readonly=True).session() as broker:
        group = preview_basket_trade(
            database,
            broker,
            args.basket,
            args.action,
            args.value,
            trading=settings.trading,
            source="cli",
        )
    if args.json:
        print_json(group.as_dict())
    else:
        _print_group(group)
    if group.status == GroupStatus.FAILED:
        print(
            f"portfolio {args.command}: error: group {group.id} failed: every leg was refused; "
            f"leg 1 {group.legs[0].symbol}: {group.legs[0].status_reason}",
            file=sys.stderr,
        )
        return 1
    if not args.json:
        print(f"\npreview group {group.id}: approve with `portfolio trade approve {group.id}`")
    return 0


def approve_command(args: argparse.Namespace, settings: Settings) -> int:
    """Approve a previewed group."""
    approval = approve_basket_trade(_database(settings), args.id, source="cli")
    if args.json:
        print_json(approval.as_dict())
    else:
        print(approval.message)
    return 0


def _print_report(report: ExecutionReport, as_json: bool) -> None:
    if as_json:
        print_json(report.as_dict())
        return
    print(report.message)
    print_table(_text_frame(pd.DataFrame(report.legs)), floatfmt=".2f")


def cancel_command(args: argparse.Namespace, settings: Settings) -> int:
    """Cancel a group as far as it can still be cancelled."""
    connection = broker_connection(settings, readonly=False)
    try:
        report = cancel_basket_trade(
            _database(settings),
            connection.get,
            args.id,
            trading=settings.trading,
            owner=_owner("cancel"),
        )
    finally:
        connection.close()
    _print_report(report, args.json)
    return 1 if report.needs_attention else 0


def next_step(group: TradeGroup, halt: HaltState) -> str | None:
    """What happens to ``group`` next, in one line (None once it is final)."""
    if group.status == GroupStatus.PREVIEW:
        return f"approve it with `portfolio trade approve {group.id}`"
    if group.status == GroupStatus.APPROVED and halt.halted:
        return (
            f"waits: {halt.describe()}; after `portfolio trading resume` the "
            "trade_approval_sensor launches its execution"
        )
    if group.status == GroupStatus.APPROVED:
        return (
            "the trade_approval_sensor launches its execution on its next tick (the daemon "
            f"runs with `make dev`), or `portfolio trade execute {group.id}` runs it now"
        )
    return None


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    """Print a group with its legs and what happens to it next."""
    database = _database(settings)
    group = read_group(database, args.id)
    step = next_step(group, current_halt(database))
    if args.json:
        print_json({**group.as_dict(), "next_step": step})
    else:
        _print_group(group)
        if step:
            print(f"\nnext: {step}")
    return 0


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    """The newest trade groups; ``approval_requested``: when an agent last asked a person to
    approve a group still in preview (``request_trade_approval`` on the MCP server)."""
    frame = _database(settings).read_frame(
        f"SELECT g.id, g.basket_name, g.action, g.requested_value, g.status, g.estimated_cost, "
        f"g.created_at, (SELECT MAX(r.requested_at) FROM {APPROVAL_REQUESTS.name} r "
        f"WHERE r.group_id = g.id AND g.status = 'preview') AS approval_requested "
        f"FROM {GROUPS.name} g ORDER BY g.id DESC LIMIT :n",
        {"n": args.limit},
    )
    frame = _text_frame(frame)
    if args.json:
        print_json(frame.to_dict(orient="records"))
    else:
        print_table(frame, floatfmt=".2f")
    return 0


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops an execution like Ctrl-C: the leg in flight is left to reconciliation."""
    raise KeyboardInterrupt


def execute_command(args: argparse.Namespace, settings: Settings) -> int:
    """Execute a group now: the execute job in this process (or a dry run without the job).

    It first waits (at most ``--wait`` seconds, default the execution lease plus 5 s) until no
    other executor holds the group or the broker pool, releasing the runs of dead processes;
    SIGINT and SIGTERM stop it, leaving the legs in flight to the next execution's
    reconciliation."""
    from orchestration.cli.runs import (
        execute_job,
        failure_summary,
        instance_for,
        process_tags,
        wait_for_broker_pool,
    )
    from orchestration.definitions import build_definitions

    database = _database(settings)
    if args.dry_run:
        connection = broker_connection(settings, readonly=True)
        try:
            report = execute_basket_trade(
                database,
                connection.get,
                args.id,
                trading=settings.trading,
                owner=_owner("dry-run"),
                dry_run=True,
            )
        finally:
            connection.close()
        _print_report(report, args.json)
        return 0
    read_group(database, args.id)
    instance = instance_for(settings)
    released = wait_for_broker_pool(
        instance,
        database,
        args.id,
        timeout=args.wait if args.wait is not None else settings.trading.lease_seconds + 5.0,
        clock=utc_now,
        report=progress,
    )
    for run_id in released:
        progress(f"· released the broker pool slot of dead run {run_id}")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        result = execute_job(
            build_definitions(settings),
            c.EXECUTE_BASKET_TRADE_JOB,
            instance,
            run_config={"ops": {"basket_trade_execution": {"config": {"group_id": args.id}}}},
            tags={c.TRADE_GROUP_TAG: str(args.id), **process_tags()},
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    outcome = _step_output(result)
    group = read_group(database, args.id)
    message = outcome.get("message") or ("" if result.success else failure_summary(result))
    if args.json:
        print_json(
            {
                "run_id": result.run_id,
                "success": result.success,
                "outcome": outcome.get("outcome", "failed"),
                "message": message,
                "released_runs": released,
                "group": group.as_dict(),
            }
        )
    else:
        print(f"run {result.run_id}: {message}")
        _print_group(group)
    return 0 if result.success else 1


def _step_output(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    """The execution op's outcome metadata (from its output or its failure)."""
    for event in result.all_events:
        data = event.event_specific_data
        metadata = getattr(data, "metadata", None)
        if metadata is None and event.is_step_failure and data.user_failure_data is not None:
            metadata = data.user_failure_data.metadata
        if metadata and "outcome" in metadata:
            return {key: value.value for key, value in metadata.items()}
    return {}


def _print_halt(state: HaltState, as_json: bool) -> None:
    if as_json:
        print_json(state.as_dict())
    else:
        print(state.describe())


def halt_command(args: argparse.Namespace, settings: Settings) -> int:
    """Halt trading (persistent; checked before every leg)."""
    _print_halt(halt_trading(_database(settings), args.reason), args.json)
    return 0


def resume_command(args: argparse.Namespace, settings: Settings) -> int:
    """Resume trading."""
    _print_halt(resume_trading(_database(settings), args.reason), args.json)
    return 0


def trading_status_command(args: argparse.Namespace, settings: Settings) -> int:
    """The halt switch and the newest reconciliation."""
    database = _database(settings)
    halt = current_halt(database)
    with database.engine.connect() as connection:
        latest = latest_reconciliation(connection)
    if args.json:
        print_json(
            {
                "halt": halt.as_dict(),
                "broker": settings.broker,
                "latest_reconciliation": latest.as_dict() if latest else None,
            }
        )
    else:
        print(halt.describe())
        print(latest.describe() if latest else "no broker reconciliation yet")
    return 0


def rebaseline_command(args: argparse.Namespace, settings: Settings) -> int:
    """Accept the broker's positions as the expected ones, then reconcile (passes)."""
    database = _database(settings)
    with broker_connection(settings, readonly=True).session() as broker:
        baseline = take_baseline(database, broker, reason=args.reason)
        result = reconcile_positions(database, broker, source="cli rebaseline")
    if args.json:
        print_json({"baseline_id": baseline, "reconciliation": result.as_dict()})
    else:
        print(f"baseline {baseline} taken from the {settings.broker} broker; {result.describe()}")
    return 0


DEMO_BASKET = "demo_basket"
DEMO_BASKET_SIZE = 5
DEMO_TRADE_VALUE = 10_000.0


def _demo_basket(database: AppDatabase) -> str:
    """The first basket, or a new equal-weight basket of the first five demo stocks."""
    baskets = basket_store.list_baskets(database)
    if baskets:
        return baskets[0].name
    stocks = database.read_frame(
        "SELECT symbol FROM instruments WHERE asset_type = 'stock' ORDER BY symbol LIMIT :n",
        {"n": DEMO_BASKET_SIZE},
    )["symbol"].tolist()
    basket_store.create_basket(
        database,
        DEMO_BASKET,
        stocks,
        method="equal",
        description="Demo: equal weights of five simulated stocks",
    )
    return DEMO_BASKET


def _execute_through_sensor(settings: Settings, database: AppDatabase, group_id: int) -> list:
    """Approve the demo's group ``group_id`` and let the approval sensor (evaluated once here,
    its run executed in-process) execute it; the sensor's launches."""
    from orchestration.cli.runs import instance_for, run_sensor_once
    from orchestration.definitions import build_definitions

    approval = approve_basket_trade(database, group_id, source="demo")
    progress(f"  {approval.message}; evaluating {c.TRADE_APPROVAL_SENSOR} once")
    return run_sensor_once(
        build_definitions(settings), instance_for(settings), c.TRADE_APPROVAL_SENSOR
    )


def demo_basket_trade(settings: Settings) -> dict[str, object]:
    """The demo's trading step: preview a basket buy on the paper broker, approve it, and
    execute it through the approval sensor (evaluated once here, its run executed in-process).
    Skipped unless the broker is the paper broker: a demo never trades a real account."""
    if settings.broker != "paper":
        return {"skipped": f"PORTFOLIO_BROKER={settings.broker}: the demo trades on paper only"}
    started = time.perf_counter()
    database = _database(settings)
    basket = _demo_basket(database)
    progress(f"→ basket trade: preview a buy of {basket} for {DEMO_TRADE_VALUE:,.0f} (paper)")
    with broker_connection(settings, readonly=True).session() as broker:
        group = preview_basket_trade(
            database,
            broker,
            basket,
            "buy",
            DEMO_TRADE_VALUE,
            trading=settings.trading,
            source="demo",
        )
    launches = _execute_through_sensor(settings, database, group.id)
    group = read_group(database, group.id)
    seconds = time.perf_counter() - started
    filled = sum(leg.status.value == "filled" for leg in group.legs)
    progress(
        f"  group {group.id} {group.status.value}: {filled}/{len(group.legs)} legs filled "
        f"({len(launches)} run(s) from the sensor) in {seconds:.1f} s"
    )
    bought = group.status.value == "completed" and all(launch.success for launch in launches)
    round_trip = (
        demo_round_trip(settings, group) if bought else {"skipped": "the basket buy failed"}
    )
    return {
        "group_id": group.id,
        "basket": basket,
        "status": group.status.value,
        "legs": len(group.legs),
        "filled_legs": filled,
        "runs": [launch.run_id for launch in launches],
        "success": bought and round_trip.get("success", False),
        "seconds": round(seconds, 1),
        "round_trip": round_trip,
    }


DEMO_ROUND_TRIP_BASKET = "Demo round trip"


def demo_round_trip(settings: Settings, bought: TradeGroup) -> dict[str, object]:
    """The demo's second trade: sell half of one position the basket buy opened (preferably a
    symbol the portfolio did not hold before), through the same preview → approve → sensor →
    execute path, so the trade-performance assets have a realized round trip.

    The sell goes through a one-symbol basket ``Demo round trip``, deleted again afterwards
    (the trade group keeps its name). A basket sell of value
    V sells floor(V / p) shares whatever else is held, so V = (floor(q / 2) + 1/2) * p sells
    exactly half (rounded down) of the q shares bought, never more than the buy opened."""
    started = time.perf_counter()
    database = _database(settings)
    held = set(database.read_frame("SELECT DISTINCT symbol FROM portfolio_positions")["symbol"])
    legs = [leg for leg in bought.legs if leg.status.value == "filled" and leg.filled_quantity >= 2]
    if not legs:
        return {"skipped": "no leg of the basket buy filled two shares or more", "success": True}
    fresh = [leg for leg in legs if leg.symbol not in held] or legs
    leg = max(fresh, key=lambda item: (item.filled_quantity, item.symbol))
    if DEMO_ROUND_TRIP_BASKET in {b.name for b in basket_store.list_baskets(database)}:
        basket_store.delete_basket(database, DEMO_ROUND_TRIP_BASKET)
    basket_store.create_basket(
        database,
        DEMO_ROUND_TRIP_BASKET,
        [leg.symbol],
        method="equal",
        description="Demo: one position the demo basket buy opened, sold in part",
    )
    shares = int(leg.filled_quantity) // 2
    try:
        with broker_connection(settings, readonly=True).session() as broker:
            price = reference_price(broker.quotes([leg.symbol])[leg.symbol])
            value = (shares + 0.5) * price
            progress(f"→ round trip: preview a sell of {shares} {leg.symbol} (paper)")
            group = preview_basket_trade(
                database,
                broker,
                DEMO_ROUND_TRIP_BASKET,
                "sell",
                value,
                trading=settings.trading,
                source="demo",
            )
        launches = _execute_through_sensor(settings, database, group.id)
    finally:
        # the one-symbol basket only carried the sale; the trade group keeps its name
        basket_store.delete_basket(database, DEMO_ROUND_TRIP_BASKET)
    group = read_group(database, group.id)
    seconds = time.perf_counter() - started
    progress(f"  group {group.id} {group.status.value} in {seconds:.1f} s")
    return {
        "group_id": group.id,
        "symbol": leg.symbol,
        "bought": leg.filled_quantity,
        "sold": sum(item.filled_quantity for item in group.legs),
        "status": group.status.value,
        "runs": [launch.run_id for launch in launches],
        "success": group.status.value == "completed" and all(x.success for x in launches),
        "seconds": round(seconds, 1),
    }
