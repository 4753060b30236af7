"""The broker interface every execution path talks to.

Implementations: ``PaperBroker`` (a ledger in the app database, the default) and ``IbBroker``
(Interactive Brokers through ib_async). The executor never calls a broker API directly.

Exactly-once contract: every order carries a client ``order_ref`` that is deterministic per
basket-trade leg and written to the app database *before* :meth:`Broker.place` is called.
:meth:`Broker.order_status` (and the open/completed order and execution lists) answer by that
reference, so after a crash the executor can find out whether a leg reached the broker before
it places anything. Brokers do not de-duplicate orders themselves; the caller must never call
``place`` twice for one reference.
"""

import datetime as dt
import enum
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass


class BrokerError(RuntimeError):
    """The broker refused a request or could not be reached; the message says which."""


class BrokerDisconnected(BrokerError):
    """The connection to the broker was lost; what was in flight is unknown until reconciled."""


class OrderSide(enum.StrEnum):
    """Direction of an order."""

    BUY = "BUY"
    SELL = "SELL"


class OrderStatus(enum.StrEnum):
    """Life cycle of an order at the broker (terminal: FILLED, CANCELLED, REJECTED)."""

    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def terminal(self) -> bool:
        """True when the order can no longer change."""
        return self in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED)


@dataclass(frozen=True)
class AccountSummary:
    """Account value: net liquidation and cash in the account's base currency."""

    account: str
    net_liquidation: float
    cash: float
    currency: str


@dataclass(frozen=True)
class BrokerPosition:
    """A position the broker reports (negative quantity = short)."""

    account: str
    symbol: str
    quantity: float
    average_cost: float | None


@dataclass(frozen=True)
class Quote:
    """The latest known price of a symbol; ``None`` fields are unknown."""

    symbol: str
    last: float | None
    bid: float | None
    ask: float | None
    time: dt.datetime | None


@dataclass(frozen=True)
class OrderRequest:
    """A market (or limit) order for whole shares, identified by ``order_ref``."""

    symbol: str
    side: OrderSide
    quantity: int
    order_ref: str
    order_type: str = "MKT"
    limit_price: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.quantity, int) or isinstance(self.quantity, bool):
            raise ValueError(f"quantity must be a whole number of shares, got {self.quantity!r}")
        if self.quantity <= 0:
            raise ValueError(f"quantity must be positive, got {self.quantity}")
        if not self.order_ref:
            raise ValueError("order_ref is required")
        if self.order_type not in ("MKT", "LMT"):
            raise ValueError(f"order_type must be MKT or LMT, got {self.order_type!r}")
        if (self.order_type == "LMT") != (self.limit_price is not None):
            raise ValueError("limit_price is required for LMT orders and only for them")


@dataclass(frozen=True)
class OrderPreview:
    """What-if result of an order: nothing is placed. ``None`` means the broker did not say
    (e.g. IB's "unset" sentinel values)."""

    symbol: str
    side: OrderSide
    quantity: int
    price: float
    notional: float
    commission: float | None
    margin_change: float | None
    cash_change: float | None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrderState:
    """The broker's view of one order, found by ``order_ref``."""

    order_ref: str
    broker_order_id: str
    symbol: str
    side: OrderSide
    quantity: int
    filled_quantity: float
    average_fill_price: float | None
    status: OrderStatus
    reason: str | None
    updated_at: dt.datetime


@dataclass(frozen=True)
class Execution:
    """One fill reported by the broker."""

    execution_id: str
    order_ref: str
    symbol: str
    side: OrderSide
    quantity: float
    price: float
    commission: float | None
    time: dt.datetime
    currency: str | None = None
    """Currency of price and commission when the broker says (IB: the contract's)."""
    account: str | None = None
    """Account that traded, when the broker says (IB: the execution's account number)."""


class Broker(ABC):
    """Everything the executor needs from a broker. Methods raise :class:`BrokerError` (or
    :class:`BrokerDisconnected`) instead of returning partial answers."""

    name: str

    def connect(self) -> None:  # noqa: B027 - optional hook, a no-op for brokers without sessions
        """Open the session; the broker resource calls it once before the first request."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op for brokers without sessions
        """Close the session (idempotent); the broker resource calls it when the run ends."""

    @abstractmethod
    def account_summary(self) -> AccountSummary:
        """Net liquidation value, cash and currency."""

    @abstractmethod
    def positions(self) -> list[BrokerPosition]:
        """Current positions."""

    @abstractmethod
    def quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        """Latest prices; an unknown symbol raises :class:`BrokerError` naming it."""

    @abstractmethod
    def preview(self, order: OrderRequest) -> OrderPreview:
        """What-if: estimated price, commission and margin/cash impact; places nothing."""

    @abstractmethod
    def place(self, order: OrderRequest) -> OrderState:
        """Submit ``order``; returns the state right after submission."""

    @abstractmethod
    def order_status(self, order_ref: str) -> OrderState | None:
        """The order with this client reference, or None if the broker never received it."""

    @abstractmethod
    def wait_for_terminal(self, order_ref: str, timeout: float) -> OrderState:
        """Block until the order is filled, cancelled or rejected, or ``timeout`` seconds pass
        (then return its current, non-terminal state)."""

    @abstractmethod
    def cancel(self, order_ref: str) -> OrderState:
        """Request cancellation; returns the state after the request."""

    @abstractmethod
    def open_orders(self) -> list[OrderState]:
        """Orders that are not terminal."""

    @abstractmethod
    def completed_orders(self) -> list[OrderState]:
        """Terminal orders the broker still reports."""

    @abstractmethod
    def executions(self, since: dt.datetime | None = None) -> list[Execution]:
        """Fills since ``since`` (all known fills when None)."""


class BrokerSession:
    """A broker connected on first use: :meth:`get` connects once, :meth:`close` ends the
    session. Subclasses say how the broker is made (:meth:`_create`) and hold it in
    ``_broker``."""

    _broker: Broker | None

    def _create(self) -> Broker:
        raise NotImplementedError

    def get(self) -> Broker:
        """The connected broker (connects on the first call)."""
        if self._broker is None:
            broker = self._create()
            broker.connect()
            self._broker = broker
        return self._broker

    def close(self) -> None:
        """Close the session if one was opened."""
        broker, self._broker = self._broker, None
        if broker is not None:
            broker.close()

    @contextmanager
    def session(self) -> Iterator[Broker]:
        """A connected broker, closed on exit (outside a run: the CLI, the MCP server)."""
        try:
            yield self.get()
        finally:
            self.close()
