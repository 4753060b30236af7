"""The app database as a Dagster resource."""

from __future__ import annotations

import dagster as dg
from sqlalchemy.engine import Engine

from orchestration.settings import Settings
from orchestration.storage.access import DatabaseAccess
from orchestration.storage.engine import get_engine


def secret(settings: Settings, variable: str, value: str) -> str:
    """``value`` for a resource's configuration: ``dg.EnvVar(variable)`` when it is the value
    of the secret ``variable`` in the process environment (the UI then shows the name and the
    run reads the value when it starts), else ``value`` itself (empty, or derived from a
    default such as the SQLite database under ``PORTFOLIO_HOME``)."""
    if value and settings.environment_secrets.get(variable) == value:
        return dg.EnvVar(variable)
    return value


class Database(dg.ConfigurableResource, DatabaseAccess):
    """SQLAlchemy access to the app database; migrations are applied on first use.

    ``url`` is ``sqlite:///…`` (embedded default) or ``postgresql+psycopg://…``.
    """

    url: str

    @property
    def engine(self) -> Engine:
        """The migrated process-wide engine for :attr:`url`."""
        return get_engine(self.url)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Apply pending migrations before any step of the run touches the database."""
        get_engine(self.url)
