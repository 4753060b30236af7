"""The strategy model resource: every parameter of the investment process in one place.

The universe rules, factor weights, optimizer bounds, backtest and plan sizing are read by the
``strategy`` assets from this resource (the UI shows it on the resource page), so a backtest
recomputes exactly the process that ``target_portfolio`` runs. Choices a user makes in the
environment (asset types, method, positions, cash modes, cleanup) come from
:class:`~orchestration.settings.StrategySettings`; the rest keeps the seed's defaults.
"""

from __future__ import annotations

from types import MappingProxyType

import dagster as dg
from pydantic import Field

from analytics_lib.backtest import BacktestParams
from analytics_lib.optimization import OptimizerParams
from analytics_lib.scoring import DEFAULT_FACTOR_WEIGHTS
from analytics_lib.strategy import StrategyParams
from analytics_lib.trade_plan import DEFAULT_MIN_TRADE_VALUE
from analytics_lib.universe import UniverseParams
from orchestration.settings import Settings

DEFAULT_BACKTEST_YEARS = 5
DEFAULT_BENCHMARK_SYMBOL = "SPY"
DEFAULT_TARGET_HISTORY_DAYS = 400
"""Price rows a target reads: 253 for 12-1 momentum and the one-year volatility, 252 returns
for the covariance, with room for gaps."""


class StrategyModel(dg.ConfigurableResource):
    """Parameters of the universe, scores, optimizer, backtest and trade plan."""

    asset_types: list[str] = Field(default_factory=lambda: ["etf"])
    min_history_days: int = 252
    max_missing_fraction: float = 0.10
    min_price: float = 5.0
    min_median_dollar_volume: float = 1_000_000.0
    leveraged_inverse_symbols: list[str] = Field(default_factory=list)
    factor_weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_FACTOR_WEIGHTS))
    method: str = "mvo"
    positions: int = 30
    min_weight: float = 0.03
    max_weight: float = 0.075
    category_caps: dict[str, float] = Field(default_factory=dict)
    history_days: int = DEFAULT_TARGET_HISTORY_DAYS
    backtest_years: int = DEFAULT_BACKTEST_YEARS
    rebalance: str = "quarterly"
    stop_loss: float | None = 0.12
    drift_threshold: float | None = 0.05
    cost_bps: float = 10.0
    initial_capital: float = 1_000_000.0
    benchmark: str = DEFAULT_BENCHMARK_SYMBOL
    cash_reserve: float = 70_000.0
    deploy_cash: float | None = None
    min_trade_value: float = DEFAULT_MIN_TRADE_VALUE
    cancel_foreign_orders: bool = False
    cover_shorts: bool = False

    def params(self) -> StrategyParams:
        """Universe, factor weights and optimizer as analytics parameters (validated there)."""
        return StrategyParams(
            universe=UniverseParams(
                asset_types=tuple(self.asset_types),
                min_history_days=self.min_history_days,
                max_missing_fraction=self.max_missing_fraction,
                min_price=self.min_price,
                min_median_dollar_volume=self.min_median_dollar_volume,
                leveraged_inverse_symbols=tuple(self.leveraged_inverse_symbols),
            ),
            factor_weights=MappingProxyType(dict(self.factor_weights)),
            optimizer=OptimizerParams(
                method=self.method,
                n_positions=self.positions,
                min_weight=self.min_weight,
                max_weight=self.max_weight,
                category_caps=dict(self.category_caps) or None,
            ),
        )

    def backtest_params(self) -> BacktestParams:
        """Rebalancing, stop-loss, drift, costs and capital of the walk-forward backtest."""
        return BacktestParams(
            rebalance=self.rebalance,
            stop_loss=self.stop_loss,
            drift_threshold=self.drift_threshold,
            cost_bps=self.cost_bps,
            initial_capital=self.initial_capital,
        )


def strategy_model(settings: Settings) -> StrategyModel:
    """The strategy resource of ``settings``."""
    s = settings.strategy
    return StrategyModel(
        asset_types=list(s.asset_types),
        method=s.method,
        positions=s.positions,
        cash_reserve=s.cash_reserve,
        deploy_cash=s.deploy_cash,
        cancel_foreign_orders=s.cancel_foreign_orders,
        cover_shorts=s.cover_shorts,
        benchmark=settings.market_index,
    )
