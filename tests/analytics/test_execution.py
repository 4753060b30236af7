"""Tests for analytics_lib.execution (expected values worked by hand)."""

import math

import pandas as pd
import pytest

from analytics_lib.exceptions import AnalyticsError
from analytics_lib.execution import (
    BREAK_COLUMNS,
    cost_drift,
    expected_positions,
    leg_cost,
    per_share_commission,
    position_breaks,
    slipped_price,
)


def test_slipped_price_moves_against_the_trader() -> None:
    # 5 bps of 200 = 0.10
    assert slipped_price(200.0, "BUY", 5.0) == pytest.approx(200.10, abs=1e-12)
    assert slipped_price(200.0, "SELL", 5.0) == pytest.approx(199.90, abs=1e-12)
    assert slipped_price(200.0, "BUY", 0.0) == 200.0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0.0, "BUY", 5.0), "price must be > 0"),
        ((float("nan"), "BUY", 5.0), "price must be finite"),
        ((10.0, "HOLD", 5.0), "side must be BUY or SELL"),
        ((10.0, "BUY", -1.0), r"slippage_bps must be in \[0, 10000\)"),
        ((10.0, "BUY", 10_000.0), r"slippage_bps must be in \[0, 10000\)"),
    ],
)
def test_slipped_price_rejects_bad_arguments(args, match) -> None:
    with pytest.raises(AnalyticsError, match=match):
        slipped_price(*args)


def test_per_share_commission_has_a_minimum() -> None:
    # 100 shares at 0.005 = 0.50 < minimum 1.00; 1000 shares = 5.00
    assert per_share_commission(100, 0.005, 1.0) == 1.0
    assert per_share_commission(1000, 0.005, 1.0) == pytest.approx(5.0)
    assert per_share_commission(0, 0.005, 1.0) == 0.0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((-1, 0.005, 1.0), "quantity must be >= 0"),
        ((1, -0.005, 1.0), "per_share must be >= 0"),
        ((1, 0.005, -1.0), "minimum must be >= 0"),
        ((math.inf, 0.005, 1.0), "quantity must be finite"),
    ],
)
def test_per_share_commission_rejects_bad_arguments(args, match) -> None:
    with pytest.raises(AnalyticsError, match=match):
        per_share_commission(*args)


def test_leg_cost_is_signed_cash_out() -> None:
    assert leg_cost("BUY", 1000.0, 1.0) == 1001.0
    assert leg_cost("SELL", 1000.0, 1.0) == -999.0
    assert leg_cost("BUY", 1000.0, None) == 1000.0
    with pytest.raises(AnalyticsError, match="must be >= 0"):
        leg_cost("BUY", -1.0, 0.0)
    with pytest.raises(AnalyticsError, match="side must be BUY or SELL"):
        leg_cost("buy", 1.0, 0.0)


def test_cost_drift_is_relative_to_the_original() -> None:
    assert cost_drift(1000.0, 1011.0) == pytest.approx(0.011)
    assert cost_drift(-1000.0, -990.0) == pytest.approx(0.01)
    assert cost_drift(0.0, 0.0) == 0.0
    assert cost_drift(0.0, 1.0) == math.inf
    with pytest.raises(AnalyticsError, match="current must be finite"):
        cost_drift(1.0, float("nan"))


FILLS = pd.DataFrame(
    {
        "symbol": ["A", "B", "A", "C"],
        "side": ["BUY", "SELL", "SELL", "BUY"],
        "quantity": [10.0, 5.0, 3.0, 7.0],
    }
)


def test_expected_positions_adds_signed_fills_to_the_baseline() -> None:
    baseline = pd.Series({"A": 100.0, "B": 5.0, "D": -2.0})
    out = expected_positions(baseline, FILLS)
    # A: 100 + 10 - 3 = 107; B: 5 - 5 = 0; C: 0 + 7 = 7; D: -2 untouched
    assert out.to_dict() == {"A": 107.0, "B": 0.0, "C": 7.0, "D": -2.0}
    assert out.name == "quantity"


def test_expected_positions_without_fills_is_the_baseline() -> None:
    baseline = pd.Series({"B": 1.0, "A": 2.0})
    empty = FILLS.iloc[:0]
    assert expected_positions(baseline, empty).to_dict() == {"A": 2.0, "B": 1.0}


@pytest.mark.parametrize(
    ("baseline", "fills", "match"),
    [
        (pd.Series([1.0, 2.0], index=["A", "A"]), FILLS, "baseline has duplicate index"),
        (pd.Series({"A": math.nan}), FILLS, "baseline must be finite; not for: A"),
        (pd.Series({"A": 1.0}), FILLS.drop(columns="side"), "fills is missing column"),
        (pd.Series({"A": 1.0}), FILLS.assign(side="HOLD"), "fills.side must be BUY or SELL"),
        (pd.Series({"A": 1.0}), FILLS.assign(quantity=0.0), "fills.quantity must be finite"),
        ([1.0], FILLS, "baseline must be a pandas Series"),
    ],
)
def test_expected_positions_rejects_bad_input(baseline, fills, match) -> None:
    with pytest.raises(AnalyticsError, match=match):
        expected_positions(baseline, fills)


def test_position_breaks_lists_only_differences_beyond_tolerance() -> None:
    expected = pd.Series({"A": 107.0, "B": 0.0, "C": 7.0})
    actual = pd.Series({"A": 107.0 + 1e-9, "C": 6.0, "E": 3.0})
    out = position_breaks(expected, actual)
    assert list(out.columns) == list(BREAK_COLUMNS)
    # B: 0 vs missing (0) reconciles; A within tolerance; C short one share; E unexpected.
    assert out["symbol"].tolist() == ["C", "E"]
    assert out["expected"].tolist() == [7.0, 0.0]
    assert out["actual"].tolist() == [6.0, 3.0]
    assert out["difference"].tolist() == [-1.0, 3.0]


def test_position_breaks_empty_when_reconciled() -> None:
    same = pd.Series({"A": 1.0})
    assert position_breaks(same, same).empty
    assert position_breaks(pd.Series(dtype=float), pd.Series(dtype=float)).empty
    with pytest.raises(AnalyticsError, match="tolerance must be >= 0"):
        position_breaks(same, same, tolerance=-1.0)
