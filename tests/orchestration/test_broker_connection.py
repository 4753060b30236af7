"""The broker resource: paper sessions open lazily and close; IB is imported only when
selected and fails with a message naming what is missing."""

import importlib

import pytest

from orchestration.resources.broker import BrokerDisconnected, BrokerError
from orchestration.resources.broker_connection import BrokerConnection, broker_connection
from orchestration.resources.paper_broker import PaperBroker
from tests.support import make_settings
from tests.trading_support import seed_market


def test_paper_session_opens_on_first_use_and_closes(tmp_path, database_url):
    seed_market(database_url)
    settings = make_settings(tmp_path, database_url, PORTFOLIO_PAPER_SLIPPAGE_BPS="7")
    resource = broker_connection(settings, readonly=True)
    assert resource.paper_settings == settings.paper
    with resource.session() as broker:
        assert isinstance(broker, PaperBroker)
        assert resource.get() is broker
        assert broker.account_summary().account == "PAPER"
    with pytest.raises(BrokerDisconnected, match="not connected"):
        broker.positions()


def test_trading_and_readonly_sessions_use_their_ib_client_ids(tmp_path):
    settings = make_settings(tmp_path, IB_CLIENT_ID="11", IB_READONLY_CLIENT_ID="12")
    assert broker_connection(settings, readonly=False).ib_client_id == 11
    assert broker_connection(settings, readonly=True).ib_client_id == 12


@pytest.mark.parametrize(
    ("missing", "match"),
    [
        ("ib_async", r"PORTFOLIO_BROKER=ib needs the `ib` extra \(ib_async\)"),
        ("orchestration.resources.ib_broker", "is not part of this installation"),
    ],
)
def test_ib_is_imported_lazily_with_a_clear_message(monkeypatch, missing, match):
    real_import = importlib.import_module

    def fake_import(name, *args):
        if name == "orchestration.resources.ib_broker":
            raise ModuleNotFoundError(f"No module named {missing!r}", name=missing)
        return real_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    resource = BrokerConnection(kind="ib", readonly=False, database_url="sqlite://")
    with pytest.raises(BrokerError, match=match):
        resource.get()


def test_ib_broker_gets_the_connection_settings(monkeypatch):
    created = {}

    class FakeIbModule:
        class IbBroker(PaperBroker):
            def __init__(self, **kwargs):
                created.update(kwargs)

            def connect(self):
                created["connected"] = True

    monkeypatch.setattr(importlib, "import_module", lambda name, *a: FakeIbModule)
    resource = BrokerConnection(
        kind="ib",
        readonly=True,
        database_url="sqlite://",
        ib_host="gw",
        ib_port=4001,
        ib_account="DU1",
        ib_client_id=12,
    )
    resource.get()
    assert created == {
        "host": "gw",
        "port": 4001,
        "account": "DU1",
        "client_id": 12,
        "readonly": True,
        "connected": True,
    }


def test_unknown_broker_kind_is_refused():
    with pytest.raises(BrokerError, match="unknown broker 'alpaca'"):
        BrokerConnection(kind="alpaca", readonly=True, database_url="sqlite://").get()
