"""What every holder of the app database offers on top of its engine: the dialect, one
transaction, a read into a DataFrame. The Dagster resource
(:class:`~orchestration.resources.database.Database`) and the command line's
:class:`~orchestration.cli.database.AppDatabase` differ only in how they obtain the engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
from sqlalchemy.engine import Connection, Engine

from orchestration.storage import bulk


class DatabaseAccess:
    """Queries and transactions over :attr:`engine`, which a subclass provides."""

    @property
    def engine(self) -> Engine:
        """The migrated engine of the app database."""
        raise NotImplementedError

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection inside one transaction: committed on success, rolled back on error."""
        with self.engine.begin() as connection:
            yield connection

    def read_frame(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        """Run a read-only query and return a DataFrame."""
        with self.engine.connect() as connection:
            return bulk.read_frame(connection, sql, params)
