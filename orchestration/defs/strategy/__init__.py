"""Strategy: the investment process that ends in a trade plan — the ETF universe, factor
scores, the cvxpy target portfolio, a walk-forward backtest and the trade plan against the
live book (with its state snapshot, ``store``); the job that runs it for a day, the preview
job and the sensor that turns each plan into a preview trade group."""
