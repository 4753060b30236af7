"""Ledoit–Wolf vs scikit-learn, optimisers vs PyPortfolioOpt, feasibility and the solve wrapper."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from pypfopt import EfficientFrontier
from sklearn.covariance import LedoitWolf

from analytics_lib.exceptions import AnalyticsError, InsufficientDataError, OptimizationError
from analytics_lib.optimization import (
    OptimizerParams,
    check_feasibility,
    ledoit_wolf_covariance,
    solve,
    solve_weights,
    target_weights,
)

BOUND_TOL = 1e-8
SUM_TOL = 1e-10
OBJECTIVE_RTOL = 1e-6
CATEGORIES = ("Equity", "Bonds", "Gold", "Intl")


def _returns(n_rows: int = 300, n_symbols: int = 80, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0004, 0.01, (n_rows, 1))
    beta = rng.uniform(0.2, 1.4, n_symbols)
    idio = rng.normal(0.0, 1.0, (n_rows, n_symbols)) * rng.uniform(0.002, 0.012, n_symbols)
    drift = rng.normal(0.0, 0.0004, n_symbols)
    values = market * beta + idio + drift
    index = pd.bdate_range("2023-01-02", periods=n_rows, name="date")
    return pd.DataFrame(values, index=index, columns=[f"E{i:02d}" for i in range(n_symbols)])


def _scores(symbols: list[str], seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(symbols)
    frame = pd.DataFrame(
        {
            "momentum": rng.uniform(0, 1, n),
            "quality": rng.uniform(0, 1, n),
            "volatility": rng.uniform(0, 1, n),
        },
        index=pd.Index(symbols, name="symbol"),
    )
    frame["combined"] = frame.mean(axis=1)
    return frame.sort_values("combined", ascending=False)


def _categories(symbols: list[str]) -> pd.Series:
    return pd.Series([CATEGORIES[i % 4] for i in range(len(symbols))], index=symbols)


def _objective(method: str, w: np.ndarray, mu: np.ndarray, sigma: np.ndarray, lam: float) -> float:
    variance = float(w @ sigma @ w)
    return float(mu @ w) - 0.5 * lam * variance if method == "mvo" else variance


def _assert_feasible(weights: pd.Series, low: float, high: float) -> None:
    assert abs(weights.sum() - 1.0) <= SUM_TOL
    assert (weights >= low - BOUND_TOL).all()
    assert (weights <= high + BOUND_TOL).all()


# --------------------------------------------------------------------------------------------
# Ledoit–Wolf


@pytest.mark.parametrize(("n_rows", "n_symbols"), [(250, 10), (30, 60), (100, 1), (2, 3)])
def test_ledoit_wolf_matches_sklearn(n_rows: int, n_symbols: int) -> None:
    frame = _returns(n_rows, n_symbols, seed=n_rows + n_symbols) + 0.003  # non-zero means
    cov, shrinkage = ledoit_wolf_covariance(frame)
    oracle = LedoitWolf().fit(frame.to_numpy())  # centers the data, divides by n
    np.testing.assert_allclose(cov.to_numpy(), oracle.covariance_, rtol=1e-12, atol=1e-18)
    assert shrinkage == pytest.approx(oracle.shrinkage_, rel=1e-12, abs=1e-15)
    assert list(cov.index) == list(cov.columns) == list(frame.columns)
    assert 0.0 <= shrinkage <= 1.0


def test_ledoit_wolf_errors() -> None:
    frame = _returns(20, 3)
    holed = frame.copy()
    holed.iloc[4, 1] = np.nan
    with pytest.raises(AnalyticsError, match=r"returns must have no missing values.*E01"):
        ledoit_wolf_covariance(holed)
    with pytest.raises(InsufficientDataError, match="returns needs at least 2 rows"):
        ledoit_wolf_covariance(frame.iloc[:1])
    with pytest.raises(AnalyticsError, match="returns must be a pandas DataFrame"):
        ledoit_wolf_covariance(frame.to_numpy())  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Oracles: PyPortfolioOpt on the same mu and Sigma


def _pypfopt_weights(
    tp_mu: pd.Series | None,
    sigma: pd.DataFrame,
    params: OptimizerParams,
    categories: pd.Series | None = None,
) -> np.ndarray:
    ef = EfficientFrontier(
        tp_mu, sigma, weight_bounds=(params.min_weight, params.max_weight), solver="CLARABEL"
    )
    if params.category_caps:
        assert categories is not None
        ef.add_sector_constraints(
            categories.reindex(sigma.index).to_dict(), {}, dict(params.category_caps)
        )
    if params.method == "mvo":
        ef.max_quadratic_utility(risk_aversion=params.risk_aversion)
    else:
        ef.min_volatility()
    return pd.Series(ef.weights, index=sigma.index).to_numpy()


@pytest.mark.parametrize(
    "params",
    [
        OptimizerParams(method="mvo"),
        OptimizerParams(method="mvo", expected_returns="historical", risk_aversion=10.0),
        OptimizerParams(method="mvo", information_coefficient=0.5, risk_aversion=2.0),
        OptimizerParams(method="minvar"),
        OptimizerParams(method="minvar", n_positions=40, min_weight=0.0, max_weight=0.1),
    ],
    ids=["mvo-score", "mvo-historical", "mvo-strong-tilt", "minvar", "minvar-wide"],
)
def test_objective_matches_pypfopt(params: OptimizerParams) -> None:
    returns = _returns()
    scores = _scores(list(returns.columns))
    tp = target_weights(scores, returns, None, params)
    _assert_feasible(tp.weights, params.min_weight, params.max_weight)
    sigma = tp.covariance
    mu = tp.expected_returns
    assert (mu is None) == (params.method != "mvo")
    oracle = _pypfopt_weights(mu, sigma, params)
    mu_v = mu.to_numpy() if mu is not None else np.zeros(len(sigma))
    ours = _objective(
        params.method, tp.weights.to_numpy(), mu_v, sigma.to_numpy(), params.risk_aversion
    )
    theirs = _objective(params.method, oracle, mu_v, sigma.to_numpy(), params.risk_aversion)
    assert abs(ours - theirs) <= OBJECTIVE_RTOL * abs(theirs)
    assert tp.objective_value == pytest.approx(ours, rel=1e-12)


def test_category_caps_are_respected_and_match_pypfopt() -> None:
    returns = _returns()
    symbols = list(returns.columns)
    scores = _scores(symbols)
    categories = _categories(symbols)
    params = OptimizerParams(method="minvar", category_caps={"Equity": 0.23, "Intl": 0.12})
    free = target_weights(scores, returns, categories, OptimizerParams(method="minvar"))
    by_cat_free = free.weights.groupby(categories.reindex(free.weights.index)).sum()
    assert by_cat_free["Equity"] > 0.23 and by_cat_free["Intl"] > 0.12  # the caps will bind

    tp = target_weights(scores, returns, categories, params)
    _assert_feasible(tp.weights, params.min_weight, params.max_weight)
    by_cat = tp.weights.groupby(categories.reindex(tp.weights.index)).sum()
    assert by_cat["Equity"] <= 0.23 + BOUND_TOL
    assert by_cat["Intl"] <= 0.12 + BOUND_TOL
    assert {"category_cap[Equity]", "category_cap[Intl]"} <= set(tp.binding_constraints)
    assert "fully_invested" in tp.binding_constraints
    assert tp.table["category"].tolist() == categories.reindex(tp.weights.index).tolist()

    oracle = _pypfopt_weights(None, tp.covariance, params, categories)
    sigma = tp.covariance.to_numpy()
    ours = float(tp.weights.to_numpy() @ sigma @ tp.weights.to_numpy())
    theirs = float(oracle @ sigma @ oracle)
    assert abs(ours - theirs) <= OBJECTIVE_RTOL * theirs


def test_mvo_with_caps_matches_pypfopt() -> None:
    returns = _returns()
    symbols = list(returns.columns)
    categories = _categories(symbols)
    params = OptimizerParams(
        method="mvo", information_coefficient=0.5, category_caps={"Bonds": 0.32}
    )
    tp = target_weights(_scores(symbols), returns, categories, params)
    by_cat = tp.weights.groupby(categories.reindex(tp.weights.index)).sum()
    assert by_cat["Bonds"] <= 0.32 + BOUND_TOL
    assert "category_cap[Bonds]" in tp.binding_constraints
    oracle = _pypfopt_weights(tp.expected_returns, tp.covariance, params, categories)
    mu, sigma = tp.expected_returns.to_numpy(), tp.covariance.to_numpy()
    ours = _objective("mvo", tp.weights.to_numpy(), mu, sigma, params.risk_aversion)
    theirs = _objective("mvo", oracle, mu, sigma, params.risk_aversion)
    assert abs(ours - theirs) <= OBJECTIVE_RTOL * abs(theirs)


# --------------------------------------------------------------------------------------------
# Hand examples


def test_minvar_hand_example_and_binding_constraint() -> None:
    symbols = ["A", "B", "C"]
    sigma = pd.DataFrame(np.diag([0.01, 0.04, 0.09]), index=symbols, columns=symbols)
    params = OptimizerParams(method="minvar", n_positions=3, min_weight=0.1, max_weight=0.5)
    result = solve_weights(sigma, params)
    # unconstrained w ∝ 1/σ² = (100, 25, 11.1) puts 0.73 in A; capped at 0.5, B and C share
    # the rest in proportion 25 : 100/9.
    rest = np.array([25.0, 100.0 / 9.0])
    expected = [0.5, *(0.5 * rest / rest.sum())]
    # interior weights are as accurate as the solver's default tolerances (~1e-8 on the gap)
    np.testing.assert_allclose(result.weights.to_numpy(), expected, atol=1e-6)
    assert result.binding == ("fully_invested", "max_weight[A]")
    assert result.status == "optimal"
    assert result.solver == "CLARABEL"


@pytest.mark.parametrize(
    ("low", "high", "expected", "binding"),
    [
        # v = (4, 3, 2, 1) / 10 clipped to [0.15, 0.35] already sums to 1
        (0.15, 0.35, [0.35, 0.30, 0.20, 0.15], ("max_weight[A]", "min_weight[D]")),
        # clip(v + 0.05, 0.1, 0.3) = (0.3, 0.3, 0.25, 0.15)
        (0.10, 0.30, [0.30, 0.30, 0.25, 0.15], ("max_weight[A]", "max_weight[B]")),
    ],
)
def test_rankbased_hand_examples(
    low: float, high: float, expected: list[float], binding: tuple[str, ...]
) -> None:
    symbols = ["A", "B", "C", "D"]
    sigma = pd.DataFrame(np.eye(4) * 0.04, index=symbols, columns=symbols)
    combined = pd.Series([0.9, 0.8, 0.7, 0.6], index=symbols)
    params = OptimizerParams(method="rankbased", n_positions=4, min_weight=low, max_weight=high)
    result = solve_weights(sigma, params, combined=combined)
    np.testing.assert_allclose(result.weights.to_numpy(), expected, atol=1e-8)
    assert set(result.binding) == {*binding, "fully_invested"}
    _assert_feasible(result.weights, low, high)


@pytest.mark.parametrize("method", ["mvo", "minvar", "rankbased"])
def test_target_portfolio_summary(method: str) -> None:
    returns = _returns()
    scores = _scores(list(returns.columns))
    params = OptimizerParams(method=method)
    tp = target_weights(scores, returns, None, params)
    w = tp.weights
    assert len(w) == 30
    assert list(w.index) == list(scores.index[:30])  # top 30 by combined, best first
    _assert_feasible(w, 0.03, 0.075)
    assert tp.hhi == pytest.approx(float((w**2).sum()) * 10_000, rel=1e-12)
    assert tp.effective_n == pytest.approx(10_000 / tp.hhi, rel=1e-12)
    assert tp.max_weight == w.max() and tp.min_weight == w.min()
    # the ex-ante volatility from scikit-learn's Ledoit–Wolf on the same rows, annualised
    window = returns[list(w.index)].iloc[-252:]
    daily = LedoitWolf().fit(window.to_numpy()).covariance_
    assert tp.expected_volatility == pytest.approx(
        float(np.sqrt(w.to_numpy() @ daily @ w.to_numpy() * 252)), rel=1e-10
    )
    assert tp.observations == 252
    assert tp.candidates == 80
    assert tp.status == "optimal" and tp.method == method
    assert "fully_invested" in tp.binding_constraints
    assert list(tp.table.columns) == [
        "symbol",
        "weight",
        "combined",
        "momentum",
        "quality",
        "volatility",
    ]
    assert tp.table["symbol"].tolist() == list(w.index)
    np.testing.assert_array_equal(tp.table["weight"], w.to_numpy())


def test_score_expected_returns_are_grinold_alphas() -> None:
    returns = _returns()
    scores = _scores(list(returns.columns))
    tp = target_weights(scores, returns, None, OptimizerParams(information_coefficient=0.05))
    c = scores["combined"]
    z = (c - c.mean()) / c.std(ddof=0)
    vol = np.sqrt(np.diag(tp.covariance.to_numpy()))
    expected = 0.05 * vol * z.reindex(tp.weights.index).to_numpy()
    np.testing.assert_allclose(tp.expected_returns.to_numpy(), expected, rtol=1e-12)
    assert tp.expected_return == pytest.approx(float(expected @ tp.weights.to_numpy()))
    historical = target_weights(
        scores, returns, None, OptimizerParams(expected_returns="historical")
    )
    window = returns[list(historical.weights.index)].iloc[-252:]
    np.testing.assert_allclose(
        historical.expected_returns.to_numpy(), window.mean().to_numpy() * 252, rtol=1e-12
    )


def test_fewer_candidates_than_positions_uses_what_exists() -> None:
    returns = _returns()
    scores = _scores(list(returns.columns))
    scores.loc[scores.index[20:], "combined"] = np.nan  # 20 candidates left
    tp = target_weights(scores, returns)
    assert len(tp.weights) == 20 and tp.candidates == 20
    _assert_feasible(tp.weights, 0.03, 0.075)


def test_rows_with_missing_returns_are_dropped() -> None:
    returns = _returns()
    scores = _scores(list(returns.columns))
    held = scores.index[0]
    holed = returns.copy()
    holed.iloc[-10:-5, holed.columns.get_loc(held)] = np.nan
    tp = target_weights(scores, holed)
    assert tp.observations == 247
    with pytest.raises(InsufficientDataError, match=r"247 complete rows .* fewer than"):
        target_weights(scores, holed, None, OptimizerParams(min_observations=248))


# --------------------------------------------------------------------------------------------
# Feasibility, before any solve


def test_infeasible_bounds_are_rejected_with_the_arithmetic() -> None:
    with pytest.raises(
        AnalyticsError, match=r"30 positions × max_weight 0\.03 = 0\.9 < 1: infeasible"
    ):
        OptimizerParams(n_positions=30, min_weight=0.0, max_weight=0.03)
    with pytest.raises(
        AnalyticsError, match=r"30 positions × min_weight 0\.04 = 1\.2 > 1: infeasible"
    ):
        OptimizerParams(n_positions=30, min_weight=0.04, max_weight=0.075)
    # exactly 1 is fine despite floating point (20 × 0.05 = 1.0000000000000002)
    OptimizerParams(n_positions=20, min_weight=0.05, max_weight=0.05)

    returns = _returns()
    scores = _scores(list(returns.columns))
    scores.loc[scores.index[10:], "combined"] = np.nan
    with pytest.raises(
        AnalyticsError,
        match=r"only 10 candidates for n_positions 30: "
        r"10 positions × max_weight 0\.075 = 0\.75 < 1",
    ):
        target_weights(scores, returns)


def test_infeasible_category_caps_are_rejected_with_the_arithmetic() -> None:
    params = OptimizerParams(
        n_positions=4, min_weight=0.05, max_weight=0.5, category_caps={"A": 0.08}
    )
    with pytest.raises(
        AnalyticsError,
        match=r"category 'A': 2 positions × min_weight 0\.05 = 0\.1 > category cap 0\.08",
    ):
        check_feasibility(["A", "A", "B", None], params)
    caps = OptimizerParams(
        n_positions=4, min_weight=0.0, max_weight=0.5, category_caps={"A": 0.3, "B": 0.3}
    )
    with pytest.raises(AnalyticsError, match=r"largest investable total 0\.6 < 1: infeasible"):
        check_feasibility(["A", "A", "B", "B"], caps)
    check_feasibility(["A", "A", "B", None], caps)  # 0.3 + 0.3 + 0.5 >= 1

    returns = _returns()
    symbols = list(returns.columns)
    params = OptimizerParams(category_caps={"Equity": 0.2})  # ~8 Equity holdings × 0.03 > 0.2
    with pytest.raises(
        AnalyticsError, match=r"category 'Equity': \d+ positions × min_weight 0\.03"
    ):
        target_weights(_scores(symbols), returns, _categories(symbols), params)
    with pytest.raises(AnalyticsError, match=r"categories is required when params\.category_caps"):
        target_weights(_scores(symbols), returns, None, params)


# --------------------------------------------------------------------------------------------
# The solve wrapper


def _tiny_problem(low: float) -> tuple[cp.Problem, dict[str, cp.Constraint]]:
    w = cp.Variable(2)
    named = {"fully_invested": cp.sum(w) == 1, "min_weight": w >= low}
    return cp.Problem(cp.Minimize(cp.sum_squares(w)), list(named.values())), named


def test_solve_rejects_an_infeasible_problem_naming_status_and_solver() -> None:
    problem, named = _tiny_problem(0.6)  # 2 × 0.6 > 1, past any pre-check
    with pytest.raises(
        OptimizationError,
        match=r"status 'infeasible' from solver CLARABEL.*fully_invested, min_weight",
    ):
        solve(problem, constraints_named=named)


def test_solve_rejects_anything_but_optimal() -> None:
    problem, named = _tiny_problem(0.1)
    with pytest.raises(OptimizationError, match=r"status 'user_limit' from solver CLARABEL"):
        solve(problem, constraints_named=named, max_iter=1)


def test_solve_reports_binding_constraints() -> None:
    problem, named = _tiny_problem(0.1)
    result = solve(problem, constraints_named=named, labels=["X", "Y"])
    assert result.status == "optimal"
    assert result.objective_value == pytest.approx(0.5)
    assert result.binding == ("fully_invested",)  # w = (0.5, 0.5): the floors are slack
    problem, named = _tiny_problem(0.5)
    assert set(solve(problem, constraints_named=named, labels=["X", "Y"]).binding) == {
        "fully_invested",
        "min_weight[X]",
        "min_weight[Y]",
    }


def test_solve_input_errors() -> None:
    problem, named = _tiny_problem(0.1)
    other = cp.Variable() >= 0
    with pytest.raises(AnalyticsError, match=r"constraints_named\['stray'\] is not a constraint"):
        solve(problem, constraints_named={**named, "stray": other})
    with pytest.raises(AnalyticsError, match="problem must be a cvxpy Problem"):
        solve("problem", constraints_named={})  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Validation and purity


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "hrp"}, "method must be one of mvo, minvar, rankbased"),
        ({"n_positions": 0}, "n_positions must be >= 1"),
        ({"min_weight": -0.01}, "min_weight must be >= 0"),
        ({"max_weight": 1.5}, "max_weight must be <= 1"),
        ({"max_weight": 0.0}, "max_weight must be > 0"),
        ({"min_weight": 0.08, "max_weight": 0.075}, "min_weight 0.08 must be <= max_weight"),
        ({"category_caps": {"A": 0.0}}, r"category_caps\['A'\] must be > 0"),
        ({"category_caps": {"A": 1.5}}, r"category_caps\['A'\] must be in \(0, 1\]"),
        ({"category_caps": {"": 0.5}}, "category_caps keys must be non-empty strings"),
        ({"category_caps": [0.5]}, "category_caps must be a mapping"),
        ({"risk_aversion": 0.0}, "risk_aversion must be > 0"),
        ({"expected_returns": "capm"}, "expected_returns must be one of score, historical"),
        ({"information_coefficient": float("nan")}, "information_coefficient must be finite"),
        ({"lookback": 1}, "lookback must be >= 2"),
        ({"min_observations": 1}, "min_observations must be >= 2"),
        ({"annualisation": 0}, "annualisation must be >= 1"),
        ({"solver": "GUROBI"}, "solver 'GUROBI' is not installed"),
    ],
)
def test_params_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(AnalyticsError, match=match):
        OptimizerParams(**kwargs)  # type: ignore[arg-type]


def test_input_errors() -> None:
    returns = _returns()
    symbols = list(returns.columns)
    scores = _scores(symbols)
    with pytest.raises(AnalyticsError, match="scores is missing column"):
        target_weights(scores.drop(columns="combined"), returns)
    with pytest.raises(AnalyticsError, match="scores has duplicate symbol"):
        target_weights(pd.concat([scores, scores.iloc[:1]]), returns)
    with pytest.raises(InsufficientDataError, match="scores has no symbol with a combined score"):
        target_weights(scores.assign(combined=np.nan), returns)
    with pytest.raises(AnalyticsError, match="returns has no column for held symbol"):
        target_weights(scores, returns.drop(columns=scores.index[0]))
    with pytest.raises(AnalyticsError, match="params must be an OptimizerParams"):
        target_weights(scores, returns, None, {"method": "mvo"})  # type: ignore[arg-type]

    sigma = pd.DataFrame(np.eye(3) * 0.04, index=list("ABC"), columns=list("ABC"))
    params3 = OptimizerParams(method="mvo", n_positions=3, min_weight=0.0, max_weight=0.5)
    with pytest.raises(AnalyticsError, match="expected_returns is required for method 'mvo'"):
        solve_weights(sigma, params3)
    with pytest.raises(AnalyticsError, match="expected_returns is missing symbol"):
        solve_weights(sigma, params3, expected_returns=pd.Series({"A": 0.1, "B": 0.1}))
    rank3 = OptimizerParams(method="rankbased", n_positions=3, min_weight=0.0, max_weight=0.5)
    with pytest.raises(AnalyticsError, match="combined is required for method 'rankbased'"):
        solve_weights(sigma, rank3)
    asym = sigma.copy()
    asym.iloc[0, 1] = 0.01
    with pytest.raises(AnalyticsError, match="covariance must be symmetric"):
        solve_weights(asym, params3, expected_returns=pd.Series(0.1, index=list("ABC")))
    indefinite = sigma.copy()
    indefinite.iloc[0, 0] = -0.04
    with pytest.raises(AnalyticsError, match="covariance must be positive semi-definite"):
        solve_weights(indefinite, params3, expected_returns=pd.Series(0.1, index=list("ABC")))
    with pytest.raises(AnalyticsError, match="covariance must be square"):
        solve_weights(sigma.iloc[:2], params3)


def test_inputs_are_not_mutated() -> None:
    returns = _returns()
    symbols = list(returns.columns)
    scores = _scores(symbols)
    categories = _categories(symbols)
    copies = returns.copy(), scores.copy(), categories.copy()
    target_weights(scores, returns, categories, OptimizerParams(category_caps={"Gold": 0.3}))
    pd.testing.assert_frame_equal(returns, copies[0])
    pd.testing.assert_frame_equal(scores, copies[1])
    pd.testing.assert_series_equal(categories, copies[2])
