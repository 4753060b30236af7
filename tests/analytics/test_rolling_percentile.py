"""rolling_volatility_percentile: every as-of date at once, against the per-date
volatility_percentile on random panels with gaps and against a pandas rolling oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics_lib.exceptions import AnalyticsError
from analytics_lib.volatility import rolling_volatility_percentile, volatility_percentile


def gappy_panel(n_days: int = 420, n_symbols: int = 9, seed: int = 3) -> pd.DataFrame:
    """Clustered-vol returns with missing days, a late listing and a suspended stretch."""
    rng = np.random.default_rng(seed)
    scale = np.exp(np.cumsum(0.05 * rng.standard_normal((n_days, n_symbols)), axis=0))
    values = 0.01 * scale * rng.standard_normal((n_days, n_symbols))
    values[rng.random((n_days, n_symbols)) < 0.04] = np.nan
    values[:150, 1] = np.nan  # listed late
    values[200:260, 2] = np.nan  # suspended
    values[300:330, 3] = 0.0  # no price change: zero vols, all tied
    index = pd.bdate_range("2020-01-01", periods=n_days, name="date")
    return pd.DataFrame(values, index=index, columns=[f"S{i}" for i in range(n_symbols)])


def oracle(returns: pd.DataFrame, as_of: pd.Timestamp, window: int, lookback: int) -> pd.Series:
    """Pandas rolling mean of squares (NaN skipped, 80 % of the window required), then the
    share of the finite vols of the last ``lookback`` rows at or below the current one."""
    vols = np.sqrt(
        252 * (returns**2).rolling(window, min_periods=int(np.ceil(0.8 * window))).mean()
    )
    past = vols.loc[:as_of].iloc[-lookback:]
    out = {}
    for symbol in returns.columns:
        current = past[symbol].iloc[-1]
        finite = past[symbol].dropna()
        if np.isnan(current) or len(finite) < max(1, lookback // 4):
            out[symbol] = np.nan
        else:
            out[symbol] = (finite <= current).sum() / len(finite)
    return pd.Series(out)


def test_equals_the_per_date_percentile_on_every_date() -> None:
    panel = gappy_panel()
    result = rolling_volatility_percentile(panel, window=21, lookback=120)
    assert result.shape == panel.shape
    for t, as_of in enumerate(panel.index):
        expected = volatility_percentile(panel.iloc[: t + 1], window=21, lookback=120)
        np.testing.assert_allclose(
            result.loc[as_of].to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12
        )


def test_a_long_enough_window_ending_at_the_date_gives_the_same_percentile() -> None:
    panel = gappy_panel(seed=8)
    dates = panel.index[[-1, -50, -200]]
    result = rolling_volatility_percentile(panel, as_of_dates=dates[::-1], window=10, lookback=60)
    assert list(result.index) == sorted(dates)
    for as_of in dates:
        window = panel.loc[:as_of].iloc[-(60 + 10 - 1) :]
        expected = volatility_percentile(window, window=10, lookback=60)
        np.testing.assert_allclose(result.loc[as_of].to_numpy(), expected.to_numpy(), atol=1e-12)


def test_matches_a_pandas_rolling_oracle() -> None:
    panel = gappy_panel(seed=21)
    dates = panel.index[[0, 20, 40, 100, 161, 250, 315, 419]]
    result = rolling_volatility_percentile(panel, as_of_dates=dates, window=21, lookback=100)
    for as_of in dates:
        expected = oracle(panel, as_of, 21, 100)
        np.testing.assert_allclose(
            result.loc[as_of].to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12
        )


def test_hand_worked_ranks() -> None:
    # window 1: the vol is sqrt(252) |r|; lookback 4 compares the last four |r|
    returns = pd.DataFrame(
        {"A": [0.01, -0.03, 0.02, 0.04, -0.01]},
        index=pd.bdate_range("2024-01-01", periods=5, name="date"),
    )
    result = rolling_volatility_percentile(returns, window=1, lookback=4, min_periods=1)
    # |r|: .01 .03 .02 .04 .01 -> ranks within the (up to) last four values
    assert result["A"].tolist() == pytest.approx([1.0, 1.0, 2 / 3, 1.0, 0.25])


def test_rejects_unknown_or_repeated_dates() -> None:
    panel = gappy_panel(n_days=60)
    with pytest.raises(AnalyticsError, match="not a date of returns"):
        rolling_volatility_percentile(panel, as_of_dates=[pd.Timestamp("1990-01-01")])
    with pytest.raises(AnalyticsError, match="repeats"):
        rolling_volatility_percentile(panel, as_of_dates=[panel.index[5], panel.index[5]])
    with pytest.raises(AnalyticsError, match="min_periods"):
        rolling_volatility_percentile(panel, lookback=10, min_periods=11)
