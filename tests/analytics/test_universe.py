"""Universe selection: leveraged/inverse rule, exclusion reasons in order, counts, no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics_lib.exceptions import AnalyticsError
from analytics_lib.universe import (
    EXCLUSION_REASONS,
    UniverseParams,
    is_leveraged_inverse,
    select_universe,
)

T = 300  # rows in the test panel


@pytest.mark.parametrize(
    "text",
    [
        "ProShares UltraShort 20+ Year Treasury",
        "ProShares Ultra S&P500",
        "ProShares UltraPro QQQ",
        "ProShares Short S&P500",
        "ProShares Short High Yield",
        "ProShares Short 7-10 Year Treasury",
        "Direxion Daily Semiconductor Bull 3X Shares",
        "Direxion Daily S&P 500 Bear 1X Shares",
        "GraniteShares 2x Long NVDA Daily ETF",
        "Defiance Daily Target 1.5x Long",
        "Tradr -1x NVDA Weekly",
        "MicroSectors Gold -3X Inverse Leveraged ETN",
        "AdvisorShares Dorsey Wright Short ETF",
        "Trading--Leveraged Equity",
        "Trading--Inverse Debt",
        "leveraged",
    ],
)
def test_leveraged_or_inverse_names_are_flagged(text: str) -> None:
    assert is_leveraged_inverse(text)


@pytest.mark.parametrize(
    "text",
    [
        "Schwab Short-Term US Treasury ETF",
        "Short-Term Bond",
        "iShares Short Treasury Bond ETF",
        "iShares Short Duration Bond ETF",
        "PIMCO Enhanced Short Maturity Active ETF",
        "JPMorgan Ultra-Short Income ETF",
        "Invesco Ultra Short Duration ETF",
        "SPDR SSgA Ultra Short Term Bond ETF",
        "Ultrashort Bond",
        "First Trust Long/Short Equity ETF",
        "AGF Long / Short Equity",
        "Global X MSCI SuperDividend EAFE ETF",
        "iShares 1-3 Year Treasury Bond ETF",
        "Vanguard S&P 500 ETF",
        "Bearing Point Growth",
        "Shortline Railroads",
        "Multiplier 1.0x Fund",
    ],
)
def test_short_maturity_and_plain_names_are_not_flagged(text: str) -> None:
    assert not is_leveraged_inverse(text)


def test_is_leveraged_inverse_rejects_non_strings() -> None:
    with pytest.raises(AnalyticsError, match="text must be a string"):
        is_leveraged_inverse(None)  # type: ignore[arg-type]


def _dates(n: int = T) -> pd.DatetimeIndex:
    return pd.bdate_range("2023-01-02", periods=n, name="date")


def _fixture() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Candidates that each fail one rule (first failing rule noted), plus eligible edge cases."""
    full = np.full(T, 50.0)
    columns: dict[str, np.ndarray] = {}
    rows = []  # (symbol, name, category, asset_type)

    def add(symbol: str, price: np.ndarray | None, name: str = "Plain Equity ETF", **kw) -> None:
        rows.append((symbol, name, kw.get("category", "Large Blend"), kw.get("asset_type", "etf")))
        if price is not None:
            columns[symbol] = price

    add("GOOD", full.copy())
    add("TERM", full.copy(), name="Schwab Short-Term US Treasury ETF")
    add("LEV", np.full(T, 1.0), name="ProShares Ultra S&P500")  # also cheap: first rule wins
    add("LIST", full.copy())  # in the explicit list
    add("CATINV", full.copy(), category="Trading--Inverse Equity")
    add("NOPX", None)
    add("ALLNAN", np.full(T, np.nan))
    neg = full.copy()
    neg[10] = 0.0
    add("NEG", neg)
    young = full.copy()
    young[: T - 252] = np.nan  # first price at row T-252: 251 trading days of history
    add("YOUNG", young)
    edge = full.copy()
    edge[: T - 253] = np.nan  # first price at row T-253: exactly 252 days
    add("EDGE", edge)
    holey = full.copy()
    holey[50:81] = np.nan  # 31 of 300 rows missing = 10.3% > 10%
    add("HOLEY", holey)
    holey_ok = full.copy()
    holey_ok[50:80] = np.nan  # 30 of 300 = 10%, not above
    add("HOLEYOK", holey_ok)
    stale = full.copy()
    stale[-6:] = np.nan  # last price 6 rows before the as-of row
    add("STALE", stale)
    stale_ok = full.copy()
    stale_ok[-5:] = np.nan
    add("STALEOK", stale_ok)
    cheap = np.full(T, 4.99)
    add("CHEAP", cheap)  # also illiquid: the price rule comes first
    add("NODV", full.copy())
    add("ILLIQ", full.copy())
    add("STOCK", full.copy(), name="Ultra Clean Holdings", asset_type="stock")

    instruments = pd.DataFrame(rows, columns=["symbol", "name", "category", "asset_type"])
    prices = pd.DataFrame(columns, index=_dates())
    volume = pd.DataFrame(2e6, index=_dates(), columns=list(columns))
    volume["NODV"] = np.nan
    volume["ILLIQ"] = 999_999.0
    volume["CHEAP"] = 10.0
    return instruments, prices, volume


EXPECTED_REASONS = {
    "LEV": "leveraged_inverse",
    "LIST": "leveraged_inverse",
    "CATINV": "leveraged_inverse",
    "NOPX": "no_price_data",
    "ALLNAN": "no_price_data",
    "NEG": "non_positive_price",
    "YOUNG": "insufficient_history",
    "HOLEY": "too_many_missing",
    "STALE": "stale_price",
    "CHEAP": "below_min_price",
    "NODV": "no_dollar_volume",
    "ILLIQ": "below_min_dollar_volume",
}


def test_each_candidate_gets_its_first_failing_reason_and_counts_add_up() -> None:
    instruments, prices, volume = _fixture()
    params = UniverseParams(leveraged_inverse_symbols=("LIST", "NOT_A_CANDIDATE"))
    universe = select_universe(instruments, prices, volume, params)

    assert universe.eligible == ("EDGE", "GOOD", "HOLEYOK", "STALEOK", "TERM")
    reasons = dict(zip(universe.exclusions["symbol"], universe.exclusions["reason"], strict=True))
    assert reasons == EXPECTED_REASONS
    # exclusions are ordered by rule, then symbol
    order = [EXCLUSION_REASONS.index(r) for r in universe.exclusions["reason"]]
    assert order == sorted(order)
    assert list(universe.exclusions.columns) == ["symbol", "reason"]
    assert universe.leveraged_inverse == ("CATINV", "LEV", "LIST")
    assert universe.as_of == prices.index[-1]

    counts = universe.counts
    assert list(counts) == ["candidates", *EXCLUSION_REASONS, "eligible"]
    assert counts["candidates"] == len(instruments) - 1  # the stock is not a candidate
    assert counts["leveraged_inverse"] == 3
    assert counts["no_price_data"] == 2
    assert counts["eligible"] == 5
    assert sum(counts[r] for r in EXCLUSION_REASONS) + counts["eligible"] == counts["candidates"]


def test_quality_numbers_are_the_hand_counts() -> None:
    instruments, prices, volume = _fixture()
    quality = select_universe(instruments, prices, volume).quality
    assert quality.loc["GOOD", "history_days"] == T - 1
    assert quality.loc["YOUNG", "history_days"] == 251
    assert quality.loc["EDGE", "history_days"] == 252
    assert quality.loc["HOLEY", "missing_fraction"] == pytest.approx(31 / 300)
    assert quality.loc["HOLEYOK", "missing_fraction"] == pytest.approx(30 / 300)
    assert quality.loc["STALE", "stale_days"] == 6
    assert quality.loc["CHEAP", "last_price"] == 4.99
    assert quality.loc["ILLIQ", "median_dollar_volume"] == 999_999.0
    assert np.isnan(quality.loc["NODV", "median_dollar_volume"])
    assert quality.loc["GOOD", "reason"] == ""
    assert "STOCK" not in quality.index


def test_liquidity_rules_are_skipped_without_dollar_volume_or_threshold() -> None:
    instruments, prices, volume = _fixture()
    without = select_universe(instruments, prices, None)
    assert {"NODV", "ILLIQ"} <= set(without.eligible)
    assert without.counts["no_dollar_volume"] == without.counts["below_min_dollar_volume"] == 0
    off = select_universe(instruments, prices, volume, UniverseParams(min_median_dollar_volume=0))
    assert {"NODV", "ILLIQ"} <= set(off.eligible)


def test_only_data_up_to_the_last_price_row_is_used() -> None:
    instruments, prices, volume = _fixture()
    # dollar volume continuing after the as-of date must not rescue ILLIQ
    later = pd.DataFrame(
        1e12,
        index=pd.bdate_range(prices.index[-1] + pd.offsets.BDay(), periods=100),
        columns=volume.columns,
    )
    extended = pd.concat([volume, later])
    assert "ILLIQ" not in select_universe(instruments, prices, extended).eligible

    # cutting the panel 40 rows earlier: EDGE now has 212 days of history; STALE is fresh
    cut = prices.iloc[:-40]
    universe = select_universe(instruments, cut, volume)
    reasons = dict(zip(universe.exclusions["symbol"], universe.exclusions["reason"], strict=True))
    assert reasons["EDGE"] == "insufficient_history"
    assert "STALE" in universe.eligible
    assert universe.as_of == cut.index[-1]


def test_median_dollar_volume_window() -> None:
    instruments, prices, volume = _fixture()
    volume = volume.copy()
    volume["ILLIQ"] = 5e6
    volume.iloc[-32:, volume.columns.get_loc("ILLIQ")] = 1.0  # 32 of the last 63 rows tiny
    assert "ILLIQ" not in select_universe(instruments, prices, volume).eligible
    volume.iloc[-32, volume.columns.get_loc("ILLIQ")] = 5e6  # now 31 of 63: median 5e6
    assert "ILLIQ" in select_universe(instruments, prices, volume).eligible


def test_stocks_when_selected_are_not_flagged_by_name() -> None:
    instruments, prices, volume = _fixture()
    params = UniverseParams(asset_types=("etf", "stock"))
    universe = select_universe(instruments, prices, volume, params)
    assert "STOCK" in universe.eligible
    assert universe.counts["candidates"] == len(instruments)


def test_inputs_are_not_mutated() -> None:
    instruments, prices, volume = _fixture()
    copies = (instruments.copy(), prices.copy(), volume.copy())
    select_universe(instruments, prices, volume, UniverseParams(leveraged_inverse_symbols=["LIST"]))
    pd.testing.assert_frame_equal(instruments, copies[0])
    pd.testing.assert_frame_equal(prices, copies[1])
    pd.testing.assert_frame_equal(volume, copies[2])


def test_params_defaults_and_normalisation() -> None:
    params = UniverseParams(leveraged_inverse_symbols=["ZZZ", "AAA", "ZZZ"])
    assert params.leveraged_inverse_symbols == ("AAA", "ZZZ")
    default = UniverseParams()
    assert default.asset_types == ("etf",)
    assert default.min_history_days == 252


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"asset_types": ()}, "asset_types must name at least one"),
        ({"asset_types": "etf"}, "asset_types must be a tuple of strings"),
        ({"asset_types": ("etf", "bond")}, "asset_types has unknown type"),
        ({"min_history_days": 0}, "min_history_days must be >= 1"),
        ({"max_missing_fraction": 1.5}, r"max_missing_fraction must be in \[0, 1\]"),
        ({"max_stale_days": -1}, "max_stale_days must be >= 0"),
        ({"min_price": -1.0}, "min_price must be >= 0"),
        ({"min_price": float("nan")}, "min_price must be finite"),
        ({"min_median_dollar_volume": -5.0}, "min_median_dollar_volume must be >= 0"),
        ({"dollar_volume_window": 0}, "dollar_volume_window must be >= 1"),
        ({"leveraged_inverse_symbols": ("A", 3)}, "leveraged_inverse_symbols must hold"),
    ],
)
def test_params_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(AnalyticsError, match=match):
        UniverseParams(**kwargs)  # type: ignore[arg-type]


def test_input_errors() -> None:
    instruments, prices, volume = _fixture()
    with pytest.raises(AnalyticsError, match="instruments must be a pandas DataFrame"):
        select_universe([], prices)  # type: ignore[arg-type]
    with pytest.raises(AnalyticsError, match="instruments is missing column"):
        select_universe(instruments.drop(columns="category"), prices)
    duplicated = pd.concat([instruments, instruments.iloc[:1]])
    with pytest.raises(AnalyticsError, match="instruments has duplicate symbol"):
        select_universe(duplicated, prices)
    blank = instruments.assign(symbol=[*instruments["symbol"][:-1], ""])
    with pytest.raises(AnalyticsError, match=r"instruments\.symbol must hold non-empty strings"):
        select_universe(blank, prices)
    with pytest.raises(AnalyticsError, match="prices must be indexed by dates"):
        select_universe(instruments, prices.reset_index(drop=True))
    with pytest.raises(AnalyticsError, match="prices has no rows"):
        select_universe(instruments, prices.iloc[:0])
    with pytest.raises(AnalyticsError, match="dollar_volume must be a pandas DataFrame"):
        select_universe(instruments, prices, volume["GOOD"])  # type: ignore[arg-type]
    with pytest.raises(AnalyticsError, match="dollar_volume must be >= 0"):
        select_universe(instruments, prices, volume * -1.0)
    with pytest.raises(AnalyticsError, match="dollar_volume must be indexed by dates"):
        select_universe(instruments, prices, volume.reset_index(drop=True))
    with pytest.raises(AnalyticsError, match="params must be a UniverseParams"):
        select_universe(instruments, prices, None, {"min_price": 1})  # type: ignore[arg-type]
