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


def test_ib_defaults_point_at_a_local_paper_gateway(tmp_path):
    settings = load_settings({"PORTFOLIO_HOME": str(tmp_path)})
    assert (settings.ib_host, settings.ib_port, settings.ib_account) == ("127.0.0.1", 4002, "")
    assert (settings.ib_client_id, settings.ib_readonly_client_id) == (11, 12)


def test_ib_settings_from_environment(tmp_path):
    settings = load_settings(
        {
            "PORTFOLIO_HOME": str(tmp_path),
            "IB_HOST": "gateway.internal",
            "IB_PORT": "4001",
            "IB_ACCOUNT": "U1234567",
            "IB_CLIENT_ID": "0",
            "IB_READONLY_CLIENT_ID": "7",
        }
    )
    assert (settings.ib_host, settings.ib_port, settings.ib_account) == (
        "gateway.internal",
        4001,
        "U1234567",
    )
    assert (settings.ib_client_id, settings.ib_readonly_client_id) == (0, 7)


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"IB_HOST": "gate way"}, "IB_HOST='gate way' is not a host name"),
        ({"IB_HOST": "http://gateway"}, "IB_HOST='http://gateway' is not a host name"),
        ({"IB_PORT": "four"}, "IB_PORT='four' is not an integer"),
        ({"IB_PORT": "0"}, "IB_PORT=0 must be at least 1"),
        ({"IB_PORT": "70000"}, "IB_PORT=70000 must be at most 65535"),
        ({"IB_ACCOUNT": "DU-123"}, "IB_ACCOUNT='DU-123' must be letters and digits"),
        ({"IB_CLIENT_ID": "-1"}, "IB_CLIENT_ID=-1 must be at least 0"),
        ({"IB_READONLY_CLIENT_ID": "x"}, "IB_READONLY_CLIENT_ID='x' is not an integer"),
        (
            {"IB_CLIENT_ID": "5", "IB_READONLY_CLIENT_ID": "5"},
            "IB_CLIENT_ID and IB_READONLY_CLIENT_ID are both 5; they must differ",
        ),
    ],
)
def test_invalid_ib_settings_name_the_variable(tmp_path, env, match):
    with pytest.raises(SettingsError, match=match):
        load_settings({"PORTFOLIO_HOME": str(tmp_path), **env})
