"""The paper broker: a simulated broker whose ledger lives in the app database.

Its tables (``paper_accounts``, ``paper_positions``, ``paper_orders``, ``paper_fills``) are the
broker's side of the story and are separate from our records of what we sent
(``broker_orders``, ``broker_fills``), so reconciliation after a crash compares two independent
ledgers. Placing an order and recording it in the paper ledger is one transaction: an order
either reached the paper broker or it did not.

Fills are applied lazily: an order becomes fillable ``fill_latency_seconds`` after it was placed,
and the first request that looks at the ledger after that moment fills it (a compare-and-set on
the order's status makes sure only one process applies a fill). Market orders fill at the latest
close in ``prices`` moved by the slippage, with a per-share commission that has a minimum.
For tests it can reject symbols, fill only a fraction of each order (the rest is cancelled),
delay fills and drop the connection after a number of calls.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.engine import Connection, Engine, Row

from analytics_lib.execution import leg_cost, per_share_commission, slipped_price
from orchestration.clock import aware_utc, utc_now
from orchestration.resources.broker import (
    AccountSummary,
    Broker,
    BrokerDisconnected,
    BrokerError,
    BrokerPosition,
    Execution,
    OrderPreview,
    OrderRequest,
    OrderSide,
    OrderState,
    OrderStatus,
    Quote,
)
from orchestration.settings import PaperBrokerSettings
from orchestration.storage.bulk import insert_ignoring_conflicts
from orchestration.storage.engine import get_engine
from orchestration.storage.models import (
    PaperAccount,
    PaperFill,
    PaperOrder,
    PaperPosition,
    PortfolioPosition,
    Price,
)

ACCOUNTS = PaperAccount.__table__
POSITIONS = PaperPosition.__table__
ORDERS = PaperOrder.__table__
FILLS = PaperFill.__table__
PRICES = Price.__table__
PORTFOLIO = PortfolioPosition.__table__
CURRENCY = "USD"
SHARE_TOLERANCE = 1e-9
T = TypeVar("T")


class PaperBroker(Broker):
    """A simulated broker on the app database (see the module docstring).

    Parameters
    ----------
    database_url
        The app database holding ``prices``, ``portfolio_positions`` and the paper ledger.
    settings
        Account, cash, slippage, commission and the fault switches.
    readonly
        A read-only session refuses ``place`` and ``cancel`` (previews and data only).
    clock
        Source of the current time (UTC, timezone-aware).
    poll_seconds
        How often :meth:`wait_for_terminal` looks at the ledger.
    """

    name = "paper"

    def __init__(
        self,
        database_url: str,
        settings: PaperBrokerSettings,
        *,
        readonly: bool = False,
        clock: Callable[[], dt.datetime] = utc_now,
        poll_seconds: float = 0.02,
    ) -> None:
        self._url = database_url
        self._settings = settings
        self._readonly = readonly
        self._clock = clock
        self._poll_seconds = poll_seconds
        self._connected = False
        self._dropped = False
        self._calls = 0

    @property
    def account(self) -> str:
        """The paper account's name."""
        return self._settings.account

    @property
    def _engine(self) -> Engine:
        return get_engine(self._url)

    def connect(self) -> None:
        if self._dropped:
            raise BrokerDisconnected("paper broker: this session's connection was dropped")
        self._connected = True

    def close(self) -> None:
        self._connected = False

    def _call(self, operation: str, fn: Callable[[], T]) -> T:
        """Count the call and apply the disconnect switch around ``fn``."""
        if self._dropped or not self._connected:
            raise BrokerDisconnected(f"paper broker: not connected ({operation} was not sent)")
        self._calls += 1
        limit = self._settings.disconnect_after_calls
        result = fn()
        if limit is not None and self._calls > limit:
            self._dropped = True
            self._connected = False
            raise BrokerDisconnected(
                f"paper broker: connection dropped after {limit} calls "
                f"(PORTFOLIO_PAPER_DISCONNECT_AFTER_CALLS); the answer to {operation} was lost"
            )
        return result

    def _require_trading(self, operation: str) -> None:
        if self._readonly:
            raise BrokerError(f"paper broker: {operation} needs a trading session, not read-only")

    # ---- ledger helpers (all run inside the caller's transaction) ----

    def _open_account(self, connection: Connection, now: dt.datetime) -> None:
        """Open the account on first use: configured cash plus ``portfolio_positions``."""
        exists = connection.execute(
            select(ACCOUNTS.c.account).where(ACCOUNTS.c.account == self.account)
        ).first()
        if exists is not None:
            return
        opened = insert_ignoring_conflicts(
            connection,
            ACCOUNTS,
            {
                "account": self.account,
                "cash": self._settings.cash,
                "currency": CURRENCY,
                "opened_at": now,
                "updated_at": now,
            },
        )
        if not opened:
            return
        rows = connection.execute(
            select(
                PORTFOLIO.c.symbol,
                func.sum(PORTFOLIO.c.quantity).label("quantity"),
                func.sum(PORTFOLIO.c.cost_basis).label("cost_basis"),
            ).group_by(PORTFOLIO.c.symbol)
        ).all()
        positions = [
            {
                "account": self.account,
                "symbol": row.symbol,
                "quantity": float(row.quantity),
                "average_cost": (
                    float(row.cost_basis) / float(row.quantity)
                    if row.cost_basis is not None and row.quantity
                    else None
                ),
            }
            for row in rows
            if row.quantity
        ]
        if positions:
            connection.execute(insert(POSITIONS), positions)

    def _closes(self, connection: Connection, symbols: Sequence[str]) -> dict[str, Row]:
        """The latest close of each symbol that has one."""
        if not symbols:
            return {}
        inner = PRICES.alias("q")
        latest = (
            select(func.max(inner.c.date)).where(inner.c.symbol == PRICES.c.symbol)
        ).scalar_subquery()
        rows = connection.execute(
            select(PRICES.c.symbol, PRICES.c.close, PRICES.c.date).where(
                PRICES.c.symbol.in_(sorted(set(symbols))), PRICES.c.date == latest
            )
        ).all()
        return {row.symbol: row for row in rows}

    def _position(self, connection: Connection, symbol: str) -> float:
        quantity = connection.execute(
            select(POSITIONS.c.quantity).where(
                POSITIONS.c.account == self.account, POSITIONS.c.symbol == symbol
            )
        ).scalar_one_or_none()
        return float(quantity or 0.0)

    def _cash(self, connection: Connection) -> float:
        return float(
            connection.execute(
                select(ACCOUNTS.c.cash).where(ACCOUNTS.c.account == self.account)
            ).scalar_one()
        )

    def _fill(self, connection: Connection, order: Row, now: dt.datetime) -> None:
        """Fill a due order (or cancel/reject it); a no-op if another process already did."""
        close = self._closes(connection, [order.symbol]).get(order.symbol)
        quantity = int(order.quantity)
        filled = math.floor(quantity * self._settings.fill_fraction + SHARE_TOLERANCE)
        values: dict[str, object] = {"updated_at": now}
        if close is None:
            values.update(status=OrderStatus.REJECTED.value, reason=f"no price for {order.symbol}")
            filled = 0
        elif filled == 0:
            values.update(
                status=OrderStatus.CANCELLED.value,
                reason=(
                    f"paper broker filled 0 of {quantity} shares (PORTFOLIO_PAPER_FILL_FRACTION="
                    f"{self._settings.fill_fraction:g}); the order was cancelled"
                ),
            )
        else:
            price = slipped_price(float(close.close), order.side, self._settings.slippage_bps)
            values.update(filled_quantity=float(filled), average_fill_price=price)
            if filled == quantity:
                values.update(status=OrderStatus.FILLED.value)
            else:
                values.update(
                    status=OrderStatus.CANCELLED.value,
                    reason=(
                        f"partial fill: paper broker filled {filled} of {quantity} shares "
                        f"(PORTFOLIO_PAPER_FILL_FRACTION={self._settings.fill_fraction:g}); "
                        f"the remaining {quantity - filled} were cancelled"
                    ),
                )
        claimed = connection.execute(
            update(ORDERS)
            .where(ORDERS.c.id == order.id, ORDERS.c.status == OrderStatus.SUBMITTED.value)
            .values(**values)
        )
        if claimed.rowcount != 1 or filled == 0:
            return
        price = float(values["average_fill_price"])
        commission = per_share_commission(
            filled, self._settings.commission_per_share, self._settings.commission_minimum
        )
        connection.execute(
            insert(FILLS).values(
                order_id=order.id,
                account=self.account,
                order_ref=order.order_ref,
                symbol=order.symbol,
                side=order.side,
                quantity=float(filled),
                price=price,
                commission=commission,
                executed_at=now,
            )
        )
        self._move_position(connection, order.symbol, order.side, float(filled), price)
        cash_change = -leg_cost(order.side, filled * price, commission)
        connection.execute(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.account == self.account)
            .values(cash=ACCOUNTS.c.cash + cash_change, updated_at=now)
        )

    def _move_position(
        self, connection: Connection, symbol: str, side: str, quantity: float, price: float
    ) -> None:
        insert_ignoring_conflicts(
            connection,
            POSITIONS,
            {"account": self.account, "symbol": symbol, "quantity": 0.0, "average_cost": None},
        )
        where = (POSITIONS.c.account == self.account, POSITIONS.c.symbol == symbol)
        if side == OrderSide.BUY:
            held = POSITIONS.c.quantity
            cost = func.coalesce(POSITIONS.c.average_cost, price)
            after = held + quantity
            connection.execute(
                update(POSITIONS)
                .where(*where)
                .values(
                    quantity=after,
                    average_cost=case(
                        (after == 0, None), else_=(held * cost + quantity * price) / after
                    ),
                )
            )
        else:
            connection.execute(
                update(POSITIONS).where(*where).values(quantity=POSITIONS.c.quantity - quantity)
            )

    def _settle(self, connection: Connection, now: dt.datetime) -> None:
        """Open the account if needed and apply every fill that is due."""
        self._open_account(connection, now)
        due = connection.execute(
            select(ORDERS)
            .where(
                ORDERS.c.account == self.account,
                ORDERS.c.status == OrderStatus.SUBMITTED.value,
                ORDERS.c.fill_due_at <= now,
            )
            .order_by(ORDERS.c.id)
        ).all()
        for order in due:
            self._fill(connection, order, now)

    def _state(self, order: Row) -> OrderState:
        return OrderState(
            order_ref=order.order_ref,
            broker_order_id=str(order.id),
            symbol=order.symbol,
            side=OrderSide(order.side),
            quantity=int(order.quantity),
            filled_quantity=float(order.filled_quantity),
            average_fill_price=(
                float(order.average_fill_price) if order.average_fill_price is not None else None
            ),
            status=OrderStatus(order.status),
            reason=order.reason,
            updated_at=aware_utc(order.updated_at),
        )

    def _find(self, connection: Connection, order_ref: str) -> Row | None:
        rows = connection.execute(
            select(ORDERS).where(ORDERS.c.account == self.account, ORDERS.c.order_ref == order_ref)
        ).all()
        if len(rows) > 1:
            raise BrokerError(
                f"paper broker holds {len(rows)} orders with order_ref {order_ref!r}: the "
                "reference was placed more than once"
            )
        return rows[0] if rows else None

    def _settled(self, fn: Callable[[Connection, dt.datetime], T]) -> T:
        now = self._clock()
        with self._engine.begin() as connection:
            self._settle(connection, now)
            return fn(connection, now)

    # ---- the Broker interface ----

    def account_summary(self) -> AccountSummary:
        def read(connection: Connection, _now: dt.datetime) -> AccountSummary:
            cash = self._cash(connection)
            held = connection.execute(
                select(POSITIONS.c.symbol, POSITIONS.c.quantity).where(
                    POSITIONS.c.account == self.account, POSITIONS.c.quantity != 0
                )
            ).all()
            closes = self._closes(connection, [row.symbol for row in held])
            unpriced = sorted(row.symbol for row in held if row.symbol not in closes)
            if unpriced:
                raise BrokerError(f"paper broker: no price to value {', '.join(unpriced)}")
            value = math.fsum(float(row.quantity) * float(closes[row.symbol].close) for row in held)
            return AccountSummary(
                account=self.account, net_liquidation=cash + value, cash=cash, currency=CURRENCY
            )

        return self._call("account_summary", lambda: self._settled(read))

    def positions(self) -> list[BrokerPosition]:
        def read(connection: Connection, _now: dt.datetime) -> list[BrokerPosition]:
            rows = connection.execute(
                select(POSITIONS)
                .where(POSITIONS.c.account == self.account, POSITIONS.c.quantity != 0)
                .order_by(POSITIONS.c.symbol)
            ).all()
            return [
                BrokerPosition(
                    account=self.account,
                    symbol=row.symbol,
                    quantity=float(row.quantity),
                    average_cost=float(row.average_cost) if row.average_cost is not None else None,
                )
                for row in rows
            ]

        return self._call("positions", lambda: self._settled(read))

    def quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        def read() -> dict[str, Quote]:
            with self._engine.connect() as connection:
                closes = self._closes(connection, symbols)
            unknown = [s for s in symbols if s not in closes]
            if unknown:
                raise BrokerError(f"paper broker: no price for {', '.join(unknown)}")
            return {
                s: Quote(
                    symbol=s,
                    last=float(closes[s].close),
                    bid=None,
                    ask=None,
                    time=dt.datetime.combine(
                        dt.date.fromisoformat(str(closes[s].date)[:10]), dt.time(), dt.UTC
                    ),
                )
                for s in symbols
            }

        return self._call("quotes", read)

    def _refusal(self, connection: Connection, order: OrderRequest, cost: float) -> str | None:
        """Why the paper broker would reject ``order`` (None if it accepts it)."""
        if order.symbol in self._settings.reject_symbols:
            return f"paper broker rejects {order.symbol} (PORTFOLIO_PAPER_REJECT_SYMBOLS)"
        if order.order_type != "MKT":
            return "paper broker fills market orders only"
        if order.side == OrderSide.BUY:
            cash = self._cash(connection)
            if cost > cash:
                return (
                    f"insufficient cash: the order needs {cost:,.2f}, the account has {cash:,.2f}"
                )
        else:
            held = self._position(connection, order.symbol)
            if order.quantity > held + SHARE_TOLERANCE:
                return (
                    f"cannot sell {order.quantity} {order.symbol}: the account holds {held:g} "
                    "(the paper account does not sell short)"
                )
        return None

    def _estimate(self, connection: Connection, order: OrderRequest) -> OrderPreview:
        close = self._closes(connection, [order.symbol]).get(order.symbol)
        if close is None:
            raise BrokerError(f"paper broker: no price for {order.symbol}")
        price = slipped_price(float(close.close), order.side, self._settings.slippage_bps)
        notional = order.quantity * price
        commission = per_share_commission(
            order.quantity, self._settings.commission_per_share, self._settings.commission_minimum
        )
        cost = leg_cost(order.side, notional, commission)
        refusal = self._refusal(connection, order, cost)
        return OrderPreview(
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            price=price,
            notional=notional,
            commission=commission,
            margin_change=None,
            cash_change=-cost,
            warnings=(f"the order would be rejected: {refusal}",) if refusal else (),
        )

    def preview(self, order: OrderRequest) -> OrderPreview:
        return self._call(
            "preview", lambda: self._settled(lambda conn, _now: self._estimate(conn, order))
        )

    def place(self, order: OrderRequest) -> OrderState:
        self._require_trading("place")

        def send(connection: Connection, now: dt.datetime) -> OrderState:
            close = self._closes(connection, [order.symbol]).get(order.symbol)
            if close is None:
                reason: str | None = f"no price for {order.symbol}"
            else:
                price = slipped_price(float(close.close), order.side, self._settings.slippage_bps)
                commission = per_share_commission(
                    order.quantity,
                    self._settings.commission_per_share,
                    self._settings.commission_minimum,
                )
                reason = self._refusal(
                    connection, order, leg_cost(order.side, order.quantity * price, commission)
                )
            status = OrderStatus.REJECTED if reason else OrderStatus.SUBMITTED
            due = now + dt.timedelta(seconds=self._settings.fill_latency_seconds)
            order_id = connection.execute(
                insert(ORDERS).values(
                    account=self.account,
                    order_ref=order.order_ref,
                    symbol=order.symbol,
                    side=order.side.value,
                    quantity=order.quantity,
                    order_type=order.order_type,
                    status=status.value,
                    filled_quantity=0.0,
                    average_fill_price=None,
                    reason=reason,
                    fill_due_at=due,
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key[0]
            row = connection.execute(select(ORDERS).where(ORDERS.c.id == order_id)).one()
            if status == OrderStatus.SUBMITTED and due <= now:
                self._fill(connection, row, now)
                row = connection.execute(select(ORDERS).where(ORDERS.c.id == order_id)).one()
            return self._state(row)

        return self._call("place", lambda: self._settled(send))

    def order_status(self, order_ref: str) -> OrderState | None:
        def read(connection: Connection, _now: dt.datetime) -> OrderState | None:
            row = self._find(connection, order_ref)
            return self._state(row) if row is not None else None

        return self._call("order_status", lambda: self._settled(read))

    def wait_for_terminal(self, order_ref: str, timeout: float) -> OrderState:
        def wait() -> OrderState:
            deadline = time.monotonic() + max(timeout, 0.0)
            while True:
                state = self._settled(lambda conn, _now: self._find(conn, order_ref))
                if state is None:
                    raise BrokerError(f"paper broker: no order with order_ref {order_ref!r}")
                remaining = deadline - time.monotonic()
                if OrderStatus(state.status).terminal or remaining <= 0:
                    return self._state(state)
                time.sleep(min(self._poll_seconds, remaining))

        return self._call("wait_for_terminal", wait)

    def cancel(self, order_ref: str) -> OrderState:
        self._require_trading("cancel")

        def cancel(connection: Connection, now: dt.datetime) -> OrderState:
            row = self._find(connection, order_ref)
            if row is None:
                raise BrokerError(f"paper broker: no order with order_ref {order_ref!r}")
            connection.execute(
                update(ORDERS)
                .where(ORDERS.c.id == row.id, ORDERS.c.status == OrderStatus.SUBMITTED.value)
                .values(
                    status=OrderStatus.CANCELLED.value,
                    reason="cancelled on request",
                    updated_at=now,
                )
            )
            return self._state(
                connection.execute(select(ORDERS).where(ORDERS.c.id == row.id)).one()
            )

        return self._call("cancel", lambda: self._settled(cancel))

    def _orders(self, statuses: Sequence[OrderStatus]) -> list[OrderState]:
        def read(connection: Connection, _now: dt.datetime) -> list[OrderState]:
            rows = connection.execute(
                select(ORDERS)
                .where(
                    ORDERS.c.account == self.account,
                    ORDERS.c.status.in_([s.value for s in statuses]),
                )
                .order_by(ORDERS.c.id)
            ).all()
            return [self._state(row) for row in rows]

        return self._settled(read)

    def open_orders(self) -> list[OrderState]:
        pending = [s for s in OrderStatus if not s.terminal]
        return self._call("open_orders", lambda: self._orders(pending))

    def completed_orders(self) -> list[OrderState]:
        done = [s for s in OrderStatus if s.terminal]
        return self._call("completed_orders", lambda: self._orders(done))

    def executions(self, since: dt.datetime | None = None) -> list[Execution]:
        def read(connection: Connection, _now: dt.datetime) -> list[Execution]:
            query = select(FILLS).where(FILLS.c.account == self.account).order_by(FILLS.c.id)
            if since is not None:
                query = query.where(FILLS.c.executed_at >= since)
            return [
                Execution(
                    execution_id=f"paper-{row.id}",
                    order_ref=row.order_ref,
                    symbol=row.symbol,
                    side=OrderSide(row.side),
                    quantity=float(row.quantity),
                    price=float(row.price),
                    commission=float(row.commission),
                    time=aware_utc(row.executed_at),
                )
                for row in connection.execute(query).all()
            ]

        return self._call("executions", lambda: self._settled(read))
