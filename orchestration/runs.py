"""Launching jobs on the persistent Dagster instance (so CLI runs show in the UI)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from orchestration.settings import Settings

INSTANCE_CONFIG = "dagster.yaml"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
RUN_KEY_TAG = "dagster/run_key"
SENSOR_NAME_TAG = "dagster/sensor_name"
CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def instance_for(settings: Settings) -> dg.DagsterInstance:
    """The persistent instance in ``settings.dagster_home`` (created if missing).

    Never the temporary instance Dagster makes without ``DAGSTER_HOME``: it forgets run keys
    and sensor cursors when the process exits.
    """
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.from_config(str(settings.dagster_home))


def reset_instance_storage(dagster_home: Path) -> None:
    """Delete the instance's runs, events and schedules, keeping its ``dagster.yaml``."""
    if not dagster_home.is_dir():
        return
    for entry in dagster_home.iterdir():
        if entry.name == INSTANCE_CONFIG:
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def execute_job(
    defs: dg.Definitions,
    job_name: str,
    instance: dg.DagsterInstance,
    *,
    partition_key: str | None = None,
    partition_range: tuple[dt.date, dt.date] | None = None,
    run_config: dict | None = None,
    tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    """Run ``job_name`` in this process, recorded on ``instance``.

    ``partition_range`` runs every partition from start to end in one run (a single-run
    backfill); ``partition_key`` runs one partition.
    """
    job = defs.resolve_job_def(job_name)
    run_tags = dict(tags or {})
    if partition_range is not None:
        run_tags[RANGE_START_TAG] = partition_range[0].isoformat()
        run_tags[RANGE_END_TAG] = partition_range[1].isoformat()
    config = {**CONSOLE_INFO, **(run_config or {})}
    return job.execute_in_process(
        run_config=config,
        instance=instance,
        partition_key=partition_key,
        tags=run_tags,
        raise_on_error=False,
    )


def apply_dynamic_partitions_requests(
    instance: dg.DagsterInstance,
    requests: Sequence[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest],
) -> None:
    """Add and delete dynamic partitions as a sensor tick asked (what the daemon does)."""
    for request in requests:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)


def run_sensor_once(
    defs: dg.Definitions, sensor_name: str, instance: dg.DagsterInstance
) -> list[dg.ExecuteInProcessResult]:
    """Evaluate ``sensor_name`` once in this process as the daemon would: apply its partition
    requests, then execute each requested run in process on ``instance``.

    The runs carry the sensor's name and run key, so when the daemon later evaluates the sensor
    itself (starting from an empty cursor) it skips the run keys executed here.
    """
    sensor = defs.resolve_sensor_def(sensor_name)
    with dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        definitions=defs,
        resources=defs.resources,
    ) as context:
        tick = sensor.evaluate_tick(context)
    apply_dynamic_partitions_requests(instance, tick.dynamic_partitions_requests or [])
    results = []
    for request in tick.run_requests or []:
        tags = {**request.tags, SENSOR_NAME_TAG: sensor_name}
        if request.run_key:
            tags[RUN_KEY_TAG] = request.run_key
        results.append(
            execute_job(
                defs,
                request.job_name or sensor.job_name,
                instance,
                partition_key=request.partition_key,
                tags=tags,
            )
        )
    return results


def failure_summary(result: dg.ExecuteInProcessResult) -> str:
    """The first failure of a run in one line (step name and error message)."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            error = event.step_failure_data.error
            message = error.message.strip() if error else "unknown error"
            if error and error.cause:
                message = error.cause.message.strip()
            return f"step {event.step_key} failed: {message}"
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if data is not None and not data.passed:
                return f"check {data.check_name} failed"
    return "run failed"
