"""Per-partition metadata of a range run: each partition's materialization carries its own
figures, and a key outside the run's range is refused."""

import dagster as dg

from orchestration.metadata import add_partition_metadata

DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01")
KEYS = ["2024-01-02", "2024-01-03", "2024-01-04"]
RANGE = {
    "dagster/asset_partition_range_start": KEYS[0],
    "dagster/asset_partition_range_end": KEYS[-1],
}


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def figures(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    for number, key in enumerate(context.partition_keys):
        add_partition_metadata(context, key, {"number": number, "key": key})
    add_partition_metadata(context, KEYS[-1], {"last": True})
    return dg.MaterializeResult(metadata={"run_wide": 1})


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def outside(context: dg.AssetExecutionContext) -> None:
    add_partition_metadata(context, "2024-01-05", {"number": 0})


def test_each_partition_carries_its_own_metadata() -> None:
    result = dg.materialize([figures], tags=RANGE)
    events = {
        e.partition: e.metadata
        for e in (
            m.event_specific_data.materialization for m in result.get_asset_materialization_events()
        )
    }
    assert sorted(events) == KEYS
    for number, key in enumerate(KEYS):
        assert events[key]["number"].value == number
        assert events[key]["key"].value == key
        assert events[key]["run_wide"].value == 1
    assert "last" not in events[KEYS[0]]
    assert events[KEYS[-1]]["last"].value is True


def test_a_key_outside_the_run_range_is_refused() -> None:
    result = dg.materialize(
        [outside],
        tags=RANGE,
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "2024-01-05" in failure.message and "outside the run's range" in failure.message
