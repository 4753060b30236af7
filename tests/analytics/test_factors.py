"""Tests for analytics_lib.factors."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analytics_lib.exceptions import AnalyticsError
from analytics_lib.factors import STANDARD_PROXIES, factor_returns_panel

DATES = pd.bdate_range("2024-01-02", periods=30, name="date")


def returns_panel() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    cols = ["AAPL", "XLK", "SPY", "XLE", "MSFT", "IWM"]
    values = rng.normal(0, 0.01, (len(DATES), len(cols)))
    values[5:8, 1] = np.nan
    return pd.DataFrame(values, index=DATES, columns=cols)


def baskets_panel() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    values = rng.normal(0, 0.01, (len(DATES), 2))
    values[0:3, 0] = np.nan
    return pd.DataFrame(values, index=DATES, columns=["Tech Leaders", "energy"])


def test_standard_proxies() -> None:
    assert STANDARD_PROXIES["market"] == ("SPY", "QQQ", "IWM")
    assert STANDARD_PROXIES["sector"] == (
        "XLK",
        "XLV",
        "XLF",
        "XLY",
        "XLC",
        "XLI",
        "XLP",
        "XLE",
        "XLU",
        "XLRE",
        "XLB",
    )
    with pytest.raises(TypeError):
        STANDARD_PROXIES["market"] = ("X",)  # type: ignore[index]


def test_panel_has_present_proxies_then_baskets() -> None:
    returns, baskets = returns_panel(), baskets_panel()
    before = returns.copy(), baskets.copy()
    fp = factor_returns_panel(returns, baskets)
    assert list(fp.panel.columns) == ["SPY", "IWM", "XLK", "XLE", "Tech Leaders", "energy"]
    assert fp.categories == {
        "market": ["SPY", "IWM"],
        "sector": ["XLK", "XLE"],
        "user_baskets": ["Tech Leaders", "energy"],
    }
    pd.testing.assert_series_equal(fp.panel["XLK"], returns["XLK"], check_names=False)
    pd.testing.assert_series_equal(fp.panel["energy"], baskets["energy"], check_names=False)
    pd.testing.assert_frame_equal(returns, before[0])
    pd.testing.assert_frame_equal(baskets, before[1])


def test_correlation_is_pairwise_complete() -> None:
    fp = factor_returns_panel(returns_panel(), baskets_panel())
    a, b = fp.panel["XLK"], fp.panel["Tech Leaders"]
    both = a.notna() & b.notna()
    assert both.sum() == len(DATES) - 6
    expected = np.corrcoef(a[both], b[both])[0, 1]
    assert fp.correlation.loc["XLK", "Tech Leaders"] == pytest.approx(expected, rel=1e-12)
    assert_allclose(np.diag(fp.correlation.to_numpy()), 1.0, rtol=1e-12)
    assert list(fp.correlation.index) == list(fp.panel.columns)


def test_without_baskets_and_outer_date_union() -> None:
    fp = factor_returns_panel(returns_panel())
    assert fp.categories["user_baskets"] == []
    later = pd.DataFrame({"b": [0.01, 0.02]}, index=pd.DatetimeIndex(["2024-03-01", "2024-03-04"]))
    fp = factor_returns_panel(returns_panel(), later)
    assert len(fp.panel) == len(DATES) + 2
    assert fp.panel["SPY"].iloc[-2:].isna().all()
    assert fp.panel.index.is_monotonic_increasing


def test_constant_series_correlation_is_nan() -> None:
    baskets = pd.DataFrame({"flat": 0.001}, index=DATES)
    fp = factor_returns_panel(returns_panel(), baskets)
    assert np.isnan(fp.correlation.loc["SPY", "flat"])


def test_errors() -> None:
    clash = baskets_panel().rename(columns={"energy": "XLE", "Tech Leaders": "QQQ"})
    with pytest.raises(AnalyticsError, match="named like a standard proxy: QQQ, XLE"):
        factor_returns_panel(returns_panel(), clash)
    with pytest.raises(AnalyticsError, match="no factors: returns has none of the standard"):
        factor_returns_panel(returns_panel()[["AAPL", "MSFT"]])
    with pytest.raises(AnalyticsError, match="basket_returns must be a pandas DataFrame"):
        factor_returns_panel(returns_panel(), baskets_panel()["energy"])  # type: ignore[arg-type]
    with pytest.raises(AnalyticsError, match="returns must have a tz-naive DatetimeIndex"):
        factor_returns_panel(returns_panel().tz_localize("UTC"))
