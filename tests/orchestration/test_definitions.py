"""The code location loads; the asset-key set, jobs and schedules are the contract."""

import datetime as dt

import dagster as dg

from orchestration.definitions import build_definitions
from orchestration.partitions import is_trading_days
from tests.support import make_settings

MARKET_DATA_ASSETS = {
    "market_data_snapshot",
    "instruments",
    "benchmark_sector_weights",
    "etf_holdings",
    "daily_prices",
    "returns_panel",
}
BASKET_ASSETS = {"baskets", "basket_returns", "basket_analytics", "factor_returns_panel"}
RISK_ASSETS = {
    "position_betas",
    "portfolio_beta",
    "sector_exposure",
    "concentration",
    "portfolio_returns",
    "volatility_forecasts",
    "portfolio_snapshot",
}
RISK_CHECKS = {
    ("position_betas", "market_beta_is_one", True),
    ("position_betas", "betas_within_cap", True),
    ("position_betas", "betas_r_squared_in_unit_interval", True),
    ("position_betas", "betas_have_sufficient_data", False),
    ("sector_exposure", "sector_weights_sum_to_one", True),
    ("sector_exposure", "unclassified_share_within_limit", False),
    ("sector_exposure", "benchmark_in_force", False),
    ("portfolio_snapshot", "symbols_fresh", False),
    ("concentration", "effective_positions_at_most_positions", True),
    ("volatility_forecasts", "forecasts_within_bounds", True),
    ("volatility_forecasts", "percentiles_in_unit_interval", True),
    ("volatility_forecasts", "portfolio_vol_at_most_weighted_vols", True),
    ("volatility_forecasts", "forecasts_have_sufficient_data", False),
}


def test_definitions_load_and_validate(tmp_path):
    defs = build_definitions(make_settings(tmp_path))
    dg.Definitions.validate_loadable(defs)


def test_asset_keys_are_the_contract(tmp_path):
    defs = build_definitions(make_settings(tmp_path))
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert keys >= MARKET_DATA_ASSETS | RISK_ASSETS | BASKET_ASSETS | {
        "portfolio_positions",
        "broker_reconciliation",
    }
    groups = {
        key.to_user_string(): spec.group_name
        for key, spec in ((s.key, s) for s in defs.resolve_all_asset_specs())
    }
    assert {groups[k] for k in MARKET_DATA_ASSETS} == {"market_data"}
    assert {k for k, group in groups.items() if group == "risk"} == RISK_ASSETS
    assert groups["portfolio_positions"] == "trading"
    assert groups["broker_reconciliation"] == "trading"
    assert {groups[k] for k in BASKET_ASSETS} == {"baskets"}


def test_basket_partitions_job_and_sensor(tmp_path):
    defs = build_definitions(make_settings(tmp_path))
    for name in ("basket_returns", "basket_analytics"):
        partitions = defs.resolve_assets_def(name).partitions_def
        assert isinstance(partitions, dg.DynamicPartitionsDefinition)
        assert partitions.name == "baskets"
    assert defs.resolve_assets_def("factor_returns_panel").partitions_def is None
    job = defs.resolve_job_def("refresh_basket")
    selected = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert selected == BASKET_ASSETS
    sensor = defs.resolve_sensor_def("basket_changes")
    assert sensor.job_name == "refresh_basket"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert checks >= {
        "basket_weights_sum_to_one",
        "basket_coverage_sufficient",
        "basket_analytics_finite",
    }
    for name in RISK_ASSETS:
        assets_def = defs.resolve_assets_def(name)
        assert is_trading_days(assets_def.partitions_def), name
        assert assets_def.backfill_policy == dg.BackfillPolicy.single_run(), name


def test_risk_checks_are_the_contract(tmp_path):
    defs = build_definitions(make_settings(tmp_path))
    specs = {
        (spec.asset_key.to_user_string(), spec.name, spec.blocking)
        for name in RISK_ASSETS
        for spec in defs.resolve_assets_def(name).check_specs
    }
    assert specs == RISK_CHECKS


def test_trading_days_start_at_the_configured_date(tmp_path):
    settings = make_settings(tmp_path, PORTFOLIO_START_DATE="2019-01-02")
    defs = build_definitions(settings)
    for name in ("daily_prices", "returns_panel"):
        partitions = defs.resolve_assets_def(name).partitions_def
        assert is_trading_days(partitions)
        keys = partitions.get_partition_keys(current_time=dt.datetime(2019, 1, 8, 12))
        # weekdays only, starting at the configured date, through the current weekday
        assert keys == ["2019-01-02", "2019-01-03", "2019-01-04", "2019-01-07", "2019-01-08"]


def test_daily_pipeline_job_and_schedule(tmp_path):
    defs = build_definitions(make_settings(tmp_path))
    job = defs.resolve_job_def("daily_pipeline")
    selected = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert selected >= MARKET_DATA_ASSETS | RISK_ASSETS | {
        "portfolio_positions",
        "broker_reconciliation",
    }
    for name, expected in (
        ("market_data_backfill", MARKET_DATA_ASSETS),
        ("risk_backfill", RISK_ASSETS | {"portfolio_positions"}),
    ):
        job = defs.resolve_job_def(name)
        assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == expected
    schedule = defs.resolve_schedule_def("daily_pipeline_after_close")
    assert schedule.cron_schedule == "30 18 * * 1-5"
    assert schedule.execution_timezone == "America/New_York"
    tick = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2024, 3, 14, 18, 30, tzinfo=dt.UTC),
        repository_def=defs.get_repository_def(),
        resources={"market_data": defs.resources["market_data"]},
    )
    result = schedule.evaluate_tick(tick)
    assert [r.partition_key for r in result.run_requests] == ["2024-03-14"]


def test_csv_settings_select_the_csv_source(tmp_path):
    defs = build_definitions(
        make_settings(tmp_path, PORTFOLIO_MARKET_DATA="csv", PORTFOLIO_CSV_DIR=str(tmp_path))
    )
    resource = defs.resources["market_data"]
    assert type(resource).__name__ == "CsvMarketData"
    assert not resource.simulated


def test_trade_jobs_sensors_pool_and_blocking_check(tmp_path):
    defs = build_definitions(make_settings(tmp_path))
    for name in (
        "preview_basket_trade",
        "approve_basket_trade",
        "execute_basket_trade",
        "cancel_basket_trade",
        "reconcile_broker_positions",
    ):
        assert defs.resolve_job_def(name).executor_def.name == "in_process"
    execute = defs.resolve_job_def("execute_basket_trade")
    assert execute.tags["portfolio/execution"] == "basket_trade"
    assert execute.get_node_named("basket_trade_execution").definition.pool == "broker"
    cancel = defs.resolve_job_def("cancel_basket_trade")
    assert cancel.get_node_named("basket_trade_cancellation").definition.pool is None
    assert defs.resolve_sensor_def("trade_approval_sensor").job_name == "execute_basket_trade"
    assert defs.resolve_sensor_def("trade_plan_sensor").job_name == "preview_trade_plan"
    [spec] = defs.resolve_assets_def("broker_reconciliation").check_specs
    assert (spec.name, spec.blocking) == ("broker_positions_reconciled", True)


def test_positions_source_setting_selects_the_resource(tmp_path):
    market = build_definitions(make_settings(tmp_path)).resources["positions_source"]
    broker = build_definitions(
        make_settings(tmp_path, PORTFOLIO_POSITIONS_SOURCE="broker")
    ).resources["positions_source"]
    assert type(market).__name__ == "MarketDataPositions"
    assert type(broker).__name__ == "BrokerPositions"
    assert broker.broker.readonly


def test_every_asset_of_the_demo_market_says_it_is_simulated(tmp_path):
    demo = build_definitions(make_settings(tmp_path))
    specs = [spec for spec in demo.resolve_all_asset_specs() if spec.key.path != ["baskets"]]
    assert len(specs) >= 16
    unmarked = [s.key.to_user_string() for s in specs if s.metadata.get("simulated") is not True]
    assert unmarked == []
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    real = build_definitions(
        make_settings(tmp_path, PORTFOLIO_MARKET_DATA="csv", PORTFOLIO_CSV_DIR=str(csv_dir))
    )
    assert not any("simulated" in spec.metadata for spec in real.resolve_all_asset_specs())


def test_asset_descriptions_read_as_markdown_without_sphinx_roles(tmp_path):
    defs = build_definitions(make_settings(tmp_path))
    described = {s.key.to_user_string(): s.description for s in defs.resolve_all_asset_specs()}
    assert [k for k, d in described.items() if d and ":func:`" in d] == []
    assert "`analytics_lib.baskets.basket_returns`" in described["basket_returns"]


def test_every_check_says_what_it_checks(tmp_path):
    defs = build_definitions(make_settings(tmp_path))
    specs = [
        spec
        for assets_def in defs.resolve_asset_graph().assets_defs
        for spec in assets_def.check_specs
    ]
    assert len(specs) >= 20
    assert [s.name for s in specs if not (s.description or "").strip()] == []


def test_csv_end_date_setting_reaches_the_source(tmp_path):
    settings = make_settings(
        tmp_path,
        PORTFOLIO_MARKET_DATA="csv",
        PORTFOLIO_CSV_DIR=str(tmp_path),
        PORTFOLIO_CSV_END_DATE="2024-03-28",
    )
    assert settings.csv_end_date == dt.date(2024, 3, 28)
    assert build_definitions(settings).resources["market_data"].end_date == "2024-03-28"
    unset = build_definitions(
        make_settings(tmp_path, PORTFOLIO_MARKET_DATA="csv", PORTFOLIO_CSV_DIR=str(tmp_path))
    )
    assert unset.resources["market_data"].end_date == ""
