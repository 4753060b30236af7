"""Tests for analytics_lib.simulation (the demo market).

Every expectation is either a planted parameter (``market.truth``), an independent recomputation
from the returned frames (numpy least squares, statsmodels Ljung-Box, a hand-rolled HAR), a
calendar fact, or a requirement of the issue; no number is copied from the code's output.
"""

import datetime as dt
import re

import exchange_calendars as xcals
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from pandas.testing import assert_frame_equal, assert_series_equal
from statsmodels.stats.diagnostic import acorr_ljungbox

from analytics_lib._typing import GICS_SECTORS
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.simulation import (
    ETF_TRACKING_ERROR,
    DemoMarket,
    simulate_market,
    trading_calendar,
)

START = dt.date(2020, 1, 1)
END = dt.date(2024, 12, 31)
N_STOCKS = 40
N_ETFS = 200  # the default size of the strategy ETF universe
SECTOR_ETFS = {"XLK", "XLV", "XLF", "XLY", "XLC", "XLI", "XLP", "XLE", "XLU", "XLRE", "XLB"}
SPDR = {
    "Information Technology": "XLK", "Health Care": "XLV", "Financials": "XLF",
    "Consumer Discretionary": "XLY", "Communication Services": "XLC", "Industrials": "XLI",
    "Consumer Staples": "XLP", "Energy": "XLE", "Utilities": "XLU", "Real Estate": "XLRE",
    "Materials": "XLB",
}  # fmt: skip
PRICE_COLUMNS = ["date", "symbol", "open", "high", "low", "close", "adj_close", "volume"]
INSTRUMENT_COLUMNS = [
    "symbol", "name", "sector", "industry", "market_cap", "asset_type", "currency", "category",
    "expense_ratio",
]  # fmt: skip
UNIVERSE_SYMBOL = r"E\d{4}"

# The NYSE's holidays 2020-2024 as it published them (observed days; Juneteenth from 2022; no
# New Year's holiday for 1 January 2022, a Saturday).
HOLIDAYS_2020_2024 = {
    dt.date(2020, 1, 1), dt.date(2020, 1, 20), dt.date(2020, 2, 17), dt.date(2020, 4, 10),
    dt.date(2020, 5, 25), dt.date(2020, 7, 3), dt.date(2020, 9, 7), dt.date(2020, 11, 26),
    dt.date(2020, 12, 25),
    dt.date(2021, 1, 1), dt.date(2021, 1, 18), dt.date(2021, 2, 15), dt.date(2021, 4, 2),
    dt.date(2021, 5, 31), dt.date(2021, 7, 5), dt.date(2021, 9, 6), dt.date(2021, 11, 25),
    dt.date(2021, 12, 24),
    dt.date(2022, 1, 17), dt.date(2022, 2, 21), dt.date(2022, 4, 15), dt.date(2022, 5, 30),
    dt.date(2022, 6, 20), dt.date(2022, 7, 4), dt.date(2022, 9, 5), dt.date(2022, 11, 24),
    dt.date(2022, 12, 26),
    dt.date(2023, 1, 2), dt.date(2023, 1, 16), dt.date(2023, 2, 20), dt.date(2023, 4, 7),
    dt.date(2023, 5, 29), dt.date(2023, 6, 19), dt.date(2023, 7, 4), dt.date(2023, 9, 4),
    dt.date(2023, 11, 23), dt.date(2023, 12, 25),
    dt.date(2024, 1, 1), dt.date(2024, 1, 15), dt.date(2024, 2, 19), dt.date(2024, 3, 29),
    dt.date(2024, 5, 27), dt.date(2024, 6, 19), dt.date(2024, 7, 4), dt.date(2024, 9, 2),
    dt.date(2024, 11, 28), dt.date(2024, 12, 25),
}  # fmt: skip
# Closures outside the holiday rules since 1990.
UNSCHEDULED_CLOSURES = {
    dt.date(1994, 4, 27), dt.date(2001, 9, 11), dt.date(2001, 9, 12), dt.date(2001, 9, 13),
    dt.date(2001, 9, 14), dt.date(2004, 6, 11), dt.date(2007, 1, 2), dt.date(2012, 10, 29),
    dt.date(2012, 10, 30), dt.date(2018, 12, 5), dt.date(2025, 1, 9),
}  # fmt: skip


@pytest.fixture(scope="module")
def market() -> DemoMarket:
    return simulate_market(start=START, end=END, n_symbols=N_STOCKS)


@pytest.fixture(scope="module")
def adj(market: DemoMarket) -> pd.DataFrame:
    return market.prices.pivot(index="date", columns="symbol", values="adj_close")


@pytest.fixture(scope="module")
def returns(adj: pd.DataFrame) -> pd.DataFrame:
    """Simple returns of adj_close; NaN when either day has no row."""
    return adj / adj.shift(1) - 1.0


def _stocks(market: DemoMarket) -> list[str]:
    inst = market.instruments
    return inst.loc[inst["asset_type"] == "stock", "symbol"].tolist()


def _universe(market: DemoMarket) -> pd.DataFrame:
    """Instrument rows of the strategy ETF universe (E0001, ...)."""
    inst = market.instruments
    return inst[inst["symbol"].str.fullmatch(UNIVERSE_SYMBOL)].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Calendar


def test_trading_calendar_is_weekdays_minus_the_listed_holidays() -> None:
    days, holidays = trading_calendar(START, END)
    weekdays = {d.date() for d in pd.bdate_range(START, END)}
    assert set(holidays) == HOLIDAYS_2020_2024
    assert list(holidays) == sorted(holidays)
    assert {d.date() for d in days} == weekdays - HOLIDAYS_2020_2024
    assert days.is_monotonic_increasing and days.is_unique
    assert str(days.dtype) == "datetime64[ns]" and days.tz is None
    # Half days trade; so does New Year's Eve 2021 (1 January 2022 is a Saturday).
    for half_day in ("2020-11-27", "2021-11-26", "2023-07-03", "2024-12-24", "2021-12-31"):
        assert pd.Timestamp(half_day) in days


def test_trading_calendar_is_the_xnys_calendar_from_1990_to_2040() -> None:
    """exchange_calendars' XNYS is the oracle: observed days, Juneteenth from 2022, MLK Day
    from 1998, Good Friday and the unscheduled closures."""
    start, end = dt.date(1990, 1, 1), dt.date(2040, 12, 31)
    days, holidays = trading_calendar(start, end)
    oracle = xcals.get_calendar("XNYS", start=start.isoformat(), end=end.isoformat()).sessions
    assert days.equals(pd.DatetimeIndex(oracle).as_unit("ns").rename("date"))
    assert set(holidays) >= UNSCHEDULED_CLOSURES
    assert dt.date(1997, 1, 20) not in holidays and dt.date(1998, 1, 19) in holidays  # MLK
    assert dt.date(2021, 6, 18) not in holidays and dt.date(2027, 6, 18) in holidays  # Juneteenth


def test_trading_calendar_single_holiday() -> None:
    days, holidays = trading_calendar(dt.date(2024, 3, 29), dt.date(2024, 3, 29))
    assert len(days) == 0 and holidays == (dt.date(2024, 3, 29),)


@pytest.mark.parametrize(
    ("start", "end", "match"),
    [
        ("2020-01-01", END, "start must be a datetime.date"),
        (dt.datetime(2020, 1, 1), END, "start must be a datetime.date"),
        (START, pd.Timestamp("2024-12-31"), "end must be a datetime.date"),
        (END, START, "end must be on or after start"),
        (dt.date(1989, 12, 29), END, "start must be on or after 1990-01-01"),
    ],
)
def test_trading_calendar_errors(start: object, end: object, match: str) -> None:
    with pytest.raises(AnalyticsError, match=match):
        trading_calendar(start, end)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Determinism and prefix stability


def _assert_markets_equal(a: DemoMarket, b: DemoMarket) -> None:
    for name in ("prices", "instruments", "benchmark_sector_weights", "etf_holdings", "positions"):
        assert_frame_equal(getattr(a, name), getattr(b, name))
    assert_series_equal(a.truth.betas, b.truth.betas)
    assert_frame_equal(a.truth.missing, b.truth.missing)
    assert_frame_equal(a.truth.stock_params, b.truth.stock_params)
    assert_series_equal(a.truth.market_variance, b.truth.market_variance)
    assert_frame_equal(a.truth.etf_params, b.truth.etf_params)
    assert_frame_equal(a.truth.etf_missing, b.truth.etf_missing)
    assert dict(a.truth.etf_filter_failures) == dict(b.truth.etf_filter_failures)


def test_same_seed_same_market_other_seed_other_market() -> None:
    kwargs = {"start": dt.date(2024, 1, 1), "end": dt.date(2024, 6, 28), "n_symbols": 33}
    first = simulate_market(**kwargs)  # type: ignore[arg-type]
    _assert_markets_equal(first, simulate_market(**kwargs))  # type: ignore[arg-type]
    other = simulate_market(**kwargs, seed=7)  # type: ignore[arg-type]

    def series(m: DemoMarket, symbol: str) -> np.ndarray:
        return m.prices.loc[m.prices["symbol"] == symbol, "adj_close"].to_numpy()

    assert not np.allclose(series(first, "SPY"), series(other, "SPY"))
    assert len(series(first, "E0001")) > 0
    assert not np.allclose(series(first, "E0001"), series(other, "E0001"))
    assert not first.truth.etf_params["category"].equals(other.truth.etf_params["category"])


@pytest.mark.parametrize(
    "short_end",
    [
        dt.date(2020, 12, 31),  # before the late listing and the split
        dt.date(2022, 9, 30),  # after both
    ],
)
def test_prefix_stability(market: DemoMarket, short_end: dt.date) -> None:
    short = simulate_market(start=START, end=short_end, n_symbols=N_STOCKS)
    cut = pd.Timestamp(short_end)

    def upto(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        return frame[frame[column] <= cut].reset_index(drop=True)

    assert_frame_equal(short.prices, upto(market.prices, "date"))
    assert_frame_equal(
        short.benchmark_sector_weights, upto(market.benchmark_sector_weights, "asof_date")
    )
    assert_frame_equal(short.etf_holdings, upto(market.etf_holdings, "asof_date"))
    assert_frame_equal(short.instruments, market.instruments)
    assert_frame_equal(short.positions, market.positions)
    assert_series_equal(short.truth.listings, market.truth.listings)
    assert_frame_equal(short.truth.splits, market.truth.splits)
    assert_series_equal(
        short.truth.market_variance, market.truth.market_variance[:cut], check_freq=False
    )
    # A fund on a sector ETF has k times that ETF's planted beta, which uses the holdings in
    # force on the last day; everything else about the universe is fixed by (seed, n_etfs).
    assert_frame_equal(
        short.truth.etf_params.drop(columns="beta"), market.truth.etf_params.drop(columns="beta")
    )
    assert dict(short.truth.etf_filter_failures) == dict(market.truth.etf_filter_failures)
    assert_frame_equal(short.truth.etf_missing, upto(market.truth.etf_missing, "date"))


def test_market_factor_does_not_depend_on_universe_size(market: DemoMarket) -> None:
    small = simulate_market(start=START, end=dt.date(2021, 6, 30), n_symbols=33)
    spy_small = small.prices[small.prices["symbol"] == "SPY"].set_index("date")["adj_close"]
    spy_full = market.prices[market.prices["symbol"] == "SPY"].set_index("date")["adj_close"]
    assert_series_equal(spy_small, spy_full.loc[spy_small.index])


# --------------------------------------------------------------------------------------------
# Shapes


def test_prices_schema(market: DemoMarket) -> None:
    prices = market.prices
    assert list(prices.columns) == PRICE_COLUMNS
    assert str(prices["date"].dtype) == "datetime64[ns]"
    assert prices["symbol"].dtype == "str"
    for column in ("open", "high", "low", "close", "adj_close"):
        assert prices[column].dtype == np.float64
    assert prices["volume"].dtype == np.int64
    assert not prices.duplicated(["date", "symbol"]).any()
    ordered = prices.sort_values(["symbol", "date"], ignore_index=True)
    assert_frame_equal(prices, ordered)
    assert set(prices["symbol"]) == set(market.instruments["symbol"])


def test_instruments(market: DemoMarket) -> None:
    inst = market.instruments
    assert list(inst.columns) == INSTRUMENT_COLUMNS
    assert inst["symbol"].is_unique
    assert_frame_equal(inst, inst.sort_values("symbol", ignore_index=True))
    for column in ("symbol", "name", "sector", "industry", "asset_type", "currency", "category"):
        assert inst[column].dtype == "str", column
    assert inst["market_cap"].dtype == np.float64 and inst["expense_ratio"].dtype == np.float64
    stocks = inst[inst["asset_type"] == "stock"]
    etfs = inst[inst["asset_type"] == "etf"]
    assert len(stocks) == N_STOCKS
    universe = etfs["symbol"].str.fullmatch(UNIVERSE_SYMBOL)
    assert set(etfs.loc[~universe, "symbol"]) == SECTOR_ETFS | {"SPY"}
    assert universe.sum() == N_ETFS
    assert set(inst["asset_type"]) == {"stock", "etf"}
    assert (inst["currency"] == "USD").all()
    assert all(re.fullmatch(r"[A-Z0-9]{1,8}", s) for s in inst["symbol"])
    assert stocks["name"].str.contains("Simulated").all()
    assert etfs["name"].str.contains("Simulated").all()
    assert set(stocks["sector"]) == set(GICS_SECTORS)
    assert stocks["sector"].value_counts().min() >= 3
    assert stocks["industry"].notna().all()
    assert (stocks["market_cap"] > 0).all() and np.isfinite(stocks["market_cap"]).all()
    assert etfs["market_cap"].isna().all() and etfs["sector"].isna().all()
    sectors = stocks.set_index("symbol")["sector"]
    assert_series_equal(market.truth.sectors.sort_index(), sectors.sort_index(), check_names=False)


def test_large_universe_tickers() -> None:
    big = simulate_market(start=dt.date(2024, 1, 1), end=dt.date(2024, 2, 15), n_symbols=2000)
    stocks = big.instruments[big.instruments["asset_type"] == "stock"]["symbol"]
    assert len(stocks) == 2000 and stocks.is_unique
    assert all(re.fullmatch(r"[A-Z0-9]{1,8}", s) for s in stocks)


def test_minimum_universe_has_three_stocks_per_sector() -> None:
    small = simulate_market(start=dt.date(2024, 1, 1), end=dt.date(2024, 2, 15), n_symbols=33)
    counts = small.truth.sectors.value_counts()
    assert set(counts.index) == set(GICS_SECTORS) and (counts == 3).all()


def test_ohlc_invariants(market: DemoMarket) -> None:
    p = market.prices
    values = p[["open", "high", "low", "close", "adj_close"]].to_numpy()
    assert np.isfinite(values).all() and (values > 0).all()
    assert (p["low"] <= np.minimum(p["open"], p["close"])).all()
    assert (np.maximum(p["open"], p["close"]) <= p["high"]).all()
    assert (p["volume"] > 0).all()


# --------------------------------------------------------------------------------------------
# Calendar events: holidays, missing days, late listing, split


def test_holidays_have_no_rows_and_every_trading_day_has_spy(market: DemoMarket) -> None:
    assert set(market.truth.holidays) == HOLIDAYS_2020_2024
    assert all(d.weekday() < 5 for d in market.truth.holidays)
    dates = set(market.prices["date"].dt.date)
    assert dates.isdisjoint(market.truth.holidays)
    spy_dates = market.prices.loc[market.prices["symbol"] == "SPY", "date"]
    expected, _ = trading_calendar(START, END)
    assert list(spy_dates) == list(expected)


def test_missing_days_are_absent(market: DemoMarket, adj: pd.DataFrame) -> None:
    missing = market.truth.missing
    assert list(missing.columns) == ["symbol", "date"]
    assert 1 <= len(missing) <= 20
    keys = set(zip(market.prices["symbol"], market.prices["date"], strict=True))
    trading = adj.index
    for symbol, date in missing.itertuples(index=False):
        assert (symbol, date) not in keys
        assert date in trading  # the market traded that day
        position = trading.get_loc(date)
        assert not np.isnan(adj[symbol].iloc[position - 1])
        assert not np.isnan(adj[symbol].iloc[position + 1])


def test_late_listing(market: DemoMarket, adj: pd.DataFrame) -> None:
    listings = market.truth.listings
    assert len(listings) >= 1
    n_days = len(adj.index)
    for symbol, first in listings.items():
        rows = market.prices[market.prices["symbol"] == symbol]
        assert rows["date"].iloc[0] == first
        assert adj.index.get_loc(first) >= 0.3 * n_days
        assert len(rows) >= 200
        assert symbol not in set(market.positions["symbol"])


def test_split(market: DemoMarket) -> None:
    splits = market.truth.splits
    assert list(splits.columns) == ["symbol", "date", "ratio"]
    assert len(splits) >= 1 and (splits["ratio"] == 2.0).all()
    split_symbols = set(splits["symbol"])
    for symbol, date, ratio in splits.itertuples(index=False):
        rows = market.prices[market.prices["symbol"] == symbol].set_index("date")
        position = rows.index.get_loc(date)
        before, on = rows.iloc[position - 1], rows.iloc[position]
        adj_return = on["adj_close"] / before["adj_close"] - 1.0
        assert abs(adj_return) < 0.5  # adj_close is continuous across the split
        assert_allclose(on["close"] / before["close"], (1.0 + adj_return) / ratio, rtol=1e-12)
        assert (
            rows.loc[rows.index >= date, "adj_close"] == rows.loc[rows.index >= date, "close"]
        ).all()
        earlier = rows[rows.index < date]
        assert_allclose(earlier["adj_close"], earlier["close"] / ratio, rtol=1e-15)
        assert (earlier[["open", "high", "low"]].min(axis=1) > earlier["adj_close"]).any()
    others = market.prices[~market.prices["symbol"].isin(split_symbols)]
    assert (others["adj_close"] == others["close"]).all()


def test_short_range_ending_before_the_planted_events() -> None:
    short = simulate_market(start=START, end=dt.date(2020, 6, 30), n_symbols=N_STOCKS)
    late = short.truth.listings.index[0]
    assert short.truth.listings.iloc[0] > pd.Timestamp("2020-06-30")
    assert late not in set(short.prices["symbol"])
    split = short.truth.splits.iloc[0]
    assert split["date"] > pd.Timestamp("2020-06-30")
    rows = short.prices[short.prices["symbol"] == split["symbol"]]
    assert_allclose(rows["close"], rows["adj_close"] * split["ratio"], rtol=1e-15)


# --------------------------------------------------------------------------------------------
# The planted model is recoverable


def _ols_beta(y: pd.Series, x: pd.Series) -> tuple[float, float]:
    """(beta, standard error) of y on [1, x] over the paired observations."""
    ok = y.notna() & x.notna()
    design = np.column_stack([np.ones(int(ok.sum())), x[ok].to_numpy()])
    coef, *_ = np.linalg.lstsq(design, y[ok].to_numpy(), rcond=None)
    resid = y[ok].to_numpy() - design @ coef
    sigma2 = resid @ resid / (len(resid) - 2)
    se = float(np.sqrt(sigma2 * np.linalg.inv(design.T @ design)[1, 1]))
    return float(coef[1]), se


def test_planted_betas_are_recovered_by_ols(market: DemoMarket, returns: pd.DataFrame) -> None:
    truth = market.truth.betas
    assert set(truth.index) == set(returns.columns)
    market_returns = returns["SPY"]
    estimates = {s: _ols_beta(returns[s], market_returns) for s in returns.columns}
    spy_beta, _ = estimates.pop("SPY")
    assert spy_beta == pytest.approx(1.0, abs=1e-12)
    assert truth["SPY"] == 1.0
    beta_hat = pd.Series({s: b for s, (b, _) in estimates.items()})
    se = pd.Series({s: e for s, (_, e) in estimates.items()})
    error = beta_hat - truth[beta_hat.index]
    assert (error.abs() <= 4.5 * se).all(), error[error.abs() > 4.5 * se]
    assert error.abs().mean() < 0.06
    assert np.corrcoef(beta_hat, truth[beta_hat.index])[0, 1] > 0.98


def test_planted_betas_span_the_required_range(market: DemoMarket) -> None:
    stock_betas = market.truth.betas[_stocks(market)]
    assert stock_betas.min() <= 0.3 and stock_betas.max() >= 2.3
    assert ((stock_betas >= 0.2) & (stock_betas <= 2.5)).all()


def test_returns_bounded_and_vols_plausible(market: DemoMarket, returns: pd.DataFrame) -> None:
    assert np.nanmax(np.abs(returns.to_numpy())) < 0.5
    annual_vol = returns.std() * np.sqrt(252)
    assert 0.12 <= annual_vol["SPY"] <= 0.22
    stock_vol = annual_vol[_stocks(market)]
    assert ((stock_vol >= 0.15) & (stock_vol <= 0.60)).mean() >= 0.8


def test_sector_etf_returns_are_cap_weighted_member_returns(
    market: DemoMarket, returns: pd.DataFrame
) -> None:
    holdings = market.etf_holdings
    assert set(holdings["etf"]) == SECTOR_ETFS
    for etf, frame in holdings.groupby("etf"):
        asofs = sorted(frame["asof_date"].unique())
        for i, asof in enumerate(asofs):
            end = asofs[i + 1] if i + 1 < len(asofs) else returns.index[-1] + pd.Timedelta(days=1)
            days = returns.index[(returns.index >= asof) & (returns.index < end)]
            weights = frame[frame["asof_date"] == asof].set_index("symbol")["weight"]
            member = returns.loc[days, weights.index]
            available = member.notna()
            numerator = member.fillna(0.0).mul(weights, axis=1).sum(axis=1)
            denominator = available.mul(weights, axis=1).sum(axis=1)
            actual = returns.loc[days, etf]
            observed = actual.notna()
            assert (denominator[observed] > 0).all()
            expected = numerator[observed] / denominator[observed]
            assert_allclose(actual[observed], expected, rtol=0, atol=1e-12, err_msg=str(etf))
            assert observed.sum() >= len(days) - 1  # only the very first day has no return


def test_etf_holdings_are_market_cap_weights(market: DemoMarket) -> None:
    inst = market.instruments.set_index("symbol")
    etf_of_sector = (
        market.etf_holdings.merge(inst[["sector"]], left_on="symbol", right_index=True)
        .groupby("sector")["etf"]
        .unique()
    )
    assert (etf_of_sector.map(len) == 1).all()
    first_dates = market.prices.groupby("symbol")["date"].min()
    for (etf, asof), frame in market.etf_holdings.groupby(["etf", "asof_date"]):
        sector = inst.loc[frame["symbol"].iloc[0], "sector"]
        listed = [s for s in inst.index[inst["sector"] == sector] if first_dates[s] <= asof]
        assert set(frame["symbol"]) == set(listed), (etf, asof)
        caps = inst.loc[frame["symbol"], "market_cap"].to_numpy()
        assert_allclose(frame["weight"], caps / caps.sum(), rtol=1e-12)
        assert frame["weight"].sum() == pytest.approx(1.0, abs=1e-12)


def test_etf_planted_beta_is_holdings_weighted(market: DemoMarket) -> None:
    holdings = market.etf_holdings
    last = holdings[holdings["asof_date"] == holdings["asof_date"].max()]
    betas = market.truth.betas
    for etf, frame in last.groupby("etf"):
        expected = float((frame["weight"] * betas[frame["symbol"]].to_numpy()).sum())
        assert betas[etf] == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------------------------
# Volatility clustering


def _acf(values: np.ndarray, lag: int) -> float:
    centred = values - values.mean()
    return float((centred[lag:] * centred[:-lag]).sum() / (centred * centred).sum())


def test_squared_returns_are_autocorrelated(market: DemoMarket, returns: pd.DataFrame) -> None:
    spy = returns["SPY"].dropna().to_numpy()
    pvalues = acorr_ljungbox(spy**2, lags=[1, 2, 3, 4, 5])["lb_pvalue"]
    assert (pvalues < 1e-6).all()
    stocks = _stocks(market)
    for lag in range(1, 6):
        acfs = np.array([_acf(returns[s].dropna().to_numpy() ** 2, lag) for s in stocks])
        t_stat = acfs.mean() / (acfs.std(ddof=1) / np.sqrt(len(acfs)))
        assert t_stat > 3.0, (lag, t_stat)


def _har_to_naive_mse(r: np.ndarray, min_train: int = 500, step: int = 21) -> float:
    """Out-of-sample MSE of HAR over the naive forecast of next-21-day mean squared returns.

    HAR (Corsi 2009): target ``mean(r2[t:t+21])`` on ``[1, r2[t-1], mean(r2[t-5:t]),
    mean(r2[t-22:t])]``; refitted every ``step`` origins by OLS on targets fully observed
    before the origin. Naive: ``mean(r2[t-21:t])``.
    """
    r2 = r**2
    cum = np.concatenate([[0.0], np.cumsum(r2)])
    t = np.arange(22, len(r2) - 21)
    target = (cum[t + 21] - cum[t]) / 21
    naive = (cum[t] - cum[t - 21]) / 21
    design = np.column_stack(
        [np.ones(len(t)), r2[t - 1], (cum[t] - cum[t - 5]) / 5, (cum[t] - cum[t - 22]) / 22]
    )
    forecast = np.full(len(t), np.nan)
    for origin in range(min_train, len(t), step):
        train = slice(0, origin - 21)
        coef, *_ = np.linalg.lstsq(design[train], target[train], rcond=None)
        forecast[origin : origin + step] = design[origin : origin + step] @ coef
    ok = ~np.isnan(forecast)
    return float(((forecast[ok] - target[ok]) ** 2).mean() / ((naive[ok] - target[ok]) ** 2).mean())


def test_har_beats_the_naive_volatility_forecast(market: DemoMarket, returns: pd.DataFrame) -> None:
    ratios = [_har_to_naive_mse(returns[s].dropna().to_numpy()) for s in _stocks(market)]
    assert np.median(ratios) < 0.9
    assert _har_to_naive_mse(returns["SPY"].dropna().to_numpy()) < 1.0


def test_market_variance_mean_reverts_with_the_planted_half_life(market: DemoMarket) -> None:
    variance = market.truth.market_variance.to_numpy()
    centred = variance - variance.mean()
    phi = float((centred[1:] @ centred[:-1]) / (centred[:-1] @ centred[:-1]))
    half_life = np.log(0.5) / np.log(phi)
    assert 5.0 <= half_life <= 45.0
    planted = market.truth.factor_params.loc["market", "half_life"]
    assert 10.0 <= planted <= 40.0
    assert market.truth.stock_params["half_life"].between(5.0, 45.0).all()


# --------------------------------------------------------------------------------------------
# Benchmark and portfolio


def test_benchmark_sector_weights(market: DemoMarket) -> None:
    bench = market.benchmark_sector_weights
    assert list(bench.columns) == ["benchmark", "asof_date", "sector", "weight"]
    assert (bench["benchmark"] == "SP500").all()
    assert (bench["weight"] > 0).all()
    sums = bench.groupby("asof_date")["weight"].sum()
    assert_allclose(sums, 1.0, rtol=0, atol=1e-12)
    asofs = sorted(bench["asof_date"].unique())
    assert len(asofs) >= 2
    assert asofs[0] >= pd.Timestamp(START) and asofs[-1] <= pd.Timestamp(END)
    for _, frame in bench.groupby("asof_date"):
        assert sorted(frame["sector"]) == sorted(GICS_SECTORS)
    wide = bench.pivot(index="asof_date", columns="sector", values="weight")
    assert (wide.diff().abs().iloc[1:].max(axis=1) > 0).all()  # each publication differs
    assert wide.iloc[0].idxmax() == "Information Technology"


def test_demo_portfolio(market: DemoMarket) -> None:
    pos = market.positions
    assert list(pos.columns) == ["account", "symbol", "quantity", "cost_basis", "currency"]
    assert 15 <= len(pos) <= 25 and pos["symbol"].is_unique
    assert (pos["account"] == "DEMO").all() and (pos["currency"] == "USD").all()
    assert (pos["quantity"] > 0).all() and (pos["quantity"] == np.round(pos["quantity"])).all()
    kinds = market.instruments.set_index("symbol").loc[pos["symbol"]]
    etfs = set(pos["symbol"][kinds["asset_type"].to_numpy() == "etf"])
    assert "SPY" in etfs and len(etfs & SECTOR_ETFS) >= 2
    stocks = pos["symbol"][kinds["asset_type"].to_numpy() == "stock"]
    assert len(stocks) >= 12
    assert kinds.loc[stocks, "sector"].nunique() >= 8
    stock_betas = market.truth.betas[stocks]
    assert stock_betas.max() >= 2.0 and stock_betas.min() <= 0.5

    last_day = market.prices["date"].max()
    on_last = market.prices[market.prices["date"] == last_day]
    assert set(pos["symbol"]) <= set(on_last["symbol"])

    first_day = market.prices["date"].min()
    first_adj = market.prices[market.prices["date"] == first_day].set_index("symbol")["adj_close"]
    assert_allclose(
        pos["cost_basis"], pos["quantity"] * first_adj[pos["symbol"]].to_numpy(), rtol=1e-12
    )
    assert (pos["cost_basis"] > 0).all()


# --------------------------------------------------------------------------------------------
# The strategy ETF universe

# Category -> percent of n_etfs, from the issue / the documented construction.
CATEGORY_SHARES = {
    "US Large Cap": 14, "US Mid Cap": 6, "US Small Cap": 6, "International Developed": 9,
    "Emerging Markets": 7, **{f"Sector {sector}": 2 for sector in GICS_SECTORS},
    "Bonds Treasury": 8, "Bonds Corporate": 8, "Commodities": 5, "Real Estate": 4,
    "Leveraged": 7, "Inverse": 4,
}  # fmt: skip
# The universe filter's default thresholds the constructions are documented against.
MIN_HISTORY, MAX_MISSING, MAX_STALE, MIN_PRICE, MIN_DOLLAR_VOLUME, VOLUME_WINDOW = (
    252, 0.10, 5, 5.0, 1_000_000.0, 63,
)  # fmt: skip
RULE_OF_CONSTRUCTION = {
    "leveraged": "leveraged_inverse",
    "inverse": "leveraged_inverse",
    "late_listing": "insufficient_history",
    "sparse": "too_many_missing",
    "delisted": "stale_price",
    "low_price": "below_min_price",
    "illiquid": "below_min_dollar_volume",
}


def _round_half_up(value: float) -> int:
    return int(np.floor(value + 0.5))


@pytest.fixture(scope="module")
def quality(market: DemoMarket, adj: pd.DataFrame) -> pd.DataFrame:
    """The filter's measures as of the last day, recomputed here from the price frame.

    History counts rows from a symbol's first price to the last row; every row since then
    without a price counts as missing; dollar volume is ``close * volume``.
    """
    prices = market.prices
    dollar_volume = (prices["close"] * prices["volume"]).set_axis(prices.index)
    dv = prices.assign(dv=dollar_volume).pivot(index="date", columns="symbol", values="dv")
    priced = adj.notna().to_numpy()
    rows = len(adj)
    first = priced.argmax(axis=0)
    last = rows - 1 - priced[::-1].argmax(axis=0)
    history = rows - first
    frame = pd.DataFrame(
        {
            "history": history,
            "missing": 1.0 - priced.sum(axis=0) / history,
            "stale": rows - 1 - last,
            "last_price": adj.to_numpy()[last, np.arange(adj.shape[1])],
            "median_dv": dv.iloc[-VOLUME_WINDOW:].median().reindex(adj.columns).to_numpy(),
        },
        index=adj.columns,
    )
    failed = pd.DataFrame(
        {
            "insufficient_history": frame["history"] < MIN_HISTORY,
            "too_many_missing": frame["missing"] > MAX_MISSING,
            "stale_price": frame["stale"] > MAX_STALE,
            "below_min_price": frame["last_price"] < MIN_PRICE,
            "below_min_dollar_volume": frame["median_dv"] < MIN_DOLLAR_VOLUME,
        }
    )
    return frame.join(failed)


def test_universe_categories_and_counts(market: DemoMarket) -> None:
    universe = _universe(market)
    assert len(universe) == N_ETFS
    assert universe["symbol"].tolist() == [f"E{i:04d}" for i in range(1, N_ETFS + 1)]
    assert set(universe["symbol"]).isdisjoint(_stocks(market))
    assert (universe["asset_type"] == "etf").all() and (universe["currency"] == "USD").all()
    assert universe["sector"].isna().all() and universe["industry"].isna().all()
    assert universe["market_cap"].isna().all()
    assert universe["name"].str.startswith("Simulated ").all() and universe["name"].is_unique
    counts = universe["category"].value_counts()
    assert set(counts.index) == set(CATEGORY_SHARES)
    for category, share in CATEGORY_SHARES.items():
        assert counts[category] == share * N_ETFS // 100, category
    assert 0.05 <= counts["Leveraged"] / N_ETFS <= 0.08
    assert 0.03 <= counts["Inverse"] / N_ETFS <= 0.05
    assert_series_equal(
        market.truth.etf_params["category"],
        universe.set_index("symbol")["category"],
        check_names=False,
    )


@pytest.mark.parametrize("n_etfs", [0, 1, 13, 137, 2000])
def test_universe_size_follows_n_etfs(n_etfs: int) -> None:
    small = simulate_market(
        start=dt.date(2024, 1, 1), end=dt.date(2024, 2, 15), n_symbols=33, n_etfs=n_etfs
    )
    universe = _universe(small)
    assert len(universe) == n_etfs == len(small.truth.etf_params)
    assert universe["symbol"].is_unique and universe["name"].is_unique
    counts = universe["category"].value_counts().reindex(list(CATEGORY_SHARES), fill_value=0)
    expected = pd.Series(CATEGORY_SHARES) * n_etfs / 100
    assert ((counts - expected).abs() < 1).all()
    assert len(small.instruments) == 33 + 12 + n_etfs


def test_other_instruments_have_a_category_and_expense_ratio(market: DemoMarket) -> None:
    inst = market.instruments.set_index("symbol")
    stocks = inst[inst["asset_type"] == "stock"]
    assert (stocks["category"] == stocks["sector"]).all()
    assert stocks["expense_ratio"].isna().all()
    assert inst.loc["SPY", "category"] == "US Large Cap"
    assert inst.loc["SPY", "expense_ratio"] == 0.0009
    for sector, etf in SPDR.items():
        assert inst.loc[etf, "category"] == f"Sector {sector}"
        assert inst.loc[etf, "expense_ratio"] == 0.0009


def test_expense_ratios(market: DemoMarket) -> None:
    universe = _universe(market).set_index("symbol")
    reported = universe["expense_ratio"]
    assert reported.isna().sum() == N_ETFS - _round_half_up(0.7 * N_ETFS)
    known = reported.dropna()
    assert ((known >= 0.0003) & (known <= 0.0095)).all()
    special = universe["category"].isin(["Leveraged", "Inverse"])
    assert (known[special[known.index]] >= 0.0085).all()
    assert known[special[known.index]].min() > known[~special[known.index]].median()
    true = market.truth.etf_params["expense_ratio"]
    assert true.notna().all()
    assert_series_equal(known, true[known.index], check_names=False)


def test_universe_has_no_holdings_or_positions(market: DemoMarket) -> None:
    universe = set(_universe(market)["symbol"])
    assert universe.isdisjoint(market.positions["symbol"])
    assert universe.isdisjoint(market.etf_holdings["etf"])
    assert universe.isdisjoint(market.etf_holdings["symbol"])


def test_existing_symbols_are_unchanged_by_the_etf_universe(market: DemoMarket) -> None:
    bare = simulate_market(start=START, end=END, n_symbols=N_STOCKS, n_etfs=0)
    assert _universe(bare).empty and bare.truth.etf_params.empty
    assert bare.truth.etf_missing.empty
    assert all(len(symbols) == 0 for symbols in bare.truth.etf_filter_failures.values())
    old = set(bare.instruments["symbol"])
    prices = market.prices[market.prices["symbol"].isin(old)].reset_index(drop=True)
    assert_frame_equal(prices, bare.prices)
    instruments = market.instruments[market.instruments["symbol"].isin(old)]
    assert_frame_equal(instruments.reset_index(drop=True), bare.instruments)
    for name in ("benchmark_sector_weights", "etf_holdings", "positions"):
        assert_frame_equal(getattr(market, name), getattr(bare, name))
    assert_series_equal(market.truth.betas[bare.truth.betas.index], bare.truth.betas)
    assert_series_equal(market.truth.market_variance, bare.truth.market_variance)
    assert_frame_equal(market.truth.missing, bare.truth.missing)
    assert_frame_equal(market.truth.stock_params, bare.truth.stock_params)


def test_leveraged_and_inverse_track_k_times_their_underlying(
    market: DemoMarket, returns: pd.DataFrame
) -> None:
    params = market.truth.etf_params
    special = params[params["category"].isin(["Leveraged", "Inverse"])]
    assert len(special) > 0
    names = _universe(market).set_index("symbol")["name"]
    labels = {"SPY": "S&P 500", **{etf: sector for sector, etf in SPDR.items()}}
    for symbol, row in special.iterrows():
        match = re.fullmatch(
            r"Simulated (?:(-?\d)x )?(Leveraged|Inverse) (.+) (Bull|Bear) \d+", names[symbol]
        )
        assert match, names[symbol]
        multiple = int(match[1]) if match[1] else -1
        assert (multiple > 0) == (match[2] == "Leveraged") == (match[4] == "Bull")
        assert multiple in ((2, 3) if match[2] == "Leveraged" else (-1, -2))
        assert match[3] == labels[row["underlying"]]
        assert row["leverage"] == multiple
        pair = returns[[symbol, row["underlying"]]].dropna()
        assert len(pair) >= 1000
        design = np.column_stack([np.ones(len(pair)), pair.iloc[:, 1].to_numpy()])
        coef, *_ = np.linalg.lstsq(design, pair.iloc[:, 0].to_numpy(), rcond=None)
        # the slope is k up to the 1% a year tracking error: with daily noise of
        # 0.01/sqrt(252) against an underlying of ~1% a day over >= 1000 days its standard
        # error is about 0.002, so 0.02 is ten of them
        assert coef[1] == pytest.approx(multiple, abs=0.02), symbol
        resid = pair.iloc[:, 0].to_numpy() - design @ coef
        tracking = resid.std(ddof=2) * np.sqrt(252)
        assert tracking == pytest.approx(ETF_TRACKING_ERROR, rel=0.15), symbol
        beta = market.truth.betas
        assert beta[symbol] == pytest.approx(multiple * beta[row["underlying"]], rel=1e-12)


def test_leveraged_inverse_names_match_the_strategy_rule(market: DemoMarket) -> None:
    from analytics_lib.universe import is_leveraged_inverse

    universe = _universe(market)
    flagged = [is_leveraged_inverse(f"{n} | {c}") for n, c in universe[["name", "category"]].values]
    special = universe["category"].isin(["Leveraged", "Inverse"]).to_numpy()
    assert (np.array(flagged) == special).all()
    assert universe["name"].str.contains("Short-Term Treasury").any()
    failures = market.truth.etf_filter_failures
    assert set(failures["leveraged_inverse"]) == set(universe.loc[special, "symbol"])


def test_universe_factor_structure(market: DemoMarket, returns: pd.DataFrame) -> None:
    params = market.truth.etf_params
    vol = returns.std() * np.sqrt(252)
    category = params["category"]
    bonds = params.index[category.str.startswith("Bonds")]
    equity = params.index[category.isin(["US Large Cap", "US Mid Cap", "US Small Cap"])]
    assert vol[bonds].max() < 0.16 and vol[bonds].median() < 0.08
    assert 0.12 <= vol[equity].median() <= 0.25
    assert vol[bonds].median() < vol[equity].median()
    assert (market.truth.betas[bonds].abs() <= 0.4).all()
    assert market.truth.betas[equity].between(0.9, 1.35).all()
    # Sector funds load on their sector factor: after removing the market (OLS on SPY), each
    # co-moves most with its own SPDR sector ETF.
    x = returns["SPY"].iloc[1:].to_numpy()
    spdrs = list(SPDR.values())
    spdr_resid = {
        e: returns[e].iloc[1:] - np.polyfit(x, returns[e].iloc[1:], 1)[0] * x for e in spdrs
    }
    for sector, etf in SPDR.items():
        members = params.index[category == f"Sector {sector}"]
        assert len(members) > 0
        for symbol in members:
            y = returns[symbol].iloc[1:]
            ok = y.notna().to_numpy()
            resid = y[ok] - np.polyfit(x[ok], y[ok], 1)[0] * x[ok]
            corr = {e: np.corrcoef(resid, spdr_resid[e][ok])[0, 1] for e in spdrs}
            assert max(corr, key=corr.__getitem__) == etf and corr[etf] > 0.2, (symbol, corr)
    # Planted drifts separate the funds: annualised mean returns spread across funds.
    plain = params.index[~category.isin(["Leveraged", "Inverse"])]
    assert params.loc[plain, "alpha"].std() * 252 > 0.01


def test_late_listed_etfs_have_no_prices_before_listing(
    market: DemoMarket, adj: pd.DataFrame
) -> None:
    params = market.truth.etf_params
    late = params.index[params["construction"] == "late_listing"]
    assert len(late) == _round_half_up(0.15 * N_ETFS)
    assert set(late) == set(market.truth.etf_filter_failures["insufficient_history"])
    first_price = adj[late].apply(pd.Series.first_valid_index)
    assert_series_equal(
        first_price, params.loc[late, "first_date"], check_names=False, check_dtype=False
    )
    days = adj.index.get_indexer(params.loc[late, "first_date"])
    assert days.min() == 252 and days.max() == 1197
    for symbol in late:
        rows = market.prices.loc[market.prices["symbol"] == symbol, "date"]
        assert rows.min() == params.loc[symbol, "first_date"]
    others = params.index[params["construction"] != "late_listing"]
    assert (params.loc[others, "first_date"] == adj.index[0]).all()


def test_constructed_failures_fail_exactly_their_rule(
    market: DemoMarket, quality: pd.DataFrame
) -> None:
    params = market.truth.etf_params
    rules = list(quality.columns[-5:])
    shares = {
        "low_price": 0.03, "late_listing": 0.15, "delisted": 0.02, "sparse": 0.03,
        "illiquid": 0.10, "gaps": 0.03,
    }  # fmt: skip
    counts = params["construction"].value_counts()
    for construction, share in shares.items():
        assert counts[construction] == _round_half_up(share * N_ETFS), construction
    failures = market.truth.etf_filter_failures
    for symbol, construction in params["construction"].items():
        failed = {rule for rule in rules if quality.loc[symbol, rule]}
        if construction in ("leveraged", "inverse"):
            assert failed <= {"below_min_price"}, (symbol, failed)  # they may decay below $5
        elif construction in ("", "gaps"):
            assert failed == set(), (symbol, construction, failed)
        elif construction == "late_listing":
            recent = quality.loc[symbol, "history"] < MIN_HISTORY
            assert failed == ({"insufficient_history"} if recent else set()), symbol
        else:
            assert failed == {RULE_OF_CONSTRUCTION[construction]}, (symbol, failed)
        reason = RULE_OF_CONSTRUCTION.get(construction)
        for key, symbols in failures.items():
            assert (symbol in symbols) == (key == reason), (symbol, key)
    late = params.index[params["construction"] == "late_listing"]
    assert (quality.loc[late, "history"] < MIN_HISTORY).sum() >= 2
    # the cheapest constructed low-price fund never reached $5; illiquid ones stay far below $1M
    low = params.index[params["construction"] == "low_price"]
    assert (market.prices.loc[market.prices["symbol"].isin(low), "adj_close"] < MIN_PRICE).all()
    illiquid = params.index[params["construction"] == "illiquid"]
    assert quality.loc[illiquid, "median_dv"].max() < 0.6 * MIN_DOLLAR_VOLUME
    liquid = params.index[params["construction"] != "illiquid"]
    assert quality.loc[liquid, "median_dv"].min() > 2 * MIN_DOLLAR_VOLUME
    # dollar volume spans orders of magnitude
    assert quality.loc[params.index, "median_dv"].max() / quality["median_dv"].min() > 1e3


def test_universe_filter_reports_the_constructed_reasons(market: DemoMarket) -> None:
    from analytics_lib.universe import UniverseParams, select_universe

    prices = market.prices
    adj = prices.pivot(index="date", columns="symbol", values="adj_close")
    dollar_volume = prices.assign(dv=prices["close"] * prices["volume"]).pivot(
        index="date", columns="symbol", values="dv"
    )
    rules = UniverseParams(
        min_history_days=MIN_HISTORY,
        max_missing_fraction=MAX_MISSING,
        max_stale_days=MAX_STALE,
        min_price=MIN_PRICE,
        min_median_dollar_volume=MIN_DOLLAR_VOLUME,
        dollar_volume_window=VOLUME_WINDOW,
    )
    result = select_universe(market.instruments, adj, dollar_volume, rules)
    reasons = result.quality["reason"]
    for reason, symbols in market.truth.etf_filter_failures.items():
        if reason == "insufficient_history":
            assert set(reasons[list(symbols)]) <= {"insufficient_history", ""}
        else:
            assert (reasons[list(symbols)] == reason).all(), reason
    constructed = set().union(*market.truth.etf_filter_failures.values())
    passing = [s for s in _universe(market)["symbol"] if s not in constructed]
    assert (reasons[passing] == "").all()
    assert len(result.eligible) >= 100


def test_universe_missing_days(market: DemoMarket, adj: pd.DataFrame) -> None:
    params = market.truth.etf_params
    missing = market.truth.etf_missing
    assert list(missing.columns) == ["symbol", "date"]
    assert_frame_equal(missing, missing.sort_values(["symbol", "date"], ignore_index=True))
    keys = set(zip(market.prices["symbol"], market.prices["date"], strict=True))
    assert not any((s, d) in keys for s, d in missing.itertuples(index=False))
    by_symbol = missing.groupby("symbol")["date"].apply(set)
    for symbol, row in params.iterrows():
        life = adj.index[adj.index >= row["first_date"]]
        if pd.notna(row["last_date"]):
            life = life[life <= row["last_date"]]
        absent = set(life[adj.loc[life, symbol].isna().to_numpy()])
        assert absent == by_symbol.get(symbol, set()), symbol
        if row["construction"] == "gaps":
            assert len(absent) == 5
        elif row["construction"] == "sparse":
            assert 0.18 <= len(absent) / len(life) <= 0.32
        else:
            assert not absent, symbol
    delisted = params[params["construction"] == "delisted"]
    last_rows = market.prices[market.prices["symbol"].isin(delisted.index)].groupby("symbol")
    assert_series_equal(
        last_rows["date"].max(), delisted["last_date"], check_names=False, check_dtype=False
    )


def test_universe_prices_are_valid(market: DemoMarket) -> None:
    rows = market.prices[market.prices["symbol"].str.fullmatch(UNIVERSE_SYMBOL)]
    assert (rows["close"] == rows["adj_close"]).all()
    assert (rows["low"] <= np.minimum(rows["open"], rows["close"])).all()
    assert (np.maximum(rows["open"], rows["close"]) <= rows["high"]).all()
    assert (rows[["open", "high", "low", "close"]] > 0).all().all()
    assert (rows["volume"] > 0).all()
    first = rows.groupby("symbol")[["date", "adj_close"]].first()
    params = market.truth.etf_params
    on_listing = first["date"] == params["first_date"]  # a sparse fund can miss its first day
    assert on_listing.mean() > 0.9
    assert_series_equal(
        first.loc[on_listing, "adj_close"],
        params.loc[on_listing, "price0"],
        check_names=False,
        rtol=1e-12,
    )


# --------------------------------------------------------------------------------------------
# Argument errors


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": "2020-01-01"}, "start must be a datetime.date"),
        ({"start": dt.datetime(2020, 1, 1)}, "start must be a datetime.date"),
        ({"end": None}, "end must be a datetime.date"),
        ({"end": dt.date(2019, 12, 31)}, "end must be on or after start"),
        ({"end": dt.date(2020, 1, 20)}, "end must leave at least 22 trading days"),
        ({"n_symbols": 32}, "n_symbols must be between 33"),
        ({"n_symbols": 20_001}, "n_symbols must be between 33"),
        ({"n_symbols": 40.0}, "n_symbols must be an integer"),
        ({"n_symbols": True}, "n_symbols must be an integer"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"n_etfs": -1}, "n_etfs must be >= 0"),
        ({"n_etfs": 5_001}, "n_etfs must be between 0 and 5000"),
        ({"n_etfs": 200.0}, "n_etfs must be an integer"),
        ({"n_etfs": True}, "n_etfs must be an integer"),
        ({"n_etfs": None}, "n_etfs must be an integer"),
    ],
)
def test_argument_errors(kwargs: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {"start": START, "end": END, "n_symbols": 33} | kwargs
    with pytest.raises(AnalyticsError, match=match):
        simulate_market(**arguments)  # type: ignore[arg-type]
