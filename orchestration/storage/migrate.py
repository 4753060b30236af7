"""Apply the app-database migrations (Alembic) to a database.

Processes that start together (the webserver, the daemon, runs, ``portfolio db upgrade``) all
upgrade on first use; :func:`upgrade` serialises them so exactly one migrates and the others
find the schema at head: on PostgreSQL with a session advisory lock on
:data:`ADVISORY_LOCK_KEY` held by the connection Alembic migrates through, on SQLite with an
exclusive ``flock`` on ``<database file>.migrate.lock`` beside the database.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
ADVISORY_LOCK_KEY = 7_310_446_022_117_401_913
"""The PostgreSQL advisory lock key of app-database migrations (a fixed 64-bit number; no other
code of this project takes advisory locks)."""
LOCK_SUFFIX = ".migrate.lock"


def alembic_config() -> Config:
    """Alembic configuration pointing at this package's migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest migration revision shipped with this version of the code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no Alembic migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def sqlite_lock_path(engine: Engine) -> Path | None:
    """The lock file of a SQLite database file (None for an in-memory database)."""
    database = (engine.url.database or "").removeprefix("file:")
    if not database or database == ":memory:":
        return None
    return Path(database).expanduser().with_name(Path(database).name + LOCK_SUFFIX)


@contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _advisory_lock(connection: Connection) -> Iterator[None]:
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    connection.commit()
    try:
        yield
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
        connection.commit()


def _migrate(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    with connection.begin():
        command.upgrade(config, "head")


def upgrade(engine: Engine) -> str:
    """Migrate ``engine``'s database to the head revision in one transaction, holding the
    migration lock; return the head revision."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection, _advisory_lock(connection):
            _migrate(connection)
    else:
        with _file_lock(sqlite_lock_path(engine)), engine.connect() as connection:
            _migrate(connection)
    return head_revision()
