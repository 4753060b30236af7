"""Market data assets: instruments, benchmark sector weights, ETF holdings, daily prices and the
returns panel. Each loads from the market data source, writes the app database in one
transaction and returns numeric metadata."""

import datetime as dt

import dagster as dg
import pandas as pd

from orchestration import constants as c
from orchestration.clock import utc_now
from orchestration.defs.market_data import checks
from orchestration.metadata import markdown, source_metadata
from orchestration.partitions import TRADING_DAYS, partition_dates
from orchestration.resources.database import Database
from orchestration.resources.market_data import MarketDataSource
from orchestration.resources.panels import ReturnsPanels
from orchestration.storage.bulk import replace_rows
from orchestration.storage.models import BenchmarkSectorWeight, EtfHolding, Instrument, Price


def _stamp(source: MarketDataSource, column: str) -> dict[str, object]:
    """The columns every row of a load shares: where it came from and when."""
    return {"source": source.label, column: utc_now()}


@dg.asset(group_name=c.MARKET_DATA, kinds={"sql"})
def instruments(market_data: MarketDataSource, database: Database) -> dg.MaterializeResult:
    """Symbols with name, GICS sector, industry, market cap, asset type and currency."""
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
        }
    )


@dg.asset(group_name=c.MARKET_DATA, kinds={"sql"})
def benchmark_sector_weights(
    market_data: MarketDataSource, database: Database
) -> dg.MaterializeResult:
    """Benchmark (S&P 500-style) sector weights, one snapshot per ``asof_date``."""
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
        }
    )


@dg.asset(group_name=c.MARKET_DATA, kinds={"sql"})
def etf_holdings(market_data: MarketDataSource, database: Database) -> dg.MaterializeResult:
    """Holdings of each ETF by ``asof_date`` (weights of the fund; cash excluded)."""
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
        }
    )


class DailyPricesConfig(dg.Config):
    """Thresholds of the price checks."""

    min_coverage: float = c.DEFAULT_MIN_COVERAGE
    max_stale_weekdays: int = c.DEFAULT_MAX_STALE_WEEKDAYS


def _record_days(
    context: dg.AssetExecutionContext,
    frame: pd.DataFrame,
    days: list[dt.date],
    coverage: pd.DataFrame,
) -> None:
    """Per-partition figures of a range run (rows, symbols, coverage, holiday), so the UI plots
    each day's own numbers instead of the run's totals copied into every partition."""
    dates = frame["date"].dt.date
    rows = dates.value_counts()
    symbols = frame.groupby(dates)["symbol"].nunique()
    covered = dict(zip(pd.to_datetime(coverage["date"]).dt.date, coverage["coverage"], strict=True))
    for day in days:
        context.add_asset_metadata(
            {
                "dagster/row_count": int(rows.get(day, 0)),
                "symbols": int(symbols.get(day, 0)),
                "coverage": float(covered.get(day, float("nan"))),
                "market_holiday": day not in rows.index,
            },
            partition_key=day.isoformat(),
        )


@dg.asset(
    group_name=c.MARKET_DATA,
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[instruments],
    kinds={"sql"},
    check_specs=[
        dg.AssetCheckSpec(c.PRICES_UNIQUE_KEYS, asset="daily_prices", blocking=True),
        dg.AssetCheckSpec(c.PRICES_POSITIVE_CLOSES, asset="daily_prices", blocking=True),
        dg.AssetCheckSpec(c.PRICES_COVER_UNIVERSE, asset="daily_prices"),
        dg.AssetCheckSpec(c.PRICES_FRESH, asset="daily_prices"),
    ],
)
def daily_prices(
    context: dg.AssetExecutionContext,
    config: DailyPricesConfig,
    market_data: MarketDataSource,
    database: Database,
) -> dg.MaterializeResult:
    """Daily bars (``prices`` table). The partitions of a run are replaced in one transaction;
    a weekday without any bar (a market holiday) is an empty partition, recorded as such."""
    days = partition_dates(context.partition_keys)
    first, last = days[0], days[-1]
    frame = market_data.prices(first, last)
    in_partitions = frame["date"].dt.date.isin(set(days))
    outside = int((~in_partitions).sum())
    frame = frame.loc[in_partitions]
    table = Price.__table__

    def progress(done: int, total: int) -> None:
        context.log.info(f"daily_prices: wrote {done:,} of {total:,} rows")

    with database.transaction() as connection:
        replace_rows(
            connection,
            table,
            frame,
            table.c.date >= first,
            table.c.date <= last,
            constants=_stamp(market_data, "ingested_at"),
            progress=progress,
        )
    per_day = frame.groupby(frame["date"].dt.date).size()
    holidays = [d for d in days if d not in per_day.index]
    coverage = checks.universe_coverage(database, first, last)
    latest = coverage.iloc[-1] if not coverage.empty else None
    if len(days) > 1:
        _record_days(context, frame, days, coverage)
    metadata = {
        **source_metadata(market_data),
        "dagster/row_count": len(frame),
        "partitions": len(days),
        "trading_days": len(per_day),
        "holidays": len(holidays),
        "holiday_dates": ", ".join(d.isoformat() for d in holidays[-20:]) or "none",
        "symbols": int(frame["symbol"].nunique()),
        "rows_outside_partitions_ignored": outside,
        "coverage": float(latest["coverage"]) if latest is not None else 0.0,
        "min_coverage_in_range": float(coverage["coverage"].min()) if len(coverage) else 0.0,
    }
    if len(days) == 1 and holidays:
        context.log.info(f"{first.isoformat()} has no prices: recorded as a market holiday")
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            checks.prices_unique_keys(database, first, last),
            checks.prices_positive_closes(database, first, last),
            checks.prices_cover_universe(database, first, last, config.min_coverage),
            checks.prices_fresh(
                database,
                dt.date.fromisoformat(context.assets_def.partitions_def.get_last_partition_key()),
                config.max_stale_weekdays,
            ),
        ],
    )


@dg.asset(
    group_name=c.MARKET_DATA,
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[daily_prices],
    check_specs=[dg.AssetCheckSpec(c.RETURNS_FINITE, asset="returns_panel", blocking=True)],
)
def returns_panel(context: dg.AssetExecutionContext, panels: ReturnsPanels) -> dg.MaterializeResult:
    """Dates x symbols simple returns of adjusted closes over the lookback window ending at the
    partition date, quality-filtered (minimum history, missing share, non-positive prices);
    returns beyond the extreme threshold are flagged. Built from ``prices`` by
    :class:`ReturnsPanels`, which every downstream asset reads through.

    In a multi-day run the metadata describes the panel of the last day of the range."""
    as_of = partition_dates(context.partition_keys)[-1]
    result = panels.panel(as_of)
    excluded = result.excluded
    total = len(result.quality)
    panel = result.returns
    return dg.MaterializeResult(
        metadata={
            "as_of": as_of.isoformat(),
            "dagster/row_count": len(panel),
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
        check_results=[checks.returns_finite(result)],
    )
