"""The basket checks pass and fail where they should (severities included)."""

import dataclasses

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from analytics_lib.baskets import basket_analytics
from orchestration.defs.baskets import checks

ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN


def test_weights_sum_to_one():
    ok = checks.basket_weights_sum_to_one(
        {"a": pd.Series([0.5, 0.5], index=["X", "Y"]), "b": pd.Series([1 / 3] * 3)}
    )
    assert ok.passed and ok.metadata["baskets_failing"].value == 0
    short = checks.basket_weights_sum_to_one(
        {"a": pd.Series([0.5, 0.5]), "b": pd.Series([0.6, 0.3])}
    )
    assert not short.passed and short.severity == ERROR
    assert short.metadata["baskets_failing"].value == 1
    assert short.metadata["max_abs_deviation"].value == pytest.approx(0.1)
    assert "| b " in short.metadata["failing"].value
    negative = checks.basket_weights_sum_to_one({"a": pd.Series([1.5, -0.5])})
    assert not negative.passed
    missing = checks.basket_weights_sum_to_one({"a": pd.Series([1.0, np.nan])})
    assert not missing.passed


@pytest.mark.parametrize(
    ("covered", "passed", "severity"),
    [
        (1.0, True, None),
        (0.8, True, None),
        (0.79, False, WARN),
        (0.5, False, WARN),
        (0.49, False, ERROR),
    ],
)
def test_coverage_grades(covered, passed, severity):
    result = checks.basket_coverage_sufficient({"full": 1.0, "x": covered}, 0.8, 0.5)
    assert result.passed is passed
    if severity is not None:
        assert result.severity == severity
    assert result.metadata["lowest_covered_weight"].value == covered


def _analytics():
    dates = pd.bdate_range("2024-03-04", periods=4)
    panel = pd.DataFrame(
        {"A": [0.01, -0.02, 0.03, 0.0], "B": [0.0, 0.01, -0.01, 0.02]}, index=dates
    )
    weights = pd.Series([0.6, 0.4], index=["A", "B"])
    series = panel @ weights
    return basket_analytics(series, panel, weights, portfolio_returns=panel["A"])


def test_analytics_finite():
    good = _analytics()
    assert checks.basket_analytics_finite({"a": good}).passed
    nan_total = dataclasses.replace(good, total_return=float("nan"))
    failed = checks.basket_analytics_finite({"a": good, "b": nan_total})
    assert not failed.passed and failed.severity == ERROR
    assert (
        "| b " in failed.metadata["failing"].value
        and "total_return" in failed.metadata["failing"].value
    )
    components = good.components.assign(contribution=[np.inf, 0.0])
    bad_component = dataclasses.replace(good, components=components)
    message = checks.basket_analytics_finite({"c": bad_component}).metadata["failing"].value
    assert "contribution of A" in message
    comparison = dataclasses.replace(good.vs_portfolio, beta=float("nan"))
    assert not checks.basket_analytics_finite(
        {"d": dataclasses.replace(good, vs_portfolio=comparison)}
    ).passed
    # an undefined Sharpe is fine only for a zero-volatility series
    flat = dataclasses.replace(good, annualized_volatility=0.0, sharpe=float("nan"))
    assert checks.basket_analytics_finite({"flat": flat}).passed
    assert not checks.basket_analytics_finite(
        {"e": dataclasses.replace(good, sharpe=float("nan"))}
    ).passed
