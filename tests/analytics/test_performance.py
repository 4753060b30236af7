"""Realized performance, return distribution and statistics, open-position P&L.

References: the seed's worked examples (004 "Trading Analysis Enhancement Plan"), hand
arithmetic, ``statistics`` and ``scipy.stats`` for the moments, and invariants.
"""

import json
import statistics

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from analytics_lib.exceptions import AnalyticsError
from analytics_lib.performance import (
    POSITION_PNL_COLUMNS,
    performance_report,
    positions_pnl,
    positions_summary,
    primary_currency,
    realized_summary,
    return_distribution,
    return_statistics,
)
from analytics_lib.trade_analysis import match_fifo

SEED_LABELS = [
    "< -50%",
    "-50% to -30%",
    "-30% to -20%",
    "-20% to -10%",
    "-10% to 0%",
    "0% to 10%",
    "10% to 20%",
    "20% to 30%",
    "30% to 50%",
    ">= 50%",
]

SUMMARY_KEYS = [
    "num_wins",
    "num_losses",
    "num_breakeven",
    "total_trades",
    "win_percent",
    "loss_percent",
    "total_win_dollars",
    "total_loss_dollars",
    "net_pnl",
    "avg_win",
    "avg_loss",
    "win_loss_ratio",
    "expectancy",
    "profit_factor",
]

STATISTICS_KEYS = [
    f"{stat}_{unit}"
    for unit in ("percent", "dollars")
    for stat in (
        "avg_return",
        "median_return",
        "std_dev",
        "avg_positive",
        "avg_negative",
        "best_return",
        "worst_return",
    )
]


def _trades(pnl, pnl_pct=None, currency="USD", cost_basis=None):
    pnl = [float(p) for p in pnl]
    n = len(pnl)
    return pd.DataFrame(
        {
            "pnl": pnl,
            "pnl_pct": [float("nan")] * n if pnl_pct is None else [float(p) for p in pnl_pct],
            "cost_basis": [1_000.0] * n if cost_basis is None else cost_basis,
            "currency": [currency] * n if isinstance(currency, str) else currency,
        }
    )


def _json_ready(obj):
    """Round-trips through strict JSON: no NaN, no infinity, plain types only."""
    return json.loads(json.dumps(obj, allow_nan=False)) == obj


# ---------------------------------------------------------------------------------------------
# realized_summary


def test_seed_expectancy_example_80_dollars():
    # 40 % wins averaging $500, 60 % losses averaging $200: 0.4*500 - 0.6*200 = $80 per trade
    summary = realized_summary(_trades([500, 500, -200, -200, -200]))
    assert summary["win_percent"] == pytest.approx(40.0)
    assert summary["avg_win"] == pytest.approx(500.0)
    assert summary["avg_loss"] == pytest.approx(200.0)  # stored positive
    assert summary["expectancy"] == pytest.approx(80.0)


def test_seed_cli_example_45_trades():
    # seed: 18 wins, 25 losses, 2 breakeven; win $12,500, loss $8,200 -> the printed figures
    pnl = [700.0] * 17 + [600.0] + [-328.0] * 25 + [0.0, 0.0]
    summary = realized_summary(_trades(pnl))
    assert list(summary) == SUMMARY_KEYS
    assert (summary["num_wins"], summary["num_losses"], summary["num_breakeven"]) == (18, 25, 2)
    assert summary["total_trades"] == 45
    assert round(summary["win_percent"], 1) == 40.0
    assert round(summary["loss_percent"], 1) == 55.6
    assert summary["total_win_dollars"] == pytest.approx(12_500.0)
    assert summary["total_loss_dollars"] == pytest.approx(8_200.0)
    assert summary["net_pnl"] == pytest.approx(4_300.0)
    assert round(summary["avg_win"], 2) == 694.44
    assert round(summary["avg_loss"], 2) == 328.00
    assert round(summary["win_loss_ratio"], 2) == 1.52
    assert round(summary["profit_factor"], 2) == 1.52
    assert round(summary["expectancy"], 2) == 95.56


def test_guards_with_no_trades():
    summary = realized_summary(_trades([]))
    assert summary == {
        "num_wins": 0,
        "num_losses": 0,
        "num_breakeven": 0,
        "total_trades": 0,
        "win_percent": 0.0,  # total == 0 -> 0.0
        "loss_percent": 0.0,
        "total_win_dollars": 0.0,
        "total_loss_dollars": 0.0,
        "net_pnl": 0.0,
        "avg_win": 0.0,  # num_wins == 0 -> 0.0
        "avg_loss": 0.0,  # num_losses == 0 -> 0.0
        "win_loss_ratio": None,  # losses == 0 -> None
        "expectancy": 0.0,
        "profit_factor": None,  # gross loss == 0 -> None
    }


def test_guards_with_no_losses_give_none_ratios_not_infinity():
    summary = realized_summary(_trades([100, 50, 0]))
    assert summary["win_loss_ratio"] is None
    assert summary["profit_factor"] is None
    assert summary["avg_loss"] == 0.0
    assert summary["expectancy"] == pytest.approx(2 / 3 * 75)
    assert _json_ready(summary)


def test_guards_with_no_wins():
    summary = realized_summary(_trades([-100, -50]))
    assert summary["avg_win"] == 0.0
    assert summary["win_loss_ratio"] == 0.0
    assert summary["profit_factor"] == 0.0
    assert summary["expectancy"] == pytest.approx(-75.0)


def test_summary_invariants_on_random_trades():
    rng = np.random.default_rng(5)
    pnl = np.round(rng.normal(0, 300, 500), 0)  # integers: some exact zeros
    summary = realized_summary(_trades(pnl))
    assert summary["num_breakeven"] > 0
    assert summary["num_wins"] + summary["num_losses"] + summary["num_breakeven"] == 500
    assert summary["win_percent"] + summary["loss_percent"] <= 100.0
    assert summary["net_pnl"] == pytest.approx(pnl.sum())
    # with proportions, expectancy is the mean P&L per trade
    assert summary["expectancy"] == pytest.approx(pnl.mean())


def test_summary_never_adds_currencies():
    trades = _trades([100, -40, 30], currency=["USD", "CAD", "USD"])
    summary = realized_summary(trades)
    assert (summary["num_wins"], summary["num_losses"], summary["total_trades"]) == (2, 1, 3)
    assert summary["win_percent"] == pytest.approx(200 / 3)
    for key in ("total_win_dollars", "net_pnl", "avg_win", "expectancy", "profit_factor"):
        assert summary[key] is None


def test_summary_errors():
    with pytest.raises(AnalyticsError, match="realized must be a pandas DataFrame"):
        realized_summary([1.0, 2.0])  # type: ignore[arg-type]
    with pytest.raises(AnalyticsError, match=r"realized is missing column.*currency"):
        realized_summary(pd.DataFrame({"pnl": [1.0]}))
    with pytest.raises(AnalyticsError, match="realized row 1: pnl is missing"):
        realized_summary(_trades([1.0, float("nan")]))
    with pytest.raises(AnalyticsError, match="realized row 0: pnl is infinite"):
        realized_summary(_trades([float("inf")]))
    with pytest.raises(AnalyticsError, match="realized row 0: currency must be a non-empty"):
        realized_summary(_trades([1.0], currency=[None]))


# ---------------------------------------------------------------------------------------------
# return_distribution


def test_bucket_edges_lower_bound_inclusive():
    edges = [-50.0, -30.0, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0, 50.0]
    for k, edge in enumerate(edges, start=1):
        buckets = return_distribution(_trades([0.0], [edge]))
        assert [b["count"] for b in buckets].index(1) == k, edge
    just_below = [np.nextafter(edge, -np.inf) for edge in edges]
    for k, value in enumerate(just_below):
        buckets = return_distribution(_trades([0.0], [value]))
        assert [b["count"] for b in buckets].index(1) == k, value


def test_exactly_zero_and_exactly_fifty_percent():
    by_label = {b["range_label"]: b for b in return_distribution(_trades([0, 0], [0.0, 50.0]))}
    assert by_label["0% to 10%"]["count"] == 1
    assert by_label["-10% to 0%"]["count"] == 0
    assert by_label[">= 50%"]["count"] == 1
    assert by_label["30% to 50%"]["count"] == 0


def test_seed_distribution_example_45_trades():
    counts = [2, 3, 5, 8, 7, 6, 5, 4, 3, 2]
    centres = [-60, -40, -25, -15, -5, 5, 15, 25, 40, 80]
    returns = [c for c, k in zip(centres, counts, strict=True) for _ in range(k)]
    buckets = return_distribution(_trades([0.0] * len(returns), returns))
    assert [b["range_label"] for b in buckets] == SEED_LABELS
    assert [b["count"] for b in buckets] == counts
    seed_freq = [4.4, 6.7, 11.1, 17.8, 15.6, 13.3, 11.1, 8.9, 6.7, 4.4]
    seed_cumul = [4.4, 11.1, 22.2, 40.0, 55.6, 68.9, 80.0, 88.9, 95.6, 100.0]
    assert [round(b["frequency"], 1) for b in buckets] == seed_freq
    assert [round(b["cumulative_frequency"], 1) for b in buckets] == seed_cumul
    assert buckets[0]["range_min"] is None and buckets[0]["range_max"] == -50.0
    assert buckets[-1]["range_min"] == 50.0 and buckets[-1]["range_max"] is None


def test_distribution_invariants_and_missing_returns():
    rng = np.random.default_rng(9)
    returns = list(rng.normal(0, 30, 300)) + [float("nan")] * 5
    buckets = return_distribution(_trades([0.0] * len(returns), returns))
    assert sum(b["count"] for b in buckets) == 300  # undefined returns left out
    assert buckets[-1]["cumulative_frequency"] == 100.0
    assert sum(b["frequency"] for b in buckets) == pytest.approx(100.0)
    cumulative = [b["cumulative_frequency"] for b in buckets]
    assert cumulative == sorted(cumulative)
    assert _json_ready(buckets)


def test_distribution_of_no_trades():
    buckets = return_distribution(_trades([]))
    assert len(buckets) == 10
    assert all(b["count"] == 0 and b["frequency"] == 0.0 for b in buckets)
    assert buckets[-1]["cumulative_frequency"] == 0.0


def test_distribution_errors():
    with pytest.raises(AnalyticsError, match=r"missing column.*pnl_pct"):
        return_distribution(pd.DataFrame({"pnl": [1.0]}))
    with pytest.raises(AnalyticsError, match="realized row 0: pnl_pct is infinite"):
        return_distribution(_trades([1.0], [float("-inf")]))


# ---------------------------------------------------------------------------------------------
# return_statistics


def test_statistics_against_statistics_module_and_scipy():
    rng = np.random.default_rng(21)
    pct = rng.gamma(2.0, 10.0, 200) - 15.0
    pnl = np.round(pct * 37.0, 2)
    result = return_statistics(_trades(pnl, pct))
    assert list(result) == [*STATISTICS_KEYS, "skewness", "kurtosis"]
    for values, unit in ((pct, "percent"), (pnl, "dollars")):
        assert result[f"avg_return_{unit}"] == pytest.approx(statistics.fmean(values))
        assert result[f"median_return_{unit}"] == pytest.approx(statistics.median(values))
        assert result[f"std_dev_{unit}"] == pytest.approx(statistics.stdev(values))  # ddof=1
        assert result[f"avg_positive_{unit}"] == pytest.approx(
            statistics.fmean([v for v in values if v > 0])
        )
        assert result[f"avg_negative_{unit}"] == pytest.approx(
            statistics.fmean([v for v in values if v < 0])
        )
        assert result[f"best_return_{unit}"] == max(values)
        assert result[f"worst_return_{unit}"] == min(values)
    assert result["skewness"] == pytest.approx(sps.skew(pct, bias=False))
    assert result["kurtosis"] == pytest.approx(sps.kurtosis(pct, fisher=True, bias=False))
    assert result["skewness"] > 0  # gamma: right-skewed


def test_statistics_hand_example():
    result = return_statistics(_trades([100, -50, 30, -20], [10.0, -5.0, 3.0, -2.0]))
    assert result["avg_return_percent"] == pytest.approx(1.5)
    assert result["median_return_percent"] == pytest.approx(0.5)
    assert result["avg_positive_percent"] == pytest.approx(6.5)
    assert result["avg_negative_percent"] == pytest.approx(-3.5)
    assert result["avg_positive_dollars"] == pytest.approx(65.0)
    assert result["avg_negative_dollars"] == pytest.approx(-35.0)
    assert result["best_return_dollars"] == 100.0
    assert result["worst_return_percent"] == -5.0
    assert result["kurtosis"] == pytest.approx(
        sps.kurtosis([10.0, -5.0, 3.0, -2.0], fisher=True, bias=False)
    )


def test_statistics_guards_for_small_or_constant_samples():
    empty = return_statistics(_trades([]))
    assert all(empty[k] is None for k in empty if "positive" not in k and "negative" not in k)
    assert empty["avg_positive_percent"] == 0.0 and empty["avg_negative_dollars"] == 0.0
    one = return_statistics(_trades([10.0], [1.0]))
    assert one["avg_return_percent"] == 1.0 and one["std_dev_percent"] is None
    three = return_statistics(_trades([1, 2, 4], [1.0, 2.0, 4.0]))
    assert three["skewness"] == pytest.approx(sps.skew([1.0, 2.0, 4.0], bias=False))
    assert three["kurtosis"] is None  # needs n >= 4
    constant = return_statistics(_trades([5] * 6, [0.1] * 6))
    assert constant["skewness"] is None and constant["kurtosis"] is None
    assert _json_ready(constant)


def test_statistics_percent_ignores_undefined_returns_and_never_mixes_currencies():
    trades = _trades([10, 20, 30], [1.0, float("nan"), 3.0], currency=["USD", "CAD", "USD"])
    result = return_statistics(trades)
    assert result["avg_return_percent"] == pytest.approx(2.0)
    assert all(result[k] is None for k in STATISTICS_KEYS if k.endswith("dollars"))


# ---------------------------------------------------------------------------------------------
# performance_report / primary_currency


def test_report_by_currency_without_fx_conversion():
    trades = _trades(
        [500, -200, 300, -100],
        [10.0, -4.0, 15.0, -5.0],
        currency=["USD", "USD", "CAD", "CAD"],
        cost_basis=[5_000.0, 5_000.0, 2_000.0, -2_000.0],
    )
    report = performance_report(trades)
    assert set(report) == {
        "realized_performance",
        "return_distribution",
        "return_statistics",
        "by_currency",
        "primary_currency",
    }
    assert report["realized_performance"]["num_wins"] == 2
    assert report["realized_performance"]["net_pnl"] is None  # USD + CAD is not a number
    assert report["return_statistics"]["avg_return_percent"] == pytest.approx(4.0)
    assert list(report["by_currency"]) == ["CAD", "USD"]
    usd = report["by_currency"]["USD"]
    cad = report["by_currency"]["CAD"]
    assert usd["realized_performance"]["net_pnl"] == 300.0
    assert cad["realized_performance"]["net_pnl"] == 200.0
    assert cad["return_statistics"]["avg_return_dollars"] == 100.0
    assert report["primary_currency"] == "USD"  # 10,000 of USD cost basis vs 4,000 CAD
    distribution = report["return_distribution"]
    assert distribution["total_trades"] == 4
    assert (distribution["min_return"], distribution["max_return"]) == (-5.0, 15.0)
    assert len(distribution["buckets"]) == 10
    assert _json_ready(report)


def test_report_single_currency_overall_equals_its_breakdown():
    trades = _trades([50, -20, 0], [5.0, -2.0, 0.0], currency="CAD")
    report = performance_report(trades)
    assert report["by_currency"]["CAD"]["realized_performance"] == report["realized_performance"]
    assert report["primary_currency"] == "CAD"


def test_report_of_no_trades():
    report = performance_report(_trades([]))
    assert report["by_currency"] == {}
    assert report["primary_currency"] is None
    assert report["return_distribution"]["min_return"] is None
    assert _json_ready(report)


def test_primary_currency_largest_gross_then_alphabetical():
    assert primary_currency(np.array(["USD", "CAD", "CAD"]), np.array([100.0, -80.0, -30.0])) == (
        "CAD"
    )
    assert primary_currency(np.array(["USD", "CAD"]), np.array([50.0, -50.0])) == "CAD"
    with pytest.raises(AnalyticsError, match="same length"):
        primary_currency(np.array(["USD"]), np.array([1.0, 2.0]))
    with pytest.raises(AnalyticsError, match="amounts must be finite"):
        primary_currency(np.array(["USD"]), np.array([np.nan]))


# ---------------------------------------------------------------------------------------------
# positions_pnl / positions_summary


def _positions(rows):
    return pd.DataFrame(rows, columns=["account", "symbol", "quantity", "cost_basis", "currency"])


def test_seed_long_and_short_position_examples():
    positions = _positions(
        [
            ("U1", "LNG", 100.0, 5_000.0, "USD"),  # long 100 @ $50, now $60
            ("U1", "SHT", -100.0, -5_000.0, "USD"),  # short 100 @ $50, now $40
        ]
    )
    pnl = positions_pnl(positions, {"LNG": 60.0, "SHT": 40.0})
    assert list(pnl.columns) == list(POSITION_PNL_COLUMNS)
    long, short = pnl.iloc[0], pnl.iloc[1]
    assert (long["direction"], long["shares"], long["entry_price"]) == ("long", 100.0, 50.0)
    assert long["market_value"] == 6_000.0 and long["pnl_dollars"] == 1_000.0
    assert long["pnl_percent"] == pytest.approx(20.0)
    assert (short["direction"], short["shares"], short["entry_price"]) == ("short", 100.0, 50.0)
    assert short["market_value"] == -4_000.0
    assert short["gross_exposure"] == 4_000.0 and short["net_exposure"] == -4_000.0
    assert short["pnl_dollars"] == 1_000.0  # -4,000 - (-5,000): profit when the price drops
    assert short["pnl_percent"] == pytest.approx(20.0)


def test_seed_positions_monitor_rows():
    positions = _positions(
        [
            ("U1", "NVDA", 25.0, 25.0 * 115.36, "USD"),
            ("U1", "MSCI", 33.5, 33.5 * 543.75, "USD"),
            ("U1", "ENB", 227.0, 227.0 * 40.0, "CAD"),
        ]
    )
    prices = pd.Series({"NVDA": 125.0, "MSCI": 544.0, "ENB": 40.0})
    pnl = positions_pnl(positions, prices).set_index("symbol")
    assert pnl.loc["NVDA", "entry_price"] == pytest.approx(115.36)
    assert pnl.loc["NVDA", "gross_exposure"] == 3_125.0
    assert round(pnl.loc["NVDA", "pnl_dollars"], 2) == 241.00
    assert round(pnl.loc["NVDA", "pnl_percent"], 1) == 8.4
    assert round(pnl.loc["MSCI", "pnl_dollars"], 2) == 8.38
    assert round(pnl.loc["MSCI", "pnl_percent"], 1) == 0.0
    assert pnl.loc["ENB", "pnl_dollars"] == 0.0
    assert not pnl["entry_price_warning"].any()


def test_position_guards_missing_and_zero_cost_basis_and_flat():
    positions = _positions(
        [
            ("U1", "XFER", 10.0, None, "USD"),  # transferred in: cost basis unknown
            ("U1", "GIFT", 10.0, 0.0, "USD"),
            ("U1", "FLAT", 0.0, 0.0, "USD"),  # skipped: no position
        ]
    )
    pnl = positions_pnl(positions, {"XFER": 20.0, "GIFT": 20.0}).set_index("symbol")
    assert list(pnl.index) == ["XFER", "GIFT"]
    xfer = pnl.loc["XFER"]
    assert xfer["cost_basis"] is None and xfer["entry_price"] is None
    assert xfer["pnl_dollars"] is None and xfer["pnl_percent"] is None
    assert not xfer["entry_price_warning"]
    gift = pnl.loc["GIFT"]
    assert gift["entry_price"] == 0.0
    assert gift["pnl_dollars"] == 200.0
    assert gift["pnl_percent"] is None  # cost_basis == 0 -> None
    assert gift["entry_price_warning"]  # 0 < 0.1 x 20
    assert _json_ready(pnl.reset_index().to_dict("records")[0] | {"entry_price_warning": False})


@pytest.mark.parametrize(
    ("entry", "warned"),
    [(1_001.0, True), (1_000.0, False), (10.0, False), (9.99, True), (100.0, False)],
)
def test_entry_price_warning_outside_tenfold(entry, warned):
    positions = _positions([("U1", "ABC", -2.0, -2.0 * entry, "USD")])
    pnl = positions_pnl(positions, {"ABC": 100.0})
    assert bool(pnl["entry_price_warning"].iloc[0]) is warned


def test_positions_pnl_errors():
    ok = _positions([("U1", "ABC", 10.0, 1_000.0, "USD")])
    with pytest.raises(AnalyticsError, match=r"positions is missing column.*cost_basis"):
        positions_pnl(ok.drop(columns="cost_basis"), {"ABC": 1.0})
    with pytest.raises(AnalyticsError, match=r"positions row 0: cost_basis -1000\.0 must have"):
        positions_pnl(ok.assign(cost_basis=-1_000.0), {"ABC": 1.0})
    with pytest.raises(AnalyticsError, match="positions row 0: quantity is missing"):
        positions_pnl(ok.assign(quantity=np.nan), {"ABC": 1.0})
    with pytest.raises(AnalyticsError, match="positions row 0: symbol must be a non-empty"):
        positions_pnl(ok.assign(symbol=""), {"": 1.0})
    with pytest.raises(AnalyticsError, match=r"no price for held symbol.*ABC"):
        positions_pnl(ok, {"XYZ": 1.0})
    with pytest.raises(AnalyticsError, match="prices must be finite and > 0"):
        positions_pnl(ok, {"ABC": 0.0})
    with pytest.raises(AnalyticsError, match="prices has duplicate symbol"):
        positions_pnl(ok, pd.Series([1.0, 2.0], index=["ABC", "ABC"]))
    with pytest.raises(AnalyticsError, match="prices must be a Series or a mapping"):
        positions_pnl(ok, [1.0])  # type: ignore[arg-type]


def test_positions_pnl_does_not_mutate_inputs():
    positions = _positions([("U1", "ABC", 10.0, 1_000.0, "USD")])
    prices = pd.Series({"ABC": 120.0})
    before = (positions.copy(), prices.copy())
    positions_pnl(positions, prices)
    pd.testing.assert_frame_equal(positions, before[0])
    pd.testing.assert_series_equal(prices, before[1])


def test_positions_summary_by_currency_and_account():
    positions = _positions(
        [
            ("U1", "AAA", 1_000.0, 140_000.0, "USD"),  # +10,000
            ("U2", "BBB", -100.0, -9_000.0, "USD"),  # -1,000
            ("U1", "CCC", 500.0, 25_500.0, "CAD"),  # -500
            ("U1", "DDD", 10.0, None, "USD"),  # no cost basis: in exposure, not in P&L
        ]
    )
    prices = {"AAA": 150.0, "BBB": 100.0, "CCC": 50.0, "DDD": 10.0}
    summary = positions_summary(positions_pnl(positions, prices))
    usd = summary["by_currency"]["USD"]
    assert usd["num_positions"] == 3
    assert usd["gross_exposure"] == 150_000.0 + 10_000.0 + 100.0
    assert usd["net_exposure"] == 150_000.0 - 10_000.0 + 100.0
    assert usd["unrealized_pnl_dollars"] == 9_000.0
    assert usd["unrealized_pnl_percent"] == pytest.approx(9_000.0 / 149_000.0 * 100)
    assert usd["positions_without_cost_basis"] == 1
    cad = summary["by_currency"]["CAD"]
    assert (cad["gross_exposure"], cad["unrealized_pnl_dollars"]) == (25_000.0, -500.0)
    assert summary["primary_currency"] == "USD"  # the larger gross exposure (seed example)
    assert set(summary["by_account"]) == {"U1", "U2"}
    assert set(summary["by_account"]["U1"]) == {"CAD", "USD"}  # currencies stay separate
    assert summary["by_account"]["U2"]["USD"]["unrealized_pnl_dollars"] == -1_000.0
    assert summary["by_account"]["U1"]["USD"]["net_exposure"] == 150_100.0
    assert _json_ready(summary)


def test_positions_summary_errors():
    with pytest.raises(AnalyticsError, match="pnl must be a pandas DataFrame"):
        positions_summary({})  # type: ignore[arg-type]
    pnl = positions_pnl(_positions([("U1", "ABC", 1.0, 1.0, "USD")]), {"ABC": 1.0})
    with pytest.raises(AnalyticsError, match=r"pnl is missing column\(s\): gross_exposure"):
        positions_summary(pnl.drop(columns="gross_exposure"))


def test_fifo_output_feeds_the_report_and_the_positions_monitor():
    tx = pd.DataFrame(
        {
            "account": "U1",
            "trade_id": ["T1", "T2", "T3", "T4"],
            "datetime": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]),
            "symbol": ["ABC", "ABC", "XYZ", "XYZ"],
            "side": ["buy", "sell", "sell", "buy"],
            "quantity": [100.0, 60.0, 100.0, 50.0],
            "price": [50.0, 60.0, 50.0, 40.0],
            "fees": 0.0,
            "currency": "USD",
        }
    )
    fifo = match_fifo(tx)
    report = performance_report(fifo.realized)
    assert report["realized_performance"]["net_pnl"] == 600.0 + 500.0
    monitor = positions_pnl(fifo.positions, {"ABC": 60.0, "XYZ": 40.0})
    assert monitor["pnl_dollars"].tolist() == [400.0, 500.0]  # 40 long +$10 ; 50 short -$10
    assert monitor["direction"].tolist() == ["long", "short"]
    assert positions_summary(monitor)["by_currency"]["USD"]["unrealized_pnl_dollars"] == 900.0


def test_positions_summary_of_no_positions():
    empty = positions_pnl(_positions([]).astype({"quantity": float, "cost_basis": float}), {})
    assert positions_summary(empty) == {
        "by_currency": {},
        "by_account": {},
        "primary_currency": None,
    }
