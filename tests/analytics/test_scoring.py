"""Factor scores against a pandas re-implementation, hand examples and invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics_lib.exceptions import AnalyticsError
from analytics_lib.scoring import DEFAULT_FACTOR_WEIGHTS, factor_scores, percentile_scores


def _dates(n: int) -> pd.DatetimeIndex:
    return pd.bdate_range("2022-01-03", periods=n, name="date")


def _random_prices(n_rows: int = 320, n_symbols: int = 8, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    vols = np.linspace(0.005, 0.02, n_symbols)
    returns = rng.normal(0.0004, 1.0, (n_rows, n_symbols)) * vols
    prices = 100.0 * np.cumprod(1.0 + returns, axis=0)
    frame = pd.DataFrame(prices, index=_dates(n_rows), columns=[f"S{i}" for i in range(n_symbols)])
    # isolated gaps (<= 5 rows): one at the first row of the 253-row window, one at t-21
    if n_rows > 253:
        frame.iloc[n_rows - 253, 0] = np.nan
        frame.iloc[n_rows - 22 : n_rows - 19, 1] = np.nan
        frame.iloc[n_rows - 100, 2] = np.nan
    return frame


def _pct(series: pd.Series) -> pd.Series:
    return series.rank(method="average", pct=True)


def _reference(prices: pd.DataFrame) -> pd.DataFrame:
    """Independent pandas version of the documented definitions."""
    filled = prices.ffill(limit=5)
    momentum = filled.iloc[-22] / filled.iloc[-253] - 1.0
    ends = [filled.iloc[-1 - 21 * k] for k in range(13)]
    monthly = pd.DataFrame([ends[k] / ends[k + 1] - 1.0 for k in range(12)])
    positive = (monthly > 0).mean()
    year = filled.iloc[-253:]
    drawdown = (year / year.cummax() - 1.0).min()
    vol = prices.iloc[-253:].pct_change(fill_method=None).std() * np.sqrt(252)
    quality_raw = (_pct(positive) + _pct(drawdown)) / 2.0
    out = pd.DataFrame(
        {
            "momentum": _pct(momentum),
            "quality": _pct(quality_raw),
            "volatility": _pct(-vol),
            "momentum_raw": momentum,
            "quality_raw": quality_raw,
            "quality_positive_months": positive,
            "quality_max_drawdown": drawdown,
            "volatility_raw": vol,
        }
    )
    w = {k: v / 0.85 for k, v in DEFAULT_FACTOR_WEIGHTS.items() if k != "value"}
    out["combined"] = sum(w[f] * out[f] for f in ("momentum", "quality", "volatility"))
    return out


def _instruments(symbols, **columns) -> pd.DataFrame:
    return pd.DataFrame({"symbol": list(symbols), **columns})


def test_scores_match_a_pandas_reference() -> None:
    prices = _random_prices()
    symbols = list(prices.columns)
    result = factor_scores(prices, _instruments(symbols), symbols)
    expected = _reference(prices)
    got = result.scores
    for column in expected.columns:
        np.testing.assert_allclose(
            got.loc[symbols, column].to_numpy(),
            expected.loc[symbols, column].to_numpy(),
            rtol=1e-12,
            atol=1e-14,
            err_msg=column,
        )
    assert list(got.columns) == [
        "momentum",
        "quality",
        "volatility",
        "combined",
        "momentum_raw",
        "quality_raw",
        "quality_positive_months",
        "quality_max_drawdown",
        "volatility_raw",
    ]
    assert got.index.name == "symbol"
    assert got["combined"].is_monotonic_decreasing
    for column in ("momentum", "quality", "volatility", "combined"):
        assert got[column].between(0.0, 1.0).all()
        if column != "combined":
            assert got[column].max() == 1.0
    assert result.as_of == prices.index[-1]
    assert result.counts == {
        "eligible": 8,
        "momentum": 8,
        "quality": 8,
        "volatility": 8,
        "combined": 8,
    }


def test_hand_worked_momentum_with_a_tie() -> None:
    n = 260
    t = np.arange(n, dtype=float)
    slopes = {"A": 0.1, "B": 0.2, "C": 0.2, "D": -0.05}
    prices = pd.DataFrame({s: 100.0 + k * t for s, k in slopes.items()}, index=_dates(n))
    scores = factor_scores(prices, _instruments(slopes), list(slopes)).scores
    last = n - 1
    for symbol, k in slopes.items():
        expected = (100 + k * (last - 21)) / (100 + k * (last - 252)) - 1
        assert scores.loc[symbol, "momentum_raw"] == pytest.approx(expected, rel=1e-14)
    # ranks ascending: D=1, A=2, B=C=(3+4)/2; score = rank / 4
    assert scores.loc[["D", "A", "B", "C"], "momentum"].tolist() == [0.25, 0.5, 0.875, 0.875]


def test_value_is_skipped_and_weights_redistributed_as_in_the_seed() -> None:
    prices = _random_prices()
    symbols = list(prices.columns)
    for instruments in (
        _instruments(symbols),
        _instruments(symbols, expense_ratio=[np.nan] * len(symbols)),
    ):
        result = factor_scores(prices, instruments, symbols)
        assert result.active_factors == ("momentum", "quality", "volatility")
        assert result.skipped_factors == ("value",)
        assert result.skip_reasons["value"] == "no expense ratio data available"
        assert "value" not in result.scores.columns
        weights = result.effective_weights
        assert weights == pytest.approx(
            {"momentum": 0.35 / 0.85, "quality": 0.30 / 0.85, "volatility": 0.20 / 0.85}
        )
        # the seed prints "momentum=41%, quality=35%, volatility=24%"
        assert [round(100 * weights[f]) for f in ("momentum", "quality", "volatility")] == [
            41,
            35,
            24,
        ]


def test_value_factor_from_expense_ratio_is_rank_based() -> None:
    prices = _random_prices()
    symbols = list(prices.columns)
    ratios = np.array([0.0003, 0.0009, 0.0020, 0.0050, 0.0075, 0.0095, 0.0040, np.nan])
    result = factor_scores(prices, _instruments(symbols, expense_ratio=ratios), symbols)
    assert result.active_factors == ("momentum", "quality", "value", "volatility")
    assert sum(result.effective_weights.values()) == pytest.approx(1.0)
    assert result.effective_weights == pytest.approx(dict(DEFAULT_FACTOR_WEIGHTS))
    scores = result.scores
    value = scores.loc[symbols, "value"]
    expected = _pct(pd.Series(-ratios, index=symbols))
    pd.testing.assert_series_equal(value, expected, check_names=False)
    assert value["S0"] == 1.0  # cheapest is best
    assert np.isnan(value["S7"])
    assert result.counts["value"] == 7
    # a strictly increasing transform of the raw factor changes nothing
    transformed = ratios**3 + 10 * ratios
    again = factor_scores(prices, _instruments(symbols, expense_ratio=transformed), symbols)
    pd.testing.assert_series_equal(again.scores.loc[symbols, "value"], value)
    # S7 has no value score: its combined score renormalises over the other three
    row = scores.loc["S7"]
    w = DEFAULT_FACTOR_WEIGHTS
    expected_combined = (
        w["momentum"] * row["momentum"]
        + w["quality"] * row["quality"]
        + w["volatility"] * row["volatility"]
    ) / (w["momentum"] + w["quality"] + w["volatility"])
    assert row["combined"] == pytest.approx(expected_combined, rel=1e-14)
    full = scores.loc["S0"]
    assert full["combined"] == pytest.approx(sum(w[f] * full[f] for f in w), rel=1e-14)


def test_symbol_missing_factors_keeps_the_ones_it_has() -> None:
    prices = _random_prices()
    prices["YOUNG"] = prices["S3"]
    prices.iloc[:-200, prices.columns.get_loc("YOUNG")] = np.nan  # 199 returns: vol only
    prices["NEW"] = prices["S3"]
    prices.iloc[:-50, prices.columns.get_loc("NEW")] = np.nan  # 49 returns: nothing
    symbols = list(prices.columns)
    result = factor_scores(prices, _instruments(symbols), symbols)
    scores = result.scores
    young = scores.loc["YOUNG"]
    assert np.isnan(young["momentum"]) and np.isnan(young["quality"])
    assert young["combined"] == young["volatility"]  # renormalised weight 1 on volatility
    assert np.isnan(scores.loc["NEW", "combined"])
    assert scores.index[-1] == "NEW"  # NaN sorts last
    assert result.counts == {
        "eligible": 10,
        "momentum": 8,
        "quality": 8,
        "volatility": 9,
        "combined": 9,
    }
    # the others are ranked among themselves only
    others = [s for s in symbols if s not in ("YOUNG", "NEW")]
    np.testing.assert_allclose(
        scores.loc[others, "momentum"], _reference(prices[others])["momentum"], rtol=1e-12
    )


def test_scores_are_invariant_to_price_scale_and_ignore_old_rows() -> None:
    prices = _random_prices()
    symbols = list(prices.columns)
    base = factor_scores(prices, _instruments(symbols), symbols).scores
    scaled = prices * np.linspace(0.5, 40.0, len(symbols))
    again = factor_scores(scaled, _instruments(symbols), symbols).scores
    pd.testing.assert_frame_equal(base, again, rtol=1e-10)
    older = prices.copy()
    older.iloc[: len(prices) - 253 - 5] *= 3.0  # rows before the window and its fill margin
    pd.testing.assert_frame_equal(base, factor_scores(older, _instruments(symbols), symbols).scores)


def test_custom_weights_and_zero_weight_factors() -> None:
    prices = _random_prices()
    symbols = list(prices.columns)
    result = factor_scores(prices, _instruments(symbols), symbols, {"momentum": 2.0})
    assert result.active_factors == ("momentum",)
    assert result.skip_reasons == {
        "quality": "weight is 0",
        "value": "weight is 0",
        "volatility": "weight is 0",
    }
    assert result.effective_weights == {"momentum": 1.0}
    pd.testing.assert_series_equal(
        result.scores["combined"], result.scores["momentum"], check_names=False
    )


def test_factor_without_data_is_skipped() -> None:
    prices = _random_prices(n_rows=120)  # too short for momentum and quality
    symbols = list(prices.columns)
    result = factor_scores(prices, _instruments(symbols), symbols)
    assert result.active_factors == ("volatility",)
    assert result.skip_reasons["momentum"] == "no eligible symbol has enough price history"
    assert result.effective_weights == {"volatility": 1.0}


def test_inputs_are_not_mutated() -> None:
    prices = _random_prices()
    symbols = list(prices.columns)
    instruments = _instruments(symbols, expense_ratio=np.linspace(0.001, 0.01, len(symbols)))
    copies = prices.copy(), instruments.copy()
    factor_scores(prices, instruments, symbols)
    pd.testing.assert_frame_equal(prices, copies[0])
    pd.testing.assert_frame_equal(instruments, copies[1])


def test_percentile_scores_match_pandas_rank() -> None:
    x = np.array([3.0, np.nan, 1.0, 3.0, -2.0, np.inf])
    expected = pd.Series(np.where(np.isfinite(x), x, np.nan)).rank(pct=True).to_numpy()
    np.testing.assert_array_equal(percentile_scores(x), expected)
    assert np.isnan(percentile_scores(np.array([np.nan]))).all()
    with pytest.raises(AnalyticsError, match="values must be one-dimensional"):
        percentile_scores(np.ones((2, 2)))


def test_errors() -> None:
    prices = _random_prices()
    symbols = list(prices.columns)
    inst = _instruments(symbols)
    with pytest.raises(AnalyticsError, match="eligible is empty"):
        factor_scores(prices, inst, [])
    with pytest.raises(AnalyticsError, match="eligible must be a sequence"):
        factor_scores(prices, inst, "S0")
    with pytest.raises(AnalyticsError, match="eligible has duplicate symbol"):
        factor_scores(prices, inst, ["S0", "S0"])
    with pytest.raises(AnalyticsError, match="eligible symbol\\(s\\) not in prices: ZZZ"):
        factor_scores(prices, inst, ["S0", "ZZZ"])
    with pytest.raises(AnalyticsError, match="weights has unknown factor"):
        factor_scores(prices, inst, symbols, {"carry": 1.0})
    with pytest.raises(AnalyticsError, match="weights\\['quality'\\] must be finite and >= 0"):
        factor_scores(prices, inst, symbols, {"quality": -0.1})
    with pytest.raises(AnalyticsError, match="weights\\['quality'\\] must be a number"):
        factor_scores(prices, inst, symbols, {"quality": True})
    with pytest.raises(AnalyticsError, match="at least one factor a positive weight"):
        factor_scores(prices, inst, symbols, {"quality": 0.0})
    with pytest.raises(AnalyticsError, match="weights must be a mapping"):
        factor_scores(prices, inst, symbols, [0.5, 0.5])  # type: ignore[arg-type]
    with pytest.raises(AnalyticsError, match="expense_ratio must be finite and >= 0"):
        factor_scores(prices, _instruments(symbols, expense_ratio=-0.01), symbols)
    with pytest.raises(AnalyticsError, match="instruments has duplicate symbol"):
        factor_scores(prices, _instruments([*symbols, "S0"]), symbols)
    with pytest.raises(AnalyticsError, match="instruments is missing column"):
        factor_scores(prices, pd.DataFrame({"ticker": symbols}), symbols)
    bad = prices.copy()
    bad.iloc[-3, 4] = 0.0
    with pytest.raises(AnalyticsError, match=r"prices must be positive.*S4"):
        factor_scores(bad, inst, symbols)
    with pytest.raises(AnalyticsError, match="prices must be a pandas DataFrame"):
        factor_scores(prices.to_numpy(), inst, symbols)  # type: ignore[arg-type]
    with pytest.raises(AnalyticsError, match="prices contains infinite values"):
        factor_scores(prices.replace(prices.iloc[0, 3], np.inf), inst, symbols)
