"""The app database as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import pandas as pd
from sqlalchemy.engine import Connection, Engine

from orchestration.storage import bulk
from orchestration.storage.engine import get_engine


class Database(dg.ConfigurableResource):
    """SQLAlchemy access to the app database; migrations are applied on first use.

    ``url`` is ``sqlite:///…`` (embedded default) or ``postgresql+psycopg://…``.
    """

    url: str

    @property
    def engine(self) -> Engine:
        """The migrated process-wide engine for :attr:`url`."""
        return get_engine(self.url)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Apply pending migrations before any step of the run touches the database."""
        get_engine(self.url)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection inside one transaction: committed on success, rolled back on error."""
        with self.engine.begin() as connection:
            yield connection

    def read_frame(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        """Run a read-only query and return a DataFrame."""
        with self.engine.connect() as connection:
            return bulk.read_frame(connection, sql, params)
