"""Names shared across the code location: groups, checks, jobs, pools and default windows."""

MARKET_DATA = "market_data"
RISK = "risk"
BASKETS = "baskets"
STRATEGY = "strategy"
TRADING = "trading"

MARKET_TIMEZONE = "America/New_York"
DAILY_PIPELINE_CRON = "30 18 * * 1-5"

DAILY_PIPELINE_JOB = "daily_pipeline"
MARKET_DATA_JOB = "market_data_backfill"
REFRESH_BASKET_JOB = "refresh_basket"

BASKET_PARTITIONS = "baskets"
BASKET_CHANGES_SENSOR = "basket_changes"
RISK_JOB = "risk_backfill"

PRICES_UNIQUE_KEYS = "prices_unique_keys"
PRICES_POSITIVE_CLOSES = "prices_positive_closes"
PRICES_COVER_UNIVERSE = "prices_cover_universe"
PRICES_FRESH = "prices_fresh"
PRICES_PRESENT_ON_SESSION = "prices_present_on_session"
RETURNS_FINITE = "returns_finite"
BROKER_POSITIONS_RECONCILED = "broker_positions_reconciled"

PREVIEW_BASKET_TRADE_JOB = "preview_basket_trade"
APPROVE_BASKET_TRADE_JOB = "approve_basket_trade"
EXECUTE_BASKET_TRADE_JOB = "execute_basket_trade"
CANCEL_BASKET_TRADE_JOB = "cancel_basket_trade"
RECONCILE_BROKER_POSITIONS_JOB = "reconcile_broker_positions"
TRADE_APPROVAL_SENSOR = "trade_approval_sensor"
TRADE_PLAN_SENSOR = "trade_plan_sensor"
RUN_FAILURE_ALERTS_SENSOR = "run_failure_alerts"
CHECK_FAILURE_ALERTS_SENSOR = "check_failure_alerts"
TRADE_PLAN_ASSET = "trade_plan"
TRADE_PLAN_ID_METADATA = "trade_plan_id"
STRATEGY_JOB = "strategy_pipeline"
PREVIEW_TRADE_PLAN_JOB = "preview_trade_plan"
BROKER_POOL = "broker"
BROKER_DATA_POOL = "broker_data"
MAX_RETRIES_TAG = "dagster/max_retries"
EXECUTION_TAG = "portfolio/execution"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
TRADE_GROUP_TAG = "portfolio/trade_group"
APPROVAL_TAG = "portfolio/approval"
BASKET_WEIGHTS_SUM_TO_ONE = "basket_weights_sum_to_one"
BASKET_COVERAGE_SUFFICIENT = "basket_coverage_sufficient"
BASKET_ANALYTICS_FINITE = "basket_analytics_finite"
MARKET_BETA_IS_ONE = "market_beta_is_one"
BETAS_WITHIN_CAP = "betas_within_cap"
BETAS_R_SQUARED_IN_UNIT_INTERVAL = "betas_r_squared_in_unit_interval"
BETAS_HAVE_SUFFICIENT_DATA = "betas_have_sufficient_data"
SECTOR_WEIGHTS_SUM_TO_ONE = "sector_weights_sum_to_one"
UNCLASSIFIED_SHARE_WITHIN_LIMIT = "unclassified_share_within_limit"
EFFECTIVE_POSITIONS_AT_MOST_POSITIONS = "effective_positions_at_most_positions"
FORECASTS_WITHIN_BOUNDS = "forecasts_within_bounds"
PERCENTILES_IN_UNIT_INTERVAL = "percentiles_in_unit_interval"
PORTFOLIO_VOL_AT_MOST_WEIGHTED_VOLS = "portfolio_vol_at_most_weighted_vols"
FORECASTS_HAVE_SUFFICIENT_DATA = "forecasts_have_sufficient_data"
BENCHMARK_IN_FORCE = "benchmark_in_force"
SYMBOLS_FRESH = "symbols_fresh"
STALE_STATUS = "stale"

DEFAULT_MIN_COVERAGE = 0.95
DEFAULT_MAX_STALE_SESSIONS = 3
DEFAULT_LOOKBACK_DAYS = 252
DEFAULT_MIN_HISTORY = 60
DEFAULT_MAX_MISSING_FRACTION = 0.1
DEFAULT_EXTREME_RETURN = 0.5
DEFAULT_BASKET_WINDOW_DAYS = 1260
BASKET_COVERAGE_WARN_BELOW = 0.8
BASKET_COVERAGE_FAIL_BELOW = 0.5

BETA_METHOD = "ols"
DEFAULT_BENCHMARK = "SP500"
DEFAULT_RISK_HISTORY_DAYS = 756
SHORT_VOL_WINDOW = 21
LONG_VOL_WINDOW = 63
PERCENTILE_LOOKBACK = 252
PORTFOLIO_KIND = "portfolio"
SYMBOL_KIND = "symbol"
MARKET_SELF_BETA_TOLERANCE = 1e-9
SECTOR_SUM_TOLERANCE = 0.005
MAX_UNCLASSIFIED_SHARE = 0.05
DEMO_RISK_WINDOW = 63

SIMULATED_NOTICE = "SIMULATED demo market: these numbers are not real market data"
