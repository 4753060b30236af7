"""The commands' app database: a schema-version read on first use, a migration only when the
database is behind the code."""

import pytest

from orchestration.cli.database import AppDatabase
from orchestration.storage import migrate
from orchestration.storage.engine import dispose_engines, get_engine


@pytest.fixture
def url(tmp_path):
    dispose_engines()  # forget which databases this process has migrated already
    yield f"sqlite:///{tmp_path / 'app.db'}"
    dispose_engines()


def test_a_new_database_is_migrated_on_first_use(url):
    assert AppDatabase(url).read_frame("SELECT COUNT(*) AS n FROM baskets")["n"].iloc[0] == 0
    assert migrate.current_revision(get_engine(url, migrated=False)) == migrate.head_revision()


def test_a_database_at_head_is_only_read(url, monkeypatch):
    migrate.upgrade(get_engine(url, migrated=False))
    dispose_engines()
    upgrades = []
    monkeypatch.setattr(migrate, "upgrade", upgrades.append)
    database = AppDatabase(url)
    assert database.dialect == "sqlite"
    with database.transaction() as connection:
        connection.exec_driver_sql(
            "INSERT INTO trading_halts (action, created_at) VALUES ('halt', '2026-03-02 21:00')"
        )
    assert database.read_frame("SELECT action FROM trading_halts")["action"].tolist() == ["halt"]
    assert upgrades == []
