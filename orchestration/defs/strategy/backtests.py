"""The walk-forward backtest of the strategy over stored prices, for the asset and the CLI.

The history starts ``history_days`` price dates before the backtest's first day, so the first
rebalance already sees a full window; the backtest starts ``backtest_years`` before the as-of
date, or later when the stored history is shorter (after ``min_history_days`` rows).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from analytics_lib.backtest import BacktestResult, walk_forward_backtest
from analytics_lib.strategy import strategy_weigh
from orchestration.defs.strategy import inputs
from orchestration.resources.database import Database
from orchestration.resources.panels import ReturnsPanels
from orchestration.resources.strategy import StrategyModel


@dataclass(frozen=True)
class StrategyBacktest:
    """A backtest and whether the benchmark could be drawn next to it."""

    result: BacktestResult
    benchmark: str | None


def strategy_backtest(
    database: Database,
    panels: ReturnsPanels,
    model: StrategyModel,
    end: dt.date,
    start: dt.date | None = None,
) -> StrategyBacktest:
    """Run the strategy's walk-forward backtest ending at ``end`` (a price date).

    ``start`` defaults to ``model.backtest_years`` before ``end``; the benchmark is drawn only
    when it has a price on every day of the backtest.
    """
    candidates = inputs.candidates(database, model.asset_types)
    if candidates.empty:
        raise ValueError(f"no instrument has asset_type in {', '.join(model.asset_types)}")
    symbols = sorted({*candidates["symbol"], model.benchmark})
    first = (
        pd.Timestamp(start)
        if start
        else pd.Timestamp(end) - pd.DateOffset(years=model.backtest_years)
    )
    lead = panels.window_start(first.date(), model.history_days) or first.date()
    history = inputs.price_history(panels, end, 0, symbols, start=lead)
    warmup = min(model.min_history_days + 1, len(history.index) - 1)
    begin = max(first, history.index[warmup])
    volume = inputs.dollar_volume(database, lead, end, candidates["symbol"].tolist())
    benchmark = None
    if model.benchmark in history.columns:
        drawn = history[model.benchmark].loc[begin:]
        benchmark = drawn.rename(model.benchmark) if drawn.notna().all() else None
    traded = candidates["symbol"][candidates["symbol"].isin(history.columns)]
    result = walk_forward_backtest(
        history.loc[:, traded],
        strategy_weigh(candidates, volume, model.params()),
        model.backtest_params(),
        start=begin,
        end=pd.Timestamp(end),
        benchmark=benchmark,
    )
    return StrategyBacktest(
        result=result, benchmark=model.benchmark if benchmark is not None else None
    )
