"""Basket sensor: basket changes → dynamic partitions and ``refresh_basket`` runs.

It only reads (the baskets and prices tables) and requests runs. Run keys make a repeated tick
harmless: Dagster launches one run per key.
"""

import datetime as dt
import json
from dataclasses import dataclass, field

import dagster as dg

from orchestration import constants as c
from orchestration.constants import RANGE_END_TAG, RANGE_START_TAG
from orchestration.defs.baskets import series as basket_series
from orchestration.defs.baskets import store as basket_store
from orchestration.defs.baskets.jobs import refresh_basket
from orchestration.partitions import BASKET_PARTITIONS
from orchestration.resources.database import Database

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
