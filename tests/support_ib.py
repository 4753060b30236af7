"""A fake IB Gateway and ib_async client for testing IbBroker without a gateway.

:class:`FakeGateway` is the server: accounts, listed contracts, prices, positions, and the orders
and executions it received (these survive reconnects). :class:`FakeIB` is one client
connection with the subset of ``ib_async.IB``'s API that ``IbBroker`` uses, with the same
names, signatures, return types and events. Everything it returns is built from ib_async's own
classes (``Trade``, ``OrderStatus``, ``OrderState``, ``Fill``, ``Execution``,
``CommissionReport``, ``TradeLogEntry``, ``AccountValue``, ``Position``, ``Ticker``), and it
reproduces the ib_async behaviours the adapter depends on (read from ib_async 2.1.0's
``ib.py`` and ``wrapper.py``):

- ``qualifyContractsAsync`` fills in contracts in place and returns ``None`` for unknown ones
  (after an error 200 on ``errorEvent``);
- ``whatIfOrderAsync`` resolves to an ``OrderState`` (fields as strings, commission floats,
  ``UNSET_DOUBLE`` where IB computed nothing) or, when IB refuses, to an empty list;
- ``placeOrder`` returns a ``Trade`` in ``PendingSubmit`` and later emits ``orderStatusEvent``
  / ``trade.statusEvent`` as the order moves on, ``execDetailsEvent`` / ``trade.fillEvent`` and
  ``commissionReportEvent`` per fill; an order error turns the trade ``Cancelled`` with the
  error in its log, as ib_async's wrapper does;
- ``reqAllOpenOrdersAsync`` lists the open orders of every client id, ``reqCompletedOrdersAsync``
  returns new ``Trade`` objects that carry only the status (the filled quantity is in
  ``order.filledQuantity``), ``reqExecutionsAsync`` returns ``Fill`` objects whose commission
  report is empty for executions this session already saw live;
- a new connection starts with no trades (``trades()`` is empty: the previous session's orders
  are only visible through the requests above);
- a lost socket fails every pending request with ``ConnectionError("Socket disconnect")``,
  marks the trades' events done, clears the session and emits ``disconnectedEvent``.

Order progress is scripted per symbol (``FakeGateway.behaviour``: fill, partial,
partial_then_fill, reject, inactive, hold) and runs on the client's event loop, so like the
real thing it only advances while the adapter is inside a call. Faults are switches on the
gateway: refused connections, requests never answered (a zombie connection when it is
``reqCurrentTimeAsync``), a socket lost after ``placeOrder``, during a request, after N order
events or between calls, refused cancels, fills landing between two requests, executions of an
earlier day no longer reported.

Historical data (for ``PORTFOLIO_MARKET_DATA=ib``): ``reqContractDetailsAsync`` answers from
``FakeGateway.classifications`` (an unknown symbol: error 200 and an empty list, as ib_async
ends a failed request); ``reqHistoricalDataAsync`` serves ``FakeGateway.daily_bars`` as
``BarData`` with ``date`` a ``datetime.date`` (daily bars, ``formatDate=1``), ``N D`` counted
as calendar days back from the end (no ``endDateTime``: the gateway's ``history_today``) and
``ADJUSTED_LAST`` scaled by each bar's factor. Every request is recorded with the time of
``FakeGateway.clock`` (a fake clock in tests) so a test can check IB's pacing rules on what
arrived. Faults: ``pacing_violations`` (error 162 "pacing violation", then the empty list) and
``drop_on_history_request`` (the socket is lost at the N-th request). :func:`history_gateway`
builds a gateway with the market index, the sector ETFs and a few classified stocks.

:class:`TwsProtocolStub` is different: a few bytes of the real socket protocol, so the real
``ib_async.IB`` can connect, be probed and be lost.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import itertools
import math
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ib_async import (
    AccountValue,
    BarData,
    BarDataList,
    CommissionReport,
    Contract,
    ContractDetails,
    Event,
    Execution,
    ExecutionFilter,
    Fill,
    Order,
    OrderState,
    OrderStatus,
    Position,
    Ticker,
    Trade,
    TradeLogEntry,
)
from ib_async.util import UNSET_DOUBLE, dataclassUpdate

ACCOUNT = "DU1234567"
OTHER_ACCOUNT = "DU7654321"
FIRST_ORDER_ID = 1000  # the gateway's nextValidId at the first connection
STEP_DELAY = 0.005  # seconds between scripted order events


@dataclass
class Listing:
    """A contract the gateway knows, with its snapshot prices (NaN / -1 = none)."""

    con_id: int
    primary_exchange: str
    last: float
    bid: float
    ask: float
    close: float
    sec_type: str = "STK"


def default_listings() -> dict[str, Listing]:
    return {
        "SPY": Listing(756733, "ARCA", 500.0, 499.9, 500.1, 498.0),
        "AAPL": Listing(265598, "NASDAQ", 200.0, 199.95, 200.05, 198.0),
        "MSFT": Listing(272093, "NASDAQ", 400.0, 399.9, 400.1, 395.0),
        "IWM": Listing(9579970, "ARCA", math.nan, 210.0, 210.2, 209.0),
        "QQQ": Listing(320227571, "NASDAQ", math.nan, -1.0, -1.0, 450.0),
    }


@dataclass(frozen=True)
class DailyBar:
    """One session of a symbol's history as the gateway holds it: raw prices and volume, and
    the factor IB's dividend adjustment applies to them (``ADJUSTED_LAST`` = raw x factor)."""

    date: dt.date
    open: float
    high: float
    low: float
    close: float
    volume: float
    factor: float = 1.0


@dataclass(frozen=True)
class Classification:
    """IB's contract details of a listing beyond the contract itself."""

    long_name: str
    industry: str = ""
    category: str = ""
    subcategory: str = ""
    stock_type: str = "COMMON"


@dataclass(frozen=True)
class HistoryRequest:
    """A ``reqHistoricalData`` the gateway received, at ``time`` on the gateway's clock."""

    symbol: str
    con_id: int
    end: str
    duration: str
    bar_size: str
    what_to_show: str
    use_rth: bool
    time: float


PACING_MESSAGE = (
    "Historical Market Data Service error message:Historical data request pacing violation"
)


@dataclass
class ServerOrder:
    """An order as the gateway holds it."""

    contract: Contract
    order: Order
    client_id: int
    status: str
    steps: list[tuple[Any, ...]]
    filled: float = 0.0
    avg_price: float = 0.0
    fills: list[Fill] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status in OrderStatus.DoneStates

    @property
    def remaining(self) -> float:
        return float(self.order.totalQuantity) - self.filled


def _script(behaviour: str, quantity: float) -> list[tuple[Any, ...]]:
    half = max(1.0, float(quantity // 2))
    rest = float(quantity) - half
    scripts: dict[str, list[tuple[Any, ...]]] = {
        "fill": [("status", "PreSubmitted"), ("status", "Submitted"), ("fill", float(quantity))],
        "partial": [("status", "PreSubmitted"), ("status", "Submitted"), ("fill", half)],
        "partial_then_fill": [
            ("status", "PreSubmitted"),
            ("status", "Submitted"),
            ("fill", half),
            ("fill", rest),
        ],
        "reject": [("error", 201, "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED")],
        "inactive": [("status", "PreSubmitted"), ("status", "Inactive")],
        "hold": [("status", "PreSubmitted")],
    }
    return scripts[behaviour]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ib_date(text: str) -> dt.date:
    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))


class FakeGateway:
    """Server-side state shared by every :class:`FakeIB` connection."""

    def __init__(self) -> None:
        self.accounts = [ACCOUNT]
        self.listings = default_listings()
        self.behaviour: dict[str, str] = {}
        self.live_subscription = False  # without it only delayed data (type 3/4) is served
        self.positions: dict[tuple[str, str], tuple[float, float]] = {
            (ACCOUNT, "AAPL"): (100.0, 150.0),
            (ACCOUNT, "MSFT"): (0.0, 0.0),
            (OTHER_ACCOUNT, "SPY"): (7.0, 400.0),
        }
        self.account_values = {"NetLiquidation": "250000.50", "TotalCashValue": "100000.25"}
        self.what_if: OrderState | None = None
        self.what_if_error: tuple[int, str] | None = None
        self.refuse = False
        self.unanswered: set[str] = set()  # requests the gateway never answers
        self.drop_after_place = False
        self.drop_on: set[str] = set()
        self.drop_after_steps: int | None = None  # drop the placing session after N events
        self.steps_applied = 0
        self.next_valid_id = FIRST_ORDER_ID
        self.orders: list[ServerOrder] = []
        self.what_if_orders: list[Order] = []
        self.hidden_refs: set[str] = set()
        self.executions_expired = False
        self.fill_between_requests = False  # orders finish right after the open-orders answer
        self.cancel_error: tuple[int, str] | None = None  # IB refuses cancel requests
        self.cancel_requests: list[int] = []
        self.requests: list[str] = []
        self.qualify_requests: list[str] = []
        self.market_data_types: list[int] = []
        self.connections: list[dict[str, Any]] = []
        self.sessions: list[FakeIB] = []
        self.client_ids_in_use: set[int] = set()
        # historical data: bars and classification per symbol, the gateway's "today" (the end
        # of a request without endDateTime), requests received, and faults
        self.daily_bars: dict[str, list[DailyBar]] = {}
        self.classifications: dict[str, Classification] = {}
        self.history_today: dt.date | None = None
        self.history_requests: list[HistoryRequest] = []
        self.details_requests: list[str] = []
        self.pacing_violations: dict[str, int] = {}  # answer 162 this many times per symbol
        self.drop_on_history_request: int | None = None  # socket lost at the N-th request
        self.clock: Callable[[], float] = time.monotonic
        self._perm_ids = itertools.count(900_000_001)
        self._exec_ids = itertools.count(1)

    def client(self) -> FakeIB:
        """The client factory handed to ``IbBroker(client_factory=...)``."""
        session = FakeIB(self)
        self.sessions.append(session)
        return session

    # -- server-side order handling

    def receive(self, contract: Contract, order: Order, client_id: int) -> ServerOrder:
        record = ServerOrder(
            contract=copy.copy(contract),
            order=copy.copy(order),
            client_id=client_id,
            status="PendingSubmit",
            steps=_script(self.behaviour.get(contract.symbol, "fill"), order.totalQuantity),
        )
        record.order.permId = next(self._perm_ids)
        self.next_valid_id = max(self.next_valid_id, order.orderId + 1)
        self.orders.append(record)
        return record

    def apply_next(self, record: ServerOrder) -> list[tuple[Any, ...]]:
        """Apply the record's next scripted step server-side; what a client would be told."""
        if not record.steps or record.done:
            return []
        kind, *args = record.steps.pop(0)
        if kind == "status":
            record.status = args[0]
            return [("status",)]
        if kind == "error":
            record.status = "Cancelled"
            return [("error", *args)]
        fill = self._execute(record, float(args[0]))
        return [("fill", fill), ("status",)]

    def _execute(self, record: ServerOrder, shares: float) -> Fill:
        listing = self.listings[record.contract.symbol]
        price = listing.last if not math.isnan(listing.last) else listing.ask
        record.avg_price = (record.avg_price * record.filled + price * shares) / (
            record.filled + shares
        )
        record.filled += shares
        record.status = "Filled" if record.remaining <= 0 else "Submitted"
        order = record.order
        exec_id = f"0000e0d5.{next(self._exec_ids):08d}.01.01"
        execution = Execution(
            execId=exec_id,
            time=_now(),
            acctNumber=order.account,
            exchange="ISLAND",
            side="BOT" if order.action == "BUY" else "SLD",
            shares=shares,
            price=price,
            permId=order.permId,
            clientId=record.client_id,
            orderId=order.orderId,
            cumQty=record.filled,
            avgPrice=record.avg_price,
            orderRef=order.orderRef,
        )
        commission = round(max(1.0, 0.005 * shares), 4)
        report = CommissionReport(execId=exec_id, commission=commission, currency="USD")
        fill = Fill(record.contract, execution, report, execution.time)
        record.fills.append(fill)
        return fill

    def advance(self) -> None:
        """Let time pass with no client listening: every order runs its script to the end."""
        for record in self.orders:
            while record.steps and not record.done:
                self.apply_next(record)

    def forget_order(self, order_ref: str) -> None:
        """Drop orders from the open/completed lists while keeping their executions (IB
        stops listing completed orders of other client ids and older sessions)."""
        self.hidden_refs.add(order_ref)

    def expire_executions(self) -> None:
        """A new day: reqExecutions no longer reports yesterday's fills (completed orders
        still list them, with their filled quantity)."""
        self.executions_expired = True

    def listed_orders(self) -> list[ServerOrder]:
        return [record for record in self.orders if record.order.orderRef not in self.hidden_refs]

    def find(self, client_id: int, order_id: int, perm_id: int) -> ServerOrder | None:
        for record in self.orders:
            if perm_id and record.order.permId == perm_id:
                return record
            if record.client_id == client_id and record.order.orderId == order_id:
                return record
        return None

    def default_what_if(self, symbol: str, order: Order) -> OrderState:
        listing = self.listings[symbol]
        notional = float(order.totalQuantity) * listing.close
        return OrderState(
            status="PreSubmitted",
            initMarginBefore="1000.0",
            maintMarginBefore="800.0",
            equityWithLoanBefore="250000.5",
            initMarginChange=f"{0.25 * notional}",
            maintMarginChange=f"{0.2 * notional}",
            equityWithLoanChange="-1.0",
            initMarginAfter=f"{1000.0 + 0.25 * notional}",
            maintMarginAfter=f"{800.0 + 0.2 * notional}",
            equityWithLoanAfter="250000.5",
            commission=1.0,
            minCommission=UNSET_DOUBLE,
            maxCommission=UNSET_DOUBLE,
            commissionCurrency="USD",
        )


class FakeIB:
    """One client connection; the ``ib_async.IB`` API surface IbBroker uses."""

    def __init__(self, gateway: FakeGateway) -> None:
        self.gateway = gateway
        self.connectedEvent = Event("connectedEvent")
        self.disconnectedEvent = Event("disconnectedEvent")
        self.errorEvent = Event("errorEvent")
        self.newOrderEvent = Event("newOrderEvent")
        self.orderStatusEvent = Event("orderStatusEvent")
        self.cancelOrderEvent = Event("cancelOrderEvent")
        self.execDetailsEvent = Event("execDetailsEvent")
        self.commissionReportEvent = Event("commissionReportEvent")
        self.client_id = -1
        self.loop: asyncio.AbstractEventLoop | None = None
        self.market_data_type = 1
        self._connected = False
        self._next_id = 0
        self._req_ids = itertools.count(1)
        self._trades: dict[tuple[int, int], Trade] = {}
        self._fills: dict[str, Fill] = {}
        self._pending: list[asyncio.Future[Any]] = []
        self._timers: list[asyncio.TimerHandle] = []

    # -- connection

    async def connectAsync(
        self,
        host: str = "127.0.0.1",
        port: int = 7497,
        clientId: int = 1,
        timeout: float | None = 4,
        readonly: bool = False,
        account: str = "",
        raiseSyncErrors: bool = False,
    ) -> FakeIB:
        gateway = self.gateway
        gateway.connections.append(
            {"host": host, "port": port, "client_id": clientId, "readonly": readonly}
        )
        await asyncio.sleep(0)
        if gateway.refuse:
            raise ConnectionRefusedError(111, f"Connect call failed ('{host}', {port})")
        if clientId in gateway.client_ids_in_use:
            # TWS sends error 326 and closes the socket; ib_async then times out waiting for
            # the API to start.
            self.errorEvent.emit(
                -1,
                326,
                "Unable to connect as the client id is already in use. "
                "Retry with a unique client id.",
                None,
            )
            raise TimeoutError()
        self.client_id = clientId
        self.loop = asyncio.get_running_loop()
        self._next_id = gateway.next_valid_id
        self._connected = True
        gateway.client_ids_in_use.add(clientId)
        self.connectedEvent.emit()
        return self

    def isConnected(self) -> bool:
        return self._connected

    def disconnect(self) -> str | None:
        if not self._connected:
            return None
        self._close_session()
        self.disconnectedEvent.emit()
        return "Disconnecting"

    def drop_between_calls(self) -> None:
        """The socket breaks while the adapter is not inside a call: ib_async only learns it
        when the loop runs again."""
        assert self.loop is not None
        self.loop.call_soon(self.drop)

    def drop(self) -> None:
        """The socket breaks (gateway restart, network): ib_async's ``_onSocketDisconnected``."""
        if not self._connected:
            return
        for trade in self._trades.values():
            for name in Trade.events:
                getattr(trade, name).set_done()
        for future in self._pending:
            if not future.done():
                future.set_exception(ConnectionError("Socket disconnect"))
        self._close_session()
        self.disconnectedEvent.emit()

    def _close_session(self) -> None:
        self._connected = False
        self.gateway.client_ids_in_use.discard(self.client_id)
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._trades.clear()
        self._fills.clear()

    def emit_error(self, code: int, message: str, req_id: int = -1) -> None:
        """A message from the gateway on ``errorEvent`` (e.g. 1100 connectivity lost)."""
        self.errorEvent.emit(req_id, code, message, None)

    def managedAccounts(self) -> list[str]:
        return list(self.gateway.accounts)

    def trades(self) -> list[Trade]:
        return list(self._trades.values())

    def fills(self) -> list[Fill]:
        return list(self._fills.values())

    # -- requests

    def _request(self, name: str, answer: Callable[[], Any]) -> asyncio.Future[Any]:
        """A request future answered on a later loop iteration, like a network round trip."""
        if not self._connected:
            raise ConnectionError("Not connected")
        self.gateway.requests.append(name)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append(future)
        if name in self.gateway.drop_on:
            loop.call_soon(self.drop)
        elif name not in self.gateway.unanswered:

            def respond() -> None:
                if not future.done() and self._connected:
                    future.set_result(answer())

            loop.call_soon(respond)
        return future

    def reqCurrentTimeAsync(self) -> asyncio.Future[dt.datetime]:
        return self._request("reqCurrentTimeAsync", lambda: _now().replace(microsecond=0))

    async def qualifyContractsAsync(
        self,
        *contracts: Contract,
        returnAll: bool = False,
    ) -> list[Contract | None]:
        def answer() -> list[Contract | None]:
            result: list[Contract | None] = []
            for contract in contracts:
                self.gateway.qualify_requests.append(contract.symbol)
                listing = self.gateway.listings.get(contract.symbol)
                if listing is None or contract.secType != listing.sec_type:
                    self.errorEvent.emit(
                        next(self._req_ids),
                        200,
                        "No security definition has been found for the request",
                        contract,
                    )
                    result.append(None)
                    continue
                contract.conId = listing.con_id
                contract.primaryExchange = listing.primary_exchange
                contract.localSymbol = contract.symbol
                contract.tradingClass = "NMS"
                result.append(contract)
            return result

        return await self._request("qualifyContractsAsync", answer)

    def whatIfOrderAsync(
        self, contract: Contract, order: Order
    ) -> asyncio.Future[OrderState | list[Any]]:
        what_if = copy.copy(order)
        what_if.whatIf = True
        req_id = self._take_order_id()
        self.gateway.what_if_orders.append(what_if)

        def answer() -> OrderState | list[Any]:
            if self.gateway.what_if_error is not None:
                code, message = self.gateway.what_if_error
                self.errorEvent.emit(req_id, code, message, contract)
                return []
            return self.gateway.what_if or self.gateway.default_what_if(contract.symbol, what_if)

        return self._request("whatIfOrderAsync", answer)

    def accountSummaryAsync(self, account: str = "") -> asyncio.Future[list[AccountValue]]:
        def answer() -> list[AccountValue]:
            values = []
            for name in self.gateway.accounts:
                values.append(AccountValue(name, "AccountType", "INDIVIDUAL", "", ""))
                for tag, value in self.gateway.account_values.items():
                    values.append(AccountValue(name, tag, value, "USD", ""))
                values.append(AccountValue(name, "TotalCashBalance", "5.0", "EUR", ""))
            return [v for v in values if not account or v.account == account]

        return self._request("accountSummaryAsync", answer)

    def reqPositionsAsync(self) -> asyncio.Future[list[Position]]:
        def answer() -> list[Position]:
            positions = []
            for (account, symbol), (quantity, cost) in self.gateway.positions.items():
                listing = self.gateway.listings[symbol]
                contract = Contract(
                    secType=listing.sec_type,
                    conId=listing.con_id,
                    symbol=symbol,
                    localSymbol=symbol,
                    currency="USD",
                    exchange="",
                    primaryExchange=listing.primary_exchange,
                )
                positions.append(Position(account, contract, quantity, cost))
            return positions

        return self._request("reqPositionsAsync", answer)

    def reqContractDetailsAsync(self, contract: Contract) -> asyncio.Future[list[ContractDetails]]:
        req_id = next(self._req_ids)
        self.gateway.details_requests.append(contract.symbol)

        def answer() -> list[ContractDetails]:
            listing = self.gateway.listings.get(contract.symbol)
            classification = self.gateway.classifications.get(contract.symbol)
            if listing is None or classification is None:
                self.errorEvent.emit(
                    req_id, 200, "No security definition has been found for the request", contract
                )
                return []
            found = Contract(
                secType=listing.sec_type,
                conId=listing.con_id,
                symbol=contract.symbol,
                exchange="SMART",
                primaryExchange=listing.primary_exchange,
                currency="USD",
                localSymbol=contract.symbol,
                tradingClass=contract.symbol,
            )
            return [
                ContractDetails(
                    contract=found,
                    marketName=contract.symbol,
                    longName=classification.long_name,
                    industry=classification.industry,
                    category=classification.category,
                    subcategory=classification.subcategory,
                    stockType=classification.stock_type,
                )
            ]

        return self._request("reqContractDetailsAsync", answer)

    async def reqHistoricalDataAsync(
        self,
        contract: Contract,
        endDateTime: dt.datetime | dt.date | str | None,
        durationStr: str,
        barSizeSetting: str,
        whatToShow: str,
        useRTH: bool,
        formatDate: int = 1,
        keepUpToDate: bool = False,
        chartOptions: list[Any] | None = None,
        timeout: float = 60,
    ) -> BarDataList:
        """Daily bars like IB: ``N D`` is N calendar days ending with the end date (``Y``: 365
        days a year); no endDateTime means up to the gateway's today; ``ADJUSTED_LAST`` scales
        the raw prices by each bar's factor. Faults: pacing violations (error 162, then the
        empty list ib_async returns after an error) and a socket lost at the N-th request."""
        gateway = self.gateway
        if not self._connected:
            raise ConnectionError("Not connected")
        symbol = next(
            s for s, listing in gateway.listings.items() if listing.con_id == contract.conId
        )
        assert isinstance(endDateTime, str)
        gateway.history_requests.append(
            HistoryRequest(
                symbol=symbol,
                con_id=contract.conId,
                end=endDateTime,
                duration=durationStr,
                bar_size=barSizeSetting,
                what_to_show=whatToShow,
                use_rth=useRTH,
                time=gateway.clock(),
            )
        )
        bars = BarDataList()
        bars.reqId = next(self._req_ids)
        if len(gateway.history_requests) == gateway.drop_on_history_request:
            gateway.drop_on.add("reqHistoricalDataAsync")

        def answer() -> BarDataList:
            if gateway.pacing_violations.get(symbol, 0) > 0:
                gateway.pacing_violations[symbol] -= 1
                self.errorEvent.emit(bars.reqId, 162, PACING_MESSAGE, contract)
                return bars
            assert gateway.history_today is not None
            last = gateway.history_today if not endDateTime else _ib_date(endDateTime[:8])
            count, unit = durationStr.split()
            days = int(count) * (365 if unit == "Y" else 1)
            first = last - dt.timedelta(days=days - 1)
            for bar in gateway.daily_bars.get(symbol, []):
                if first <= bar.date <= last:
                    scale = bar.factor if whatToShow == "ADJUSTED_LAST" else 1.0
                    bars.append(
                        BarData(
                            date=bar.date,
                            open=bar.open * scale,
                            high=bar.high * scale,
                            low=bar.low * scale,
                            close=bar.close * scale,
                            volume=bar.volume,
                            average=bar.close * scale,
                            barCount=100,
                        )
                    )
            return bars

        return await self._request("reqHistoricalDataAsync", answer)

    def reqMarketDataType(self, marketDataType: int) -> None:
        if not self._connected:
            raise ConnectionError("Not connected")
        self.market_data_type = marketDataType
        self.gateway.market_data_types.append(marketDataType)

    async def reqTickersAsync(
        self,
        *contracts: Contract,
        regulatorySnapshot: bool = False,
    ) -> list[Ticker]:
        def answer() -> list[Ticker]:
            tickers = []
            for contract in contracts:
                ticker = Ticker(contract=contract)
                listing = self.gateway.listings[contract.symbol]
                if self.gateway.live_subscription or self.market_data_type in (3, 4):
                    ticker.marketDataType = 1 if self.gateway.live_subscription else 3
                    ticker.last, ticker.bid, ticker.ask = listing.last, listing.bid, listing.ask
                    ticker.close = listing.close
                    ticker.bidSize = ticker.askSize = 100.0
                    ticker.time = _now()
                else:
                    self.errorEvent.emit(
                        next(self._req_ids),
                        10089,
                        "Requested market data requires additional subscription for API.",
                        contract,
                    )
                tickers.append(ticker)
            return tickers

        return await self._request("reqTickersAsync", answer)

    # -- orders

    def _take_order_id(self) -> int:
        if not self._connected:
            raise ConnectionError("Not connected")
        order_id = self._next_id
        self._next_id += 1
        return order_id

    def placeOrder(self, contract: Contract, order: Order) -> Trade:
        order_id = order.orderId or self._take_order_id()
        order.clientId = self.client_id
        order.orderId = order_id
        status = OrderStatus(orderId=order_id, status=OrderStatus.PendingSubmit)
        trade = Trade(contract, order, status, [], [TradeLogEntry(_now(), status.status)])
        self._trades[(self.client_id, order_id)] = trade
        self.newOrderEvent.emit(trade)
        record = self.gateway.receive(contract, order, self.client_id)
        loop = asyncio.get_running_loop()
        if self.gateway.drop_after_place:
            loop.call_soon(self.drop)
        else:
            self._schedule(record, trade, loop)
        return trade

    def _schedule(self, record: ServerOrder, trade: Trade, loop: asyncio.AbstractEventLoop) -> None:
        def step() -> None:
            for event in self.gateway.apply_next(record):
                self._tell(trade, record, event)
            self.gateway.steps_applied += 1
            if self.gateway.steps_applied == self.gateway.drop_after_steps:
                self.drop()
                return
            if record.steps and not record.done and self._connected:
                self._timers.append(loop.call_later(STEP_DELAY, step))

        self._timers.append(loop.call_later(STEP_DELAY, step))

    def _tell(self, trade: Trade, record: ServerOrder, event: tuple[Any, ...]) -> None:
        """What ib_async's wrapper does when the gateway reports ``event`` for ``trade``."""
        kind = event[0]
        trade.order.permId = record.order.permId
        if kind == "status":
            self._status(trade, record)
        elif kind == "fill":
            server_fill: Fill = event[1]
            fill = Fill(trade.contract, server_fill.execution, CommissionReport(), _now())
            self._fills[fill.execution.execId] = fill
            trade.fills.append(fill)
            trade.log.append(
                TradeLogEntry(
                    fill.time,
                    trade.orderStatus.status,
                    f"Fill {fill.execution.shares}@{fill.execution.price}",
                )
            )
            self.execDetailsEvent.emit(trade, fill)
            trade.fillEvent.emit(trade, fill)
            dataclassUpdate(fill.commissionReport, server_fill.commissionReport)
            self.commissionReportEvent.emit(trade, fill, fill.commissionReport)
            trade.commissionReportEvent.emit(trade, fill, fill.commissionReport)
        else:
            _, code, message = event
            text = f"Error {code}, reqId {trade.order.orderId}: {message}"
            if not trade.isDone():
                trade.orderStatus.status = OrderStatus.Cancelled
                trade.log.append(TradeLogEntry(_now(), OrderStatus.Cancelled, text, code))
                self.orderStatusEvent.emit(trade)
                trade.statusEvent.emit(trade)
                trade.cancelledEvent.emit(trade)
            self.errorEvent.emit(trade.order.orderId, code, message, trade.contract)

    def _status(self, trade: Trade, record: ServerOrder) -> None:
        old = trade.orderStatus.status
        dataclassUpdate(
            trade.orderStatus,
            status=record.status,
            filled=record.filled,
            remaining=record.remaining,
            avgFillPrice=record.avg_price,
            permId=record.order.permId,
            clientId=record.client_id,
        )
        trade.log.append(TradeLogEntry(_now(), record.status, ""))
        self.orderStatusEvent.emit(trade)
        trade.statusEvent.emit(trade)
        if record.status != old:
            if record.status == OrderStatus.Filled:
                trade.filledEvent.emit(trade)
            elif record.status == OrderStatus.Cancelled:
                trade.cancelledEvent.emit(trade)

    def cancelOrder(self, order: Order, manualCancelOrderTime: str = "") -> Trade | None:
        if not self._connected:
            raise ConnectionError("Not connected")
        self.gateway.cancel_requests.append(order.orderId)
        trade = self._trades.get((order.clientId, order.orderId))
        if trade is not None and not trade.isDone():
            trade.orderStatus.status = OrderStatus.PendingCancel
            trade.log.append(TradeLogEntry(_now(), OrderStatus.PendingCancel))
            trade.cancelEvent.emit(trade)
            trade.statusEvent.emit(trade)
            self.cancelOrderEvent.emit(trade)
            self.orderStatusEvent.emit(trade)
        record = self.gateway.find(order.clientId, order.orderId, order.permId)
        loop = asyncio.get_running_loop()

        def confirm() -> None:
            if record is None or record.client_id != self.client_id:
                self.errorEvent.emit(
                    order.orderId,
                    10147,
                    f"OrderId {order.orderId} that needs to be cancelled is not found.",
                    None,
                )
                return
            if record.done:
                return
            if self.gateway.cancel_error is not None:
                if trade is not None:  # ib_async's wrapper.error marks the trade Cancelled
                    self._tell(trade, record, ("error", *self.gateway.cancel_error))
                return
            record.status = OrderStatus.Cancelled
            record.steps.clear()
            if trade is not None:
                self._status(trade, record)
            self.errorEvent.emit(order.orderId, 202, "Order Canceled - reason:", None)

        self._timers.append(loop.call_later(STEP_DELAY, confirm))
        return trade

    def _session_trade(self, record: ServerOrder, status: OrderStatus) -> Trade:
        key = (record.client_id, record.order.orderId)
        trade = self._trades.get(key)
        if trade is None:
            trade = Trade(copy.copy(record.contract), copy.copy(record.order), status, [], [])
            self._trades[key] = trade
        else:
            dataclassUpdate(trade.orderStatus, status)
        self._next_id = max(self._next_id, record.order.orderId + 1)
        return trade

    def _finish_orders_now(self) -> None:
        """Every order runs to the end at once; this session hears about its own trades."""
        for record in self.gateway.orders:
            trade = self._trades.get((record.client_id, record.order.orderId))
            while record.steps and not record.done:
                for event in self.gateway.apply_next(record):
                    if trade is not None and record.client_id == self.client_id:
                        self._tell(trade, record, event)

    def reqAllOpenOrdersAsync(self) -> asyncio.Future[list[Trade]]:
        def answer() -> list[Trade]:
            trades = [
                self._session_trade(
                    record,
                    OrderStatus(
                        orderId=record.order.orderId,
                        status=record.status,
                        filled=record.filled,
                        remaining=record.remaining,
                        avgFillPrice=record.avg_price,
                        permId=record.order.permId,
                        clientId=record.client_id,
                    ),
                )
                for record in self.gateway.listed_orders()
                if not record.done
            ]
            if self.gateway.fill_between_requests:
                self._finish_orders_now()
            return trades

        return self._request("reqAllOpenOrdersAsync", answer)

    def reqCompletedOrdersAsync(self, apiOnly: bool) -> asyncio.Future[list[Trade]]:
        def answer() -> list[Trade]:
            trades = []
            for record in self.gateway.listed_orders():
                if not record.done:
                    continue
                order = copy.copy(record.order)
                order.filledQuantity = record.filled
                status = OrderStatus(orderId=order.orderId, status=record.status)
                trades.append(Trade(copy.copy(record.contract), order, status, [], []))
            return trades

        return self._request("reqCompletedOrdersAsync", answer)

    def reqExecutionsAsync(
        self,
        execFilter: ExecutionFilter | None = None,
    ) -> asyncio.Future[list[Fill]]:
        wanted = execFilter or ExecutionFilter()

        def answer() -> list[Fill]:
            fills: list[Fill] = []
            if self.gateway.executions_expired:
                return fills
            for record in self.gateway.orders:
                for server_fill in record.fills:
                    execution = server_fill.execution
                    if wanted.acctCode and execution.acctNumber != wanted.acctCode:
                        continue
                    if wanted.clientId and execution.clientId != wanted.clientId:
                        continue
                    seen = execution.execId in self._fills
                    report = CommissionReport() if seen else copy.copy(server_fill.commissionReport)
                    fill = Fill(server_fill.contract, execution, report, execution.time)
                    if not seen:
                        self._fills[execution.execId] = fill
                    fills.append(fill)
            return fills

        return self._request("reqExecutionsAsync", answer)


class TwsProtocolStub:
    """The few bytes of the TWS API socket protocol a real ``ib_async.IB`` needs to connect.

    A thread serves one connection at a time on 127.0.0.1: the handshake (server version 176),
    ``nextValidId`` and ``managedAccounts`` after ``startApi``, empty answers to ib_async's
    start-up requests (positions, open and completed orders, account updates, executions),
    ``currentTime``, and an account summary. Nothing else: enough to run the real client on the
    adapter's event loop, probe it and lose it, not to trade.
    """

    SERVER_VERSION = 176

    def __init__(self, accounts: tuple[str, ...] = (ACCOUNT,)) -> None:
        self.accounts = accounts
        self.account_values = {"NetLiquidation": "123456.78", "TotalCashValue": "2345.67"}
        self.mute = threading.Event()  # stop answering (a "zombie" gateway)
        self.received: list[str] = []  # message ids the client sent
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(2)
        self._listener.settimeout(0.05)  # so the serving thread notices stop()
        self.port = self._listener.getsockname()[1]
        self._client: socket.socket | None = None
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close_connection(self) -> None:
        """Close the client's socket from the server side (a gateway restart)."""
        client = self._client
        if client is not None:
            client.shutdown(socket.SHUT_RDWR)
            client.close()
            self._client = None

    def send_error(self, code: int, message: str, req_id: int = -1) -> None:
        self._send("4", "2", str(req_id), str(code), message, "")

    def stop(self) -> None:
        self._closed.set()
        self.close_connection()
        self._listener.close()
        self._thread.join(timeout=5)

    def _send(self, *fields: str) -> None:
        if self._client is None:
            return
        payload = "".join(f"{field}\0" for field in fields).encode()
        self._client.sendall(struct.pack(">I", len(payload)) + payload)

    def _read(self, client: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = client.recv(size - len(data))
            if not chunk:
                raise ConnectionError("client closed")
            data += chunk
        return data

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            self._client = client
            try:
                self._handle(client)
            except (ConnectionError, OSError):
                pass
            finally:
                if self._client is client:
                    self._client = None
                client.close()

    def _handle(self, client: socket.socket) -> None:
        assert self._read(client, 4) == b"API\0"
        (size,) = struct.unpack(">I", self._read(client, 4))
        self._read(client, size)  # "v157..178"
        self._send(str(self.SERVER_VERSION), "20260101 12:00:00 UTC")
        while True:
            (size,) = struct.unpack(">I", self._read(client, 4))
            fields = self._read(client, size).decode().split("\0")[:-1]
            self.received.append(fields[0])
            if not self.mute.is_set():
                self._answer(fields)

    def _answer(self, fields: list[str]) -> None:
        msg_id = fields[0]
        if msg_id == "71":  # startApi
            self._send("9", "1", str(FIRST_ORDER_ID))
            self._send("15", "1", ",".join(self.accounts))
        elif msg_id == "61":  # reqPositions
            self._send("62", "1")
        elif msg_id == "5":  # reqOpenOrders
            self._send("53", "1")
        elif msg_id == "99":  # reqCompletedOrders
            self._send("102")
        elif msg_id == "6":  # reqAccountUpdates(subscribe, account)
            self._send("54", "1", fields[3])
        elif msg_id == "76":  # reqAccountUpdatesMulti(reqId, …)
            self._send("74", "1", fields[2])
        elif msg_id == "7":  # reqExecutions(reqId, filter)
            self._send("55", "1", fields[2])
        elif msg_id == "49":  # reqCurrentTime
            self._send("49", "1", str(int(_now().timestamp())))
        elif msg_id == "62":  # reqAccountSummary(reqId, group, tags)
            req_id = fields[2]
            for account in self.accounts:
                for tag, value in self.account_values.items():
                    self._send("63", "1", req_id, account, tag, value, "USD")
            self._send("64", "1", req_id)


HISTORY_ETFS = ("SPY", "XLK", "XLV", "XLF", "XLY", "XLC", "XLI", "XLP", "XLE", "XLU", "XLRE", "XLB")
HISTORY_STOCKS: dict[str, Classification] = {
    "AAPL": Classification("APPLE INC", "Technology", "Computers", "Computers"),
    "JPM": Classification("JPMORGAN CHASE & CO", "Financial", "Banks", "Diversified Banking Inst"),
    "JNJ": Classification(
        "JOHNSON & JOHNSON", "Consumer, Non-cyclical", "Pharmaceuticals", "Medical-Drugs"
    ),
    "AMZN": Classification("AMAZON.COM INC", "Communications", "Internet", "E-Commerce/Products"),
}
EX_DIVIDEND = dt.date(2024, 3, 15)
DIVIDEND_FACTOR = 0.98


def history_bars(
    symbol: str, sessions: list[dt.date], *, factor: float = DIVIDEND_FACTOR
) -> list[DailyBar]:
    """Deterministic daily bars of ``symbol``: a raw close rising 0.25 a session from a level
    of the symbol's own, adjusted by ``factor`` before :data:`EX_DIVIDEND`."""
    level = 20.0 + 5.0 * (sum(map(ord, symbol)) % 40)
    bars = []
    for number, day in enumerate(sessions):
        close = level + 0.25 * number
        bars.append(
            DailyBar(
                date=day,
                open=close - 0.5,
                high=close + 1.0,
                low=close - 1.0,
                close=close,
                volume=1_000_000.0 + number,
                factor=factor if day < EX_DIVIDEND else 1.0,
            )
        )
    return bars


def history_gateway(
    sessions: list[dt.date], stocks: dict[str, Classification] | None = None
) -> FakeGateway:
    """A gateway with contract details and bars over ``sessions`` for the market index, the 11
    sector ETFs and ``stocks`` (default :data:`HISTORY_STOCKS`); its today is the last session."""
    gateway = FakeGateway()
    chosen = HISTORY_STOCKS if stocks is None else stocks
    for number, symbol in enumerate([*HISTORY_ETFS, *chosen]):
        if symbol not in gateway.listings:
            gateway.listings[symbol] = Listing(500_000 + number, "ARCA", 100.0, 99.9, 100.1, 99.0)
        if symbol in chosen:
            gateway.classifications[symbol] = chosen[symbol]
        else:
            gateway.classifications[symbol] = Classification(f"{symbol} ETF", stock_type="ETF")
        gateway.daily_bars[symbol] = history_bars(symbol, sessions)
    gateway.history_today = sessions[-1]
    return gateway
