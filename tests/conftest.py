"""Shared fixtures: app databases on SQLite and PostgreSQL and temporary Dagster instances.

PostgreSQL tests run against a fresh database per test on the server named by
``PORTFOLIO_TEST_PG`` (libpq conninfo; default ``host=127.0.0.1 port=5432 user=postgres``) and
are skipped with a reason when no server is reachable.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from orchestration.storage.engine import dispose_engines
from tests.support import PG_CONNINFO, postgres_admin, postgres_skip_reason

POSTGRES_SKIP_REASON = postgres_skip_reason()


@contextmanager
def _fresh_postgres() -> Iterator[str]:
    if POSTGRES_SKIP_REASON:
        pytest.skip(POSTGRES_SKIP_REASON)
    name = f"pp_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    params = dict(part.split("=", 1) for part in PG_CONNINFO.split())
    host, port, user = params.get("host", "127.0.0.1"), params.get("port", "5432"), params["user"]
    yield f"postgresql+psycopg://{user}@{host}:{port}/{name}"
    dispose_engines()
    with postgres_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (dropped afterwards) as a SQLAlchemy URL."""
    with _fresh_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The app database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'portfolio.db'}"
        dispose_engines()
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Like ``database_url`` but shared by the tests of one module (an expensive setup, such as
    a loaded price history, is built once per module and backend)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'portfolio.db'}"
        dispose_engines()
    else:
        with _fresh_postgres() as url:
            yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """An app database on SQLite only (for tests of wiring whose queries are covered on both
    databases elsewhere)."""
    yield f"sqlite:///{tmp_path / 'portfolio.db'}"
    dispose_engines()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A temporary in-memory Dagster instance (runs, events and partition status live as long
    as the test). In-memory because every partition materialization costs the on-disk SQLite
    event log tens of milliseconds, and a backfill of the daily pipeline materializes nine
    partitioned assets per day; tests of the persistent instance use DAGSTER_HOME instead."""
    with dg.DagsterInstance.ephemeral() as test_instance:
        yield test_instance


@pytest.fixture
def persistent_instance() -> Iterator[dg.DagsterInstance]:
    """A temporary on-disk Dagster instance, for what needs an instance reference (sensor
    evaluation with dynamic partitions, as the daemon does it)."""
    with dg.instance_for_test() as test_instance:
        yield test_instance
