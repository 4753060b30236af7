"""Interactive Brokers behind the :class:`~orchestration.resources.broker.Broker` interface.

``IbBroker`` talks to an IB Gateway or TWS through ib_async (the maintained fork of ib_insync;
ib_insync is used only when ib_async is not installed: same API). Neither is a core dependency:
install the ``ib`` extra.

Event loop. The broker creates its own loop (``asyncio.new_event_loop()``) in :meth:`connect`,
runs every ib_async coroutine on it with ``run_until_complete`` and closes it in
:meth:`close`. It never installs the loop as the thread's current loop, never applies
nest_asyncio and never calls ``util.startLoop``/``patchAsyncio``, so it works in the worker
threads Dagster runs ops in. Every ib_async call, even the synchronous ones (``placeOrder``,
``cancelOrder``), runs inside that loop: ib_async would otherwise create and install a loop of
its own. Messages from IB are only processed while a call runs; between calls nothing moves.
Connect inside a run, never from a sensor.

Exactly once. Every order carries ``orderRef = order_ref``. IB does not enforce uniqueness, and
after a reconnect ``IB.trades()`` no longer contains the previous session's orders, so
:meth:`IbBroker.order_status` asks the server (all open orders of every client, completed
orders, executions) and filters by ``orderRef``; two different orders with one reference are an
error, never a guess. Order ids come from the server: ib_async seeds its id sequence from the
``nextValidId`` of the connection handshake and raises it past every open order it sees, and
the adapter never sets ``orderId`` itself.

Disconnects. A lost socket (``disconnectedEvent``, ``isConnected()`` false, a request failing
with ``ConnectionError``), a gateway that lost its own link to IB (error 1100 until 1101/1102)
and a "zombie" connection that no longer answers ``reqCurrentTime`` all make every call raise
:class:`BrokerDisconnected`, so the executor leaves legs for reconciliation. The probe runs on
connect and before every order is placed.

Quotes are market-data snapshots (``reqTickers``) after ``reqMarketDataType(3)``: IB then sends
live data where the account has a subscription and 15-minute delayed data otherwise.
"""

import asyncio
import dataclasses
import datetime as dt
import importlib
import math
from collections.abc import Callable, Coroutine, Iterable, Sequence
from types import ModuleType
from typing import Any, Self, TypeVar

from orchestration.clock import utc_now
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

T = TypeVar("T")

IB_LIBRARIES = ("ib_async", "ib_insync")
# IB's "no value" encodings: ib_async.util.UNSET_INTEGER, and UNSET_DOUBLE (sys.float_info.max,
# about 1.797e308): any magnitude this large is a sentinel, never an amount of money.
UNSET_INTEGER = 2**31 - 1
_SENTINEL_MAGNITUDE = 1e300
# reqMarketDataType: 1 live, 2 frozen, 3 delayed (live where subscribed), 4 delayed frozen.
MARKET_DATA_TYPES = (1, 2, 3, 4)
DELAYED_WHERE_NOT_SUBSCRIBED = 3

# IB error codes about the connection rather than a request.
CONNECTIVITY_LOST = 1100  # gateway lost its link to IB's servers
CONNECTIVITY_RESTORED = (1101, 1102)
SOCKET_PORT_RESET = 1300
NOT_CONNECTED = 504
ORDER_CANCELLED = 202  # "Order Canceled - reason: …": a cancellation, not a rejection
INFORMATIONAL_CODES = range(2100, 2200)  # data-farm status and similar notices

_DONE = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})
_NOT_ACKNOWLEDGED = frozenset({"PendingSubmit", "ApiPending"})
_OPEN_REASONS = {
    "PendingSubmit": "sent to IB, not yet acknowledged",
    "ApiPending": "sent to IB, not yet acknowledged",
    "PreSubmitted": "accepted by IB, held until it can be routed (e.g. outside trading hours)",
    "Submitted": None,
    "ApiUpdate": None,
    "ValidationError": "IB raised a validation warning; the order is still live",
    "PendingCancel": "cancellation requested, not yet confirmed",
}
_SIDES = {"BUY": OrderSide.BUY, "SELL": OrderSide.SELL, "SSHORT": OrderSide.SELL}
_EXECUTION_SIDES = {"BOT": OrderSide.BUY, "SLD": OrderSide.SELL}


def known_number(value: object) -> float | None:
    """A number IB reported, or None for its "unset" encodings.

    IB leaves fields it did not compute at ``UNSET_DOUBLE`` (about 1.797e308, also sent as the
    string ``"1.7976931348623157E308"``), ``UNSET_INTEGER`` or an empty string; all of those,
    non-numeric text, NaN and infinities mean "unknown".
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]  # str, int, float and Decimal
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or abs(number) >= _SENTINEL_MAGNITUDE or number == UNSET_INTEGER:
        return None
    return number


def _known_price(value: object) -> float | None:
    """A usable price: known and positive (IB sends -1 or 0 when there is none)."""
    number = known_number(value)
    return number if number is not None and number > 0 else None


def _as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """Aware UTC; naive values are taken as UTC; ``datetime.min`` placeholders as unknown."""
    if value is None or value.year < 2000:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def import_ib_library() -> tuple[str, ModuleType]:
    """``(name, module)`` of ib_async, else ib_insync.

    Raises
    ------
    BrokerError
        When neither is installed; the message says to install the ``ib`` extra.
    """
    for name in IB_LIBRARIES:
        try:
            return name, importlib.import_module(name)
        except ImportError:
            continue
    raise BrokerError(
        "the IB broker needs ib_async (or ib_insync), which is not installed; "
        "install the `ib` extra: pip install 'portfolio-pipeline[ib]'"
    )


def _positive(name: str, value: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


class IbBroker(Broker):
    """The :class:`Broker` interface on an IB Gateway / TWS connection (see the module notes).

    Parameters
    ----------
    host, port
        Address of the gateway's API socket (4002: Gateway paper, 4001: Gateway live).
    account
        Account to trade and report; empty means the only account the gateway manages.
    client_id
        API client id of this connection; IB accepts one connection per id.
    readonly
        Connect read-only (no order synchronisation) and refuse :meth:`place` and
        :meth:`cancel`; use it with the read-only client id for previews and data.
    connect_timeout
        Seconds for each step of the connection handshake.
    request_timeout
        Seconds any request may take before it fails with :class:`BrokerError`.
    submit_timeout
        Seconds :meth:`place` and :meth:`cancel` wait for IB to acknowledge (never for fills).
    probe_timeout
        Seconds ``reqCurrentTime`` may take before the connection is declared dead.
    poll_interval
        Seconds between server queries while :meth:`wait_for_terminal` follows an order that
        was not placed on this connection (orders placed here are followed by their events).
    market_data_type
        ``reqMarketDataType`` for quotes (3: live where subscribed, delayed otherwise).
    client_factory
        Builds the IB client object (``ib_async.IB`` by default). It is called on the broker's
        event loop at every :meth:`connect`; tests pass a fake with the same API.
    """

    name = "ib"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        account: str,
        client_id: int,
        readonly: bool = False,
        connect_timeout: float = 10.0,
        request_timeout: float = 30.0,
        submit_timeout: float = 5.0,
        probe_timeout: float = 5.0,
        poll_interval: float = 2.0,
        market_data_type: int = DELAYED_WHERE_NOT_SUBSCRIBED,
        client_factory: Callable[[], Any] | None = None,
    ) -> None:
        if not host or not isinstance(host, str):
            raise ValueError(f"host must be a host name or address, got {host!r}")
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port <= 65535:
            raise ValueError(f"port must be an integer in 1..65535, got {port!r}")
        if not isinstance(client_id, int) or isinstance(client_id, bool) or client_id < 0:
            raise ValueError(f"client_id must be a non-negative integer, got {client_id!r}")
        if market_data_type not in MARKET_DATA_TYPES:
            raise ValueError(
                f"market_data_type must be one of {MARKET_DATA_TYPES}, got {market_data_type!r}"
            )
        self.library, self._module = import_ib_library()
        self.host = host
        self.port = port
        self.configured_account = account
        self.account = account
        self.client_id = client_id
        self.readonly = bool(readonly)
        self._connect_timeout = _positive("connect_timeout", connect_timeout)
        self._request_timeout = _positive("request_timeout", request_timeout)
        self._submit_timeout = _positive("submit_timeout", submit_timeout)
        self._probe_timeout = _positive("probe_timeout", probe_timeout)
        self._poll_interval = _positive("poll_interval", poll_interval)
        self._market_data_type = market_data_type
        self._client_factory = client_factory or self._module.IB
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ib: Any = None
        self._reset_session()

    def _reset_session(self) -> None:
        self._lost: str | None = None
        self._connectivity_lost: str | None = None
        self._closing = False
        self._contracts: dict[str, Any] = {}
        self._trades: dict[str, Any] = {}
        self._cancel_requested: set[str] = set()
        self._market_data_type_sent = False
        self._errors: list[tuple[int, int, str]] = []
        self._wake: asyncio.Event | None = None

    # ----------------------------------------------------------------- connection lifecycle

    @property
    def connected(self) -> bool:
        """True while a connection is open and not known to be lost."""
        return self._ib is not None and self._lost is None and self._ib.isConnected()

    def connect(self) -> None:
        """Open the connection on a new event loop (closing any previous one first).

        Raises
        ------
        BrokerError
            When the gateway cannot be reached, the handshake times out (gateway down, API
            disabled or client id in use), the account is not managed by the gateway, or the
            connection does not answer ``reqCurrentTime``.
        """
        self.close()
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._connect_async())
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Disconnect and close the event loop; safe to call more than once."""
        loop, ib = self._loop, self._ib
        self._loop, self._ib = None, None
        if loop is None:
            return
        try:
            if ib is not None:
                self._closing = True
                loop.run_until_complete(self._disconnect_async(ib))
            loop.run_until_complete(_cancel_leftover_tasks())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
            self._reset_session()

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def ping(self) -> dt.datetime:
        """The gateway's clock (``reqCurrentTime``); :class:`BrokerDisconnected` when the
        connection no longer answers within ``probe_timeout``."""
        return self._run("ping", self._probe_async)

    async def _connect_async(self) -> None:
        self._reset_session()
        self._wake = asyncio.Event()
        self._ib = ib = self._client_factory()  # set first so close() disconnects it on failure
        ib.disconnectedEvent += self._on_disconnected
        ib.errorEvent += self._on_error
        ib.orderStatusEvent += self._on_order_status
        where = f"IB at {self.host}:{self.port} with client id {self.client_id}"
        try:
            await asyncio.wait_for(
                ib.connectAsync(
                    self.host,
                    self.port,
                    clientId=self.client_id,
                    timeout=self._connect_timeout,
                    readonly=self.readonly,
                    account=self.configured_account,
                ),
                self._connect_timeout + self._request_timeout,
            )
        except TimeoutError as exc:
            raise BrokerError(
                f"could not connect to {where}: no answer within {self._connect_timeout:g} s "
                f"(is the gateway running with the API enabled, and is client id "
                f"{self.client_id} free?){self._errors_text(0)}"
            ) from exc
        except OSError as exc:
            raise BrokerError(f"could not connect to {where}: {exc}") from exc
        accounts = list(ib.managedAccounts())
        if self.configured_account and self.configured_account not in accounts:
            raise BrokerError(
                f"IB_ACCOUNT {self.configured_account} is not managed by {where}; "
                f"it manages: {', '.join(accounts) or 'no accounts'}"
            )
        if not self.configured_account and len(accounts) != 1:
            raise BrokerError(
                f"IB_ACCOUNT is empty and {where} manages {len(accounts)} accounts "
                f"({', '.join(accounts)}); set IB_ACCOUNT to one of them"
            )
        self.account = self.configured_account or accounts[0]
        try:
            await self._probe_async(ib)
        except BrokerDisconnected as exc:
            raise BrokerError(f"connected to {where}, but {exc}") from exc

    async def _disconnect_async(self, ib: Any) -> None:
        ib.disconnectedEvent -= self._on_disconnected
        ib.errorEvent -= self._on_error
        ib.orderStatusEvent -= self._on_order_status
        ib.disconnect()
        await asyncio.sleep(0)  # let the transport finish closing on this loop

    async def _probe_async(self, ib: Any) -> dt.datetime:
        try:
            server_time = await asyncio.wait_for(ib.reqCurrentTimeAsync(), self._probe_timeout)
        except TimeoutError:
            self._lost = (
                f"the connection does not answer reqCurrentTime within {self._probe_timeout:g} s "
                "(zombie connection)"
            )
            raise BrokerDisconnected(self._lost) from None
        return _as_utc(server_time) or utc_now()

    # ------------------------------------------------------------------------ IB events

    def _on_disconnected(self, *_args: object) -> None:
        if not self._closing and self._lost is None:
            self._lost = "IB closed the connection"
        self._poke()

    def _on_error(self, req_id: int, code: int, message: str, *_contract: object) -> None:
        self._errors.append((req_id, code, message))
        if code in (CONNECTIVITY_LOST, SOCKET_PORT_RESET, NOT_CONNECTED):
            self._connectivity_lost = f"IB error {code}: {message}"
        elif code in CONNECTIVITY_RESTORED:
            self._connectivity_lost = None
        self._poke()

    def _on_order_status(self, *_args: object) -> None:
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _errors_text(self, since: int) -> str:
        messages = [
            f"IB error {code}: {message}"
            for _req, code, message in self._errors[since:]
            if code not in INFORMATIONAL_CODES
        ]
        return f" ({'; '.join(dict.fromkeys(messages))})" if messages else ""

    # ---------------------------------------------------------------------- call plumbing

    def _require_connection(self, operation: str) -> tuple[asyncio.AbstractEventLoop, Any]:
        if self._ib is None or self._loop is None:
            raise BrokerError(f"{operation}: not connected to IB; call connect() first")
        # Only the socket here: a gateway-side outage (1100) is re-checked after the loop has
        # read what arrived since the last call, which may be the 1101/1102 that ends it.
        self._raise_if_lost(operation, connectivity=False)
        return self._loop, self._ib

    def _raise_if_lost(self, operation: str, *, connectivity: bool = True) -> None:
        if self._lost is None and self._ib is not None and not self._ib.isConnected():
            self._lost = "the connection to IB is closed"
        reason = self._lost or (self._connectivity_lost if connectivity else None)
        if reason is not None:
            raise self._disconnected(operation, reason)

    @staticmethod
    def _disconnected(operation: str, reason: str) -> BrokerDisconnected:
        return BrokerDisconnected(
            f"{operation}: {reason}; reconnect and reconcile by order reference"
        )

    def _require_writable(self, operation: str) -> None:
        if self.readonly:
            raise BrokerError(
                f"{operation}: this IB connection is read-only (client id {self.client_id}); "
                "orders go through the trading client id"
            )

    def _run(
        self,
        operation: str,
        work: Callable[[Any], Coroutine[Any, Any, T]],
        timeout: float | None = None,
    ) -> T:
        loop, ib = self._require_connection(operation)
        limit = self._request_timeout if timeout is None else timeout
        mark = len(self._errors)
        try:
            result = loop.run_until_complete(asyncio.wait_for(work(ib), limit))
        except BrokerError:
            raise
        except TimeoutError as exc:
            self._raise_if_lost(operation)
            raise BrokerError(
                f"{operation}: IB did not answer within {limit:g} s{self._errors_text(mark)}"
            ) from exc
        except (ConnectionError, OSError) as exc:
            self._lost = self._lost or "the connection to IB was lost"
            raise self._disconnected(operation, f"{self._lost}: {exc}") from exc
        # an answer that raced a disconnect is not trusted either
        self._raise_if_lost(operation)
        return result

    async def _wait_until(
        self, predicate: Callable[[], bool], timeout: float, operation: str
    ) -> bool:
        """Run the loop until ``predicate()`` holds (True) or ``timeout`` passes (False);
        :class:`BrokerDisconnected` as soon as the connection is lost."""
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            self._raise_if_lost(operation)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True

    # ---------------------------------------------------------------------------- contracts

    async def _qualify_async(self, ib: Any, symbols: Sequence[str]) -> list[Any]:
        """Qualified US stock/ETF contracts (SMART/USD), cached per connection."""
        missing = [symbol for symbol in dict.fromkeys(symbols) if symbol not in self._contracts]
        if missing:
            mark = len(self._errors)
            contracts = [self._module.Stock(symbol, "SMART", "USD") for symbol in missing]
            results = await ib.qualifyContractsAsync(*contracts)
            # ib_async returns None for a contract it could not qualify (ib_insync leaves it
            # out); either way an unqualified contract keeps conId 0.
            qualified = {id(result) for result in results if result is not None}
            unknown = []
            for symbol, contract in zip(missing, contracts, strict=True):
                if contract.conId and id(contract) in qualified:
                    self._contracts[symbol] = contract
                else:
                    unknown.append(symbol)
            if unknown:
                raise BrokerError(
                    f"IB has no unique US stock or ETF (SMART/USD) for {', '.join(unknown)}"
                    f"{self._errors_text(mark)}"
                )
        return [self._contracts[symbol] for symbol in symbols]

    # ------------------------------------------------------------------------- account data

    def account_summary(self) -> AccountSummary:
        """``NetLiquidation`` and ``TotalCashValue`` of the account, in its base currency."""
        values = self._run("account summary", self._account_values_async)
        by_tag: dict[str, list[Any]] = {}
        for value in values:
            by_tag.setdefault(value.tag, []).append(value)
        net = [v for v in by_tag.get("NetLiquidation", []) if v.currency]
        if len(net) != 1:
            raise BrokerError(
                f"IB account summary for {self.account} has {len(net)} NetLiquidation values "
                "with a currency; expected one"
            )
        currency = net[0].currency
        cash = [v for v in by_tag.get("TotalCashValue", []) if v.currency == currency]
        if len(cash) != 1:
            raise BrokerError(
                f"IB account summary for {self.account} has no TotalCashValue in {currency}"
            )
        net_liquidation = known_number(net[0].value)
        cash_value = known_number(cash[0].value)
        if net_liquidation is None or cash_value is None:
            raise BrokerError(
                f"IB account summary for {self.account} is not a number: "
                f"NetLiquidation={net[0].value!r}, TotalCashValue={cash[0].value!r}"
            )
        return AccountSummary(self.account, net_liquidation, cash_value, currency)

    async def _account_values_async(self, ib: Any) -> list[Any]:
        return list(await ib.accountSummaryAsync(self.account))

    def positions(self) -> list[BrokerPosition]:
        """Non-zero positions of the account (``reqPositions``); stocks by symbol, anything
        else labelled with its security type so a reconciliation sees it."""
        positions = self._run("positions", self._positions_async)
        result = []
        for position in positions:
            if position.account != self.account or not position.position:
                continue
            contract = position.contract
            symbol = contract.symbol
            if contract.secType != "STK":
                symbol = f"{contract.localSymbol or contract.symbol} ({contract.secType})"
            result.append(
                BrokerPosition(
                    account=position.account,
                    symbol=symbol,
                    quantity=float(position.position),
                    average_cost=_known_price(position.avgCost),
                )
            )
        return result

    async def _positions_async(self, ib: Any) -> list[Any]:
        return list(await ib.reqPositionsAsync())

    # --------------------------------------------------------------------------- market data

    def quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        """Snapshot quotes (live where subscribed, delayed otherwise); unknown fields None."""
        wanted = _symbols(symbols)
        tickers = self._run("quotes", lambda ib: self._tickers_async(ib, wanted))
        return {
            symbol: _quote(symbol, ticker) for symbol, ticker in zip(wanted, tickers, strict=True)
        }

    async def _tickers_async(self, ib: Any, symbols: Sequence[str]) -> list[Any]:
        contracts = await self._qualify_async(ib, symbols)
        if not self._market_data_type_sent:
            ib.reqMarketDataType(self._market_data_type)
            self._market_data_type_sent = True
        return list(await ib.reqTickersAsync(*contracts))

    # ------------------------------------------------------------------------------ orders

    def _ib_order(self, order: OrderRequest, *, order_ref: str) -> Any:
        if order.order_type == "LMT":
            ib_order = self._module.LimitOrder(order.side.value, order.quantity, order.limit_price)
        else:
            ib_order = self._module.MarketOrder(order.side.value, order.quantity)
        ib_order.account = self.account
        ib_order.orderRef = order_ref
        ib_order.tif = "DAY"
        ib_order.transmit = True
        return ib_order

    def preview(self, order: OrderRequest) -> OrderPreview:
        """What-if (``whatIfOrder``): IB's commission and initial-margin change; nothing is
        placed. The price is the limit price, or for market orders the snapshot's last trade
        (else bid/ask midpoint, else previous close). ``cash_change`` is the signed notional
        minus the commission, None when IB did not estimate the commission."""
        return self._run("preview", lambda ib: self._preview_async(ib, order))

    async def _preview_async(self, ib: Any, order: OrderRequest) -> OrderPreview:
        (contract,) = await self._qualify_async(ib, [order.symbol])
        if order.limit_price is not None:
            price = float(order.limit_price)
        else:
            (ticker,) = await self._tickers_async(ib, [order.symbol])
            price = _reference_price(ticker)
            if price is None:
                raise BrokerError(
                    f"IB has no price for {order.symbol} (no last trade, bid/ask or close in "
                    "the market-data snapshot); cannot preview a market order"
                )
        mark = len(self._errors)
        state = await ib.whatIfOrderAsync(contract, self._ib_order(order, order_ref=""))
        if not isinstance(state, self._module.OrderState):
            # ib_async ends a failed what-if request with an empty result, not an OrderState.
            raise BrokerError(
                f"IB refused the what-if preview of {order.side.value} {order.quantity} "
                f"{order.symbol}{self._errors_text(mark) or ' (no reason given)'}"
            )
        commission = known_number(state.commission)
        warnings = [state.warningText.strip()] if state.warningText.strip() else []
        if commission is None:
            low, high = known_number(state.minCommission), known_number(state.maxCommission)
            estimate = (
                f" (IB's range: {low:g} to {high:g})"
                if low is not None and high is not None
                else ""
            )
            warnings.append(f"IB did not estimate the commission{estimate}")
        if state.commissionCurrency and state.commissionCurrency != "USD":
            warnings.append(f"commission is in {state.commissionCurrency}, not USD")
        notional = price * order.quantity
        signed = -notional if order.side is OrderSide.BUY else notional
        return OrderPreview(
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            price=price,
            notional=notional,
            commission=commission,
            margin_change=known_number(state.initMarginChange),
            cash_change=None if commission is None else signed - commission,
            warnings=tuple(warnings),
        )

    def place(self, order: OrderRequest) -> OrderState:
        """``placeOrder`` with ``orderRef = order.order_ref``, the account, DAY, transmit.

        Probes the connection first (a zombie connection raises before anything is sent) and
        returns once IB acknowledged the order or ``submit_timeout`` passed; never waits for
        fills. A disconnect after sending raises :class:`BrokerDisconnected`: the order may
        have reached IB, so reconcile before doing anything else.
        """
        self._require_writable("place")
        if order.order_ref in self._trades:
            raise BrokerError(
                f"order_ref {order.order_ref} was already placed on this connection; "
                "refusing to place it twice"
            )
        # the steps before sending are bounded on their own, so this limit can never expire
        # once the order is on its way
        return self._run(
            f"place {order.order_ref}",
            lambda ib: self._place_async(ib, order),
            timeout=self._probe_timeout + 2 * self._request_timeout + self._submit_timeout,
        )

    async def _place_async(self, ib: Any, order: OrderRequest) -> OrderState:
        await self._probe_async(ib)
        # the probe's answer comes after anything the gateway sent before it (e.g. error 1100)
        self._raise_if_lost(f"place {order.order_ref}")
        (contract,) = await asyncio.wait_for(
            self._qualify_async(ib, [order.symbol]), self._request_timeout
        )
        trade = ib.placeOrder(contract, self._ib_order(order, order_ref=order.order_ref))
        self._trades[order.order_ref] = trade
        await self._wait_until(
            lambda: trade.orderStatus.status not in _NOT_ACKNOWLEDGED,
            self._submit_timeout,
            f"place {order.order_ref} (sent, so it may have reached IB)",
        )
        return self._state(trade)

    def cancel(self, order_ref: str) -> OrderState:
        """``cancelOrder`` for the order with this reference; returns its state once IB
        confirmed or ``submit_timeout`` passed. A terminal order is returned unchanged."""
        self._require_writable("cancel")
        return self._run(
            f"cancel {order_ref}",
            lambda ib: self._cancel_async(ib, order_ref),
            timeout=4 * self._request_timeout + self._submit_timeout,
        )

    async def _cancel_async(self, ib: Any, order_ref: str) -> OrderState:
        trade = self._trades.get(order_ref)
        if trade is None:
            found = await asyncio.wait_for(
                self._find_async(ib, order_ref), 3 * self._request_timeout
            )
            if found is None:
                raise BrokerError(f"cannot cancel {order_ref}: IB has no order with this reference")
            trade, state = found
            if state.status.terminal:
                return state
            if trade is None:
                raise BrokerError(
                    f"cannot cancel {order_ref}: IB reports executions for it but not the order "
                    "(placed by another client id?); cancel it in TWS"
                )
        if trade.orderStatus.status in _DONE:
            return self._state(trade)
        mark = len(self._errors)
        self._cancel_requested.add(order_ref)
        ib.cancelOrder(trade.order)
        await self._wait_until(
            lambda: trade.orderStatus.status in _DONE, self._submit_timeout, f"cancel {order_ref}"
        )
        state = self._state(trade)
        if not state.status.terminal:
            note = self._errors_text(mark).strip(" ()")
            if note:
                reason = "; ".join(part for part in (state.reason, note) if part)
                state = dataclasses.replace(state, reason=reason)
        return state

    # -------------------------------------------------------------- order state and lookup

    def order_status(self, order_ref: str) -> OrderState | None:
        """The order with this reference: from this connection's live trade when it was placed
        here, otherwise from the server's open and completed orders and executions."""
        return self._run(
            f"order status {order_ref}",
            lambda ib: self._status_async(ib, order_ref),
            timeout=3 * self._request_timeout,
        )

    async def _status_async(self, ib: Any, order_ref: str) -> OrderState | None:
        trade = self._trades.get(order_ref)
        if trade is not None:
            return self._state(trade)
        found = await self._find_async(ib, order_ref)
        return None if found is None else found[1]

    async def _find_async(self, ib: Any, order_ref: str) -> tuple[Any, OrderState] | None:
        """``(trade or None, state)`` of the one order at IB with this reference.

        Asks for all open orders (every client id), completed orders and executions, since
        ``IB.trades()`` forgets previous sessions. Raises when two different orders carry the
        reference. An order seen only through executions (e.g. placed by another client id and
        no longer listed) is reported as still open: it reached IB, so it must not be placed
        again, and nothing says it is finished.
        """
        open_trades = list(await ib.reqAllOpenOrdersAsync())
        completed = list(await ib.reqCompletedOrdersAsync(False))
        fills = list(await ib.reqExecutionsAsync(self._execution_filter()))
        candidates: dict[object, Any] = {}
        # completed orders come last: an order that finished between the two answers is listed
        # twice, and its completed entry replaces the stale open one
        for trade in open_trades + completed:
            if trade.order.orderRef == order_ref and self._ours(trade.order.account):
                candidates[_order_key(trade)] = trade
        if len(candidates) > 1:
            ids = ", ".join(_broker_order_id(trade) for trade in candidates.values())
            raise BrokerError(
                f"{len(candidates)} different IB orders carry order_ref {order_ref} ({ids}); "
                "refusing to guess which one is the leg: resolve them in TWS"
            )
        if candidates:
            (trade,) = candidates.values()
            return trade, self._state(trade, fills)
        ref_fills = [fill for fill in fills if fill.execution.orderRef == order_ref]
        if not ref_fills:
            return None
        return None, _state_from_fills(order_ref, ref_fills)

    def wait_for_terminal(self, order_ref: str, timeout: float) -> OrderState:
        """Follow the order until it is filled, cancelled or rejected, or ``timeout`` seconds
        pass (then its current, non-terminal state). Orders placed on this connection are
        followed by their status events; others by querying every ``poll_interval``."""
        limit = _positive("timeout", timeout)
        return self._run(
            f"wait for {order_ref}",
            lambda ib: self._wait_terminal_async(ib, order_ref, limit),
            timeout=limit + 3 * self._request_timeout,
        )

    async def _wait_terminal_async(self, ib: Any, order_ref: str, timeout: float) -> OrderState:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            state = await self._status_async(ib, order_ref)
            if state is None:
                raise BrokerError(f"wait for {order_ref}: IB has no order with this reference")
            remaining = deadline - loop.time()
            if state.status.terminal or remaining <= 0:
                return state
            trade = self._trades.get(order_ref)
            if trade is not None:
                await self._wait_until(
                    lambda t=trade: t.orderStatus.status in _DONE,
                    remaining,
                    f"wait for {order_ref}",
                )
            else:
                await asyncio.sleep(min(self._poll_interval, remaining))

    def open_orders(self) -> list[OrderState]:
        """Non-terminal orders of the account, from every client id (``reqAllOpenOrders``)."""
        trades = self._run("open orders", lambda ib: _listed(ib.reqAllOpenOrdersAsync))
        states = [self._state(trade) for trade in trades if self._ours(trade.order.account)]
        return [state for state in states if not state.status.terminal]

    def completed_orders(self) -> list[OrderState]:
        """Terminal orders IB still reports (``reqCompletedOrders``, API and manual), with
        fill prices from today's executions."""
        trades, fills = self._run("completed orders", self._completed_async)
        return [self._state(trade, fills) for trade in trades if self._ours(trade.order.account)]

    async def _completed_async(self, ib: Any) -> tuple[list[Any], list[Any]]:
        trades = list(await ib.reqCompletedOrdersAsync(False))
        fills = list(await ib.reqExecutionsAsync(self._execution_filter()))
        return trades, fills

    def executions(self, since: dt.datetime | None = None) -> list[Execution]:
        """Fills of the account IB reports (``reqExecutions``: the current day, or the days
        TWS is configured to keep) at or after ``since`` (naive values are taken as UTC),
        oldest first."""
        after = _as_utc(since) if since is not None else None
        fills, reports = self._run("executions", self._executions_async)
        unique = {fill.execution.execId: fill for fill in fills}
        result = [_execution(fill, reports.get(exec_id)) for exec_id, fill in unique.items()]
        return sorted(
            (item for item in result if after is None or item.time >= after),
            key=lambda item: (item.time, item.execution_id),
        )

    async def _executions_async(self, ib: Any) -> tuple[list[Any], dict[str, Any]]:
        fills = list(await ib.reqExecutionsAsync(self._execution_filter()))
        # ib_async attaches a commission report to a fill only the first time it sees the
        # execution; a fill already seen live this session comes back with an empty report.
        reports = {
            fill.execution.execId: fill.commissionReport
            for fill in ib.fills()
            if fill.commissionReport.execId
        }
        return fills, reports

    def _execution_filter(self) -> Any:
        return self._module.ExecutionFilter(acctCode=self.account)

    def _ours(self, account: str) -> bool:
        return not account or account == self.account

    def _state(self, trade: Any, fills: Iterable[Any] = ()) -> OrderState:
        """Map an ib_async ``Trade`` onto :class:`OrderState` (table in :func:`map_status`)."""
        order, status = trade.order, trade.orderStatus
        quantity = round(float(order.totalQuantity))
        own_fills = _fills_of(trade, fills)
        if status.filled or status.remaining:
            filled = float(status.filled)
        elif known_number(order.filledQuantity) is not None:
            # completed orders carry no order status, only the order's filledQuantity
            filled = float(order.filledQuantity)
        else:
            filled = sum(float(fill.execution.shares) for fill in own_fills)
        average = _known_price(status.avgFillPrice) if filled else None
        if average is None and own_fills:
            shares = sum(float(fill.execution.shares) for fill in own_fills)
            if shares:
                paid = sum(float(f.execution.shares) * float(f.execution.price) for f in own_fills)
                average = paid / shares
        mapped, reason = map_status(
            status.status,
            filled=filled,
            quantity=quantity,
            error=_last_error(trade),
            cancel_requested=order.orderRef in self._cancel_requested,
            why_held=status.whyHeld,
        )
        times = [entry.time for entry in trade.log] + [fill.time for fill in own_fills]
        stamps = [stamp for stamp in (_as_utc(t) for t in times) if stamp is not None]
        return OrderState(
            order_ref=order.orderRef,
            broker_order_id=_broker_order_id(trade),
            symbol=trade.contract.symbol,
            side=_side(order.action),
            quantity=quantity,
            filled_quantity=filled,
            average_fill_price=average,
            status=mapped,
            reason=reason,
            updated_at=max(stamps) if stamps else utc_now(),
        )


def map_status(
    ib_status: str,
    *,
    filled: float,
    quantity: int,
    error: tuple[int, str] | None = None,
    cancel_requested: bool = False,
    why_held: str = "",
) -> tuple[OrderStatus, str | None]:
    """Our :class:`OrderStatus` and a reason for an IB order status.

    ==============================================  ===========================================
    IB status                                       OrderStatus
    ==============================================  ===========================================
    Filled                                          FILLED
    Cancelled, ApiCancelled                         CANCELLED (reason: IB's message, partial
                                                    fill count)
    Cancelled after an IB error other than 202      REJECTED (reason: the error); ib_async
    (no cancel request of ours)                     turns order errors (201 rejected, 103
                                                    duplicate id, …) into Cancelled
    Cancelled after an IB error other than 202      SUBMITTED / PARTIALLY_FILLED: the error
    answering our cancel request (161, 10148, …)    answers the cancel request, the order may
                                                    still be working
    Inactive                                        REJECTED
    PendingSubmit, ApiPending, PreSubmitted,        SUBMITTED, or PARTIALLY_FILLED when
    Submitted, ApiUpdate, ValidationError,          0 < filled < quantity
    PendingCancel, and any unrecognised status
    ==============================================  ===========================================

    Unknown cases count as still open: the leg stays for reconciliation rather than being
    declared finished.
    """
    error_text = f"IB: {error[1]}" if error else None
    partial = f"{filled:g} of {quantity} shares filled" if 0 < filled < quantity else None
    if ib_status == "Filled":
        return OrderStatus.FILLED, None
    if ib_status in ("Cancelled", "ApiCancelled"):
        if ib_status == "Cancelled" and error is not None and error[0] != ORDER_CANCELLED:
            if not cancel_requested:
                return OrderStatus.REJECTED, error_text
            still_open = OrderStatus.PARTIALLY_FILLED if partial else OrderStatus.SUBMITTED
            return still_open, (
                f"IB answered the cancel request with an error ({error_text}); ib_async marks "
                "the order cancelled but it may still be working: reconcile"
            )
        parts = [error_text or f"IB status {ib_status}", partial and f"cancelled after {partial}"]
        return OrderStatus.CANCELLED, "; ".join(p for p in parts if p)
    if ib_status == "Inactive":
        return OrderStatus.REJECTED, error_text or (
            "IB status Inactive: rejected or not routable (check trading permissions, "
            "account and trading hours)"
        )
    if ib_status in _OPEN_REASONS:
        base = _OPEN_REASONS[ib_status]
        if ib_status == "ValidationError" and error_text:
            base = f"{base} ({error_text})"
    else:
        base = f"unrecognised IB status {ib_status!r}; treated as still open"
    parts = [base, partial, why_held and f"held: {why_held}"]
    status = OrderStatus.PARTIALLY_FILLED if partial else OrderStatus.SUBMITTED
    return status, "; ".join(p for p in parts if p) or None


async def _cancel_leftover_tasks() -> None:
    """Cancel what ib_async left running on the loop (e.g. a resubscription after error 1102)."""
    current = asyncio.current_task()
    leftovers = [task for task in asyncio.all_tasks() if task is not current]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


async def _listed(request: Callable[..., Any], *args: Any) -> list[Any]:
    """``list(await request(*args))``; the request itself must start inside the loop."""
    return list(await request(*args))


def _symbols(symbols: Sequence[str]) -> list[str]:
    if isinstance(symbols, str):
        raise ValueError(f"symbols must be a sequence of tickers, not the string {symbols!r}")
    wanted = list(dict.fromkeys(symbols))
    bad = [symbol for symbol in wanted if not isinstance(symbol, str) or not symbol.strip()]
    if bad:
        raise ValueError(f"symbols must be non-empty strings, got {bad!r}")
    return wanted


def _side(action: str) -> OrderSide:
    try:
        return _SIDES[action]
    except KeyError:
        raise BrokerError(f"IB order action {action!r} is not BUY or SELL") from None


def _order_key(trade: Any) -> object:
    order = trade.order
    return order.permId or (order.clientId, order.orderId)


def _broker_order_id(trade: Any) -> str:
    """IB's permanent id once IB assigned one, else ``client id/order id``."""
    order = trade.order
    return str(order.permId) if order.permId else f"{order.clientId}/{order.orderId}"


def _last_error(trade: Any) -> tuple[int, str] | None:
    errors = [(entry.errorCode, entry.message) for entry in trade.log if entry.errorCode]
    return errors[-1] if errors else None


def _fills_of(trade: Any, fills: Iterable[Any]) -> list[Any]:
    """The trade's own fills plus those of ``fills`` that belong to it, once per execution."""
    order = trade.order
    unique: dict[str, Any] = {}
    for fill in [*trade.fills, *fills]:
        execution = fill.execution
        if order.permId:
            mine = execution.permId == order.permId
        else:
            mine = bool(order.orderRef) and execution.orderRef == order.orderRef
        if mine:
            unique.setdefault(execution.execId, fill)
    return list(unique.values())


def _state_from_fills(order_ref: str, fills: Sequence[Any]) -> OrderState:
    unique = list({fill.execution.execId: fill for fill in fills}.values())
    filled = sum(float(fill.execution.shares) for fill in unique)
    paid = sum(float(fill.execution.shares) * float(fill.execution.price) for fill in unique)
    latest = max(unique, key=lambda fill: fill.execution.time)
    return OrderState(
        order_ref=order_ref,
        broker_order_id=str(latest.execution.permId),
        symbol=latest.contract.symbol,
        side=_execution_side(latest.execution),
        quantity=round(filled),
        filled_quantity=filled,
        average_fill_price=paid / filled if filled else None,
        status=OrderStatus.PARTIALLY_FILLED,
        reason=(
            "IB reports executions for this reference but not the order itself (placed by "
            "another client id?); its ordered quantity and final state are unknown"
        ),
        updated_at=_as_utc(latest.execution.time) or utc_now(),
    )


def _execution_side(execution: Any) -> OrderSide:
    side = _EXECUTION_SIDES.get(execution.side)
    if side is None:
        raise BrokerError(f"IB execution {execution.execId} has side {execution.side!r}")
    return side


def _execution(fill: Any, session_report: Any = None) -> Execution:
    execution = fill.execution
    report = fill.commissionReport if fill.commissionReport.execId else session_report
    # a fill's commission report arrives separately; until then its execId is empty
    commission = known_number(report.commission) if report is not None and report.execId else None
    return Execution(
        execution_id=execution.execId,
        order_ref=execution.orderRef,
        symbol=fill.contract.symbol,
        side=_execution_side(execution),
        quantity=float(execution.shares),
        price=float(execution.price),
        commission=commission,
        time=_as_utc(execution.time) or _as_utc(fill.time) or utc_now(),
        currency=getattr(fill.contract, "currency", "") or None,
        account=execution.acctNumber or None,
    )


def _reference_price(ticker: Any) -> float | None:
    """Last trade, else bid/ask midpoint, else previous close."""
    last = _known_price(ticker.last)
    if last is not None:
        return last
    bid, ask = _known_price(ticker.bid), _known_price(ticker.ask)
    if bid is not None and ask is not None:
        return (bid + ask) / 2
    return _known_price(ticker.close)


def _quote(symbol: str, ticker: Any) -> Quote:
    return Quote(
        symbol=symbol,
        last=_known_price(ticker.last),
        bid=_known_price(ticker.bid),
        ask=_known_price(ticker.ask),
        time=_as_utc(ticker.time),
    )
