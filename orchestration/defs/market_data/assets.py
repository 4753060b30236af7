"""Market data assets: the run's validated source snapshot, instruments, benchmark sector
weights, ETF holdings, daily prices and the returns panel.

``market_data_snapshot`` heads every market-data run: the source was validated as a whole when
the run started (the ``market_data`` resource), and this step checks it against the database
(no silent removal of stored prices, no empty source, no lost history) before any asset of the
run writes. Each other asset writes the app database in one transaction from that same
snapshot and returns numeric metadata.

A run over sessions after the end the source declares for its data (``data_end``) fails at
``market_data_snapshot`` with "no data yet for D (the source's data ends on E)" and writes
nothing. The unpartitioned assets carry data versions from their content
(:mod:`~orchestration.defs.market_data.versions`), so re-materializing them unchanged keeps
every ``daily_prices`` partition in sync. Partitioned assets record row counts per partition
(``dagster/partition_row_count``); figures of a whole run are on the run's last partition."""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import pandas as pd

from orchestration import constants as c
from orchestration import market_calendar
from orchestration.clock import utc_now
from orchestration.defs.market_data import checks
from orchestration.defs.market_data.removals import (
    HistoryLostError,
    SourcePart,
    check_range_removals,
    removals_allowed,
)
from orchestration.defs.market_data.validation import MarketDataError
from orchestration.defs.market_data.versions import frame_version, source_version
from orchestration.metadata import add_partition_metadata, markdown, source_metadata
from orchestration.partitions import TRADING_DAYS, partition_dates
from orchestration.resources.database import Database
from orchestration.resources.market_data import MarketDataSource
from orchestration.resources.panels import ReturnsPanels
from orchestration.storage.bulk import insert_frame, read_frame, replace_rows
from orchestration.storage.models import BenchmarkSectorWeight, EtfHolding, Instrument, Price


def _stamp(source: MarketDataSource, column: str) -> dict[str, object]:
    """The columns every row of a load shares: where it came from and when."""
    return {"source": source.label, column: utc_now()}


HISTORY_EVENTS_CHECKED = 20
DAILY_PRICES = dg.AssetKey("daily_prices")
PARTITION_ROW_COUNT = "dagster/partition_row_count"
LEGACY_ROW_COUNT = "dagster/row_count"
"""What materializations of ``daily_prices`` recorded their rows under before they were
counted per partition (still read: an instance keeps its old events)."""


def _run_range(tags: dict[str, str]) -> tuple[dt.date, dt.date] | None:
    """The trading days a run covers, from its partition tags (None when unpartitioned)."""
    if c.RANGE_START_TAG in tags and c.RANGE_END_TAG in tags:
        return (
            dt.date.fromisoformat(tags[c.RANGE_START_TAG]),
            dt.date.fromisoformat(tags[c.RANGE_END_TAG]),
        )
    if "dagster/partition" in tags:
        day = dt.date.fromisoformat(tags["dagster/partition"])
        return day, day
    return None


def _writes_prices(context: dg.AssetExecutionContext) -> bool:
    steps = context.run.step_keys_to_execute
    return steps is None or DAILY_PRICES.to_python_identifier() in steps


def _history_lost(context: dg.AssetExecutionContext, database: Database) -> str | None:
    """Why the app database looks replaced: it holds no prices while the Dagster instance
    recorded daily_prices materializations with rows (None when it is consistent)."""
    with database.engine.connect() as connection:
        stored = read_frame(
            connection, "SELECT COUNT(*) AS n FROM (SELECT 1 FROM prices LIMIT 1) p"
        )
    if int(stored["n"].iloc[0]):
        return None
    records = context.instance.fetch_materializations(DAILY_PRICES, limit=HISTORY_EVENTS_CHECKED)
    for record in records.records:
        metadata = record.asset_materialization.metadata
        rows = metadata.get(PARTITION_ROW_COUNT, metadata.get(LEGACY_ROW_COUNT))
        if rows is not None and rows.value:
            return (
                f"the app database {database.url} holds no prices, but the Dagster instance "
                f"recorded daily_prices materializations with prices (partition "
                f"{record.asset_materialization.partition}, run {record.run_id}): the database "
                "was deleted or replaced; restore it, or start from a fresh Dagster instance "
                "(DAGSTER_HOME)"
            )
    return None


def _days_text(days: pd.DatetimeIndex) -> str:
    if len(days) == 1:
        return days[0].date().isoformat()
    return f"the {len(days)} sessions {days[0].date().isoformat()} … {days[-1].date().isoformat()}"


def no_data_yet(first: dt.date, last: dt.date, data_end: dt.date | None) -> str | None:
    """Why a run over the sessions ``first`` … ``last`` cannot be written yet: some lie after
    the end the source declares for its data (None when every session is within it)."""
    if data_end is None or last <= data_end:
        return None
    pending = market_calendar.sessions(max(first, data_end + dt.timedelta(days=1)), last)
    return (
        f"no data yet for {_days_text(pending)} (the source's data ends on {data_end.isoformat()})"
    )


@dg.asset(group_name=c.MARKET_DATA)
def market_data_snapshot(
    context: dg.AssetExecutionContext, market_data: MarketDataSource, database: Database
) -> dg.MaterializeResult:
    """The source this run writes from, validated as a whole before anything is written.

    The ``market_data`` resource read and validated every file (or payload) and the rules
    across them when the run started. Here the snapshot is checked against the database: the
    database must not have lost the history the Dagster instance remembers; a run over trading
    days needs prices in the source for that range (an empty source, a session after the end
    the source declares for its data — "no data yet for D (the source's data ends on E)" — or
    a range wholly before its dates is an error; a session inside it without prices fails
    ``daily_prices``' check ``prices_present_on_session``); and replacing the range must not
    delete stored prices the source lacks unless the run was started with
    ``--allow-removals``. Writes nothing; the metadata describes the snapshot.

    Its data version names the source (kind and label), not its extent: a source that gained
    a day keeps the stored partitions in sync, another source marks them unsynced."""
    lost = _history_lost(context, database)
    if lost:
        raise HistoryLostError(lost)
    snapshot = market_data.snapshot()
    span = market_data.price_dates()
    data_end = market_data.data_end()
    days = _run_range(context.run.tags)
    allowed = removals_allowed(context.run.tags)
    removals = 0
    if days is not None and _writes_prices(context):
        first, last = days
        if span is None:
            raise MarketDataError(
                f"{snapshot.origins.prices.name} has no rows: the source is empty, so the run "
                f"over {first.isoformat()} … {last.isoformat()} has no prices to write"
            )
        pending = no_data_yet(first, last, data_end)
        if pending:
            raise MarketDataError(pending)
        if last < span[0] or first > span[1]:
            raise MarketDataError(
                f"{snapshot.origins.prices.name} has prices from {span[0].isoformat()} to "
                f"{span[1].isoformat()}, none for the run's range "
                f"{first.isoformat()} … {last.isoformat()}"
            )
        with database.engine.connect() as connection:
            removals = check_range_removals(
                connection, _price_parts(market_data, first, last), first, last, allowed=allowed
            )
    return dg.MaterializeResult(
        metadata={
            **source_metadata(market_data),
            "instruments": len(snapshot.instruments),
            "price_rows": len(snapshot.prices),
            "first_price_date": span[0].isoformat() if span else "none",
            "last_price_date": span[1].isoformat() if span else "none",
            "data_end": data_end.isoformat() if data_end else "none",
            "benchmark_rows": len(snapshot.benchmark_sector_weights),
            "etf_holding_rows": len(snapshot.etf_holdings),
            "positions": len(snapshot.positions),
            "removals_allowed": allowed,
            "stored_rows_to_remove": removals,
        },
        data_version=source_version(type(market_data).__name__, market_data.label),
    )


@dg.asset(group_name=c.MARKET_DATA, deps=[market_data_snapshot])
def instruments(market_data: MarketDataSource, database: Database) -> dg.MaterializeResult:
    """Symbols with name, GICS sector, industry, market cap, asset type and currency.

    The data version is a hash of the instrument rows: re-materializing the same instruments
    leaves every ``daily_prices`` partition in sync; a changed row marks them unsynced."""
    frame = market_data.instruments()
    with database.transaction() as connection:
        replace_rows(
            connection,
            Instrument.__table__,
            frame,
            constants=_stamp(market_data, "updated_at"),
        )
    by_type = frame["asset_type"].value_counts()
    return dg.MaterializeResult(
        metadata={
            **source_metadata(market_data),
            "dagster/row_count": len(frame),
            "stocks": int(by_type.get("stock", 0)),
            "etfs": int(by_type.get("etf", 0)),
            "unclassified_stocks": int(
                ((frame["asset_type"] == "stock") & frame["sector"].isna()).sum()
            ),
            "sectors": markdown(frame["sector"].value_counts().rename_axis("sector").reset_index()),
        },
        data_version=frame_version(frame, ["symbol"]),
    )


@dg.asset(group_name=c.MARKET_DATA, deps=[market_data_snapshot])
def benchmark_sector_weights(
    market_data: MarketDataSource, database: Database
) -> dg.MaterializeResult:
    """Benchmark (S&P 500-style) sector weights, one snapshot per ``asof_date``; the data
    version is a hash of the rows (an unchanged load keeps ``sector_exposure`` in sync)."""
    frame = market_data.benchmark_sector_weights()
    with database.transaction() as connection:
        replace_rows(
            connection,
            BenchmarkSectorWeight.__table__,
            frame,
            constants=_stamp(market_data, "updated_at"),
        )
    latest = frame.loc[frame["asof_date"] == frame["asof_date"].max()] if len(frame) else frame
    return dg.MaterializeResult(
        metadata={
            **source_metadata(market_data),
            "dagster/row_count": len(frame),
            "snapshots": int(frame[["benchmark", "asof_date"]].drop_duplicates().shape[0]),
            "latest_snapshot": markdown(latest.sort_values("weight", ascending=False)),
        },
        data_version=frame_version(frame, ["benchmark", "asof_date", "sector"]),
    )


@dg.asset(group_name=c.MARKET_DATA, deps=[market_data_snapshot])
def etf_holdings(market_data: MarketDataSource, database: Database) -> dg.MaterializeResult:
    """Holdings of each ETF by ``asof_date`` (weights of the fund; cash excluded); the data
    version is a hash of the rows (an unchanged load keeps ``sector_exposure`` in sync)."""
    frame = market_data.etf_holdings()
    with database.transaction() as connection:
        replace_rows(
            connection,
            EtfHolding.__table__,
            frame,
            constants=_stamp(market_data, "updated_at"),
        )
    per_etf = frame.groupby("etf")["symbol"].count() if len(frame) else pd.Series(dtype=int)
    return dg.MaterializeResult(
        metadata={
            **source_metadata(market_data),
            "dagster/row_count": len(frame),
            "etfs": len(per_etf),
            "holdings_per_etf": markdown(per_etf.rename("holdings").reset_index()),
        },
        data_version=frame_version(frame, ["etf", "asof_date", "symbol"]),
    )


class DailyPricesConfig(dg.Config):
    """Thresholds of the price checks."""

    min_coverage: float = c.DEFAULT_MIN_COVERAGE
    max_stale_sessions: int = c.DEFAULT_MAX_STALE_SESSIONS


PART_DAYS = 91
"""Calendar days of the source's prices a range run holds at a time (about 63 sessions: 0.3 M
rows at 5,000 symbols), so a multi-year backfill never copies all of its prices at once."""


def _price_parts(source: MarketDataSource, first: dt.date, last: dt.date) -> Iterator[SourcePart]:
    """The source's prices of ``first`` … ``last`` in consecutive parts of :data:`PART_DAYS`
    calendar days that cover the range, each with its own first and last day."""
    start = first
    while start <= last:
        end = min(start + dt.timedelta(days=PART_DAYS - 1), last)
        yield start, end, source.prices(start, end)
        start = end + dt.timedelta(days=1)


def _day_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows and distinct symbols of ``frame`` per day (index: ``datetime.date``)."""
    dates = frame["date"].dt.date
    return pd.DataFrame(
        {"rows": dates.value_counts(), "symbols": frame.groupby(dates)["symbol"].nunique()}
    )


def _record_days(
    context: dg.AssetExecutionContext,
    counts: pd.DataFrame,
    days: list[dt.date],
    coverage: pd.DataFrame,
) -> None:
    """Each partition's own figures (its rows under ``dagster/partition_row_count``, symbols,
    coverage), so the UI plots each session's numbers, never the run's totals. ``counts``:
    rows and symbols per day (:func:`_day_counts`)."""
    rows, symbols = counts["rows"], counts["symbols"]
    covered = dict(zip(pd.to_datetime(coverage["date"]).dt.date, coverage["coverage"], strict=True))
    for day in days:
        add_partition_metadata(
            context,
            day.isoformat(),
            {
                PARTITION_ROW_COUNT: int(rows.get(day, 0)),
                "symbols": int(symbols.get(day, 0)),
                "coverage": float(covered[day]),
            },
        )


@dg.asset(
    group_name=c.MARKET_DATA,
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[market_data_snapshot, instruments],
    check_specs=[
        dg.AssetCheckSpec(
            c.PRICES_PRESENT_ON_SESSION,
            asset="daily_prices",
            blocking=True,
            description="Every NYSE session of the run's dates has prices: a session without "
            "any bar (a file or payload that never arrived) fails, naming the date.",
        ),
        dg.AssetCheckSpec(
            c.PRICES_UNIQUE_KEYS,
            asset="daily_prices",
            blocking=True,
            description="No (symbol, date) appears twice in the run's dates.",
        ),
        dg.AssetCheckSpec(
            c.PRICES_POSITIVE_CLOSES,
            asset="daily_prices",
            blocking=True,
            description="Every close (and adjusted close, where known) is greater than 0.",
        ),
        dg.AssetCheckSpec(
            c.PRICES_COVER_UNIVERSE,
            asset="daily_prices",
            description="Warns when fewer than 95 % of the symbols that traded in the last 10 "
            "NYSE sessions are priced on a session.",
        ),
        dg.AssetCheckSpec(
            c.PRICES_FRESH,
            asset="daily_prices",
            description="Warns when the newest stored price is more than 3 NYSE sessions "
            "older than the last session of the source's data (the end it declares: a CSV "
            "history's last date, today for the demo market and FMP).",
        ),
    ],
)
def daily_prices(
    context: dg.AssetExecutionContext,
    config: DailyPricesConfig,
    market_data: MarketDataSource,
    database: Database,
) -> dg.MaterializeResult:
    """Daily bars (``prices`` table), one partition per NYSE session. The partitions of a run
    are replaced in one transaction, written :data:`PART_DAYS` calendar days of the source
    at a time (a long backfill never copies all of its prices at once). A session without any
    bar is an error (blocking check ``prices_present_on_session`` names the date), never a
    holiday: holidays are no partition.
    A replacement that would delete stored prices the source lacks fails (and writes nothing)
    unless the run was started with ``--allow-removals``.

    Each partition records its own rows (``dagster/partition_row_count``), symbols and
    coverage; the figures of the whole run (partitions, sessions without prices, removals,
    lowest coverage) are recorded once, on the run's last partition. Freshness
    (``prices_fresh``) is judged against the end the source declares for its data. The run's
    source prices are released once written (no later step of a run reads them)."""
    days = partition_dates(context.partition_keys)
    first, last = days[0], days[-1]
    table = Price.__table__
    allowed = removals_allowed(context.run.tags)
    constants = _stamp(market_data, "ingested_at")
    with database.transaction() as connection:
        removed = check_range_removals(
            connection, _price_parts(market_data, first, last), first, last, allowed=allowed
        )
        connection.execute(table.delete().where(table.c.date >= first, table.c.date <= last))
        parts, symbols, written = [], set(), 0
        for _, part_last, frame in _price_parts(market_data, first, last):
            written += insert_frame(connection, table, frame, constants=constants)
            parts.append(_day_counts(frame))
            symbols.update(frame["symbol"].unique())
            context.log.info(f"daily_prices: wrote {written:,} rows (through {part_last})")
    counts = pd.concat(parts)
    unpriced = [d for d in days if d not in counts.index]
    coverage = checks.universe_coverage(database, first, last)
    _record_days(context, counts, days, coverage)
    add_partition_metadata(
        context,
        last.isoformat(),
        {
            "run_partitions": len(days),
            "run_rows": written,
            "run_sessions_without_prices": len(unpriced),
            "run_symbols": len(symbols),
            "removals_allowed": allowed,
            "stored_rows_removed": removed,
            "min_coverage_in_range": float(coverage["coverage"].min()) if len(coverage) else 0.0,
        },
    )
    check_results = [
        checks.prices_present_on_session(set(counts.index), first, last),
        checks.prices_unique_keys(database, first, last),
        checks.prices_positive_closes(database, first, last),
        checks.prices_cover_universe(coverage, config.min_coverage),
        checks.prices_fresh(database, market_data.data_end(), config.max_stale_sessions),
    ]
    market_data.release_prices()
    return dg.MaterializeResult(metadata=source_metadata(market_data), check_results=check_results)


@dg.asset(
    group_name=c.MARKET_DATA,
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[daily_prices],
    check_specs=[
        dg.AssetCheckSpec(
            c.RETURNS_FINITE,
            asset="returns_panel",
            blocking=True,
            description="Every value of the filtered returns panel is finite or missing (no ±inf).",
        )
    ],
)
def returns_panel(context: dg.AssetExecutionContext, panels: ReturnsPanels) -> dg.MaterializeResult:
    """Dates x symbols simple returns of adjusted closes over the lookback window ending at the
    partition date, quality-filtered (minimum history, missing share, non-positive prices);
    returns beyond the extreme threshold are flagged. Built from ``prices`` by
    :class:`ReturnsPanels`, which every downstream asset reads through.

    The metadata describes the panel of the run's last day and is recorded on that partition
    only (its rows, the panel's dates, under ``dagster/partition_row_count``)."""
    as_of = partition_dates(context.partition_keys)[-1]
    result = panels.panel(as_of)
    excluded = result.excluded
    total = len(result.quality)
    panel = result.returns
    context.add_asset_metadata(
        {
            "as_of": as_of.isoformat(),
            PARTITION_ROW_COUNT: len(panel),
            "dates": len(panel),
            "first_date": panel.index[0].date().isoformat() if len(panel) else "none",
            "symbols": int(panel.shape[1]),
            "symbols_excluded": len(excluded),
            "coverage": float(panel.shape[1] / total) if total else 0.0,
            "missing_share": float(panel.isna().to_numpy().mean()) if panel.size else 0.0,
            "extreme_returns": len(result.extreme_returns),
            "lookback_days": panels.lookback_days,
            "excluded_symbols": markdown(excluded.reset_index().head(50)),
            "flagged_returns": markdown(result.extreme_returns.head(50)),
        },
        partition_key=as_of.isoformat(),
    )
    return dg.MaterializeResult(check_results=[checks.returns_finite(result)])
