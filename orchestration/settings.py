"""The one place that reads the process environment.

Settings are read once, when the definitions (or the CLI) start, and validated there: an unknown
value fails start-up with a message that lists the accepted ones. Everything else in
``orchestration`` receives a :class:`Settings` object or resources built from it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

MARKET_DATA_SOURCES = ("demo", "csv")
BROKERS = ("paper", "ib")
DEFAULT_START_DATE = dt.date(2022, 1, 3)
DEFAULT_DEMO_SYMBOLS = 150
DEFAULT_DEMO_SEED = 20240101
DEFAULT_IB_HOST = "127.0.0.1"
DEFAULT_IB_PORT = 4002
DEFAULT_IB_CLIENT_ID = 11
DEFAULT_IB_READONLY_CLIENT_ID = 12


class SettingsError(ValueError):
    """A setting from the environment is missing or invalid; the message names the variable."""


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
        ``demo`` (simulated market) or ``csv`` (``PORTFOLIO_MARKET_DATA``).
    csv_dir
        Directory in the CSV market-data format (``PORTFOLIO_CSV_DIR``), required for ``csv``.
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
    ib_host, ib_port
        Address of the IB Gateway / TWS API (``IB_HOST``, ``IB_PORT``; 4002 is the Gateway's
        paper-trading port).
    ib_account
        IB account to trade and report (``IB_ACCOUNT``); empty means the only account the
        gateway manages.
    ib_client_id, ib_readonly_client_id
        API client ids for trading and for previews/data (``IB_CLIENT_ID``,
        ``IB_READONLY_CLIENT_ID``); they must differ because IB allows one connection per id.
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
    ib_host: str
    ib_port: int
    ib_account: str
    ib_client_id: int
    ib_readonly_client_id: int

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


def _ib_host(env: Mapping[str, str]) -> str:
    host = env.get("IB_HOST", "").strip() or DEFAULT_IB_HOST
    if any(char.isspace() or char in "/:" for char in host):
        raise SettingsError(f"IB_HOST={host!r} is not a host name or IPv4 address")
    return host


def _ib_port(env: Mapping[str, str]) -> int:
    port = _int(env, "IB_PORT", DEFAULT_IB_PORT, 1)
    if port > 65535:
        raise SettingsError(f"IB_PORT={port} must be at most 65535")
    return port


def _ib_account(env: Mapping[str, str]) -> str:
    account = env.get("IB_ACCOUNT", "").strip()
    if account and not account.isalnum():
        raise SettingsError(f"IB_ACCOUNT={account!r} must be letters and digits (e.g. DU1234567)")
    return account


def _ib_client_ids(env: Mapping[str, str]) -> tuple[int, int]:
    client_id = _int(env, "IB_CLIENT_ID", DEFAULT_IB_CLIENT_ID, 0)
    readonly_client_id = _int(env, "IB_READONLY_CLIENT_ID", DEFAULT_IB_READONLY_CLIENT_ID, 0)
    if client_id == readonly_client_id:
        raise SettingsError(
            f"IB_CLIENT_ID and IB_READONLY_CLIENT_ID are both {client_id}; they must differ "
            "(IB accepts one connection per client id)"
        )
    return client_id, readonly_client_id


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
    return raw


DAGSTER_PROCESS_DEFAULTS = {
    # One planned event per asset for a single-run backfill instead of one per partition: a
    # five-year backfill otherwise spends minutes writing thousands of "planned" events.
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1",
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
    home = Path(env.get("PORTFOLIO_HOME", "").strip() or ".portfolio").expanduser().resolve()
    market_data = _choice(env, "PORTFOLIO_MARKET_DATA", "demo", MARKET_DATA_SOURCES)
    csv_raw = env.get("PORTFOLIO_CSV_DIR", "").strip()
    csv_dir = Path(csv_raw).expanduser().resolve() if csv_raw else None
    if market_data == "csv":
        if csv_dir is None:
            raise SettingsError("PORTFOLIO_MARKET_DATA=csv needs PORTFOLIO_CSV_DIR (a directory)")
        if not csv_dir.is_dir():
            raise SettingsError(f"PORTFOLIO_CSV_DIR={csv_dir} is not a directory")
    dagster_home_raw = env.get("DAGSTER_HOME", "").strip()
    dagster_home = Path(dagster_home_raw).expanduser().resolve() if dagster_home_raw else None
    ib_client_id, ib_readonly_client_id = _ib_client_ids(env)
    return Settings(
        home=home,
        database_url=_database_url(env, home),
        dagster_home=dagster_home or home / "dagster",
        market_data=market_data,
        csv_dir=csv_dir,
        start_date=_date(env, "PORTFOLIO_START_DATE", DEFAULT_START_DATE),
        demo_symbols=_int(env, "PORTFOLIO_DEMO_SYMBOLS", DEFAULT_DEMO_SYMBOLS, 33),
        demo_seed=_int(env, "PORTFOLIO_DEMO_SEED", DEFAULT_DEMO_SEED, 0),
        demo_end_date=_date(env, "PORTFOLIO_DEMO_END_DATE", None),
        broker=_choice(env, "PORTFOLIO_BROKER", "paper", BROKERS),
        ib_host=_ib_host(env),
        ib_port=_ib_port(env),
        ib_account=_ib_account(env),
        ib_client_id=ib_client_id,
        ib_readonly_client_id=ib_readonly_client_id,
    )
