"""Risk: position betas, portfolio beta and returns, sector exposure, concentration,
volatility forecasts and the daily snapshot; their checks and the risk backfill job."""
