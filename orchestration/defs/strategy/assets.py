"""Strategy assets: the ETF universe, factor scores, the target portfolio, a walk-forward
backtest and the trade plan that feeds execution.

Every asset is partitioned by ``trading_days`` (the as-of date) and reads only data dated on or
before it; each stage reads the stored output of the stage before it, so the UI's lineage is
the process: universe → scores → target → backtest and trade plan. The maths is in
:mod:`analytics_lib` (universe, scoring, optimization, backtest, trade_plan, strategy); the
parameters come from the ``strategy_model`` resource.
"""

import datetime as dt

import dagster as dg
import pandas as pd
from sqlalchemy import select

from analytics_lib.optimization import target_weights
from analytics_lib.returns import simple_returns
from analytics_lib.scoring import FACTORS
from analytics_lib.scoring import factor_scores as compute_factor_scores
from analytics_lib.trade_plan import LiveBook, rebalance_plan
from analytics_lib.universe import select_universe
from orchestration import constants as c
from orchestration.charts import equity_chart
from orchestration.clock import utc_now
from orchestration.defs.strategy import inputs
from orchestration.defs.strategy.backtests import strategy_backtest
from orchestration.defs.strategy.store import write_plan
from orchestration.execution.book import live_book
from orchestration.metadata import markdown
from orchestration.partitions import TRADING_DAYS
from orchestration.resources.broker_connection import BrokerConnection
from orchestration.resources.database import Database
from orchestration.resources.panels import ReturnsPanels
from orchestration.resources.strategy import StrategyModel
from orchestration.storage.bulk import replace_rows
from orchestration.storage.models import (
    BacktestEquityRow,
    BacktestRun,
    FactorScoreRow,
    StrategyUniverseRow,
    TargetWeightRow,
)

UNIVERSE = StrategyUniverseRow.__table__
SCORES = FactorScoreRow.__table__
TARGETS = TargetWeightRow.__table__
BACKTESTS = BacktestRun.__table__
EQUITY = BacktestEquityRow.__table__
OWN_ORDER_PREFIX = "pp-"
TOP_SCORES = 20


def _as_of(context: dg.AssetExecutionContext) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)


def _stored(database: Database, table, as_of: dt.date) -> pd.DataFrame:
    with database.engine.connect() as connection:
        result = connection.execute(select(table).where(table.c.as_of == as_of))
        columns = list(result.keys())
        rows = result.fetchall()
    if not rows:
        raise ValueError(
            f"{table.name} has no rows for {as_of.isoformat()}: materialize its upstream "
            "strategy assets for that date first"
        )
    return pd.DataFrame([tuple(row) for row in rows], columns=columns)


@dg.asset(group_name=c.STRATEGY, partitions_def=TRADING_DAYS)
def etf_universe(
    context: dg.AssetExecutionContext,
    database: Database,
    panels: ReturnsPanels,
    strategy_model: StrategyModel,
) -> dg.MaterializeResult:
    """Every instrument of the configured asset types with its category; leveraged and inverse
    funds flagged (name/category rule and an explicit list: kept for data, never eligible) and
    a quality filter (history, missing share, staleness, minimum price, median dollar volume),
    the first failing rule recorded as the reason of every exclusion."""
    as_of = _as_of(context)
    params = strategy_model.params()
    candidates = inputs.candidates(database, strategy_model.asset_types)
    if candidates.empty:
        raise ValueError(
            f"no instrument has asset_type in {', '.join(strategy_model.asset_types)} "
            "(PORTFOLIO_STRATEGY_ASSET_TYPES)"
        )
    symbols = candidates["symbol"].tolist()
    history = inputs.price_history(panels, as_of, strategy_model.history_days, symbols)
    volume = inputs.dollar_volume(database, history.index[0].date(), as_of, symbols)
    universe = select_universe(candidates, history, volume, params.universe)
    reasons = universe.exclusions.set_index("symbol")["reason"]
    rows = candidates.loc[:, ["symbol", "asset_type", "category"]].assign(
        leveraged_inverse=candidates["symbol"].isin(universe.leveraged_inverse),
        eligible=candidates["symbol"].isin(universe.eligible),
        reason=candidates["symbol"].map(reasons),
    )
    with database.transaction() as connection:
        replace_rows(
            connection,
            UNIVERSE,
            rows,
            UNIVERSE.c.as_of == as_of,
            constants={"as_of": as_of, "computed_at": utc_now()},
        )
    by_reason = reasons.value_counts()
    return dg.MaterializeResult(
        metadata={
            "candidates": len(candidates),
            "eligible": len(universe.eligible),
            "excluded": len(reasons),
            "leveraged_inverse": len(universe.leveraged_inverse),
            **{f"excluded_{reason}": int(n) for reason, n in by_reason.items()},
            "leveraged_inverse_symbols": dg.MetadataValue.md(
                ", ".join(universe.leveraged_inverse) or "_none_"
            ),
            "exclusions": markdown(universe.exclusions.head(50)),
            "dagster/partition_row_count": len(rows),
        }
    )


def _scoring_inputs(
    database: Database, panels: ReturnsPanels, model: StrategyModel, as_of: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    universe = _stored(database, UNIVERSE, as_of)
    eligible = sorted(universe.loc[universe["eligible"].astype(bool), "symbol"])
    if not eligible:
        raise ValueError(f"etf_universe has no eligible symbol for {as_of.isoformat()}")
    candidates = inputs.candidates(database, model.asset_types)
    candidates = candidates.loc[candidates["symbol"].isin(eligible)].reset_index(drop=True)
    history = inputs.price_history(panels, as_of, model.history_days, eligible)
    return candidates, history, eligible


@dg.asset(
    group_name=c.STRATEGY,
    partitions_def=TRADING_DAYS,
    deps=[etf_universe],
)
def factor_scores(
    context: dg.AssetExecutionContext,
    database: Database,
    panels: ReturnsPanels,
    strategy_model: StrategyModel,
) -> dg.MaterializeResult:
    """Cross-sectional percentile scores in [0, 1] of the eligible symbols: momentum (12-1),
    quality (share of positive months and one-year drawdown), value (expense ratio; skipped
    when the data has none) and low volatility, blended with the configured weights (a skipped
    factor's weight is redistributed over the active ones)."""
    as_of = _as_of(context)
    candidates, history, eligible = _scoring_inputs(database, panels, strategy_model, as_of)
    result = compute_factor_scores(
        history, candidates, eligible, strategy_model.params().factor_weights
    )
    scores = result.scores.reindex(columns=[*FACTORS, "combined"])
    rows = scores.rename_axis("symbol").reset_index()
    with database.transaction() as connection:
        replace_rows(
            connection,
            SCORES,
            rows,
            SCORES.c.as_of == as_of,
            constants={"as_of": as_of, "computed_at": utc_now()},
        )
    top = scores.sort_values("combined", ascending=False).head(TOP_SCORES)
    return dg.MaterializeResult(
        metadata={
            "scored": len(scores),
            "active_factors": ", ".join(result.active_factors),
            "skipped_factors": ", ".join(
                f"{f} ({result.skip_reasons.get(f, 'skipped')})" for f in result.skipped_factors
            )
            or "none",
            **{f"weight_{f}": float(w) for f, w in result.effective_weights.items()},
            **{f"count_{f}": int(n) for f, n in result.counts.items()},
            "top_scores": markdown(top.rename_axis("symbol").reset_index()),
            "dagster/partition_row_count": len(rows),
        }
    )


@dg.asset(
    group_name=c.STRATEGY,
    partitions_def=TRADING_DAYS,
    deps=[factor_scores],
)
def target_portfolio(
    context: dg.AssetExecutionContext,
    database: Database,
    panels: ReturnsPanels,
    strategy_model: StrategyModel,
) -> dg.MaterializeResult:
    """The top candidates by combined score, weighted by the configured optimizer (``mvo``
    with a Ledoit-Wolf covariance, ``minvar`` or ``rankbased``): N positions between the
    minimum and maximum weight, optional category caps, long-only, fully invested."""
    as_of = _as_of(context)
    candidates, history, eligible = _scoring_inputs(database, panels, strategy_model, as_of)
    scores = _stored(database, SCORES, as_of).set_index("symbol")
    categories = candidates.set_index("symbol")["category"]
    portfolio = target_weights(
        scores.loc[:, [*FACTORS, "combined"]],
        simple_returns(history.loc[:, eligible]),
        categories,
        strategy_model.params().optimizer,
    )
    rows = pd.DataFrame(
        {
            "symbol": portfolio.weights.index.astype(str),
            "weight": portfolio.weights.to_numpy(),
            "combined": scores["combined"].reindex(portfolio.weights.index).to_numpy(),
            "category": categories.reindex(portfolio.weights.index).to_numpy(),
        }
    )
    with database.transaction() as connection:
        replace_rows(
            connection,
            TARGETS,
            rows,
            TARGETS.c.as_of == as_of,
            constants={"as_of": as_of, "method": portfolio.method, "computed_at": utc_now()},
        )
    return dg.MaterializeResult(
        metadata={
            "method": portfolio.method,
            "solver": portfolio.solver,
            "positions": len(portfolio.weights),
            "hhi": portfolio.hhi,
            "effective_n": portfolio.effective_n,
            "expected_volatility": portfolio.expected_volatility,
            "max_weight": portfolio.max_weight,
            "min_weight": portfolio.min_weight,
            "shrinkage": portfolio.shrinkage,
            "binding_constraints": ", ".join(portfolio.binding_constraints) or "none",
            "weights": markdown(portfolio.table),
            "dagster/partition_row_count": len(rows),
        }
    )


@dg.asset(
    group_name=c.STRATEGY,
    partitions_def=TRADING_DAYS,
    deps=[target_portfolio],
)
def backtest_results(
    context: dg.AssetExecutionContext,
    database: Database,
    panels: ReturnsPanels,
    strategy_model: StrategyModel,
) -> dg.MaterializeResult:
    """Walk-forward backtest over the configured years ending at the as-of date: at every
    rebalance date the universe, scores and weights are recomputed from data up to that date
    only; weights drift between rebalances, a per-position stop-loss moves to cash, a drift
    beyond the threshold rebalances, costs are charged on traded notional. The equity curve
    and drawdown are stored and charted against the benchmark's."""
    as_of = _as_of(context)
    backtest = strategy_backtest(database, panels, strategy_model, as_of)
    result = backtest.result
    metrics = {name: float(value) for name, value in result.metrics.items()}
    stops = result.stop_loss_events.assign(date=lambda f: f["date"].astype(str))
    curve = pd.DataFrame(
        {
            "date": result.equity.index.date,
            "equity": result.equity.to_numpy(),
            "drawdown": result.drawdown.to_numpy(),
            "benchmark": (
                result.benchmark.reindex(result.equity.index).to_numpy()
                if result.benchmark is not None
                else None
            ),
        }
    )
    params = strategy_model.backtest_params()
    with database.transaction() as connection:
        connection.execute(BACKTESTS.delete().where(BACKTESTS.c.as_of == as_of))
        connection.execute(
            BACKTESTS.insert().values(
                as_of=as_of,
                start_date=result.equity.index[0].date(),
                end_date=result.equity.index[-1].date(),
                params={
                    "rebalance": params.rebalance,
                    "stop_loss": params.stop_loss,
                    "drift_threshold": params.drift_threshold,
                    "cost_bps": params.cost_bps,
                    "initial_capital": params.initial_capital,
                    "method": strategy_model.method,
                    "positions": strategy_model.positions,
                },
                metrics=metrics,
                stop_loss_events=stops.to_dict(orient="records"),
                computed_at=utc_now(),
            )
        )
        replace_rows(connection, EQUITY, curve, EQUITY.c.as_of == as_of, constants={"as_of": as_of})
    return dg.MaterializeResult(
        metadata={
            **metrics,
            "start_date": str(result.equity.index[0].date()),
            "benchmark": backtest.benchmark or "none",
            "equity_chart": equity_chart(
                result.equity, result.drawdown, result.benchmark, label="strategy"
            ),
            "stop_loss_event_list": markdown(stops.head(50)),
            "rebalance_dates": markdown(result.rebalances.reset_index().head(50)),
        }
    )


def _cleanup(
    model: StrategyModel, broker_data: BrokerConnection, broker: BrokerConnection
) -> tuple[dict[str, object], set[str]]:
    """Phase 1 of the seed: open orders of no trade group of ours (cancelled when configured)
    and short positions (left out of the plan unless covering them is configured)."""
    reader = broker_data.get()
    foreign = [o for o in reader.open_orders() if not o.order_ref.startswith(OWN_ORDER_PREFIX)]
    cancelled = []
    if foreign and model.cancel_foreign_orders:
        trader = broker.get()
        cancelled = [trader.cancel(order.order_ref).order_ref for order in foreign]
    shorts = sorted({p.symbol for p in reader.positions() if p.quantity < 0})
    return (
        {
            "foreign_open_orders": [
                f"{o.order_ref}: {o.side} {o.quantity} {o.symbol}" for o in foreign
            ],
            "cancelled_orders": cancelled,
            "short_positions": shorts,
            "shorts_covered": bool(shorts) and model.cover_shorts,
        },
        set() if model.cover_shorts else set(shorts),
    )


@dg.asset(
    group_name=c.STRATEGY,
    partitions_def=TRADING_DAYS,
    deps=[target_portfolio],
    pool=c.BROKER_DATA_POOL,
)
def trade_plan(
    context: dg.AssetExecutionContext,
    database: Database,
    strategy_model: StrategyModel,
    broker_data: BrokerConnection,
    broker: BrokerConnection,
) -> dg.MaterializeResult:
    """The target weights against the live book (the broker's positions, cash and net
    liquidation): whole-share trades, sells before buys, a minimum trade value; sized to the
    invested value plus ``deploy_cash`` when set, otherwise to net liquidation keeping the cash
    reserve. The plan is stored with a snapshot of the book it assumed (positions, cash, net
    liquidation, prices, plan hash): execution refuses its orders when the live book drifted.
    ``trade_plan_sensor`` turns every materialization into a preview trade group."""
    as_of = _as_of(context)
    targets = _stored(database, TARGETS, as_of).set_index("symbol")["weight"]
    cleanup, kept_aside = _cleanup(strategy_model, broker_data, broker)
    account, book = live_book(broker_data.get(), targets.index)
    if kept_aside:
        book = LiveBook(
            positions=book.positions.drop(index=sorted(kept_aside)),
            cash=book.cash,
            net_liquidation=book.net_liquidation,
            prices=book.prices,
        )
    plan = rebalance_plan(
        targets,
        book,
        deploy_cash=strategy_model.deploy_cash,
        cash_reserve=strategy_model.cash_reserve,
        min_trade_value=strategy_model.min_trade_value,
    )
    with database.transaction() as connection:
        plan_id = write_plan(
            connection,
            as_of=as_of,
            broker=broker_data.kind,
            account=account,
            plan=plan,
            deploy_cash=strategy_model.deploy_cash,
            cleanup=cleanup,
            created_at=utc_now(),
        )
    context.log.info(f"trade plan {plan_id}: {len(plan.trades)} trades")
    return dg.MaterializeResult(
        metadata={
            c.TRADE_PLAN_ID_METADATA: plan_id,
            "plan_hash": str(plan.state["plan_hash"]),
            "trades": len(plan.trades),
            "buys_total": plan.buys_total,
            "sells_total": plan.sells_total,
            "cash_after": plan.cash_after,
            "cash_reserve": plan.cash_reserve,
            "sizing_basis": plan.sizing_basis,
            "retained": len(plan.transition["retained"]),
            "exiting": len(plan.transition["exiting"]),
            "entering": len(plan.transition["entering"]),
            "skipped_small_trades": len(plan.skipped),
            "foreign_open_orders": len(cleanup["foreign_open_orders"]),
            "short_positions": len(cleanup["short_positions"]),
            "trade_list": markdown(plan.trades),
            "transition": dg.MetadataValue.md(
                "\n".join(
                    f"- {kind}: {', '.join(symbols) or 'none'}"
                    for kind, symbols in plan.transition.items()
                )
            ),
        }
    )
