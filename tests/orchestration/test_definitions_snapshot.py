"""The definitions' keys are the contract: a move of code must leave them exactly as they are.

The snapshot below was taken from the definitions before the domain-first layout
(``orchestration/defs/<domain>/``) and is compared as a whole, so an asset, check, job,
schedule or sensor that appears, disappears, changes group or changes partitioning fails here.
Additions since are deliberate: the strategy and trade-performance domains, the market-data
validation step, ``trade_plan_sensor`` previewing a plan's trades (``preview_trade_plan``), and
``prices_present_on_session`` (a session without bars fails ``daily_prices``), and the alert
sensors (``run_failure_alerts``, ``check_failure_alerts``: no job, they POST to a webhook).
"""

import dagster as dg

from orchestration.definitions import build_definitions
from tests.support import make_settings

ASSETS = {
    "backtest_results": ("strategy", "TimeWindowPartitionsDefinition"),
    "etf_universe": ("strategy", "TimeWindowPartitionsDefinition"),
    "factor_scores": ("strategy", "TimeWindowPartitionsDefinition"),
    "target_portfolio": ("strategy", "TimeWindowPartitionsDefinition"),
    "trade_plan": ("strategy", "TimeWindowPartitionsDefinition"),
    "basket_analytics": ("baskets", "DynamicPartitionsDefinition"),
    "basket_returns": ("baskets", "DynamicPartitionsDefinition"),
    "baskets": ("baskets", "DynamicPartitionsDefinition"),
    "benchmark_sector_weights": ("market_data", None),
    "broker_reconciliation": ("trading", None),
    "concentration": ("risk", "TimeWindowPartitionsDefinition"),
    "daily_prices": ("market_data", "TimeWindowPartitionsDefinition"),
    "etf_holdings": ("market_data", None),
    "factor_returns_panel": ("baskets", None),
    "instruments": ("market_data", None),
    "market_data_snapshot": ("market_data", None),
    "portfolio_beta": ("risk", "TimeWindowPartitionsDefinition"),
    "portfolio_positions": ("trading", None),
    "portfolio_returns": ("risk", "TimeWindowPartitionsDefinition"),
    "portfolio_snapshot": ("risk", "TimeWindowPartitionsDefinition"),
    "position_betas": ("risk", "TimeWindowPartitionsDefinition"),
    "positions_pnl": ("trading", None),
    "realized_trades": ("trading", None),
    "returns_panel": ("market_data", "TimeWindowPartitionsDefinition"),
    "sector_exposure": ("risk", "TimeWindowPartitionsDefinition"),
    "trading_performance": ("trading", None),
    "transactions": ("trading", None),
    "volatility_forecasts": ("risk", "TimeWindowPartitionsDefinition"),
}

CHECKS = {
    ("basket_analytics", "basket_analytics_finite"),
    ("basket_returns", "basket_coverage_sufficient"),
    ("basket_returns", "basket_weights_sum_to_one"),
    ("basket_returns", "symbols_fresh"),
    ("broker_reconciliation", "broker_positions_reconciled"),
    ("concentration", "effective_positions_at_most_positions"),
    ("daily_prices", "prices_cover_universe"),
    ("daily_prices", "prices_fresh"),
    ("daily_prices", "prices_positive_closes"),
    ("daily_prices", "prices_present_on_session"),
    ("daily_prices", "prices_unique_keys"),
    ("position_betas", "betas_have_sufficient_data"),
    ("position_betas", "betas_r_squared_in_unit_interval"),
    ("position_betas", "betas_within_cap"),
    ("position_betas", "market_beta_is_one"),
    ("portfolio_snapshot", "symbols_fresh"),
    ("realized_trades", "realized_pnl_reconciles"),
    ("returns_panel", "returns_finite"),
    ("sector_exposure", "benchmark_in_force"),
    ("sector_exposure", "sector_weights_sum_to_one"),
    ("sector_exposure", "unclassified_share_within_limit"),
    ("volatility_forecasts", "forecasts_have_sufficient_data"),
    ("volatility_forecasts", "forecasts_within_bounds"),
    ("volatility_forecasts", "percentiles_in_unit_interval"),
    ("volatility_forecasts", "portfolio_vol_at_most_weighted_vols"),
}

JOBS = {
    "approve_basket_trade",
    "cancel_basket_trade",
    "daily_pipeline",
    "execute_basket_trade",
    "market_data_backfill",
    "preview_basket_trade",
    "preview_trade_plan",
    "reconcile_broker_positions",
    "refresh_basket",
    "refresh_trading_performance",
    "risk_backfill",
    "strategy_pipeline",
}
SCHEDULES = {("daily_pipeline_after_close", "daily_pipeline")}
SENSORS = {
    ("basket_changes", "refresh_basket"),
    ("trade_approval_sensor", "execute_basket_trade"),
    ("trade_plan_sensor", "preview_trade_plan"),
    ("run_failure_alerts", None),
    ("check_failure_alerts", None),
}


def _snapshot(defs: dg.Definitions) -> dict[str, object]:
    repository = defs.get_repository_def()
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    assets = {
        key: (
            spec.group_name,
            type(spec.partitions_def).__name__ if spec.partitions_def is not None else None,
        )
        for key, spec in specs.items()
    }
    checks = {
        (key.asset_key.to_user_string(), key.name)
        for key in defs.resolve_asset_graph().asset_check_keys
    }
    jobs = {job.name for job in repository.get_all_jobs() if not job.name.startswith("__")}
    schedules = {(s.name, s.job_name) for s in repository.schedule_defs}
    sensors = {(s.name, s.job_name if s.targets else None) for s in repository.sensor_defs}
    return {
        "assets": assets,
        "checks": checks,
        "jobs": jobs,
        "schedules": schedules,
        "sensors": sensors,
    }


def test_definitions_snapshot_is_unchanged(tmp_path):
    snapshot = _snapshot(build_definitions(make_settings(tmp_path)))
    assert snapshot == {
        "assets": ASSETS,
        "checks": CHECKS,
        "jobs": JOBS,
        "schedules": SCHEDULES,
        "sensors": SENSORS,
    }
