"""The Financial Modeling Prep source against an in-process FMP on 127.0.0.1 (no mocking of
httpx): documented payload shapes, batching, retries (429 with Retry-After, 5xx, timeouts),
malformed payloads naming endpoint, symbol and field, and the API key kept out of every
error and log line."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import traceback

import dagster as dg
import pandas as pd
import pytest
import tenacity
from pytest_httpserver import HTTPServer

from orchestration.defs.market_data.validation import MarketDataError, SourceFormatError
from orchestration.resources.fmp import (
    BackoffWait,
    FmpMarketData,
    FmpUnavailable,
    RateLimiter,
    RetryableStatus,
    gics_sector,
    retry_after_seconds,
)
from tests.fixtures.fmp import (
    API_KEY,
    CONSTITUENTS_ONLY,
    LISTED_ONLY_ETFS,
    STOCKS,
    FakeFmp,
    rate_limited,
    server_error,
    slow,
    truncated,
)

SECTOR_ETFS = ["XLK", "XLV", "XLF", "XLY", "XLP", "XLC", "XLI", "XLE", "XLU", "XLRE", "XLB"]


@pytest.fixture
def server():
    with HTTPServer(host="127.0.0.1", port=0, threaded=True) as httpserver:
        yield httpserver


@pytest.fixture
def fake(server) -> FakeFmp:
    fake = FakeFmp.default()
    fake.install(server)
    return fake


@pytest.fixture
def positions_csv(tmp_path):
    path = tmp_path / "positions.csv"
    path.write_text(
        "account,symbol,quantity,cost_basis,currency\n"
        "MAIN,AAPL,10,1500,USD\nMAIN,XLE,20,1800,USD\nMAIN,JNJ,5,800,USD\n"
    )
    return path


def source(server: HTTPServer, positions_csv, **changes) -> FmpMarketData:
    config = {
        "api_key": API_KEY,
        "base_url": server.url_for("/api/v3"),
        "symbols": [*STOCKS, "QQQ"],
        "start_date": "2024-01-02",
        "positions_csv": str(positions_csv),
        "calls_per_minute": 60_000,
        "max_attempts": 3,
        "backoff_seconds": 0.01,
        "max_backoff_seconds": 0.05,
        "timeout_seconds": 5.0,
    }
    return FmpMarketData(**{**config, **changes})


def assert_no_key(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    text = "".join(traceback.format_exception(error))
    assert API_KEY not in text
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug")]
    assert not any(API_KEY in line for line in ours)


# --- pure parts ---------------------------------------------------------------------------


def test_fmp_sectors_map_to_the_eleven_gics_sectors():
    expected = {
        "Technology": "Information Technology",
        "Healthcare": "Health Care",
        "Financial Services": "Financials",
        "Consumer Cyclical": "Consumer Discretionary",
        "Consumer Defensive": "Consumer Staples",
        "Communication Services": "Communication Services",
        "Industrials": "Industrials",
        "Energy": "Energy",
        "Utilities": "Utilities",
        "Real Estate": "Real Estate",
        "Basic Materials": "Materials",
    }
    assert {name: gics_sector(name) for name in expected} == expected
    assert len(set(expected.values())) == 11
    for gics in expected.values():  # sp500_constituent already uses the GICS names
        assert gics_sector(gics) == gics
    assert gics_sector("Conglomerates") is None
    assert gics_sector("technology") is None


def test_retry_after_reads_seconds_and_http_dates():
    now = dt.datetime(2024, 5, 24, 12, 0, 0, tzinfo=dt.UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Fri, 24 May 2024 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Fri, 24 May 2024 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_rate_limiter_spaces_calls_evenly():
    clock = [100.0]
    sleeps: list[float] = []
    limiter = RateLimiter(60, clock=lambda: clock[0], sleep=sleeps.append)
    for _ in range(3):
        limiter.acquire()
    assert sleeps == [1.0, 2.0]
    clock[0] = 110.0  # long after the last slot: no wait
    limiter.acquire()
    assert sleeps == [1.0, 2.0]


def test_backoff_honours_retry_after_else_grows_with_jitter():
    wait = BackoffWait(initial=0.5, maximum=4.0)

    def state(error: BaseException, attempt: int) -> tenacity.RetryCallState:
        retry_state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
        retry_state.attempt_number = attempt
        retry_state.set_exception((type(error), error, None))
        return retry_state

    assert wait(state(RetryableStatus(429, 7.0), 1)) == 7.0
    first = wait(state(RetryableStatus(503, None), 1))
    assert 0.5 <= first <= 1.0
    assert 2.0 <= wait(state(RetryableStatus(503, None), 3)) <= 2.5
    assert wait(state(RetryableStatus(503, None), 30)) == 4.0


# --- the whole source ---------------------------------------------------------------------


def test_load_reads_every_table_in_fmp_shapes(server, fake, positions_csv):
    snapshot = source(server, positions_csv).load()

    instruments = snapshot.instruments.set_index("symbol")
    assert set(instruments.index) == {*STOCKS, "QQQ", "SPY", *SECTOR_ETFS}
    assert instruments.loc["AAPL", "sector"] == "Information Technology"
    assert instruments.loc["LIN", "sector"] == "Materials"
    assert instruments.loc["JNJ", "market_cap"] == STOCKS["JNJ"][2]
    assert instruments.loc["XLK", "asset_type"] == "etf"
    assert pd.isna(instruments.loc["XLK", "sector"])
    assert instruments.loc["MSFT", "asset_type"] == "stock"
    assert (instruments["currency"] == "USD").all()

    prices = snapshot.prices
    aapl = prices.loc[prices["symbol"] == "AAPL"].set_index("date")
    served = {bar["date"]: bar for bar in fake.bars["AAPL"]}
    assert len(aapl) == len(served)
    day = pd.Timestamp("2024-03-28")
    assert aapl.loc[day, "close"] == served["2024-03-28"]["close"]
    assert aapl.loc[day, "adj_close"] == served["2024-03-28"]["adjClose"]
    assert aapl.loc[day, "volume"] == served["2024-03-28"]["volume"]
    assert pd.Timestamp("2024-03-29") not in aapl.index

    bench = snapshot.benchmark_sector_weights.set_index("sector")["weight"]
    caps = {**{s: v for s, v in STOCKS.items()}, **CONSTITUENTS_ONLY}
    total = sum(cap for _fmp, _gics, cap in caps.values())
    tech = sum(cap for _fmp, gics, cap in caps.values() if gics == "Information Technology")
    assert len(bench) == 11
    assert bench["Information Technology"] == pytest.approx(tech / total)
    assert bench.sum() == pytest.approx(1.0)
    assert set(snapshot.benchmark_sector_weights["asof_date"]) == {pd.Timestamp("2024-05-24")}

    holdings = snapshot.etf_holdings
    assert set(holdings["etf"]) == {"SPY", *SECTOR_ETFS}  # not QQQ: not held, not a sector ETF
    xlv = holdings.loc[holdings["etf"] == "XLV"].set_index("symbol")["weight"]
    assert xlv.to_dict() == pytest.approx({"JNJ": 0.60, "NVDA": 0.20})  # percent → fraction
    assert "" not in set(holdings["symbol"])  # the cash row
    assert set(holdings["asof_date"]) == {pd.Timestamp("2024-05-24")}

    assert snapshot.positions["symbol"].tolist() == ["AAPL", "XLE", "JNJ"]


def test_requests_are_batched_keyed_and_limited_to_what_is_needed(server, fake, positions_csv):
    source(server, positions_csv).load()
    price_calls = fake.calls("historical-price-full")
    assert max(len(symbols) for symbols in price_calls) == 5
    assert sorted(s for symbols in price_calls for s in symbols) == sorted(
        {*STOCKS, "QQQ", "SPY", *SECTOR_ETFS}
    )
    profile_calls = fake.calls("profile")
    assert len(profile_calls) == 1  # 28 symbols fit one batch
    assert set(profile_calls[0]) == {*STOCKS, "QQQ", "SPY", *SECTOR_ETFS, *CONSTITUENTS_ONLY}
    assert not set(LISTED_ONLY_ETFS) & {s for symbols in price_calls for s in symbols}
    assert all(args["apikey"] == API_KEY for _endpoint, _symbols, args in fake.requests)
    assert {
        args["from"] for name, _s, args in fake.requests if name == "historical-price-full"
    } == {"2024-01-02"}


def test_429_with_retry_after_is_waited_out_then_retried(server, fake, positions_csv, caplog):
    fake.fail("profile", rate_limited("1"))
    with caplog.at_level(logging.WARNING):
        snapshot = source(server, positions_csv).load()
    assert len(fake.calls("profile")) == 2
    assert "AAPL" in set(snapshot.instruments["symbol"])
    retries = [r.getMessage() for r in caplog.records if "retry 1 in 1.0 s" in r.getMessage()]
    assert retries and "HTTP 429" in retries[0]


def test_500_then_success_is_retried(server, fake, positions_csv):
    fake.fail("historical-price-full", server_error(500), symbol="MSFT")
    fake.fail("etf-holder", server_error(503), symbol="XLK")
    snapshot = source(server, positions_csv).load()
    assert len([c for c in fake.calls("historical-price-full") if "MSFT" in c]) == 2
    assert len(fake.calls("etf-holder")) == 13
    assert "MSFT" in set(snapshot.prices["symbol"])


def test_a_timeout_is_retried(server, fake, positions_csv):
    fake.fail("sp500_constituent", slow(fake, 1.5))
    snapshot = source(server, positions_csv, timeout_seconds=0.3).load()
    assert len(fake.calls("sp500_constituent")) == 2
    assert len(snapshot.benchmark_sector_weights) == 11


def test_retries_give_up_naming_endpoint_and_symbol(server, fake, positions_csv, caplog):
    fake.fail("etf-holder", slow(fake, 1.5), symbol="XLU", times=3)
    with pytest.raises(FmpUnavailable) as caught:
        source(server, positions_csv, timeout_seconds=0.3).load()
    assert str(caught.value) == "FMP etf-holder (XLU): timed out after 3 attempt(s)"
    assert_no_key(caught.value, caplog)

    fake.fail("profile", server_error(502), times=3)
    with pytest.raises(FmpUnavailable, match=r"^FMP profile \(AAPL,.*\): HTTP 502 after 3"):
        source(server, positions_csv).load()


def test_connection_refused_is_retried_then_fails_without_the_key(positions_csv, caplog):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fmp = FmpMarketData(
        api_key=API_KEY,
        base_url=f"http://127.0.0.1:{port}/api/v3",
        symbols=["AAPL"],
        start_date="2024-01-02",
        positions_csv=str(positions_csv),
        max_attempts=2,
        backoff_seconds=0.01,
    )
    with pytest.raises(FmpUnavailable, match="connection failed after 2 attempt"):
        fmp.load()


def test_truncated_json_names_the_endpoint(server, fake, positions_csv, caplog):
    fake.fail("sp500_constituent", truncated(fake))
    with pytest.raises(SourceFormatError) as caught:
        source(server, positions_csv).load()
    assert str(caught.value).startswith("FMP sp500_constituent (all): not valid JSON")
    assert_no_key(caught.value, caplog)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: f.bars["MSFT"][2].update(close="412.5"),
            "FMP historical-price-full (MSFT) row 3, field 'close': input should be a valid "
            "number (got '412.5')",
        ),
        (
            lambda f: f.bars["XOM"][0].pop("adjClose"),
            "FMP historical-price-full (XOM) row 1, field 'adjClose': value is required",
        ),
        (
            lambda f: f.bars["CAT"][4].update(close=-3.0),
            "FMP historical-price-full (CAT) row 5, field 'close': must be > 0 (got '-3.0')",
        ),
        (
            lambda f: f.bars["NEE"][1].update(date="2024/05/23"),
            "FMP historical-price-full (NEE) row 2, field 'date': value error, not a "
            "YYYY-MM-DD date (got '2024/05/23')",
        ),
        (
            lambda f: f.profiles["JPM"].update(mktCap="560B"),
            "FMP profile (JPM), field 'mktCap': input should be a valid number (got '560B')",
        ),
        (
            lambda f: f.profiles["PG"].update(isEtf="false"),
            "FMP profile (PG), field 'isEtf': input should be a valid boolean (got 'false')",
        ),
        (
            lambda f: f.profiles["AMZN"].update(sector="Retail"),
            "FMP profile (AMZN), field 'sector': not an FMP or GICS sector (got 'Retail')",
        ),
        (
            lambda f: f.holdings["XLF"][0].update(weightPercentage=None),
            "FMP etf-holder (XLF) row 1, field 'weightPercentage': input should be a valid "
            "number (got 'None')",
        ),
        (
            lambda f: f.constituents[3].update(sector="Tech"),
            "FMP sp500_constituent (JPM) row 4, field 'sector': not an FMP or GICS sector "
            "(got 'Tech')",
        ),
        (
            lambda f: f.profiles["UNH"].update(mktCap=None),
            "FMP profile (UNH), field 'mktCap': an S&P 500 constituent needs a market cap > 0 "
            "(got 'None')",
        ),
    ],
)
def test_a_malformed_payload_names_endpoint_symbol_and_field(
    server, fake, positions_csv, caplog, change, message
):
    change(fake)
    with pytest.raises(SourceFormatError) as caught:
        source(server, positions_csv).load()
    assert str(caught.value) == message
    assert_no_key(caught.value, caplog)


def test_an_unknown_symbol_or_an_empty_history_is_an_error(server, fake, positions_csv):
    with pytest.raises(SourceFormatError) as caught:
        source(server, positions_csv, symbols=["AAPL", "NOPE"]).load()
    assert str(caught.value) == (
        "FMP profile (NOPE), field 'symbol': unknown symbol: FMP returned no data for it"
    )

    del fake.bars["GOOGL"]  # a profile but no prices
    with pytest.raises(SourceFormatError, match=r"^FMP historical-price-full \(GOOGL\), field"):
        source(server, positions_csv).load()

    fake.bars["GOOGL"] = []
    with pytest.raises(SourceFormatError) as caught:
        source(server, positions_csv).load()
    assert str(caught.value) == (
        "FMP historical-price-full (GOOGL), field 'historical': empty history: no prices from "
        "2024-01-02 on"
    )

    fake.bars["GOOGL"] = fake.bars["AAPL"]
    fake.holdings["XLC"] = []
    with pytest.raises(SourceFormatError, match=r"^FMP etf-holder \(XLC\), field 'asset': no "):
        source(server, positions_csv).load()


def test_a_refused_key_fails_without_retrying_or_echoing_it(server, fake, positions_csv, caplog):
    wrong = "wrong-key-3c9d"
    with pytest.raises(MarketDataError) as caught:
        source(server, positions_csv, api_key=wrong).load()
    assert str(caught.value).startswith("FMP etf/list (all): HTTP 401 Unauthorized")
    assert wrong not in "".join(traceback.format_exception(caught.value))
    assert len(fake.requests) == 1


def test_the_key_comes_from_the_environment_variable_outside_a_run(
    server, fake, positions_csv, monkeypatch
):
    monkeypatch.setenv("FMP_API_KEY", API_KEY)
    fmp = source(server, positions_csv, api_key=dg.EnvVar("FMP_API_KEY"))
    assert fmp.latest_date() == dt.date(2024, 5, 24)
    assert API_KEY not in fmp.label


def test_bad_rows_of_the_positions_file_name_file_line_and_field(server, fake, tmp_path):
    path = tmp_path / "positions.csv"
    path.write_text("account,symbol,quantity,cost_basis,currency\nMAIN,AAPL,abc,1,USD\n")
    with pytest.raises(SourceFormatError, match=r"positions.csv line 2, field 'quantity'"):
        source(server, path).load()
    assert fake.requests == []  # the file is read before any call
