"""The embedded instance (``dagster.yaml``) records a single-run backfill exactly as Dagster's
stock SQLite storage does, writing each step's per-partition events as one batch."""

import shutil
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.event_log import SqliteEventLogStorage

from orchestration.instance.storage import BatchedSqliteEventLogStorage, PortfolioInstance
from orchestration.settings import DAGSTER_PROCESS_DEFAULTS

PROJECT_INSTANCE = Path(__file__).resolve().parents[2] / "dagster.yaml"
DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-10")
FIRST, LAST = "2024-01-03", "2024-02-06"
BATCH_SIZE = 8


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def levels(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Per-partition numeric metadata (the plotted kind) and a range summary."""
    for key in context.partition_keys:
        context.add_asset_metadata({"level": float(key[-2:]), "key": key}, partition_key=key)
    return dg.MaterializeResult(metadata={"partitions": len(context.partition_keys)})


@dg.asset(
    partitions_def=DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[levels],
    check_specs=[dg.AssetCheckSpec("positive", asset="changes", blocking=True)],
)
def changes(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    for key in context.partition_keys:
        context.add_asset_metadata({"change": int(key[-2:]) % 3}, partition_key=key)
    return dg.MaterializeResult(check_results=[dg.AssetCheckResult(passed=True)])


JOB = dg.define_asset_job("backfill", selection=[levels, changes])
DEFS = dg.Definitions(assets=[levels, changes], jobs=[JOB])


def _instance(folder: Path, config: Path | None) -> dg.DagsterInstance:
    folder.mkdir()
    if config is not None:
        shutil.copy(config, folder / "dagster.yaml")
    else:
        (folder / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return dg.DagsterInstance.from_config(str(folder))


def _backfill(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return DEFS.resolve_job_def("backfill").execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": FIRST,
            "dagster/asset_partition_range_end": LAST,
        },
    )


def _recorded(instance: dg.DagsterInstance) -> dict:
    """What the instance answers about the materializations: per asset the (partition,
    metadata) of every record, the materialized partitions and the latest partition."""
    recorded = {}
    for name in ("levels", "changes"):
        key = dg.AssetKey(name)
        records = instance.fetch_materializations(key, limit=1000).records
        recorded[name] = {
            "events": sorted(
                (r.partition_key, sorted(r.asset_materialization.metadata.items())) for r in records
            ),
            "partitions": instance.get_materialized_partitions(key),
            "latest": instance.get_latest_materialization_event(key).dagster_event.partition,
        }
    check = dg.AssetCheckKey(dg.AssetKey("changes"), "positive")
    history = instance.event_log_storage.get_asset_check_execution_history(check, limit=100)
    recorded["check"] = sorted(
        (e.partition or "", e.status.value, e.event.dagster_event_type.value) for e in history
    )
    return recorded


def _event_types(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [
        entry.dagster_event.event_type_value
        for entry in instance.all_logs(run_id)
        if entry.is_dagster_event
    ]


@pytest.fixture
def batched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Dagster's switches as the CLI process sets them, with small batches; the sizes of the
    batches written."""
    for name, value in DAGSTER_PROCESS_DEFAULTS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", str(BATCH_SIZE))
    sizes: list[int] = []
    write = BatchedSqliteEventLogStorage._store_asset_events

    def spy(self: BatchedSqliteEventLogStorage, events: list) -> None:
        sizes.append(len(events))
        write(self, events)

    monkeypatch.setattr(BatchedSqliteEventLogStorage, "_store_asset_events", spy)
    return sizes


def test_the_cli_process_batches_events():
    assert int(DAGSTER_PROCESS_DEFAULTS["DAGSTER_EVENT_BATCH_SIZE"]) > 1


def test_the_project_instance_loads_with_the_batched_event_log(tmp_path):
    instance = _instance(tmp_path / "dagster", PROJECT_INSTANCE)
    assert isinstance(instance, PortfolioInstance)
    assert isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage)
    assert Path(instance.event_log_storage._base_dir) == tmp_path / "dagster" / "history" / "runs"
    assert instance.get_ref().storage.event_log_storage.__class__ is BatchedSqliteEventLogStorage


def test_a_storage_block_still_replaces_the_default(tmp_path):
    folder = tmp_path / "dagster"
    folder.mkdir()
    config = PROJECT_INSTANCE.read_text() + (
        f"\nstorage:\n  sqlite:\n    base_dir: {tmp_path / 'elsewhere'}\n"
    )
    (folder / "dagster.yaml").write_text(config)
    instance = dg.DagsterInstance.from_config(str(folder))
    assert type(instance.event_log_storage) is SqliteEventLogStorage
    assert (tmp_path / "elsewhere" / "history" / "runs").is_dir()


def test_a_backfill_records_what_the_stock_storage_records(tmp_path, batched):
    stock = _instance(tmp_path / "stock", None)
    project = _instance(tmp_path / "project", PROJECT_INSTANCE)
    assert type(stock.event_log_storage) is SqliteEventLogStorage

    stock_run, project_run = _backfill(stock), _backfill(project)

    assert stock_run.success and project_run.success
    partitions = DAYS.get_partition_keys_in_range(dg.PartitionKeyRange(FIRST, LAST))
    assert sorted(batched, reverse=True)[:2] == [BATCH_SIZE, BATCH_SIZE]
    assert sum(size for size in batched if size > 1) >= 2 * (len(partitions) - BATCH_SIZE)
    expected = _recorded(stock)
    assert _recorded(project) == expected
    assert expected["levels"]["partitions"] == set(partitions)
    assert [p for p, _ in expected["levels"]["events"]] == partitions
    assert [p for p, _, _ in expected["check"] if p] == partitions
    assert dict(expected["levels"]["events"][0][1])["level"] == dg.FloatMetadataValue(3.0)
    assert _event_types(project, project_run.run_id) == _event_types(stock, stock_run.run_id)
