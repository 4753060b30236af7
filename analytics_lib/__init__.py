"""Pure portfolio analytics: pandas/numpy/statsmodels/cvxpy in, pandas/numpy out.

Nothing in this package imports dagster, a database driver, an HTTP client or a broker API,
reads the environment or touches the file system. Functions validate their inputs at the
boundary and raise :class:`analytics_lib.exceptions.AnalyticsError` (a ``ValueError``) naming
the offending argument.
"""
