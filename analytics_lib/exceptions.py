"""Errors raised by :mod:`analytics_lib`.

Every error is a ``ValueError`` subclass whose message names the offending argument, so callers
(assets, the CLI) can show it to the user unchanged.
"""


class AnalyticsError(ValueError):
    """Invalid input to an analytics function; the message names the argument."""


class InsufficientDataError(AnalyticsError):
    """Not enough observations to compute a statistic."""


class OptimizationError(AnalyticsError):
    """A convex optimisation did not reach an optimal solution."""
