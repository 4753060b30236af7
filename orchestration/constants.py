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

PRICES_UNIQUE_KEYS = "prices_unique_keys"
PRICES_POSITIVE_CLOSES = "prices_positive_closes"
PRICES_COVER_UNIVERSE = "prices_cover_universe"
PRICES_FRESH = "prices_fresh"
RETURNS_FINITE = "returns_finite"

DEFAULT_MIN_COVERAGE = 0.95
DEFAULT_MAX_STALE_WEEKDAYS = 3
DEFAULT_LOOKBACK_DAYS = 252
DEFAULT_MIN_HISTORY = 60
DEFAULT_MAX_MISSING_FRACTION = 0.1
DEFAULT_EXTREME_RETURN = 0.5

SIMULATED_NOTICE = "SIMULATED demo market: these numbers are not real market data"
