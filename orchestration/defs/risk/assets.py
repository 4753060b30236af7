"""Risk assets: position betas, the portfolio's beta, sector exposure, concentration, return
series, volatility forecasts and the daily portfolio snapshot.

Every asset is partitioned by ``trading_days`` (the as-of date) with single-run backfills: a
range run computes all its as-of dates at once and replaces their rows in one transaction.
Inputs come through the ``risk_model`` resource (returns on the last ``history_days`` price
dates up to each as-of date, positions, instruments, benchmark, ETF holdings); the maths is in
``analytics_lib``. Weights are market value / net equity with the latest price on or before
the as-of date (shorts negative). As-of dates without prices (not loaded yet) materialize
empty.

Returns are the simple returns of adjusted closes of every priced symbol, read straight from
``prices`` (:meth:`RiskModel.history`): not the quality-filtered ``returns_panel``, so a
symbol with a short history or an extreme return keeps its rows and is graded by its own
status (``insufficient_data``) instead of disappearing. A symbol without a price at the as-of
date (or within ``PORTFOLIO_STALE_SESSIONS`` NYSE sessions of it) is ``stale``
(:func:`analytics_lib.freshness.price_staleness`): its beta and volatility figures are NULL.

Metadata: each partition carries its own figures (the UI plots them over time) and its row
count (``dagster/partition_row_count``); the run's range (``as_of_dates``,
``dates_without_prices``, rows written) is recorded once, on the last partition of the run,
and the tables and charts describe the last as-of date of the run.
"""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import numpy as np
import pandas as pd

from analytics_lib.betas import BETA_COLUMNS, market_betas, rolling_market_betas, series_beta
from analytics_lib.betas import portfolio_beta as weighted_portfolio_beta
from analytics_lib.portfolio import concentration as book_concentration
from analytics_lib.portfolio import portfolio_returns as book_returns
from analytics_lib.sectors import UNCLASSIFIED, benchmark_weights_at
from analytics_lib.sectors import sector_exposure as book_sector_exposure
from analytics_lib.volatility import (
    DEFAULT_MAX_VOL,
    har_forecast,
    realized_volatility,
    rolling_har_forecast,
    rolling_realized_volatility,
    rolling_volatility_percentile,
    volatility_percentile,
    volatility_trend,
)
from orchestration import constants as c
from orchestration.charts import bar_chart, histogram_chart
from orchestration.clock import utc_now
from orchestration.defs.market_data.assets import (
    benchmark_sector_weights,
    etf_holdings,
    instruments,
    returns_panel,
)
from orchestration.defs.risk import checks
from orchestration.defs.trading.assets import portfolio_positions
from orchestration.metadata import add_partition_metadata, markdown
from orchestration.partitions import TRADING_DAYS, partition_dates
from orchestration.resources.database import Database
from orchestration.resources.risk import Book, RiskHistory, RiskModel
from orchestration.storage.bulk import RowSpool, upsert_rows
from orchestration.storage.models import PortfolioSnapshot, PositionMarketBeta, PositionVolatility

SINGLE_RUN = dg.BackfillPolicy.single_run()
CHUNK_CELLS = 500_000
"""(as-of date x symbol) cells a per-symbol asset (betas, volatility) computes per pass of a
range run: bounds its memory however many dates and symbols the range holds."""
SNAPSHOT_KEYS = ["calc_date"]
MARKER_COLUMNS = {
    "portfolio_beta": "market_index",
    "sector_exposure": "sector_look_through",
    "concentration": "positions",
    "portfolio_returns": "return_coverage",
}
"""A column each upstream asset always writes: present means that asset ran for the date."""


# --------------------------------------------------------------------------------------------
# shared helpers (loading and bookkeeping only; the analytics live in analytics_lib)


def _history(context: dg.AssetExecutionContext, risk_model: RiskModel) -> RiskHistory:
    return risk_model.history(partition_dates(context.partition_keys))


def _book_series(history: RiskHistory, book: Book, as_of: pd.Timestamp) -> pd.DataFrame:
    """The return series (``return``, ``coverage``) of the book's holdings over the window."""
    window = history.window(as_of)
    return book_returns(window[book.weights.index], book.weights)


def _key(as_of: pd.Timestamp) -> str:
    return as_of.strftime("%Y-%m-%d")


def _number(value: object) -> float:
    """A float for metadata: NaN stays NaN (the UI leaves a gap)."""
    return float(value) if value is not None else float("nan")


def _json_records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """``frame``'s rows for a JSON column at full float precision (``to_json`` rounds to 10
    decimals); missing values are None."""
    return [
        {key: None if pd.isna(value) else value for key, value in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]


def _record_skipped(context: dg.AssetExecutionContext, history: RiskHistory) -> None:
    for day in history.skipped:
        add_partition_metadata(
            context,
            day.isoformat(),
            {
                "skipped": "no prices on this date (not loaded yet)",
                "dagster/partition_row_count": 0,
            },
        )


def _record(
    context: dg.AssetExecutionContext, as_of: pd.Timestamp, values: dict, rows: int = 1
) -> None:
    """Numeric metadata of one as-of date (the UI plots it across partitions) with the rows
    the asset wrote for that date."""
    add_partition_metadata(context, _key(as_of), {**values, "dagster/partition_row_count": rows})


def _record_tables(
    context: dg.AssetExecutionContext, history: RiskHistory, tables: dict[str, pd.DataFrame]
) -> None:
    """Markdown tables on the last as-of date of the run only: metadata returned with the
    result would be copied into the event of every partition of a range run."""
    if history.calc_dates:
        add_partition_metadata(
            context,
            _key(history.calc_dates[-1]),
            {name: markdown(table) for name, table in tables.items()},
        )


def _record_chart(
    context: dg.AssetExecutionContext, history: RiskHistory, name: str, chart: dg.MetadataValue
) -> None:
    """A chart on the last as-of date of the run only (rendering one per partition would cost
    a PNG per day of a backfill)."""
    add_partition_metadata(context, _key(history.calc_dates[-1]), {name: chart})


def _record_range(
    context: dg.AssetExecutionContext, history: RiskHistory, rows: int, **extra: object
) -> None:
    """Figures of the run as a whole, once, on its last partition (returned with the result
    they would be copied into the event of every partition and plotted as a flat line)."""
    dates = history.calc_dates
    add_partition_metadata(
        context,
        context.partition_keys[-1],
        {
            "as_of_dates": len(dates),
            "first_as_of": _key(dates[0]) if dates else "none",
            "last_as_of": _key(dates[-1]) if dates else "none",
            "dates_without_prices": len(history.skipped),
            "rows_in_run": rows,
            **extra,
        },
    )


def rows_by_date(frame: pd.DataFrame) -> Iterator[tuple[pd.Timestamp, pd.DataFrame]]:
    """``frame.groupby("calc_date", sort=True)`` without its copy of the whole frame: the rows
    of a range run are appended in date order, so each date's rows are one slice (a frame
    out of order is sorted stably first, which keeps each date's rows in their order)."""
    dates = frame["calc_date"].to_numpy()
    if len(dates) > 1 and not (dates[1:] >= dates[:-1]).all():
        order = np.argsort(dates, kind="stable")
        frame, dates = frame.iloc[order], dates[order]
    if not len(dates):
        return
    starts = np.flatnonzero(np.r_[True, dates[1:] != dates[:-1]])
    ends = [*starts[1:], len(dates)]
    for start, end in zip(starts, ends, strict=True):
        yield pd.Timestamp(dates[start]), frame.iloc[start:end]


def _stale_mask(frame: pd.DataFrame, staleness: pd.DataFrame) -> np.ndarray:
    """Per row of ``frame`` (``calc_date``, ``symbol``): whether the symbol is stale then."""
    stale = staleness.loc[staleness["stale"]]
    keys = pd.MultiIndex.from_arrays(
        [pd.DatetimeIndex(stale["calc_date"]).as_unit("ns"), stale["symbol"].astype(str)]
    )
    rows = pd.MultiIndex.from_arrays(
        [pd.DatetimeIndex(frame["calc_date"]).as_unit("ns"), frame["symbol"].astype(str)]
    )
    return np.asarray(rows.isin(keys), dtype=bool)


def _stale_table(staleness: pd.DataFrame) -> pd.DataFrame:
    """``calc_date, symbol, last_price_date, sessions_behind`` of the stale rows."""
    rows = staleness.loc[staleness["stale"]]
    return pd.DataFrame(
        {
            "calc_date": pd.DatetimeIndex(rows["calc_date"]).strftime("%Y-%m-%d"),
            "symbol": rows["symbol"].astype(str).to_numpy(),
            "last_price_date": pd.DatetimeIndex(rows["last_price_date"]).strftime("%Y-%m-%d"),
            "sessions_behind": rows["sessions_behind"].to_numpy(),
        }
    )


def _snapshot_upsert(database: Database, rows: list[dict]) -> None:
    with database.transaction() as connection:
        upsert_rows(connection, PortfolioSnapshot.__table__, rows, keys=SNAPSHOT_KEYS)


def _date_range(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    days = partition_dates(context.partition_keys)
    return days[0], days[-1]


# --------------------------------------------------------------------------------------------
# position betas


BETA_KEPT_COLUMNS = (
    "calc_date",
    "symbol",
    "beta",
    "beta_raw",
    "r_squared",
    "capped",
    "observations",
    "status",
)
"""Columns of ``position_market_betas`` rows the asset reads after writing them (metadata,
tables, checks); only these stay in memory during a range run."""


def _beta_frames(risk_model: RiskModel, history: RiskHistory) -> Iterator[pd.DataFrame]:
    """Long frames of betas for every as-of date and every symbol with data at that date, in
    date order, :data:`CHUNK_CELLS` cells at a time (each over the rows its dates read)."""
    dates = list(history.calc_dates)
    params = {
        "market": risk_model.market_index,
        "window": risk_model.beta_window,
        "min_observations": risk_model.beta_min_observations,
        "cap": risk_model.beta_cap,
    }
    returns = history.returns
    if not dates:
        empty = pd.DataFrame(columns=["date", "symbol", *BETA_COLUMNS])
        yield _beta_frame(risk_model, history, dates, empty)
        return
    if len(dates) == 1:
        single = market_betas(history.window(dates[0]), **params)
        yield _beta_frame(risk_model, history, dates, single.reset_index().assign(date=dates[0]))
        return
    step = max(1, CHUNK_CELLS // max(returns.shape[1], 1))
    for first in range(0, len(dates), step):
        chunk = dates[first : first + step]
        start = max(0, returns.index.get_loc(chunk[0]) - history.history_days + 1)
        frame = rolling_market_betas(
            returns.iloc[start : returns.index.get_loc(chunk[-1]) + 1],
            as_of_dates=chunk,
            lookback=history.history_days,
            **params,
        )
        yield _beta_frame(risk_model, history, chunk, frame)


def _beta_frame(
    risk_model: RiskModel, history: RiskHistory, dates: list, frame: pd.DataFrame
) -> pd.DataFrame:
    """The rows of ``position_market_betas`` from the betas kernel's long ``frame`` of
    ``dates``: every symbol with data at each date."""
    if dates:
        universe = np.concatenate([history.priced_mask(d) for d in dates])
        frame = frame.loc[universe].reset_index(drop=True)
    floats = {
        name: np.array(frame[name], dtype=np.float64)
        for name in ("beta", "beta_raw", "alpha", "r_squared", "std_error", "t_stat", "p_value")
    }
    floats["t_stat"][~np.isfinite(floats["t_stat"])] = np.nan  # the market against itself
    return pd.DataFrame(
        {
            "calc_date": pd.DatetimeIndex(frame["date"]),
            "symbol": frame["symbol"].astype(str).to_numpy(),
            "method": c.BETA_METHOD,
            "window_days": risk_model.beta_window,
            "market_index": risk_model.market_index,
            **floats,
            "capped": frame["capped"].to_numpy(dtype=bool),
            "observations": frame["observations"].to_numpy(dtype=np.int64),
            "status": frame["status"].astype(str).to_numpy(),
        }
    )


BETA_STATISTICS = ("beta", "beta_raw", "alpha", "r_squared", "std_error", "t_stat", "p_value")
VOL_FIGURES = (
    "realized_vol_21d",
    "realized_vol_63d",
    "har_rv_daily",
    "har_rv_weekly",
    "har_rv_monthly",
    "expected_vol_21d",
    "expected_variance_raw",
    "har_r_squared",
    "vol_trend_strength",
    "vol_percentile",
)


def _mark_stale_betas(frame: pd.DataFrame, stale: np.ndarray) -> pd.DataFrame:
    """``frame`` with the stale rows' statistics NULL and their status ``stale`` (their
    ``observations`` stay: the pairs the window holds, all before the last price)."""
    out = frame.copy()
    out.loc[stale, list(BETA_STATISTICS)] = np.nan
    out.loc[stale, "capped"] = False
    out.loc[stale, "status"] = c.STALE_STATUS
    return out


@dg.asset(
    group_name=c.RISK,
    partitions_def=TRADING_DAYS,
    backfill_policy=SINGLE_RUN,
    deps=[returns_panel],
    check_specs=[
        dg.AssetCheckSpec(
            c.MARKET_BETA_IS_ONE,
            asset="position_betas",
            blocking=True,
            description=(
                "The market proxy's beta to itself is 1 and its R² is 1 (± 1e-9) wherever it is "
                "estimated."
            ),
        ),
        dg.AssetCheckSpec(
            c.BETAS_WITHIN_CAP,
            asset="position_betas",
            blocking=True,
            description=(
                "Every stored beta lies within ± the cap (5); capped betas keep their raw "
                "OLS value."
            ),
        ),
        dg.AssetCheckSpec(
            c.BETAS_R_SQUARED_IN_UNIT_INTERVAL,
            asset="position_betas",
            blocking=True,
            description="Every R² lies in [0, 1].",
        ),
        dg.AssetCheckSpec(
            c.BETAS_HAVE_SUFFICIENT_DATA,
            asset="position_betas",
            description=(
                "Warns when symbols have fewer than 30 paired observations (stored as "
                "insufficient_data)."
            ),
        ),
    ],
)
def position_betas(
    context: dg.AssetExecutionContext, risk_model: RiskModel, database: Database
) -> dg.MaterializeResult:
    """OLS beta of every symbol with data (not only holdings) on the market proxy over its last
    90 paired observations up to the as-of date (pairwise complete, so gaps are skipped), with
    alpha, R², standard error, t-stat and p-value (t, n−2). Fewer than 30 pairs: stored as
    ``insufficient_data``, never dropped. A symbol without a price at the as-of date (or within
    ``PORTFOLIO_STALE_SESSIONS`` sessions) is stored as ``stale`` with NULL statistics, never
    as ``ok`` with its old observations. Betas beyond ±5 are capped; ``beta_raw`` keeps the
    OLS value. Returns: the unfiltered simple returns of every priced symbol (not the
    quality-filtered ``returns_panel``). Table ``position_market_betas``."""
    history = _history(context, risk_model)
    staleness = risk_model.staleness(history)
    spool = RowSpool(
        BETA_KEPT_COLUMNS,
        transform=lambda rows: _mark_stale_betas(rows, _stale_mask(rows, staleness)),
    )
    for part in _beta_frames(risk_model, history):
        spool.append(part)
    first, last = _date_range(context)
    table = PositionMarketBeta.__table__
    with database.transaction() as connection:
        spool.replace(
            connection,
            table,
            table.c.calc_date >= first,
            table.c.calc_date <= last,
            table.c.method == c.BETA_METHOD,
            table.c.window_days == risk_model.beta_window,
            constants={"computed_at": pd.Timestamp(utc_now())},
        )
    frame = spool.kept()
    _record_skipped(context, history)
    for as_of, rows in rows_by_date(frame):
        ok = rows.loc[rows["status"] == "ok"]
        _record(
            context,
            as_of,
            {
                "betas_ok": len(ok),
                "without_beta": len(rows) - len(ok),
                "capped": int(rows["capped"].sum()),
                "median_beta": _number(ok["beta"].median()),
                "stale_symbols": int((rows["status"] == c.STALE_STATUS).sum()),
            },
            rows=len(rows),
        )
    latest = frame.loc[frame["calc_date"] == frame["calc_date"].max()]
    stale_latest = staleness.loc[staleness["calc_date"] == frame["calc_date"].max()]
    ok = latest.loc[latest["status"] == "ok"]
    columns = ["symbol", "beta", "beta_raw", "r_squared", "observations"]
    _record_tables(
        context,
        history,
        {
            "highest_betas": ok.nlargest(10, "beta")[columns],
            "lowest_betas": ok.nsmallest(10, "beta")[columns],
            "capped_betas": latest.loc[latest["capped"], columns],
            "symbols_without_beta": latest.loc[
                latest["status"] != "ok", ["symbol", "status", "observations"]
            ],
            "stale_symbols": _stale_table(stale_latest),
        },
    )
    _record_range(context, history, len(frame))
    return dg.MaterializeResult(
        metadata={
            "market_index": risk_model.market_index,
            "stale_sessions": risk_model.stale_sessions,
            "window": risk_model.beta_window,
            "min_observations": risk_model.beta_min_observations,
            "cap": risk_model.beta_cap,
        },
        check_results=[
            checks.market_beta_is_one(
                frame,
                risk_model.market_index,
                list(history.calc_dates),
                c.MARKET_SELF_BETA_TOLERANCE,
            ),
            checks.betas_within_cap(frame, risk_model.beta_cap),
            checks.betas_r_squared_in_unit_interval(frame),
            checks.betas_have_sufficient_data(frame),
        ],
    )


# --------------------------------------------------------------------------------------------
# the book's return series


@dg.asset(
    group_name=c.RISK,
    partitions_def=TRADING_DAYS,
    backfill_policy=SINGLE_RUN,
    deps=[returns_panel, portfolio_positions],
)
def portfolio_returns(
    context: dg.AssetExecutionContext, risk_model: RiskModel, database: Database
) -> dg.MaterializeResult:
    """Daily return series of the current holdings: weights at the as-of date times each day's
    returns, renormalised over the holdings with a return that day (coverage = share of gross
    weight with data). The series over the history window feeds the portfolio's beta and
    volatility; ``portfolio_snapshots`` keeps the as-of day's return, its coverage and the
    holdings without a price."""
    history = _history(context, risk_model)
    rows = []
    series = pd.DataFrame(columns=["return", "coverage"])
    _record_skipped(context, history)
    for as_of in history.calc_dates:
        book = risk_model.book(history, as_of)
        series = _book_series(history, book, as_of)
        day = series.iloc[-1]
        rows.append(
            {
                "calc_date": as_of.date(),
                "portfolio_return": day["return"],
                "return_coverage": day["coverage"],
                "unpriced_holdings": book.unpriced,
                "updated_at": utc_now(),
            }
        )
        _record(
            context,
            as_of,
            {
                "portfolio_return": _number(day["return"]),
                "return_coverage": _number(day["coverage"]),
                "unpriced_holdings": len(book.unpriced),
            },
        )
    _snapshot_upsert(database, rows)
    _record_tables(
        context, history, {"last_days": series.tail(10).rename_axis("date").reset_index()}
    )
    _record_range(context, history, len(rows))
    return dg.MaterializeResult()


# --------------------------------------------------------------------------------------------
# portfolio beta


def _stored_betas(
    database: Database, risk_model: RiskModel, first: dt.date, last: dt.date
) -> pd.DataFrame:
    """The stored betas of the held symbols over the run's dates (all the portfolio's beta
    reads: not the whole universe's rows)."""
    held = {f"held_{i}": symbol for i, symbol in enumerate(risk_model.quantities().index)}
    frame = database.read_frame(
        "SELECT calc_date, symbol, beta, r_squared, observations, status "
        "FROM position_market_betas WHERE calc_date >= :first AND calc_date <= :last "
        "AND method = :method AND window_days = :window "
        f"AND symbol IN ({', '.join(':' + name for name in held)})",
        {
            "first": first,
            "last": last,
            "method": c.BETA_METHOD,
            "window": risk_model.beta_window,
            **held,
        },
    )
    frame["calc_date"] = pd.to_datetime(frame["calc_date"])
    for column in ("beta", "r_squared"):
        frame[column] = pd.to_numeric(frame[column]).astype(np.float64)
    return frame


@dg.asset(
    group_name=c.RISK,
    partitions_def=TRADING_DAYS,
    backfill_policy=SINGLE_RUN,
    deps=[position_betas, portfolio_returns],
)
def portfolio_beta(
    context: dg.AssetExecutionContext, risk_model: RiskModel, database: Database
) -> dg.MaterializeResult:
    """The book's market beta: equity-weighted beta of the holdings (Σ w·β with weights =
    market value / net equity, shorts negative; holdings without a beta contribute nothing and
    are listed) with the |w|-weighted R² and the smallest observation count, plus the direct
    OLS regression of the book's own return series on the market proxy."""
    history = _history(context, risk_model)
    first, last = _date_range(context)
    stored = _stored_betas(database, risk_model, first, last)
    stored_dates = set(stored["calc_date"])
    missing = [d for d in history.calc_dates if d not in stored_dates]
    if missing:
        raise ValueError(
            "position_market_betas has no rows for "
            f"{', '.join(_key(d) for d in missing[:5])}: materialize position_betas first"
        )
    by_date = {as_of: rows for as_of, rows in stored.groupby("calc_date")}
    rows = []
    holdings_table = pd.DataFrame()
    _record_skipped(context, history)
    for as_of in history.calc_dates:
        book = risk_model.book(history, as_of)
        betas = by_date[as_of].set_index("symbol")
        weighted = weighted_portfolio_beta(betas, book.weights)
        market = history.window(as_of)[risk_model.market_index]
        direct = series_beta(
            _book_series(history, book, as_of)["return"],
            market,
            window=risk_model.beta_window,
            min_observations=risk_model.beta_min_observations,
            cap=risk_model.beta_cap,
        )
        rows.append(
            {
                "calc_date": as_of.date(),
                "market_index": risk_model.market_index,
                "market_beta_weighted": weighted["beta"],
                "market_beta_r_squared": weighted["r_squared"],
                "market_beta_observations": weighted["min_observations"],
                "market_beta_coverage": weighted["covered_gross_fraction"],
                "market_beta_direct": direct["beta"],
                "market_beta_direct_r_squared": direct["r_squared"],
                "market_beta_direct_observations": int(direct["observations"]),
                "updated_at": utc_now(),
            }
        )
        _record(
            context,
            as_of,
            {
                "portfolio_beta": _number(weighted["beta"]),
                "portfolio_beta_r_squared": _number(weighted["r_squared"]),
                "portfolio_beta_direct": _number(direct["beta"]),
                "portfolio_beta_direct_r_squared": _number(direct["r_squared"]),
            },
        )
        holdings_table = pd.DataFrame(
            {
                "symbol": book.weights.index,
                "weight": book.weights.to_numpy(),
                "beta": betas["beta"].reindex(book.weights.index).to_numpy(),
                "r_squared": betas["r_squared"].reindex(book.weights.index).to_numpy(),
            }
        )
    _snapshot_upsert(database, rows)
    by_beta = holdings_table.sort_values("beta", ascending=False) if len(rows) else holdings_table
    _record_tables(context, history, {"top_holdings_by_beta": by_beta.head(10)})
    with_beta = holdings_table.loc[holdings_table["beta"].notna()] if len(rows) else None
    if with_beta is not None and len(with_beta):
        book_beta = rows[-1]["market_beta_weighted"]
        _record_chart(
            context,
            history,
            "beta_distribution",
            histogram_chart(
                with_beta["beta"],
                with_beta["weight"].abs(),
                marker=None if pd.isna(book_beta) else float(book_beta),
                marker_label=f"portfolio beta {_number(book_beta):.2f}",
                title=f"Betas of the book's holdings on {_key(history.calc_dates[-1])}",
                xlabel=f"beta to {risk_model.market_index}",
            ),
        )
    _record_range(context, history, len(rows))
    return dg.MaterializeResult(metadata={"market_index": risk_model.market_index})


# --------------------------------------------------------------------------------------------
# sector exposure


def _benchmark_at(frame: pd.DataFrame, as_of: pd.Timestamp, benchmark: str) -> pd.Series | None:
    """The benchmark's sector weights in force at ``as_of``; None when no snapshot is dated on
    or before it."""
    if frame.empty or frame["asof_date"].min() > as_of:
        return None
    return benchmark_weights_at(frame, as_of, benchmark)


def _holdings_at(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Each ETF's holdings snapshot in force at ``as_of`` (the latest dated on or before it)."""
    eligible = frame.loc[frame["asof_date"] <= as_of]
    latest = eligible.groupby("etf")["asof_date"].transform("max")
    return eligible.loc[eligible["asof_date"] == latest, ["etf", "symbol", "weight"]]


@dg.asset(
    group_name=c.RISK,
    partitions_def=TRADING_DAYS,
    backfill_policy=SINGLE_RUN,
    deps=[returns_panel, portfolio_positions, instruments, benchmark_sector_weights, etf_holdings],
    check_specs=[
        dg.AssetCheckSpec(
            c.SECTOR_WEIGHTS_SUM_TO_ONE,
            asset="sector_exposure",
            blocking=True,
            description="On a net-long book the net sector weights sum to 1 (± 0.005).",
        ),
        dg.AssetCheckSpec(
            c.UNCLASSIFIED_SHARE_WITHIN_LIMIT,
            asset="sector_exposure",
            description="Warns when more than 5 % of the book has no GICS sector.",
        ),
        dg.AssetCheckSpec(
            c.BENCHMARK_IN_FORCE,
            asset="sector_exposure",
            description=(
                "Warns, naming the dates, when no benchmark sector weights are dated on or "
                "before an as-of date (active, over- and underweight stored as NULL)."
            ),
        ),
    ],
)
def sector_exposure(
    context: dg.AssetExecutionContext, risk_model: RiskModel, database: Database
) -> dg.MaterializeResult:
    """Net and gross weight per GICS sector against the benchmark's weights in force at the
    as-of date: active weight per sector, largest over- and underweight, positions per sector
    and the unclassified holdings. ETFs form their own bucket unless look-through to
    ``etf_holdings`` is enabled (``PORTFOLIO_ETF_LOOK_THROUGH``). Stored as JSON in
    ``portfolio_snapshots.sector_exposure``. When no benchmark snapshot is dated on or before
    the as-of date, the benchmark, active, largest over- and underweight figures are NULL
    (never active weights against zero), the partition's metadata says so and the warning
    ``benchmark_in_force`` names the date."""
    history = _history(context, risk_model)
    known = risk_model.instruments()
    sectors = known["sector"].where(known["sector"].notna() & (known["sector"] != ""), None)
    etfs = list(known.index[known["asset_type"] == "etf"])
    benchmarks = risk_model.benchmark_weights()
    holdings = risk_model.etf_holdings()
    look_through = risk_model.etf_look_through
    rows, check_rows = [], []
    table = pd.DataFrame()
    _record_skipped(context, history)
    for as_of in history.calc_dates:
        book = risk_model.book(history, as_of)
        bench = _benchmark_at(benchmarks, as_of, risk_model.benchmark)
        bench_asof = bench.attrs.get("asof_date") if bench is not None else None
        result = book_sector_exposure(
            book.weights,
            sectors,
            bench,
            etf_symbols=etfs,
            etf_holdings=_holdings_at(holdings, as_of) if look_through else None,
            look_through=look_through,
        )
        table = result.table
        active = table["active_weight"].drop(index=["ETF", UNCLASSIFIED], errors="ignore")
        unclassified_share = table.loc[UNCLASSIFIED, "gross_weight"] / table["gross_weight"].sum()
        over = result.largest_overweight or (None, None)
        under = result.largest_underweight or (None, None)
        rows.append(
            {
                "calc_date": as_of.date(),
                "sector_exposure": {
                    "benchmark": risk_model.benchmark if bench is not None else None,
                    "benchmark_asof": bench_asof.date().isoformat() if bench_asof else None,
                    "look_through": look_through,
                    "sectors": _json_records(table.reset_index()),
                    "unclassified_symbols": list(result.unclassified_symbols),
                },
                "sector_look_through": look_through,
                "benchmark": risk_model.benchmark if bench is not None else None,
                "benchmark_asof": bench_asof.date() if bench_asof else None,
                "largest_overweight_sector": over[0],
                "largest_overweight": over[1],
                "largest_underweight_sector": under[0],
                "largest_underweight": under[1],
                "largest_active_weight": float(active.abs().max()),
                "unclassified_weight": result.unclassified_weight,
                "updated_at": utc_now(),
            }
        )
        check_rows.append(
            {
                "calc_date": as_of,
                "sector_sum": float(table["net_weight"].sum()),
                "book_net": float(book.weights.sum()),
                "unclassified_share": float(unclassified_share),
                "unclassified_symbols": ", ".join(result.unclassified_symbols),
                "benchmark_asof": bench_asof,
            }
        )
        _record(
            context,
            as_of,
            {
                "largest_active_weight": float(active.abs().max()),
                "largest_overweight": _number(over[1]),
                "largest_underweight": _number(under[1]),
                "unclassified_share": float(unclassified_share),
                "benchmark_in_force": (
                    f"{risk_model.benchmark} of {bench_asof.date().isoformat()}"
                    if bench_asof is not None
                    else f"none: no {risk_model.benchmark} sector weights dated on or before "
                    f"{_key(as_of)}; active weights are NULL"
                ),
            },
        )
    _snapshot_upsert(database, rows)
    _record_tables(context, history, {"sector_table": table.reset_index()})
    if rows:
        in_force = rows[-1]["benchmark_asof"] is not None
        day = _key(history.calc_dates[-1])
        _record_chart(
            context,
            history,
            "sector_chart",
            bar_chart(
                table["active_weight" if in_force else "net_weight"],
                title=(
                    f"Active sector weights against {risk_model.benchmark} on {day}"
                    if in_force
                    else f"Net sector weights on {day} (no benchmark in force)"
                ),
                xlabel="active weight %" if in_force else "net weight %",
            ),
        )
    checks_frame = pd.DataFrame(
        check_rows,
        columns=[
            "calc_date",
            "sector_sum",
            "book_net",
            "unclassified_share",
            "unclassified_symbols",
            "benchmark_asof",
        ],
    )
    _record_range(context, history, len(rows))
    return dg.MaterializeResult(
        metadata={
            "benchmark": risk_model.benchmark,
            "look_through": look_through,
        },
        check_results=[
            checks.sector_weights_sum_to_one(checks_frame, c.SECTOR_SUM_TOLERANCE),
            checks.unclassified_share_within_limit(checks_frame, c.MAX_UNCLASSIFIED_SHARE),
            checks.benchmark_in_force(checks_frame, risk_model.benchmark),
        ],
    )


# --------------------------------------------------------------------------------------------
# concentration


@dg.asset(
    group_name=c.RISK,
    partitions_def=TRADING_DAYS,
    backfill_policy=SINGLE_RUN,
    deps=[returns_panel, portfolio_positions],
    check_specs=[
        dg.AssetCheckSpec(
            c.EFFECTIVE_POSITIONS_AT_MOST_POSITIONS,
            asset="concentration",
            blocking=True,
            description="Effective N = 10,000 / HHI never exceeds the number of positions.",
        )
    ],
)
def concentration(
    context: dg.AssetExecutionContext, risk_model: RiskModel, database: Database
) -> dg.MaterializeResult:
    """Concentration of the book on gross (absolute) weights: HHI = Σw²·10,000, effective
    number of positions = 10,000 / HHI, top-3 and top-10 weights with their symbols."""
    history = _history(context, risk_model)
    rows = []
    top = pd.DataFrame()
    _record_skipped(context, history)
    for as_of in history.calc_dates:
        book = risk_model.book(history, as_of)
        result = book_concentration(book.weights)
        rows.append(
            {
                "calc_date": as_of.date(),
                "positions": result["positions"],
                "hhi": result["hhi"],
                "effective_positions": result["effective_n"],
                "top3_weight": result["top3_weight"],
                "top3_symbols": [str(s) for s in result["top3_symbols"]],
                "top10_weight": result["top10_weight"],
                "top10_symbols": [str(s) for s in result["top10_symbols"]],
                "updated_at": utc_now(),
            }
        )
        _record(
            context,
            as_of,
            {
                "hhi": result["hhi"],
                "effective_positions": result["effective_n"],
                "top3_weight": result["top3_weight"],
                "top10_weight": result["top10_weight"],
            },
        )
        top = pd.DataFrame(
            {
                "symbol": result["top10_symbols"],
                "weight": book.weights.reindex(result["top10_symbols"]).to_numpy(),
            }
        )
    _snapshot_upsert(database, rows)
    _record_tables(context, history, {"top_holdings": top})
    _record_range(context, history, len(rows))
    frame = pd.DataFrame(
        [
            {
                "calc_date": r["calc_date"],
                "effective_positions": r["effective_positions"],
                "positions": r["positions"],
            }
            for r in rows
        ],
        columns=["calc_date", "effective_positions", "positions"],
    )
    return dg.MaterializeResult(
        check_results=[checks.effective_positions_at_most_positions(frame)],
    )


# --------------------------------------------------------------------------------------------
# volatility


def _har(window: pd.DataFrame, risk_model: RiskModel) -> pd.DataFrame:
    return har_forecast(
        window,
        min_observations=risk_model.har_min_observations,
        max_history=risk_model.history_days,
    )


VOL_SHOWN_COLUMNS = [
    "symbol",
    "realized_vol_21d",
    "realized_vol_63d",
    "expected_vol_21d",
    "vol_trend",
    "vol_percentile",
    "har_status",
]
BOOK_VOL_COLUMNS = ["realized_vol_21d", "realized_vol_63d", "expected_vol_21d", "vol_percentile"]


class _VolatilityDays:
    """What ``volatility_forecasts`` reads of its rows after writing them, gathered a spooled
    chunk at a time (:meth:`add`): per as-of date its row count, forecasts and stale symbols,
    the portfolio's row, and every row of the run's last date (its table); the checks'
    :class:`~orchestration.defs.risk.checks.VolatilityTally`. No row stays in memory."""

    def __init__(self, last: pd.Timestamp | None) -> None:
        self.last = last
        self.tally = checks.VolatilityTally(DEFAULT_MAX_VOL)
        self._counts: list[pd.DataFrame] = []
        self._books: list[pd.DataFrame] = []
        self._latest: list[pd.DataFrame] = []

    def add(self, rows: pd.DataFrame) -> None:
        self.tally.add(rows)
        symbol = rows["kind"] == c.SYMBOL_KIND
        status = rows["har_status"]
        counts = pd.DataFrame(
            {
                "calc_date": rows["calc_date"],
                "rows": 1,
                "forecasts_ok": (symbol & (status == "ok")).astype(np.int64),
                "stale_symbols": (symbol & (status == c.STALE_STATUS)).astype(np.int64),
            }
        )
        self._counts.append(counts.groupby("calc_date").sum())
        book = rows["kind"] == c.PORTFOLIO_KIND
        self._books.append(rows.loc[book, ["calc_date", *BOOK_VOL_COLUMNS]])
        self._latest.append(rows.loc[rows["calc_date"] == self.last, ["kind", *VOL_SHOWN_COLUMNS]])

    def counts(self) -> pd.DataFrame:
        """``rows, forecasts_ok, stale_symbols`` per as-of date (sorted index)."""
        if not self._counts:
            return pd.DataFrame(columns=["rows", "forecasts_ok", "stale_symbols"])
        return pd.concat(self._counts).groupby(level=0).sum().sort_index()

    def books(self) -> pd.DataFrame:
        """The portfolio's row of each as-of date (index ``calc_date``)."""
        if not self._books:
            return pd.DataFrame(columns=BOOK_VOL_COLUMNS)
        frame = pd.concat(self._books, ignore_index=True)
        return frame.drop_duplicates("calc_date", keep="first").set_index("calc_date")

    def latest(self) -> pd.DataFrame:
        """Every row of the run's last as-of date."""
        if not self._latest:
            return pd.DataFrame(columns=["kind", *VOL_SHOWN_COLUMNS])
        return pd.concat(self._latest, ignore_index=True)


def _symbol_har(history: RiskHistory, dates: list, risk_model: RiskModel) -> Iterator[pd.DataFrame]:
    """HAR forecasts of every symbol at each as-of date (indexed by symbol), in date order;
    each equals ``_har(history.window(as_of), risk_model)`` (to rounding). The dates are fitted
    in passes of about :data:`CHUNK_CELLS` fits over the rows their windows read, so a
    long range at thousands of symbols never holds every date's forecasts."""
    returns = history.returns
    symbols = pd.Index(returns.columns, name="symbol")
    width = len(symbols)
    step = max(1, CHUNK_CELLS // max(width, 1))
    for first in range(0, len(dates), step):
        chunk = dates[first : first + step]
        start = max(0, returns.index.get_loc(chunk[0]) - risk_model.history_days + 1)
        forecasts = rolling_har_forecast(
            returns.iloc[start : returns.index.get_loc(chunk[-1]) + 1],
            as_of_dates=chunk,
            min_observations=risk_model.har_min_observations,
            max_history=risk_model.history_days,
        ).drop(columns=["date", "symbol"])
        for i in range(len(chunk)):
            yield forecasts.iloc[i * width : (i + 1) * width].set_axis(symbols)


def _vol_rows(
    kind: str,
    symbols: pd.Index,
    as_of: pd.Timestamp,
    vol_21: pd.Series,
    vol_63: pd.Series,
    har: pd.DataFrame,
    percentile: pd.Series,
) -> pd.DataFrame:
    forecast = har["forecast_vol"]
    trend, strength = volatility_trend(vol_21, vol_63, forecast)
    return pd.DataFrame(
        {
            "kind": kind,
            "symbol": symbols.astype(str),
            "calc_date": as_of,
            "realized_vol_21d": vol_21.to_numpy(),
            "realized_vol_63d": vol_63.to_numpy(),
            "har_rv_daily": har["rv_daily"].to_numpy(),
            "har_rv_weekly": har["rv_weekly"].to_numpy(),
            "har_rv_monthly": har["rv_monthly"].to_numpy(),
            "expected_vol_21d": forecast.to_numpy(),
            "expected_variance_raw": har["forecast_variance_raw"].to_numpy(),
            "forecast_capped": har["capped"].to_numpy(dtype=bool),
            "cap_reason": har["cap_reason"].astype(str).to_numpy(),
            "har_r_squared": har["r_squared"].to_numpy(),
            "har_observations": har["observations"].to_numpy(dtype=np.int64),
            "har_status": har["status"].astype(str).to_numpy(),
            "vol_trend": trend.to_numpy(dtype=object),
            "vol_trend_strength": strength.to_numpy(),
            "vol_percentile": percentile.to_numpy(),
        }
    )


def _mark_stale_vols(rows: pd.DataFrame, staleness: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with the stale symbols' figures NULL and their ``har_status`` ``stale`` (the
    portfolio's own series is never stale: it is renormalised over the holdings with data)."""
    stale = (rows["kind"] == c.SYMBOL_KIND).to_numpy() & _stale_mask(rows, staleness)
    out = rows.copy()
    out.loc[stale, list(VOL_FIGURES)] = np.nan
    out.loc[stale, "vol_trend"] = None
    out.loc[stale, "forecast_capped"] = False
    out.loc[stale, "cap_reason"] = "none"
    out.loc[stale, "har_status"] = c.STALE_STATUS
    return out


@dg.asset(
    group_name=c.RISK,
    partitions_def=TRADING_DAYS,
    backfill_policy=SINGLE_RUN,
    deps=[returns_panel, portfolio_returns],
    check_specs=[
        dg.AssetCheckSpec(
            c.FORECASTS_WITHIN_BOUNDS,
            asset="volatility_forecasts",
            blocking=True,
            description="Every HAR volatility forecast lies in (0, 300 %].",
        ),
        dg.AssetCheckSpec(
            c.PERCENTILES_IN_UNIT_INTERVAL,
            asset="volatility_forecasts",
            blocking=True,
            description="Every volatility percentile lies in [0, 1].",
        ),
        dg.AssetCheckSpec(
            c.PORTFOLIO_VOL_AT_MOST_WEIGHTED_VOLS,
            asset="volatility_forecasts",
            blocking=True,
            description=(
                "On a long-only book the portfolio's realized vol is at most the weighted sum "
                "of its holdings' vols."
            ),
        ),
        dg.AssetCheckSpec(
            c.FORECASTS_HAVE_SUFFICIENT_DATA,
            asset="volatility_forecasts",
            description="Warns when series have too little history for a HAR forecast.",
        ),
    ],
)
def volatility_forecasts(
    context: dg.AssetExecutionContext, risk_model: RiskModel, database: Database
) -> dg.MaterializeResult:
    """For every symbol with data and for the portfolio: realized vol over 21 and 63 trading
    days, sqrt(252/n·Σr²) over the n returns present among the window's rows (missing days are
    left out, not counted as zero; NULL when fewer than 80 % are present: 17 of 21, 51 of 63),
    the HAR components (daily, weekly 5, monthly 22), the HAR forecast
    of the next 21 days' volatility fitted on the series' own history up to the as-of date
    (capped to (0, 300%], cap reported), model R², trend (increasing / decreasing / stable
    with a strength in 0–1) and the percentile of the current 21-day vol within its last 252
    days. The portfolio's figures come from its own return series (``portfolio_returns``),
    never from weighting position vols. Returns: the unfiltered simple returns of every priced
    symbol (not the quality-filtered ``returns_panel``). A stale symbol (no price within
    ``PORTFOLIO_STALE_SESSIONS`` sessions of the as-of date) is stored with ``har_status``
    ``stale`` and NULL figures. Table ``position_volatility``."""
    history = _history(context, risk_model)
    dates = list(history.calc_dates)
    staleness = risk_model.staleness(history)
    tallied = _VolatilityDays(dates[-1] if dates else None)
    frames = RowSpool(
        (), transform=lambda rows: _mark_stale_vols(rows, staleness), on_chunk=tallied.add
    )
    holdings, portfolio = [], []
    if dates:
        vol_21 = rolling_realized_volatility(history.returns, c.SHORT_VOL_WINDOW).loc[dates]
        vol_63 = rolling_realized_volatility(history.returns, c.LONG_VOL_WINDOW).loc[dates]
        symbol_har = _symbol_har(history, dates, risk_model)
        # each as-of date's window (history_days rows) covers the 272 rows a percentile reads
        percentiles = rolling_volatility_percentile(
            history.returns,
            as_of_dates=dates,
            window=c.SHORT_VOL_WINDOW,
            lookback=c.PERCENTILE_LOOKBACK,
        )
    for as_of in dates:
        universe = history.returns.columns[history.priced_mask(as_of)]
        har = next(symbol_har)
        percentile = percentiles.loc[as_of]
        frames.append(
            _vol_rows(
                c.SYMBOL_KIND,
                universe,
                as_of,
                vol_21.loc[as_of, universe],
                vol_63.loc[as_of, universe],
                har.loc[universe],
                percentile.loc[universe],
            )
        )
        book = risk_model.book(history, as_of)
        series = _book_series(history, book, as_of)
        returns = series["return"].rename(c.PORTFOLIO_KIND)
        label = pd.Index([c.PORTFOLIO_KIND])
        book_vols = {
            w: pd.Series([realized_volatility(returns, w)], index=label)
            for w in (c.SHORT_VOL_WINDOW, c.LONG_VOL_WINDOW)
        }
        frames.append(
            _vol_rows(
                c.PORTFOLIO_KIND,
                label,
                as_of,
                book_vols[c.SHORT_VOL_WINDOW],
                book_vols[c.LONG_VOL_WINDOW],
                _har(returns.to_frame(), risk_model),
                pd.Series(
                    [
                        volatility_percentile(
                            returns, window=c.SHORT_VOL_WINDOW, lookback=c.PERCENTILE_LOOKBACK
                        )
                    ],
                    index=label,
                ),
            )
        )
        for w, vols in ((c.SHORT_VOL_WINDOW, vol_21), (c.LONG_VOL_WINDOW, vol_63)):
            holdings.append(
                pd.DataFrame(
                    {
                        "calc_date": as_of,
                        "window": w,
                        "symbol": book.weights.index,
                        "weight": book.weights.to_numpy(),
                        "vol": vols.loc[as_of, book.weights.index].to_numpy(),
                    }
                )
            )
            portfolio.append(
                {
                    "calc_date": as_of,
                    "window": w,
                    "vol": book_vols[w].iloc[0],
                    "min_coverage": float(series["coverage"].iloc[-w:].min()),
                }
            )
    first, last = _date_range(context)
    table = PositionVolatility.__table__
    with database.transaction() as connection:
        frames.replace(
            connection,
            table,
            table.c.calc_date >= first,
            table.c.calc_date <= last,
            constants={"computed_at": pd.Timestamp(utc_now())},
        )
    _record_skipped(context, history)
    books = tallied.books()
    for as_of, day in tallied.counts().iterrows():
        book_row = books.loc[as_of]
        _record(
            context,
            pd.Timestamp(as_of),
            {
                "portfolio_vol_21d": _number(book_row["realized_vol_21d"]),
                "portfolio_vol_63d": _number(book_row["realized_vol_63d"]),
                "portfolio_forecast_vol": _number(book_row["expected_vol_21d"]),
                "portfolio_vol_percentile": _number(book_row["vol_percentile"]),
                "forecasts_ok": int(day["forecasts_ok"]),
                "stale_symbols": int(day["stale_symbols"]),
            },
            rows=int(day["rows"]),
        )
    latest = tallied.latest()
    held = set(holdings[-1]["symbol"]) if holdings else set()
    shown = latest.loc[(latest["kind"] == c.PORTFOLIO_KIND) | latest["symbol"].isin(held)]
    holdings_frame = (
        pd.concat(holdings, ignore_index=True)
        if holdings
        else pd.DataFrame(columns=["calc_date", "window", "symbol", "weight", "vol"])
    )
    portfolio_frame = pd.DataFrame(
        portfolio, columns=["calc_date", "window", "vol", "min_coverage"]
    )
    _record_tables(context, history, {"portfolio_and_holdings": shown[VOL_SHOWN_COLUMNS]})
    _record_range(context, history, len(frames))
    return dg.MaterializeResult(
        metadata={
            "har_min_observations": risk_model.har_min_observations,
            "history_days": risk_model.history_days,
        },
        check_results=[
            checks.forecasts_within_bounds(tallied.tally, DEFAULT_MAX_VOL),
            checks.percentiles_in_unit_interval(tallied.tally),
            checks.portfolio_vol_at_most_weighted_vols(holdings_frame, portfolio_frame),
            checks.forecasts_have_sufficient_data(tallied.tally),
        ],
    )


# --------------------------------------------------------------------------------------------
# snapshot


def _stale_holdings(risk_model: RiskModel, history: RiskHistory) -> pd.DataFrame:
    """The staleness rows (``calc_date, symbol, last_price_date, sessions_behind, stale``) of
    every stale holding at each as-of date, holdings without any price in the window
    included."""
    staleness = risk_model.staleness(history)
    stale = staleness.loc[staleness["stale"]]
    frames = [stale.iloc[:0]]
    for as_of in history.calc_dates:
        book = risk_model.book(history, as_of)
        on_day = stale.loc[stale["calc_date"] == as_of]
        frames.append(on_day.loc[on_day["symbol"].isin(book.weights.index)])
        frames.append(
            pd.DataFrame(
                {
                    "calc_date": as_of,
                    "symbol": book.unpriced,
                    "last_price_date": pd.NaT,
                    "sessions_behind": np.nan,
                    "stale": True,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@dg.asset(
    group_name=c.RISK,
    partitions_def=TRADING_DAYS,
    backfill_policy=SINGLE_RUN,
    deps=[portfolio_beta, sector_exposure, concentration, portfolio_returns, volatility_forecasts],
    check_specs=[
        dg.AssetCheckSpec(
            c.SYMBOLS_FRESH,
            asset="portfolio_snapshot",
            description=(
                "Warns, naming them, when holdings have no price at the as-of date (or within "
                "PORTFOLIO_STALE_SESSIONS sessions): their beta and vols are stale."
            ),
        )
    ],
)
def portfolio_snapshot(
    context: dg.AssetExecutionContext, risk_model: RiskModel, database: Database
) -> dg.MaterializeResult:
    """One row per as-of date in ``portfolio_snapshots``: the portfolio beta figures, sector
    exposure (JSON), concentration, the book's return, realized (21/63-day) and expected (HAR)
    volatility, trend and percentile. Completes the row the upstream risk assets wrote (each
    owns a group of columns) with the portfolio's volatility figures and stamps
    ``completed_at``; fails naming the dates and assets that are missing. The warning
    ``symbols_fresh`` names the holdings without a current price."""
    history = _history(context, risk_model)
    first, last = _date_range(context)
    params = {"first": first, "last": last}
    stored = database.read_frame(
        "SELECT * FROM portfolio_snapshots WHERE calc_date >= :first AND calc_date <= :last",
        params,
    )
    stored["calc_date"] = pd.to_datetime(stored["calc_date"])
    vols = database.read_frame(
        "SELECT * FROM position_volatility WHERE kind = :kind "
        "AND calc_date >= :first AND calc_date <= :last",
        {**params, "kind": c.PORTFOLIO_KIND},
    )
    vols["calc_date"] = pd.to_datetime(vols["calc_date"])
    stored = stored.set_index("calc_date")
    vols = vols.set_index("calc_date")
    gaps = []
    for as_of in history.calc_dates:
        absent = [
            asset
            for asset, column in MARKER_COLUMNS.items()
            if as_of not in stored.index or pd.isna(stored.loc[as_of, column])
        ]
        if as_of not in vols.index:
            absent.append("volatility_forecasts")
        if absent:
            gaps.append(f"{_key(as_of)} ({', '.join(absent)})")
    if gaps:
        raise ValueError(
            "portfolio_snapshots is missing figures for "
            f"{'; '.join(gaps[:5])}: materialize those assets for these dates first"
        )
    now = utc_now()
    rows = [
        {
            "calc_date": as_of.date(),
            "realized_volatility_21d": vols.loc[as_of, "realized_vol_21d"],
            "realized_volatility_63d": vols.loc[as_of, "realized_vol_63d"],
            "expected_volatility_21d": vols.loc[as_of, "expected_vol_21d"],
            "volatility_trend": vols.loc[as_of, "vol_trend"],
            "volatility_trend_strength": vols.loc[as_of, "vol_trend_strength"],
            "volatility_percentile": vols.loc[as_of, "vol_percentile"],
            "completed_at": now,
            "updated_at": now,
        }
        for as_of in history.calc_dates
    ]
    _snapshot_upsert(database, rows)
    _record_skipped(context, history)
    summary = pd.DataFrame()
    for as_of in history.calc_dates:
        row = stored.loc[as_of]
        vol = vols.loc[as_of]
        figures = {
            "portfolio_beta": _number(row["market_beta_weighted"]),
            "portfolio_beta_r_squared": _number(row["market_beta_r_squared"]),
            "portfolio_beta_direct": _number(row["market_beta_direct"]),
            "realized_vol_21d": _number(vol["realized_vol_21d"]),
            "realized_vol_63d": _number(vol["realized_vol_63d"]),
            "expected_vol_21d": _number(vol["expected_vol_21d"]),
            "vol_percentile": _number(vol["vol_percentile"]),
            "hhi": _number(row["hhi"]),
            "effective_positions": _number(row["effective_positions"]),
            "largest_active_weight": _number(row["largest_active_weight"]),
        }
        _record(context, as_of, figures)
        summary = pd.DataFrame(
            {
                "figure": [*figures, "volatility_trend", "largest_overweight_sector"],
                "value": [
                    *(f"{v:.4g}" for v in figures.values()),
                    str(vol["vol_trend"]),
                    str(row["largest_overweight_sector"]),
                ],
            }
        )
    _record_tables(context, history, {"snapshot": summary})
    stale = _stale_holdings(risk_model, history)
    counts = stale["calc_date"].value_counts()
    for as_of in history.calc_dates:
        add_partition_metadata(context, _key(as_of), {"stale_holdings": int(counts.get(as_of, 0))})
    if history.calc_dates:
        last_stale = stale.loc[stale["calc_date"] == history.calc_dates[-1]]
        _record_tables(context, history, {"stale_holdings_table": _stale_table(last_stale)})
    _record_range(context, history, len(rows))
    return dg.MaterializeResult(
        metadata={"stale_sessions": risk_model.stale_sessions},
        check_results=[
            checks.symbols_fresh(
                _stale_table(stale),
                risk_model.stale_sessions,
            )
        ],
    )
