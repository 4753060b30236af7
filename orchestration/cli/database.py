"""The app database for commands that run no job.

What the stores and the execution engine use of the Dagster resource
:class:`~orchestration.resources.database.Database` (``engine``, ``dialect``, ``transaction``,
``read_frame``), without importing Dagster (about a second) and without running Alembic on
every command: the first use reads the schema's revision and migrates only a database that is
behind the code (a new one, or one from before an upgrade).
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from orchestration.storage import migrate
from orchestration.storage.access import DatabaseAccess
from orchestration.storage.engine import get_engine


class AppDatabase(DatabaseAccess):
    """The app database at ``url`` for one command (what the stores use of ``Database``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """The process-wide engine for :attr:`url`, migrated first only when behind."""
        if self._engine is None:
            engine = get_engine(self.url, migrated=False)
            if migrate.current_revision(engine) != migrate.head_revision():
                engine = get_engine(self.url)
            self._engine = engine
        return self._engine
