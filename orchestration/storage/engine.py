"""Engines for the app database: one per URL and process, migrated once on first use."""

import threading
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from orchestration.storage import migrate

_engines: dict[str, Engine] = {}
_migrated: set[str] = set()
_lock = threading.Lock()


def _set_sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # bulk loads of millions of price rows: keep the B-tree in memory while it grows
    cursor.execute("PRAGMA cache_size=-262144")
    cursor.close()


def _create(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def get_engine(url: str, *, migrated: bool = True) -> Engine:
    """The process-wide engine for ``url``; with ``migrated`` the schema is upgraded first."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = _create(url)
        if migrated and url not in _migrated:
            migrate.upgrade(engine)
            _migrated.add(url)
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests and forked processes)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _migrated.clear()
