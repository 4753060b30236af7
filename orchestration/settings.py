"""The one place that reads the process environment.

Settings are read once, when the definitions (or the CLI) start, and validated there: an unknown
value fails start-up with a message that lists the accepted ones. Everything else in
``orchestration`` receives a :class:`Settings` object or resources built from it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

MARKET_DATA_SOURCES = ("demo", "csv", "fmp", "ib")
BROKERS = ("paper", "ib")
POSITIONS_SOURCES = ("market_data", "broker")
STRATEGY_ASSET_TYPES = ("etf", "stock", "etf,stock")
STRATEGY_METHODS = ("mvo", "minvar", "rankbased")
BOOLEANS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
DEFAULT_START_DATE = dt.date(2022, 1, 3)
DEFAULT_DEMO_SYMBOLS = 150
DEFAULT_DEMO_SEED = 20240101
DEFAULT_MARKET_INDEX = "SPY"
DEFAULT_FMP_BASE_URL = "https://financialmodelingprep.com/api/v3"
FMP_API_KEY_VARIABLE = "FMP_API_KEY"
DATABASE_URL_VARIABLE = "PORTFOLIO_DATABASE_URL"
IB_ACCOUNT_VARIABLE = "IB_ACCOUNT"
ALERT_WEBHOOK_VARIABLE = "PORTFOLIO_ALERT_WEBHOOK"
SECRET_VARIABLES = (DATABASE_URL_VARIABLE, IB_ACCOUNT_VARIABLE, ALERT_WEBHOOK_VARIABLE)
"""Variables whose values the Dagster UI must never show: the definitions hand them to
resources as ``dg.EnvVar`` (see :attr:`Settings.environment_secrets`)."""
ALERT_TIMEOUT_SECONDS = 10.0
SYMBOL_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,31}")


class SettingsError(ValueError):
    """A setting from the environment is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class TradingSettings:
    """Safety limits and timings of basket-trade execution.

    Attributes
    ----------
    preview_ttl_seconds
        How long a leg's what-if preview stays valid (``PORTFOLIO_PREVIEW_TTL_SECONDS``); an
        expired leg is re-previewed before it is placed.
    max_order_notional
        Largest notional of one order (``PORTFOLIO_MAX_ORDER_NOTIONAL``).
    max_group_notional
        Largest total notional placed for one basket trade (``PORTFOLIO_MAX_GROUP_NOTIONAL``).
    max_net_liquidation_fraction
        Largest total notional of one basket trade as a fraction of the account's net
        liquidation value (``PORTFOLIO_MAX_NET_LIQUIDATION_FRACTION``, in (0, 1]).
    order_timeout_seconds
        How long the executor waits for an order to fill before it asks the broker to cancel
        it (``PORTFOLIO_ORDER_TIMEOUT_SECONDS``).
    lease_seconds
        Lease of an executor on its trade group (``PORTFOLIO_EXECUTION_LEASE_SECONDS``): renewed
        before every broker call that can change an order; after it expires another executor may
        take the group over. Must exceed the longest single broker call.
    auto_approve
        Approve preview groups created from ``trade_plan`` materializations
        (``PORTFOLIO_AUTO_APPROVE``); allowed with the paper broker only.
    positions_source
        Where ``portfolio_positions`` comes from: ``market_data`` or ``broker``
        (``PORTFOLIO_POSITIONS_SOURCE``).
    plan_drift_tolerance
        Relative change of cash, net liquidation or a price between a trade plan and the
        execution of its group beyond which execution refuses the plan
        (``PORTFOLIO_PLAN_DRIFT_TOLERANCE``); share counts must match exactly.
    """

    preview_ttl_seconds: float = 300.0
    max_order_notional: float = 25_000.0
    max_group_notional: float = 100_000.0
    max_net_liquidation_fraction: float = 0.25
    order_timeout_seconds: float = 30.0
    lease_seconds: float = 60.0
    auto_approve: bool = False
    positions_source: str = "market_data"
    plan_drift_tolerance: float = 0.02


@dataclass(frozen=True)
class PaperBrokerSettings:
    """The simulated paper broker (``PORTFOLIO_PAPER_*``).

    Attributes
    ----------
    account
        Account name (``PORTFOLIO_PAPER_ACCOUNT``).
    cash
        Cash the account opens with, beside the positions of ``portfolio_positions``
        (``PORTFOLIO_PAPER_CASH``).
    slippage_bps
        Market orders fill at the latest close plus (buys) or minus (sells) this many basis
        points (``PORTFOLIO_PAPER_SLIPPAGE_BPS``).
    commission_per_share, commission_minimum
        Commission of an order: per share, at least the minimum
        (``PORTFOLIO_PAPER_COMMISSION_PER_SHARE``, ``PORTFOLIO_PAPER_COMMISSION_MINIMUM``).
    reject_symbols
        Orders for these symbols are rejected (``PORTFOLIO_PAPER_REJECT_SYMBOLS``, comma list).
    fill_fraction
        Fraction of an order's shares that fills (rounded down); the rest is cancelled
        (``PORTFOLIO_PAPER_FILL_FRACTION``, in (0, 1]).
    fill_latency_seconds
        Seconds between placing an order and its fill becoming visible
        (``PORTFOLIO_PAPER_FILL_LATENCY_SECONDS``).
    disconnect_after_calls
        Drop the connection after this many calls: the next call is carried out but its
        answer is lost (it raises ``BrokerDisconnected``), every later call fails without
        reaching the broker (``PORTFOLIO_PAPER_DISCONNECT_AFTER_CALLS``; unset = never).
    """

    account: str = "PAPER"
    cash: float = 100_000.0
    slippage_bps: float = 5.0
    commission_per_share: float = 0.005
    commission_minimum: float = 1.0
    reject_symbols: tuple[str, ...] = ()
    fill_fraction: float = 1.0
    fill_latency_seconds: float = 0.0
    disconnect_after_calls: int | None = None


@dataclass(frozen=True)
class IbSettings:
    """Interactive Brokers gateway connection (``IB_*``).

    Attributes
    ----------
    host, port
        TWS / IB Gateway address (``IB_HOST``, ``IB_PORT``).
    account
        Account traded (``IB_ACCOUNT``), required with ``PORTFOLIO_BROKER=ib``.
    client_id
        API client id of the trading connection (``IB_CLIENT_ID``).
    readonly_client_id
        API client id of the read-only connection used for previews, positions and data
        (``IB_READONLY_CLIENT_ID``); must differ from ``client_id``.
    market_data_client_id
        API client id of the historical-data connection of ``PORTFOLIO_MARKET_DATA=ib``
        (``IB_MARKET_DATA_CLIENT_ID``); must differ from the other two.
    """

    host: str = "127.0.0.1"
    port: int = 4002
    account: str = ""
    client_id: int = 11
    readonly_client_id: int = 12
    market_data_client_id: int = 13


@dataclass(frozen=True)
class StrategySettings:
    """The investment process that ends in a trade plan (``PORTFOLIO_STRATEGY_*``).

    Attributes
    ----------
    asset_types
        Instruments the universe draws from: ``("etf",)``, ``("stock",)`` or both
        (``PORTFOLIO_STRATEGY_ASSET_TYPES``: ``etf``, ``stock`` or ``etf,stock``).
    method
        Optimizer of the target portfolio: ``mvo``, ``minvar`` or ``rankbased``
        (``PORTFOLIO_STRATEGY_METHOD``).
    positions
        Number of positions of the target portfolio (``PORTFOLIO_STRATEGY_POSITIONS``).
    cash_reserve
        Cash a plan sized to net liquidation leaves in the account
        (``PORTFOLIO_CASH_RESERVE``).
    deploy_cash
        When set, a plan sizes the book to the invested value plus this much cash instead
        (``PORTFOLIO_DEPLOY_CASH``).
    cancel_foreign_orders, cover_shorts
        Account cleanup before planning: cancel open orders of no trade group of ours
        (``PORTFOLIO_CLEANUP_CANCEL_ORDERS``), and plan buys that cover short positions
        (``PORTFOLIO_CLEANUP_COVER_SHORTS``); otherwise both are only reported.
    """

    asset_types: tuple[str, ...] = ("etf",)
    method: str = "mvo"
    positions: int = 30
    cash_reserve: float = 70_000.0
    deploy_cash: float | None = None
    cancel_foreign_orders: bool = False
    cover_shorts: bool = False


@dataclass(frozen=True)
class FmpSettings:
    """Financial Modeling Prep (``PORTFOLIO_MARKET_DATA=fmp``). The API key itself is never
    held here: it is checked to be set (``FMP_API_KEY``) and handed to the resource as a
    ``dg.EnvVar``, resolved when a run starts.

    Attributes
    ----------
    base_url
        API root (``PORTFOLIO_FMP_BASE_URL``, default the v3 API).
    calls_per_minute
        Client-side rate limit (``PORTFOLIO_FMP_CALLS_PER_MINUTE``, default 300).
    timeout_seconds
        Timeout of one HTTP call (``PORTFOLIO_FMP_TIMEOUT_SECONDS``, default 30); a call that
        times out is retried.
    symbols
        Instruments to load (``PORTFOLIO_FMP_SYMBOLS``, comma list) besides the market index,
        the 11 sector ETFs and the positions' symbols, which are always loaded.
    positions_csv
        A ``positions.csv`` with the portfolio (``PORTFOLIO_FMP_POSITIONS_CSV``); required
        unless ``PORTFOLIO_POSITIONS_SOURCE=broker``.
    """

    base_url: str = DEFAULT_FMP_BASE_URL
    calls_per_minute: int = 300
    timeout_seconds: float = 30.0
    symbols: tuple[str, ...] = ()
    positions_csv: Path | None = None


@dataclass(frozen=True)
class IbMarketDataSettings:
    """Interactive Brokers as the market-data source (``PORTFOLIO_MARKET_DATA=ib``); the
    connection is :class:`IbSettings` with its ``market_data_client_id``.

    Attributes
    ----------
    symbols
        Instruments to load (``PORTFOLIO_IB_SYMBOLS``, comma list) besides the market index,
        the 11 sector ETFs and the positions' symbols, which are always loaded.
    positions_csv
        A ``positions.csv`` with the portfolio (``PORTFOLIO_IB_POSITIONS_CSV``); required
        unless ``PORTFOLIO_POSITIONS_SOURCE=broker``.
    """

    symbols: tuple[str, ...] = ()
    positions_csv: Path | None = None


@dataclass(frozen=True)
class Settings:
    """Validated configuration of one Portfolio Pipeline installation.

    Attributes
    ----------
    home
        State folder (``PORTFOLIO_HOME``): SQLite app database, Dagster instance, caches.
    database_url
        SQLAlchemy URL of the app database (``PORTFOLIO_DATABASE_URL``); SQLite in ``home`` by
        default, ``postgresql+psycopg://user@host/db`` for PostgreSQL.
    dagster_home
        Dagster instance folder (``DAGSTER_HOME``), ``home/dagster`` by default.
    market_data
        ``demo`` (simulated market), ``csv``, ``fmp`` or ``ib`` (``PORTFOLIO_MARKET_DATA``).
    csv_dir
        Directory in the CSV market-data format (``PORTFOLIO_CSV_DIR``), required for ``csv``.
    csv_end_date
        Declared end of the CSV history (``PORTFOLIO_CSV_END_DATE``, ISO date); unset means the
        last date of ``prices.csv``. Sessions after it have no data yet.
    start_date
        First ``trading_days`` partition (``PORTFOLIO_START_DATE``, ISO date).
    demo_symbols, demo_seed
        Size and seed of the simulated market (``PORTFOLIO_DEMO_SYMBOLS``,
        ``PORTFOLIO_DEMO_SEED``).
    demo_end_date
        Last simulated day (``PORTFOLIO_DEMO_END_DATE``); unset means today, so the simulated
        market grows by a day every weekday.
    broker
        ``paper`` or ``ib`` (``PORTFOLIO_BROKER``).
    market_index
        Market proxy of the risk analytics (``PORTFOLIO_MARKET_INDEX``, default ``SPY``): betas
        are regressions on its returns.
    etf_look_through
        Whether sector exposure looks through held ETFs to their holdings
        (``PORTFOLIO_ETF_LOOK_THROUGH``: 1/true/yes or 0/false/no; default false, so an ETF is
        its own ``ETF`` bucket).
    stale_sessions
        NYSE sessions a symbol's last price may lag the as-of date before risk and baskets
        treat the symbol as stale (``PORTFOLIO_STALE_SESSIONS``, an integer >= 0; default 0:
        a symbol needs a price at the as-of date).
    trading, paper, ib
        Execution limits, the paper broker and the Interactive Brokers connection.
    strategy
        The investment process: universe, optimizer, plan sizing and cleanup.
    fmp
        The Financial Modeling Prep source (``PORTFOLIO_FMP_*``).
    ib_market_data
        Interactive Brokers as the market-data source (``PORTFOLIO_IB_*``); its bar cache is
        ``home/ib_bars``.
    alert_webhook
        URL the alert sensors POST a JSON body to (Slack-compatible ``{"text": …}`` plus
        structured fields) for every failed run and failed asset check
        (``PORTFOLIO_ALERT_WEBHOOK``, an http(s) URL); empty means no alert is sent.
    environment_secrets
        The secret variables (:data:`SECRET_VARIABLES`) set in the process environment, with
        their values: the definitions hand such a value to its resource as ``dg.EnvVar`` so
        the UI shows the variable's name only. Empty when the settings were read from a mapping
        handed to :func:`load_settings` (``dg.EnvVar`` reads the process environment, which
        then need not hold them); a value derived from a default (the SQLite database under
        ``home``) is no secret.
    mcp_allow_execute
        Whether agents on the MCP server (``portfolio mcp``) may approve trade groups
        (``PORTFOLIO_MCP_ALLOW_EXECUTE``, default false: they can only request approval);
        allowed with the paper broker only.
    """

    home: Path
    database_url: str
    dagster_home: Path
    market_data: str
    csv_dir: Path | None
    start_date: dt.date
    demo_symbols: int
    demo_seed: int
    demo_end_date: dt.date | None
    broker: str
    market_index: str = DEFAULT_MARKET_INDEX
    etf_look_through: bool = False
    stale_sessions: int = 0
    csv_end_date: dt.date | None = None
    trading: TradingSettings = field(default_factory=TradingSettings)
    paper: PaperBrokerSettings = field(default_factory=PaperBrokerSettings)
    ib: IbSettings = field(default_factory=IbSettings)
    strategy: StrategySettings = field(default_factory=StrategySettings)
    mcp_allow_execute: bool = False
    fmp: FmpSettings = field(default_factory=FmpSettings)
    ib_market_data: IbMarketDataSettings = field(default_factory=IbMarketDataSettings)
    alert_webhook: str = ""
    environment_secrets: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_simulated(self) -> bool:
        """True when market data comes from the simulated demo market."""
        return self.market_data == "demo"

    def with_overrides(self, **changes: object) -> Settings:
        """Return a copy with some fields replaced (used by tests and the CLI)."""
        return replace(self, **changes)


def _choice(env: Mapping[str, str], name: str, default: str, accepted: tuple[str, ...]) -> str:
    value = env.get(name, default).strip().lower() or default
    if value not in accepted:
        raise SettingsError(
            f"{name}={value!r} is not supported; accepted values: {', '.join(accepted)}"
        )
    return value


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value


def _float(
    env: Mapping[str, str],
    name: str,
    default: float,
    *,
    minimum: float,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SettingsError(f"{name}={raw!r} must be a finite number")
    if value < minimum or (exclusive_minimum and value == minimum):
        bound = "greater than" if exclusive_minimum else "at least"
        raise SettingsError(f"{name}={value:g} must be {bound} {minimum:g}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name}={value:g} must be at most {maximum:g}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in BOOLEANS:
        raise SettingsError(
            f"{name}={raw!r} is not a boolean; accepted values: {', '.join(BOOLEANS)}"
        )
    return BOOLEANS[raw]


def _name(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if value and not all(ch.isalnum() or ch in "-_." for ch in value):
        raise SettingsError(f"{name}={value!r} may only contain letters, digits, '-', '_' and '.'")
    return value


def _symbols(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return ()
    items = [item.strip() for item in raw.split(",")]
    if any(not item for item in items):
        raise SettingsError(f"{name}={raw!r} has an empty entry; use SYMBOL,SYMBOL,…")
    return tuple(items)


def _trading(env: Mapping[str, str], broker: str) -> TradingSettings:
    auto_approve = _bool(env, "PORTFOLIO_AUTO_APPROVE", False)
    if auto_approve and broker != "paper":
        raise SettingsError(
            "PORTFOLIO_AUTO_APPROVE=true is only allowed with PORTFOLIO_BROKER=paper; "
            f"PORTFOLIO_BROKER is {broker!r}"
        )
    return TradingSettings(
        preview_ttl_seconds=_float(env, "PORTFOLIO_PREVIEW_TTL_SECONDS", 300.0, minimum=0.0),
        max_order_notional=_float(
            env, "PORTFOLIO_MAX_ORDER_NOTIONAL", 25_000.0, minimum=0.0, exclusive_minimum=True
        ),
        max_group_notional=_float(
            env, "PORTFOLIO_MAX_GROUP_NOTIONAL", 100_000.0, minimum=0.0, exclusive_minimum=True
        ),
        max_net_liquidation_fraction=_float(
            env,
            "PORTFOLIO_MAX_NET_LIQUIDATION_FRACTION",
            0.25,
            minimum=0.0,
            maximum=1.0,
            exclusive_minimum=True,
        ),
        order_timeout_seconds=_float(
            env, "PORTFOLIO_ORDER_TIMEOUT_SECONDS", 30.0, minimum=0.0, exclusive_minimum=True
        ),
        lease_seconds=_float(env, "PORTFOLIO_EXECUTION_LEASE_SECONDS", 60.0, minimum=0.5),
        auto_approve=auto_approve,
        positions_source=_choice(
            env, "PORTFOLIO_POSITIONS_SOURCE", "market_data", POSITIONS_SOURCES
        ),
        plan_drift_tolerance=_float(
            env, "PORTFOLIO_PLAN_DRIFT_TOLERANCE", 0.02, minimum=0.0, maximum=1.0
        ),
    )


def _mcp_allow_execute(env: Mapping[str, str], broker: str) -> bool:
    allowed = _bool(env, "PORTFOLIO_MCP_ALLOW_EXECUTE", False)
    if allowed and broker != "paper":
        raise SettingsError(
            "PORTFOLIO_MCP_ALLOW_EXECUTE=true is only allowed with PORTFOLIO_BROKER=paper; "
            f"PORTFOLIO_BROKER is {broker!r}"
        )
    return allowed


def _paper(env: Mapping[str, str]) -> PaperBrokerSettings:
    disconnect = env.get("PORTFOLIO_PAPER_DISCONNECT_AFTER_CALLS", "").strip()
    return PaperBrokerSettings(
        account=_name(env, "PORTFOLIO_PAPER_ACCOUNT", "PAPER"),
        cash=_float(env, "PORTFOLIO_PAPER_CASH", 100_000.0, minimum=0.0),
        slippage_bps=_float(env, "PORTFOLIO_PAPER_SLIPPAGE_BPS", 5.0, minimum=0.0, maximum=1000.0),
        commission_per_share=_float(
            env, "PORTFOLIO_PAPER_COMMISSION_PER_SHARE", 0.005, minimum=0.0
        ),
        commission_minimum=_float(env, "PORTFOLIO_PAPER_COMMISSION_MINIMUM", 1.0, minimum=0.0),
        reject_symbols=_symbols(env, "PORTFOLIO_PAPER_REJECT_SYMBOLS"),
        fill_fraction=_float(
            env,
            "PORTFOLIO_PAPER_FILL_FRACTION",
            1.0,
            minimum=0.0,
            maximum=1.0,
            exclusive_minimum=True,
        ),
        fill_latency_seconds=_float(
            env, "PORTFOLIO_PAPER_FILL_LATENCY_SECONDS", 0.0, minimum=0.0, maximum=3600.0
        ),
        disconnect_after_calls=(
            _int(env, "PORTFOLIO_PAPER_DISCONNECT_AFTER_CALLS", 0, 0) if disconnect else None
        ),
    )


def _ib(env: Mapping[str, str], broker: str) -> IbSettings:
    port = _int(env, "IB_PORT", 4002, 1)
    if port > 65535:
        raise SettingsError(f"IB_PORT={port} must be at most 65535")
    account = _name(env, "IB_ACCOUNT", "")
    if broker == "ib" and not account:
        raise SettingsError("PORTFOLIO_BROKER=ib needs IB_ACCOUNT (the account to trade)")
    client_id = _int(env, "IB_CLIENT_ID", 11, 0)
    readonly_client_id = _int(env, "IB_READONLY_CLIENT_ID", 12, 0)
    if client_id == readonly_client_id:
        raise SettingsError(
            f"IB_READONLY_CLIENT_ID={readonly_client_id} must differ from IB_CLIENT_ID "
            f"({client_id}): IB refuses two connections with one client id"
        )
    market_data_client_id = _int(env, "IB_MARKET_DATA_CLIENT_ID", 13, 0)
    if market_data_client_id in (client_id, readonly_client_id):
        raise SettingsError(
            f"IB_MARKET_DATA_CLIENT_ID={market_data_client_id} must differ from IB_CLIENT_ID "
            f"({client_id}) and IB_READONLY_CLIENT_ID ({readonly_client_id}): IB refuses two "
            "connections with one client id"
        )
    host = env.get("IB_HOST", "").strip() or "127.0.0.1"
    if any(ch.isspace() or ch in "/:@" for ch in host):
        raise SettingsError(f"IB_HOST={host!r} must be a host name or IP address")
    return IbSettings(
        host=host,
        port=port,
        account=account,
        client_id=client_id,
        readonly_client_id=readonly_client_id,
        market_data_client_id=market_data_client_id,
    )


def _ib_market_data(env: Mapping[str, str], market_data: str) -> IbMarketDataSettings:
    symbols = _symbols(env, "PORTFOLIO_IB_SYMBOLS")
    bad = [symbol for symbol in symbols if not SYMBOL_PATTERN.fullmatch(symbol)]
    if bad:
        raise SettingsError(
            f"PORTFOLIO_IB_SYMBOLS has {bad[0]!r}, not a symbol (upper-case letters, digits, "
            "'.' or '-')"
        )
    positions_raw = env.get("PORTFOLIO_IB_POSITIONS_CSV", "").strip()
    positions_csv = Path(positions_raw).expanduser().resolve() if positions_raw else None
    if market_data == "ib":
        positions_source = _choice(
            env, "PORTFOLIO_POSITIONS_SOURCE", "market_data", POSITIONS_SOURCES
        )
        if positions_csv is None and positions_source == "market_data":
            raise SettingsError(
                "PORTFOLIO_MARKET_DATA=ib needs PORTFOLIO_IB_POSITIONS_CSV (a positions.csv) "
                "unless PORTFOLIO_POSITIONS_SOURCE=broker"
            )
        if positions_csv is not None and not positions_csv.is_file():
            raise SettingsError(f"PORTFOLIO_IB_POSITIONS_CSV={positions_csv} is not a file")
    return IbMarketDataSettings(symbols=symbols, positions_csv=positions_csv)


def _strategy(env: Mapping[str, str]) -> StrategySettings:
    deploy = env.get("PORTFOLIO_DEPLOY_CASH", "").strip()
    return StrategySettings(
        asset_types=tuple(
            _choice(env, "PORTFOLIO_STRATEGY_ASSET_TYPES", "etf", STRATEGY_ASSET_TYPES).split(",")
        ),
        method=_choice(env, "PORTFOLIO_STRATEGY_METHOD", "mvo", STRATEGY_METHODS),
        positions=_int(env, "PORTFOLIO_STRATEGY_POSITIONS", 30, 1),
        cash_reserve=_float(env, "PORTFOLIO_CASH_RESERVE", 70_000.0, minimum=0.0),
        deploy_cash=(
            _float(env, "PORTFOLIO_DEPLOY_CASH", 0.0, minimum=0.0, exclusive_minimum=True)
            if deploy
            else None
        ),
        cancel_foreign_orders=_bool(env, "PORTFOLIO_CLEANUP_CANCEL_ORDERS", False),
        cover_shorts=_bool(env, "PORTFOLIO_CLEANUP_COVER_SHORTS", False),
    )


def _date(env: Mapping[str, str], name: str, default: dt.date | None) -> dt.date | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = dt.date.fromisoformat(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an ISO date (YYYY-MM-DD)") from None
    if value.weekday() >= 5:
        raise SettingsError(f"{name}={raw} falls on a weekend; use a weekday")
    return value


def _symbol(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not SYMBOL_PATTERN.fullmatch(raw):
        raise SettingsError(
            f"{name}={raw!r} is not a symbol (upper-case letters, digits, '.' or '-', "
            "as in prices.csv)"
        )
    return raw


def _fmp(env: Mapping[str, str], market_data: str) -> FmpSettings:
    base_url = env.get("PORTFOLIO_FMP_BASE_URL", "").strip() or DEFAULT_FMP_BASE_URL
    if not base_url.startswith(("http://", "https://")) or "?" in base_url:
        raise SettingsError(
            "PORTFOLIO_FMP_BASE_URL must be an http(s) URL without a query string "
            f"(the key comes from {FMP_API_KEY_VARIABLE})"
        )
    symbols = _symbols(env, "PORTFOLIO_FMP_SYMBOLS")
    bad = [symbol for symbol in symbols if not SYMBOL_PATTERN.fullmatch(symbol)]
    if bad:
        raise SettingsError(
            f"PORTFOLIO_FMP_SYMBOLS has {bad[0]!r}, not a symbol (upper-case letters, digits, "
            "'.' or '-')"
        )
    positions_raw = env.get("PORTFOLIO_FMP_POSITIONS_CSV", "").strip()
    positions_csv = Path(positions_raw).expanduser().resolve() if positions_raw else None
    if market_data == "fmp":
        if not env.get(FMP_API_KEY_VARIABLE, "").strip():
            raise SettingsError(
                f"PORTFOLIO_MARKET_DATA=fmp needs {FMP_API_KEY_VARIABLE} (your Financial "
                "Modeling Prep API key)"
            )
        positions_source = _choice(
            env, "PORTFOLIO_POSITIONS_SOURCE", "market_data", POSITIONS_SOURCES
        )
        if positions_csv is None and positions_source == "market_data":
            raise SettingsError(
                "PORTFOLIO_MARKET_DATA=fmp needs PORTFOLIO_FMP_POSITIONS_CSV (a positions.csv) "
                "unless PORTFOLIO_POSITIONS_SOURCE=broker"
            )
        if positions_csv is not None and not positions_csv.is_file():
            raise SettingsError(f"PORTFOLIO_FMP_POSITIONS_CSV={positions_csv} is not a file")
    return FmpSettings(
        base_url=base_url.rstrip("/"),
        calls_per_minute=_int(env, "PORTFOLIO_FMP_CALLS_PER_MINUTE", 300, 1),
        timeout_seconds=_float(
            env, "PORTFOLIO_FMP_TIMEOUT_SECONDS", 30.0, minimum=0.0, exclusive_minimum=True
        ),
        symbols=symbols,
        positions_csv=positions_csv,
    )


def _database_url(env: Mapping[str, str], home: Path) -> str:
    raw = env.get("PORTFOLIO_DATABASE_URL", "").strip()
    if not raw:
        return f"sqlite:///{home / 'portfolio.db'}"
    accepted = ("sqlite:///", "postgresql+psycopg://")
    if not raw.startswith(accepted):
        raise SettingsError(
            f"PORTFOLIO_DATABASE_URL must start with one of {', '.join(accepted)}; "
            f"got {raw.split('://', 1)[0]}://…"
        )
    credentials = raw.split("://", 1)[1].split("@", 1)[0] if "@" in raw else ""
    if ":" in credentials:
        raise SettingsError(
            "PORTFOLIO_DATABASE_URL must not contain a password (the Dagster UI shows resource "
            "configuration); put it in PGPASSWORD or ~/.pgpass instead"
        )
    if raw.startswith("sqlite:///"):
        database = raw.removeprefix("sqlite:///").split("?", 1)[0].removeprefix("file:")
        folder = Path(database).expanduser().parent
        if database and database != ":memory:" and not folder.is_dir():
            raise SettingsError(
                f"PORTFOLIO_DATABASE_URL={raw!r}: the folder {folder} does not exist "
                "(create it first; a missing folder is never created)"
            )
    return raw


def _alert_webhook(env: Mapping[str, str]) -> str:
    raw = env.get(ALERT_WEBHOOK_VARIABLE, "").strip()
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in raw:
        raise SettingsError(
            f"{ALERT_WEBHOOK_VARIABLE} is not an http(s) URL (https://host/path); the value is "
            "not repeated here because it is a secret"
        )
    return raw


def _environment_secrets(env: Mapping[str, str]) -> dict[str, str]:
    """The secret variables set in ``env``; one with surrounding blanks is refused (``dg.EnvVar``
    hands the value on as it is)."""
    secrets = {}
    for name in SECRET_VARIABLES:
        value = env.get(name, "")
        if value != value.strip():
            raise SettingsError(f"{name} has leading or trailing blanks; remove them")
        if value:
            secrets[name] = value
    return secrets


def _folder(env: Mapping[str, str], name: str, default: Path) -> Path:
    """A state folder: missing is fine (it is created on first use), a file is not."""
    raw = env.get(name, "").strip()
    path = Path(raw).expanduser().resolve() if raw else default
    if path.exists() and not path.is_dir():
        raise SettingsError(f"{name}={path} is a file, not a folder")
    return path


def prepare_home(settings: Settings) -> None:
    """Create the state folder ``PORTFOLIO_HOME`` (not its parents) when it is missing."""
    try:
        settings.home.mkdir(exist_ok=True)
    except OSError as exc:
        raise SettingsError(
            f"PORTFOLIO_HOME={settings.home} cannot be created: {exc.strerror or exc}"
        ) from None


DAGSTER_PROCESS_DEFAULTS = {
    # One planned event per asset for a single-run backfill instead of one per partition: a
    # five-year backfill otherwise spends minutes writing thousands of "planned" events.
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1",
    # Hand a step's per-partition materializations to the event log in batches of up to 1,000
    # (one transaction each on the embedded instance, orchestration/instance/storage.py; one
    # INSERT on dagster-postgres, whose 65,535 bind parameters bound the size).
    "DAGSTER_EVENT_BATCH_SIZE": "1000",
}


def configure_dagster_process() -> None:
    """Set Dagster's process-level switches this project relies on (unless already set)."""
    for name, value in DAGSTER_PROCESS_DEFAULTS.items():
        os.environ.setdefault(name, value)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the settings from ``environ`` (the process environment by default).

    Raises
    ------
    SettingsError
        When a variable holds a value that is not accepted; the message names the variable and
        lists the accepted values.
    """
    env = os.environ if environ is None else environ
    home = _folder(env, "PORTFOLIO_HOME", Path(".portfolio").resolve())
    market_data = _choice(env, "PORTFOLIO_MARKET_DATA", "demo", MARKET_DATA_SOURCES)
    csv_raw = env.get("PORTFOLIO_CSV_DIR", "").strip()
    csv_dir = Path(csv_raw).expanduser().resolve() if csv_raw else None
    if market_data == "csv":
        if csv_dir is None:
            raise SettingsError("PORTFOLIO_MARKET_DATA=csv needs PORTFOLIO_CSV_DIR (a directory)")
        if not csv_dir.is_dir():
            raise SettingsError(f"PORTFOLIO_CSV_DIR={csv_dir} is not a directory")
    broker = _choice(env, "PORTFOLIO_BROKER", "paper", BROKERS)
    dagster_home = _folder(env, "DAGSTER_HOME", home / "dagster")
    return Settings(
        home=home,
        database_url=_database_url(env, home),
        dagster_home=dagster_home,
        market_data=market_data,
        csv_dir=csv_dir,
        start_date=_date(env, "PORTFOLIO_START_DATE", DEFAULT_START_DATE),
        demo_symbols=_int(env, "PORTFOLIO_DEMO_SYMBOLS", DEFAULT_DEMO_SYMBOLS, 33),
        demo_seed=_int(env, "PORTFOLIO_DEMO_SEED", DEFAULT_DEMO_SEED, 0),
        demo_end_date=_date(env, "PORTFOLIO_DEMO_END_DATE", None),
        broker=broker,
        market_index=_symbol(env, "PORTFOLIO_MARKET_INDEX", DEFAULT_MARKET_INDEX),
        etf_look_through=_bool(env, "PORTFOLIO_ETF_LOOK_THROUGH", False),
        stale_sessions=_int(env, "PORTFOLIO_STALE_SESSIONS", 0, 0),
        csv_end_date=_date(env, "PORTFOLIO_CSV_END_DATE", None),
        trading=_trading(env, broker),
        paper=_paper(env),
        ib=_ib(env, broker),
        strategy=_strategy(env),
        mcp_allow_execute=_mcp_allow_execute(env, broker),
        fmp=_fmp(env, market_data),
        ib_market_data=_ib_market_data(env, market_data),
        alert_webhook=_alert_webhook(env),
        environment_secrets=_environment_secrets(env) if environ is None else {},
    )
