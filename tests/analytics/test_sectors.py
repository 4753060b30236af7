"""Benchmark weights in force and hand-worked sector tables (with and without look-through)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analytics_lib._typing import GICS_SECTORS
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.sectors import SECTOR_COLUMNS, benchmark_weights_at, sector_exposure

IT, HC, FIN, EN = "Information Technology", "Health Care", "Financials", "Energy"


@pytest.fixture
def benchmark_frame() -> pd.DataFrame:
    rows = []
    for date, it_weight in (("2024-01-31", 0.28), ("2024-06-30", 0.30)):
        rest = (1.0 - it_weight) / 10
        rows += [("SP500", date, s, it_weight if s == IT else rest) for s in GICS_SECTORS]
    rows.append(("NDX", "2024-06-30", IT, 0.6))
    return pd.DataFrame(rows, columns=["benchmark", "asof_date", "sector", "weight"])


@pytest.fixture
def book() -> tuple[pd.Series, pd.Series, pd.Series, pd.DataFrame]:
    weights = pd.Series(
        {"AAPL": 0.30, "MSFT": 0.20, "JPM": 0.15, "XOM": -0.05, "XLV": 0.25, "PRIV": 0.15}
    )
    sectors = pd.Series(
        {
            "AAPL": IT,
            "MSFT": IT,
            "JPM": FIN,
            "XOM": EN,
            "PRIV": None,
            "LLY": HC,
            "UNH": HC,
            "JNJ": HC,
            "XYZ": np.nan,
        }
    )
    benchmark = pd.Series({IT: 0.30, FIN: 0.13, EN: 0.04, HC: 0.12})
    holdings = pd.DataFrame(
        {
            "etf": ["XLV"] * 4 + ["XLK"],
            "asof_date": ["2024-06-28"] * 5,
            "symbol": ["LLY", "UNH", "JNJ", "XYZ", "AAPL"],
            "weight": [0.40, 0.30, 0.20, 0.05, 0.2],
        }
    )
    return weights, sectors, benchmark, holdings


class TestBenchmarkWeightsAt:
    def test_latest_snapshot_on_or_before(self, benchmark_frame: pd.DataFrame) -> None:
        march = benchmark_weights_at(benchmark_frame, dt.date(2024, 3, 15))
        assert march[IT] == pytest.approx(0.28)
        assert march.attrs["asof_date"] == pd.Timestamp("2024-01-31")
        assert list(march.index) == list(GICS_SECTORS)
        assert march.name == "weight"
        june = benchmark_weights_at(benchmark_frame, pd.Timestamp("2024-06-30"))
        assert june[IT] == pytest.approx(0.30)
        assert benchmark_weights_at(benchmark_frame, "2024-07-01", "NDX").to_dict() == {IT: 0.6}

    def test_errors(self, benchmark_frame: pd.DataFrame) -> None:
        with pytest.raises(AnalyticsError, match="no SP500 snapshot on or before 2023-12-31"):
            benchmark_weights_at(benchmark_frame, "2023-12-31")
        with pytest.raises(AnalyticsError, match="no rows for benchmark 'R2000'"):
            benchmark_weights_at(benchmark_frame, "2024-12-31", "R2000")
        with pytest.raises(AnalyticsError, match=r"missing column\(s\): weight"):
            benchmark_weights_at(benchmark_frame.drop(columns="weight"), "2024-12-31")
        with pytest.raises(AnalyticsError, match="as_of must be a date"):
            benchmark_weights_at(benchmark_frame, None)
        bad = benchmark_frame.copy()
        bad.loc[0, "sector"] = "Technology"
        with pytest.raises(AnalyticsError, match="not GICS sectors: Technology"):
            benchmark_weights_at(bad, "2024-03-01")
        dup = pd.concat([benchmark_frame, benchmark_frame.iloc[[0]]])
        with pytest.raises(AnalyticsError, match="lists sector 'Information Technology' twice"):
            benchmark_weights_at(dup, "2024-03-01")
        negative = benchmark_frame.copy()
        negative.loc[1, "weight"] = -0.1
        with pytest.raises(AnalyticsError, match="weight must be finite and >= 0"):
            benchmark_weights_at(negative, "2024-03-01")


class TestSectorExposure:
    def test_hand_worked_table_with_etf_bucket(self, book: tuple) -> None:
        weights, sectors, benchmark, _ = book
        result = sector_exposure(weights, sectors, benchmark, etf_symbols=["XLV", "XLK"])
        table = result.table
        assert list(table.columns) == list(SECTOR_COLUMNS)
        assert list(table.index) == [*GICS_SECTORS, "ETF", "Unclassified"]
        expected = {
            IT: (0.50, 0.50, 0.30, 0.20, 2),
            FIN: (0.15, 0.15, 0.13, 0.02, 1),
            EN: (-0.05, 0.05, 0.04, -0.09, 1),
            HC: (0.0, 0.0, 0.12, -0.12, 0),
            "ETF": (0.25, 0.25, 0.0, 0.25, 1),
            "Unclassified": (0.15, 0.15, 0.0, 0.15, 1),
            "Utilities": (0.0, 0.0, 0.0, 0.0, 0),
        }
        for sector, values in expected.items():
            np.testing.assert_allclose(table.loc[sector].to_numpy(float), values, atol=1e-12)
        assert table["net_weight"].sum() == pytest.approx(weights.sum())
        assert result.largest_overweight == (IT, pytest.approx(0.20))
        assert result.largest_underweight == (HC, pytest.approx(-0.12))
        assert result.unclassified_symbols == ("PRIV",)
        assert result.unclassified_weight == pytest.approx(0.15)
        assert not result.look_through

    def test_without_a_benchmark_active_weights_are_missing_not_against_zero(
        self, book: tuple
    ) -> None:
        weights, sectors, _, _ = book
        result = sector_exposure(weights, sectors, None, etf_symbols=["XLV", "XLK"])
        table = result.table
        # the book's own weights are unchanged (same hand-worked values as above)
        np.testing.assert_allclose(table.loc[IT, ["net_weight", "gross_weight"]], (0.5, 0.5))
        assert table.loc[IT, "positions"] == 2
        assert table["benchmark_weight"].isna().all()
        assert table["active_weight"].isna().all()
        assert result.largest_overweight is None
        assert result.largest_underweight is None

    def test_hand_worked_look_through(self, book: tuple) -> None:
        weights, sectors, benchmark, holdings = book
        result = sector_exposure(
            weights,
            sectors,
            benchmark,
            etf_symbols=["XLV", "XLK"],
            etf_holdings=holdings,
            look_through=True,
        )
        table = result.table
        assert "ETF" not in table.index
        # XLV 0.25: 0.9 of it in Health Care; XYZ (no sector) 0.05 and cash 0.05 unclassified
        np.testing.assert_allclose(
            table.loc[HC].to_numpy(float), (0.225, 0.225, 0.12, 0.105, 1), atol=1e-12
        )
        np.testing.assert_allclose(
            table.loc["Unclassified"].to_numpy(float),
            (0.15 + 0.0125 + 0.0125, 0.175, 0.0, 0.175, 2),
            atol=1e-12,
        )
        assert table.loc[IT, "net_weight"] == pytest.approx(0.50)
        assert table["net_weight"].sum() == pytest.approx(1.0)
        assert result.largest_overweight == (IT, pytest.approx(0.20))
        assert result.largest_underweight == (EN, pytest.approx(-0.09))
        assert result.unclassified_symbols == ("PRIV",)
        assert result.look_through

    def test_etf_without_holdings_is_unclassified(self, book: tuple) -> None:
        weights, sectors, benchmark, holdings = book
        weights = pd.concat([weights, pd.Series({"ARKK": 0.1})])
        result = sector_exposure(
            weights,
            sectors,
            benchmark,
            etf_symbols=["XLV", "ARKK"],
            etf_holdings=holdings,
            look_through=True,
        )
        assert result.unclassified_symbols == ("PRIV", "ARKK")
        assert result.unclassified_weight == pytest.approx(0.175 + 0.1)
        assert result.table["net_weight"].sum() == pytest.approx(weights.sum())

    def test_no_overweight(self) -> None:
        result = sector_exposure(
            pd.Series({"A": 0.5}), pd.Series({"A": IT}), pd.Series({IT: 0.6, HC: 0.4})
        )
        assert result.largest_overweight is None
        assert result.largest_underweight == (HC, pytest.approx(-0.4))

    def test_inputs_not_mutated(self, book: tuple) -> None:
        weights, sectors, benchmark, holdings = book
        copies = [x.copy() for x in book]
        sector_exposure(
            weights,
            sectors,
            benchmark,
            etf_symbols=["XLV"],
            etf_holdings=holdings,
            look_through=True,
        )
        for original, copy in zip(book, copies, strict=True):
            if isinstance(original, pd.DataFrame):
                pd.testing.assert_frame_equal(original, copy)
            else:
                pd.testing.assert_series_equal(original, copy)

    def test_errors(self, book: tuple) -> None:
        weights, sectors, benchmark, holdings = book
        with pytest.raises(AnalyticsError, match="etf_holdings is required when look_through"):
            sector_exposure(weights, sectors, benchmark, etf_symbols=["XLV"], look_through=True)
        with pytest.raises(AnalyticsError, match="sectors has labels that are not GICS"):
            sector_exposure(weights, pd.Series({"AAPL": "Tech"}), benchmark)
        with pytest.raises(AnalyticsError, match="benchmark has sector name"):
            sector_exposure(weights, sectors, pd.Series({"Tech": 1.0}))
        with pytest.raises(AnalyticsError, match="etf_symbols must be a collection"):
            sector_exposure(weights, sectors, benchmark, etf_symbols="XLV")
        over = holdings.assign(weight=holdings["weight"] * 2)
        with pytest.raises(AnalyticsError, match=r"sum to more than 1 for ETF\(s\) XLV"):
            sector_exposure(
                weights,
                sectors,
                benchmark,
                etf_symbols=["XLV"],
                etf_holdings=over,
                look_through=True,
            )
        two = pd.concat([holdings, holdings.assign(asof_date="2024-05-31")])
        with pytest.raises(AnalyticsError, match="several snapshots"):
            sector_exposure(
                weights,
                sectors,
                benchmark,
                etf_symbols=["XLV"],
                etf_holdings=two,
                look_through=True,
            )
        dup = pd.concat([holdings, holdings.iloc[[0]]])
        with pytest.raises(AnalyticsError, match="lists 'LLY' twice in 'XLV'"):
            sector_exposure(
                weights,
                sectors,
                benchmark,
                etf_symbols=["XLV"],
                etf_holdings=dup,
                look_through=True,
            )
        with pytest.raises(AnalyticsError, match="weights has missing or non-finite"):
            sector_exposure(pd.Series({"A": np.nan}), sectors, benchmark)
        with pytest.raises(AnalyticsError, match="look_through must be a bool"):
            sector_exposure(weights, sectors, benchmark, look_through="yes")  # type: ignore[arg-type]
