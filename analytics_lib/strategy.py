"""The investment process as one function: universe → factor scores → target weights.

Currently implemented: :class:`StrategyParams`, :func:`strategy_target` (-> :class:`StrategyTarget`)
and :func:`strategy_weigh`, the ``weigh`` callback of
:func:`analytics_lib.backtest.walk_forward_backtest` that recomputes the whole process at every
rebalance date from the data up to that date only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import pandas as pd

from analytics_lib.backtest import Weigh
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.optimization import OptimizerParams, TargetPortfolio, target_weights
from analytics_lib.returns import simple_returns
from analytics_lib.scoring import DEFAULT_FACTOR_WEIGHTS, FactorScores, factor_scores
from analytics_lib.universe import Universe, UniverseParams, select_universe
from analytics_lib.validation import require_frame, require_returns_panel

__all__ = ["StrategyParams", "StrategyTarget", "strategy_target", "strategy_weigh"]


@dataclass(frozen=True)
class StrategyParams:
    """Every parameter of the process.

    Attributes
    ----------
    universe
        Candidate and quality rules (:class:`analytics_lib.universe.UniverseParams`).
    factor_weights
        Factor → weight of the combined score (default momentum .35, quality .30, value .15,
        volatility .20; a skipped factor's weight is redistributed).
    optimizer
        Positions, bounds and method (:class:`analytics_lib.optimization.OptimizerParams`).
    """

    universe: UniverseParams = field(default_factory=UniverseParams)
    factor_weights: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(dict(DEFAULT_FACTOR_WEIGHTS))
    )
    optimizer: OptimizerParams = field(default_factory=OptimizerParams)

    def __post_init__(self) -> None:
        if not isinstance(self.universe, UniverseParams):
            raise AnalyticsError(
                f"universe must be a UniverseParams, got {type(self.universe).__name__}"
            )
        if not isinstance(self.optimizer, OptimizerParams):
            raise AnalyticsError(
                f"optimizer must be an OptimizerParams, got {type(self.optimizer).__name__}"
            )
        if not isinstance(self.factor_weights, Mapping):
            raise AnalyticsError("factor_weights must be a mapping of factor to weight")


@dataclass(frozen=True)
class StrategyTarget:
    """The three stages of one as-of date."""

    universe: Universe
    scores: FactorScores
    portfolio: TargetPortfolio


def _categories(instruments: pd.DataFrame) -> pd.Series | None:
    if "category" not in instruments.columns:
        return None
    return pd.Series(
        instruments["category"].astype(object).to_numpy(),
        index=pd.Index(instruments["symbol"].astype(str), name="symbol"),
        name="category",
    )


def strategy_target(
    prices: pd.DataFrame,
    instruments: pd.DataFrame,
    dollar_volume: pd.DataFrame | None,
    params: StrategyParams,
) -> StrategyTarget:
    """Universe, scores and target weights as of the last row of ``prices``.

    Parameters
    ----------
    prices
        Dates x symbols adjusted closes up to and including the as-of date (its last row).
    instruments
        ``symbol, name, category, asset_type`` and optionally ``expense_ratio``.
    dollar_volume
        Dates x symbols ``close × volume`` (rows after the as-of date are ignored), or None.
    params
        The process's parameters.

    Returns
    -------
    StrategyTarget

    Notes
    -----
    :math:`U = \\text{select\\_universe}(P, V)`, :math:`s = \\text{factor\\_scores}(P, U)`,
    :math:`w = \\text{target\\_weights}(s, r)` with :math:`r_t = P_t / P_{t-1} - 1` the simple
    returns of the same prices, so nothing dated after the as-of date is read.

    Raises
    ------
    AnalyticsError
        From any stage, naming the argument, the infeasible arithmetic or the solver status.
    """
    panel = require_returns_panel(prices, "prices")
    frame = require_frame(instruments, "instruments")
    if not isinstance(params, StrategyParams):
        raise AnalyticsError(f"params must be a StrategyParams, got {type(params).__name__}")
    universe = select_universe(frame, panel, dollar_volume, params.universe)
    if not universe.eligible:
        raise AnalyticsError(
            f"no eligible symbol as of {universe.as_of.date()} "
            f"({universe.counts.get('candidates', 0)} candidates; exclusions by reason: "
            f"{universe.exclusions['reason'].value_counts().to_dict()})"
        )
    scores = factor_scores(panel, frame, universe.eligible, params.factor_weights)
    held = list(universe.eligible)
    portfolio = target_weights(
        scores.scores,
        simple_returns(panel.loc[:, held]),
        _categories(frame),
        params.optimizer,
    )
    return StrategyTarget(universe=universe, scores=scores, portfolio=portfolio)


def strategy_weigh(
    instruments: pd.DataFrame, dollar_volume: pd.DataFrame | None, params: StrategyParams
) -> Weigh:
    """The backtest's ``weigh``: :func:`strategy_target` on the history it is given.

    ``dollar_volume`` may cover the whole backtest; each call uses its rows up to the last
    date of the history only (the universe rule reads nothing later).
    """

    def weigh(history: pd.DataFrame) -> pd.Series:
        as_of = history.index[-1]
        volume = None if dollar_volume is None else dollar_volume.loc[:as_of]
        return strategy_target(history, instruments, volume, params).portfolio.weights

    return weigh
