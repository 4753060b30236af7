"""Engines for the app database: one per URL and process, migrated once on first use.

A database that cannot be used (a PostgreSQL server that does not answer, a file that is not
a SQLite database, a lock held too long, a read-only file, a folder that does not exist)
raises :class:`DatabaseUnavailable` with one line naming the cause, wherever the failing
statement ran.
"""

import sqlite3
import threading
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, ExceptionContext, make_url

from orchestration.storage import migrate

SQLITE_BUSY_SECONDS = 60
_engines: dict[str, Engine] = {}
_migrated: set[str] = set()
_lock = threading.Lock()


class DatabaseUnavailable(RuntimeError):
    """The app database cannot be reached or used; the message names the cause in one line."""


def _set_sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # bulk loads of millions of price rows: keep the B-tree in memory while it grows
    cursor.execute("PRAGMA cache_size=-262144")
    cursor.close()


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def describe_failure(url: URL, error: BaseException) -> str | None:
    """One line naming why the database at ``url`` cannot be used, or None when ``error`` is
    not about the database being unavailable (a constraint violation, a bad statement)."""
    text = str(error).lower()
    if url.get_backend_name() == "sqlite":
        where = url.database or ":memory:"
        if "database is locked" in text or "database table is locked" in text:
            return f"database {where} is locked by another writer (waited {SQLITE_BUSY_SECONDS} s)"
        if "file is not a database" in text or "file is encrypted" in text:
            return f"database file {where} is not a SQLite database"
        if "readonly database" in text or "read-only" in text:
            return f"database file {where} is read-only (attempt to write a readonly database)"
        if "unable to open database file" in text or "disk i/o error" in text:
            return f"cannot open database file {where}: {_first_line(error)}"
        return None
    if not isinstance(error, psycopg.OperationalError):
        return None
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    if "connection refused" in text:
        return f"cannot connect to PostgreSQL at {where}: connection refused"
    if "does not exist" in text and "database" in text:
        return f"cannot connect to PostgreSQL at {where}: database {url.database!r} does not exist"
    if "timeout" in text or "timed out" in text:
        return f"cannot connect to PostgreSQL at {where}: timed out"
    return f"PostgreSQL at {where} is unavailable: {_first_line(error)}"


def _translate(url: URL):
    def handle_error(context: ExceptionContext) -> None:
        if context.is_pre_ping:
            return
        error = context.original_exception
        if url.get_backend_name() == "sqlite" and not isinstance(error, sqlite3.DatabaseError):
            return
        described = describe_failure(url, error)
        if described is not None:
            raise DatabaseUnavailable(described) from context.sqlalchemy_exception

    return handle_error


def _create(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database.removeprefix("file:")).expanduser().parent
            if not folder.is_dir():
                raise DatabaseUnavailable(
                    f"the folder of the SQLite database {parsed.database} does not exist "
                    f"({folder}); create it, or fix PORTFOLIO_DATABASE_URL"
                )
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        event.listen(engine, "connect", _set_sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    event.listen(engine, "handle_error", _translate(parsed))
    return engine


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
