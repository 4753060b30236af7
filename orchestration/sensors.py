"""Sensors: basket changes → dynamic partitions and ``refresh_basket`` runs; approved trade
groups → executions; new trade plans → preview groups.

They only read (the app database, the Dagster event log) and request runs; they never touch a
broker (IB must not be called from sensor threads, DESIGN.md section 5). Run keys make a
repeated tick harmless: Dagster launches one run per key.
"""

import datetime as dt
import json
from dataclasses import dataclass, field

import dagster as dg
from sqlalchemy import select

from orchestration import basket_series, basket_store
from orchestration import constants as c
from orchestration.execution.reconcile import latest_reconciliation
from orchestration.execution.records import GROUPS, GroupStatus
from orchestration.jobs import execute_basket_trade, preview_basket_trade, refresh_basket
from orchestration.partitions import BASKET_PARTITIONS
from orchestration.resources.database import Database
from orchestration.resources.trading_policy import TradingPolicy
from orchestration.runs import RANGE_END_TAG, RANGE_START_TAG
from orchestration.storage.models import TradeApproval

CURSOR_OVERLAP = dt.timedelta(seconds=60)
"""Baskets updated this long before the cursor are looked at again: a basket command's
``updated_at`` is taken before its transaction commits, so a commit can become visible after a
later-stamped one. ``recent`` in the cursor remembers which of them were already requested."""

BASKET_VERSION_TAG = "portfolio/basket_version"
TRIGGER_TAG = "portfolio/trigger"


@dataclass(frozen=True)
class BasketCursor:
    """What the sensor has handled.

    Attributes
    ----------
    updated_at
        The newest basket ``updated_at`` seen (naive UTC); None before the first tick.
    recent
        Name → version of the baskets updated within :data:`CURSOR_OVERLAP` of ``updated_at``
        (already requested, so not requested again).
    prices_through
        The newest price date when baskets were last refreshed for new prices (None while the
        prices table is empty).
    """

    updated_at: dt.datetime | None = None
    recent: dict[str, str] = field(default_factory=dict)
    prices_through: dt.date | None = None

    @classmethod
    def parse(cls, text: str | None) -> "BasketCursor":
        """The cursor stored by a previous tick (empty for the first tick)."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(
                updated_at=dt.datetime.fromisoformat(data["updated_at"])
                if data.get("updated_at")
                else None,
                recent={str(k): str(v) for k, v in data.get("recent", {}).items()},
                prices_through=dt.date.fromisoformat(data["prices_through"])
                if data.get("prices_through")
                else None,
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValueError(
                f"{c.BASKET_CHANGES_SENSOR} cursor is not a basket cursor ({exc}): {text!r}; "
                "reset the sensor's cursor in the UI"
            ) from None

    def serialize(self) -> str:
        """JSON text for ``SensorResult(cursor=…)``."""
        return json.dumps(
            {
                "updated_at": self.updated_at.isoformat() if self.updated_at else None,
                "recent": dict(sorted(self.recent.items())),
                "prices_through": self.prices_through.isoformat() if self.prices_through else None,
            }
        )


@dg.sensor(
    name=c.BASKET_CHANGES_SENSOR,
    job=refresh_basket,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps one `baskets` partition per basket and refreshes baskets that changed "
    "(and all of them when new prices arrive).",
)
def basket_changes(context: dg.SensorEvaluationContext, database: Database) -> dg.SensorResult:
    """One tick over the baskets table and the prices' newest date.

    - A partition is added for every new basket and removed for every deleted one.
    - Every basket that is new, or whose ``updated_at`` is past the cursor and whose version
      was not requested yet, gets a ``refresh_basket`` run for its partition with
      ``run_key = name@version`` (Dagster never launches the same key twice).
    - When the newest price date advanced since the last tick, one run refreshes every basket
      (a partition range, executed as one run: one matrix product for all series),
      ``run_key = all baskets@date``; while partitions are being added or removed in the same
      tick it waits for the next tick, so the range is exactly the current baskets.
    """
    cursor = BasketCursor.parse(context.cursor)
    stamps = basket_store.basket_stamps(database)
    existing = context.instance.get_dynamic_partitions(c.BASKET_PARTITIONS)
    known = set(existing)
    names = {stamp.name for stamp in stamps}
    added = [stamp.name for stamp in stamps if stamp.name not in known]
    removed = [key for key in existing if key not in names]

    cutoff = cursor.updated_at - CURSOR_OVERLAP if cursor.updated_at else None
    changed = [
        stamp
        for stamp in stamps
        if stamp.name not in known
        or (
            (cutoff is None or stamp.updated_at > cutoff)
            and cursor.recent.get(stamp.name) != stamp.version
        )
    ]
    seen = [s.updated_at for s in stamps] + ([cursor.updated_at] if cursor.updated_at else [])
    newest = max(seen, default=None)
    recent = (
        {s.name: s.version for s in stamps if s.updated_at > newest - CURSOR_OVERLAP}
        if newest
        else {}
    )

    through = basket_series.latest_price_date(database)
    # On the first tick every basket gets its own run anyway; after it, new prices (or the
    # first prices, for baskets created before any) refresh every basket.
    advanced = (
        bool(context.cursor)
        and through is not None
        and (cursor.prices_through is None or through > cursor.prices_through)
    )
    wait = advanced and bool(added or removed)
    refresh_all = advanced and not wait and bool(existing)
    if refresh_all:
        runs = [
            dg.RunRequest(
                run_key=f"all baskets@{through.isoformat()}",
                tags={
                    RANGE_START_TAG: existing[0],
                    RANGE_END_TAG: existing[-1],
                    TRIGGER_TAG: f"prices through {through.isoformat()}",
                },
            )
        ]
    else:
        runs = [
            dg.RunRequest(
                run_key=f"{stamp.name}@{stamp.version}",
                partition_key=stamp.name,
                tags={BASKET_VERSION_TAG: stamp.version, TRIGGER_TAG: "basket changed"},
            )
            for stamp in changed
        ]
    requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
    if added:
        requests.append(BASKET_PARTITIONS.build_add_request(added))
    if removed:
        requests.append(BASKET_PARTITIONS.build_delete_request(removed))
    new_cursor = BasketCursor(
        updated_at=newest,
        recent=recent,
        prices_through=cursor.prices_through if wait else through,
    )
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=requests,
        cursor=new_cursor.serialize(),
    )


APPROVALS = TradeApproval.__table__
TRADE_PLAN_BATCH = 100
TRADE_PLAN_FIELDS = ("basket", "action", "value")


def execution_run_key(group_id: int, approval_id: int) -> str:
    """The run key of the execution launched for one approval of one group."""
    return f"execute-group-{group_id}-approval-{approval_id}"


@dg.sensor(
    name=c.TRADE_APPROVAL_SENSOR,
    job=execute_basket_trade,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One execute_basket_trade run per approval of a trade group.",
)
def trade_approval_sensor(
    context: dg.SensorEvaluationContext, database: Database
) -> dg.SensorResult | dg.SkipReason:
    """Launch an execution for every approval newer than the cursor whose group is still
    approved. While the newest broker reconciliation has breaks nothing is launched and the
    cursor stays, so the approvals run once the breaks are resolved."""
    cursor = int(context.cursor or 0)
    with database.engine.connect() as connection:
        latest = latest_reconciliation(connection)
        if latest is not None and not latest.passed:
            return dg.SkipReason(
                f"not launching executions: {latest.describe()}. Resolve it (re-materialize "
                "broker_reconciliation, or `portfolio trading rebaseline`)"
            )
        rows = connection.execute(
            select(APPROVALS.c.id, APPROVALS.c.group_id, GROUPS.c.status)
            .join(GROUPS, GROUPS.c.id == APPROVALS.c.group_id)
            .where(APPROVALS.c.id > cursor)
            .order_by(APPROVALS.c.id)
        ).all()
    requests = [
        dg.RunRequest(
            run_key=execution_run_key(row.group_id, row.id),
            run_config={"ops": {"basket_trade_execution": {"config": {"group_id": row.group_id}}}},
            tags={c.TRADE_GROUP_TAG: str(row.group_id), c.APPROVAL_TAG: str(row.id)},
        )
        for row in rows
        if row.status == GroupStatus.APPROVED
    ]
    new_cursor = str(max([cursor, *(row.id for row in rows)]))
    if not requests:
        return dg.SensorResult(skip_reason="no new approved trade groups", cursor=new_cursor)
    return dg.SensorResult(run_requests=requests, cursor=new_cursor)


def _trade_plan_request(
    record: dg.EventLogRecord, approve: bool
) -> tuple[dg.RunRequest | None, str | None]:
    materialization = record.asset_materialization
    metadata = materialization.metadata if materialization is not None else {}
    missing = [name for name in TRADE_PLAN_FIELDS if name not in metadata]
    if missing:
        return None, f"trade_plan event {record.storage_id} lacks metadata {', '.join(missing)}"
    basket, action, value = (metadata[name].value for name in TRADE_PLAN_FIELDS)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None, f"trade_plan event {record.storage_id}: value {value!r} is not a number"
    config = {
        "basket": str(basket),
        "action": str(action),
        "value": float(value),
        "approve": approve,
        "source": f"trade_plan event {record.storage_id}",
    }
    return (
        dg.RunRequest(
            run_key=f"trade-plan-{record.storage_id}",
            run_config={"ops": {"basket_trade_preview": {"config": config}}},
            tags={"portfolio/trade_plan_event": str(record.storage_id)},
        ),
        None,
    )


@dg.sensor(
    name=c.TRADE_PLAN_SENSOR,
    job=preview_basket_trade,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One preview_basket_trade run per new trade_plan materialization.",
)
def trade_plan_sensor(
    context: dg.SensorEvaluationContext, trading_policy: TradingPolicy
) -> dg.SensorResult | dg.SkipReason:
    """Turn every new ``trade_plan`` materialization into a preview group.

    Contract: the materialization's metadata carries ``basket`` (text), ``action`` (buy, sell
    or rebalance) and ``value`` (a number). The cursor is the storage id of the last event
    seen, so every materialization is seen once (``asset_sensor`` would only see the newest).
    Groups are approved automatically only with ``PORTFOLIO_AUTO_APPROVE=true`` (paper broker
    only; the preview op checks again).
    """
    cursor = int(context.cursor or 0)
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(c.TRADE_PLAN_ASSET), after_storage_id=cursor),
        limit=TRADE_PLAN_BATCH,
        ascending=True,
    ).records
    if not records:
        return dg.SkipReason("no new trade_plan materializations")
    requests = []
    for record in records:
        request, problem = _trade_plan_request(record, trading_policy.auto_approve)
        if problem:
            context.log.warning(problem)
        if request is not None:
            requests.append(request)
    return dg.SensorResult(run_requests=requests, cursor=str(records[-1].storage_id))


TRADE_SENSORS = (trade_approval_sensor, trade_plan_sensor)
