"""Launching jobs on the persistent Dagster instance (so CLI runs show in the UI)."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from sqlalchemy import select

from orchestration.constants import BROKER_POOL, RANGE_END_TAG, RANGE_START_TAG
from orchestration.execution.records import GROUPS, GroupStatus
from orchestration.resources.database import Database
from orchestration.settings import Settings

INSTANCE_CONFIG = "dagster.yaml"
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


@dataclass(frozen=True)
class SensorLaunch:
    """One run request of a sensor evaluated in this process, and what became of it."""

    run_key: str | None
    job_name: str
    partition_key: str | None
    run_id: str
    result: dg.ExecuteInProcessResult | None
    seconds: float = 0.0

    @property
    def launched(self) -> bool:
        """False when an earlier run with the same run key made this request a no-op."""
        return self.result is not None

    @property
    def success(self) -> bool | None:
        """The run's outcome (None when it was not launched here)."""
        return self.result.success if self.result is not None else None

    @property
    def error(self) -> str | None:
        """The run's first failure in one line, if it failed."""
        if self.result is None or self.result.success:
            return None
        return failure_summary(self.result)


def run_sensor_once(
    defs: dg.Definitions, instance: dg.DagsterInstance, sensor_name: str
) -> list[SensorLaunch]:
    """Evaluate a sensor once in this process as the daemon would (no daemon needed): apply
    its dynamic-partition requests, then execute each run request in process on ``instance``
    (a persistent instance, as the daemon's: run requests for dynamic partitions are resolved
    through its reference).

    Like the daemon, a request whose run key already produced a run of this sensor is not run
    again, so evaluating twice launches nothing new; the runs carry the sensor's name and run
    key, so a daemon evaluating the sensor later skips them too. The sensor's stored cursor is
    neither read nor advanced: run keys carry the de-duplication.
    """
    sensor = defs.resolve_sensor_def(sensor_name)
    with dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        definitions=defs,
        resources=defs.resources,
        sensor_name=sensor_name,
    ) as context:
        tick = sensor.evaluate_tick(context)
    apply_dynamic_partitions_requests(instance, tick.dynamic_partitions_requests or [])
    launches = []
    for request in tick.run_requests or []:
        job_name = request.job_name or sensor.job_name
        tags = {**request.tags, SENSOR_NAME_TAG: sensor_name}
        if request.run_key:
            tags[RUN_KEY_TAG] = request.run_key
            existing = instance.get_runs(
                filters=dg.RunsFilter(
                    tags={RUN_KEY_TAG: request.run_key, SENSOR_NAME_TAG: sensor_name}
                ),
                limit=1,
            )
            if existing:
                launches.append(
                    SensorLaunch(
                        request.run_key,
                        job_name,
                        request.partition_key,
                        existing[0].run_id,
                        result=None,
                    )
                )
                continue
        started = time.perf_counter()
        result = execute_job(
            defs,
            job_name,
            instance,
            partition_key=request.partition_key,
            run_config=request.run_config,
            tags=tags,
        )
        launches.append(
            SensorLaunch(
                request.run_key,
                job_name,
                request.partition_key,
                result.run_id,
                result=result,
                seconds=time.perf_counter() - started,
            )
        )
    return launches


def release_dead_execution_runs(
    instance: dg.DagsterInstance, database: Database, now: dt.datetime
) -> list[str]:
    """Mark runs failed that died while executing a trade group, and free their pool slots.

    A run executing a group holds a lease on it (``owner`` = run id) and a slot of the
    ``broker`` pool. When the process is killed the run stays STARTED and keeps the slot, so
    every later execution would wait for it forever (only a daemon's run monitoring frees
    slots). A run whose lease on its group has expired is provably no longer executing: it is
    reported failed and its slots freed. Slots of runs that already finished are freed too.
    Returns the ids of the runs released.
    """
    with database.engine.connect() as connection:
        owners = connection.execute(
            select(GROUPS.c.owner).where(
                GROUPS.c.status == GroupStatus.EXECUTING.value,
                GROUPS.c.owner.is_not(None),
                GROUPS.c.lease_expires_at < now,
            )
        ).scalars()
        dead = set(owners)
    storage = instance.event_log_storage
    holders = set()
    if storage.supports_global_concurrency_limits:
        info = storage.get_concurrency_info(BROKER_POOL)
        holders = {slot.run_id for slot in info.claimed_slots}
    released = []
    for run_id in sorted(dead | holders):
        run = instance.get_run_by_id(run_id)
        if run is None:
            continue
        if not run.is_finished and run_id in dead:
            instance.report_run_failed(
                run, message=f"its executor died: the lease of {run_id} on its group expired"
            )
        elif not run.is_finished:
            continue
        if storage.supports_global_concurrency_limits:
            storage.free_concurrency_slots_for_run(run_id)
        released.append(run_id)
    return released
