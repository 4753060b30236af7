"""Processes that start at once (webserver, daemon, runs) all migrate the app database on first
use: four processes released together by a barrier end with one schema at head and no error, on
PostgreSQL (advisory lock) and on SQLite (file lock)."""

import multiprocessing
import traceback

import pytest
from sqlalchemy import create_engine, inspect, text

from orchestration.storage import migrate
from orchestration.storage.models import Base

PROCESSES = 4


def _upgrade(url: str, barrier, errors) -> None:
    engine = create_engine(url)
    try:
        barrier.wait(timeout=60)
        migrate.upgrade(engine)
    except Exception:
        errors.put(traceback.format_exc())
    finally:
        engine.dispose()


def _upgrade_at_once(url: str) -> list[str]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    errors = context.Queue()
    workers = [
        context.Process(target=_upgrade, args=(url, barrier, errors)) for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert all(worker.exitcode == 0 for worker in workers)
    found = []
    while not errors.empty():
        found.append(errors.get())
    return found


def _assert_one_schema_at_head(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [row[0] for row in versions] == [migrate.head_revision()]
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_four_processes_migrating_a_fresh_postgres_database_at_once_end_at_head(postgres_url):
    assert _upgrade_at_once(postgres_url) == []
    _assert_one_schema_at_head(postgres_url)


@pytest.mark.slow
def test_four_processes_migrating_a_fresh_sqlite_database_at_once_end_at_head(tmp_path):
    url = f"sqlite:///{tmp_path / 'portfolio.db'}"
    assert _upgrade_at_once(url) == []
    _assert_one_schema_at_head(url)
    assert (tmp_path / "portfolio.db.migrate.lock").exists()


def test_the_sqlite_lock_file_sits_beside_the_database(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    assert migrate.sqlite_lock_path(engine) == tmp_path / "app.db.migrate.lock"
    assert migrate.sqlite_lock_path(create_engine("sqlite://")) is None
