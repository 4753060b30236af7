"""Position weights, portfolio returns (renormalisation, coverage) and concentration."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analytics_lib.exceptions import AnalyticsError
from analytics_lib.portfolio import (
    concentration,
    missing_holdings,
    portfolio_returns,
    position_weights,
)


@pytest.fixture
def returns() -> pd.DataFrame:
    index = pd.bdate_range("2024-03-01", periods=4, name="date")
    return pd.DataFrame(
        {
            "A": [0.01, 0.02, np.nan, -0.01],
            "B": [0.03, np.nan, np.nan, 0.00],
            "C": [-0.02, 0.01, np.nan, 0.05],
        },
        index=index,
    )


class TestPositionWeights:
    def test_hand_example_with_short(self) -> None:
        quantities = pd.Series({"A": 10.0, "B": -5.0, "C": 20.0, "D": 0.0})
        prices = pd.Series({"A": 100.0, "B": 50.0, "C": 25.0, "X": 1.0})
        weights = position_weights(quantities, prices)
        # market values 1000, -250, 500, 0; net equity 1250
        pd.testing.assert_series_equal(
            weights,
            pd.Series(
                [0.8, -0.2, 0.4, 0.0],
                index=pd.Index(["A", "B", "C", "D"], name="symbol"),
                name="weight",
            ),
        )
        assert weights.sum() == pytest.approx(1.0)

    def test_cash_counts_in_net_equity(self) -> None:
        weights = position_weights(pd.Series({"A": 10.0}), pd.Series({"A": 100.0}), cash=250.0)
        assert weights["A"] == pytest.approx(1000.0 / 1250.0)

    def test_errors(self) -> None:
        prices = pd.Series({"A": 100.0, "B": 0.0})
        with pytest.raises(AnalyticsError, match="prices has no positive price for holding"):
            position_weights(pd.Series({"A": 1.0, "B": 1.0}), prices)
        with pytest.raises(AnalyticsError, match=r"no positive price for holding\(s\): C, D"):
            position_weights(pd.Series({"A": 1.0, "C": 1.0, "D": -1.0}), prices)
        with pytest.raises(AnalyticsError, match="net equity must be > 0"):
            position_weights(pd.Series({"A": -1.0}), prices)
        with pytest.raises(AnalyticsError, match="net equity must be > 0"):
            position_weights(pd.Series({"A": 1.0}), prices, cash=-100.0)
        with pytest.raises(AnalyticsError, match="quantities has duplicate symbol"):
            position_weights(pd.Series([1.0, 2.0], index=["A", "A"]), prices)
        with pytest.raises(AnalyticsError, match="quantities has missing or non-finite"):
            position_weights(pd.Series({"A": np.nan}), prices)
        with pytest.raises(AnalyticsError, match="prices must be a pandas Series"):
            position_weights(pd.Series({"A": 1.0}), {"A": 1.0})  # type: ignore[arg-type]
        with pytest.raises(AnalyticsError, match="prices has duplicate symbol"):
            position_weights(pd.Series({"A": 1.0}), pd.Series([1.0, 1.0], index=["A", "A"]))
        with pytest.raises(AnalyticsError, match="cash must be finite"):
            position_weights(pd.Series({"A": 1.0}), prices, cash=float("inf"))


class TestPortfolioReturns:
    def test_renormalised_over_available_holdings(self, returns: pd.DataFrame) -> None:
        weights = pd.Series({"A": 0.5, "B": 0.3, "C": -0.2, "D": 0.25, "Z": 0.0})
        result = portfolio_returns(returns, weights)
        gross = 0.5 + 0.3 + 0.2 + 0.25
        # day 1: A, B, C available
        day1 = (0.5 * 0.01 + 0.3 * 0.03 - 0.2 * -0.02) * gross / 1.0
        # day 2: B missing
        day2 = (0.5 * 0.02 - 0.2 * 0.01) * gross / 0.7
        day4 = (0.5 * -0.01 + 0.3 * 0.0 - 0.2 * 0.05) * gross / 1.0
        np.testing.assert_allclose(
            result["return"].to_numpy(), [day1, day2, np.nan, day4], rtol=1e-14
        )
        np.testing.assert_allclose(
            result["coverage"].to_numpy(), [1.0 / gross, 0.7 / gross, 0.0, 1.0 / gross]
        )
        assert result.attrs["missing_symbols"] == ["D"]
        assert missing_holdings(returns, weights) == ["D"]
        assert list(result.columns) == ["return", "coverage"]
        assert result.index.equals(returns.index)

    def test_full_coverage_is_weights_times_returns(self) -> None:
        rng = np.random.default_rng(0)
        panel = pd.DataFrame(
            rng.normal(0, 0.01, (50, 4)),
            index=pd.bdate_range("2024-01-01", periods=50),
            columns=list("ABCD"),
        )
        weights = pd.Series({"A": 0.4, "B": 0.4, "C": 0.3, "D": -0.1})
        result = portfolio_returns(panel, weights)
        np.testing.assert_allclose(result["return"], panel @ weights, rtol=1e-13)
        assert (result["coverage"] == 1.0).all()

    def test_inputs_not_mutated(self, returns: pd.DataFrame) -> None:
        weights = pd.Series({"A": 0.5, "B": 0.5})
        before_r, before_w = returns.copy(), weights.copy()
        portfolio_returns(returns, weights)
        concentration(weights)
        pd.testing.assert_frame_equal(returns, before_r)
        pd.testing.assert_series_equal(weights, before_w)

    def test_errors(self, returns: pd.DataFrame) -> None:
        with pytest.raises(AnalyticsError, match="weights has no non-zero weight"):
            portfolio_returns(returns, pd.Series({"A": 0.0}))
        with pytest.raises(AnalyticsError, match="weights must be a pandas Series"):
            portfolio_returns(returns, {"A": 1.0})  # type: ignore[arg-type]
        with pytest.raises(AnalyticsError, match="weights must hold numbers"):
            portfolio_returns(returns, pd.Series({"A": "x"}))
        with pytest.raises(AnalyticsError, match="returns must be indexed by dates"):
            portfolio_returns(returns.reset_index(drop=True), pd.Series({"A": 1.0}))


class TestConcentration:
    def test_hand_example(self) -> None:
        result = concentration(pd.Series({"A": 0.5, "B": 0.3, "C": 0.2}))
        assert result["hhi"] == pytest.approx(3800.0)
        assert result["effective_n"] == pytest.approx(2.6316, abs=5e-5)
        assert result["positions"] == 3
        assert result["top3_weight"] == pytest.approx(1.0)
        assert result["top3_symbols"] == ["A", "B", "C"]
        assert result["top10_symbols"] == ["A", "B", "C"]
        assert result["max_weight"] == pytest.approx(0.5)

    def test_shorts_count_by_absolute_weight_and_zeros_are_ignored(self) -> None:
        weights = pd.Series({"A": 0.6, "B": -0.3, "C": 0.5, "D": 0.2, "Z": 0.0})
        result = concentration(weights)
        gross = np.array([0.6, 0.3, 0.5, 0.2]) / 1.6
        assert result["hhi"] == pytest.approx(10_000 * np.sum(gross**2))
        assert result["positions"] == 4
        assert result["top3_symbols"] == ["A", "C", "B"]
        assert result["top3_weight"] == pytest.approx((0.6 + 0.5 + 0.3) / 1.6)

    def test_equal_weights_and_ties(self) -> None:
        result = concentration(pd.Series(0.25, index=["D", "B", "C", "A"]))
        assert result["effective_n"] == pytest.approx(4.0)
        assert result["hhi"] == pytest.approx(2500.0)
        assert result["top3_symbols"] == ["A", "B", "C"]

    @pytest.mark.parametrize("seed", range(20))
    def test_effective_n_at_most_positions(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        n = int(rng.integers(1, 40))
        weights = pd.Series(rng.normal(0, 1, n), index=[f"S{i}" for i in range(n)])
        result = concentration(weights)
        assert 1.0 <= result["effective_n"] <= result["positions"] * (1 + 1e-12)
        assert 0.0 < result["hhi"] <= 10_000.0
        assert result["top10_weight"] <= 1.0 + 1e-12
        assert len(result["top10_symbols"]) == min(10, n)

    def test_errors(self) -> None:
        with pytest.raises(AnalyticsError, match="weights has no non-zero weight"):
            concentration(pd.Series({"A": 0.0}))
        with pytest.raises(AnalyticsError, match="weights has missing or non-finite"):
            concentration(pd.Series({"A": math.inf}))
        with pytest.raises(AnalyticsError, match="weights has duplicate symbol"):
            concentration(pd.Series([0.5, 0.5], index=["A", "A"]))
