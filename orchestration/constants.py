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

PRICES_UNIQUE_KEYS = "prices_unique_keys"
PRICES_POSITIVE_CLOSES = "prices_positive_closes"
PRICES_COVER_UNIVERSE = "prices_cover_universe"
PRICES_FRESH = "prices_fresh"
RETURNS_FINITE = "returns_finite"
BROKER_POSITIONS_RECONCILED = "broker_positions_reconciled"

PREVIEW_BASKET_TRADE_JOB = "preview_basket_trade"
APPROVE_BASKET_TRADE_JOB = "approve_basket_trade"
EXECUTE_BASKET_TRADE_JOB = "execute_basket_trade"
CANCEL_BASKET_TRADE_JOB = "cancel_basket_trade"
RECONCILE_BROKER_POSITIONS_JOB = "reconcile_broker_positions"
TRADE_APPROVAL_SENSOR = "trade_approval_sensor"
TRADE_PLAN_SENSOR = "trade_plan_sensor"
TRADE_PLAN_ASSET = "trade_plan"
BROKER_POOL = "broker"
EXECUTION_TAG = "portfolio/execution"
TRADE_GROUP_TAG = "portfolio/trade_group"
APPROVAL_TAG = "portfolio/approval"
BASKET_WEIGHTS_SUM_TO_ONE = "basket_weights_sum_to_one"
BASKET_COVERAGE_SUFFICIENT = "basket_coverage_sufficient"
BASKET_ANALYTICS_FINITE = "basket_analytics_finite"

DEFAULT_MIN_COVERAGE = 0.95
DEFAULT_MAX_STALE_WEEKDAYS = 3
DEFAULT_LOOKBACK_DAYS = 252
DEFAULT_MIN_HISTORY = 60
DEFAULT_MAX_MISSING_FRACTION = 0.1
DEFAULT_EXTREME_RETURN = 0.5
DEFAULT_BASKET_WINDOW_DAYS = 1260
BASKET_COVERAGE_WARN_BELOW = 0.8
BASKET_COVERAGE_FAIL_BELOW = 0.5

SIMULATED_NOTICE = "SIMULATED demo market: these numbers are not real market data"
