"""Dagster resources: the app database, market data sources and brokers."""
