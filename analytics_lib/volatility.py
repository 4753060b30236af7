"""Realized volatility, HAR volatility forecasts, trend, percentile and forecast evaluation.

Currently implemented
---------------------
:func:`realized_volatility`, :func:`rolling_realized_volatility`
    :math:`\\sqrt{252/n\\,\\sum r^2}` over the last ``window`` rows (DESIGN.md section 6).
:func:`har_design`, :func:`har_forecast`
    The HAR model of Corsi (2009) on daily squared returns, fitted per symbol (batched) on the
    symbol's own history up to the forecast origin and forecast over the next ``horizon`` days.
:func:`volatility_trend`, :func:`volatility_percentile`
    Direction/strength of the volatility trend and where current volatility sits in its year.
:func:`evaluate_volatility_forecasts`, :func:`mse_loss`, :func:`qlike_loss`
    Rolling-origin out-of-sample comparison of HAR against the naive forecast.

Units: ``*_variance`` and HAR components are *daily* variances (mean squared daily simple
returns); ``*_vol`` are annualised volatilities :math:`\\sqrt{252\\,\\sigma^2_{daily}}`.
Windows are rows (trading days) of the returns panel.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Final, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from analytics_lib._typing import TRADING_DAYS_PER_YEAR, FloatArray, ReturnsPanel
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.validation import (
    require_date_index,
    require_finite_number,
    require_float_values,
    require_positive_int,
    require_returns_values,
    require_series,
)

__all__ = [
    "CAP_REASONS",
    "HAR_COLUMNS",
    "HAR_STATUSES",
    "TREND_LABELS",
    "evaluate_volatility_forecasts",
    "har_design",
    "har_forecast",
    "mse_loss",
    "qlike_loss",
    "realized_volatility",
    "rolling_har_forecast",
    "rolling_realized_volatility",
    "rolling_volatility_percentile",
    "volatility_percentile",
    "volatility_trend",
]

HAR_WEEK: Final = 5
HAR_MONTH: Final = 22
DEFAULT_HORIZON: Final = 21
DEFAULT_HAR_MIN_OBSERVATIONS: Final = 100
DEFAULT_MIN_VOL: Final = 0.01
DEFAULT_MAX_VOL: Final = 3.0
MIN_WINDOW_FRACTION: Final = 0.8
"""A window statistic needs at least ceil(0.8 * window) finite returns (see each function)."""

HAR_STATUSES: Final[tuple[str, ...]] = (
    "ok",
    "insufficient_data",
    "missing_components",
    "degenerate",
)
CAP_REASONS: Final[tuple[str, ...]] = ("none", "non_positive", "above_max", "below_sample")
TREND_LABELS: Final[tuple[str, ...]] = ("increasing", "decreasing", "stable")

HAR_COLUMNS: Final[tuple[str, ...]] = (
    "forecast_variance",
    "forecast_vol",
    "forecast_variance_raw",
    "capped",
    "cap_reason",
    "beta_0",
    "beta_1",
    "beta_2",
    "beta_3",
    "r_squared",
    "observations",
    "rv_daily",
    "rv_weekly",
    "rv_monthly",
    "status",
)
"""Columns of :func:`har_forecast`."""

_OK, _INSUFFICIENT, _MISSING, _DEGENERATE = 0, 1, 2, 3
_BLOCK_CELLS: Final = 1 << 17
_DEGENERATE_EIGENVALUE: Final = 1e-12

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------------------------
# realized volatility


def _min_count(window: int, min_periods: int | None, name: str = "min_periods") -> int:
    if min_periods is None:
        return math.ceil(MIN_WINDOW_FRACTION * window)
    count = require_positive_int(min_periods, name)
    if count > window:
        raise AnalyticsError(f"{name} ({count}) must be <= window ({window})")
    return count


def _returns_input(returns: object, name: str = "returns") -> tuple[pd.DataFrame, bool]:
    """Accept a returns panel or a single date-indexed return Series (as a 1-column panel)."""
    if isinstance(returns, pd.Series):
        require_date_index(returns, name)
        frame = returns.to_frame(name=returns.name if returns.name is not None else 0)
        require_returns_values(frame, name)
        return frame, True
    frame, _ = require_returns_values(returns, name)
    return frame, False


def _rolling_mean_square(values: FloatArray, window: int, min_count: int) -> FloatArray:
    """Mean of the finite r^2 over each trailing ``window`` rows; NaN below ``min_count``."""
    n_rows = values.shape[0]
    finite = np.isfinite(values)
    squares = np.where(finite, values * values, 0.0)
    cum = np.zeros((n_rows + 1, *values.shape[1:]))
    np.cumsum(squares, axis=0, out=cum[1:])
    counts = np.zeros((n_rows + 1, *values.shape[1:]), dtype=np.int64)
    np.cumsum(finite, axis=0, out=counts[1:])
    lag = np.maximum(np.arange(1, n_rows + 1) - window, 0)
    total = cum[1:] - cum[lag]
    n = counts[1:] - counts[lag]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.maximum(total, 0.0) / n
    mean[n < min_count] = np.nan
    return mean


def rolling_realized_volatility(
    returns: ReturnsPanel | pd.Series, window: int, *, min_periods: int | None = None
) -> pd.DataFrame | pd.Series:
    """Annualised realized volatility over each trailing ``window`` rows.

    Parameters
    ----------
    returns
        Returns panel (dates x symbols) or one date-indexed return Series; ``NaN`` = no return.
    window
        Rows (trading days) per window, e.g. 21 or 63.
    min_periods
        Minimum finite returns in a window (default ``ceil(0.8 * window)``); fewer gives NaN.

    Returns
    -------
    DataFrame or Series
        Same shape and labels as ``returns``.

    Raises
    ------
    AnalyticsError
        On an invalid panel/series or window.

    Notes
    -----
    :math:`\\sigma_t = \\sqrt{\\tfrac{252}{n_t}\\sum_{s=t-w+1}^{t} r_s^2}` over the :math:`n_t`
    finite returns of the window (DESIGN.md: :math:`\\sqrt{252/w\\,\\sum r^2}` when none is
    missing). No demeaning. The value at row t uses rows up to t only.
    """
    frame, is_series = _returns_input(returns)
    win = require_positive_int(window, "window")
    min_count = _min_count(win, min_periods)
    values = require_float_values(frame, "returns")
    vol = np.sqrt(TRADING_DAYS_PER_YEAR * _rolling_mean_square(values, win, min_count))
    out = pd.DataFrame(vol, index=frame.index, columns=frame.columns)
    return out.iloc[:, 0].rename(frame.columns[0]) if is_series else out


@overload
def realized_volatility(
    returns: pd.Series, window: int, *, min_periods: int | None = None
) -> float: ...
@overload
def realized_volatility(
    returns: ReturnsPanel, window: int, *, min_periods: int | None = None
) -> pd.Series: ...
def realized_volatility(
    returns: ReturnsPanel | pd.Series, window: int, *, min_periods: int | None = None
) -> pd.Series | float:
    """Annualised realized volatility over the last ``window`` rows.

    Parameters
    ----------
    returns
        Returns panel (dates x symbols) or one date-indexed return Series (e.g. the column
        ``return`` of :func:`analytics_lib.portfolio.portfolio_returns`).
    window
        Rows (trading days), e.g. 21 or 63.
    min_periods
        Minimum finite returns among the last ``window`` rows (default ``ceil(0.8 * window)``).

    Returns
    -------
    Series or float
        Per symbol (Series named ``realized_vol``) for a panel, a float for a Series; NaN where
        fewer than ``min_periods`` returns are finite.

    Raises
    ------
    AnalyticsError
        On an invalid panel/series or window.

    Notes
    -----
    :math:`\\sigma = \\sqrt{\\tfrac{252}{n}\\sum r_t^2}` over the :math:`n` finite returns of
    the last ``window`` rows (the as-of date is the last row). Because this is a root mean
    square, the vol of a long-only book's return series is at most the weighted sum of its
    holdings' vols (Minkowski) when every holding has every return; portfolio vol must come from
    the portfolio's own return series, never from weighting position vols.
    """
    frame, is_series = _returns_input(returns)
    win = require_positive_int(window, "window")
    min_count = _min_count(win, min_periods)
    values = require_float_values(frame.iloc[-win:], "returns")
    finite = np.isfinite(values)
    n = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_square = np.where(finite, values * values, 0.0).sum(axis=0) / n
    vol = np.sqrt(TRADING_DAYS_PER_YEAR * mean_square)
    vol[n < min_count] = np.nan
    if is_series:
        return float(vol[0])
    return pd.Series(vol, index=pd.Index(frame.columns, name="symbol"), name="realized_vol")


@overload
def volatility_percentile(
    returns: pd.Series,
    *,
    window: int = ...,
    lookback: int = ...,
    min_periods: int | None = ...,
) -> float: ...
@overload
def volatility_percentile(
    returns: ReturnsPanel,
    *,
    window: int = ...,
    lookback: int = ...,
    min_periods: int | None = ...,
) -> pd.Series: ...
def volatility_percentile(
    returns: ReturnsPanel | pd.Series,
    *,
    window: int = 21,
    lookback: int = 252,
    min_periods: int | None = None,
) -> pd.Series | float:
    """Percentile of the current realized vol within its values over the last ``lookback`` days.

    Parameters
    ----------
    returns
        Returns panel or one return Series; the as-of date is the last row.
    window
        Realized-vol window (default 21), with the default minimum count of
        :func:`rolling_realized_volatility`.
    lookback
        Number of most recent rolling-vol values (rows) compared, current one included
        (default 252).
    min_periods
        Minimum finite rolling-vol values in the lookback (default ``lookback // 4``).

    Returns
    -------
    Series or float
        Values in (0, 1] (Series named ``vol_percentile`` per symbol, float for a Series);
        NaN when the current vol is NaN or too few values exist.

    Raises
    ------
    AnalyticsError
        On invalid input or parameters.

    Notes
    -----
    :math:`P = \\#\\{s \\in L : \\sigma_s \\le \\sigma_T\\} / \\#L` where :math:`L` is the set of
    finite rolling ``window``-day vols at the last ``lookback`` rows (including :math:`T`, so
    :math:`P \\ge 1/\\#L`, and :math:`P = 1` at a one-year high). Uses rows up to T only.
    """
    frame, is_series = _returns_input(returns)
    win = require_positive_int(window, "window")
    look = require_positive_int(lookback, "lookback")
    min_values = (
        max(1, look // 4)
        if min_periods is None
        else require_positive_int(min_periods, "min_periods")
    )
    if min_values > look:
        raise AnalyticsError(f"min_periods ({min_values}) must be <= lookback ({look})")
    values = require_float_values(frame.iloc[-(look + win - 1) :], "returns")
    mean_square = _rolling_mean_square(values, win, _min_count(win, None))[-look:]
    vols = np.sqrt(TRADING_DAYS_PER_YEAR * mean_square)
    current = vols[-1]
    finite = np.isfinite(vols)
    count = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        below = (finite & (vols <= current)).sum(axis=0)
        pct = below / count
    pct[~np.isfinite(current) | (count < min_values)] = np.nan
    if is_series:
        return float(pct[0])
    return pd.Series(pct, index=pd.Index(frame.columns, name="symbol"), name="vol_percentile")


_PERCENTILE_BLOCK_CELLS: Final = 1 << 22
"""Comparisons (as-of dates x lookback rows x symbols) held at once by
:func:`rolling_volatility_percentile`: bounds its scratch memory (~40 MB)."""


def rolling_volatility_percentile(
    returns: ReturnsPanel,
    *,
    as_of_dates: Iterable[object] | None = None,
    window: int = 21,
    lookback: int = 252,
    min_periods: int | None = None,
) -> pd.DataFrame:
    """:func:`volatility_percentile` of every symbol at many as-of dates at once.

    Parameters
    ----------
    returns
        Returns panel (dates x symbols, simple returns, ``NaN`` = missing).
    as_of_dates
        Dates of ``returns.index`` (any order, no duplicates); default every row.
    window, lookback, min_periods
        As in :func:`volatility_percentile`.

    Returns
    -------
    DataFrame
        As-of dates (sorted) x symbols (the panel's columns, axis named ``symbol``), values in
        (0, 1] or NaN.

    Raises
    ------
    AnalyticsError
        As :func:`volatility_percentile`, and when an as-of date is not in ``returns.index``
        or repeats.

    Notes
    -----
    Row :math:`T` equals ``volatility_percentile(returns.loc[:T], ...)``, and so the
    percentile of any slice of ``returns`` that ends at :math:`T` and holds at least
    ``lookback + window - 1`` rows (or starts at the first row):

    .. math:: P_T = \\frac{\\#\\{s \\in L_T : \\sigma_s \\le \\sigma_T\\}}{\\#L_T},
        \\qquad \\sigma_s = \\sqrt{\\tfrac{252}{n_s}\\sum_{u=s-w+1}^{s} r_u^2},

    with :math:`L_T` the finite :math:`\\sigma_s` of the last ``lookback`` rows up to
    :math:`T` (:func:`rolling_realized_volatility`, ``window`` :math:`w`); NaN where
    :math:`\\sigma_T` is NaN or :math:`\\#L_T` is below ``min_periods`` (default
    ``lookback // 4``). The rolling vols are computed once for the whole panel (a cumulative
    sum, so they agree with the per-date computation to rounding, ~1e-16 relative), then each
    date's lookback is compared with its current vol, vectorised over dates and symbols in
    blocks.
    """
    frame, values = require_returns_values(returns)
    win = require_positive_int(window, "window")
    look = require_positive_int(lookback, "lookback")
    min_values = (
        max(1, look // 4)
        if min_periods is None
        else require_positive_int(min_periods, "min_periods")
    )
    if min_values > look:
        raise AnalyticsError(f"min_periods ({min_values}) must be <= lookback ({look})")
    rows = _as_of_rows(frame.index, as_of_dates)
    n_symbols = frame.shape[1]
    vols = np.sqrt(TRADING_DAYS_PER_YEAR * _rolling_mean_square(values, win, _min_count(win, None)))
    # look - 1 rows of NaN on top: the lookback of an early row holds only the rows that exist
    padded = np.concatenate([np.full((look - 1, n_symbols), np.nan), vols])
    lookbacks = np.lib.stride_tricks.sliding_window_view(padded, look, axis=0)
    out = np.empty((rows.size, n_symbols))
    step = max(1, _PERCENTILE_BLOCK_CELLS // max(look * n_symbols, 1))
    for first in range(0, rows.size, step):
        block = rows[first : first + step]
        past = lookbacks[block]  # dates x symbols x lookback (a view)
        current = vols[block]
        finite = np.isfinite(past)
        count = finite.sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            below = (finite & (past <= current[:, :, None])).sum(axis=2)
            pct = below / count
        pct[~np.isfinite(current) | (count < min_values)] = np.nan
        out[first : first + step] = pct
    return pd.DataFrame(
        out,
        index=frame.index[rows],
        columns=pd.Index(frame.columns, name="symbol"),
    )


# --------------------------------------------------------------------------------------------
# HAR


def har_design(rv: pd.Series, horizon: int = DEFAULT_HORIZON) -> pd.DataFrame:
    """The HAR regression design of one daily realized-variance series (reference form).

    Parameters
    ----------
    rv
        Date-indexed daily realized variance, here :math:`RV_t = r_t^2` (``NaN`` = missing).
    horizon
        Forecast horizon :math:`h` in rows (default 21).

    Returns
    -------
    DataFrame
        Same index as ``rv``; columns ``daily`` :math:`RV_t`, ``weekly``
        :math:`\\frac15\\sum_{j=0}^{4} RV_{t-j}`, ``monthly``
        :math:`\\frac1{22}\\sum_{j=0}^{21} RV_{t-j}` and ``target``
        :math:`\\frac1h\\sum_{j=1}^{h} RV_{t+j}`; a value is NaN unless every RV it averages
        exists. Rows with all four finite are the regression sample.

    Raises
    ------
    AnalyticsError
        When ``rv`` is not a date-indexed numeric Series or ``horizon`` < 1.

    Notes
    -----
    A plain pandas rendering of the design that :func:`har_forecast` builds in batch, meant for
    inspection and as an independent oracle in tests. Components at t use rows <= t only; the
    target looks forward, so a row t is usable for a fit at origin T only when t + h <= T.
    """
    series = require_series(rv, "rv")
    require_date_index(series, "rv")
    h = require_positive_int(horizon, "horizon")
    values = pd.Series(require_float_values(series, "rv"), index=series.index)
    return pd.DataFrame(
        {
            "daily": values,
            "weekly": values.rolling(HAR_WEEK, min_periods=HAR_WEEK).mean(),
            "monthly": values.rolling(HAR_MONTH, min_periods=HAR_MONTH).mean(),
            "target": values.rolling(h, min_periods=h).mean().shift(-h),
        },
        index=series.index,
    )


class _HarArrays:
    """Batched HAR components and targets of a (block of a) returns panel."""

    def __init__(self, returns: FloatArray, horizon: int) -> None:
        n_rows = returns.shape[0]
        rv = returns * returns
        finite = np.isfinite(rv)
        cum = np.zeros((n_rows + 1, returns.shape[1]))
        np.cumsum(np.where(finite, rv, 0.0), axis=0, out=cum[1:])
        counts = np.zeros((n_rows + 1, returns.shape[1]), dtype=np.int32)
        np.cumsum(finite, axis=0, out=counts[1:])
        self.daily = rv
        self.weekly = self._window_mean(cum, counts, HAR_WEEK, 0)
        self.monthly = self._window_mean(cum, counts, HAR_MONTH, 0)
        self.target = self._window_mean(cum, counts, horizon, horizon)
        self.horizon = horizon

    @staticmethod
    def _window_mean(
        cum: FloatArray, counts: npt.NDArray[np.int32], length: int, lead: int
    ) -> FloatArray:
        """Mean of rows t + lead - length + 1 .. t + lead when all finite, else NaN."""
        n_rows = cum.shape[0] - 1
        out = np.full((n_rows, cum.shape[1]), np.nan)
        first = max(length - 1 - lead, 0)
        last = n_rows - 1 - lead
        if last >= first:
            end = np.arange(first, last + 1) + lead + 1
            total = cum[end] - cum[end - length]
            full = counts[end] - counts[end - length] == length
            out[first : last + 1] = np.where(full, total / length, np.nan)
        return out

    def fit(
        self, origin: int, start: int, min_obs: int, min_vol: float, max_vol: float
    ) -> dict[str, Any]:
        """Fit on rows start+21 .. origin-h and forecast from the components at ``origin``."""
        lo = start + HAR_MONTH - 1
        hi = origin - self.horizon
        n_cols = self.daily.shape[1]
        rows = slice(lo, max(hi + 1, lo))
        d, w, m, y = (a[rows] for a in (self.daily, self.weekly, self.monthly, self.target))
        sample = np.isfinite(d) & np.isfinite(w) & np.isfinite(m) & np.isfinite(y)
        n = sample.sum(axis=0)
        safe_n = np.maximum(n, 1)
        centred = []
        means = []
        for values in (d, w, m, y):
            mean = np.where(sample, values, 0.0).sum(axis=0) / safe_n
            means.append(mean)
            centred.append(np.where(sample, values - mean, 0.0))
        cd, cw, cm, cy = centred
        xs = (cd, cw, cm)
        gram = np.empty((n_cols, 3, 3))
        for i in range(3):
            for j in range(i, 3):
                gram[:, i, j] = gram[:, j, i] = np.einsum("ts,ts->s", xs[i], xs[j])
        cross = np.stack([np.einsum("ts,ts->s", x, cy) for x in xs], axis=1)
        syy = np.einsum("ts,ts->s", cy, cy)
        comp = np.stack([self.daily[origin], self.weekly[origin], self.monthly[origin]], axis=1)
        sample_min = np.where(sample, y, np.inf).min(axis=0, initial=np.inf)
        moments = _HarMoments(n, np.stack(means, axis=1), gram, cross, syy, sample_min)
        return _har_solution(moments, comp, min_obs, min_vol, max_vol)[0]


class _HarMoments:
    """Centred sums of the HAR regression sample of each cell (leading axis: cells).

    ``means`` holds the sample means of (daily, weekly, monthly, target), ``gram`` the centred
    cross products of the three regressors, ``cross`` their centred products with the target,
    ``syy`` the target's centred sum of squares and ``sample_min`` the smallest target.
    """

    __slots__ = ("cross", "gram", "means", "n", "sample_min", "syy")

    def __init__(
        self,
        n: IntArray,
        means: FloatArray,
        gram: FloatArray,
        cross: FloatArray,
        syy: FloatArray,
        sample_min: FloatArray,
    ) -> None:
        self.n = n
        self.means = means
        self.gram = gram
        self.cross = cross
        self.syy = syy
        self.sample_min = sample_min


def _har_solution(
    moments: _HarMoments, comp: FloatArray, min_obs: int, min_vol: float, max_vol: float
) -> tuple[dict[str, Any], FloatArray]:
    """Coefficients, status and capped forecast of every cell from its sample moments and its
    components at the origin ``comp`` (cells x (daily, weekly, monthly)), and the smallest
    eigenvalue of each cell's regressor correlation matrix (-1 where there was none to solve).
    """
    n, gram, cross, syy = moments.n, moments.gram, moments.cross, moments.syy
    n_cols = n.shape[0]
    status = np.full(n_cols, _OK, dtype=np.int8)
    scale = np.sqrt(np.einsum("sii->si", gram))
    fit_ok = n >= min_obs
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = gram / (scale[:, :, None] * scale[:, None, :])
    usable = fit_ok & (scale > 0.0).all(axis=1) & (syy > 0.0)
    eig_min = np.full(n_cols, -1.0)
    if usable.any():
        eig_min[usable] = np.linalg.eigvalsh(corr[usable])[:, 0]
    solvable = usable & (eig_min > _DEGENERATE_EIGENVALUE)
    status[fit_ok & ~solvable] = _DEGENERATE
    status[~fit_ok] = _INSUFFICIENT

    slopes = np.full((n_cols, 3), np.nan)
    if solvable.any():
        rhs = cross[solvable] / scale[solvable]
        z = np.linalg.solve(corr[solvable], rhs[:, :, None])[:, :, 0]
        slopes[solvable] = z / scale[solvable]
    intercept = moments.means[:, 3] - (slopes * moments.means[:, :3]).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r_squared = np.clip((slopes * cross).sum(axis=1) / syy, 0.0, 1.0)
    r_squared[~solvable] = np.nan
    intercept[~solvable] = np.nan

    has_components = np.isfinite(comp).all(axis=1)
    status[solvable & ~has_components] = _MISSING
    ok = status == _OK
    raw = intercept + (slopes * comp).sum(axis=1)
    raw[~ok] = np.nan
    vol, capped, reason = _cap_forecast(raw, ok, min_vol, max_vol, comp[:, 2], moments.sample_min)
    result = {
        "forecast_variance": vol * vol / TRADING_DAYS_PER_YEAR,
        "forecast_vol": vol,
        "forecast_variance_raw": raw,
        "capped": capped,
        "cap_reason": reason,
        "beta_0": intercept,
        "beta_1": slopes[:, 0],
        "beta_2": slopes[:, 1],
        "beta_3": slopes[:, 2],
        "r_squared": r_squared,
        "observations": n.astype(np.int64),
        "rv_daily": comp[:, 0],
        "rv_weekly": comp[:, 1],
        "rv_monthly": comp[:, 2],
        "status": status,
    }
    return result, eig_min


def _cap_forecast(
    raw: FloatArray,
    ok: BoolArray,
    min_vol: float,
    max_vol: float,
    fallback: FloatArray,
    sample_min: FloatArray,
) -> tuple[FloatArray, BoolArray, npt.NDArray[np.int8]]:
    """Annualised vol from a daily variance, clipped into [min_vol, max_vol].

    A ``raw`` variance that is non-positive, or below ``sample_min`` (the smallest target of the
    fit sample), is replaced by ``fallback`` (the monthly component at the origin) before
    clipping.
    """
    with np.errstate(invalid="ignore"):
        non_positive = ok & (raw <= 0.0)
        below = ok & ~non_positive & (raw < sample_min)
        replaced = non_positive | below
        variance = np.where(replaced, fallback, raw)
        vol = np.sqrt(TRADING_DAYS_PER_YEAR * np.where(ok, variance, 1.0))
        above = ok & ~replaced & (vol > max_vol)
    vol[replaced] = np.clip(vol[replaced], min_vol, max_vol)
    vol[above] = max_vol
    vol[~ok] = np.nan
    reason = np.zeros(raw.shape, dtype=np.int8)
    reason[non_positive] = 1
    reason[above] = 2
    reason[below] = 3
    return vol, replaced | above, reason


def _validate_har(
    horizon: object,
    min_observations: object,
    max_history: object,
    min_vol: object,
    max_vol: object,
) -> tuple[int, int, int | None, float, float]:
    h = require_positive_int(horizon, "horizon")
    min_obs = require_positive_int(min_observations, "min_observations", minimum=5)
    history = None if max_history is None else require_positive_int(max_history, "max_history")
    floor = require_finite_number(min_vol, "min_vol", positive=True)
    ceiling = require_finite_number(max_vol, "max_vol", positive=True)
    if floor > ceiling:
        raise AnalyticsError(f"min_vol ({floor}) must be <= max_vol ({ceiling})")
    return h, min_obs, history, floor, ceiling


def _har_frame(parts: dict[str, FloatArray], columns: pd.Index) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for name in HAR_COLUMNS:
        if name == "status":
            data[name] = pd.Categorical.from_codes(parts[name], categories=list(HAR_STATUSES))
        elif name == "cap_reason":
            data[name] = pd.Categorical.from_codes(parts[name], categories=list(CAP_REASONS))
        else:
            data[name] = parts[name]
    return pd.DataFrame(data, index=pd.Index(columns, name="symbol"))


def _blocks(n_rows: int, n_cols: int) -> Iterable[slice]:
    width = max(1, _BLOCK_CELLS // max(n_rows, 1))
    for first in range(0, n_cols, width):
        yield slice(first, min(first + width, n_cols))


def har_forecast(
    returns: ReturnsPanel,
    *,
    horizon: int = DEFAULT_HORIZON,
    min_observations: int = DEFAULT_HAR_MIN_OBSERVATIONS,
    max_history: int | None = None,
    as_of: object | None = None,
    min_vol: float = DEFAULT_MIN_VOL,
    max_vol: float = DEFAULT_MAX_VOL,
) -> pd.DataFrame:
    """HAR forecast of each symbol's mean daily variance over the next ``horizon`` days.

    Parameters
    ----------
    returns
        Returns panel (dates x symbols, simple returns, ``NaN`` = missing).
    horizon
        :math:`h`, rows ahead (default 21).
    min_observations
        Minimum usable regression rows per symbol (default 100, >= 5).
    max_history
        Use only the last ``max_history`` rows up to the origin (default: all).
    as_of
        Forecast origin, a date of ``returns.index`` (default: the last row). Rows after it
        are ignored.
    min_vol, max_vol
        Annualised floor (default 0.01) and cap (default 3.0) of the forecast.

    Returns
    -------
    DataFrame
        Indexed by ``symbol`` with the columns of :data:`HAR_COLUMNS`:
        ``forecast_variance`` (daily, after capping, ``forecast_vol**2/252``),
        ``forecast_vol`` (annualised, in (0, ``max_vol``]), ``forecast_variance_raw``
        (:math:`\\hat y`, may be <= 0), ``capped`` (bool), ``cap_reason`` (categorical
        ``none`` | ``non_positive`` | ``above_max`` | ``below_sample``), ``beta_0``..``beta_3``
        (intercept,
        daily, weekly, monthly), ``r_squared`` (in-sample), ``observations`` (regression
        rows), ``rv_daily``/``rv_weekly``/``rv_monthly`` (components at the origin, daily
        variance) and ``status`` (categorical ``ok`` | ``insufficient_data`` (fewer than
        ``min_observations`` rows) | ``missing_components`` (a return among the last 22 rows
        is missing, so no forecast) | ``degenerate`` (collinear or constant design)).
        Forecast columns are NaN unless ``ok``; coefficients and R² are reported whenever the
        fit succeeded.

    Raises
    ------
    AnalyticsError
        On an invalid panel, ``as_of`` not in the index, or invalid parameters.

    Notes
    -----
    With :math:`RV_t = r_t^2`, :math:`d_t = RV_t`, :math:`w_t = \\frac15\\sum_{j=0}^4
    RV_{t-j}`, :math:`m_t = \\frac1{22}\\sum_{j=0}^{21} RV_{t-j}` and target
    :math:`y_t = \\frac1h\\sum_{j=1}^h RV_{t+j}`, OLS of

    .. math:: y_t = \\beta_0 + \\beta_1 d_t + \\beta_2 w_t + \\beta_3 m_t + \\varepsilon_t

    on the rows :math:`t` with every term defined and :math:`t + h \\le T` (origin
    :math:`T`), then :math:`\\hat y_T = \\hat\\beta_0 + \\hat\\beta_1 d_T + \\hat\\beta_2 w_T +
    \\hat\\beta_3 m_T` and ``forecast_vol`` :math:`= \\sqrt{252\\,\\hat y_T}`, clipped:
    values above ``max_vol`` give ``max_vol``, and a prediction below every target of the fit
    sample, :math:`\\hat y_T < \\min_t y_t` (``below_sample``), or :math:`\\hat y_T \\le 0`
    (``non_positive``) — the linear model extrapolating beyond its data, typically right after
    a volatility spike — is replaced by the monthly component :math:`m_T`, the origin's own
    22-day level (an "insanity filter", as used in realized-volatility forecasting), kept
    within [``min_vol``, ``max_vol``] (``capped`` and ``cap_reason`` say which;
    ``forecast_variance_raw`` keeps :math:`\\hat y_T`). Keeping such a near-zero forecast (or
    flooring it at ``min_vol``) would give a QLIKE loss that dwarfs every other forecast's.
    No look-ahead: nothing after the origin enters the fit, the components or any scaling, so
    a forecast made at T does not change when data after T changes. Solved
    per symbol by batched centred, correlation-scaled normal equations (no per-symbol loop).
    """
    frame, values = require_returns_values(returns)
    h, min_obs, history, floor, ceiling = _validate_har(
        horizon, min_observations, max_history, min_vol, max_vol
    )
    origin = _origin_position(frame.index, as_of)
    start = 0 if history is None else max(0, origin + 1 - history)
    values = values[start : origin + 1]
    parts: dict[str, Any] = {}
    for cols in _blocks(*values.shape):
        block = _HarArrays(np.ascontiguousarray(values[:, cols]), h)
        result = block.fit(values.shape[0] - 1, 0, min_obs, floor, ceiling)
        for name, arr in result.items():
            parts.setdefault(name, []).append(arr)
    merged = {name: np.concatenate(arrs) for name, arrs in parts.items()}
    return _har_frame(merged, frame.columns)


def _origin_position(index: pd.DatetimeIndex, as_of: object | None) -> int:
    if as_of is None:
        return len(index) - 1
    try:
        stamp = pd.Timestamp(as_of)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise AnalyticsError(f"as_of must be a date: {exc}") from None
    if stamp not in index:
        raise AnalyticsError(f"as_of {stamp.date().isoformat()} is not a date of returns")
    return int(index.get_loc(stamp))


_PAIRS: Final[tuple[tuple[int, int], ...]] = (
    (0, 0),
    (0, 1),
    (0, 2),
    (1, 1),
    (1, 2),
    (2, 2),
    (0, 3),
    (1, 3),
    (2, 3),
    (3, 3),
)
"""Products of (daily, weekly, monthly, target) whose window sums the rolling HAR needs."""
_HAR_DTYPES: Final[dict[str, type]] = {
    "capped": np.bool_,
    "cap_reason": np.int8,
    "observations": np.int64,
    "status": np.int8,
}
"""Columns of :data:`HAR_COLUMNS` that are not float64 (before the categoricals)."""
_HAR_REFIT_BELOW: Final = 1e-3
"""Rounding of a rolling cell's window sums is amplified by 1/r (r: the smallest fraction of a
term's cumulative sum of squares its centred window sum retains; cancellation) and then by
1/λ (λ: the smallest eigenvalue of the regressors' correlation matrix; collinearity). A cell
with r·λ below this bound, which would differ from the exact fit by more than ~1e-12 relative,
is refitted exactly from its window, as is every cell without a usable design (λ = -1)."""


class _RollingHar:
    """Cumulative sums of the shifted HAR terms of a (block of a) panel: the regression moments
    of any window of rows are two look-ups; the smallest target of a window is a sparse-table
    range-minimum query."""

    def __init__(self, values: FloatArray, horizon: int) -> None:
        arrays = _HarArrays(values, horizon)
        terms = (arrays.daily, arrays.weekly, arrays.monthly, arrays.target)
        sample = np.isfinite(terms[0])
        for term in terms[1:]:
            sample &= np.isfinite(term)
        n_rows, n_cols = sample.shape
        safe_total = np.maximum(sample.sum(axis=0), 1)
        # per-column shifts (sample means): a numerical device only, OLS is shift invariant
        self.shift = np.stack(
            [np.where(sample, term, 0.0).sum(axis=0) / safe_total for term in terms], axis=1
        )
        shifted = np.stack([np.where(sample, terms[k] - self.shift[:, k], 0.0) for k in range(4)])
        # cum[q, r] = sum over rows < r of quantity q: count, 4 terms, then the _PAIRS products
        cum = np.zeros((5 + len(_PAIRS), n_rows + 1, n_cols))
        cum[0, 1:] = sample
        cum[1:5, 1:] = shifted
        for q, (i, j) in enumerate(_PAIRS):
            np.multiply(shifted[i], shifted[j], out=cum[5 + q, 1:])
        np.cumsum(cum, axis=1, out=cum)
        self.cum = cum
        self.arrays = arrays
        # minima[k][r] = smallest sample target on rows r .. r + 2**k - 1
        minima = [np.where(sample, arrays.target, np.inf)]
        while 2 ** len(minima) <= n_rows:
            half = 2 ** (len(minima) - 1)
            minima.append(np.minimum(minima[-1][:-half], minima[-1][half:]))
        self.minima = minima

    def window_min(self, lo: IntArray, hi: IntArray) -> FloatArray:
        """Smallest sample target on rows lo .. hi of each as-of date (inf when empty)."""
        empty = hi < lo
        length = np.where(empty, 1, hi - lo + 1)
        level = np.floor(np.log2(length)).astype(np.int64)
        out = np.full((lo.size, self.cum.shape[2]), np.inf)
        for k in np.unique(level[~empty]):
            dates = np.flatnonzero(~empty & (level == k))
            table = self.minima[k]
            out[dates] = np.minimum(table[lo[dates]], table[hi[dates] - 2**k + 1])
        return out

    def moments(
        self, rows: IntArray, starts: IntArray
    ) -> tuple[_HarMoments, FloatArray, FloatArray]:
        """Sample moments (cells = dates x columns, date-major) of the fits at origins ``rows``
        whose windows begin at ``starts``, with the origins' components and the centred sums of
        squares relative to the cumulative sums they came from (small = digits lost)."""
        n_rows = self.cum.shape[1] - 1
        horizon = self.arrays.horizon
        lo = np.minimum(starts + HAR_MONTH - 1, n_rows)
        hi = rows - horizon
        upper = np.maximum(np.minimum(hi + 1, n_rows), lo)
        sums = self.cum[:, upper] - self.cum[:, lo]
        n_dates, n_cols = sums.shape[1:]
        n = np.rint(sums[0]).astype(np.int64)
        inv_n = 1.0 / np.maximum(n, 1)
        firsts = sums[1:5]
        centred = {
            pair: sums[5 + q] - firsts[pair[0]] * firsts[pair[1]] * inv_n
            for q, pair in enumerate(_PAIRS)
        }
        for k in range(4):  # rounding may leave a (near-)zero sum of squares slightly negative
            np.maximum(centred[(k, k)], 0.0, out=centred[(k, k)])
        gram = np.empty((n_dates, n_cols, 3, 3))
        for i, j in _PAIRS[:6]:
            gram[:, :, i, j] = gram[:, :, j, i] = centred[(i, j)]
        cross = np.stack([centred[(i, 3)] for i in range(3)], axis=-1)
        means = np.moveaxis(firsts * inv_n, 0, -1) + self.shift
        magnitude = np.stack([self.cum[5 + q, upper] for q in (0, 3, 5, 9)], axis=-1)
        diagonal = np.stack([centred[(k, k)] for k in range(4)], axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            retained = (diagonal / magnitude).min(axis=-1)
        length = rows - starts + 1
        comp = np.stack(
            [
                self.arrays.daily[rows],
                np.where((length >= HAR_WEEK)[:, None], self.arrays.weekly[rows], np.nan),
                np.where((length >= HAR_MONTH)[:, None], self.arrays.monthly[rows], np.nan),
            ],
            axis=-1,
        )
        moments = _HarMoments(
            n.ravel(),
            means.reshape(-1, 4),
            gram.reshape(-1, 3, 3),
            cross.reshape(-1, 3),
            centred[(3, 3)].ravel(),
            self.window_min(lo, hi).ravel(),
        )
        return moments, comp.reshape(-1, 3), retained.ravel()


def rolling_har_forecast(
    returns: ReturnsPanel,
    *,
    as_of_dates: Iterable[object] | None = None,
    horizon: int = DEFAULT_HORIZON,
    min_observations: int = DEFAULT_HAR_MIN_OBSERVATIONS,
    max_history: int | None = None,
    min_vol: float = DEFAULT_MIN_VOL,
    max_vol: float = DEFAULT_MAX_VOL,
) -> pd.DataFrame:
    """HAR forecasts of every symbol at many forecast origins at once (long format).

    Parameters
    ----------
    returns
        Returns panel (dates x symbols, simple returns, ``NaN`` = missing).
    as_of_dates
        Forecast origins, dates of ``returns.index`` (any order, no duplicates); default
        every row.
    horizon, min_observations, max_history, min_vol, max_vol
        As in :func:`har_forecast`.

    Returns
    -------
    DataFrame
        Long frame with columns ``date``, ``symbol`` (categorical over the panel's columns) and
        then :data:`HAR_COLUMNS`; one row per (origin, symbol), sorted by date and then by the
        panel's column order, on a default ``RangeIndex``.

    Raises
    ------
    AnalyticsError
        As :func:`har_forecast`, and when an origin is not in ``returns.index`` or repeats.

    Notes
    -----
    The rows for origin :math:`T` equal
    ``har_forecast(returns.loc[:T], max_history=max_history, ...)`` (same sample, statuses, caps
    and insanity filter; numbers agree to rounding, ~1e-12 relative). With the window
    :math:`[S, T]`, :math:`S = \\max(0, T - L + 1)` for ``max_history`` :math:`L` (0 without),
    the sample is the rows :math:`t \\in [S + 21, T - h]` with every term defined, and the
    terms :math:`d_t, w_t, m_t, y_t` of such rows only use rows inside the window, so they are
    computed once for the whole panel. The OLS of :func:`har_forecast` needs per origin only

    .. math:: n,\\quad \\sum_t z_{t},\\quad \\sum_t z_{t} z_{t}^{\\top},
        \\qquad z_t = (d_t, w_t, m_t, y_t) - \\bar z,

    where :math:`\\bar z` is a per-symbol shift (the full-sample means; OLS is shift
    invariant): window sums are differences of cumulative sums over the sample rows, centred
    as :math:`S_{ab} - S_a S_b / n`, and solved with the same correlation-scaled normal
    equations. The smallest target of a window (the insanity filter's bound) is a
    range-minimum query on a sparse table of the targets. A cell whose sums lost digits (a
    centred sum of squares small against the cumulative sum it was differenced from, e.g. a
    calm after a storm or a near-constant series, times a nearly collinear design) is refitted
    exactly from its window, as :func:`har_forecast` does. Vectorised over origins and symbols,
    in column blocks.
    """
    frame, values = require_returns_values(returns)
    h, min_obs, history, floor, ceiling = _validate_har(
        horizon, min_observations, max_history, min_vol, max_vol
    )
    index = frame.index
    rows = _as_of_rows(index, as_of_dates)
    starts = rows - (history - 1) if history is not None else np.zeros_like(rows)
    starts = np.maximum(starts, 0)
    n_dates, n_symbols = rows.size, frame.shape[1]
    out = {
        name: np.empty((n_dates, n_symbols), dtype=_HAR_DTYPES.get(name, np.float64))
        for name in HAR_COLUMNS
    }
    for cols in _blocks(*values.shape) if n_dates else ():
        block = np.ascontiguousarray(values[:, cols])
        moments, comp, retained = _RollingHar(block, h).moments(rows, starts)
        part, eig_min = _har_solution(moments, comp, min_obs, floor, ceiling)
        width = cols.stop - cols.start
        inexact = retained * eig_min < _HAR_REFIT_BELOW
        suspect = (inexact & (moments.n >= min_obs)).reshape(n_dates, width)
        for origin in np.flatnonzero(suspect.any(axis=1)):
            redo = np.flatnonzero(suspect[origin])
            start, stop = int(starts[origin]), int(rows[origin]) + 1
            exact = _HarArrays(np.ascontiguousarray(block[start:stop, redo]), h)
            refit = exact.fit(stop - start - 1, 0, min_obs, floor, ceiling)
            for name, arr in refit.items():
                part[name][origin * width + redo] = arr
        for name, arr in part.items():
            out[name][:, cols] = arr.reshape(n_dates, width)
    data: dict[str, Any] = {
        "date": np.repeat(index.to_numpy()[rows], n_symbols),
        "symbol": pd.Categorical.from_codes(
            np.tile(np.arange(n_symbols), n_dates), categories=frame.columns, validate=False
        ),
    }
    categories = {"status": HAR_STATUSES, "cap_reason": CAP_REASONS}
    for name in HAR_COLUMNS:
        flat = out[name].ravel()
        data[name] = (
            pd.Categorical.from_codes(flat, categories=list(categories[name]))
            if name in categories
            else flat
        )
    return pd.DataFrame(data)


def _as_of_rows(index: pd.DatetimeIndex, as_of_dates: Iterable[object] | None) -> IntArray:
    """Sorted positions of the origins in ``index`` (every row when None)."""
    if as_of_dates is None:
        return np.arange(len(index), dtype=np.int64)
    if isinstance(as_of_dates, str | bytes):
        raise AnalyticsError("as_of_dates must be a collection of dates, not a string")
    try:
        wanted = pd.DatetimeIndex(list(as_of_dates))
    except (TypeError, ValueError) as exc:
        raise AnalyticsError(f"as_of_dates must hold dates: {exc}") from None
    if wanted.has_duplicates:
        dup = wanted[wanted.duplicated()][0]
        raise AnalyticsError(f"as_of_dates repeats {dup.date().isoformat()}")
    positions = index.get_indexer(wanted)
    if (positions < 0).any():
        missing = wanted[positions < 0][0]
        raise AnalyticsError(
            f"as_of_dates contains {missing.date().isoformat()}, which is not a date of returns"
        )
    return np.sort(positions).astype(np.int64)


# --------------------------------------------------------------------------------------------
# trend


@overload
def volatility_trend(
    vol_21: float,
    vol_63: float,
    forecast: float | None = ...,
    *,
    dead_band: float = ...,
    full_strength: float = ...,
) -> tuple[str | None, float]: ...
@overload
def volatility_trend(
    vol_21: pd.Series,
    vol_63: pd.Series,
    forecast: pd.Series | None = ...,
    *,
    dead_band: float = ...,
    full_strength: float = ...,
) -> tuple[pd.Series, pd.Series]: ...
def volatility_trend(
    vol_21: Any,
    vol_63: Any,
    forecast: Any = None,
    *,
    dead_band: float = 0.05,
    full_strength: float = math.log(1.5),
) -> tuple[Any, Any]:
    """Volatility trend label and strength from the 21- and 63-day vols and the forecast.

    Parameters
    ----------
    vol_21, vol_63
        Annualised realized vols over 21 and 63 days: floats, or Series aligned on the same
        index (or array-likes of one shape).
    forecast
        Annualised forecast vol (e.g. HAR ``forecast_vol``), same shape; None or NaN entries
        leave the trend to the realized vols alone.
    dead_band
        Half-width of the ``stable`` band of the score (default 0.05, about ±5%).
    full_strength
        Score magnitude at which strength reaches 1 (default ln 1.5: a 50% move).

    Returns
    -------
    tuple
        ``(label, strength)``: label in :data:`TREND_LABELS` and strength in [0, 1]; for Series
        input two Series on the inputs' index (labels as strings), for floats a ``str`` and a
        ``float``. Label None/NaN and strength NaN where a vol is missing or not positive.

    Raises
    ------
    AnalyticsError
        On negative vols, mismatched shapes/indexes or invalid parameters.

    Notes
    -----
    Score :math:`s = \\operatorname{mean}(\\ln(\\sigma_{21}/\\sigma_{63}),\\;
    \\ln(\\hat\\sigma/\\sigma_{21}))` — recent against longer-run realized vol, and the
    forecast against recent vol (the second term only when a forecast is given).
    ``increasing`` if :math:`s >` ``dead_band``, ``decreasing`` if :math:`s <` -``dead_band``,
    else ``stable``; strength :math:`= \\min(1, \\max(0, (|s| - b)/(F - b)))` with
    :math:`b` = ``dead_band`` and :math:`F` = ``full_strength`` (so ``stable`` has strength 0).
    """
    band = require_finite_number(dead_band, "dead_band")
    full = require_finite_number(full_strength, "full_strength", positive=True)
    if band < 0.0 or band >= full:
        raise AnalyticsError(f"dead_band must be in [0, full_strength), got {dead_band!r}")
    scalar = not isinstance(vol_21, pd.Series | np.ndarray | list | tuple)
    index = vol_21.index if isinstance(vol_21, pd.Series) else None
    v21 = _vol_array(vol_21, "vol_21", index)
    v63 = _vol_array(vol_63, "vol_63", index)
    fc = np.full(v21.shape, np.nan) if forecast is None else _vol_array(forecast, "forecast", index)
    if not (v21.shape == v63.shape == fc.shape):
        raise AnalyticsError("vol_21, vol_63 and forecast must have the same shape")
    valid = (v21 > 0.0) & (v63 > 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        s1 = np.log(v21 / v63)
        s2 = np.log(fc / v21)
    has_fc = valid & (fc > 0.0)
    score = np.where(has_fc, 0.5 * (s1 + np.where(has_fc, s2, 0.0)), s1)
    strength = np.clip((np.abs(score) - band) / (full - band), 0.0, 1.0)
    labels = np.where(score > band, "increasing", np.where(score < -band, "decreasing", "stable"))
    labels = labels.astype(object)
    labels[~valid] = None
    strength[~valid] = np.nan
    if scalar:
        return labels[0], float(strength[0])
    if index is not None:
        return (
            pd.Series(labels, index=index, name="vol_trend", dtype="str"),
            pd.Series(strength, index=index, name="vol_trend_strength"),
        )
    return labels, strength


def _vol_array(value: Any, name: str, index: pd.Index | None) -> FloatArray:
    if isinstance(value, pd.Series):
        if index is not None and not value.index.equals(index):
            raise AnalyticsError(f"{name} must share the index of vol_21")
        arr = require_float_values(value, name)
    else:
        try:
            arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise AnalyticsError(f"{name} must hold numbers: {exc}") from None
        if index is not None and arr.shape != (len(index),):
            raise AnalyticsError(f"{name} must be a Series on the index of vol_21")
    if (arr < 0.0).any():
        raise AnalyticsError(f"{name} must not be negative")
    if np.isinf(arr).any():
        raise AnalyticsError(f"{name} must not be infinite")
    return arr


# --------------------------------------------------------------------------------------------
# evaluation


def mse_loss(realized: Any, forecast: Any) -> Any:
    """Squared error on variances: :math:`(\\sigma^2_{real} - \\sigma^2_{fc})^2` (element-wise)."""
    return (np.asarray(realized, dtype=np.float64) - np.asarray(forecast, dtype=np.float64)) ** 2


def qlike_loss(realized: Any, forecast: Any) -> Any:
    """QLIKE on variances: :math:`x - \\ln x - 1` with :math:`x = \\sigma^2_{real}/\\sigma^2_{fc}`.

    Zero for a perfect forecast, > 0 otherwise; needs both variances > 0 (NaN elsewhere).
    Robust to noise in the realized proxy (Patton 2011); penalises under-prediction more.
    """
    real = np.asarray(realized, dtype=np.float64)
    fc = np.asarray(forecast, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((real > 0.0) & (fc > 0.0), real / fc, np.nan)
        return ratio - np.log(ratio) - 1.0


def evaluate_volatility_forecasts(
    returns: ReturnsPanel,
    *,
    origins: Iterable[object],
    horizon: int = DEFAULT_HORIZON,
    naive_window: int = 21,
    min_observations: int = DEFAULT_HAR_MIN_OBSERVATIONS,
    max_history: int | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Rolling-origin out-of-sample comparison of HAR against the naive volatility forecast.

    Parameters
    ----------
    returns
        Returns panel.
    origins
        Forecast origins: dates of ``returns.index`` (no duplicates) each followed by at least
        ``horizon`` rows.
    horizon
        Days ahead (default 21).
    naive_window
        Window of the naive forecast, the current realized variance (default 21).
    min_observations, max_history
        As in :func:`har_forecast`.

    Returns
    -------
    per_symbol : DataFrame
        Indexed by ``symbol``: ``forecasts`` (origins with a HAR forecast, a naive forecast and
        a realized value), ``har_mse``, ``naive_mse``, ``har_qlike``, ``naive_qlike`` (mean
        losses over those origins), ``har_better_mse``, ``har_better_qlike`` (bool; False
        when ``forecasts`` is 0).
    summary : dict
        ``origins``, ``horizon``, ``symbols`` (with at least one forecast), ``forecasts``
        (pairs in total), pooled mean losses ``har_mse``, ``naive_mse``, ``har_qlike``,
        ``naive_qlike``, and ``har_win_share_mse`` / ``har_win_share_qlike``: the share of
        symbols whose mean HAR loss is below the naive one.

    Raises
    ------
    AnalyticsError
        On invalid input, an origin not in the index or without ``horizon`` rows after it.

    Notes
    -----
    At origin :math:`T`: HAR forecast = ``forecast_variance`` of
    ``har_forecast(returns, as_of=T, ...)`` (fitted on data up to T only); naive
    :math:`\\hat\\sigma^2 = \\frac1n\\sum r^2` over the last ``naive_window`` rows up to T;
    realized :math:`\\sigma^2 = \\frac1n\\sum_{t=T+1}^{T+h} r_t^2` (each needs
    ``ceil(0.8·window)`` finite returns). Losses on daily variances:
    MSE :math:`(\\sigma^2-\\hat\\sigma^2)^2`, QLIKE
    :math:`\\sigma^2/\\hat\\sigma^2 - \\ln(\\sigma^2/\\hat\\sigma^2) - 1`.
    """
    frame, values = require_returns_values(returns)
    h, min_obs, history, floor, ceiling = _validate_har(
        horizon, min_observations, max_history, DEFAULT_MIN_VOL, DEFAULT_MAX_VOL
    )
    naive = require_positive_int(naive_window, "naive_window")
    positions = _origin_positions(frame.index, origins, h)
    n_rows, n_cols = values.shape
    realized_ms = _rolling_mean_square(values, h, _min_count(h, None))
    naive_ms = _rolling_mean_square(values, naive, _min_count(naive, None))

    sums = {key: np.zeros(n_cols) for key in ("har_mse", "naive_mse", "har_qlike", "naive_qlike")}
    counts = np.zeros(n_cols, dtype=np.int64)
    for cols in _blocks(n_rows, n_cols):
        block = _HarArrays(np.ascontiguousarray(values[:, cols]), h)
        for origin in positions:
            start = 0 if history is None else max(0, origin + 1 - history)
            har = block.fit(origin, start, min_obs, floor, ceiling)["forecast_variance"]
            real = realized_ms[origin + h, cols]
            base = naive_ms[origin, cols]
            use = np.isfinite(har) & np.isfinite(base) & (base > 0.0) & (real > 0.0)
            use &= np.isfinite(real)
            counts[cols] += use
            for model, fc in (("har", har), ("naive", base)):
                sums[f"{model}_mse"][cols] += np.where(use, mse_loss(real, fc), 0.0)
                sums[f"{model}_qlike"][cols] += np.where(use, qlike_loss(real, fc), 0.0)

    with np.errstate(invalid="ignore", divide="ignore"):
        means = {key: total / counts for key, total in sums.items()}
    has = counts > 0
    per_symbol = pd.DataFrame(
        {
            "forecasts": counts,
            **means,
            "har_better_mse": has & (means["har_mse"] < means["naive_mse"]),
            "har_better_qlike": has & (means["har_qlike"] < means["naive_qlike"]),
        },
        index=pd.Index(frame.columns, name="symbol"),
    )
    total = int(counts.sum())
    summary: dict[str, Any] = {
        "origins": len(positions),
        "horizon": h,
        "symbols": int(has.sum()),
        "forecasts": total,
    }
    for key, value in sums.items():
        summary[key] = float(value.sum() / total) if total else float("nan")
    for loss in ("mse", "qlike"):
        summary[f"har_win_share_{loss}"] = (
            float(per_symbol.loc[has, f"har_better_{loss}"].mean()) if has.any() else float("nan")
        )
    return per_symbol, summary


def _origin_positions(index: pd.DatetimeIndex, origins: Iterable[object], horizon: int) -> IntArray:
    if isinstance(origins, str | bytes):
        raise AnalyticsError("origins must be a collection of dates, not a string")
    try:
        wanted = pd.DatetimeIndex(list(origins))
    except (TypeError, ValueError) as exc:
        raise AnalyticsError(f"origins must hold dates: {exc}") from None
    if wanted.empty:
        raise AnalyticsError("origins is empty")
    if wanted.has_duplicates:
        dup = wanted[wanted.duplicated()][0]
        raise AnalyticsError(f"origins repeats {dup.date().isoformat()}")
    positions = index.get_indexer(wanted)
    if (positions < 0).any():
        missing = wanted[positions < 0][0]
        raise AnalyticsError(
            f"origins contains {missing.date().isoformat()}, which is not a date of returns"
        )
    late = positions + horizon > len(index) - 1
    if late.any():
        bad = wanted[late][0]
        raise AnalyticsError(
            f"origins contains {bad.date().isoformat()}, which has fewer than horizon={horizon} "
            "rows after it"
        )
    return np.sort(positions).astype(np.int64)
