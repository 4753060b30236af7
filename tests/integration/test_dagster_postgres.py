"""The documented PostgreSQL Dagster instance (dagster-postgres) records runs."""

import shutil
from pathlib import Path

import dagster as dg
import yaml
from sqlalchemy import create_engine, text

from orchestration.cli.runs import execute_job
from orchestration.definitions import build_definitions
from tests.support import make_settings

INSTANCE_YAML = (
    Path(__file__).resolve().parents[2] / "orchestration" / "instance" / "dagster.postgres.yaml"
)


def test_a_run_is_recorded_in_postgres(tmp_path, postgres_url, monkeypatch):
    url = postgres_url.replace("postgresql+psycopg://", "postgresql+psycopg2://")
    database = url.rsplit("/", 1)[1]
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copy(INSTANCE_YAML, dagster_home / "dagster.yaml")
    for name, value in {
        "DAGSTER_PG_HOST": host,
        "DAGSTER_PG_PORT": port,
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "unused-with-trust-auth",
        "DAGSTER_PG_DB": database,
    }.items():
        monkeypatch.setenv(name, value)
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        settings = make_settings(
            tmp_path,
            f"sqlite:///{tmp_path / 'app.db'}",
            PORTFOLIO_START_DATE="2024-01-01",
            PORTFOLIO_DEMO_SYMBOLS="33",
            PORTFOLIO_DEMO_END_DATE="2024-02-29",
        )
        result = execute_job(
            build_definitions(settings), "daily_pipeline", instance, partition_key="2024-02-29"
        )
        assert result.success
        with create_engine(url).connect() as connection:
            rows = connection.execute(
                text("SELECT status FROM runs WHERE run_id = :id"), {"id": result.run_id}
            ).all()
        assert [r.status for r in rows] == ["SUCCESS"]
        assert instance.get_latest_materialization_event(dg.AssetKey("daily_prices")) is not None
    finally:
        instance.dispose()


def test_yaml_takes_credentials_from_the_environment():
    config = yaml.safe_load(INSTANCE_YAML.read_text())["storage"]["postgres"]["postgres_db"]
    assert config["scheme"] == "postgresql+psycopg2"
    for field in ("hostname", "port", "username", "password", "db_name"):
        assert set(config[field]) == {"env"}
