"""The broker session of a command outside a run.

The paper broker (the default) is built here directly; any other broker comes from the Dagster
resource :func:`orchestration.resources.broker_connection.broker_connection`, imported only
then, so a paper preview or cancel never imports Dagster (about a second).
"""

from __future__ import annotations

from orchestration.resources.broker import Broker, BrokerSession
from orchestration.resources.paper_broker import PaperBroker
from orchestration.settings import Settings


class PaperSession(BrokerSession):
    """The paper broker of ``settings``, connected on the first :meth:`get`."""

    def __init__(self, settings: Settings, *, readonly: bool) -> None:
        self._settings = settings
        self._readonly = readonly
        self._broker = None

    def _create(self) -> Broker:
        return PaperBroker(
            self._settings.database_url, self._settings.paper, readonly=self._readonly
        )


def broker_connection(settings: Settings, *, readonly: bool) -> BrokerSession:
    """The broker the settings select, as a trading (``readonly=False``) or read-only session."""
    if settings.broker == "paper":
        return PaperSession(settings, readonly=readonly)
    from orchestration.resources.broker_connection import broker_connection as resource

    return resource(settings, readonly=readonly)
