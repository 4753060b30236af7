"""Market betas against statsmodels OLS, invariants, the rolling/backfill path and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analytics_lib import betas as betas_module
from analytics_lib.betas import (
    BETA_COLUMNS,
    market_betas,
    portfolio_beta,
    rolling_market_betas,
    series_beta,
)
from analytics_lib.exceptions import AnalyticsError

RTOL = 1e-9
ATOL = 1e-13
STATS = ("beta_raw", "alpha", "r_squared", "std_error", "t_stat", "p_value")


def make_panel(
    n_days: int = 260, n_symbols: int = 12, seed: int = 20240101, nan_fraction: float = 0.03
) -> tuple[pd.DataFrame, np.ndarray]:
    """GARCH(1,1) market 'SPY' plus symbols r = a + beta * m + GARCH idiosyncratic noise."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_normal((n_days, n_symbols + 1))
    var = np.full(n_symbols + 1, 1e-4)
    raw = np.empty((n_days, n_symbols + 1))
    for t in range(n_days):
        raw[t] = np.sqrt(var) * shocks[t]
        var = 2e-6 + 0.08 * raw[t] ** 2 + 0.9 * var
    market = raw[:, 0]
    beta = rng.uniform(-0.5, 2.5, n_symbols)
    alpha = rng.normal(0.0, 2e-4, n_symbols)
    returns = alpha + market[:, None] * beta + raw[:, 1:]
    returns[rng.random(returns.shape) < nan_fraction] = np.nan
    market = market.copy()
    market[rng.random(n_days) < nan_fraction / 3] = np.nan
    index = pd.bdate_range("2021-01-04", periods=n_days, name="date")
    frame = pd.DataFrame(returns, index=index, columns=[f"S{i:02d}" for i in range(n_symbols)])
    frame.insert(0, "SPY", market)
    frame.columns.name = "symbol"
    return frame, beta


def statsmodels_row(returns: pd.DataFrame, symbol: str, window: int = 90) -> dict[str, float]:
    pairs = returns[[symbol, "SPY"]].dropna().iloc[-window:]
    fit = sm.OLS(pairs[symbol].to_numpy(), sm.add_constant(pairs["SPY"].to_numpy())).fit()
    return {
        "beta_raw": fit.params[1],
        "alpha": fit.params[0],
        "r_squared": fit.rsquared,
        "std_error": fit.bse[1],
        "t_stat": fit.tvalues[1],
        "p_value": fit.pvalues[1],
        "observations": len(pairs),
    }


@pytest.fixture
def panel() -> pd.DataFrame:
    frame, _ = make_panel()
    frame.iloc[100:180, 3] = np.nan  # a long gap inside the window
    frame.iloc[:230, 5] = np.nan  # listed late: only ~29 pairs
    frame.iloc[-70:-40, 7] = 0.0  # a stale stretch (zero returns) inside the window
    frame.iloc[60:170, 9] = 0.0  # a stale stretch longer than the window: degenerate dates
    return frame


class TestMarketBetasAgainstStatsmodels:
    def test_every_ok_symbol_matches_ols_to_1e9(self, panel: pd.DataFrame) -> None:
        result = market_betas(panel)
        checked = 0
        for symbol in panel.columns.drop("SPY"):
            row = result.loc[symbol]
            if row["status"] != "ok":
                continue
            expected = statsmodels_row(panel, symbol)
            assert row["observations"] == expected["observations"]
            for name in STATS:
                np.testing.assert_allclose(row[name], expected[name], rtol=RTOL, atol=ATOL)
            checked += 1
        assert checked >= 9

    def test_symbol_with_gap_uses_last_90_pairs(self, panel: pd.DataFrame) -> None:
        row = market_betas(panel).loc["S02"]
        expected = statsmodels_row(panel, "S02")
        assert row["observations"] == 90
        # the 90 pairs span more than 90 rows because of the gap
        assert panel["S02"].iloc[-90:].notna().sum() < 90
        np.testing.assert_allclose(row["beta_raw"], expected["beta_raw"], rtol=RTOL)

    def test_other_window(self, panel: pd.DataFrame) -> None:
        result = market_betas(panel, window=60, min_observations=20)
        expected = statsmodels_row(panel, "S00", window=60)
        assert result.loc["S00", "observations"] == 60
        for name in STATS:
            np.testing.assert_allclose(
                result.loc["S00", name], expected[name], rtol=RTOL, atol=ATOL
            )

    def test_planted_betas_are_recovered(self) -> None:
        frame, planted = make_panel(n_days=600, n_symbols=40, nan_fraction=0.0)
        result = market_betas(frame, window=500, min_observations=30)
        estimated = result["beta"].drop("SPY").to_numpy()
        assert np.mean(np.abs(estimated - planted)) < 0.1


class TestInvariants:
    def test_market_self_beta_is_exactly_one(self, panel: pd.DataFrame) -> None:
        row = market_betas(panel).loc["SPY"]
        assert row["status"] == "ok"
        assert abs(row["beta"] - 1.0) <= 1e-12
        assert row["r_squared"] == 1.0
        assert row["std_error"] == 0.0
        assert row["p_value"] == 0.0
        assert row["t_stat"] == np.inf

    def test_output_shape_and_types(self, panel: pd.DataFrame) -> None:
        result = market_betas(panel)
        assert list(result.columns) == list(BETA_COLUMNS)
        assert list(result.index) == list(panel.columns)
        assert result.index.name == "symbol"
        assert result["capped"].dtype == bool
        assert result["observations"].dtype == np.int64
        assert list(result["status"].cat.categories) == [
            "ok",
            "insufficient_data",
            "degenerate",
        ]
        ok = result[result["status"] == "ok"]
        assert ok["r_squared"].between(0.0, 1.0).all()
        assert np.isfinite(ok["beta"]).all()

    def test_insufficient_data_is_reported_not_dropped(self, panel: pd.DataFrame) -> None:
        panel = panel.copy()
        panel["EMPTY"] = np.nan
        result = market_betas(panel)
        late = result.loc["S04"]
        assert late["status"] == "insufficient_data"
        assert 0 < late["observations"] < 30
        assert late[[*STATS, "beta"]].isna().all()
        assert not late["capped"]
        assert result.loc["EMPTY", "status"] == "insufficient_data"
        assert result.loc["EMPTY", "observations"] == 0

    def test_exactly_min_observations_is_ok(self) -> None:
        frame, _ = make_panel(n_days=30, n_symbols=2, nan_fraction=0.0)
        assert (market_betas(frame)["status"] == "ok").all()
        assert (market_betas(frame.iloc[1:])["status"] == "insufficient_data").all()

    def test_cap(self) -> None:
        frame, _ = make_panel(n_days=120, n_symbols=2, nan_fraction=0.0)
        rng = np.random.default_rng(7)
        frame["HIGH"] = 7.0 * frame["SPY"] + rng.normal(0, 1e-3, len(frame))
        frame["LOW"] = -6.0 * frame["SPY"] + rng.normal(0, 1e-3, len(frame))
        result = market_betas(frame)
        assert result.loc["HIGH", "beta"] == 5.0
        assert result.loc["HIGH", "beta_raw"] == pytest.approx(7.0, abs=0.05)
        assert result.loc["HIGH", "capped"]
        assert result.loc["LOW", "beta"] == -5.0
        assert result.loc["LOW", "capped"]
        assert not result.loc["S00", "capped"]
        expected = statsmodels_row(frame, "HIGH")
        np.testing.assert_allclose(result.loc["HIGH", "beta_raw"], expected["beta_raw"], rtol=RTOL)
        assert market_betas(frame, cap=10.0).loc["HIGH", "beta"] == result.loc["HIGH", "beta_raw"]

    def test_degenerate_constant_symbol_and_constant_market(self) -> None:
        frame, _ = make_panel(n_days=120, n_symbols=2, nan_fraction=0.0)
        frame["STALE"] = 0.0
        frame["FLAT"] = 0.001
        result = market_betas(frame)
        assert result.loc["STALE", "status"] == "degenerate"
        assert result.loc["FLAT", "status"] == "degenerate"
        assert np.isnan(result.loc["STALE", "beta"])
        frame["SPY"] = 0.0
        assert (market_betas(frame)["status"] == "degenerate").all()

    def test_inputs_not_mutated(self, panel: pd.DataFrame) -> None:
        before = panel.copy()
        market_betas(panel)
        rolling_market_betas(panel, as_of_dates=panel.index[-3:])
        pd.testing.assert_frame_equal(panel, before)


class TestRolling:
    def test_rolling_equals_single_for_every_date(self, panel: pd.DataFrame) -> None:
        rolling = rolling_market_betas(panel)
        statuses = set(rolling["status"].astype(str))
        assert statuses == {"ok", "insufficient_data", "degenerate"}
        assert list(rolling.columns) == ["date", "symbol", *BETA_COLUMNS]
        assert len(rolling) == panel.shape[0] * panel.shape[1]
        for date, rows in rolling.groupby("date", sort=True):
            single = market_betas(panel.loc[:date])
            rows = rows.set_index("symbol")
            assert list(rows.index) == list(single.index)
            np.testing.assert_array_equal(
                rows["status"].astype(str).to_numpy(), single["status"].astype(str).to_numpy()
            )
            np.testing.assert_array_equal(rows["observations"], single["observations"])
            np.testing.assert_array_equal(rows["capped"], single["capped"])
            for name in (*STATS, "beta"):
                np.testing.assert_allclose(
                    rows[name].to_numpy(), single[name].to_numpy(), rtol=RTOL, atol=ATOL
                )

    def test_rolling_matches_statsmodels_on_sampled_cells(self, panel: pd.DataFrame) -> None:
        rolling = rolling_market_betas(panel).set_index(["date", "symbol"])
        rng = np.random.default_rng(3)
        ok = rolling[rolling["status"] == "ok"].drop(index="SPY", level="symbol")
        for date, symbol in ok.index[rng.choice(len(ok), size=40, replace=False)]:
            expected = statsmodels_row(panel.loc[:date], symbol)
            for name in STATS:
                np.testing.assert_allclose(
                    rolling.loc[(date, symbol), name], expected[name], rtol=RTOL, atol=ATOL
                )

    def test_market_self_beta_on_every_date(self, panel: pd.DataFrame) -> None:
        rolling = rolling_market_betas(panel)
        spy = rolling[(rolling["symbol"] == "SPY") & (rolling["status"] == "ok")]
        assert len(spy) > 150
        assert (np.abs(spy["beta"] - 1.0) <= 1e-12).all()
        assert (spy["r_squared"] == 1.0).all()
        assert (spy["p_value"] == 0.0).all()

    def test_tabulated_p_values_match_exact(
        self, panel: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        exact = rolling_market_betas(panel)
        monkeypatch.setattr(betas_module, "_P_TABLE_MIN_CELLS", 1)
        tabulated = rolling_market_betas(panel)
        ok = (exact["status"] == "ok") & (exact["observations"] == 90)
        assert ok.sum() > 1000
        np.testing.assert_allclose(
            tabulated.loc[ok, "p_value"], exact.loc[ok, "p_value"], rtol=1e-10, atol=0.0
        )
        np.testing.assert_array_equal(tabulated["p_value"].isna(), exact["p_value"].isna())

    def test_as_of_dates_subset(self, panel: pd.DataFrame) -> None:
        dates = [panel.index[200], panel.index[50], panel.index[-1]]
        subset = rolling_market_betas(panel, as_of_dates=dates)
        full = rolling_market_betas(panel)
        expected = full[full["date"].isin(dates)].reset_index(drop=True)
        assert list(subset["date"].unique()) == sorted(dates)
        pd.testing.assert_frame_equal(subset, expected, rtol=1e-12)

    def test_empty_as_of_dates(self, panel: pd.DataFrame) -> None:
        result = rolling_market_betas(panel, as_of_dates=[])
        assert result.empty
        assert list(result.columns) == ["date", "symbol", *BETA_COLUMNS]

    @pytest.mark.parametrize(("lookback", "binds"), [(60, True), (120, True), (200, False)])
    def test_lookback_equals_single_on_the_last_rows(
        self, panel: pd.DataFrame, lookback: int, binds: bool
    ) -> None:
        rolling = rolling_market_betas(panel, lookback=lookback)
        cut = 0
        for date, rows in rolling.groupby("date", sort=True):
            history = panel.loc[:date]
            single = market_betas(history, lookback=lookback)
            pd.testing.assert_frame_equal(
                single, market_betas(history.iloc[-lookback:]), check_exact=True
            )
            rows = rows.set_index("symbol")
            cut += int((rows["observations"] < market_betas(history)["observations"]).sum())
            np.testing.assert_array_equal(rows["observations"], single["observations"])
            np.testing.assert_array_equal(
                rows["status"].astype(str).to_numpy(), single["status"].astype(str).to_numpy()
            )
            for name in (*STATS, "beta"):
                np.testing.assert_allclose(
                    rows[name].to_numpy(), single[name].to_numpy(), rtol=RTOL, atol=ATOL
                )
        # the 80-row gap of S02 leaves fewer than 90 pairs in 60 or 120 rows, never in 200
        assert (cut > 0) == binds

    def test_lookback_sample_matches_statsmodels(self, panel: pd.DataFrame) -> None:
        # S02 has no return on rows 100..179: at row 200 the last 120 rows hold 40 of its pairs
        date = panel.index[200]
        row = rolling_market_betas(panel, as_of_dates=[date], lookback=120).set_index("symbol")
        recent = panel.loc[:date].iloc[-120:]
        expected = statsmodels_row(recent, "S02")
        assert row.loc["S02", "observations"] == expected["observations"] < 90
        for name in STATS:
            np.testing.assert_allclose(row.loc["S02", name], expected[name], rtol=RTOL, atol=ATOL)

    def test_lookback_ignores_older_history(self, panel: pd.DataFrame) -> None:
        dates = panel.index[-20:]
        full = rolling_market_betas(panel, as_of_dates=dates, lookback=100)
        recent = rolling_market_betas(panel.iloc[-130:], as_of_dates=dates, lookback=100)
        pd.testing.assert_frame_equal(full, recent, rtol=1e-10)

    def test_suspect_cells_are_recomputed_exactly(self) -> None:
        # a huge-variance past makes the later calm windows lose digits in cumulative sums
        frame, _ = make_panel(n_days=300, n_symbols=3, nan_fraction=0.0)
        frame.iloc[:100] *= 1e4
        rolling = rolling_market_betas(frame, as_of_dates=frame.index[-5:])
        for date, rows in rolling.groupby("date"):
            single = market_betas(frame.loc[:date])
            np.testing.assert_allclose(
                rows["beta_raw"].to_numpy(), single["beta_raw"].to_numpy(), rtol=RTOL
            )


class TestPortfolioBeta:
    def test_hand_example(self) -> None:
        table = pd.DataFrame(
            {
                "beta": [1.2, 0.8, 5.0, np.nan],
                "r_squared": [0.5, 0.3, 0.9, np.nan],
                "observations": [90, 60, 90, 10],
                "status": ["ok", "ok", "ok", "insufficient_data"],
            },
            index=pd.Index(["A", "B", "C", "D"], name="symbol"),
        )
        weights = pd.Series({"A": 0.6, "B": -0.2, "C": 0.3, "D": 0.2, "E": 0.1, "Z": 0.0})
        result = portfolio_beta(table, weights)
        assert result["beta"] == pytest.approx(0.6 * 1.2 - 0.2 * 0.8 + 0.3 * 5.0)
        assert result["r_squared"] == pytest.approx((0.6 * 0.5 + 0.2 * 0.3 + 0.3 * 0.9) / 1.1)
        assert result["min_observations"] == 60
        assert result["covered_weight"] == pytest.approx(0.7)
        assert result["covered_gross_fraction"] == pytest.approx(1.1 / 1.4)
        assert result["holdings"] == 5
        assert result["holdings_with_beta"] == 3
        assert result["missing"] == ["D", "E"]

    def test_no_holding_with_beta(self) -> None:
        table = pd.DataFrame(
            {
                "beta": [np.nan],
                "r_squared": [np.nan],
                "observations": [3],
                "status": ["degenerate"],
            },
            index=["A"],
        )
        result = portfolio_beta(table, pd.Series({"A": 1.0}))
        assert np.isnan(result["beta"])
        assert result["min_observations"] is None
        assert result["missing"] == ["A"]

    def test_equals_beta_of_portfolio_returns_for_full_data(self) -> None:
        frame, _ = make_panel(n_days=120, n_symbols=3, nan_fraction=0.0)
        weights = pd.Series({"S00": 0.5, "S01": 0.3, "S02": 0.2})
        betas = market_betas(frame)
        equity_weighted = portfolio_beta(betas, weights)["beta"]
        port = (frame[weights.index] * weights).sum(axis=1)
        direct = series_beta(port, frame["SPY"])
        # OLS is linear in y: same sample, so the weighted beta equals the direct regression
        assert direct["beta"] == pytest.approx(equity_weighted, rel=1e-10)


class TestSeriesBeta:
    def test_matches_statsmodels_with_misaligned_dates(self) -> None:
        frame, _ = make_panel(n_days=150, n_symbols=1, nan_fraction=0.0)
        series = frame["S00"].iloc[5:].rename("book")
        market = frame["SPY"].iloc[:-3]
        row = series_beta(series, market, window=60, min_observations=30)
        assert row.name == "book"
        joined = pd.concat([series, market], axis=1, sort=True).dropna().iloc[-60:]
        fit = sm.OLS(joined["book"], sm.add_constant(joined["SPY"])).fit()
        np.testing.assert_allclose(row["beta_raw"], fit.params["SPY"], rtol=RTOL)
        np.testing.assert_allclose(row["p_value"], fit.pvalues["SPY"], rtol=RTOL)

    def test_errors(self) -> None:
        frame, _ = make_panel(n_days=50, n_symbols=1, nan_fraction=0.0)
        with pytest.raises(AnalyticsError, match="series must be a pandas Series"):
            series_beta(frame, frame["SPY"])  # type: ignore[arg-type]
        with pytest.raises(AnalyticsError, match="market_series must be indexed by dates"):
            series_beta(frame["S00"], frame["SPY"].reset_index(drop=True))


class TestErrors:
    def test_returns_must_be_a_frame(self) -> None:
        with pytest.raises(AnalyticsError, match="returns must be a pandas DataFrame"):
            market_betas([[0.1]])  # type: ignore[arg-type]

    def test_market_column_missing(self, panel: pd.DataFrame) -> None:
        with pytest.raises(AnalyticsError, match="market 'QQQ' is not a column of returns"):
            market_betas(panel, market="QQQ")
        with pytest.raises(AnalyticsError, match="market 'QQQ'"):
            rolling_market_betas(panel, market="QQQ")

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"window": 2}, "window must be >= 3"),
            ({"window": 90.0}, "window must be an integer"),
            ({"min_observations": 2}, "min_observations must be >= 3"),
            ({"window": 20, "min_observations": 30}, r"min_observations \(30\) must be <= window"),
            ({"cap": 0.0}, "cap must be > 0"),
            ({"cap": float("nan")}, "cap must be finite"),
            ({"lookback": 0}, "lookback must be >= 1"),
            ({"lookback": 50.5}, "lookback must be an integer"),
        ],
    )
    def test_parameters(self, panel: pd.DataFrame, kwargs: dict, message: str) -> None:
        with pytest.raises(AnalyticsError, match=message):
            market_betas(panel, **kwargs)
        with pytest.raises(AnalyticsError, match=message):
            rolling_market_betas(panel, **kwargs)

    def test_panel_contract(self, panel: pd.DataFrame) -> None:
        with pytest.raises(AnalyticsError, match="returns dates must be sorted"):
            market_betas(panel.iloc[::-1])
        with pytest.raises(AnalyticsError, match="returns contains infinite values"):
            market_betas(panel.replace(panel.iloc[5, 2], np.inf))
        with pytest.raises(AnalyticsError, match="returns has duplicate symbol column"):
            market_betas(pd.concat([panel, panel[["S00"]]], axis=1))
        with pytest.raises(AnalyticsError, match="returns has no rows"):
            market_betas(panel.iloc[:0])
        with pytest.raises(AnalyticsError, match="returns must hold numbers"):
            market_betas(panel.assign(S00="x"))
        with pytest.raises(AnalyticsError, match="returns must be indexed by dates"):
            market_betas(panel.reset_index(drop=True))

    def test_as_of_dates(self, panel: pd.DataFrame) -> None:
        with pytest.raises(AnalyticsError, match="not a date of returns"):
            rolling_market_betas(panel, as_of_dates=[pd.Timestamp("1999-01-01")])
        with pytest.raises(AnalyticsError, match="as_of_dates repeats"):
            rolling_market_betas(panel, as_of_dates=[panel.index[3], panel.index[3]])
        with pytest.raises(AnalyticsError, match="not a string"):
            rolling_market_betas(panel, as_of_dates="2021-03-01")
        with pytest.raises(AnalyticsError, match="as_of_dates must hold dates"):
            rolling_market_betas(panel, as_of_dates=[object()])

    def test_portfolio_beta_errors(self) -> None:
        table = pd.DataFrame(
            {"beta": [1.0], "r_squared": [0.5], "observations": [90], "status": ["ok"]},
            index=["A"],
        )
        with pytest.raises(AnalyticsError, match=r"betas is missing column\(s\): status"):
            portfolio_beta(table.drop(columns="status"), pd.Series({"A": 1.0}))
        with pytest.raises(AnalyticsError, match="weights has no non-zero weight"):
            portfolio_beta(table, pd.Series({"A": 0.0}))
        with pytest.raises(AnalyticsError, match="weights has missing or non-finite weight"):
            portfolio_beta(table, pd.Series({"A": np.nan}))
        with pytest.raises(AnalyticsError, match="weights has duplicate symbol"):
            portfolio_beta(table, pd.Series([0.5, 0.5], index=["A", "A"]))
        with pytest.raises(AnalyticsError, match="betas has duplicate symbols"):
            portfolio_beta(pd.concat([table, table]), pd.Series({"A": 1.0}))
