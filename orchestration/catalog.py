"""What the Dagster catalog shows about each asset, besides its own code: freshness, code
version, owner, kinds and the app-database table it writes. :mod:`orchestration.definitions`
applies all of it in one place (``_with_policy``).

- **Freshness** is counted in NYSE sessions (:func:`session_freshness`): Dagster's policies
  measure wall-clock time since the last materialization, so a number of sessions becomes the
  longest time that many sessions can take on the calendar (a holiday weekend included) plus
  :data:`FRESHNESS_GRACE` for the run itself: WARN after the longest one-session step, FAIL
  after the longest :data:`FAIL_AFTER_SESSIONS`-session span. A schedule that stops firing turns
  the asset WARN, then FAIL, and no holiday ever does; on a plain week WARN needs two missed
  sessions in a row (the price of a wall-clock window).
- **Code versions** are a constant per domain module (:data:`CODE_VERSIONS`), bumped by hand
  when a change alters what the module's assets write. A hash of an asset's source would miss
  the changes that matter most (the maths lives in ``analytics_lib``, the storage in ``store``
  modules) and would flag a docstring edit as new code, marking every materialization
  "code version changed" for nothing.
- **Tables**: :data:`ASSET_TABLES` names the app tables each asset writes; an asset writing
  exactly one gets ``dagster/table_name`` and a ``dagster/column_schema`` built from the
  SQLAlchemy model (:func:`column_schema`).
"""

import datetime as dt

import dagster as dg
from sqlalchemy import Table
from sqlalchemy.engine import make_url

from orchestration import market_calendar
from orchestration.constants import DEFAULT_MAX_STALE_SESSIONS, RISK
from orchestration.storage.models import Base

OWNER = "team:portfolio"
FRESHNESS_GRACE = dt.timedelta(hours=3)
WARN_AFTER_SESSIONS = 1
FAIL_AFTER_SESSIONS = DEFAULT_MAX_STALE_SESSIONS
FRESH_ASSETS = ("daily_prices",)
"""Assets with a freshness policy besides the risk group's (the risk snapshot of a session)."""

CODE_VERSIONS = {
    "orchestration.defs.market_data.assets": "1",
    "orchestration.defs.risk.assets": "1",
    "orchestration.defs.baskets.assets": "1",
    "orchestration.defs.strategy.assets": "1",
    "orchestration.defs.trading.assets": "1",
    "orchestration.defs.performance.assets": "1",
}
"""Code version of every asset a domain module defines; bump a module's when a change alters
what its assets write (their own code, the analytics they call or the store they write with).
A module missing here loads without a code version; ``tests/orchestration/test_catalog.py``
requires every asset's module to be listed."""

ASSET_TABLES: dict[str, tuple[str, ...]] = {
    "market_data_snapshot": (),
    "instruments": ("instruments",),
    "benchmark_sector_weights": ("benchmarks_sector_weights",),
    "etf_holdings": ("etf_holdings",),
    "daily_prices": ("prices",),
    "returns_panel": (),
    "position_betas": ("position_market_betas",),
    "portfolio_returns": ("portfolio_snapshots",),
    "portfolio_beta": ("portfolio_snapshots",),
    "sector_exposure": ("portfolio_snapshots",),
    "concentration": ("portfolio_snapshots",),
    "volatility_forecasts": ("position_volatility",),
    "portfolio_snapshot": ("portfolio_snapshots",),
    "baskets": ("baskets",),
    "basket_returns": ("basket_returns",),
    "basket_analytics": ("basket_analytics",),
    "factor_returns_panel": (),
    "etf_universe": ("strategy_universe",),
    "factor_scores": ("factor_scores",),
    "target_portfolio": ("target_weights",),
    "backtest_results": ("backtest_runs", "backtest_equity"),
    "trade_plan": ("trade_plans", "trade_plan_trades"),
    "portfolio_positions": ("portfolio_positions",),
    "broker_reconciliation": (
        "broker_reconciliations",
        "position_baselines",
        "position_baseline_rows",
    ),
    "transactions": ("transactions",),
    "realized_trades": ("realized_trades",),
    "trading_performance": ("trading_performance_snapshots",),
    "positions_pnl": ("positions_pnl", "positions_pnl_snapshots"),
}
"""The app tables each asset writes (``baskets`` is the observed ``baskets`` table; the risk
snapshot assets each write their own rows of ``portfolio_snapshots``); empty for an asset that
writes none (an in-memory or cached panel, a validation step). An asset missing here loads
without table metadata; ``tests/orchestration/test_catalog.py`` requires every asset listed."""


def database_kind(url: str) -> str:
    """The catalog kind of the app database at ``url``: ``sqlite`` or ``postgres``."""
    backend = make_url(url).get_backend_name()
    return "postgres" if backend == "postgresql" else backend


def session_span(sessions: int, first: dt.date, last: dt.date) -> dt.timedelta:
    """The longest calendar time that ``sessions`` consecutive NYSE sessions take, from one
    session to the ``sessions``-th after it, over the sessions from ``first`` to ``last``."""
    if sessions < 1:
        raise ValueError(f"sessions must be at least 1; got {sessions}")
    days = market_calendar.sessions(first, last)
    if len(days) <= sessions:
        raise ValueError(
            f"{first.isoformat()} … {last.isoformat()} has {len(days)} sessions; "
            f"need more than {sessions}"
        )
    return (days[sessions:] - days[:-sessions]).max().to_pytimedelta()


def session_freshness(today: dt.date) -> dg.FreshnessPolicy:
    """WARN after the longest one-session step, FAIL after the longest
    :data:`FAIL_AFTER_SESSIONS`-session span (each plus the grace), measured over the calendar
    from ``today`` to the end of next year (the span the partitions know)."""
    last = min(dt.date(today.year + 1, 12, 31), market_calendar.LAST_DATE)
    return dg.FreshnessPolicy.time_window(
        fail_window=session_span(FAIL_AFTER_SESSIONS, today, last) + FRESHNESS_GRACE,
        warn_window=session_span(WARN_AFTER_SESSIONS, today, last) + FRESHNESS_GRACE,
    )


def is_fresh_asset(spec: dg.AssetSpec) -> bool:
    """Whether ``spec`` gets the session freshness policy."""
    return spec.group_name == RISK or spec.key.to_user_string() in FRESH_ASSETS


def column_schema(table: Table) -> dg.TableSchema:
    """The columns of ``table`` (name, SQL type, nullability, uniqueness, comment) and its
    primary key."""
    columns = [
        dg.TableColumn(
            name=column.name,
            type=str(column.type),
            description=column.comment or column.doc,
            constraints=dg.TableColumnConstraints(
                nullable=bool(column.nullable), unique=bool(column.unique)
            ),
        )
        for column in table.columns
    ]
    key = [column.name for column in table.primary_key.columns]
    return dg.TableSchema(
        columns=columns,
        constraints=dg.TableConstraints(other=[f"primary key ({', '.join(key)})"]),
    )


def table_metadata(asset_key: str) -> dict[str, object]:
    """``dagster/table_name`` and ``dagster/column_schema`` for an asset writing one table."""
    tables = ASSET_TABLES.get(asset_key, ())
    if len(tables) != 1:
        return {}
    table = Base.metadata.tables[tables[0]]
    return {
        "dagster/table_name": table.name,
        "dagster/column_schema": column_schema(table),
    }
