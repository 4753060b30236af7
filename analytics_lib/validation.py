"""Boundary validators: each raises :class:`AnalyticsError` naming the argument."""

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from analytics_lib._typing import FloatArray
from analytics_lib.exceptions import AnalyticsError


def require_frame(value: object, name: str) -> pd.DataFrame:
    """Return ``value`` if it is a DataFrame, else raise naming ``name``."""
    if not isinstance(value, pd.DataFrame):
        raise AnalyticsError(f"{name} must be a pandas DataFrame, got {type(value).__name__}")
    return value


def require_series(value: object, name: str) -> pd.Series:
    """Return ``value`` if it is a Series, else raise naming ``name``."""
    if not isinstance(value, pd.Series):
        raise AnalyticsError(f"{name} must be a pandas Series, got {type(value).__name__}")
    return value


def require_columns(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    """Raise unless every column in ``columns`` is present in ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AnalyticsError(f"{name} is missing column(s): {', '.join(missing)}")


def require_date_index(obj: pd.DataFrame | pd.Series, name: str) -> None:
    """Raise unless ``obj`` has a sorted, unique, tz-naive ``DatetimeIndex``."""
    index = obj.index
    if not isinstance(index, pd.DatetimeIndex):
        raise AnalyticsError(f"{name} must be indexed by dates (DatetimeIndex)")
    if index.tz is not None:
        raise AnalyticsError(f"{name} must have a tz-naive DatetimeIndex")
    if not index.is_monotonic_increasing:
        raise AnalyticsError(f"{name} dates must be sorted ascending")
    if index.has_duplicates:
        dup = index[index.duplicated()][0]
        raise AnalyticsError(f"{name} has duplicate date {dup.date().isoformat()}")


def require_returns_panel(panel: object, name: str = "returns") -> pd.DataFrame:
    """Validate a dates x symbols returns panel (see ``_typing.ReturnsPanel``)."""
    frame = require_frame(panel, name)
    require_date_index(frame, name)
    if frame.columns.has_duplicates:
        dup = frame.columns[frame.columns.duplicated()][0]
        raise AnalyticsError(f"{name} has duplicate symbol column {dup!r}")
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(values).any():
        raise AnalyticsError(f"{name} contains infinite values")
    return frame


def require_positive_int(value: object, name: str, minimum: int = 1) -> int:
    """Return ``value`` if it is an int >= ``minimum``, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise AnalyticsError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise AnalyticsError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def require_fraction(value: object, name: str, *, allow_zero: bool = True) -> float:
    """Return ``value`` as float if it lies in [0, 1] (or (0, 1]), else raise."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise AnalyticsError(f"{name} must be a number in [0, 1], got {value!r}")
    number = float(value)
    low_ok = number >= 0.0 if allow_zero else number > 0.0
    if not (np.isfinite(number) and low_ok and number <= 1.0):
        bound = "[0, 1]" if allow_zero else "(0, 1]"
        raise AnalyticsError(f"{name} must be in {bound}, got {value!r}")
    return number


def require_finite_number(value: object, name: str, *, positive: bool = False) -> float:
    """Return ``value`` as float if it is a finite real number (and > 0 when ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise AnalyticsError(f"{name} must be a real number, got {value!r}")
    number = float(value)
    if not np.isfinite(number):
        raise AnalyticsError(f"{name} must be finite, got {value!r}")
    if positive and number <= 0.0:
        raise AnalyticsError(f"{name} must be > 0, got {value!r}")
    return number


def require_unique_index(obj: pd.DataFrame | pd.Series, name: str) -> None:
    """Raise unless the index (and, for a DataFrame, the columns) of ``obj`` are unique."""
    if obj.index.has_duplicates:
        dups = sorted({str(label) for label in obj.index[obj.index.duplicated()]})
        raise AnalyticsError(f"{name} has duplicate index label(s): {', '.join(dups)}")
    if isinstance(obj, pd.DataFrame) and obj.columns.has_duplicates:
        dups = sorted({str(label) for label in obj.columns[obj.columns.duplicated()]})
        raise AnalyticsError(f"{name} has duplicate column(s): {', '.join(dups)}")


def require_float_values(obj: pd.DataFrame | pd.Series, name: str) -> FloatArray:
    """Return the values of ``obj`` as a float64 array (NaN kept), else raise naming ``name``."""
    try:
        return obj.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise AnalyticsError(f"{name} must hold numbers: {exc}") from None


def require_date(value: object, name: str) -> dt.date:
    """Return ``value`` if it is a calendar ``datetime.date``, else raise naming ``name``.

    ``datetime.datetime`` (and so ``pandas.Timestamp``) is rejected rather than truncated: pass
    ``value.date()`` explicitly.
    """
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise AnalyticsError(
            f"{name} must be a datetime.date (not a datetime or Timestamp), "
            f"got {type(value).__name__}"
        )
    return value


def require_returns_values(panel: object, name: str = "returns") -> tuple[pd.DataFrame, FloatArray]:
    """Validate a non-empty returns panel and return it with its values as float64.

    Same contract as :func:`require_returns_panel` (sorted unique tz-naive dates, unique symbol
    columns, no infinities), plus at least one row and one column and numeric values only. The
    values are converted once (``NaN`` kept) so hot paths do not convert twice.
    """
    frame = require_frame(panel, name)
    require_date_index(frame, name)
    if frame.columns.has_duplicates:
        dup = frame.columns[frame.columns.duplicated()][0]
        raise AnalyticsError(f"{name} has duplicate symbol column {dup!r}")
    if frame.shape[0] == 0:
        raise AnalyticsError(f"{name} has no rows (dates)")
    if frame.shape[1] == 0:
        raise AnalyticsError(f"{name} has no columns (symbols)")
    values = require_float_values(frame, name)
    if np.isinf(values).any():
        raise AnalyticsError(f"{name} contains infinite values")
    return frame, values


def require_weights(value: object, name: str = "weights") -> pd.Series:
    """Return a float64 copy of a Series of finite weights with unique labels, else raise.

    Used for symbol -> weight Series (market value / net equity; shorts negative). The input is
    never modified; the copy keeps the index and name.
    """
    series = require_series(value, name)
    if series.index.has_duplicates:
        dups = sorted({str(label) for label in series.index[series.index.duplicated()]})
        raise AnalyticsError(f"{name} has duplicate symbol(s): {', '.join(dups)}")
    numbers = require_float_values(series, name)
    bad = ~np.isfinite(numbers)
    if bad.any():
        labels = ", ".join(str(s) for s in series.index[bad][:10])
        raise AnalyticsError(f"{name} has missing or non-finite weight(s) for: {labels}")
    return pd.Series(numbers, index=series.index.copy(), name=series.name)
