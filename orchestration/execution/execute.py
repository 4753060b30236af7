"""Execute an approved basket trade: every leg placed at most once, every outcome recorded.

Protocol (DESIGN.md section 5):

1. A group already executing under a live lease, or finished, is reported and left alone.
   Trading halted → refused. Otherwise the executor claims the group with one compare-and-set
   (approved → executing, or a takeover of an executing group whose lease expired) and holds a
   lease it renews before every broker call that can change an order.
2. Before it places anything it reconciles every leg in ``submitting``/``submitted`` with the
   broker by order reference: what the broker has is adopted (status, fills); only a
   ``submitting`` leg the broker provably never received goes back to ``pending``; orders still
   open are waited for. Then it compares the broker's positions with our ledger (baseline plus
   recorded fills) and refuses to go on when they break; it compares them again once the
   group is final, so the newest reconciliation always reflects the latest fills.
3. Legs run one at a time in leg order: halt check, limits (the leg fails with the limit
   named), re-preview of an expired preview (drift over 1 % is recorded), then
   pending → submitting (with the ``broker_orders`` intent row) → ``place`` → submitted → wait
   for a terminal state (cancel after the order timeout) → filled | partially_filled | failed |
   cancelled. A failed leg does not stop the others.
4. The group ends completed, partial, failed or cancelled. Any doubt (a disconnect, an answer
   that contradicts our records) stops the execution, leaves the leg where the next
   reconciliation resolves it and the group ``executing`` with its lease released.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select, update

from analytics_lib.execution import cost_drift, leg_cost
from analytics_lib.trade_plan import LiveBook, state_drift
from orchestration.clock import utc_now
from orchestration.execution.book import live_book
from orchestration.execution.halts import halt_state
from orchestration.execution.limits import LegCheck, leg_verdicts
from orchestration.execution.reconcile import (
    USER_CANCEL_REASON,
    LegInDoubt,
    check_order_matches,
    fills_for,
    leg_outcome,
    reconcile_positions,
    record_fills,
    record_order_state,
)
from orchestration.execution.records import (
    GROUPS,
    LEGS,
    ORDERS,
    GroupStatus,
    LegStatus,
    TradeGroup,
    TradeLeg,
    final_group_status,
    load_group,
    set_group_status,
    set_leg_status,
)
from orchestration.resources.broker import (
    AccountSummary,
    Broker,
    BrokerDisconnected,
    BrokerError,
    OrderRequest,
    OrderSide,
    OrderState,
)
from orchestration.settings import TradingSettings

if TYPE_CHECKING:
    from orchestration.resources.database import Database

DRIFT_THRESHOLD = 0.01
COMMITTED = (
    LegStatus.SUBMITTING,
    LegStatus.SUBMITTED,
    LegStatus.FILLED,
    LegStatus.PARTIALLY_FILLED,
)

FINISHED = "finished"
ALREADY_FINISHED = "already_finished"
ALREADY_EXECUTING = "already_executing"
NOT_APPROVED = "not_approved"
REFUSED = "refused"
INTERRUPTED = "interrupted"
LEASE_LOST = "lease_lost"
DRY_RUN = "dry_run"
NEEDS_ATTENTION = frozenset({NOT_APPROVED, REFUSED, INTERRUPTED, LEASE_LOST})


class LeaseLost(RuntimeError):
    """Another executor took the group over: this one must stop without writing."""


@dataclass(frozen=True)
class ExecutionReport:
    """What one execution attempt did and the group's state afterwards."""

    group_id: int
    outcome: str
    status: str
    message: str
    legs: list[dict[str, object]] = field(default_factory=list)
    drift_warnings: list[str] = field(default_factory=list)
    placed: int = 0

    @property
    def needs_attention(self) -> bool:
        """True when a person has to act (refused, interrupted, lost the lease, not approved)."""
        return self.outcome in NEEDS_ATTENTION

    def as_dict(self) -> dict[str, object]:
        """JSON-ready representation."""
        return {
            "group_id": self.group_id,
            "outcome": self.outcome,
            "status": self.status,
            "message": self.message,
            "placed": self.placed,
            "drift_warnings": self.drift_warnings,
            "legs": self.legs,
        }


def leg_rows(group: TradeGroup) -> list[dict[str, object]]:
    """One summary row per leg: status, fills and the reason of failures."""
    return [
        {
            "leg": leg.leg_no,
            "symbol": leg.symbol,
            "side": leg.side,
            "quantity": leg.quantity,
            "status": leg.status.value,
            "filled": leg.filled_quantity,
            "average_price": leg.average_fill_price,
            "order_ref": leg.order_ref,
            "reason": leg.status_reason,
            "drift_warning": leg.drift_warning,
        }
        for leg in group.legs
    ]


class BasketTradeExecution:
    """One execution attempt of one group by one owner (see the module docstring)."""

    def __init__(
        self,
        database: Database,
        broker: Callable[[], Broker],
        group_id: int,
        *,
        trading: TradingSettings,
        owner: str,
        clock: Callable[[], dt.datetime] = utc_now,
        log: logging.Logger | None = None,
    ) -> None:
        self.database = database
        self._broker_factory = broker
        self._broker: Broker | None = None
        self.group_id = group_id
        self.trading = trading
        self.owner = owner
        self.clock = clock
        self.log = log or logging.getLogger(__name__)
        self.placed = 0
        self.account = ""
        self.cancelling = False
        self.renewed_at = -math.inf
        self.wait_slice = max(0.05, min(1.0, trading.lease_seconds / 4.0))

    @property
    def broker(self) -> Broker:
        if self._broker is None:
            self._broker = self._broker_factory()
        return self._broker

    # ---- reading and reporting ----

    def _group(self) -> TradeGroup:
        with self.database.engine.connect() as connection:
            return load_group(connection, self.group_id)

    def _report(self, outcome: str, message: str) -> ExecutionReport:
        group = self._group()
        self.log.info("group %s: %s (%s)", group.id, message, group.status.value)
        return ExecutionReport(
            group_id=group.id,
            outcome=outcome,
            status=group.status.value,
            message=message,
            legs=leg_rows(group),
            drift_warnings=list(group.drift_warnings),
            placed=self.placed,
        )

    def _precheck(self, group: TradeGroup, *, cancelling: bool) -> ExecutionReport | None:
        """Report instead of executing when the group is not ours to execute."""
        self.account = group.account
        if group.status.final:
            return self._report(ALREADY_FINISHED, f"group {group.id} already {group.status}")
        if group.status == GroupStatus.PREVIEW:
            return self._report(NOT_APPROVED, f"group {group.id} is not approved yet")
        if group.lease_live(self.clock()) and group.owner != self.owner:
            return self._report(
                ALREADY_EXECUTING,
                f"group {group.id} is being executed by {group.owner} (lease until "
                f"{group.lease_expires_at:%H:%M:%S} UTC)",
            )
        if group.broker != self.broker.name:
            return self._report(
                REFUSED,
                f"group {group.id} was previewed with the {group.broker} broker, but the "
                f"configured broker is {self.broker.name} (PORTFOLIO_BROKER)",
            )
        if not cancelling:
            with self.database.engine.connect() as connection:
                halt = halt_state(connection)
            if halt.halted:
                return self._report(REFUSED, halt.describe())
        return None

    # ---- the lease ----

    def _claim(self) -> bool:
        now = self.clock()
        self.renewed_at = time.monotonic()
        with self.database.transaction() as connection:
            return set_group_status(
                connection,
                self.group_id,
                [GroupStatus.APPROVED, GroupStatus.EXECUTING],
                GroupStatus.EXECUTING,
                (GROUPS.c.status == GroupStatus.APPROVED.value)
                | GROUPS.c.lease_expires_at.is_(None)
                | (GROUPS.c.lease_expires_at < now)
                | (GROUPS.c.owner == self.owner),
                owner=self.owner,
                lease_expires_at=now + dt.timedelta(seconds=self.trading.lease_seconds),
                execution_attempts=GROUPS.c.execution_attempts + 1,
                started_at=func.coalesce(GROUPS.c.started_at, now),
                note=None,
                updated_at=now,
            )

    def _renew(self) -> None:
        """Extend the lease; :class:`LeaseLost` when another executor holds the group now."""
        now = self.clock()
        renewed_at = time.monotonic()
        with self.database.transaction() as connection:
            result = connection.execute(
                update(GROUPS)
                .where(
                    GROUPS.c.id == self.group_id,
                    GROUPS.c.owner == self.owner,
                    GROUPS.c.status == GroupStatus.EXECUTING.value,
                    GROUPS.c.lease_expires_at > now,
                )
                .values(
                    lease_expires_at=now + dt.timedelta(seconds=self.trading.lease_seconds),
                    updated_at=now,
                )
            )
        if result.rowcount != 1:
            raise LeaseLost(f"group {self.group_id}: the lease of {self.owner} was lost")
        self.renewed_at = renewed_at

    def _require_fresh_lease(self, leg: TradeLeg) -> None:
        """Refuse to place when more than half the lease has passed since it was renewed.

        Another executor may take the group over once the lease has expired, and would then
        find this leg ``submitting`` with no order at the broker and place it itself. Placing
        only within half a lease of the renewal keeps the two from ever overlapping (given
        clocks that agree within half a lease); the leg stays ``submitting`` for the next
        reconciliation to resolve.
        """
        elapsed = time.monotonic() - self.renewed_at
        if elapsed > self.trading.lease_seconds / 2:
            raise LeaseLost(
                f"group {self.group_id}: {elapsed:.1f} s since the lease was renewed, too long "
                f"to place leg {leg.leg_no} safely; it is left for reconciliation"
            )

    def _release(self, note: str, *, back_to_approved: bool = False) -> None:
        """Give the group up (lease expired now) with a note; nothing else changes."""
        now = self.clock()
        with self.database.transaction() as connection:
            if back_to_approved and set_group_status(
                connection,
                self.group_id,
                [GroupStatus.EXECUTING],
                GroupStatus.APPROVED,
                GROUPS.c.owner == self.owner,
                owner=None,
                lease_expires_at=None,
                note=note,
                updated_at=now,
            ):
                return
            connection.execute(
                update(GROUPS)
                .where(GROUPS.c.id == self.group_id, GROUPS.c.owner == self.owner)
                .values(lease_expires_at=now, note=note, updated_at=now)
            )

    # ---- legs ----

    def _leg(self, leg_no: int) -> TradeLeg:
        with self.database.engine.connect() as connection:
            row = connection.execute(
                select(LEGS).where(LEGS.c.group_id == self.group_id, LEGS.c.leg_no == leg_no)
            ).one()
        return TradeLeg.from_row(row)

    def _adopt(self, leg: TradeLeg, state: OrderState) -> None:
        """Take over the broker's state of the leg's order (and settle it when terminal)."""
        check_order_matches(leg, state)
        if state.status.terminal:
            self._settle(leg, state)
            return
        with self.database.transaction() as connection:
            record_order_state(connection, leg.order_ref, state)
            if leg.status == LegStatus.SUBMITTING:
                set_leg_status(
                    connection,
                    leg.id,
                    LegStatus.SUBMITTING,
                    LegStatus.SUBMITTED,
                    updated_at=self.clock(),
                )

    def _settle(self, leg: TradeLeg, state: OrderState) -> None:
        """Record the fills and the final status of a leg whose order is terminal."""
        with self.database.engine.connect() as connection:
            sent_at = connection.execute(
                select(ORDERS.c.sent_at).where(ORDERS.c.order_ref == leg.order_ref)
            ).scalar_one_or_none()
        executions = fills_for(self.broker, leg.order_ref, sent_at)
        status, reason = leg_outcome(leg, state)
        commissions = [e.commission for e in executions]
        now = self.clock()
        with self.database.transaction() as connection:
            record_order_state(connection, leg.order_ref, state)
            record_fills(connection, self.broker.name, self.account, executions)
            set_leg_status(
                connection,
                leg.id,
                leg.status,
                status,
                filled_quantity=state.filled_quantity,
                average_fill_price=state.average_fill_price,
                commission=(
                    math.fsum(commissions) if executions and None not in commissions else None
                ),
                status_reason=reason,
                finished_at=now,
                updated_at=now,
            )
        self.log.info(
            "leg %s %s %s %s: %s%s",
            leg.leg_no,
            leg.side,
            leg.quantity,
            leg.symbol,
            status.value,
            f" ({reason})" if reason else "",
        )

    def _reconcile_legs(self) -> None:
        """Resolve every leg in doubt by asking the broker for its order reference."""
        for leg in self._group().legs:
            if not leg.status.in_doubt:
                continue
            self._renew()
            state = self.broker.order_status(leg.order_ref)
            if state is not None:
                self.log.info("leg %s: adopting the broker's order %s", leg.leg_no, leg.order_ref)
                self._adopt(leg, state)
                continue
            if leg.status == LegStatus.SUBMITTED:
                raise LegInDoubt(
                    f"leg {leg.leg_no}: the broker reports no order {leg.order_ref} although it "
                    "acknowledged it; left in doubt for a person to resolve"
                )
            now = self.clock()
            with self.database.transaction() as connection:
                set_leg_status(
                    connection,
                    leg.id,
                    LegStatus.SUBMITTING,
                    LegStatus.PENDING,
                    status_reason=f"the broker never received {leg.order_ref}; placed again",
                    updated_at=now,
                )
                connection.execute(
                    update(ORDERS)
                    .where(ORDERS.c.order_ref == leg.order_ref)
                    .values(status="not_received", updated_at=now)
                )
            self.log.info("leg %s: the broker never received %s", leg.leg_no, leg.order_ref)

    def _refresh_preview(self, leg: TradeLeg) -> TradeLeg:
        """Re-preview an expired leg; record a drift warning when its cost moved over 1 %."""
        now = self.clock()
        if not leg.expired(now):
            return leg
        preview = self.broker.preview(
            OrderRequest(leg.symbol, OrderSide(leg.side), leg.quantity, leg.order_ref)
        )
        cost = leg_cost(leg.side, preview.notional, preview.commission)
        drift = cost_drift(leg.original_estimated_cost, cost)
        warning = None
        if drift > DRIFT_THRESHOLD:
            warning = (
                f"leg {leg.leg_no} {leg.side} {leg.quantity} {leg.symbol}: estimated cost moved "
                f"{drift:.2%} on re-preview ({leg.original_estimated_cost:,.2f} → {cost:,.2f})"
            )
        expires = now + dt.timedelta(seconds=self.trading.preview_ttl_seconds)
        with self.database.transaction() as connection:
            connection.execute(
                update(LEGS)
                .where(LEGS.c.id == leg.id, LEGS.c.status == LegStatus.PENDING.value)
                .values(
                    estimated_price=preview.price,
                    estimated_notional=preview.notional,
                    estimated_commission=preview.commission,
                    estimated_cost=cost,
                    margin_change=preview.margin_change,
                    warnings=list(preview.warnings),
                    drift_warning=warning,
                    previewed_at=now,
                    expires_at=expires,
                    updated_at=now,
                )
            )
            if warning:
                drifts = connection.execute(
                    select(GROUPS.c.drift_warnings).where(GROUPS.c.id == self.group_id)
                ).scalar_one()
                connection.execute(
                    update(GROUPS)
                    .where(GROUPS.c.id == self.group_id, GROUPS.c.owner == self.owner)
                    .values(drift_warnings=[*(drifts or []), warning], updated_at=now)
                )
        if warning:
            self.log.warning(warning)
        return self._leg(leg.leg_no)

    def _fail(self, leg: TradeLeg, status: LegStatus, reason: str) -> None:
        now = self.clock()
        with self.database.transaction() as connection:
            set_leg_status(
                connection,
                leg.id,
                LegStatus.PENDING,
                status,
                status_reason=reason,
                finished_at=now,
                updated_at=now,
            )
        self.log.warning("leg %s %s: %s (%s)", leg.leg_no, leg.symbol, status.value, reason)

    def _submit(self, leg: TradeLeg) -> None:
        """pending → submitting (intent recorded) → place → submitted, then wait."""
        self._renew()
        now = self.clock()
        with self.database.transaction() as connection:
            if not set_leg_status(
                connection,
                leg.id,
                LegStatus.PENDING,
                LegStatus.SUBMITTING,
                submitted_at=now,
                status_reason=None,
                updated_at=now,
            ):
                return
            intent = {
                "broker": self.broker.name,
                "account": self.account,
                "symbol": leg.symbol,
                "side": leg.side,
                "quantity": leg.quantity,
                "order_type": "MKT",
                "status": "sending",
                "filled_quantity": 0.0,
                "sent_at": now,
                "updated_at": now,
            }
            updated = connection.execute(
                update(ORDERS).where(ORDERS.c.order_ref == leg.order_ref).values(**intent)
            )
            if updated.rowcount == 0:
                connection.execute(
                    insert(ORDERS).values(leg_id=leg.id, order_ref=leg.order_ref, **intent)
                )
        leg = self._leg(leg.leg_no)
        request = OrderRequest(leg.symbol, OrderSide(leg.side), leg.quantity, leg.order_ref)
        self._require_fresh_lease(leg)
        try:
            state = self.broker.place(request)
        except BrokerDisconnected:
            raise
        except BrokerError as exc:
            found = self.broker.order_status(leg.order_ref)
            if found is None:
                now = self.clock()
                with self.database.transaction() as connection:
                    set_leg_status(
                        connection,
                        leg.id,
                        LegStatus.SUBMITTING,
                        LegStatus.FAILED,
                        status_reason=f"the broker refused the order: {exc}",
                        finished_at=now,
                        updated_at=now,
                    )
                    connection.execute(
                        update(ORDERS)
                        .where(ORDERS.c.order_ref == leg.order_ref)
                        .values(status="refused", reason=str(exc), updated_at=now)
                    )
                self.log.warning("leg %s %s: refused (%s)", leg.leg_no, leg.symbol, exc)
                return
            state = found
        self.placed += 1
        self.log.info(
            "leg %s %s %s %s: placed %s",
            leg.leg_no,
            leg.side,
            leg.quantity,
            leg.symbol,
            leg.order_ref,
        )
        self._adopt(leg, state)
        leg = self._leg(leg.leg_no)
        if leg.status == LegStatus.SUBMITTED:
            self._await(leg)

    def _cancel_requested(self) -> bool:
        if self.cancelling:
            return True
        with self.database.engine.connect() as connection:
            requested = connection.execute(
                select(GROUPS.c.cancel_requested_at).where(GROUPS.c.id == self.group_id)
            ).scalar_one()
        return requested is not None

    def _await(self, leg: TradeLeg) -> None:
        """Wait for the leg's order to end; ask for a cancel after the order timeout."""
        timeout = self.trading.order_timeout_seconds
        deadline = time.monotonic() + timeout
        cancel_sent = False
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            state = self.broker.wait_for_terminal(leg.order_ref, min(self.wait_slice, remaining))
            if state.status.terminal:
                self._settle(self._leg(leg.leg_no), state)
                return
            with self.database.transaction() as connection:
                record_order_state(connection, leg.order_ref, state)
            self._renew()
            if not cancel_sent:
                user = self._cancel_requested()
                if user or time.monotonic() >= deadline:
                    reason = (
                        USER_CANCEL_REASON
                        if user
                        else f"not filled within {timeout:g} s (PORTFOLIO_ORDER_TIMEOUT_SECONDS); "
                        "cancel requested"
                    )
                    with self.database.transaction() as connection:
                        connection.execute(
                            update(LEGS)
                            .where(LEGS.c.id == leg.id)
                            .values(status_reason=reason, updated_at=self.clock())
                        )
                    self.log.warning("leg %s %s: %s", leg.leg_no, leg.symbol, reason)
                    self.broker.cancel(leg.order_ref)
                    cancel_sent = True
                    deadline = time.monotonic() + timeout
            elif time.monotonic() >= deadline:
                raise LegInDoubt(
                    f"leg {leg.leg_no}: order {leg.order_ref} is still {state.status.value} "
                    f"{timeout:g} s after the cancel request; left for reconciliation"
                )

    def _committed_notional(self) -> float:
        with self.database.engine.connect() as connection:
            notionals = connection.execute(
                select(LEGS.c.estimated_notional).where(
                    LEGS.c.group_id == self.group_id,
                    LEGS.c.status.in_([status.value for status in COMMITTED]),
                )
            ).scalars()
            return math.fsum(float(n) for n in notionals)

    def _halt_remaining(self, reason: str) -> None:
        for leg in self._group().legs:
            if leg.status == LegStatus.PENDING:
                self._fail(leg, LegStatus.CANCELLED, f"not placed: {reason}")

    def _plan_drift(self) -> list[str]:
        """What changed between the live book and the snapshot of the group's trade plan, while
        none of its legs was sent (after that our own fills move the book); empty otherwise.
        Short positions the plan left aside (not covered) are left out of the comparison."""
        group = self._group()
        if group.trade_plan_id is None or any(
            leg.status != LegStatus.PENDING for leg in group.legs
        ):
            return []
        # imported here: the strategy store pulls in Dagster, which basket trades never need
        from orchestration.defs.strategy.store import read_plan

        with self.database.engine.connect() as connection:
            plan = read_plan(connection, group.trade_plan_id)
        _, book = live_book(self.broker, plan.state.get("prices", {}).keys())
        aside = [] if plan.cleanup.get("shorts_covered") else plan.cleanup.get("short_positions")
        if aside:
            book = LiveBook(
                positions=book.positions.drop(index=aside, errors="ignore"),
                cash=book.cash,
                net_liquidation=book.net_liquidation,
                prices=book.prices,
            )
        return state_drift(plan.state, book, self.trading.plan_drift_tolerance)

    def _cash_moved(self, leg_no: int) -> float:
        """The cash a settled leg took (negative: a sell's proceeds), commission included."""
        leg = self._leg(leg_no)
        if leg.filled_quantity <= 0 or leg.average_fill_price is None:
            return 0.0
        notional = leg.filled_quantity * float(leg.average_fill_price)
        return leg_cost(leg.side, notional, leg.commission)

    def _run_legs(self, summary: AccountSummary | None) -> None:
        """Place the legs in order; before each one: cancel request, halt switch, limits and
        cash (:func:`leg_verdicts` with the account summary read when the execution started,
        moved by what this execution's legs have settled since)."""
        net_liquidation = summary.net_liquidation if summary is not None else math.inf
        cash = summary.cash if summary is not None else math.inf
        for leg_no in [leg.leg_no for leg in self._group().legs]:
            self._renew()
            leg = self._leg(leg_no)
            if leg.status.final:
                continue
            if leg.status == LegStatus.SUBMITTED:
                self._await(leg)
                continue
            if leg.status == LegStatus.SUBMITTING:
                raise LegInDoubt(f"leg {leg_no}: still submitting after reconciliation")
            if self._cancel_requested():
                self._fail(leg, LegStatus.CANCELLED, USER_CANCEL_REASON)
                continue
            with self.database.engine.connect() as connection:
                halt = halt_state(connection)
            if halt.halted:
                self._halt_remaining(halt.describe())
                return
            leg = self._refresh_preview(leg)
            [verdict] = leg_verdicts(
                [LegCheck(leg.side, leg.estimated_notional, leg.estimated_cost)],
                committed=self._committed_notional(),
                net_liquidation=net_liquidation,
                cash=cash,
                limits=self.trading,
            )
            if verdict:
                self._fail(leg, LegStatus.FAILED, f"refused by {verdict}")
                continue
            self._submit(leg)
            cash -= self._cash_moved(leg_no)

    def _finish(self) -> ExecutionReport:
        group = self._group()
        unresolved = [leg.leg_no for leg in group.legs if not leg.status.final]
        if unresolved:
            note = f"legs {unresolved} unresolved; `portfolio trade execute {group.id}` resumes"
            self._release(note)
            return self._report(INTERRUPTED, note)
        status = final_group_status(group.legs)
        filled = sum(leg.status == LegStatus.FILLED for leg in group.legs)
        note = f"{filled} of {len(group.legs)} legs filled"
        now = self.clock()
        with self.database.transaction() as connection:
            finished = set_group_status(
                connection,
                self.group_id,
                [GroupStatus.EXECUTING],
                status,
                GROUPS.c.owner == self.owner,
                lease_expires_at=None,
                finished_at=now,
                note=note,
                updated_at=now,
            )
        if not finished:
            raise LeaseLost(f"group {self.group_id}: lost the group before finishing it")
        return self._report(FINISHED, f"group {self.group_id} {status.value}: {note}")

    # ---- entry points ----

    def run(self, *, cancelling: bool = False) -> ExecutionReport:
        """Execute the group (or, with ``cancelling``, only settle what is in flight)."""
        self.cancelling = cancelling
        report = self._precheck(self._group(), cancelling=cancelling)
        if report is not None:
            return report
        if not self._claim():
            group = self._group()
            return self._precheck(group, cancelling=cancelling) or self._report(
                ALREADY_EXECUTING, f"group {group.id} was claimed by {group.owner}"
            )
        self.log.info("group %s: claimed by %s", self.group_id, self.owner)
        try:
            self._reconcile_legs()
            for leg in self._group().legs:
                if leg.status == LegStatus.SUBMITTED:
                    self._await(leg)
            summary = None
            if not cancelling:
                check = reconcile_positions(
                    self.database,
                    self.broker,
                    source=f"execution of group {self.group_id}",
                    clock=self.clock,
                )
                if not check.passed:
                    untouched = all(leg.status == LegStatus.PENDING for leg in self._group().legs)
                    self._release(check.describe(), back_to_approved=untouched)
                    return self._report(REFUSED, check.describe())
                summary = self.broker.account_summary()
                drift = self._plan_drift()
                if drift:
                    message = (
                        f"trade plan {self._group().trade_plan_id}: the live book drifted from "
                        f"the plan's snapshot, so none of its orders is placed "
                        f"({'; '.join(drift)}); re-run trade_plan for a new plan"
                    )
                    for leg in self._group().legs:
                        self._fail(leg, LegStatus.FAILED, "refused: the book drifted from the plan")
                    self._finish()
                    return self._report(REFUSED, message)
            self._run_legs(summary)
            report = self._finish()
        except LeaseLost as exc:
            return self._report(LEASE_LOST, str(exc))
        except (BrokerError, LegInDoubt) as exc:
            kind = "broker connection lost" if isinstance(exc, BrokerDisconnected) else "stopped"
            note = f"{kind}: {exc}; reconciliation resolves the legs on the next execution"
            self._release(note)
            return self._report(INTERRUPTED, note)
        return self._check_after(report)

    def _check_after(self, report: ExecutionReport) -> ExecutionReport:
        """Reconcile positions once the group is final, so the newest reconciliation reflects
        this execution's fills (a break then stops further executions)."""
        try:
            check = reconcile_positions(
                self.database,
                self.broker,
                source=f"after execution of group {self.group_id}",
                clock=self.clock,
            )
        except BrokerError as exc:
            self.log.warning("group %s: no reconciliation after execution: %s", self.group_id, exc)
            return report
        if check.passed:
            return report
        self.log.warning(check.describe())
        return replace(report, message=f"{report.message}; {check.describe()}")

    def dry_run(self) -> ExecutionReport:
        """What an execution would do now, placing and changing nothing: every pending leg
        re-previewed and checked like the executor checks it (limits and cash, in leg order,
        from the account's cash now)."""
        group = self._group()
        if group.status.final:
            return self._report(ALREADY_FINISHED, f"group {group.id} already {group.status}")
        with self.database.engine.connect() as connection:
            halt = halt_state(connection)
        summary = self.broker.account_summary()
        pending = [leg for leg in group.legs if leg.status == LegStatus.PENDING]
        previews = {
            leg.leg_no: self.broker.preview(
                OrderRequest(leg.symbol, OrderSide(leg.side), leg.quantity, leg.order_ref)
            )
            for leg in pending
        }
        costs = {n: leg_cost(p.side.value, p.notional, p.commission) for n, p in previews.items()}
        verdicts = leg_verdicts(
            [
                LegCheck(leg.side, previews[leg.leg_no].notional, costs[leg.leg_no])
                for leg in pending
            ],
            committed=self._committed_notional(),
            net_liquidation=summary.net_liquidation,
            cash=summary.cash,
            limits=self.trading,
        )
        verdict_of = {leg.leg_no: v for leg, v in zip(pending, verdicts, strict=True)}
        rows = []
        for leg in group.legs:
            row: dict[str, object] = {
                "leg": leg.leg_no,
                "symbol": leg.symbol,
                "side": leg.side,
                "quantity": leg.quantity,
                "status": leg.status.value,
                "estimated_cost": None,
                "drift": None,
                "would": None,
                "reason": leg.status_reason,
            }
            if leg.leg_no in verdict_of:
                verdict = verdict_of[leg.leg_no]
                row.update(
                    estimated_cost=costs[leg.leg_no],
                    drift=cost_drift(leg.original_estimated_cost, costs[leg.leg_no]),
                    would=("refuse: " + verdict)
                    if verdict
                    else ("halt" if halt.halted else "place"),
                )
            rows.append(row)
        message = f"dry run of group {group.id}: nothing placed"
        if halt.halted:
            message += f"; {halt.describe()}"
        return ExecutionReport(
            group_id=group.id,
            outcome=DRY_RUN,
            status=group.status.value,
            message=message,
            legs=rows,
            drift_warnings=list(group.drift_warnings),
        )


def execute_basket_trade(
    database: Database,
    broker: Callable[[], Broker],
    group_id: int,
    *,
    trading: TradingSettings,
    owner: str,
    dry_run: bool = False,
    cancelling: bool = False,
    clock: Callable[[], dt.datetime] = utc_now,
    log: logging.Logger | None = None,
) -> ExecutionReport:
    """Execute group ``group_id`` (see the module docstring); ``broker`` connects on demand.

    ``dry_run`` previews and checks limits without placing or changing anything;
    ``cancelling`` settles what is in flight and cancels the rest (used by cancellation).
    """
    execution = BasketTradeExecution(
        database, broker, group_id, trading=trading, owner=owner, clock=clock, log=log
    )
    if dry_run:
        return execution.dry_run()
    return execution.run(cancelling=cancelling)
