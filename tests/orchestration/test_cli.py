"""The `portfolio` command line: argument and settings errors, `db upgrade`."""

import pytest

from orchestration.cli import main
from orchestration.storage import migrate


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in ("PORTFOLIO_MARKET_DATA", "PORTFOLIO_CSV_DIR", "PORTFOLIO_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTFOLIO_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    return tmp_path


def test_db_upgrade_migrates_once(env, capsys):
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == f"app database: empty → {migrate.head_revision()}"
    assert main(["db", "upgrade"]) == 0
    head = migrate.head_revision()
    assert capsys.readouterr().out.strip() == f"app database: {head} → {head}"


def test_bad_settings_exit_2_naming_the_variable(env, monkeypatch, capsys):
    monkeypatch.setenv("PORTFOLIO_MARKET_DATA", "bloomberg")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "PORTFOLIO_MARKET_DATA='bloomberg'" in err and "accepted values: demo, csv" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["backfill", "2024-03-08", "2024-03-01"], "END 2024-03-01 is before START 2024-03-08"),
        (["backfill", "2024-03-09", "2024-03-11"], "START 2024-03-09 is a weekend day"),
        (["backfill", "2000-01-03", "2000-01-04"], "before the first partition"),
        (["run", "--date", "2024-03-10"], "--date 2024-03-10 is a weekend day"),
    ],
)
def test_bad_dates_are_refused_before_anything_runs(env, capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_demo_refuses_csv_market_data(env, monkeypatch, capsys):
    monkeypatch.setenv("PORTFOLIO_MARKET_DATA", "csv")
    monkeypatch.setenv("PORTFOLIO_CSV_DIR", str(env))
    assert main(["demo"]) == 2
    assert "portfolio demo runs the simulated demo market" in capsys.readouterr().err


def test_unparseable_date_is_an_argument_error(env, capsys):
    with pytest.raises(SystemExit) as info:
        main(["backfill", "yesterday", "2024-03-01"])
    assert info.value.code == 2
    assert "'yesterday' is not a date" in capsys.readouterr().err
