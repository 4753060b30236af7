"""Basket assets: the ``baskets`` table as an observable source, each basket's return series and
analytics (one dynamic partition per basket), and the factor returns panel over all baskets.

``basket_returns`` and ``basket_analytics`` accept one basket or a range of baskets in a run:
the series of every basket in the run come from one matrix product. The ``basket_changes``
sensor refreshes all baskets in one such range run when new prices arrive. (They keep Dagster's
default backfill policy, one run per partition for backfills launched in the UI: the
``refresh_basket`` job also observes the ``baskets`` source, which has no backfill policy, and a
job whose assets disagree falls back to the smallest policy with a warning at every load.) Each
basket's partition carries its own figures, row count (``dagster/partition_row_count``) and
chart; the figures of the run as a whole (baskets, the lowest covered weight, a table of every
basket) are recorded once, on the run's last partition.
"""

import datetime as dt
import warnings

import dagster as dg
import pandas as pd

from analytics_lib.baskets import REBALANCE_FREQUENCIES, BasketAnalytics, equity_curve
from analytics_lib.baskets import basket_analytics as compute_basket_analytics
from analytics_lib.baskets import basket_returns as compute_basket_returns
from analytics_lib.factors import STANDARD_PROXIES
from analytics_lib.factors import factor_returns_panel as compute_factor_panel
from analytics_lib.freshness import price_staleness
from orchestration import constants as c
from orchestration import market_calendar
from orchestration.charts import equity_chart
from orchestration.clock import utc_now
from orchestration.defs.baskets import checks
from orchestration.defs.baskets import series as basket_series
from orchestration.defs.baskets import store as basket_store
from orchestration.metadata import markdown
from orchestration.partitions import BASKET_PARTITIONS
from orchestration.resources.database import Database
from orchestration.resources.panels import ReturnsPanels
from orchestration.resources.risk import RiskModel

LATEST_RETURNS = dg.AssetDep("returns_panel", partition_mapping=dg.LastPartitionMapping())
"""Basket series read the prices up to the newest day, i.e. the latest ``returns_panel``."""

MAX_CORRELATION_FACTORS = 30
"""The correlation matrix shown in metadata is cut to this many factors (the first ones)."""


@dg.observable_source_asset(
    name="baskets",
    group_name=c.BASKETS,
    partitions_def=BASKET_PARTITIONS,
    description="The baskets table (one partition per basket); data version = hash of the "
    "basket's name and update time.",
)
def baskets(context: dg.OpExecutionContext, database: Database) -> dg.DataVersionsByPartition:
    """Observe the data version of each basket partition: ``sha256(name|updated_at)[:16]``
    (:func:`orchestration.basket_store.basket_version`).

    A run for some partitions observes those; an observation without partitions (the UI's
    "Observe" button) observes every basket that has a partition. A basket edited with
    ``portfolio basket update`` gets a new version, so its downstream partitions show as stale.
    """
    if context.has_partition_key or context.has_partition_key_range:
        keys = list(context.partition_keys)
    else:
        keys = context.instance.get_dynamic_partitions(c.BASKET_PARTITIONS)
    versions = basket_store.basket_versions(database)
    with warnings.catch_warnings():
        # the only way to version partitions of an observable source; beta on purpose
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.DataVersionsByPartition({k: versions[k] for k in keys if k in versions})


class BasketReturnsConfig(dg.Config):
    """Window and rebalancing of the basket return series.

    ``window_days``: returns (trading days) ending at the newest price date; ``None`` uses the
    full stored price history. ``rebalance``: ``daily`` (constant weights), or ``monthly`` /
    ``quarterly`` (buy-and-hold drift between rebalances).
    """

    window_days: int | None = c.DEFAULT_BASKET_WINDOW_DAYS
    rebalance: str = "daily"


def _require_window(window_days: int | None) -> None:
    if window_days is not None and window_days < 1:
        raise ValueError(
            f"window_days must be at least 1 (or null for all history), got {window_days}"
        )


def _latest_price_date(database: Database) -> dt.date:
    end = basket_series.latest_price_date(database)
    if end is None:
        raise ValueError("the prices table is empty; materialize daily_prices first")
    return end


@dg.asset(
    group_name=c.BASKETS,
    partitions_def=BASKET_PARTITIONS,
    deps=[baskets, LATEST_RETURNS],
    check_specs=[
        dg.AssetCheckSpec(
            c.BASKET_WEIGHTS_SUM_TO_ONE,
            asset="basket_returns",
            blocking=True,
            description=(
                "The resolved weights of every basket are non-negative and sum to 1 within 1e-9."
            ),
        ),
        dg.AssetCheckSpec(
            c.BASKET_COVERAGE_SUFFICIENT,
            asset="basket_returns",
            blocking=True,
            description="Fails below 50 % and warns below 80 % of a basket's weight having prices.",
        ),
        dg.AssetCheckSpec(
            c.SYMBOLS_FRESH,
            asset="basket_returns",
            description=(
                "Warns, naming them, when members have no price at the newest price date (or "
                "within PORTFOLIO_STALE_SESSIONS sessions): their weight is not covered."
            ),
        ),
    ],
)
def basket_returns(
    context: dg.AssetExecutionContext,
    config: BasketReturnsConfig,
    database: Database,
    panels: ReturnsPanels,
    risk_model: RiskModel,
) -> dg.MaterializeResult:
    """Daily return series of each basket (``basket_returns`` table) over the window ending at
    the newest price date: target weights applied to the members' simple returns of adjusted
    closes (:func:`analytics_lib.baskets.basket_returns`), rebalanced daily by default.

    A member without a return on a day is left out that day and the weights are renormalised
    over the rest; a member without any return in the window is excluded. A member without a
    price at the newest price date (or within ``PORTFOLIO_STALE_SESSIONS`` NYSE sessions of it,
    :func:`analytics_lib.freshness.price_staleness`) is stale: its old returns stay in the
    series, but its weight is not covered and the warning ``symbols_fresh`` names it.
    ``data_coverage`` lists available, stale and excluded tickers and the covered weight (the
    target weight of the available members that are not stale), which the coverage check
    grades: below 80% WARN, below 50% ERROR. Each basket's partition shows its equity curve and
    drawdown against the market index (``PORTFOLIO_MARKET_INDEX``).
    In a run over several baskets the checks grade the run as a whole: one basket below 50%
    blocks the analytics of every basket in that run, until it is fixed or deleted.
    """
    _require_window(config.window_days)
    if config.rebalance not in REBALANCE_FREQUENCIES:
        raise ValueError(
            f"rebalance must be one of {', '.join(REBALANCE_FREQUENCIES)}, got {config.rebalance!r}"
        )
    names = list(context.partition_keys)
    records = basket_store.get_baskets(database, names)
    weights = basket_series.basket_weights(database, records)
    end = _latest_price_date(database)
    market = risk_model.market_index
    members = sorted({symbol for w in weights.values() for symbol in w.index})
    window = basket_series.price_window(panels, end, config.window_days, [*members, market])
    result = compute_basket_returns(
        window.returns, basket_series.weight_matrix(weights), rebalance=config.rebalance
    )
    versions = {record.name: record.version for record in records}
    rows = basket_series.write_basket_returns(database, result, versions, utc_now())

    staleness = price_staleness(
        basket_series.last_price_dates(window, members),
        end,
        market_calendar.sessions(window.prices.index[0].date(), end),
        max_sessions=risk_model.stale_sessions,
    )
    stale_symbols = set(staleness.index[staleness["stale"]])
    stale = {name: [s for s in result.available[name] if s in stale_symbols] for name in names}
    covered = {
        name: basket_series.covered_weight(
            weights[name], [s for s in result.available[name] if s not in stale_symbols]
        )
        for name in names
    }
    finite = result.returns.notna().sum()
    market_returns = window.returns[market] if market in window.returns.columns else None
    for name in names:
        curve = equity_curve(result.returns[name])
        context.add_asset_metadata(
            {
                "dagster/partition_row_count": len(result.returns.index),
                "basket_version": versions[name],
                "covered_weight": covered[name],
                "days_with_return": int(finite[name]),
                "available_tickers": len(result.available[name]),
                "stale_tickers": len(stale[name]),
                "excluded_tickers": len(result.excluded[name]),
                "data_coverage": dg.MetadataValue.json(
                    {
                        "available": [str(s) for s in result.available[name]],
                        "stale": [str(s) for s in stale[name]],
                        "excluded": [str(s) for s in result.excluded[name]],
                        "covered_weight": covered[name],
                    }
                ),
                "equity_chart": equity_chart(
                    curve["equity"],
                    curve["drawdown"],
                    (
                        equity_curve(market_returns)["equity"].rename(market)
                        if market_returns is not None
                        else None
                    ),
                    label=name,
                ),
            },
            partition_key=name,
        )
    table = pd.DataFrame(
        {
            "basket": names,
            "members": [len(weights[n]) for n in names],
            "excluded": [", ".join(map(str, result.excluded[n])) for n in names],
            "stale": [", ".join(map(str, stale[n])) for n in names],
            "covered_weight": [covered[n] for n in names],
            "days_with_return": [int(finite[n]) for n in names],
            "min_daily_coverage": [float(result.coverage[n].min()) for n in names],
        }
    )
    context.add_asset_metadata(
        {
            "baskets": len(names),
            "rows_in_run": rows,
            "min_covered_weight": min(covered.values()),
            "per_basket": markdown(table),
        },
        partition_key=names[-1],
    )
    stale_rows = pd.DataFrame(
        [
            {
                "basket": name,
                "symbol": symbol,
                "weight": float(weights[name][symbol]),
                "last_price_date": staleness.loc[symbol, "last_price_date"].date().isoformat(),
                "sessions_behind": int(staleness.loc[symbol, "sessions_behind"]),
            }
            for name in names
            for symbol in stale[name]
        ],
        columns=["basket", "symbol", "weight", "last_price_date", "sessions_behind"],
    )
    return dg.MaterializeResult(
        metadata={
            "first_date": result.returns.index[0].date().isoformat(),
            "last_date": end.isoformat(),
            "dates": len(result.returns.index),
            "window_days": config.window_days if config.window_days is not None else "all",
            "rebalance": result.rebalance,
            "market_index": market,
            "stale_sessions": risk_model.stale_sessions,
        },
        check_results=[
            checks.basket_weights_sum_to_one(weights),
            checks.basket_coverage_sufficient(
                covered, c.BASKET_COVERAGE_WARN_BELOW, c.BASKET_COVERAGE_FAIL_BELOW
            ),
            checks.symbols_fresh(stale_rows, risk_model.stale_sessions),
        ],
    )


class BasketAnalyticsConfig(dg.Config):
    """``risk_free_rate``: annual simple rate used by the Sharpe ratio (default 0)."""

    risk_free_rate: float = 0.0


def _analytics_metadata(analytics: BasketAnalytics) -> dict[str, object]:
    figures = {
        "total_return": analytics.total_return,
        "annualized_return": analytics.annualized_return,
        "annualized_volatility": analytics.annualized_volatility,
        "sharpe": analytics.sharpe,
        "max_drawdown": analytics.max_drawdown,
        "arithmetic_return": analytics.arithmetic_return,
        "contribution_residual": analytics.contribution_residual,
        "observations": analytics.observations,
    }
    if analytics.vs_portfolio is not None:
        figures |= {
            "portfolio_correlation": analytics.vs_portfolio.correlation,
            "portfolio_beta": analytics.vs_portfolio.beta,
            "tracking_error": analytics.vs_portfolio.tracking_error,
        }
    # Undefined statistics (NaN) are left out: the UI plots numbers only.
    metadata: dict[str, object] = {k: v for k, v in figures.items() if pd.notna(v)}
    monthly = analytics.monthly_returns.rename("return").rename_axis("month").reset_index()
    monthly["month"] = monthly["month"].astype(str)
    metadata |= {
        "vs_portfolio": "compared" if analytics.vs_portfolio is not None else "no positions",
        "components": markdown(analytics.components.reset_index()),
        "monthly_returns": markdown(monthly),
    }
    return metadata


@dg.asset(
    group_name=c.BASKETS,
    partitions_def=BASKET_PARTITIONS,
    deps=[basket_returns, "portfolio_positions", LATEST_RETURNS],
    check_specs=[
        dg.AssetCheckSpec(
            c.BASKET_ANALYTICS_FINITE,
            asset="basket_analytics",
            description="Every basket analytics figure is finite (or explicitly missing).",
        )
    ],
)
def basket_analytics(
    context: dg.AssetExecutionContext,
    config: BasketAnalyticsConfig,
    database: Database,
    panels: ReturnsPanels,
) -> dg.MaterializeResult:
    """Performance of each basket's stored series (``basket_analytics`` table, one row per
    basket and end date): total, annualized return, annualized volatility, Sharpe, maximum
    drawdown, per-component return and contribution (summing to the basket's arithmetic
    return), monthly returns; and against the current portfolio (position weights at the last
    price of the window applied to the same returns): correlation, beta, tracking error.
    Definitions: :func:`analytics_lib.baskets.basket_analytics`.

    Fails, naming the basket, when its stored series was computed for an older version of the
    basket (materialize ``basket_returns`` first).
    """
    names = list(context.partition_keys)
    records = basket_store.get_baskets(database, names)
    weights = basket_series.basket_weights(database, records)
    stored = basket_series.read_basket_returns(database, names)
    missing = [n for n in names if n not in stored]
    if missing:
        raise ValueError(
            f"no stored return series for basket(s) {', '.join(map(repr, missing))}; "
            "materialize basket_returns first"
        )
    outdated = [r.name for r in records if stored[r.name].basket_version != r.version]
    if outdated:
        raise ValueError(
            f"basket(s) {', '.join(map(repr, outdated))} changed after their return series was "
            "computed; materialize basket_returns first"
        )
    quantities = basket_series.position_quantities(database)
    symbols = {symbol for w in weights.values() for symbol in w.index}
    if quantities is not None:
        symbols |= set(quantities.index)
    windows: dict[tuple[dt.date, int], tuple[basket_series.PriceWindow, pd.Series | None]] = {}
    results: dict[str, BasketAnalytics] = {}
    rows = []
    computed_at = utc_now()
    for name in names:
        series = stored[name]
        key = (series.returns.index[-1].date(), len(series.returns))
        if key not in windows:
            window = basket_series.price_window(panels, *key, symbols)
            portfolio = (
                basket_series.portfolio_return_series(quantities, window)
                if quantities is not None
                else None
            )
            windows[key] = (window, portfolio)
        window, portfolio = windows[key]
        results[name] = compute_basket_analytics(
            series.returns,
            window.returns,
            weights[name],
            portfolio_returns=portfolio,
            risk_free_rate=config.risk_free_rate,
        )
        rows.append(
            basket_series.analytics_row(
                name, results[name], series, config.risk_free_rate, computed_at
            )
        )
    basket_series.write_basket_analytics(database, rows)

    summary = pd.DataFrame(
        [
            {
                "basket": name,
                "total_return": a.total_return,
                "annualized_volatility": a.annualized_volatility,
                "sharpe": a.sharpe,
                "max_drawdown": a.max_drawdown,
                "portfolio_correlation": a.vs_portfolio.correlation if a.vs_portfolio else None,
            }
            for name, a in results.items()
        ]
    )
    for name in names:
        context.add_asset_metadata(
            {"dagster/partition_row_count": 1, **_analytics_metadata(results[name])},
            partition_key=name,
        )
    context.add_asset_metadata(
        {"baskets": len(names), "per_basket": markdown(summary)}, partition_key=names[-1]
    )
    return dg.MaterializeResult(
        metadata={"risk_free_rate": config.risk_free_rate},
        check_results=[checks.basket_analytics_finite(results)],
    )


class FactorReturnsPanelConfig(dg.Config):
    """``window_days``: returns ending at the newest price date (``None``: all history)."""

    window_days: int | None = c.DEFAULT_BASKET_WINDOW_DAYS


@dg.asset(group_name=c.BASKETS, deps=[basket_returns, LATEST_RETURNS])
def factor_returns_panel(
    config: FactorReturnsPanelConfig, database: Database, panels: ReturnsPanels
) -> dg.MaterializeResult:
    """Factor return series side by side: the standard proxies present in the prices (market:
    SPY, QQQ, IWM; sector: the SPDR sector ETFs) and every basket's stored series, with the
    categories (``market``, ``sector``, ``user_baskets``) and their correlation matrix
    (:func:`analytics_lib.factors.factor_returns_panel`).

    Partitioning: none. The panel spans every basket, so it cannot be a basket partition, and a
    ``trading_days`` partition would copy the whole history into every day. Unpartitioned, it
    can run in the same run as any basket partition: the ``refresh_basket`` job (which the
    ``basket_changes`` sensor requests when a basket changes and, over all baskets, when new
    prices arrive) rebuilds it after the basket's series, so it always reflects the stored
    series. It is rebuilt from ``prices`` and ``basket_returns`` (the system of record) and
    keeps no table of its own.
    """
    _require_window(config.window_days)
    end = _latest_price_date(database)
    proxies = [symbol for symbols in STANDARD_PROXIES.values() for symbol in symbols]
    window = basket_series.price_window(panels, end, config.window_days, proxies)
    first = window.returns.index[0].date()
    stored = basket_series.read_basket_returns(database, start=first, end=end)
    baskets_frame = basket_series.basket_return_frame(stored) if stored else None
    result = compute_factor_panel(window.returns, baskets_frame)
    shown = list(result.correlation.columns[:MAX_CORRELATION_FACTORS])
    correlation = result.correlation.loc[shown, shown].rename_axis("factor").reset_index()
    return dg.MaterializeResult(
        metadata={
            "dates": len(result.panel),
            "first_date": first.isoformat(),
            "last_date": end.isoformat(),
            "factors": int(result.panel.shape[1]),
            "market_factors": len(result.categories["market"]),
            "sector_factors": len(result.categories["sector"]),
            "user_baskets": len(result.categories["user_baskets"]),
            "categories": dg.MetadataValue.json(result.categories),
            "correlation": markdown(correlation, floatfmt=".3f"),
            "correlation_factors_shown": len(shown),
        }
    )
