"""Price panels, simple returns and the quality filter, against hand-worked examples."""

import numpy as np
import pandas as pd
import pytest

from analytics_lib.exceptions import AnalyticsError
from analytics_lib.returns import price_panel, returns_panel, simple_returns


def _long(rows):
    return pd.DataFrame(rows, columns=["date", "symbol", "close", "adj_close"]).assign(
        date=lambda f: pd.to_datetime(f["date"])
    )


def test_price_panel_prefers_adjusted_close_and_falls_back_to_close():
    prices = _long(
        [
            ("2024-01-02", "AAA", 100.0, 50.0),
            ("2024-01-02", "BBB", 10.0, None),
            ("2024-01-03", "AAA", 102.0, 51.0),
        ]
    )
    panel = price_panel(prices)
    assert list(panel.columns) == ["AAA", "BBB"]
    assert panel.loc["2024-01-02", "AAA"] == 50.0
    assert panel.loc["2024-01-02", "BBB"] == 10.0
    assert np.isnan(panel.loc["2024-01-03", "BBB"])


def test_price_panel_rejects_duplicate_keys():
    prices = _long([("2024-01-02", "AAA", 1.0, 1.0), ("2024-01-02", "AAA", 2.0, 2.0)])
    with pytest.raises(AnalyticsError, match=r"duplicate \(date, symbol\)"):
        price_panel(prices)


def test_simple_returns_never_span_a_gap():
    index = pd.DatetimeIndex(pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"]))
    prices = pd.DataFrame({"A": [100.0, np.nan, 110.0], "B": [50.0, 55.0, 44.0]}, index=index)
    returns = simple_returns(prices)
    assert returns.index.tolist() == index[1:].tolist()
    assert np.isnan(returns["A"]).all()  # 100 -> gap -> 110 is not a "daily" return
    assert returns["B"].tolist() == pytest.approx([55 / 50 - 1, 44 / 55 - 1], abs=1e-15)


def test_simple_returns_rejects_non_positive_prices():
    index = pd.DatetimeIndex(pd.to_datetime(["2024-01-02", "2024-01-03"]))
    with pytest.raises(AnalyticsError, match="positive"):
        simple_returns(pd.DataFrame({"A": [1.0, 0.0]}, index=index))


def _panel(columns: dict[str, list[float]], start="2024-01-01") -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    index = pd.bdate_range(start, periods=n, name="date")
    return pd.DataFrame(columns, index=index)


def test_quality_filter_reasons_and_flags():
    n = 21
    full = [100.0 * 1.01**i for i in range(n)]
    late = [np.nan] * 10 + full[10:]  # lists on day 10: 10 returns, none "missing"
    holey = full.copy()
    holey[5] = np.nan  # one missing price removes two returns
    jumpy = full.copy()
    jumpy[15] = jumpy[14] * 1.8  # +80%
    prices = _panel({"FULL": full, "LATE": late, "HOLEY": holey, "JUMPY": jumpy})
    result = returns_panel(prices, min_history=12, max_missing_fraction=0.05, extreme_return=0.5)
    quality = result.quality
    assert quality.loc["FULL", "observations"] == 20
    assert quality.loc["LATE", "observations"] == 10
    assert quality.loc["LATE", "reason"] == "insufficient_history"
    assert quality.loc["HOLEY", "observations"] == 18
    assert quality.loc["HOLEY", "missing_fraction"] == pytest.approx(2 / 20)
    assert quality.loc["HOLEY", "reason"] == "too_many_missing"
    assert list(result.returns.columns) == ["FULL", "JUMPY"]
    flagged = result.extreme_returns
    assert flagged["symbol"].tolist() == ["JUMPY"]
    assert flagged["return"].iloc[0] == pytest.approx(0.8)
    assert flagged["date"].iloc[0] == prices.index[15]


def test_quality_filter_excludes_non_positive_prices():
    prices = _panel({"A": [1.0, 2.0, 3.0, 4.0], "B": [1.0, -1.0, 1.0, 1.0]})
    result = returns_panel(prices, min_history=2)
    assert result.quality.loc["B", "reason"] == "non_positive_price"
    assert list(result.returns.columns) == ["A"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_history": 0}, "min_history"),
        ({"max_missing_fraction": 1.5}, "max_missing_fraction"),
        ({"extreme_return": -1.0}, "extreme_return"),
    ],
)
def test_quality_filter_argument_errors(kwargs, match):
    prices = _panel({"A": [1.0, 2.0, 3.0]})
    with pytest.raises(AnalyticsError, match=match):
        returns_panel(prices, **kwargs)


def test_quality_filter_on_a_single_day_reports_insufficient_history():
    result = returns_panel(_panel({"A": [1.0], "B": [2.0]}), min_history=1)
    assert result.returns.shape == (0, 0)
    assert result.quality["reason"].tolist() == ["insufficient_history"] * 2
