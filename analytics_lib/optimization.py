"""Target portfolio construction: Ledoit–Wolf covariance, bounded long-only optimisers, one solve.

Currently implemented
---------------------
:func:`ledoit_wolf_covariance`
    Ledoit–Wolf (2004) shrinkage of the sample covariance towards a scaled identity.
:class:`OptimizerParams`, :func:`check_feasibility`
    Optimiser settings and the pre-solve feasibility check of the weight bounds and caps.
:func:`solve` (-> :class:`SolveResult`)
    The one wrapper around ``cvxpy.Problem.solve``: only status ``optimal`` is accepted.
:func:`solve_weights` (-> :class:`WeightSolution`)
    Mean–variance, minimum-variance or rank-based weights for given inputs.
:func:`target_weights` (-> :class:`TargetPortfolio`)
    Top-N by combined factor score, covariance and expected returns from the history, weights.

Every portfolio is long-only and fully invested, :math:`\\sum_i w_i = 1`, with
:math:`w_{\\min} \\le w_i \\le w_{\\max}` for every selected symbol and optional caps on the total
weight of a category, :math:`\\sum_{i \\in c} w_i \\le \\kappa_c`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import cvxpy as cp
import numpy as np
import pandas as pd
from scipy.stats import rankdata

from analytics_lib._typing import TRADING_DAYS_PER_YEAR, FloatArray, ReturnsPanel
from analytics_lib.exceptions import AnalyticsError, InsufficientDataError, OptimizationError
from analytics_lib.scoring import FACTORS
from analytics_lib.validation import (
    require_finite_number,
    require_float_values,
    require_frame,
    require_positive_int,
    require_returns_values,
    require_series,
)

__all__ = [
    "HHI_SCALE",
    "METHODS",
    "OptimizerParams",
    "SolveResult",
    "TargetPortfolio",
    "WeightSolution",
    "check_feasibility",
    "ledoit_wolf_covariance",
    "solve",
    "solve_weights",
    "target_weights",
]

METHODS: Final[tuple[str, ...]] = ("mvo", "minvar", "rankbased")
"""Optimiser methods."""
EXPECTED_RETURN_MODELS: Final[tuple[str, ...]] = ("score", "historical")
HHI_SCALE: Final = 10_000.0
_SUM_TOL: Final = 1e-12
_SOLUTION_TOL: Final = 1e-6


# --------------------------------------------------------------------------------------------
# Ledoit–Wolf


def ledoit_wolf_covariance(returns: ReturnsPanel) -> tuple[pd.DataFrame, float]:
    """Ledoit–Wolf (2004) shrinkage covariance towards a scaled identity.

    Parameters
    ----------
    returns
        Dates x symbols returns without missing values (at least 2 rows, 1 column).

    Returns
    -------
    (DataFrame, float)
        The shrunk covariance (symbols x symbols, same units as ``returns``, not annualised)
        and the shrinkage intensity :math:`\\delta \\in [0, 1]`.

    Notes
    -----
    Same convention as ``sklearn.covariance.LedoitWolf()`` (``assume_centered=False``): the
    returns are demeaned, :math:`x_k = r_k - \\bar r`, and the sample covariance divides by
    :math:`n` (not :math:`n - 1`), :math:`S = \\frac1n \\sum_{k=1}^n x_k x_k^\\top`. With
    :math:`p` symbols, :math:`\\mu = \\operatorname{tr}(S)/p` and the Frobenius norm
    :math:`\\|A\\|^2 = \\sum_{ij} A_{ij}^2`:

    .. math::

        d^2 = \\tfrac1p \\|S - \\mu I\\|^2, \\quad
        \\bar b^2 = \\frac{1}{n p}\\Bigl(\\frac1n \\sum_k \\|x_k\\|^4 - \\|S\\|^2\\Bigr), \\quad
        b^2 = \\min(\\bar b^2, d^2), \\quad \\delta = b^2 / d^2,

    (:math:`\\delta = 0` when :math:`d^2 = 0`), and the estimate is
    :math:`\\hat\\Sigma = (1 - \\delta) S + \\delta \\mu I`.
    """
    frame, values = require_returns_values(returns, "returns")
    if np.isnan(values).any():
        bad = frame.columns[np.isnan(values).any(axis=0)]
        raise AnalyticsError(
            "returns must have no missing values for the covariance; missing in "
            + ", ".join(str(s) for s in bad[:10])
        )
    n, p = values.shape
    if n < 2:
        raise InsufficientDataError(f"returns needs at least 2 rows for a covariance, got {n}")
    x = values - values.mean(axis=0)
    sample = x.T @ x / n
    mu = np.trace(sample) / p
    target_gap = sample.copy()
    target_gap[np.diag_indices(p)] -= mu
    d2 = float(np.sum(target_gap**2)) / p
    row_norms = np.sum(x**2, axis=1)
    b2_bar = (float(np.sum(row_norms**2)) / n - float(np.sum(sample**2))) / (n * p)
    b2 = min(max(b2_bar, 0.0), d2)
    shrinkage = 0.0 if d2 == 0.0 else b2 / d2
    shrunk = (1.0 - shrinkage) * sample
    shrunk[np.diag_indices(p)] += shrinkage * mu
    labels = pd.Index(frame.columns, name="symbol")
    return pd.DataFrame(shrunk, index=labels, columns=labels.copy()), float(shrinkage)


# --------------------------------------------------------------------------------------------
# Parameters and feasibility


@dataclass(frozen=True)
class OptimizerParams:
    """Settings of :func:`target_weights` (validated on construction).

    Attributes
    ----------
    method
        ``"mvo"`` (default, the seed's recommended optimiser), ``"minvar"`` or ``"rankbased"``.
    n_positions
        Number of symbols held: the top ``n_positions`` by combined score (default 30, seed).
    min_weight, max_weight
        Bounds on every held weight (defaults 0.03 and 0.075, the seed's "Min weight: 3.0%",
        "Max weight: 7.5%").
    category_caps
        Category -> largest total weight of the held symbols in it, or ``None``.
    risk_aversion
        :math:`\\lambda` of the mean–variance objective (default 1, PyPortfolioOpt's default).
    expected_returns
        How ``"mvo"`` gets :math:`\\mu`: ``"score"`` (default; Grinold's
        :math:`\\alpha_i = \\mathrm{IC}\\,\\sigma_i z_i`, see :func:`target_weights`) or
        ``"historical"`` (annualised mean daily return over the lookback).
    information_coefficient
        IC of the ``"score"`` model (default 0.05).
    lookback
        Trading days of returns for the covariance and historical means (default 252).
    min_observations
        Fewest complete return rows (all held symbols present) required (default 60).
    annualisation
        Periods per year of the returns (default 252).
    solver
        cvxpy solver (default ``"CLARABEL"``).

    Raises
    ------
    AnalyticsError
        On a bad value, and when the bounds alone are infeasible for ``n_positions``
        (:math:`N w_{\\max} < 1` or :math:`N w_{\\min} > 1`), with the arithmetic.
    """

    method: str = "mvo"
    n_positions: int = 30
    min_weight: float = 0.03
    max_weight: float = 0.075
    category_caps: Mapping[str, float] | None = None
    risk_aversion: float = 1.0
    expected_returns: str = "score"
    information_coefficient: float = 0.05
    lookback: int = TRADING_DAYS_PER_YEAR
    min_observations: int = 60
    annualisation: int = TRADING_DAYS_PER_YEAR
    solver: str = "CLARABEL"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise AnalyticsError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        require_positive_int(self.n_positions, "n_positions")
        low = require_finite_number(self.min_weight, "min_weight")
        high = require_finite_number(self.max_weight, "max_weight", positive=True)
        if low < 0:
            raise AnalyticsError(f"min_weight must be >= 0 (long-only), got {self.min_weight!r}")
        if high > 1:
            raise AnalyticsError(f"max_weight must be <= 1, got {self.max_weight!r}")
        if low > high:
            raise AnalyticsError(
                f"min_weight {self.min_weight!r} must be <= max_weight {self.max_weight!r}"
            )
        if self.category_caps is not None:
            if not isinstance(self.category_caps, Mapping):
                raise AnalyticsError(
                    f"category_caps must be a mapping of category -> cap, got "
                    f"{self.category_caps!r}"
                )
            caps: dict[str, float] = {}
            for key, value in self.category_caps.items():
                if not isinstance(key, str) or not key:
                    raise AnalyticsError(
                        f"category_caps keys must be non-empty strings, got {key!r}"
                    )
                cap = require_finite_number(value, f"category_caps[{key!r}]", positive=True)
                if cap > 1:
                    raise AnalyticsError(f"category_caps[{key!r}] must be in (0, 1], got {value!r}")
                caps[key] = cap
            object.__setattr__(self, "category_caps", MappingProxyType(caps))
        require_finite_number(self.risk_aversion, "risk_aversion", positive=True)
        if self.expected_returns not in EXPECTED_RETURN_MODELS:
            raise AnalyticsError(
                f"expected_returns must be one of {', '.join(EXPECTED_RETURN_MODELS)}, got "
                f"{self.expected_returns!r}"
            )
        require_finite_number(self.information_coefficient, "information_coefficient")
        require_positive_int(self.lookback, "lookback", minimum=2)
        require_positive_int(self.min_observations, "min_observations", minimum=2)
        require_positive_int(self.annualisation, "annualisation")
        if self.solver not in cp.installed_solvers():
            raise AnalyticsError(
                f"solver {self.solver!r} is not installed; installed: "
                f"{', '.join(cp.installed_solvers())}"
            )
        check_feasibility(self.n_positions, self)


def check_feasibility(
    held: int | Sequence[object],
    params: OptimizerParams,
    *,
    context: str = "",
) -> None:
    """Raise unless the bounds and category caps admit a fully invested portfolio.

    Parameters
    ----------
    held
        The number of held symbols :math:`N`, or the category of each held symbol (``None`` /
        ``NaN`` = uncategorised; the caps then apply).
    params
        Bounds and caps.
    context
        Text put in front of the message (e.g. "only 12 candidates").

    Notes
    -----
    With :math:`N` symbols, :math:`n_c` of them in category :math:`c` with cap :math:`\\kappa_c`
    and :math:`n_0` in no capped category, the feasible totals form the interval
    :math:`[N w_{\\min},\\; n_0 w_{\\max} + \\sum_c \\min(\\kappa_c, n_c w_{\\max})]`, which must
    contain 1, and :math:`n_c w_{\\min} \\le \\kappa_c` for every capped category. Checked with a
    tolerance of 1e-12.

    Raises
    ------
    AnalyticsError
        Naming the failing arithmetic, e.g. "30 positions × max_weight 0.03 = 0.9 < 1:
        infeasible".
    """
    if isinstance(held, int | np.integer) and not isinstance(held, bool):
        count = int(held)
        categories: list[object] = [None] * count
    else:
        categories = list(held)  # type: ignore[arg-type]
        count = len(categories)
    prefix = f"{context}: " if context else ""
    low, high = params.min_weight, params.max_weight
    if count == 0:
        raise AnalyticsError(f"{prefix}no positions to hold: infeasible")
    if count * high < 1 - _SUM_TOL:
        raise AnalyticsError(
            f"{prefix}{count} positions × max_weight {high:g} = {count * high:.4g} < 1: "
            "infeasible (cannot be fully invested)"
        )
    if count * low > 1 + _SUM_TOL:
        raise AnalyticsError(
            f"{prefix}{count} positions × min_weight {low:g} = {count * low:.4g} > 1: infeasible"
        )
    caps = params.category_caps or {}
    if not caps:
        return
    labels = pd.Series(categories, dtype=object)
    members = labels[labels.isin(list(caps))].value_counts()
    capacity = float((count - int(members.sum())) * high)
    parts = []
    for category, n_c in sorted(members.items()):
        cap = caps[str(category)]
        if n_c * low > cap + _SUM_TOL:
            raise AnalyticsError(
                f"{prefix}category {category!r}: {n_c} positions × min_weight {low:g} = "
                f"{n_c * low:.4g} > category cap {cap:g}: infeasible"
            )
        capacity += min(cap, n_c * high)
        parts.append(f"{category} min(cap {cap:g}, {n_c} × {high:g})")
    if capacity < 1 - _SUM_TOL:
        free = count - int(members.sum())
        raise AnalyticsError(
            f"{prefix}largest investable total {capacity:.4g} < 1: infeasible "
            f"({free} uncapped × max_weight {high:g}"
            + "".join(f" + {part}" for part in parts)
            + ")"
        )


# --------------------------------------------------------------------------------------------
# The one solve


@dataclass(frozen=True)
class SolveResult:
    """Outcome of :func:`solve` (only ever status ``optimal``).

    Attributes
    ----------
    status, solver
        cvxpy status (``"optimal"``) and the solver used.
    objective_value
        The problem's optimal value as reported by the solver.
    binding
        Names of the binding constraints, in ``constraints_named`` order; vector constraints
        expand to ``name[label]``.
    """

    status: str
    solver: str
    objective_value: float
    binding: tuple[str, ...]


def _element_names(name: str, constraint: cp.Constraint, labels: Sequence[str] | None) -> list[str]:
    size = int(np.prod(constraint.shape)) if constraint.shape else 1
    if size == 1 and not constraint.shape:
        return [name]
    if labels is None or len(labels) != size:
        return [f"{name}[{i}]" for i in range(size)]
    return [f"{name}[{label}]" for label in labels]


def _binding(
    constraints_named: Mapping[str, cp.Constraint],
    labels: Sequence[str] | None,
    dual_tol: float,
    slack_tol: float,
) -> tuple[str, ...]:
    names: list[str] = []
    for name, constraint in constraints_named.items():
        elements = _element_names(name, constraint, labels)
        if isinstance(constraint, cp.constraints.Equality | cp.constraints.Zero):
            names.extend(elements)
            continue
        flags = np.zeros(len(elements), dtype=bool)
        dual = constraint.dual_value
        if dual is not None:
            flags |= np.abs(np.ravel(np.asarray(dual, dtype=np.float64))) > dual_tol
        if isinstance(constraint, cp.constraints.Inequality) and constraint.expr.value is not None:
            slack = -np.ravel(np.asarray(constraint.expr.value, dtype=np.float64))
            flags |= np.abs(slack) <= slack_tol
        names.extend(e for e, flag in zip(elements, flags, strict=True) if flag)
    return tuple(names)


def solve(
    problem: cp.Problem,
    *,
    constraints_named: Mapping[str, cp.Constraint],
    solver: str = "CLARABEL",
    labels: Sequence[str] | None = None,
    dual_tol: float = 1e-6,
    slack_tol: float = 1e-7,
    **solver_options: object,
) -> SolveResult:
    """Solve ``problem`` and accept only status ``optimal``.

    Parameters
    ----------
    problem
        The cvxpy problem.
    constraints_named
        Name -> constraint of ``problem`` to report on (e.g. ``"fully_invested"``,
        ``"max_weight"``). A vector constraint's elements are named ``name[label]`` with
        ``labels`` when it has as many elements, else ``name[i]``.
    solver
        cvxpy solver name.
    labels
        Labels of the elements of the vector constraints (the symbols).
    dual_tol, slack_tol
        A constraint element binds when :math:`|y| >` ``dual_tol`` (its dual value) or, for an
        inequality :math:`g(x) \\le h(x)`, its slack :math:`|h - g| \\le` ``slack_tol``; equality
        constraints always bind.
    **solver_options
        Passed to ``problem.solve`` (e.g. ``max_iter``).

    Returns
    -------
    SolveResult

    Raises
    ------
    OptimizationError
        When the solver fails or ends with any status but ``optimal`` (``optimal_inaccurate``,
        ``infeasible``, ``unbounded``, ``user_limit`` ...); the message names the status, the
        solver and the binding constraints (or, without a solution, the constraints).
    AnalyticsError
        When a named constraint is not one of the problem's.
    """
    if not isinstance(problem, cp.Problem):
        raise AnalyticsError(f"problem must be a cvxpy Problem, got {type(problem).__name__}")
    own = {id(c) for c in problem.constraints}
    for name, constraint in constraints_named.items():
        if id(constraint) not in own:
            raise AnalyticsError(f"constraints_named[{name!r}] is not a constraint of problem")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            problem.solve(solver=solver, **solver_options)
    except cp.error.SolverError as exc:
        raise OptimizationError(f"solver {solver} failed: {exc}") from exc
    status = str(problem.status)
    if status != cp.OPTIMAL:
        has_solution = status in cp.settings.SOLUTION_PRESENT
        if has_solution:
            binding = _binding(constraints_named, labels, dual_tol, slack_tol)
            detail = "binding constraints: " + (", ".join(binding) or "none")
        else:
            detail = "no solution, so no binding constraints; constraints: " + (
                ", ".join(constraints_named) or "none"
            )
        raise OptimizationError(
            f"optimisation not solved to optimality: status {status!r} from solver {solver} "
            f"({detail})"
        )
    binding = _binding(constraints_named, labels, dual_tol, slack_tol)
    return SolveResult(
        status=status, solver=solver, objective_value=float(problem.value), binding=binding
    )


# --------------------------------------------------------------------------------------------
# Weights for given inputs


@dataclass(frozen=True)
class WeightSolution:
    """Weights from :func:`solve_weights`.

    Attributes
    ----------
    weights
        Symbol -> weight (name ``weight``), in the covariance's order; sums to 1 within 1e-10
        and every bound holds within 1e-8.
    method, status, solver, binding
        As in :class:`SolveResult`.
    objective_value
        The objective at the cleaned weights:
        :math:`\\mu^\\top w - \\frac\\lambda2 w^\\top\\Sigma w` (mvo), :math:`w^\\top\\Sigma w`
        (minvar) or :math:`\\|w - v\\|^2` (rankbased).
    """

    weights: pd.Series
    method: str
    status: str
    solver: str
    binding: tuple[str, ...]
    objective_value: float


def _clean_weights(raw: FloatArray, low: float, high: float) -> FloatArray:
    """Clip solver noise and make the weights sum to 1 without leaving the bounds.

    After clipping to :math:`[w_{\\min}, w_{\\max}]`, the residual :math:`\\rho = 1 - \\sum w` is
    spread over the room left in its direction,
    :math:`w_i \\mathrel{+}= \\rho\\, r_i / \\sum r` with :math:`r_i = w_{\\max} - w_i` when
    :math:`\\rho > 0`, else :math:`r_i = w_i - w_{\\min}`. Weights off the bounds or the sum by more
    than 1e-6 are an :class:`OptimizationError`, not noise.
    """
    worst = max(
        float(np.max(low - raw, initial=0.0)),
        float(np.max(raw - high, initial=0.0)),
        abs(float(raw.sum()) - 1.0),
    )
    if not np.isfinite(worst) or worst > _SOLUTION_TOL:
        raise OptimizationError(
            f"solver returned weights outside the bounds or not summing to 1 by {worst:.3g} "
            f"(tolerance {_SOLUTION_TOL:g})"
        )
    weights = np.clip(raw, low, high)
    residual = 1.0 - float(weights.sum())
    room = high - weights if residual > 0 else weights - low
    total_room = float(room.sum())
    if residual != 0.0 and total_room > 0:
        weights = weights + residual * room / total_room
    return np.clip(weights, low, high)


def _validate_covariance(covariance: object) -> tuple[pd.Index, FloatArray]:
    frame = require_frame(covariance, "covariance")
    if frame.shape[0] != frame.shape[1] or not frame.index.equals(frame.columns):
        raise AnalyticsError("covariance must be square with the same symbols as index and columns")
    if frame.shape[0] == 0:
        raise AnalyticsError("covariance has no symbols")
    if frame.index.has_duplicates:
        raise AnalyticsError("covariance has duplicate symbols")
    values = require_float_values(frame, "covariance")
    if not np.isfinite(values).all():
        raise AnalyticsError("covariance must be finite")
    scale = max(float(np.abs(values).max()), 1e-300)
    if np.abs(values - values.T).max() > 1e-10 * scale:
        raise AnalyticsError("covariance must be symmetric")
    sym = (values + values.T) / 2.0
    if np.linalg.eigvalsh(sym).min() < -1e-10 * scale:
        raise AnalyticsError("covariance must be positive semi-definite")
    return frame.index, sym


def _aligned(series: object, index: pd.Index, name: str) -> FloatArray:
    values = require_series(series, name)
    missing = index.difference(values.index)
    if len(missing):
        raise AnalyticsError(
            f"{name} is missing symbol(s): {', '.join(str(s) for s in missing[:10])}"
        )
    out = require_float_values(values.reindex(index), name)
    if not np.isfinite(out).all():
        raise AnalyticsError(f"{name} must be finite for every symbol")
    return out


def solve_weights(
    covariance: pd.DataFrame,
    params: OptimizerParams,
    *,
    expected_returns: pd.Series | None = None,
    combined: pd.Series | None = None,
    categories: pd.Series | None = None,
) -> WeightSolution:
    """Optimal bounded long-only weights of the symbols of ``covariance``.

    Parameters
    ----------
    covariance
        Symbols x symbols :math:`\\Sigma` (symmetric PSD), in the units of ``expected_returns``.
    params
        Method, bounds, caps, :math:`\\lambda`, solver (``n_positions`` is not used here).
    expected_returns
        :math:`\\mu` per symbol; required for ``"mvo"``.
    combined
        Combined factor score per symbol; required for ``"rankbased"``.
    categories
        Symbol -> category; required when ``params.category_caps`` is set (symbols without
        one are uncapped).

    Returns
    -------
    WeightSolution

    Notes
    -----
    Subject to :math:`\\sum w = 1` (``fully_invested``), :math:`w \\ge w_{\\min}`
    (``min_weight``), :math:`w \\le w_{\\max}` (``max_weight``) and
    :math:`\\sum_{i\\in c} w_i \\le \\kappa_c` (``category_cap[c]``):

    * ``mvo``: maximise :math:`\\mu^\\top w - \\frac\\lambda2 w^\\top \\Sigma w` (PyPortfolioOpt's
      ``max_quadratic_utility``);
    * ``minvar``: minimise :math:`w^\\top \\Sigma w`;
    * ``rankbased``: the Euclidean projection of the rank weights
      :math:`v_i = \\rho_i / \\sum_j \\rho_j` onto the constraints, minimise :math:`\\|w - v\\|^2`,
      where :math:`\\rho_i` is the ascending rank of the combined score (best = :math:`N`, ties
      averaged). Without caps this is :math:`w_i = \\mathrm{clip}(v_i - \\tau, w_{\\min},
      w_{\\max})` with :math:`\\tau` making the weights sum to 1.

    The bounds and caps are checked with :func:`check_feasibility` before solving; the solution
    goes through :func:`solve` and is cleaned (noise below 1e-6 clipped, the sum made exactly 1
    inside the bounds).
    """
    if not isinstance(params, OptimizerParams):
        raise AnalyticsError(f"params must be an OptimizerParams, got {type(params).__name__}")
    symbols, sigma = _validate_covariance(covariance)
    n = len(symbols)
    labels = [str(s) for s in symbols]
    caps = dict(params.category_caps or {})
    if caps:
        if categories is None:
            raise AnalyticsError("categories is required when params.category_caps is set")
        cat_series = require_series(categories, "categories")
        if cat_series.index.has_duplicates:
            raise AnalyticsError("categories has duplicate symbols")
        held_categories = list(cat_series.reindex(symbols).astype(object))
    else:
        held_categories = [None] * n
    check_feasibility(held_categories, params)

    w = cp.Variable(n, name="w")
    named: dict[str, cp.Constraint] = {
        "fully_invested": cp.sum(w) == 1,
        "min_weight": w >= params.min_weight,
        "max_weight": w <= params.max_weight,
    }
    cat_labels = pd.Series(held_categories, dtype=object)
    for category in sorted(caps):
        members = np.flatnonzero((cat_labels == category).to_numpy(bool))
        if len(members):
            named[f"category_cap[{category}]"] = cp.sum(w[members]) <= caps[category]

    risk = cp.quad_form(w, cp.psd_wrap(sigma))
    mu: FloatArray | None = None
    target: FloatArray | None = None
    if params.method == "mvo":
        if expected_returns is None:
            raise AnalyticsError("expected_returns is required for method 'mvo'")
        mu = _aligned(expected_returns, symbols, "expected_returns")
        objective = cp.Maximize(mu @ w - 0.5 * params.risk_aversion * risk)
    elif params.method == "minvar":
        objective = cp.Minimize(risk)
    else:
        if combined is None:
            raise AnalyticsError("combined is required for method 'rankbased'")
        ranks = rankdata(_aligned(combined, symbols, "combined"), method="average")
        target = ranks / ranks.sum()
        objective = cp.Minimize(cp.sum_squares(w - target))

    problem = cp.Problem(objective, list(named.values()))
    result = solve(problem, constraints_named=named, solver=params.solver, labels=labels)
    raw = np.asarray(w.value, dtype=np.float64)
    weights = _clean_weights(raw, params.min_weight, params.max_weight)
    variance = float(weights @ sigma @ weights)
    if mu is not None:
        value = float(mu @ weights) - 0.5 * params.risk_aversion * variance
    elif target is not None:
        value = float(np.sum((weights - target) ** 2))
    else:
        value = variance
    return WeightSolution(
        weights=pd.Series(weights, index=pd.Index(labels, name="symbol"), name="weight"),
        method=params.method,
        status=result.status,
        solver=result.solver,
        binding=result.binding,
        objective_value=value,
    )


# --------------------------------------------------------------------------------------------
# Target portfolio from scores


@dataclass(frozen=True)
class TargetPortfolio:
    """The target portfolio and how it was built.

    Attributes
    ----------
    weights
        Symbol -> weight (name ``weight``), ordered by combined score (best first); sums to 1.
    method, solver, status
        Optimiser method, cvxpy solver and status (always ``"optimal"``).
    expected_volatility
        Ex-ante annualised volatility :math:`\\sqrt{w^\\top \\hat\\Sigma_d w \\cdot A}`
        (Ledoit–Wolf daily covariance :math:`\\hat\\Sigma_d`, :math:`A` = ``annualisation``).
    expected_return
        :math:`\\mu^\\top w` (annualised) for ``"mvo"``, else ``None``.
    hhi, effective_n
        :math:`\\mathrm{HHI} = 10{,}000 \\sum w_i^2` and :math:`10{,}000 / \\mathrm{HHI}`.
    max_weight, min_weight
        Largest and smallest held weight.
    binding_constraints
        E.g. ``("fully_invested", "min_weight[XLU]", "max_weight[XLK]",
        "category_cap[Technology]")``.
    objective_value
        See :class:`WeightSolution`.
    covariance
        Annualised Ledoit–Wolf covariance of the held symbols, :math:`A \\hat\\Sigma_d`.
    shrinkage
        Ledoit–Wolf shrinkage intensity.
    expected_returns
        Annualised :math:`\\mu` of the held symbols for ``"mvo"``, else ``None``.
    observations
        Complete return rows the covariance used.
    candidates
        Symbols with a combined score the top N was taken from.
    table
        One row per holding, best score first: ``symbol``, ``weight``, ``combined``, the factor
        scores present in the scores frame, and ``category`` when categories were given.
    """

    weights: pd.Series
    method: str
    solver: str
    status: str
    expected_volatility: float
    expected_return: float | None
    hhi: float
    effective_n: float
    max_weight: float
    min_weight: float
    binding_constraints: tuple[str, ...]
    objective_value: float
    covariance: pd.DataFrame
    shrinkage: float
    expected_returns: pd.Series | None
    observations: int
    candidates: int
    table: pd.DataFrame


def _validate_scores(scores: object) -> tuple[pd.DataFrame, pd.Series]:
    frame = require_frame(scores, "scores")
    if "combined" not in frame.columns:
        raise AnalyticsError("scores is missing column(s): combined")
    if frame.index.has_duplicates:
        dups = sorted({str(s) for s in frame.index[frame.index.duplicated()]})
        raise AnalyticsError(f"scores has duplicate symbol(s): {', '.join(dups[:10])}")
    combined = pd.Series(
        require_float_values(frame["combined"], "scores.combined"), index=frame.index
    )
    if np.isinf(combined.to_numpy()).any():
        raise AnalyticsError("scores.combined contains infinite values")
    return frame, combined


def target_weights(
    scores: pd.DataFrame,
    returns: ReturnsPanel,
    categories: pd.Series | None = None,
    params: OptimizerParams | None = None,
) -> TargetPortfolio:
    """Target weights of the top ``n_positions`` symbols by combined factor score.

    Parameters
    ----------
    scores
        Index symbol with a ``combined`` column (e.g.
        :attr:`analytics_lib.scoring.FactorScores.scores`); symbols with ``NaN`` are skipped.
    returns
        Dates x symbols daily simple returns up to the as-of date, with a column for every held
        symbol.
    categories
        Symbol -> category (``NaN`` = none), for the caps and the table.
    params
        Default :class:`OptimizerParams`.

    Returns
    -------
    TargetPortfolio

    Notes
    -----
    1. The held symbols are the top :math:`N` = ``n_positions`` by combined score (ties by
       symbol); with fewer candidates all are held and :func:`check_feasibility` is run again
       for their number (and categories).
    2. The covariance is :func:`ledoit_wolf_covariance` of the last ``lookback`` rows of
       ``returns`` for the held symbols, keeping the rows where all of them have a return (at
       least ``min_observations``), annualised: :math:`\\Sigma = A\\,\\hat\\Sigma_d`.
    3. For ``mvo``, :math:`\\mu` is, with ``expected_returns="score"``, Grinold's
       :math:`\\mu_i = \\mathrm{IC}\\cdot\\sigma_i\\cdot z_i`,
       :math:`\\sigma_i = \\sqrt{\\Sigma_{ii}}` and :math:`z_i = (c_i - \\bar c)/\\mathrm{sd}(c)`
       the z-score of the combined score among all candidates (population sd; :math:`z = 0`
       if all scores are equal); with
       ``"historical"``, :math:`\\mu_i = A\\,\\bar r_i` over the same rows.
    4. :func:`solve_weights` gives the weights.

    Raises
    ------
    AnalyticsError
        Bad inputs; infeasible bounds or caps (before solving, with the arithmetic).
    InsufficientDataError
        No candidate, or fewer than ``min_observations`` complete return rows.
    OptimizationError
        The solver did not reach status ``optimal``.
    """
    params = OptimizerParams() if params is None else params
    if not isinstance(params, OptimizerParams):
        raise AnalyticsError(f"params must be an OptimizerParams, got {type(params).__name__}")
    frame, combined = _validate_scores(scores)
    candidates = combined.dropna()
    if candidates.empty:
        raise InsufficientDataError("scores has no symbol with a combined score")
    ordered = (
        pd.DataFrame({"combined": candidates.to_numpy()}, index=candidates.index)
        .sort_index(kind="stable")
        .sort_values("combined", ascending=False, kind="stable")
    )
    held = ordered.index[: params.n_positions]
    count = len(held)
    cat_series: pd.Series | None = None
    if categories is not None:
        cat_series = require_series(categories, "categories")
        if cat_series.index.has_duplicates:
            raise AnalyticsError("categories has duplicate symbols")
    if params.category_caps and cat_series is None:
        raise AnalyticsError("categories is required when params.category_caps is set")
    held_categories = (
        list(cat_series.reindex(held).astype(object)) if cat_series is not None else [None] * count
    )
    context = (
        f"only {count} candidates for n_positions {params.n_positions}"
        if count < params.n_positions
        else ""
    )
    check_feasibility(held_categories if params.category_caps else count, params, context=context)

    panel, _ = require_returns_values(returns, "returns")
    missing = held.difference(panel.columns)
    if len(missing):
        raise AnalyticsError(
            f"returns has no column for held symbol(s): {', '.join(str(s) for s in missing[:10])}"
        )
    window = panel.loc[:, held].iloc[-params.lookback :].astype(np.float64)
    complete = window.dropna(how="any")
    if len(complete) < params.min_observations:
        raise InsufficientDataError(
            f"returns has {len(complete)} complete rows for the {count} held symbols in the last "
            f"{params.lookback}, fewer than min_observations {params.min_observations}"
        )
    daily_cov, shrinkage = ledoit_wolf_covariance(complete)
    sigma = daily_cov * float(params.annualisation)

    mu: pd.Series | None = None
    if params.method == "mvo":
        if params.expected_returns == "score":
            values = candidates.to_numpy()
            spread = float(values.std())
            z = (
                (ordered.loc[held, "combined"] - float(values.mean())) / spread
                if spread > 0
                else (ordered.loc[held, "combined"] * 0.0)
            )
            vol = np.sqrt(np.diag(sigma.to_numpy()))
            mu = pd.Series(
                params.information_coefficient * vol * z.to_numpy(), index=held, name="mu"
            )
        else:
            mu = pd.Series(
                complete.mean(axis=0).to_numpy() * params.annualisation, index=held, name="mu"
            )

    solution = solve_weights(
        sigma,
        params,
        expected_returns=mu,
        combined=ordered.loc[held, "combined"],
        categories=cat_series.reindex(held) if cat_series is not None else None,
    )
    weights = solution.weights
    w = weights.to_numpy()
    variance = float(w @ sigma.to_numpy() @ w)
    hhi = float(np.sum(w**2) * HHI_SCALE)
    factor_columns = [f for f in FACTORS if f in frame.columns]
    table = pd.DataFrame(
        {
            "symbol": [str(s) for s in held],
            "weight": w,
            "combined": ordered.loc[held, "combined"].to_numpy(),
        }
    )
    for column in factor_columns:
        table[column] = frame.loc[held, column].to_numpy()
    if cat_series is not None:
        table["category"] = cat_series.reindex(held).to_numpy(dtype=object)
    return TargetPortfolio(
        weights=weights,
        method=params.method,
        solver=solution.solver,
        status=solution.status,
        expected_volatility=float(np.sqrt(max(variance, 0.0))),
        expected_return=float(mu.to_numpy() @ w) if mu is not None else None,
        hhi=hhi,
        effective_n=HHI_SCALE / hhi,
        max_weight=float(w.max()),
        min_weight=float(w.min()),
        binding_constraints=solution.binding,
        objective_value=solution.objective_value,
        covariance=sigma,
        shrinkage=shrinkage,
        expected_returns=mu,
        observations=len(complete),
        candidates=len(candidates),
        table=table,
    )
