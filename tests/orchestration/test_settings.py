"""Settings: defaults, validation messages that name the variable and list accepted values."""

import datetime as dt

import pytest

from orchestration.settings import SettingsError, load_settings


def test_defaults_put_everything_in_the_state_folder(tmp_path):
    settings = load_settings({"PORTFOLIO_HOME": str(tmp_path)})
    assert settings.home == tmp_path
    assert settings.database_url == f"sqlite:///{tmp_path / 'portfolio.db'}"
    assert settings.dagster_home == tmp_path / "dagster"
    assert settings.market_data == "demo"
    assert settings.is_simulated
    assert settings.broker == "paper"
    assert settings.start_date.weekday() < 5
    assert settings.market_index == "SPY"
    assert not settings.etf_look_through


def test_dagster_home_from_environment(tmp_path):
    settings = load_settings({"PORTFOLIO_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "x")})
    assert settings.dagster_home == tmp_path / "x"


@pytest.mark.parametrize(
    ("env", "match"),
    [
        (
            {"PORTFOLIO_MARKET_DATA": "yahoo"},
            r"PORTFOLIO_MARKET_DATA='yahoo'.*accepted values: demo, csv",
        ),
        ({"PORTFOLIO_BROKER": "alpaca"}, r"PORTFOLIO_BROKER='alpaca'.*accepted values: paper, ib"),
        ({"PORTFOLIO_MARKET_DATA": "csv"}, "PORTFOLIO_CSV_DIR"),
        ({"PORTFOLIO_START_DATE": "2024-13-01"}, "PORTFOLIO_START_DATE.*ISO date"),
        ({"PORTFOLIO_START_DATE": "2024-06-01"}, "weekend"),
        ({"PORTFOLIO_DEMO_SYMBOLS": "ten"}, "PORTFOLIO_DEMO_SYMBOLS.*not an integer"),
        ({"PORTFOLIO_DEMO_SYMBOLS": "5"}, "PORTFOLIO_DEMO_SYMBOLS=5 must be at least 33"),
        ({"PORTFOLIO_DATABASE_URL": "mysql://x/y"}, "PORTFOLIO_DATABASE_URL must start with"),
        (
            {"PORTFOLIO_DATABASE_URL": "postgresql+psycopg://u:secret@h/db"},
            "must not contain a password",
        ),
        ({"PORTFOLIO_MARKET_INDEX": "spy"}, r"PORTFOLIO_MARKET_INDEX='spy' is not a symbol"),
        (
            {"PORTFOLIO_ETF_LOOK_THROUGH": "maybe"},
            r"PORTFOLIO_ETF_LOOK_THROUGH='maybe'.*accepted values: 1, true, yes, 0, false, no",
        ),
        ({"PORTFOLIO_STALE_SESSIONS": "-1"}, "PORTFOLIO_STALE_SESSIONS=-1 must be at least 0"),
        ({"PORTFOLIO_STALE_SESSIONS": "two"}, "PORTFOLIO_STALE_SESSIONS='two' is not an integer"),
    ],
)
def test_invalid_values_fail_with_a_message_naming_the_variable(tmp_path, env, match):
    with pytest.raises(SettingsError, match=match):
        load_settings({"PORTFOLIO_HOME": str(tmp_path), **env})


def test_csv_directory_must_exist(tmp_path):
    with pytest.raises(SettingsError, match="is not a directory"):
        load_settings(
            {"PORTFOLIO_MARKET_DATA": "csv", "PORTFOLIO_CSV_DIR": str(tmp_path / "missing")}
        )


def test_csv_and_postgres_settings(tmp_path):
    settings = load_settings(
        {
            "PORTFOLIO_HOME": str(tmp_path),
            "PORTFOLIO_MARKET_DATA": "CSV",
            "PORTFOLIO_CSV_DIR": str(tmp_path),
            "PORTFOLIO_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/portfolio",
            "PORTFOLIO_START_DATE": "2019-01-02",
        }
    )
    assert settings.market_data == "csv"
    assert settings.csv_dir == tmp_path
    assert settings.start_date == dt.date(2019, 1, 2)
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert not settings.is_simulated


def test_trading_paper_and_ib_defaults(tmp_path):
    settings = load_settings({"PORTFOLIO_HOME": str(tmp_path)})
    assert settings.trading.positions_source == "market_data"
    assert not settings.trading.auto_approve
    assert settings.trading.max_net_liquidation_fraction == 0.25
    assert settings.paper.account == "PAPER"
    assert settings.paper.reject_symbols == ()
    assert settings.paper.disconnect_after_calls is None
    assert (settings.ib.host, settings.ib.port, settings.ib.account) == ("127.0.0.1", 4002, "")
    assert (settings.ib.client_id, settings.ib.readonly_client_id) == (11, 12)


def test_trading_paper_and_ib_from_environment(tmp_path):
    settings = load_settings(
        {
            "PORTFOLIO_HOME": str(tmp_path),
            "PORTFOLIO_BROKER": "ib",
            "IB_HOST": "gateway.local",
            "IB_PORT": "4001",
            "IB_ACCOUNT": "DU123456",
            "IB_CLIENT_ID": "7",
            "IB_READONLY_CLIENT_ID": "8",
            "PORTFOLIO_PREVIEW_TTL_SECONDS": "0",
            "PORTFOLIO_MAX_ORDER_NOTIONAL": "1000.5",
            "PORTFOLIO_EXECUTION_LEASE_SECONDS": "2",
            "PORTFOLIO_POSITIONS_SOURCE": "broker",
            "PORTFOLIO_PAPER_REJECT_SYMBOLS": "AAA, BBB",
            "PORTFOLIO_PAPER_FILL_FRACTION": "0.5",
            "PORTFOLIO_PAPER_DISCONNECT_AFTER_CALLS": "0",
        }
    )
    assert settings.ib.host == "gateway.local"
    assert (settings.ib.port, settings.ib.client_id, settings.ib.readonly_client_id) == (4001, 7, 8)
    assert settings.ib.account == "DU123456"
    assert settings.trading.preview_ttl_seconds == 0.0
    assert settings.trading.max_order_notional == 1000.5
    assert settings.trading.lease_seconds == 2.0
    assert settings.trading.positions_source == "broker"
    assert settings.paper.reject_symbols == ("AAA", "BBB")
    assert settings.paper.fill_fraction == 0.5
    assert settings.paper.disconnect_after_calls == 0


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"PORTFOLIO_BROKER": "ib"}, "PORTFOLIO_BROKER=ib needs IB_ACCOUNT"),
        ({"IB_PORT": "70000"}, "IB_PORT=70000 must be at most 65535"),
        ({"IB_PORT": "x"}, "IB_PORT='x' is not an integer"),
        ({"IB_CLIENT_ID": "3", "IB_READONLY_CLIENT_ID": "3"}, "must differ from IB_CLIENT_ID"),
        ({"IB_HOST": "http://x"}, "IB_HOST='http://x' must be a host name"),
        ({"IB_ACCOUNT": "DU 1"}, "IB_ACCOUNT='DU 1' may only contain"),
        ({"PORTFOLIO_AUTO_APPROVE": "maybe"}, "PORTFOLIO_AUTO_APPROVE='maybe' is not a boolean"),
        (
            {"PORTFOLIO_AUTO_APPROVE": "true", "PORTFOLIO_BROKER": "ib", "IB_ACCOUNT": "DU1"},
            "PORTFOLIO_AUTO_APPROVE=true is only allowed with PORTFOLIO_BROKER=paper",
        ),
        ({"PORTFOLIO_MAX_ORDER_NOTIONAL": "0"}, "PORTFOLIO_MAX_ORDER_NOTIONAL=0 must be greater"),
        ({"PORTFOLIO_MAX_GROUP_NOTIONAL": "lots"}, "PORTFOLIO_MAX_GROUP_NOTIONAL='lots' is not"),
        (
            {"PORTFOLIO_MAX_NET_LIQUIDATION_FRACTION": "1.5"},
            "PORTFOLIO_MAX_NET_LIQUIDATION_FRACTION=1.5 must be at most 1",
        ),
        ({"PORTFOLIO_PREVIEW_TTL_SECONDS": "nan"}, "PORTFOLIO_PREVIEW_TTL_SECONDS='nan' must be"),
        ({"PORTFOLIO_EXECUTION_LEASE_SECONDS": "0.1"}, "must be at least 0.5"),
        ({"PORTFOLIO_ORDER_TIMEOUT_SECONDS": "-1"}, "PORTFOLIO_ORDER_TIMEOUT_SECONDS=-1"),
        (
            {"PORTFOLIO_POSITIONS_SOURCE": "csv"},
            r"PORTFOLIO_POSITIONS_SOURCE='csv'.*accepted values: market_data, broker",
        ),
        ({"PORTFOLIO_PAPER_FILL_FRACTION": "0"}, "PORTFOLIO_PAPER_FILL_FRACTION=0 must be greater"),
        ({"PORTFOLIO_PAPER_REJECT_SYMBOLS": "A,,B"}, "has an empty entry"),
        ({"PORTFOLIO_PAPER_DISCONNECT_AFTER_CALLS": "-1"}, "must be at least 0"),
        (
            {"PORTFOLIO_PAPER_SLIPPAGE_BPS": "2000"},
            "PORTFOLIO_PAPER_SLIPPAGE_BPS=2000 must be at most",
        ),
    ],
)
def test_invalid_trading_settings_name_the_variable(tmp_path, env, match):
    with pytest.raises(SettingsError, match=match):
        load_settings({"PORTFOLIO_HOME": str(tmp_path), **env})


def test_risk_settings(tmp_path):
    settings = load_settings(
        {
            "PORTFOLIO_HOME": str(tmp_path),
            "PORTFOLIO_MARKET_INDEX": "QQQ",
            "PORTFOLIO_ETF_LOOK_THROUGH": "Yes",
            "PORTFOLIO_STALE_SESSIONS": "2",
        }
    )
    assert settings.market_index == "QQQ"
    assert settings.etf_look_through
    assert settings.stale_sessions == 2
    assert load_settings({"PORTFOLIO_HOME": str(tmp_path)}).stale_sessions == 0


def test_fmp_settings(tmp_path):
    positions = tmp_path / "positions.csv"
    positions.write_text("account,symbol,quantity,cost_basis,currency\n")
    settings = load_settings(
        {
            "PORTFOLIO_HOME": str(tmp_path),
            "PORTFOLIO_MARKET_DATA": "fmp",
            "FMP_API_KEY": "k-123",
            "PORTFOLIO_FMP_SYMBOLS": "AAPL, BRK-B",
            "PORTFOLIO_FMP_POSITIONS_CSV": str(positions),
            "PORTFOLIO_FMP_BASE_URL": "http://127.0.0.1:8080/api/v3/",
            "PORTFOLIO_FMP_CALLS_PER_MINUTE": "750",
            "PORTFOLIO_FMP_TIMEOUT_SECONDS": "5",
        }
    )
    assert settings.market_data == "fmp"
    assert settings.fmp.symbols == ("AAPL", "BRK-B")
    assert settings.fmp.positions_csv == positions
    assert settings.fmp.base_url == "http://127.0.0.1:8080/api/v3"
    assert (settings.fmp.calls_per_minute, settings.fmp.timeout_seconds) == (750, 5.0)
    assert "k-123" not in repr(settings)
    defaults = load_settings({"PORTFOLIO_HOME": str(tmp_path)}).fmp
    assert defaults.base_url == "https://financialmodelingprep.com/api/v3"
    assert defaults.calls_per_minute == 300


FMP_BROKER = {"FMP_API_KEY": "k", "PORTFOLIO_POSITIONS_SOURCE": "broker"}


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({}, r"PORTFOLIO_MARKET_DATA=fmp needs FMP_API_KEY"),
        ({"FMP_API_KEY": "k"}, r"needs PORTFOLIO_FMP_POSITIONS_CSV .* unless"),
        (
            {"FMP_API_KEY": "k", "PORTFOLIO_FMP_POSITIONS_CSV": "/nonexistent/p.csv"},
            r"PORTFOLIO_FMP_POSITIONS_CSV=/nonexistent/p.csv is not a file",
        ),
        (
            {
                "FMP_API_KEY": "k",
                "PORTFOLIO_POSITIONS_SOURCE": "broker",
                "PORTFOLIO_FMP_SYMBOLS": "aapl",
            },
            r"PORTFOLIO_FMP_SYMBOLS has 'aapl', not a symbol",
        ),
        (
            {**FMP_BROKER, "PORTFOLIO_FMP_BASE_URL": "https://x/api/v3?apikey=secret"},
            r"^PORTFOLIO_FMP_BASE_URL must be an http\(s\) URL without a query string \(the key "
            r"comes from FMP_API_KEY\)$",
        ),
        (
            {
                "FMP_API_KEY": "k",
                "PORTFOLIO_POSITIONS_SOURCE": "broker",
                "PORTFOLIO_FMP_CALLS_PER_MINUTE": "0",
            },
            r"PORTFOLIO_FMP_CALLS_PER_MINUTE=0 must be at least 1",
        ),
    ],
)
def test_invalid_fmp_settings_name_the_variable(tmp_path, env, match):
    with pytest.raises(SettingsError, match=match):
        load_settings({"PORTFOLIO_HOME": str(tmp_path), "PORTFOLIO_MARKET_DATA": "fmp", **env})


def test_fmp_market_data_resource_takes_the_key_from_the_environment(tmp_path):
    from dagster import EnvVar

    from orchestration.definitions import build_market_data
    from orchestration.resources.fmp import FmpMarketData

    settings = load_settings(
        {
            "PORTFOLIO_HOME": str(tmp_path),
            "PORTFOLIO_MARKET_DATA": "fmp",
            "FMP_API_KEY": "k-123",
            "PORTFOLIO_POSITIONS_SOURCE": "broker",
            "PORTFOLIO_FMP_SYMBOLS": "AAPL",
        }
    )
    source = build_market_data(settings)
    assert isinstance(source, FmpMarketData)
    assert isinstance(source.api_key, EnvVar)
    assert source.api_key == "FMP_API_KEY"
    assert "k-123" not in source.model_dump_json()
    assert source.symbols == ["AAPL"]
