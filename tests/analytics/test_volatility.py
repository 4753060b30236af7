"""Realized vol, HAR (against lstsq, statsmodels and arch HARX), trend, percentile, evaluation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from arch.univariate import HARX

from analytics_lib import volatility as vol_module
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.portfolio import portfolio_returns
from analytics_lib.volatility import (
    HAR_COLUMNS,
    evaluate_volatility_forecasts,
    har_design,
    har_forecast,
    mse_loss,
    qlike_loss,
    realized_volatility,
    rolling_har_forecast,
    rolling_realized_volatility,
    volatility_percentile,
    volatility_trend,
)

COEFS = ["beta_0", "beta_1", "beta_2", "beta_3"]


def garch_panel(
    n_days: int = 700,
    n_symbols: int = 6,
    seed: int = 11,
    persistence: tuple[float, float] = (0.1, 0.88),
) -> pd.DataFrame:
    """Independent GARCH(1,1) return series: clustered volatility."""
    rng = np.random.default_rng(seed)
    a, b = persistence
    omega = 1e-4 * (1.0 - a - b)
    var = np.full(n_symbols, 1e-4)
    out = np.empty((n_days, n_symbols))
    for t in range(n_days):
        out[t] = np.sqrt(var) * rng.standard_normal(n_symbols)
        var = omega + a * out[t] ** 2 + b * var
    index = pd.bdate_range("2019-01-01", periods=n_days, name="date")
    return pd.DataFrame(out, index=index, columns=[f"G{i}" for i in range(n_symbols)])


def iid_panel(n_days: int = 1500, n_symbols: int = 30, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2015-01-01", periods=n_days, name="date")
    values = 0.01 * rng.standard_normal((n_days, n_symbols))
    return pd.DataFrame(values, index=index, columns=[f"I{i}" for i in range(n_symbols)])


def lstsq_fit(rv: pd.Series, horizon: int) -> np.ndarray:
    design = har_design(rv, horizon).dropna()
    x = np.column_stack([np.ones(len(design)), design[["daily", "weekly", "monthly"]]])
    return np.linalg.lstsq(x, design["target"].to_numpy(), rcond=None)[0]


class TestRealizedVolatility:
    def test_hand_example(self) -> None:
        index = pd.bdate_range("2024-01-01", periods=4)
        series = pd.Series([0.5, 0.01, -0.02, 0.03], index=index)
        expected = math.sqrt(252 / 3 * (0.01**2 + 0.02**2 + 0.03**2))
        assert realized_volatility(series, 3) == pytest.approx(expected, rel=1e-14)

    def test_missing_returns_and_minimum(self) -> None:
        index = pd.bdate_range("2024-01-01", periods=5)
        frame = pd.DataFrame(
            {"A": [0.01, np.nan, 0.02, -0.01, 0.03], "B": [np.nan, np.nan, np.nan, 0.01, 0.01]},
            index=index,
        )
        result = realized_volatility(frame, 5)
        # A: 4 finite of 5 >= ceil(0.8 * 5) = 4; B: 2 finite -> NaN
        assert result["A"] == pytest.approx(math.sqrt(252 / 4 * (1 + 4 + 1 + 9) * 1e-4))
        assert np.isnan(result["B"])
        assert realized_volatility(frame, 5, min_periods=2)["B"] == pytest.approx(
            math.sqrt(252 * 1e-4)
        )

    def test_rolling_last_row_equals_point_value(self) -> None:
        panel = garch_panel(n_days=200)
        panel.iloc[150:155, 2] = np.nan
        rolling = rolling_realized_volatility(panel, 21)
        np.testing.assert_allclose(rolling.iloc[-1], realized_volatility(panel, 21), rtol=1e-12)
        np.testing.assert_allclose(
            rolling.iloc[120], realized_volatility(panel.iloc[:121], 21), rtol=1e-12
        )
        assert rolling.iloc[:16].isna().all().all()

    def test_two_asset_portfolio_vol_below_weighted_average(self) -> None:
        rng = np.random.default_rng(1)
        common = rng.standard_normal(63)
        a = 0.02 * (0.3 * common + rng.standard_normal(63))
        b = 0.01 * (0.3 * common + rng.standard_normal(63))
        panel = pd.DataFrame({"A": a, "B": b}, index=pd.bdate_range("2024-01-01", periods=63))
        weights = pd.Series({"A": 0.5, "B": 0.5})
        book = portfolio_returns(panel, weights)["return"]
        book_vol = realized_volatility(book, 63)
        position_vols = realized_volatility(panel, 63)
        weighted_average = float((weights * position_vols).sum())
        assert book_vol < weighted_average
        assert book_vol < 0.95 * weighted_average  # diversification is material here

    @pytest.mark.parametrize("seed", range(25))
    def test_long_only_book_vol_at_most_weighted_vols(self, seed: int) -> None:
        """Minkowski: ||sum w_i r_i|| <= sum w_i ||r_i|| for this root-mean-square vol."""
        rng = np.random.default_rng(seed)
        n_assets = int(rng.integers(2, 12))
        panel = pd.DataFrame(
            rng.standard_normal((63, n_assets)) * rng.uniform(0.005, 0.04, n_assets)
            + rng.standard_normal((63, 1)) * rng.uniform(0.0, 0.02),
            index=pd.bdate_range("2024-01-01", periods=63),
        )
        weights = pd.Series(rng.dirichlet(np.ones(n_assets)), index=panel.columns)
        for window in (21, 63):
            book_vol = realized_volatility(portfolio_returns(panel, weights)["return"], window)
            bound = float((weights * realized_volatility(panel, window)).sum())
            assert book_vol <= bound * (1 + 1e-12)


class TestHarDesign:
    def test_hand_example(self) -> None:
        index = pd.bdate_range("2024-01-01", periods=30)
        rv = pd.Series(np.arange(1.0, 31.0), index=index)
        design = har_design(rv, horizon=3)
        row = design.iloc[21]  # RV_21 = 22
        assert row["daily"] == 22.0
        assert row["weekly"] == pytest.approx(np.mean([18, 19, 20, 21, 22]))
        assert row["monthly"] == pytest.approx(np.mean(np.arange(1, 23)))
        assert row["target"] == pytest.approx(np.mean([23, 24, 25]))
        assert design["monthly"].iloc[:21].isna().all()
        assert design["target"].iloc[-3:].isna().all()
        assert design.dropna().index[0] == index[21]
        assert design.dropna().index[-1] == index[26]

    def test_errors(self) -> None:
        with pytest.raises(AnalyticsError, match="rv must be a pandas Series"):
            har_design(np.ones(30), 3)  # type: ignore[arg-type]
        with pytest.raises(AnalyticsError, match="horizon must be >= 1"):
            har_design(pd.Series([1.0], index=pd.bdate_range("2024-01-01", periods=1)), 0)


class TestHarForecast:
    @pytest.mark.parametrize("horizon", [1, 5, 21])
    def test_coefficients_equal_lstsq_and_statsmodels(self, horizon: int) -> None:
        panel = garch_panel()
        panel.iloc[300:303, 1] = np.nan  # gaps remove the rows whose windows touch them
        panel.iloc[:80, 4] = np.nan
        result = har_forecast(panel, horizon=horizon)
        for symbol in panel.columns:
            rv = panel[symbol] ** 2
            expected = lstsq_fit(rv, horizon)
            np.testing.assert_allclose(
                result.loc[symbol, COEFS].to_numpy(float), expected, rtol=1e-6, atol=1e-12
            )
            design = har_design(rv, horizon).dropna()
            fit = sm.OLS(
                design["target"], sm.add_constant(design[["daily", "weekly", "monthly"]])
            ).fit()
            np.testing.assert_allclose(
                result.loc[symbol, COEFS].to_numpy(float), fit.params.to_numpy(), rtol=1e-6
            )
            assert result.loc[symbol, "r_squared"] == pytest.approx(fit.rsquared, rel=1e-6)
            assert result.loc[symbol, "observations"] == len(design)

    def test_coefficients_equal_arch_harx(self) -> None:
        panel = garch_panel(n_days=600)
        result = har_forecast(panel, horizon=1)
        for symbol in panel.columns:
            rv = (panel[symbol] ** 2).to_numpy()
            fit = HARX(rv, lags=[1, 5, 22], rescale=False).fit(disp="off")
            np.testing.assert_allclose(
                result.loc[symbol, COEFS].to_numpy(float), fit.params.to_numpy()[:4], rtol=1e-6
            )
            assert result.loc[symbol, "observations"] == fit.nobs

    def test_forecast_from_origin_components(self) -> None:
        panel = garch_panel()
        result = har_forecast(panel)
        rv = panel["G0"] ** 2
        row = result.loc["G0"]
        assert row["rv_daily"] == pytest.approx(rv.iloc[-1])
        assert row["rv_weekly"] == pytest.approx(rv.iloc[-5:].mean())
        assert row["rv_monthly"] == pytest.approx(rv.iloc[-22:].mean())
        expected = lstsq_fit(rv, 21) @ [1.0, rv.iloc[-1], rv.iloc[-5:].mean(), rv.iloc[-22:].mean()]
        assert row["forecast_variance_raw"] == pytest.approx(expected, rel=1e-9)
        assert row["forecast_vol"] == pytest.approx(math.sqrt(252 * expected), rel=1e-9)
        assert row["forecast_variance"] == pytest.approx(expected, rel=1e-9)
        assert row["status"] == "ok"
        assert not row["capped"]
        assert list(result.columns) == list(HAR_COLUMNS)

    def test_no_look_ahead(self) -> None:
        panel = garch_panel()
        origin = panel.index[500]
        before = har_forecast(panel, as_of=origin)
        perturbed = panel.copy()
        perturbed.iloc[501:] = perturbed.iloc[501:] * 5.0 + 0.01
        perturbed.iloc[520:530, 0] = np.nan
        after = har_forecast(perturbed, as_of=origin)
        pd.testing.assert_frame_equal(before, after, check_exact=True)
        truncated = har_forecast(panel.loc[:origin])
        pd.testing.assert_frame_equal(before, truncated, check_exact=True)
        # and data up to the origin does matter
        changed = panel.copy()
        changed.iloc[500] *= 3.0
        assert not np.allclose(
            har_forecast(changed, as_of=origin)["forecast_vol"], before["forecast_vol"]
        )

    def test_fit_uses_only_rows_whose_target_ends_by_the_origin(self) -> None:
        panel = garch_panel(n_days=300)
        result = har_forecast(panel, horizon=21)
        # rows t = 21 .. T-1-21 have components and a target inside the sample
        assert (result["observations"] == 300 - 21 - 21).all()

    def test_max_history(self) -> None:
        panel = garch_panel()
        limited = har_forecast(panel, max_history=300)
        sliced = har_forecast(panel.iloc[-300:])
        pd.testing.assert_frame_equal(limited, sliced, rtol=1e-12)

    def test_statuses(self) -> None:
        panel = garch_panel(n_days=300)
        panel["ZERO"] = 0.0
        panel["SHORT"] = np.nan
        panel.iloc[-60:, panel.columns.get_loc("SHORT")] = 0.01 * np.sin(np.arange(60))
        panel.iloc[-3, 0] = np.nan
        result = har_forecast(panel)
        assert result.loc["ZERO", "status"] == "degenerate"
        assert result.loc["SHORT", "status"] == "insufficient_data"
        assert result.loc["G0", "status"] == "missing_components"
        assert np.isfinite(result.loc["G0", "beta_1"])  # the fit itself succeeded
        assert np.isnan(result.loc["G0", "forecast_vol"])
        assert result.loc["G1", "status"] == "ok"
        ok = result[result["status"] == "ok"]
        assert ((ok["forecast_vol"] > 0) & (ok["forecast_vol"] <= 3.0)).all()

    def test_cap_above_max(self) -> None:
        panel = garch_panel(n_days=300)
        sign = np.where(np.arange(300) % 2 == 0, 1.0, -1.0)
        panel.iloc[100:140, 0] = 0.3 * sign[100:140]  # a crash the model learns from
        panel.iloc[-22:, 0] = 0.5 * sign[-22:]  # and a bigger one at the origin
        row = har_forecast(panel).loc["G0"]
        assert row["forecast_vol"] == 3.0
        assert row["capped"]
        assert row["cap_reason"] == "above_max"
        assert row["forecast_variance"] == pytest.approx(9.0 / 252)
        assert math.sqrt(252 * row["forecast_variance_raw"]) > 3.0

    def test_non_positive_forecast_falls_back_to_the_monthly_level(self) -> None:
        panel = garch_panel(n_days=300)
        panel.iloc[-22:, 0] = 0.5  # the crash enters only the last targets: wild coefficients
        row = har_forecast(panel, min_vol=0.02, max_vol=10.0).loc["G0"]
        assert row["forecast_variance_raw"] <= 0.0
        # the monthly component is the mean squared return of the last 22 days: 0.25
        assert row["rv_monthly"] == pytest.approx(0.25)
        assert row["forecast_vol"] == pytest.approx(math.sqrt(252 * 0.25))
        assert row["capped"]
        assert row["cap_reason"] == "non_positive"
        assert row["status"] == "ok"
        # the fallback stays within the bounds
        assert har_forecast(panel, min_vol=0.02).loc["G0", "forecast_vol"] == 3.0

    def test_cap_helper(self) -> None:
        raw = np.array([-1e-5, 0.0, -1.0, 1e-4, 1.0, 1e-6, np.nan])
        ok = np.array([True, True, True, True, True, True, False])
        fallback = np.array([1e-4, 1e-12, 1.0, 5.0, 5.0, 4e-4, 1e-4])
        sample_min = np.array([1e-6, 1e-6, 1e-6, 1e-5, 1e-5, 2e-6, 1e-6])
        vol, capped, reason = vol_module._cap_forecast(raw, ok, 0.01, 3.0, fallback, sample_min)
        np.testing.assert_allclose(
            vol[:6],
            [math.sqrt(252e-4), 0.01, 3.0, math.sqrt(252e-4), 3.0, math.sqrt(252 * 4e-4)],
        )
        assert np.isnan(vol[6])
        assert capped.tolist() == [True, True, True, False, True, True, False]
        assert reason.tolist() == [1, 1, 1, 0, 2, 3, 0]

    def test_too_short_for_any_regression_row(self) -> None:
        result = har_forecast(garch_panel(n_days=30))
        assert (result["status"] == "insufficient_data").all()
        assert result["forecast_vol"].isna().all()

    def test_forecasts_never_fall_below_the_fit_sample(self) -> None:
        panel = garch_panel(n_days=400, n_symbols=6)
        panel.iloc[-25:-22] *= 12.0  # a spike just before the origin drags the fit around
        result = har_forecast(panel)
        for symbol, row in result.iterrows():
            lowest = har_design(panel[symbol] ** 2, 21).dropna()["target"].min()
            if row["cap_reason"] in ("below_sample", "non_positive"):
                assert row["forecast_variance"] == pytest.approx(row["rv_monthly"])
            else:
                assert row["forecast_variance_raw"] >= lowest

    def test_inputs_not_mutated(self) -> None:
        panel = garch_panel(n_days=300)
        before = panel.copy()
        har_forecast(panel)
        evaluate_volatility_forecasts(panel, origins=panel.index[200:260:20])
        pd.testing.assert_frame_equal(panel, before)

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"horizon": 0}, "horizon must be >= 1"),
            ({"min_observations": 4}, "min_observations must be >= 5"),
            ({"max_history": 0}, "max_history must be >= 1"),
            ({"min_vol": 0.0}, "min_vol must be > 0"),
            ({"min_vol": 4.0}, r"min_vol \(4.0\) must be <= max_vol"),
            ({"as_of": "1990-01-01"}, "as_of 1990-01-01 is not a date of returns"),
            ({"as_of": "not a date"}, "as_of must be a date"),
        ],
    )
    def test_errors(self, kwargs: dict, message: str) -> None:
        with pytest.raises(AnalyticsError, match=message):
            har_forecast(garch_panel(n_days=100), **kwargs)


def stressed_panel() -> pd.DataFrame:
    """GARCH series plus the cases the HAR kernels treat apart: gaps, a late start, a constant
    stretch (degenerate designs), a crash at many origins (caps and the insanity filter), a
    missing return near the end (missing components) and a calm after a storm (cancellation)."""
    panel = garch_panel(n_days=900, n_symbols=8, seed=3)
    rng = np.random.default_rng(8)
    panel.iloc[200:215, 1] = np.nan
    panel.iloc[:450, 2] = np.nan
    panel.iloc[300:, 3] = 0.0
    sign = np.where(np.arange(900) % 2 == 0, 1.0, -1.0)
    panel.iloc[500:530, 4] = 0.3 * sign[500:530]
    panel.iloc[700:722, 4] = 0.5 * sign[700:722]
    panel.iloc[-30, 5] = np.nan
    panel.iloc[:400, 6] *= 400.0
    panel.iloc[400:, 6] = 1e-6 * rng.standard_normal(500)
    panel["FLAT"] = 0.0
    panel["LATE"] = np.nan
    panel.iloc[-120:, panel.columns.get_loc("LATE")] = 0.02 * rng.standard_normal(120)
    return panel


def assert_rolling_equals_per_date(
    panel: pd.DataFrame, origins: pd.DatetimeIndex, tolerance: float = 1e-10, **kwargs: object
) -> pd.DataFrame:
    result = rolling_har_forecast(panel, as_of_dates=origins, **kwargs)
    for i, origin in enumerate(origins):
        rows = result.iloc[i * panel.shape[1] : (i + 1) * panel.shape[1]]
        assert (rows["date"] == origin).all()
        got = rows.drop(columns="date").set_index("symbol")
        expected = har_forecast(panel.loc[:origin], **kwargs)
        for name in ("status", "cap_reason", "capped", "observations"):
            assert got[name].astype(str).tolist() == expected[name].astype(str).tolist(), (
                origin,
                name,
            )
        floats = [name for name in HAR_COLUMNS if got[name].dtype == np.float64]
        np.testing.assert_allclose(
            got[floats].to_numpy(), expected[floats].to_numpy(), rtol=0, atol=tolerance
        )
    return result


class TestRollingHarForecast:
    @pytest.mark.parametrize("max_history", [None, 300])
    def test_equals_har_forecast_at_every_origin(self, max_history: int | None) -> None:
        panel = stressed_panel()
        result = assert_rolling_equals_per_date(
            panel, panel.index[::3], max_history=max_history, min_vol=0.02
        )
        seen = set(result["status"].astype(str)) | set(result["cap_reason"].astype(str))
        assert {"ok", "insufficient_data", "missing_components", "degenerate"} <= seen
        assert {"none", "non_positive", "below_sample", "above_max"} <= seen

    def test_other_horizons_and_bounds(self) -> None:
        panel = stressed_panel()
        origins = panel.index[60::11]
        for kwargs in (
            {"horizon": 1, "min_observations": 30},
            {"horizon": 5, "max_history": 120, "max_vol": 0.5},
            {"horizon": 21, "max_history": 30, "min_observations": 5},
        ):
            assert_rolling_equals_per_date(panel, origins, **kwargs)

    def test_arch_harx_at_an_origin(self) -> None:
        panel = garch_panel(n_days=700)
        origin = panel.index[600]
        result = rolling_har_forecast(panel, as_of_dates=[origin], horizon=1)
        for i, symbol in enumerate(panel.columns):
            rv = (panel.loc[:origin, symbol] ** 2).to_numpy()
            fit = HARX(rv, lags=[1, 5, 22], rescale=False).fit(disp="off")
            np.testing.assert_allclose(
                result.loc[i, COEFS].to_numpy(float), fit.params.to_numpy()[:4], rtol=1e-6
            )

    def test_default_origins_order_and_no_look_ahead(self) -> None:
        panel = garch_panel(n_days=200, n_symbols=3)
        result = rolling_har_forecast(panel)
        assert len(result) == 200 * 3
        assert list(result.columns) == ["date", "symbol", *HAR_COLUMNS]
        assert result["date"].is_monotonic_increasing
        assert result["symbol"].iloc[:3].tolist() == list(panel.columns)
        shuffled = rolling_har_forecast(panel, as_of_dates=panel.index[::-1])
        pd.testing.assert_frame_equal(result, shuffled)
        origin = panel.index[150]
        perturbed = panel.copy()
        perturbed.iloc[151:] *= 7.0
        before = rolling_har_forecast(panel, as_of_dates=[origin])
        after = rolling_har_forecast(perturbed, as_of_dates=[origin])
        pd.testing.assert_frame_equal(before, after)

    def test_no_origins(self) -> None:
        result = rolling_har_forecast(garch_panel(n_days=50), as_of_dates=[])
        assert result.empty
        assert list(result.columns) == ["date", "symbol", *HAR_COLUMNS]

    def test_inputs_not_mutated(self) -> None:
        panel = stressed_panel()
        before = panel.copy()
        rolling_har_forecast(panel, max_history=200)
        pd.testing.assert_frame_equal(panel, before)

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"as_of_dates": ["1990-01-01"]}, "as_of_dates contains 1990-01-01"),
            ({"as_of_dates": "2019-01-01"}, "not a string"),
            ({"as_of_dates": ["x"]}, "as_of_dates must hold dates"),
            ({"as_of_dates": ["2019-01-01", "2019-01-01"]}, "as_of_dates repeats 2019-01-01"),
            ({"max_history": 0}, "max_history must be >= 1"),
            ({"min_vol": 4.0}, r"min_vol \(4.0\) must be <= max_vol"),
        ],
    )
    def test_errors(self, kwargs: dict, message: str) -> None:
        with pytest.raises(AnalyticsError, match=message):
            rolling_har_forecast(garch_panel(n_days=100), **kwargs)


class TestTrend:
    def test_hand_example_increasing(self) -> None:
        label, strength = volatility_trend(0.30, 0.20, 0.33)
        score = 0.5 * (math.log(1.5) + math.log(1.1))
        assert label == "increasing"
        assert strength == pytest.approx((score - 0.05) / (math.log(1.5) - 0.05))

    def test_decreasing_stable_and_saturation(self) -> None:
        assert volatility_trend(0.10, 0.30, 0.08) == ("decreasing", 1.0)
        assert volatility_trend(0.20, 0.205, 0.21) == ("stable", 0.0)
        label, strength = volatility_trend(0.40, 0.20)  # no forecast: realized vols only
        assert label == "increasing"
        assert strength == 1.0

    def test_vectorised_series(self) -> None:
        index = pd.Index(["A", "B", "C", "D"], name="symbol")
        v21 = pd.Series([0.30, 0.10, 0.20, np.nan], index=index)
        v63 = pd.Series([0.20, 0.30, 0.205, 0.2], index=index)
        forecast = pd.Series([0.33, np.nan, 0.21, 0.2], index=index)
        labels, strength = volatility_trend(v21, v63, forecast)
        assert labels.tolist()[:3] == ["increasing", "decreasing", "stable"]
        assert pd.isna(labels["D"])
        assert np.isnan(strength["D"])
        assert strength["A"] == pytest.approx(volatility_trend(0.30, 0.20, 0.33)[1])
        assert strength["B"] == pytest.approx(volatility_trend(0.10, 0.30)[1])
        assert ((strength.dropna() >= 0) & (strength.dropna() <= 1)).all()

    def test_errors(self) -> None:
        with pytest.raises(AnalyticsError, match="vol_21 must not be negative"):
            volatility_trend(-0.1, 0.2)
        with pytest.raises(AnalyticsError, match="dead_band must be in"):
            volatility_trend(0.1, 0.2, dead_band=0.5)
        index = pd.Index(["A"])
        with pytest.raises(AnalyticsError, match="vol_63 must share the index of vol_21"):
            volatility_trend(pd.Series([0.1], index=index), pd.Series([0.1], index=["B"]))
        with pytest.raises(AnalyticsError, match="forecast must hold numbers"):
            volatility_trend(0.1, 0.2, "high")  # type: ignore[arg-type]


class TestPercentile:
    def test_rising_volatility_is_at_the_top(self) -> None:
        index = pd.bdate_range("2020-01-01", periods=300)
        scale = np.linspace(0.005, 0.05, 300)
        sign = np.where(np.arange(300) % 2 == 0, 1.0, -1.0)
        panel = pd.DataFrame({"UP": scale * sign, "DOWN": scale[::-1] * sign}, index=index)
        result = volatility_percentile(panel)
        assert result["UP"] == 1.0
        assert result["DOWN"] == pytest.approx(1 / 252)

    def test_hand_count_and_range(self) -> None:
        panel = garch_panel(n_days=400)
        result = volatility_percentile(panel, window=21, lookback=252)
        rolling = rolling_realized_volatility(panel, 21).iloc[-252:]
        expected = (rolling <= rolling.iloc[-1]).sum() / rolling.notna().sum()
        pd.testing.assert_series_equal(result, expected.rename("vol_percentile"), check_names=False)
        assert ((result > 0) & (result <= 1)).all()
        assert volatility_percentile(panel["G0"]) == pytest.approx(result["G0"])

    def test_short_history_is_nan(self) -> None:
        panel = garch_panel(n_days=60)
        assert volatility_percentile(panel).isna().all()
        assert volatility_percentile(panel, min_periods=10).notna().all()

    def test_errors(self) -> None:
        with pytest.raises(AnalyticsError, match=r"min_periods \(300\) must be <= lookback"):
            volatility_percentile(garch_panel(n_days=60), min_periods=300)
        with pytest.raises(AnalyticsError, match="window must be >= 1"):
            volatility_percentile(garch_panel(n_days=60), window=0)


class TestEvaluation:
    def test_loss_formulas_by_hand(self) -> None:
        assert mse_loss(4e-4, 1e-4) == pytest.approx(9e-8)
        assert qlike_loss(2.0, 1.0) == pytest.approx(2.0 - math.log(2.0) - 1.0)
        assert qlike_loss(1.0, 1.0) == 0.0
        assert qlike_loss(0.5, 1.0) == pytest.approx(0.5 - math.log(0.5) - 1.0)
        assert np.isnan(qlike_loss(0.0, 1.0))

    def test_per_symbol_losses_rebuilt_by_hand(self) -> None:
        panel = garch_panel(n_days=400, n_symbols=3)
        origins = [panel.index[250], panel.index[300], panel.index[350]]
        per_symbol, summary = evaluate_volatility_forecasts(panel, origins=origins)
        har_losses, naive_losses = [], []
        for origin in origins:
            position = panel.index.get_loc(origin)
            har = har_forecast(panel.loc[:origin])["forecast_variance"]
            naive = (panel.iloc[position - 20 : position + 1] ** 2).mean()
            real = (panel.iloc[position + 1 : position + 22] ** 2).mean()
            har_losses.append(qlike_loss(real, har))
            naive_losses.append(qlike_loss(real, naive))
        np.testing.assert_allclose(per_symbol["har_qlike"], np.mean(har_losses, axis=0))
        np.testing.assert_allclose(per_symbol["naive_qlike"], np.mean(naive_losses, axis=0))
        assert (per_symbol["forecasts"] == 3).all()
        assert summary["forecasts"] == 9
        assert summary["har_qlike"] == pytest.approx(np.mean(har_losses))

    def test_har_wins_on_clustered_volatility(self) -> None:
        panel = garch_panel(n_days=1500, n_symbols=40, seed=3)
        per_symbol, summary = evaluate_volatility_forecasts(panel, origins=panel.index[500:-21:21])
        assert per_symbol["har_better_qlike"].mean() == summary["har_win_share_qlike"]
        assert summary["har_qlike"] < summary["naive_qlike"]
        assert summary["har_mse"] < summary["naive_mse"]
        assert summary["har_win_share_qlike"] > 0.6
        assert summary["har_win_share_mse"] > 0.6
        assert summary["symbols"] == 40

    def test_constant_volatility_gives_theoretical_losses(self) -> None:
        """iid N(0, s^2): realized/true ~ chi2_21/21, so E[QLIKE] ~ 1/21 for a forecast at the
        true variance (HAR converges to it) and ~ 2/21 for the noisy naive forecast."""
        panel = iid_panel()
        per_symbol, summary = evaluate_volatility_forecasts(panel, origins=panel.index[500:-21:21])
        assert summary["har_qlike"] == pytest.approx(1 / 21, rel=0.25)
        assert summary["naive_qlike"] == pytest.approx(2 / 21, rel=0.25)
        assert np.isfinite(per_symbol[["har_mse", "naive_mse"]]).all().all()

    def test_errors(self) -> None:
        panel = garch_panel(n_days=300)
        with pytest.raises(AnalyticsError, match="fewer than horizon=21 rows after it"):
            evaluate_volatility_forecasts(panel, origins=[panel.index[-5]])
        with pytest.raises(AnalyticsError, match="which is not a date of returns"):
            evaluate_volatility_forecasts(panel, origins=[pd.Timestamp("1990-01-02")])
        with pytest.raises(AnalyticsError, match="origins repeats"):
            evaluate_volatility_forecasts(panel, origins=[panel.index[100]] * 2)
        with pytest.raises(AnalyticsError, match="origins is empty"):
            evaluate_volatility_forecasts(panel, origins=[])
        with pytest.raises(AnalyticsError, match="not a string"):
            evaluate_volatility_forecasts(panel, origins="2020-01-01")
        with pytest.raises(AnalyticsError, match="naive_window must be >= 1"):
            evaluate_volatility_forecasts(panel, origins=[panel.index[100]], naive_window=0)
