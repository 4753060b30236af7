"""Launching jobs on the persistent Dagster instance (so CLI runs show in the UI).

Dagster is imported inside the functions, never at module level: the command line imports
its exit codes from here before it knows whether a command runs anything.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from orchestration.clock import naive_utc
from orchestration.constants import BROKER_POOL, RANGE_END_TAG, RANGE_START_TAG
from orchestration.execution.records import GROUPS, GroupStatus
from orchestration.resources.broker import BrokerError
from orchestration.settings import Settings

if TYPE_CHECKING:
    import dagster as dg
    from dagster._core.origin import JobPythonOrigin
    from dagster._core.remote_origin import CodeLocationOrigin, RemoteJobOrigin
    from dagster._utils.error import SerializableErrorInfo

    from orchestration.resources.database import Database

INSTANCE_CONFIG = "dagster.yaml"
RUN_KEY_TAG = "dagster/run_key"
SENSOR_NAME_TAG = "dagster/sensor_name"
PID_TAG = "portfolio/pid"
HOST_TAG = "portfolio/host"
POOL_POLL_SECONDS = 0.5
BAD_INPUT_ERRORS = frozenset(
    {
        "BasketError",
        "CsvFormatError",
        "MarketDataError",
        "PlanError",
        "PriceRemovalError",
        "SettingsError",
        "SourceFormatError",
        "TradeError",
    }
)
INFRASTRUCTURE_ERRORS = frozenset(
    {
        "BrokerDisconnected",
        "BrokerError",
        "DatabaseUnavailable",
        "FmpUnavailable",
        "HistoryLostError",
    }
)
EXIT_BAD_INPUT = 2
EXIT_INFRASTRUCTURE = 3
EXIT_FAILED = 1
_console = {"log_level": "CRITICAL"}


def show_run_logs(verbose: bool) -> None:
    """Whether in-process runs print Dagster's step log on standard error (``--verbose``);
    without it only the CLI's progress lines appear. The run's own log (the UI) is complete
    either way."""
    _console["log_level"] = "DEBUG" if verbose else "CRITICAL"


def _console_config() -> dict:
    return {"loggers": {"console": {"config": dict(_console)}}}


PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROJECT_INSTANCE_FILE = PROJECT_ROOT / INSTANCE_CONFIG
"""The embedded default instance configuration (SQLite, one run at a time, broker pool of 1,
batched event writes) that a new ``DAGSTER_HOME`` starts with."""
PROJECT_WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"
"""The workspace the UI loads (``make dev``): the one code location, ``portfolio-pipeline``."""


def instance_for(settings: Settings) -> dg.DagsterInstance:
    """The persistent instance in ``settings.dagster_home`` (created if missing).

    A new instance folder gets the project's ``dagster.yaml`` once; an existing one (e.g. the
    dagster-postgres variant) is never overwritten. Never the temporary instance Dagster makes
    without ``DAGSTER_HOME``: it forgets run keys and sensor cursors when the process exits.
    """
    import dagster as dg

    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    config = settings.dagster_home / INSTANCE_CONFIG
    if not config.exists():
        shutil.copyfile(PROJECT_INSTANCE_FILE, config)
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
    assets: Sequence[str] | None = None,
) -> dg.ExecuteInProcessResult:
    """Run ``job_name`` in this process, recorded on ``instance`` like a run the UI launched.

    ``partition_range`` runs every partition from start to end in one run (a single-run
    backfill); ``partition_key`` runs one partition; ``assets`` runs only those assets of the
    job.

    This is :meth:`dagster.JobDefinition.execute_in_process` (the same steps, in-memory
    outputs, result) except that the run is created with the job's origins in the workspace's
    code location (:func:`job_origins`), as a launch from the UI or the daemon creates it: the
    run is labelled with its repository (``.dagster/repository``), so the job's page, the
    Overview timeline and the run filters list it; a run without an origin shows under Runs
    only.
    """
    import dagster as dg
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.execution.api import (
        ExecuteRunWithPlanIterable,
        create_execution_plan,
        job_execution_iterator,
    )
    from dagster._core.execution.context_creation_job import (
        PlanOrchestrationContextManager,
        orchestration_context_event_generator,
    )
    from dagster._core.execution.execute_in_process import merge_run_tags

    job = defs.resolve_job_def(job_name)
    run_tags = dict(tags or {})
    if partition_range is not None:
        run_tags[RANGE_START_TAG] = partition_range[0].isoformat()
        run_tags[RANGE_END_TAG] = partition_range[1].isoformat()
    config = {**_console_config(), **(run_config or {})}
    selection = [dg.AssetKey(name) for name in assets] if assets else []
    ephemeral_job = job.as_ephemeral_job(
        resource_defs={}, input_values={}, asset_selection=selection
    )
    in_memory_job = InMemoryJob(job_def=ephemeral_job)
    run_tags = dict(
        merge_run_tags(
            job_def=job,
            partition_key=partition_key,
            tags=run_tags,
            asset_selection=selection,
            instance=instance,
            run_config=config,
        )
    )
    plan = create_execution_plan(
        in_memory_job,
        run_config=config,
        instance_ref=instance.get_ref() if instance.is_persistent else None,
    )
    remote_job_origin, job_code_origin = job_origins(defs, job_name)
    run = instance.create_run_for_job(
        job_def=ephemeral_job,
        run_config=config,
        tags={**ephemeral_job.run_tags, **run_tags},
        asset_selection=frozenset(selection),
        execution_plan=plan,
        remote_job_origin=remote_job_origin,
        job_code_origin=job_code_origin,
    )
    output_capture: dict = {}
    events = list(
        ExecuteRunWithPlanIterable(
            execution_plan=plan,
            iterator=job_execution_iterator,
            execution_context_manager=PlanOrchestrationContextManager(
                context_event_generator=orchestration_context_event_generator,
                job=in_memory_job,
                execution_plan=plan,
                dagster_run=run,
                instance=instance,
                run_config=config,
                executor_defs=None,
                output_capture=output_capture,
                raise_on_error=False,
            ),
        )
    )
    return dg.ExecuteInProcessResult(
        job_def=ephemeral_job,
        event_list=events,
        dagster_run=instance.get_run_by_id(run.run_id),
        output_capture=output_capture,
    )


def code_location_origin() -> CodeLocationOrigin:
    """The code location of the project's ``workspace.yaml``, as the UI and the daemon load it
    (Dagster's own workspace loader; nothing is started)."""
    from dagster._core.workspace.load import location_origins_from_yaml_paths

    origins = location_origins_from_yaml_paths([str(PROJECT_WORKSPACE_FILE)])
    if len(origins) != 1:
        raise ValueError(
            f"{PROJECT_WORKSPACE_FILE}: load_from must name exactly one code location, "
            f"not {len(origins)}"
        )
    return origins[0]


def job_origins(defs: dg.Definitions, job_name: str) -> tuple[RemoteJobOrigin, JobPythonOrigin]:
    """Where ``job_name`` comes from, as a UI launch records it: the job in the repository of
    ``defs`` in the workspace's code location (the run's ``repositoryOrigin`` and its
    ``.dagster/repository`` label, e.g. ``__repository__@portfolio-pipeline``), and the Python
    code pointer that loads that repository (the module's definitions attribute)."""
    from dagster._core.code_pointer import CodePointer
    from dagster._core.origin import (
        DEFAULT_DAGSTER_ENTRY_POINT,
        JobPythonOrigin,
        RepositoryPythonOrigin,
    )
    from dagster._core.remote_origin import RemoteRepositoryOrigin
    from dagster._grpc.utils import get_loadable_targets

    location = code_location_origin()
    target = getattr(location, "loadable_target_origin", None)
    if target is None or not target.module_name:
        raise ValueError(
            f"{PROJECT_WORKSPACE_FILE}: the code location {location.location_name!r} must be a "
            "python_module"
        )
    repository_name = defs.get_repository_def().name
    remote_job_origin = RemoteRepositoryOrigin(location, repository_name).get_job_origin(job_name)
    attribute = target.attribute or next(
        loadable.attribute
        for loadable in get_loadable_targets(
            python_file=None,
            module_name=target.module_name,
            package_name=None,
            autoload_defs_module_name=None,
            working_directory=target.working_directory,
            attribute=None,
            resolve_lazy_defs=False,
        )
    )
    code_pointer = CodePointer.from_module(target.module_name, attribute, target.working_directory)
    repository = RepositoryPythonOrigin(
        executable_path=target.executable_path or sys.executable,
        code_pointer=code_pointer,
        entry_point=DEFAULT_DAGSTER_ENTRY_POINT,
    )
    return remote_job_origin, JobPythonOrigin(job_name, repository)


def apply_dynamic_partitions_requests(
    instance: dg.DagsterInstance,
    requests: Sequence[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest],
) -> None:
    """Add and delete dynamic partitions as a sensor tick asked (what the daemon does)."""
    import dagster as dg

    for request in requests:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)


@dataclass(frozen=True)
class RunFailure:
    """Why a run failed, in one line, and the CLI exit code of that cause."""

    message: str
    exit_code: int


def _cause(error: SerializableErrorInfo) -> SerializableErrorInfo:
    """The user's exception under Dagster's wrappers (step and resource errors)."""
    while error.cls_name and error.cls_name.startswith("Dagster") and error.cause is not None:
        error = error.cause
    return error


def _text(error: SerializableErrorInfo) -> str:
    message = error.message.strip()
    prefix, _, rest = message.partition(": ")
    if error.cls_name and prefix.endswith(error.cls_name) and rest:
        message = rest
    return " ".join(message.split())


def _exit_code(cls_name: str | None) -> int:
    if cls_name in BAD_INPUT_ERRORS:
        return EXIT_BAD_INPUT
    if cls_name in INFRASTRUCTURE_ERRORS:
        return EXIT_INFRASTRUCTURE
    return EXIT_FAILED


def run_failure(result: dg.ExecuteInProcessResult) -> RunFailure:
    """The first failure of a run: a failed step, else a failed start (resources), else a
    failed blocking check, with the exit code its cause maps to. A step stopped by a failed
    blocking check is reported as that check, with what the check says (e.g. the dates)."""
    from dagster._utils.error import SerializableErrorInfo

    checks = _failed_checks(result)
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            error = event.step_failure_data.error
            if error is None:
                return RunFailure(f"step {event.step_key} failed", EXIT_FAILED)
            cause = _cause(error)
            if cause.cls_name == "DagsterAssetCheckFailedError" and checks:
                return RunFailure(checks[0], EXIT_FAILED)
            return RunFailure(f"{event.step_key}: {_text(cause)}", _exit_code(cause.cls_name))
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        if isinstance(error, SerializableErrorInfo):
            cause = _cause(error)
            return RunFailure(_text(cause), _exit_code(cause.cls_name))
    if checks:
        return RunFailure(checks[0], EXIT_FAILED)
    return RunFailure("run failed", EXIT_FAILED)


def _failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    """The run's failed check evaluations, each as ``check NAME failed[: description]``."""
    failed = []
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if data is not None and not data.passed:
                detail = f": {' '.join(data.description.split())}" if data.description else ""
                failed.append(f"check {data.check_name} failed{detail}")
    return failed


class RunFailed(Exception):
    """A run launched by a command failed; the message is its cause in one line."""

    def __init__(self, failure: RunFailure) -> None:
        super().__init__(failure.message)
        self.exit_code = failure.exit_code


def failure_summary(result: dg.ExecuteInProcessResult) -> str:
    """The first failure of a run in one line (:func:`run_failure`)."""
    return run_failure(result).message


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
    import dagster as dg

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
    A run started by this command line on this host whose process no longer exists (tags
    ``portfolio/pid`` and ``portfolio/host``) is provably dead too, lease or not.
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
        elif not run.is_finished and process_gone(run.tags):
            instance.report_run_failed(
                run,
                message=f"its executor died: process {run.tags[PID_TAG]} on "
                f"{run.tags[HOST_TAG]} no longer exists",
            )
        elif not run.is_finished:
            continue
        if storage.supports_global_concurrency_limits:
            storage.free_concurrency_slots_for_run(run_id)
        released.append(run_id)
    return released


def process_tags() -> dict[str, str]:
    """Tags naming this process, so a later command can tell that a run's process died."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def process_gone(tags: dict[str, str]) -> bool:
    """True when ``tags`` name a process on this host that no longer exists."""
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return False
    try:
        os.kill(int(tags[PID_TAG]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class BrokerPoolBusy(BrokerError):
    """Another execution holds the broker pool (or the group's lease) longer than the wait."""


@dataclass(frozen=True)
class PoolHolder:
    """What keeps an execution from starting now, and until when at the latest."""

    description: str
    until: dt.datetime | None


def _blocker(
    instance: dg.DagsterInstance, database: Database, group_id: int, now: dt.datetime
) -> PoolHolder | None:
    with database.engine.connect() as connection:
        group = connection.execute(
            select(GROUPS.c.status, GROUPS.c.owner, GROUPS.c.lease_expires_at).where(
                GROUPS.c.id == group_id
            )
        ).first()
    lease = naive_utc(group.lease_expires_at) if group and group.lease_expires_at else None
    if (
        group is not None
        and group.status == GroupStatus.EXECUTING.value
        and group.owner
        and lease is not None
        and lease > naive_utc(now)
    ):
        return PoolHolder(
            f"group {group_id} is leased by {group.owner} until {lease:%H:%M:%S} UTC", lease
        )
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return None
    for slot in storage.get_concurrency_info(BROKER_POOL).claimed_slots:
        run = instance.get_run_by_id(slot.run_id)
        if run is None or run.is_finished:
            continue
        record = instance.get_run_record_by_id(slot.run_id)
        since = record.start_time if record is not None and record.start_time else None
        started = (
            dt.datetime.fromtimestamp(since, dt.UTC).strftime("%H:%M:%S UTC") if since else "?"
        )
        return PoolHolder(f"run {slot.run_id} (since {started}) holds the broker pool", None)
    return None


def wait_for_broker_pool(
    instance: dg.DagsterInstance,
    database: Database,
    group_id: int,
    *,
    timeout: float,
    clock: Callable[[], dt.datetime],
    report: Callable[[str], None],
) -> list[str]:
    """Wait, at most ``timeout`` seconds, until nothing keeps ``group_id`` from executing now:
    no live lease of another executor on the group and no live run in the ``broker`` pool.

    Dead holders are released on every poll (:func:`release_dead_execution_runs`), so a
    crashed executor's slot is freed at once and its lease waited out. Returns the runs
    released.

    Raises
    ------
    BrokerPoolBusy
        Still blocked after ``timeout``, naming the holder and when its lease expires.
    """
    deadline = time.monotonic() + timeout
    released: list[str] = []
    said = None
    while True:
        released += release_dead_execution_runs(instance, database, clock())
        holder = _blocker(instance, database, group_id, clock())
        if holder is None:
            return released
        if time.monotonic() >= deadline:
            retry = (
                f"; retry after the lease expires at {holder.until:%H:%M:%S} UTC"
                if holder.until
                else "; retry when it finishes"
            )
            raise BrokerPoolBusy(f"another execution is in the way: {holder.description}{retry}")
        if holder.description != said:
            report(f"· waiting (at most {timeout:.0f} s): {holder.description}")
            said = holder.description
        time.sleep(POOL_POLL_SECONDS)
