"""Portfolio Pipeline's Dagster code location and everything with side effects."""
