"""Market betas: OLS of each symbol's daily returns on the market proxy's returns.

Currently implemented
---------------------
:func:`market_betas`
    Betas of every symbol of a returns panel at one as-of date (the panel's last row).
:func:`rolling_market_betas`
    The same statistics for many as-of dates at once (the backfill path), in long format.
:func:`series_beta`
    The direct regression of one return series (e.g. the portfolio's) on the market's.
:func:`portfolio_beta`
    Equity-weighted beta of a book from per-symbol betas.

Definitions (DESIGN.md section 6)
---------------------------------
For symbol :math:`i` at as-of date :math:`d`, the sample is the last ``window`` *paired*
observations up to and including :math:`d`: dates on which both :math:`r_{i,t}` and the market
return :math:`x_t` are finite (pairwise-complete, so gaps are allowed and skipped). On those
:math:`n \\le` ``window`` pairs the OLS regression
:math:`r_{i,t} = \\alpha + \\beta x_t + e_t` gives

.. math::

    \\hat\\beta = S_{xy}/S_{xx},\\quad \\hat\\alpha = \\bar r - \\hat\\beta \\bar x,\\quad
    R^2 = S_{xy}^2/(S_{xx}S_{yy}),\\quad s^2 = \\frac{S_{yy} - \\hat\\beta S_{xy}}{n-2},\\quad
    \\operatorname{se}(\\hat\\beta) = \\sqrt{s^2/S_{xx}},

with centred sums :math:`S_{xy} = \\sum (x_t-\\bar x)(r_{i,t}-\\bar r)` etc.,
:math:`t = \\hat\\beta/\\operatorname{se}` and the two-sided p-value from Student's t with
:math:`n-2` degrees of freedom. Nothing after :math:`d` is ever used (no look-ahead).
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import interpolate, special

from analytics_lib._typing import FloatArray, ReturnsPanel, Weights
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.validation import (
    require_columns,
    require_date_index,
    require_finite_number,
    require_frame,
    require_positive_int,
    require_returns_values,
    require_series,
    require_weights,
)

__all__ = [
    "BETA_COLUMNS",
    "BETA_STATUSES",
    "DEFAULT_BETA_CAP",
    "DEFAULT_BETA_MIN_OBSERVATIONS",
    "DEFAULT_BETA_WINDOW",
    "DEFAULT_MARKET",
    "market_betas",
    "portfolio_beta",
    "rolling_market_betas",
    "series_beta",
]

DEFAULT_MARKET: Final = "SPY"
DEFAULT_BETA_WINDOW: Final = 90
DEFAULT_BETA_MIN_OBSERVATIONS: Final = 30
DEFAULT_BETA_CAP: Final = 5.0

BETA_STATUSES: Final[tuple[str, ...]] = ("ok", "insufficient_data", "degenerate")
"""Values of the ``status`` column (a categorical with exactly these categories)."""

BETA_COLUMNS: Final[tuple[str, ...]] = (
    "beta",
    "beta_raw",
    "capped",
    "alpha",
    "r_squared",
    "std_error",
    "t_stat",
    "p_value",
    "observations",
    "window",
    "status",
)
"""Columns of :func:`market_betas` (and, after ``date`` and ``symbol``, of the rolling form)."""

_OK, _INSUFFICIENT, _DEGENERATE = 0, 1, 2

_OUT_DTYPES: Final[tuple[tuple[str, type], ...]] = (
    ("beta", np.float64),
    ("beta_raw", np.float64),
    ("capped", np.bool_),
    ("alpha", np.float64),
    ("r_squared", np.float64),
    ("std_error", np.float64),
    ("t_stat", np.float64),
    ("p_value", np.float64),
    ("observations", np.int64),
    ("window", np.int64),
    ("status", np.int8),
)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


# --------------------------------------------------------------------------------------------
# validation


def _validate_parameters(
    window: object, min_observations: object, cap: object, lookback: object = None
) -> tuple[int, int, float, int | None]:
    win = require_positive_int(window, "window", minimum=3)
    min_obs = require_positive_int(min_observations, "min_observations", minimum=3)
    if min_obs > win:
        raise AnalyticsError(f"min_observations ({min_obs}) must be <= window ({win})")
    cap_value = require_finite_number(cap, "cap", positive=True)
    rows = None if lookback is None else require_positive_int(lookback, "lookback")
    return win, min_obs, cap_value, rows


def _market_position(frame: pd.DataFrame, market: Hashable) -> int:
    if market not in frame.columns:
        raise AnalyticsError(f"market {market!r} is not a column of returns")
    return int(frame.columns.get_loc(market))


# --------------------------------------------------------------------------------------------
# kernels: both produce centred second moments per (as-of date, symbol)

_BLOCK_CELLS: Final = 1 << 17
"""Rows x symbols per column block of the rolling kernel: bounds (and lets the allocator reuse)
its temporaries, so memory stays ~ the output plus a few MB whatever the panel's size."""

_CANCELLATION_TOL: Final = 1e-5
"""A rolling cell whose centred sum of squares is below this fraction of the cumulative sums it
was differenced from has lost too many digits; it is recomputed exactly from its window."""


class _Moments:
    """Centred sums of one regression sample per cell (arrays of equal shape)."""

    __slots__ = ("const_x", "const_y", "mean_x", "mean_y", "n", "sxx", "sxy", "syy")

    def __init__(
        self,
        n: IntArray,
        mean_x: FloatArray,
        mean_y: FloatArray,
        sxx: FloatArray,
        syy: FloatArray,
        sxy: FloatArray,
        const_x: BoolArray,
        const_y: BoolArray,
    ) -> None:
        self.n = n
        self.mean_x = mean_x
        self.mean_y = mean_y
        self.sxx = sxx
        self.syy = syy
        self.sxy = sxy
        self.const_x = const_x
        self.const_y = const_y


def _sample_moments(xs: FloatArray, ys: FloatArray, sample: BoolArray) -> _Moments:
    """Exact two-pass centred moments over axis 0 of the cells where ``sample`` holds.

    ``xs`` broadcasts against ``ys`` / ``sample``. All arrays should be C-ordered: column sums
    are then sequential over rows for every column alike, so a column with ``y == x`` (the
    market against itself) reproduces the x moments bit for bit.
    """
    n = sample.sum(axis=0, dtype=np.int64)
    safe_n = np.maximum(n, 1)
    mean_x = np.where(sample, xs, 0.0).sum(axis=0) / safe_n
    mean_y = np.where(sample, ys, 0.0).sum(axis=0) / safe_n
    dx = np.where(sample, xs - mean_x, 0.0)
    dy = np.where(sample, ys - mean_y, 0.0)
    sxx = (dx * dx).sum(axis=0)
    syy = (dy * dy).sum(axis=0)
    sxy = (dx * dy).sum(axis=0)
    const_x = np.where(sample, xs, -np.inf).max(axis=0) == np.where(sample, xs, np.inf).min(axis=0)
    const_y = np.where(sample, ys, -np.inf).max(axis=0) == np.where(sample, ys, np.inf).min(axis=0)
    return _Moments(n, mean_x, mean_y, sxx, syy, sxy, const_x, const_y)


def _last_date_moments(y: FloatArray, x: FloatArray, window: int) -> _Moments:
    """Exact moments of the last ``window`` pairs (up to the last row) per column of ``y``."""
    pair = np.isfinite(y) & np.isfinite(x)[:, None]
    # number of pairs at rows >= t; a pair is in the sample iff that count is <= window
    from_end = np.cumsum(pair[::-1], axis=0, dtype=np.int32)[::-1]
    sample = pair & (from_end <= window)
    used_rows = np.flatnonzero(sample.any(axis=1))
    start = int(used_rows[0]) if used_rows.size else y.shape[0]
    return _sample_moments(
        np.ascontiguousarray(x[start:])[:, None],
        np.ascontiguousarray(y[start:]),
        np.ascontiguousarray(sample[start:]),
    )


class _RollingState:
    """Cumulative shifted moments of a (block of a) panel: any pair window is two look-ups."""

    def __init__(self, y: FloatArray, x: FloatArray) -> None:
        self.y = np.ascontiguousarray(y)
        self.x = np.ascontiguousarray(x)
        n_rows, n_cols = self.y.shape
        pair = np.isfinite(self.y) & np.isfinite(self.x)[:, None]
        self.pair = pair
        self.count = np.cumsum(pair, axis=0, dtype=np.int32)
        total = self.count[-1]
        safe_total = np.maximum(total, 1)
        # columns whose pairs are consecutive rows: the k-th pair is at row first + k - 1
        self.first = np.argmax(pair, axis=0)
        self.has_holes = total < n_rows - self.first
        xb = np.broadcast_to(self.x[:, None], (n_rows, n_cols))
        # per-column shifts (pair means): a numerical device only, OLS is shift invariant
        self.shift_x = np.where(pair, xb, 0.0).sum(axis=0) / safe_total
        self.shift_y = np.where(pair, self.y, 0.0).sum(axis=0) / safe_total
        # cum[m, r + 1] = sum over rows <= r of moment m in (dx, dy, dx^2, dy^2, dx*dy)
        cum = np.empty((5, n_rows + 1, n_cols))
        cum[:, 0] = 0.0
        dx, dy = cum[0, 1:], cum[1, 1:]
        np.subtract(xb, self.shift_x, out=dx)
        np.subtract(self.y, self.shift_y, out=dy)
        dx[~pair] = 0.0
        dy[~pair] = 0.0
        np.multiply(dx, dx, out=cum[2, 1:])
        np.multiply(dy, dy, out=cum[3, 1:])
        np.multiply(dx, dy, out=cum[4, 1:])
        np.cumsum(cum, axis=1, out=cum)
        self.cum = cum
        self._hole_positions: npt.NDArray[np.int32] | None = None
        self._hole_slot = np.full(n_cols, -1, dtype=np.int64)

    def pair_rows(self, k: IntArray, cols: IntArray) -> IntArray:
        """Row of the ``k``-th pair (k >= 1) of column ``cols`` (element-wise)."""
        rows = (self.first[cols] + k - 1).astype(np.int64)
        holes = self.has_holes[cols]
        if holes.any():
            if self._hole_positions is None:
                hole_cols = np.flatnonzero(self.has_holes)
                self._hole_slot[hole_cols] = np.arange(hole_cols.size)
                r, c = np.nonzero(self.pair[:, hole_cols])
                positions = np.zeros((self.y.shape[0] + 1, hole_cols.size), dtype=np.int32)
                positions[self.count[r, hole_cols[c]], c] = r
                self._hole_positions = positions
            rows[holes] = self._hole_positions[k[holes], self._hole_slot[cols[holes]]]
        return rows

    def moments(
        self, rows: IntArray, window: int, min_obs: int, lookback: int | None = None
    ) -> _Moments:
        """Moments of the last ``window`` pairs up to each row in ``rows`` (sorted), counting
        only pairs on the last ``lookback`` rows up to that row when ``lookback`` is given."""
        cum, count = self.cum, self.count
        contiguous = rows.size > 0 and rows[-1] - rows[0] == rows.size - 1
        first_row = int(rows[0]) if rows.size else 0
        # `at(a, r)` = a[r] for the as-of rows shifted by r - rows; slices when contiguous
        if contiguous:
            hi = count[first_row : first_row + rows.size]
            upper = cum[:, first_row + 1 : first_row + 1 + rows.size]
        else:
            hi = count[rows]
            upper = cum[:, rows + 1]
        n = np.minimum(hi, window)
        # windows of `window` consecutive pair rows: the lower sum is a plain row shift
        start = rows - window
        clipped = np.maximum(start, 0)
        if contiguous and start[0] >= 0:
            lower = cum[:, first_row - window + 1 : first_row - window + 1 + rows.size].copy()
            full = hi - count[first_row - window : first_row - window + rows.size] == window
        else:
            lower = cum[:, clipped + 1]
            full = (start >= 0)[:, None] & (hi - count[clipped] == window)
        if not full.all():
            # windows holding every pair so far: nothing to subtract
            lower[:, (hi <= window) & ~full] = 0.0
            # windows with gaps: the lower sum sits at the row of pair number (c_t - window)
            gap_d, gap_s = np.nonzero((hi > window) & ~full)
            if gap_d.size:
                lo_rows = self.pair_rows(hi[gap_d, gap_s] - window, gap_s)
                lower[:, gap_d, gap_s] = cum[:, lo_rows + 1, gap_s]
        if lookback is not None:
            self._limit_to_lookback(rows, hi, n, lower, window, lookback)
        sums = upper - lower
        inv_n = 1.0 / np.maximum(n, 1)
        sx, sy = sums[0], sums[1]
        mx = sx * inv_n
        my = sy * inv_n
        sxx = sums[2] - sx * mx
        syy = sums[3] - sy * my
        sxy = sums[4] - sx * my
        # cells whose centred sums lost too many digits to cancellation: recompute exactly
        suspect = (sxx <= _CANCELLATION_TOL * upper[2]) | (syy <= _CANCELLATION_TOL * upper[3])
        suspect &= n >= min_obs
        moments = _Moments(
            n.astype(np.int64),
            mx + self.shift_x,
            my + self.shift_y,
            sxx,
            syy,
            sxy,
            np.zeros(hi.shape, dtype=bool),
            np.zeros(hi.shape, dtype=bool),
        )
        if suspect.any():
            self._recompute_exactly(moments, hi, suspect, window)
        return moments

    def _limit_to_lookback(
        self,
        rows: IntArray,
        hi: npt.NDArray[np.int32],
        n: npt.NDArray[np.int32],
        lower: FloatArray,
        window: int,
        lookback: int,
    ) -> None:
        """Drop the pairs dated before the last ``lookback`` rows from ``n`` and ``lower``.

        Where a window of ``window`` pairs would reach back beyond the lookback, the sample is
        the pairs on rows ``t - lookback + 1 .. t``: the lower sum is then the cumulative sum at
        row ``t - lookback`` (a plain row shift) and ``n`` the pairs counted since.
        """
        before = rows - lookback
        dated = np.flatnonzero(before >= 0)
        if not dated.size:
            return
        outside = self.count[before[dated]]
        cut_d, cut_s = np.nonzero(outside > np.maximum(hi[dated] - window, 0))
        if not cut_d.size:
            return
        as_of = dated[cut_d]
        n[as_of, cut_s] = hi[as_of, cut_s] - outside[cut_d, cut_s]
        lower[:, as_of, cut_s] = self.cum[:, before[as_of] + 1, cut_s]

    def _recompute_exactly(
        self, m: _Moments, hi: npt.NDArray[np.int32], suspect: BoolArray, window: int
    ) -> None:
        """Replace the moments of ``suspect`` cells by exact two-pass window moments."""
        cell_d, cell_s = np.nonzero(suspect)
        n = m.n[cell_d, cell_s]
        offsets = np.arange(window)[:, None]
        k = hi[cell_d, cell_s][None, :] - offsets  # (window, cells): pair numbers, newest first
        sample = offsets < n[None, :]
        cols = np.broadcast_to(cell_s[None, :], k.shape)
        rows = self.pair_rows(np.maximum(k, 1).ravel(), cols.ravel()).reshape(k.shape)
        exact = _sample_moments(
            np.ascontiguousarray(self.x[rows]),
            np.ascontiguousarray(self.y[rows, cols]),
            np.ascontiguousarray(sample),
        )
        for name in ("mean_x", "mean_y", "sxx", "syy", "sxy", "const_x", "const_y"):
            getattr(m, name)[cell_d, cell_s] = getattr(exact, name)


def _statistics(
    m: _Moments, window: int, min_obs: int, cap: float, table_dof: int | None = None
) -> dict[str, Any]:
    """OLS statistics, p-values and status codes from centred moments (any array shape).

    ``table_dof`` selects the tabulated p-value path for cells with that many degrees of
    freedom (see :func:`_p_values`); None keeps every p-value exact.
    """
    status = np.full(m.n.shape, _OK, dtype=np.int8)
    enough = m.n >= min_obs
    degenerate = m.const_x | m.const_y | (m.sxx <= 0.0) | (m.syy <= 0.0)
    status[enough & degenerate] = _DEGENERATE
    status[~enough] = _INSUFFICIENT
    bad = status != _OK
    any_bad = bool(bad.any())

    if any_bad:
        sxx = np.where(bad, 1.0, m.sxx)
        syy = np.where(bad, 1.0, m.syy)
        sxy = np.where(bad, 0.0, m.sxy)
    else:
        sxx, syy, sxy = m.sxx, m.syy, m.sxy
    beta_raw = sxy / sxx
    alpha = m.mean_y - beta_raw * m.mean_x
    r_squared = np.minimum(sxy * sxy / (sxx * syy), 1.0)
    ssr = np.maximum(syy - beta_raw * sxy, 0.0)
    dof = np.maximum(m.n - 2, 1).astype(np.float64)
    std_error = np.sqrt(ssr / (dof * sxx))
    perfect = std_error == 0.0
    with np.errstate(divide="ignore"):
        t_stat = beta_raw / std_error
    p_value = _p_values(t_stat, dof, r_squared, ssr / syy, perfect, table_dof)
    beta = np.clip(beta_raw, -cap, cap)
    capped = np.abs(beta_raw) > cap
    if any_bad:
        for values in (beta, beta_raw, alpha, r_squared, std_error, t_stat, p_value):
            values[bad] = np.nan
        capped &= ~bad
    return {
        "beta": beta,
        "beta_raw": beta_raw,
        "capped": capped,
        "alpha": alpha,
        "r_squared": r_squared,
        "std_error": std_error,
        "t_stat": t_stat,
        "p_value": p_value,
        "observations": m.n.astype(np.int64),
        "window": np.full(m.n.shape, window, dtype=np.int64),
        "status": status,
    }


# --- p-values ---------------------------------------------------------------------------------

_P_TABLE_MIN_CELLS: Final = 200_000
"""A backfill with at least this many cells takes the full-window p-values from a table."""

_P_TABLE_TOL: Final = 1e-11


def _p_values(
    t_stat: FloatArray,
    dof: FloatArray,
    r_squared: FloatArray,
    resid_share: FloatArray,
    perfect: BoolArray,
    table_dof: int | None,
) -> FloatArray:
    r"""Two-sided Student-t p-values :math:`p = 2F_\nu(-|t|)` (0 for a perfect fit).

    Exact (``scipy.special.stdtr``, as statsmodels uses) unless ``table_dof`` is given; then
    cells with :math:`\nu` = ``table_dof`` (a backfill's full windows) use the identity
    :math:`t^2/(\nu+t^2) = R^2` of simple regression and :func:`_p_table`, a cubic spline of
    :math:`g(u) = \log p - \tfrac{\nu}{2}\log(1-u^2)` in :math:`u = \sqrt{R^2}`, verified
    against scipy at every interval midpoint to a relative error below 1e-11 when built:
    :math:`p = \exp(g(u) + \tfrac{\nu}{2}\log(\mathrm{SSR}/S_{yy}))`. Cells beyond the
    table's range stay exact.
    """
    p = np.empty(t_stat.shape)
    exact = ~perfect
    table = _p_table(table_dof) if table_dof is not None else None
    if table is not None:
        nu = float(table_dof)  # type: ignore[arg-type]
        u_max, step, coef = table
        u = np.sqrt(r_squared)
        cells = exact & (dof == nu) & (u < u_max)
        u = np.where(cells, u, 0.0)
        j = np.minimum((u * (1.0 / step)).astype(np.int64), coef.shape[1] - 1)
        local = u - j * step
        g = ((coef[0][j] * local + coef[1][j]) * local + coef[2][j]) * local + coef[3][j]
        with np.errstate(divide="ignore"):
            g += (0.5 * nu) * np.log(np.where(cells, resid_share, 1.0))
        np.exp(g, out=p)
        exact &= ~cells
    p[perfect] = 0.0
    if exact.any():
        p[exact] = 2.0 * special.stdtr(dof[exact], -np.abs(t_stat[exact]))
    return p


@functools.lru_cache(maxsize=64)
def _p_table(nu: int) -> tuple[float, float, FloatArray] | None:
    """Verified spline table of the two-sided t p-value for ``nu`` degrees of freedom.

    Returns ``(u_max, step, coefficients)`` (cubic piecewise-polynomial coefficients, highest
    power first, on the uniform grid ``u_j = j * step``), or None when no grid up to 2**16
    intervals meets the tolerance (callers then evaluate exactly).
    """
    # keep p(u_max) far from underflow so log p is finite on the whole grid
    u_max = min(0.995, float(np.sqrt(-np.expm1(-1200.0 / nu))))
    intervals = 1024
    while intervals <= 1 << 16:
        u = np.linspace(0.0, u_max, intervals + 1)
        step = u[1]
        g = _log_p_reduced(u, nu)
        spline = interpolate.CubicSpline(u, g)
        mid = u[:-1] + step / 2
        approx = np.exp(spline(mid) + 0.5 * nu * np.log1p(-mid * mid))
        exact = np.exp(_log_p(mid, nu))
        if np.max(np.abs(approx - exact) / exact) <= _P_TABLE_TOL:
            return u_max, float(step), np.ascontiguousarray(spline.c)
        intervals *= 2
    return None


def _log_p(u: FloatArray, nu: int) -> FloatArray:
    t = np.sqrt(nu) * u / np.sqrt(1.0 - u * u)
    with np.errstate(divide="ignore"):
        return np.log(2.0 * special.stdtr(nu, -t))


def _log_p_reduced(u: FloatArray, nu: int) -> FloatArray:
    r""":math:`\log p - \tfrac{\nu}{2}\log(1-u^2)`: smooth on [0, 1] (the spline's target)."""
    return _log_p(u, nu) - 0.5 * nu * np.log1p(-u * u)


def _status_categorical(codes: npt.NDArray[np.int8]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.ravel(), categories=list(BETA_STATUSES), validate=False)


def _code_dtype(n_categories: int) -> type:
    return np.int16 if n_categories < np.iinfo(np.int16).max else np.int32


# --------------------------------------------------------------------------------------------
# public API


def market_betas(
    returns: ReturnsPanel,
    *,
    market: Hashable = DEFAULT_MARKET,
    window: int = DEFAULT_BETA_WINDOW,
    min_observations: int = DEFAULT_BETA_MIN_OBSERVATIONS,
    cap: float = DEFAULT_BETA_CAP,
    lookback: int | None = None,
) -> pd.DataFrame:
    """OLS market beta of every symbol at the as-of date (the last row of ``returns``).

    Parameters
    ----------
    returns
        Returns panel (dates x symbols, simple returns, ``NaN`` = no return that day) that
        contains the ``market`` column. Its last row is the as-of date.
    market
        Column of the market proxy (default ``"SPY"``).
    window
        Number of paired observations in the regression sample (default 90, >= 3).
    min_observations
        Fewer pairs than this and the symbol is reported as ``insufficient_data``
        (default 30, >= 3 and <= ``window``).
    cap
        Reported ``beta`` is clipped into ``[-cap, cap]`` (default 5); ``beta_raw`` keeps the
        OLS value.
    lookback
        Only pairs on the last ``lookback`` rows (the as-of row included) are eligible; default
        None: every row. Bounds how old a sample may be when a symbol has long gaps.

    Returns
    -------
    DataFrame
        Indexed by ``symbol`` (every column of ``returns``, including the market itself, in
        column order) with the columns of :data:`BETA_COLUMNS`:

        ``beta`` (capped), ``beta_raw``, ``capped`` (bool), ``alpha`` (daily), ``r_squared``,
        ``std_error`` (of beta), ``t_stat``, ``p_value`` (two-sided), ``observations``
        (pairs used, int), ``window`` (int), ``status`` (categorical: ``ok``,
        ``insufficient_data``, ``degenerate``). Statistics are ``NaN`` (``capped`` False)
        unless status is ``ok``.

    Raises
    ------
    AnalyticsError
        When ``returns`` is not a valid non-empty returns panel, ``market`` is not one of its
        columns, or a parameter is out of range.

    Notes
    -----
    Alignment contract: the sample of symbol :math:`i` is the last :math:`n=\\min(P_i,w)` of its
    :math:`P_i` dates :math:`t \\le d` on which both :math:`r_{i,t}` and :math:`x_t` are finite
    (:math:`d` = last row; with ``lookback`` :math:`L`, only the dates among the last :math:`L`
    rows count towards :math:`P_i`). Rows after :math:`d` do not exist for this function; for a
    history of as-of dates use :func:`rolling_market_betas`, which returns identical numbers.

    .. math::

        \\hat\\beta_i = \\frac{\\sum (x_t-\\bar x)(r_{i,t}-\\bar r_i)}{\\sum (x_t-\\bar x)^2},\\quad
        \\hat\\alpha_i = \\bar r_i - \\hat\\beta_i\\bar x,\\quad
        R^2_i = \\frac{S_{xy}^2}{S_{xx}S_{yy}},\\quad
        \\operatorname{se}(\\hat\\beta_i) = \\sqrt{\\frac{S_{yy}-\\hat\\beta_i S_{xy}}{(n-2)S_{xx}}}

    and :math:`p = 2\\,F_{t,n-2}(-|\\hat\\beta_i/\\operatorname{se}|)`. Status is
    ``insufficient_data`` when :math:`n <` ``min_observations`` (reported, never dropped) and
    ``degenerate`` when the market's or the symbol's returns are constant over the sample
    (zero variance). A perfect fit (the market against itself) has :math:`R^2 = 1`,
    ``std_error`` 0, ``t_stat`` :math:`\\pm\\infty` and ``p_value`` 0; the market's own beta is
    exactly 1.
    """
    frame, values = require_returns_values(returns)
    win, min_obs, cap_value, rows = _validate_parameters(window, min_observations, cap, lookback)
    m_pos = _market_position(frame, market)
    if rows is not None:
        values = values[-rows:]
    moments = _last_date_moments(values, values[:, m_pos], win)
    stats = _statistics(moments, win, min_obs, cap_value)
    stats["status"] = _status_categorical(stats["status"])
    out = pd.DataFrame(stats, index=pd.Index(frame.columns, name="symbol"))
    return out.loc[:, list(BETA_COLUMNS)]


def rolling_market_betas(
    returns: ReturnsPanel,
    *,
    as_of_dates: Iterable[object] | None = None,
    market: Hashable = DEFAULT_MARKET,
    window: int = DEFAULT_BETA_WINDOW,
    min_observations: int = DEFAULT_BETA_MIN_OBSERVATIONS,
    cap: float = DEFAULT_BETA_CAP,
    lookback: int | None = None,
) -> pd.DataFrame:
    """Market betas of every symbol at many as-of dates at once (long format).

    Parameters
    ----------
    returns
        Returns panel containing the ``market`` column.
    as_of_dates
        Dates of ``returns.index`` to compute (any order, no duplicates); default every row.
    market, window, min_observations, cap, lookback
        As in :func:`market_betas`.

    Returns
    -------
    DataFrame
        Long frame with columns ``date``, ``symbol`` (categorical over the panel's columns) and
        then :data:`BETA_COLUMNS`; one row per (as-of date, symbol), sorted by date and then by
        the panel's column order, on a default ``RangeIndex``.

    Raises
    ------
    AnalyticsError
        As :func:`market_betas`, and when an as-of date is not in ``returns.index`` or repeats.

    Notes
    -----
    The rows for as-of date :math:`d` equal ``market_betas(returns.loc[:d])`` (same
    definitions, same statuses; numbers agree to rounding, ~1e-12 relative): the sample for
    :math:`d` is the last ``window`` pairs up to and including :math:`d`, so data after
    :math:`d` never enters. With ``lookback`` :math:`L` they equal
    ``market_betas(returns.loc[:d], lookback=L)``: rows before the last :math:`L` never enter
    either, so the result for :math:`d` does not depend on how much older history the panel
    holds. The kernel compacts each symbol's pairs, takes cumulative sums of
    the pair-mean-shifted moments :math:`x, y, x^2, y^2, xy` and differences them at pair counts
    :math:`c_d` and :math:`\\max(c_d - w, 0)`; it is vectorised over dates and symbols.
    """
    frame, values = require_returns_values(returns)
    win, min_obs, cap_value, lookback_rows = _validate_parameters(
        window, min_observations, cap, lookback
    )
    m_pos = _market_position(frame, market)
    index = frame.index
    if as_of_dates is None:
        rows = np.arange(len(index), dtype=np.int64)
    else:
        if isinstance(as_of_dates, str | bytes):
            raise AnalyticsError("as_of_dates must be a collection of dates, not a string")
        try:
            wanted = pd.DatetimeIndex(list(as_of_dates))
        except (TypeError, ValueError) as exc:
            raise AnalyticsError(f"as_of_dates must hold dates: {exc}") from None
        if wanted.tz is not None:
            raise AnalyticsError("as_of_dates must be tz-naive")
        if wanted.has_duplicates:
            dup = wanted[wanted.duplicated()][0]
            raise AnalyticsError(f"as_of_dates repeats {dup.date().isoformat()}")
        positions = index.get_indexer(wanted)
        if (positions < 0).any():
            missing = wanted[positions < 0][0]
            raise AnalyticsError(
                f"as_of_dates contains {missing.date().isoformat()}, which is not a date of returns"
            )
        rows = np.sort(positions).astype(np.int64)
    n_dates, n_symbols = len(rows), frame.shape[1]
    out = {name: np.empty((n_dates, n_symbols), dtype=dtype) for name, dtype in _OUT_DTYPES}
    # the full-window degrees of freedom dominate a backfill: tabulate their p-values
    table_dof = win - 2 if n_dates * n_symbols >= _P_TABLE_MIN_CELLS else None
    x = np.ascontiguousarray(values[:, m_pos])
    width = max(1, _BLOCK_CELLS // max(len(index), 1))
    for first in range(0, n_symbols if n_dates else 0, width):
        cols = slice(first, min(first + width, n_symbols))
        state = _RollingState(values[:, cols], x)
        moments = state.moments(rows, win, min_obs, lookback_rows)
        part = _statistics(moments, win, min_obs, cap_value, table_dof)
        for name, _ in _OUT_DTYPES:
            out[name][:, cols] = part[name]
    columns: dict[str, Any] = {
        "date": np.repeat(index.to_numpy()[rows], n_symbols),
        "symbol": pd.Categorical.from_codes(
            np.tile(np.arange(n_symbols, dtype=_code_dtype(n_symbols)), n_dates),
            categories=frame.columns,
            validate=False,
        ),
    }
    for name in BETA_COLUMNS:
        if name == "status":
            columns[name] = _status_categorical(out[name])
        else:
            columns[name] = out[name].ravel()
    return pd.DataFrame(columns, copy=False)


def series_beta(
    series: pd.Series,
    market_series: pd.Series,
    *,
    window: int = DEFAULT_BETA_WINDOW,
    min_observations: int = DEFAULT_BETA_MIN_OBSERVATIONS,
    cap: float = DEFAULT_BETA_CAP,
) -> pd.Series:
    """Beta of one return series (e.g. the portfolio's) on the market's, at its last date.

    Parameters
    ----------
    series, market_series
        Date-indexed simple returns (sorted, unique, tz-naive), ``NaN`` = no return. They are
        aligned on the union of their dates; the as-of date is the later of the two last dates.
    window, min_observations, cap
        As in :func:`market_betas`.

    Returns
    -------
    Series
        One row of :func:`market_betas` (index :data:`BETA_COLUMNS`), named after ``series``.

    Raises
    ------
    AnalyticsError
        When either argument is not a date-indexed numeric Series or a parameter is invalid.

    Notes
    -----
    Exactly ``market_betas`` on the two-column panel ``[series, market_series]``: same
    formulas, pairwise-complete last ``window`` observations, no look-ahead.
    """
    s = require_series(series, "series")
    mkt = require_series(market_series, "market_series")
    require_date_index(s, "series")
    require_date_index(mkt, "market_series")
    panel = pd.concat({"series": s, "market": mkt}, axis=1, sort=True)
    result = market_betas(
        panel, market="market", window=window, min_observations=min_observations, cap=cap
    )
    row = result.loc["series"].copy()
    row.name = s.name
    return row


def portfolio_beta(betas: pd.DataFrame, weights: Weights) -> dict[str, Any]:
    """Equity-weighted beta of a book from per-symbol betas.

    Parameters
    ----------
    betas
        Output of :func:`market_betas` (indexed by symbol; needs ``beta``, ``r_squared``,
        ``observations`` and ``status``).
    weights
        Series symbol -> weight = market value / net equity (shorts negative), e.g. from
        :func:`analytics_lib.portfolio.position_weights`. Zero weights are ignored.

    Returns
    -------
    dict
        ``beta``: :math:`\\sum_{i\\in ok} w_i\\beta_i` (capped betas; holdings without a beta
        contribute nothing, they are *not* re-weighted); ``r_squared``:
        :math:`\\sum_{ok}|w_i|R^2_i / \\sum_{ok}|w_i|`; ``min_observations``: smallest
        ``observations`` among holdings with a beta; ``covered_weight``:
        :math:`\\sum_{ok} w_i`; ``covered_gross_fraction``:
        :math:`\\sum_{ok}|w_i| / \\sum|w_i|`; ``holdings`` and ``holdings_with_beta`` (counts);
        ``missing``: holdings without an ``ok`` beta (absent from ``betas`` or another status),
        in the order of ``weights``. Figures are ``NaN`` (``min_observations`` None) when no
        holding has a beta.

    Raises
    ------
    AnalyticsError
        When ``betas`` lacks a column, ``weights`` is not a numeric finite Series with unique
        labels, or every weight is zero.

    Notes
    -----
    :math:`\\beta_p = \\sum_i w_i\\beta_i` is the beta of the book's equity return when the
    weights sum to the net exposure (DESIGN.md section 6). The direct regression of the book's
    own return series on the market is :func:`series_beta` on
    :func:`analytics_lib.portfolio.portfolio_returns`.
    """
    table = require_frame(betas, "betas")
    require_columns(table, ("beta", "r_squared", "observations", "status"), "betas")
    if table.index.has_duplicates:
        raise AnalyticsError("betas has duplicate symbols in its index")
    w = require_weights(weights, "weights")
    w = w[w != 0.0]
    if w.empty:
        raise AnalyticsError("weights has no non-zero weight")
    aligned = table.reindex(w.index)
    ok = (aligned["status"].astype(object) == "ok").to_numpy() & np.isfinite(
        aligned["beta"].to_numpy(dtype=np.float64, na_value=np.nan)
    )
    wv = w.to_numpy()
    gross = np.abs(wv)
    covered = bool(ok.any())
    beta_v = aligned["beta"].to_numpy(dtype=np.float64, na_value=np.nan)
    r2_v = aligned["r_squared"].to_numpy(dtype=np.float64, na_value=np.nan)
    obs_v = aligned["observations"].to_numpy(dtype=np.float64, na_value=np.nan)
    return {
        "beta": float(np.sum(wv[ok] * beta_v[ok])) if covered else float("nan"),
        "r_squared": float(np.sum(gross[ok] * r2_v[ok]) / np.sum(gross[ok]))
        if covered
        else float("nan"),
        "min_observations": int(np.min(obs_v[ok])) if covered else None,
        "covered_weight": float(np.sum(wv[ok])),
        "covered_gross_fraction": float(np.sum(gross[ok]) / np.sum(gross)),
        "holdings": len(wv),
        "holdings_with_beta": int(ok.sum()),
        "missing": [label for label, flag in zip(w.index, ok, strict=True) if not flag],
    }
