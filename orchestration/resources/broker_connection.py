"""The Dagster resource that hands a run a connected :class:`Broker`.

``PORTFOLIO_BROKER`` selects the implementation: ``paper`` (:class:`PaperBroker`, default) or
``ib`` (``orchestration.resources.ib_broker.IbBroker``, imported only when selected, so the
``ib`` extra is optional). The session opens on first use inside the run and closes when the run
ends; sensors never get one. Two resource keys exist: ``broker`` (the trading session, used by
execution and cancellation) and ``broker_data`` (read-only: previews, positions, reconciliation;
for IB a separate client id).
"""

from __future__ import annotations

import importlib

import dagster as dg
from pydantic import Field, PrivateAttr

from orchestration.resources.broker import Broker, BrokerError, BrokerSession
from orchestration.resources.database import secret
from orchestration.resources.paper_broker import PaperBroker
from orchestration.settings import (
    DATABASE_URL_VARIABLE,
    IB_ACCOUNT_VARIABLE,
    PaperBrokerSettings,
    Settings,
)

IB_MODULE = "orchestration.resources.ib_broker"
IB_CLIENT_MODULES = ("ib_async", "ib_insync")


class BrokerConnection(dg.ConfigurableResource, BrokerSession):
    """A broker session for the duration of a run (opened lazily, closed at teardown)."""

    kind: str
    readonly: bool
    database_url: str
    paper_account: str = "PAPER"
    paper_cash: float = 100_000.0
    paper_slippage_bps: float = 5.0
    paper_commission_per_share: float = 0.005
    paper_commission_minimum: float = 1.0
    paper_reject_symbols: list[str] = Field(default_factory=list)
    paper_fill_fraction: float = 1.0
    paper_fill_latency_seconds: float = 0.0
    paper_disconnect_after_calls: int | None = None
    ib_host: str = "127.0.0.1"
    ib_port: int = 4002
    ib_account: str = ""
    ib_client_id: int = 11

    _broker: Broker | None = PrivateAttr(default=None)

    @property
    def paper_settings(self) -> PaperBrokerSettings:
        """The paper broker's configuration."""
        return PaperBrokerSettings(
            account=self.paper_account,
            cash=self.paper_cash,
            slippage_bps=self.paper_slippage_bps,
            commission_per_share=self.paper_commission_per_share,
            commission_minimum=self.paper_commission_minimum,
            reject_symbols=tuple(self.paper_reject_symbols),
            fill_fraction=self.paper_fill_fraction,
            fill_latency_seconds=self.paper_fill_latency_seconds,
            disconnect_after_calls=self.paper_disconnect_after_calls,
        )

    def _create(self) -> Broker:
        if self.kind == "paper":
            return PaperBroker(self.database_url, self.paper_settings, readonly=self.readonly)
        if self.kind == "ib":
            return self._ib_broker()
        raise BrokerError(f"unknown broker {self.kind!r}; PORTFOLIO_BROKER accepts paper, ib")

    def _ib_broker(self) -> Broker:
        try:
            module = importlib.import_module(IB_MODULE)
        except ModuleNotFoundError as exc:
            if exc.name in IB_CLIENT_MODULES:
                raise BrokerError(
                    "PORTFOLIO_BROKER=ib needs the `ib` extra (ib_async): pip install -e '.[ib]'"
                ) from exc
            if exc.name == IB_MODULE:
                raise BrokerError(
                    f"PORTFOLIO_BROKER=ib but {IB_MODULE} is not part of this installation; "
                    "use PORTFOLIO_BROKER=paper"
                ) from exc
            raise
        return module.IbBroker(
            host=self.ib_host,
            port=self.ib_port,
            account=self.ib_account,
            client_id=self.ib_client_id,
            readonly=self.readonly,
        )

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()


def broker_connection(
    settings: Settings, *, readonly: bool, secrets_as_env_vars: bool = False
) -> BrokerConnection:
    """The broker resource the settings select (trading or read-only session).

    With ``secrets_as_env_vars`` (the Dagster definitions) the database URL and the IB account
    are ``dg.EnvVar`` where the environment sets them, so the UI never shows them; without (the
    CLI and the MCP server, which use the resource outside a run) they are the values.
    """
    paper = settings.paper

    def value(variable: str, setting: str) -> str:
        return secret(settings, variable, setting) if secrets_as_env_vars else setting

    return BrokerConnection(
        kind=settings.broker,
        readonly=readonly,
        database_url=value(DATABASE_URL_VARIABLE, settings.database_url),
        paper_account=paper.account,
        paper_cash=paper.cash,
        paper_slippage_bps=paper.slippage_bps,
        paper_commission_per_share=paper.commission_per_share,
        paper_commission_minimum=paper.commission_minimum,
        paper_reject_symbols=list(paper.reject_symbols),
        paper_fill_fraction=paper.fill_fraction,
        paper_fill_latency_seconds=paper.fill_latency_seconds,
        paper_disconnect_after_calls=paper.disconnect_after_calls,
        ib_host=settings.ib.host,
        ib_port=settings.ib.port,
        ib_account=value(IB_ACCOUNT_VARIABLE, settings.ib.account),
        ib_client_id=settings.ib.readonly_client_id if readonly else settings.ib.client_id,
    )
