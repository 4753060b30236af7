"""The risk checks pass on good data and fail on bad data (each property, both ways)."""

import numpy as np
import pandas as pd
import pytest

from orchestration import constants as c
from orchestration.defs.risk import checks

DAYS = [pd.Timestamp("2024-03-04"), pd.Timestamp("2024-03-05")]


def _betas(changes: dict | None = None) -> pd.DataFrame:
    """Two as-of dates of the market, a stock and a capped stock, plus an insufficient one."""
    rows = []
    for day in DAYS:
        rows += [
            {"symbol": "SPY", "beta": 1.0, "beta_raw": 1.0, "capped": False, "r_squared": 1.0},
            {"symbol": "AAA", "beta": 1.3, "beta_raw": 1.3, "capped": False, "r_squared": 0.4},
            {"symbol": "BBB", "beta": 5.0, "beta_raw": 6.2, "capped": True, "r_squared": 0.2},
        ]
        rows[-3:] = [{**r, "calc_date": day, "status": "ok", "observations": 90} for r in rows[-3:]]
    rows.append(
        {
            "calc_date": DAYS[-1],
            "symbol": "NEW",
            "beta": np.nan,
            "beta_raw": np.nan,
            "capped": False,
            "r_squared": np.nan,
            "status": "insufficient_data",
            "observations": 12,
        }
    )
    frame = pd.DataFrame(rows)
    for (symbol, column), value in (changes or {}).items():
        frame.loc[frame["symbol"] == symbol, column] = value
    return frame


class TestBetaChecks:
    def test_market_beta_is_one(self) -> None:
        assert checks.market_beta_is_one(_betas(), "SPY", DAYS, 1e-9).passed
        off = _betas({("SPY", "beta"): 1.0 + 1e-6})
        result = checks.market_beta_is_one(off, "SPY", DAYS, 1e-9)
        assert not result.passed
        assert result.metadata["dates_failed"].value == 2
        low_r2 = _betas({("SPY", "r_squared"): 0.99})
        assert not checks.market_beta_is_one(low_r2, "SPY", DAYS, 1e-9).passed
        # where the market has too little history for a beta there is nothing to check
        early = _betas({("SPY", "status"): "insufficient_data", ("SPY", "beta"): np.nan})
        result = checks.market_beta_is_one(early, "SPY", DAYS, 1e-9)
        assert result.passed
        assert result.metadata["dates_without_market_beta"].value == 2
        assert checks.market_beta_is_one(_betas().iloc[:0], "SPY", [], 1e-9).passed

    def test_betas_within_cap(self) -> None:
        assert checks.betas_within_cap(_betas(), 5.0).passed
        for changes in (
            {("AAA", "beta"): 7.5, ("AAA", "beta_raw"): 7.5},  # beyond the cap, not capped
            {("AAA", "beta"): np.inf},  # not finite
            {("BBB", "beta"): 4.0},  # capped but not on the cap
            {("AAA", "beta"): 1.1},  # uncapped but differs from the raw value
        ):
            result = checks.betas_within_cap(_betas(changes), 5.0)
            assert not result.passed, changes
            assert result.metadata["violations"].value == 2

    def test_r_squared_in_unit_interval(self) -> None:
        assert checks.betas_r_squared_in_unit_interval(_betas()).passed
        for bad in (-0.01, 1.2, np.nan):
            assert not checks.betas_r_squared_in_unit_interval(
                _betas({("AAA", "r_squared"): bad})
            ).passed

    def test_sufficient_data_is_a_warning(self) -> None:
        result = checks.betas_have_sufficient_data(_betas())
        assert not result.passed
        assert result.severity.value == "WARN"
        assert result.metadata["symbols_without_beta"].value == 1
        assert "NEW" in result.metadata["latest_date"].value
        complete = _betas().query("symbol != 'NEW'")
        assert checks.betas_have_sufficient_data(complete).passed


def _sectors(sector_sum: float, book_net: float = 1.0, unclassified: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "calc_date": DAYS,
            "sector_sum": [1.0, sector_sum],
            "book_net": [1.0, book_net],
            "unclassified_share": [0.0, unclassified],
            "unclassified_symbols": ["", "XYZ"],
        }
    )


class TestSectorChecks:
    def test_weights_sum_to_one(self) -> None:
        assert checks.sector_weights_sum_to_one(_sectors(1.004), 0.005).passed
        result = checks.sector_weights_sum_to_one(_sectors(0.97), 0.005)
        assert not result.passed
        assert result.metadata["max_abs_error"].value == pytest.approx(0.03)
        # a book that is not net long is not checked
        assert checks.sector_weights_sum_to_one(_sectors(0.5, book_net=-0.2), 0.005).passed

    def test_unclassified_share_is_a_warning(self) -> None:
        assert checks.unclassified_share_within_limit(_sectors(1.0, unclassified=0.05), 0.05).passed
        result = checks.unclassified_share_within_limit(_sectors(1.0, unclassified=0.08), 0.05)
        assert not result.passed
        assert result.severity.value == "WARN"
        assert "XYZ" in result.metadata["examples"].value


class TestConcentrationCheck:
    def test_effective_positions_at_most_positions(self) -> None:
        good = pd.DataFrame(
            {"calc_date": DAYS, "effective_positions": [4.0, 2.5], "positions": [4, 3]}
        )
        assert checks.effective_positions_at_most_positions(good).passed
        bad = good.assign(effective_positions=[4.0, 3.2])
        assert not checks.effective_positions_at_most_positions(bad).passed
        assert not checks.effective_positions_at_most_positions(
            good.assign(effective_positions=[np.nan, 2.5])
        ).passed


def _volatility(changes: dict | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "calc_date": DAYS * 2,
            "kind": ["symbol", "symbol", "portfolio", "portfolio"],
            "symbol": ["AAA", "AAA", "portfolio", "portfolio"],
            "expected_vol_21d": [0.25, 3.0, 0.18, np.nan],
            "forecast_capped": [False, True, False, False],
            "vol_percentile": [0.5, 1.0, 1 / 252, np.nan],
            "har_status": ["ok", "ok", "ok", "insufficient_data"],
            "har_observations": [400, 401, 400, 40],
        }
    )
    for (row, column), value in (changes or {}).items():
        frame.loc[row, column] = value
    return frame


class TestVolatilityChecks:
    def test_forecasts_within_bounds(self) -> None:
        assert checks.forecasts_within_bounds(_volatility(), 3.0).passed
        for bad in (0.0, -0.1, 3.0001):
            assert not checks.forecasts_within_bounds(
                _volatility({(0, "expected_vol_21d"): bad}), 3.0
            ).passed

    def test_percentiles_in_unit_interval(self) -> None:
        assert checks.percentiles_in_unit_interval(_volatility()).passed
        for bad in (-0.1, 1.5):
            assert not checks.percentiles_in_unit_interval(
                _volatility({(1, "vol_percentile"): bad})
            ).passed

    def test_sufficient_data_is_a_warning(self) -> None:
        result = checks.forecasts_have_sufficient_data(_volatility())
        assert not result.passed and result.severity.value == "WARN"
        assert checks.forecasts_have_sufficient_data(_volatility().iloc[:3]).passed


class TestVolatilityTally:
    """The checks of a range run read a tally gathered chunk by chunk (hand-worked counts)."""

    @staticmethod
    def _chunks() -> list[pd.DataFrame]:
        frame = _volatility(
            {
                (0, "expected_vol_21d"): 3.5,
                (1, "vol_percentile"): 1.5,
                (0, "har_status"): "degenerate",
                (1, "har_status"): "insufficient_data",
            }
        )
        return [frame.iloc[:2], frame.iloc[2:]]

    def _tally(self) -> checks.VolatilityTally:
        tally = checks.VolatilityTally(3.0)
        for chunk in self._chunks():
            tally.add(chunk)
        return tally

    def test_bounds_and_percentiles_count_every_chunk(self) -> None:
        bounds = checks.forecasts_within_bounds(self._tally(), 3.0)
        assert not bounds.passed
        assert bounds.metadata["forecasts_checked"].value == 3  # rows 0, 1, 2 (row 3 NaN)
        assert bounds.metadata["forecasts_capped"].value == 1
        assert bounds.metadata["violations"].value == 1
        assert "3.5" in bounds.metadata["examples"].value
        percentiles = checks.percentiles_in_unit_interval(self._tally())
        assert percentiles.metadata["percentiles_checked"].value == 3
        assert percentiles.metadata["violations"].value == 1
        with pytest.raises(ValueError, match="max_vol"):
            checks.forecasts_within_bounds(self._tally(), 2.0)

    def test_short_rows_keep_counts_and_the_latest_date(self) -> None:
        result = checks.forecasts_have_sufficient_data(self._tally())
        assert not result.passed
        assert result.metadata["rows_without_forecast"].value == 3
        by_status = result.metadata["by_status"].value.splitlines()
        # most frequent first: rows 1 and 3 are insufficient_data, row 0 degenerate
        assert "insufficient_data" in by_status[2] and "2" in by_status[2]
        assert "degenerate" in by_status[3] and "1" in by_status[3]
        latest = result.metadata["latest_date"].value
        # rows 1 and 3 (2024-03-05), not row 0 (2024-03-04, an earlier chunk)
        assert latest.count("2024-03-05") == 2 and "2024-03-04" not in latest

    def test_an_empty_tally_passes(self) -> None:
        tally = checks.VolatilityTally(3.0)
        assert checks.forecasts_within_bounds(tally, 3.0).passed
        assert checks.percentiles_in_unit_interval(tally).passed
        result = checks.forecasts_have_sufficient_data(tally)
        assert result.passed and result.metadata["by_status"].value == "_none_"


class TestPortfolioVolCheck:
    @staticmethod
    def _frames(portfolio_vol: float, weights=(0.6, 0.4), coverage: float = 1.0):
        holdings = pd.DataFrame(
            {
                "calc_date": DAYS[0],
                "window": 21,
                "symbol": ["AAA", "BBB"],
                "weight": list(weights),
                "vol": [0.30, 0.20],
            }
        )
        portfolio = pd.DataFrame(
            {
                "calc_date": [DAYS[0]],
                "window": [21],
                "vol": [portfolio_vol],
                "min_coverage": [coverage],
            }
        )
        return holdings, portfolio

    def test_passes_below_the_weighted_sum(self) -> None:
        # weighted sum of vols: 0.6 * 0.30 + 0.4 * 0.20 = 0.26
        result = checks.portfolio_vol_at_most_weighted_vols(*self._frames(0.22))
        assert result.passed
        assert result.metadata["windows_checked"].value == 1
        assert result.metadata["max_ratio"].value == pytest.approx(0.22 / 0.26)
        assert checks.portfolio_vol_at_most_weighted_vols(*self._frames(0.26)).passed

    def test_fails_above_the_weighted_sum(self) -> None:
        result = checks.portfolio_vol_at_most_weighted_vols(*self._frames(0.27))
        assert not result.passed
        assert result.metadata["violations"].value == 1

    def test_skips_windows_where_the_identity_does_not_hold(self) -> None:
        # a holding missed a return in the window, or the book is short a name: not checked
        for frames in (self._frames(0.5, coverage=0.9), self._frames(0.5, weights=(1.4, -0.4))):
            result = checks.portfolio_vol_at_most_weighted_vols(*frames)
            assert result.passed
            assert result.metadata["windows_checked"].value == 0
            assert result.metadata["windows_skipped"].value == 1


def test_check_names_are_the_constants() -> None:
    names = {
        checks.market_beta_is_one(_betas(), "SPY", DAYS, 1e-9).check_name,
        checks.betas_within_cap(_betas(), 5.0).check_name,
        checks.betas_r_squared_in_unit_interval(_betas()).check_name,
        checks.betas_have_sufficient_data(_betas()).check_name,
        checks.sector_weights_sum_to_one(_sectors(1.0), 0.005).check_name,
        checks.unclassified_share_within_limit(_sectors(1.0), 0.05).check_name,
        checks.forecasts_within_bounds(_volatility(), 3.0).check_name,
        checks.percentiles_in_unit_interval(_volatility()).check_name,
        checks.forecasts_have_sufficient_data(_volatility()).check_name,
        checks.portfolio_vol_at_most_weighted_vols(*TestPortfolioVolCheck._frames(0.2)).check_name,
    }
    assert names == {
        c.MARKET_BETA_IS_ONE,
        c.BETAS_WITHIN_CAP,
        c.BETAS_R_SQUARED_IN_UNIT_INTERVAL,
        c.BETAS_HAVE_SUFFICIENT_DATA,
        c.SECTOR_WEIGHTS_SUM_TO_ONE,
        c.UNCLASSIFIED_SHARE_WITHIN_LIMIT,
        c.FORECASTS_WITHIN_BOUNDS,
        c.PERCENTILES_IN_UNIT_INTERVAL,
        c.FORECASTS_HAVE_SUFFICIENT_DATA,
        c.PORTFOLIO_VOL_AT_MOST_WEIGHTED_VOLS,
    }
