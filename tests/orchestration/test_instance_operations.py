"""The deployment instance files pass Dagster's instance-config schema and configure what
operations rely on: run monitoring, run retries (never of a basket-trade execution: its job
tag is tested with the definitions) and one step at a time in the ``broker_data`` pool."""

from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config_schema

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_YAML = ROOT / "orchestration" / "instance" / "dagster.postgres.yaml"
EMBEDDED_YAML = ROOT / "dagster.yaml"


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("path", [POSTGRES_YAML, EMBEDDED_YAML], ids=["postgres", "embedded"])
def test_the_instance_file_passes_dagsters_schema(path):
    result = validate_config(dagster_instance_config_schema(), _load(path))
    assert result.success, [error.message for error in result.errors]


def _instance_overrides(path: Path) -> dict:
    """The file's operational blocks (its storage and instance class need a server / our
    package's instance; the test instance brings its own)."""
    config = _load(path)
    return {
        key: config[key]
        for key in ("run_monitoring", "run_retries", "concurrency")
        if key in config
    }


def test_the_postgres_instance_monitors_and_retries_runs():
    monitoring = _load(POSTGRES_YAML)["run_monitoring"]
    with dg.instance_for_test(overrides=_instance_overrides(POSTGRES_YAML)) as instance:
        assert instance.run_monitoring_enabled
        # the instance applies the file's timeouts (configuration, not a measured speed)
        assert (
            instance.run_monitoring_start_timeout_seconds,
            instance.run_monitoring_cancel_timeout_seconds,
        ) == (monitoring["start_timeout_seconds"], monitoring["cancel_timeout_seconds"])
        assert instance.run_retries_enabled
        assert instance.run_retries_max_retries == 2
        assert instance.run_retries_retry_on_asset_or_op_failure is False


@pytest.mark.parametrize("path", [POSTGRES_YAML, EMBEDDED_YAML], ids=["postgres", "embedded"])
def test_the_broker_data_pool_runs_one_step_at_a_time(path):
    with dg.instance_for_test(overrides=_instance_overrides(path)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default("broker_data")
        assert storage.get_concurrency_info("broker_data").slot_count == 1


def test_the_helm_values_carry_the_same_operations():
    values = _load(ROOT / "deploy" / "helm" / "values.yaml")
    daemon = values["dagsterDaemon"]
    assert daemon["runMonitoring"]["enabled"] is True
    assert daemon["runMonitoring"]["startTimeoutSeconds"] == 300
    assert daemon["runMonitoring"]["cancelTimeoutSeconds"] == 300
    assert daemon["runRetries"] == {
        "enabled": True,
        "maxRetries": 2,
        "retryOnAssetOrOpFailure": False,
    }
    assert values["concurrency"] == {"enabled": True, "pools": {"defaultLimit": 1}}
