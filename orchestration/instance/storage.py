"""SQLite instance storage whose event log writes a batch of events in one transaction.

A single-run backfill of N partitions ends every step with N materialization events. With
``DAGSTER_EVENT_BATCH_SIZE`` set (``orchestration.settings.DAGSTER_PROCESS_DEFAULTS``) Dagster
hands them to ``EventLogStorage.store_event_batch``; dagster-postgres writes such a batch in one
statement, but the stock SQLite storage falls back to ``store_event`` per event: two connections
(the run's shard and the cross-run index shard), two commits and two WAL checkpoints each, which
dominated a five-year backfill. :class:`BatchedSqliteEventLogStorage` writes the asset events of
a batch through one connection and one transaction per shard, row by row in the same order and
with the same index bookkeeping as the stock storage, so the stored records are identical; and
it serializes a planned check event once for all its partitions' rows.

The embedded ``dagster.yaml`` selects it through ``instance_class``:
:class:`PortfolioInstance` only changes the storage defaults Dagster derives from the instance
folder (``$DAGSTER_HOME``), so no path or environment variable is spelled in the file and every
other setting stays Dagster's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import groupby

import dagster as dg
import yaml
from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.schedules import SqliteScheduleStorage
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData, serialize_value

__all__ = ["BatchedSqliteEventLogStorage", "BatchedSqliteStorage", "PortfolioInstance"]


def _batchable(event: EventLogEntry) -> bool:
    """Asset events (materializations, observations, planned…) with an asset key: the events a
    batch of a partitioned step consists of. Other events keep the per-event path."""
    dagster_event = event.dagster_event
    return (
        dagster_event is not None
        and dagster_event.event_type in ASSET_EVENTS
        and dagster_event.asset_key is not None
    )


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """:class:`SqliteEventLogStorage` with a ``store_event_batch`` that writes consecutive asset
    events of one run in one transaction per shard (configured like the stock class:
    ``base_dir``)."""

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, str]
    ) -> BatchedSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Store ``events`` in order; runs of consecutive asset events of one run are written
        together (:meth:`_store_asset_events`), any other event through ``store_event``."""
        for (batchable, _), group in groupby(events, key=lambda e: (_batchable(e), e.run_id)):
            segment = list(group)
            if batchable:
                self._store_asset_events(segment)
            else:
                for event in segment:
                    self.store_event(event)

    def _store_asset_events(self, events: Sequence[EventLogEntry]) -> None:
        """What ``store_event`` does for each asset event, in two transactions: the rows in the
        run's shard, then their mirror in the index shard (whose ids are the storage ids), the
        indexed tags and the asset entry."""
        statements = [self.prepare_insert_event(event) for event in events]
        with self.run_connection(events[0].run_id) as conn:
            for statement in statements:
                conn.execute(statement)
        with self.index_transaction() as conn:
            event_ids = []
            for statement in statements:
                with db_result(conn, statement) as result:
                    event_ids.append(result.inserted_primary_key[0])
            self._store_asset_event_tags(conn, events, event_ids)
            for event, event_id in zip(events, event_ids, strict=True):
                self._store_asset_event(conn, event, event_id)

    def _store_asset_check_evaluation_planned(
        self, event: EventLogEntry, event_id: int | None
    ) -> None:
        """The stock rows (one per planned partition of the check), with the event serialized
        once instead of once per partition: a range run plans every check for every partition,
        and the per-row serialization cost seconds per check on a five-year backfill."""
        planned = event.get_dagster_event().event_specific_data
        subset = planned.partitions_subset
        partition_keys = subset.get_partition_keys() if subset else [None]
        common = {
            "asset_key": planned.asset_key.to_string(),
            "check_name": planned.check_name,
            "run_id": event.run_id,
            "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": serialize_value(event),
            "evaluation_event_timestamp": self._event_insert_timestamp(event),
            "evaluation_event_storage_id": event_id,
        }
        with self.index_connection() as conn:
            conn.execute(
                AssetCheckExecutionsTable.insert(),
                [{**common, "partition": key} for key in partition_keys],
            )


class BatchedSqliteStorage(DagsterSqliteStorage):
    """:class:`DagsterSqliteStorage` (runs, events and schedules under ``base_dir``, in the
    stock layout) with :class:`BatchedSqliteEventLogStorage` as its event log."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self.base_dir = base_dir
        self._run_storage = SqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = BatchedSqliteEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, str]
    ) -> BatchedSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)

    @property
    def event_storage_data(self) -> ConfigurableClassData:
        return _class_data(BatchedSqliteEventLogStorage, _event_logs_directory(self.base_dir))


def _class_data(cls: type, base_dir: str) -> ConfigurableClassData:
    return ConfigurableClassData(
        cls.__module__, cls.__name__, yaml.dump({"base_dir": base_dir}, default_flow_style=False)
    )


class PortfolioInstance(dg.DagsterInstance):
    """The Dagster instance of the embedded default: Dagster's own instance whose default
    storage (no ``storage`` block in ``dagster.yaml``) is :class:`BatchedSqliteStorage` in the
    instance folder. A ``storage`` block (e.g. PostgreSQL) still replaces it."""

    @classmethod
    def config_schema(cls) -> dict:
        return {}

    @staticmethod
    def config_defaults(base_dir: str) -> Mapping[str, ConfigurableClassData | None]:
        return {
            **InstanceRef.config_defaults(base_dir),
            "storage": _class_data(BatchedSqliteStorage, base_dir),
            "event_log_storage": _class_data(
                BatchedSqliteEventLogStorage, _event_logs_directory(base_dir)
            ),
        }
