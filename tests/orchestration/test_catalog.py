"""The catalog policy of the loaded definitions: session freshness, code versions, owners,
kinds, table names and column schemas, broker pools, the never-retried execution job, and no
secret in the configuration the UI shows."""

import datetime as dt

import dagster as dg
import pytest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._serdes import serialize_value

from orchestration import catalog
from orchestration.definitions import build_definitions
from orchestration.settings import SettingsError, load_settings
from orchestration.storage.models import Base
from tests.support import make_settings

RISK_SNAPSHOT = (
    "position_betas",
    "portfolio_returns",
    "portfolio_beta",
    "sector_exposure",
    "concentration",
    "volatility_forecasts",
    "portfolio_snapshot",
)
BROKER_DATA_ASSETS = ("portfolio_positions", "broker_reconciliation", "transactions", "trade_plan")


@pytest.fixture(scope="module")
def defs(tmp_path_factory) -> dg.Definitions:
    return build_definitions(make_settings(tmp_path_factory.mktemp("home")))


def _specs(defs: dg.Definitions) -> dict[str, dg.AssetSpec]:
    return {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}


def test_thanksgiving_week_spans_are_counted_in_sessions():
    # Sessions 2026-11-23 … 30: Mon 23, Tue 24, Wed 25, (Thanksgiving), Fri 27, Mon 30.
    week = (dt.date(2026, 11, 23), dt.date(2026, 11, 30))
    assert catalog.session_span(1, *week) == dt.timedelta(days=3)  # Fri 27 → Mon 30
    assert catalog.session_span(2, *week) == dt.timedelta(days=5)  # Wed 25 → Mon 30
    with pytest.raises(ValueError, match="has 5 sessions"):
        catalog.session_span(5, *week)


def test_freshness_warns_after_one_session_and_fails_after_three():
    # 2026-11-02 … 2027-12-31: the longest one-session step is 4 days (Good Friday 2027,
    # Thu 03-25 → Mon 03-29; Christmas 2026, Thu 12-24 → Mon 12-28), the longest three-session
    # one 6 days (Wed 2026-12-23 → Thu 24, Mon 28, Tue 29).
    policy = catalog.session_freshness(dt.date(2026, 11, 2))
    assert policy.warn_window.to_timedelta() == dt.timedelta(days=4, hours=3)
    assert policy.fail_window.to_timedelta() == dt.timedelta(days=6, hours=3)


def test_daily_prices_and_the_risk_snapshot_carry_the_session_freshness_policy(defs):
    specs = _specs(defs)
    for key in ("daily_prices", *RISK_SNAPSHOT):
        policy = specs[key].freshness_policy
        assert isinstance(policy, dg.FreshnessPolicy), key
        assert dt.timedelta(days=6) < policy.fail_window.to_timedelta() < dt.timedelta(days=8)
    assert specs["instruments"].freshness_policy is None
    assert specs["trade_plan"].freshness_policy is None


def test_every_asset_has_an_entry_in_the_table_map_and_every_table_exists(defs):
    assert set(catalog.ASSET_TABLES) == set(_specs(defs))
    named = {table for tables in catalog.ASSET_TABLES.values() for table in tables}
    assert named <= set(Base.metadata.tables)


def test_an_asset_writing_one_table_shows_its_name_and_columns(defs):
    specs = _specs(defs)
    metadata = specs["daily_prices"].metadata
    assert metadata["dagster/table_name"] == "prices"
    schema = metadata["dagster/column_schema"]
    columns = {column.name: column for column in schema.columns}
    assert list(columns) == [
        "date",
        "symbol",
        "open",
        "high",
        "low",
        "close",
        "adj_close",
        "volume",
        "source",
        "ingested_at",
    ]
    assert columns["close"].type == "FLOAT" or columns["close"].type.startswith("DOUBLE")
    assert columns["symbol"].type == "VARCHAR(32)"
    assert columns["open"].constraints.nullable is True
    assert columns["source"].constraints.nullable is False
    assert schema.constraints.other == ["primary key (date, symbol)"]
    assert "dagster/table_name" not in specs["trade_plan"].metadata  # two tables
    assert "dagster/table_name" not in specs["returns_panel"].metadata  # none


def test_owner_code_version_and_kinds(defs):
    for key, spec in _specs(defs).items():
        if key == "baskets":  # an observable source: no code of ours runs to version
            continue
        assert spec.owners == ["team:portfolio"], key
        assert spec.code_version == "1", key
        assert "pandas" in spec.kinds and "sql" not in spec.kinds, key
    specs = _specs(defs)
    assert specs["daily_prices"].kinds == {"sqlite", "pandas"}
    assert specs["returns_panel"].kinds == {"pandas"}


def test_the_postgres_kind_follows_the_database_url(tmp_path):
    settings = make_settings(tmp_path, "postgresql+psycopg://portfolio@db.internal:5432/book")
    specs = _specs(build_definitions(settings))
    assert specs["position_betas"].kinds == {"postgres", "pandas"}


def test_broker_data_steps_share_one_pool_and_executions_are_never_retried(defs):
    for key in BROKER_DATA_ASSETS:
        assert defs.resolve_assets_def(key).op.pool == "broker_data", key
    preview = defs.resolve_job_def("preview_basket_trade")
    assert preview.graph.node_named("basket_trade_preview").definition.pool == "broker_data"
    execute = defs.resolve_job_def("execute_basket_trade")
    assert execute.tags["dagster/max_retries"] == "0"
    assert execute.graph.node_named("basket_trade_execution").definition.pool == "broker"


SECRETS = {
    "PORTFOLIO_DATABASE_URL": "postgresql+psycopg://portfolio@db-7f3a.internal:5432/book",
    "IB_ACCOUNT": "U7654321",
    "PORTFOLIO_ALERT_WEBHOOK": "https://hooks.example/services/T0/B0/s3cr3tT0ken",
}


def test_the_ui_never_sees_the_database_url_the_ib_account_or_the_webhook(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTFOLIO_HOME", str(tmp_path))
    monkeypatch.setenv("PORTFOLIO_BROKER", "ib")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    defs = build_definitions(load_settings())
    snapshot = serialize_value(RepositorySnap.from_def(defs.get_repository_def()))
    for name, value in SECRETS.items():
        assert value not in snapshot, name
        assert name in snapshot, name
    assert "db-7f3a" not in snapshot
    resources = defs.resources
    assert isinstance(resources["database"].url, dg.EnvVar)
    assert isinstance(resources["broker"].ib_account, dg.EnvVar)
    assert isinstance(resources["broker_data"].database_url, dg.EnvVar)
    assert isinstance(resources["alert_webhook"].url, dg.EnvVar)


def test_a_derived_database_url_is_no_secret_and_stays_a_value(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTFOLIO_HOME", str(tmp_path))
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    resources = build_definitions(load_settings()).resources
    assert resources["database"].url == f"sqlite:///{tmp_path / 'portfolio.db'}"
    assert not isinstance(resources["database"].url, dg.EnvVar)
    assert resources["alert_webhook"].url == ""


def test_settings_from_a_mapping_keep_plain_values(tmp_path):
    settings = load_settings({"PORTFOLIO_HOME": str(tmp_path), **SECRETS})
    assert settings.environment_secrets == {}
    resources = build_definitions(settings).resources
    assert resources["database"].url == SECRETS["PORTFOLIO_DATABASE_URL"]


def test_a_secret_with_surrounding_blanks_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTFOLIO_HOME", str(tmp_path))
    monkeypatch.setenv("IB_ACCOUNT", "U7654321 ")
    with pytest.raises(SettingsError, match="IB_ACCOUNT has leading or trailing blanks"):
        load_settings()
