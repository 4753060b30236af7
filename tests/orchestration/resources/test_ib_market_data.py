"""The IB market-data source against the project's fake gateway (tests/support_ib.py): the
pacing gate on a fake clock, IB's classification mapped to GICS sectors, bars and contract
details validated, the bar cache (a re-run asks only for new days), pacing violations (error
162) retried and then given up, and a disconnect in the middle. Nothing here sleeps: the
loader's clock and sleep are fakes that only move time forward."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pandas as pd
import pytest

from orchestration import market_calendar
from orchestration.definitions import build_market_data
from orchestration.defs.market_data.validation import SourceFormatError
from orchestration.resources.broker import BrokerDisconnected, BrokerError
from orchestration.resources.ib_market_data import (
    IB_CATEGORY_SECTORS,
    IB_INDUSTRY_SECTORS,
    IB_SUBCATEGORY_SECTORS,
    BarCache,
    IbHistoricalData,
    IbMarketData,
    UnknownIndustry,
    duration,
    gics_sector,
    last_settled_session,
)
from orchestration.resources.ib_pacing import PacingGate
from orchestration.settings import SettingsError, load_settings
from tests.support_ib import (
    DIVIDEND_FACTOR,
    EX_DIVIDEND,
    HISTORY_ETFS,
    HISTORY_STOCKS,
    Classification,
    FakeGateway,
    HistoryRequest,
    history_bars,
    history_gateway,
)

GICS = (
    "Information Technology",
    "Health Care",
    "Financials",
    "Consumer Discretionary",
    "Communication Services",
    "Industrials",
    "Consumer Staples",
    "Energy",
    "Utilities",
    "Real Estate",
    "Materials",
)
START = dt.date(2024, 1, 2)
END = dt.date(2024, 5, 24)  # a Friday; Memorial Day is Monday 2024-05-27
NEXT = dt.date(2024, 5, 29)
SYMBOLS = [*HISTORY_STOCKS, *HISTORY_ETFS]


def _sessions(first: dt.date, last: dt.date) -> list[dt.date]:
    return [stamp.date() for stamp in market_calendar.sessions(first, last)]


def _evening(day: dt.date) -> dt.datetime:
    """18:00 in New York (22:00 UTC in summer time): the day's bar is final."""
    return dt.datetime(day.year, day.month, day.day, 22, 0, tzinfo=dt.UTC)


class FakeTime:
    """A monotonic clock that moves only when the loader sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _loader(gateway: FakeGateway, tmp_path, time: FakeTime, day: dt.date, **options):
    gateway.clock = time
    return IbHistoricalData(
        host="127.0.0.1",
        port=4002,
        client_id=13,
        cache=BarCache(tmp_path / "ib_bars"),
        client_factory=gateway.client,
        clock=time,
        sleep=time.sleep,
        now=lambda: _evening(day),
        **options,
    )


def pacing_breaches(requests: list[HistoryRequest]) -> list[str]:
    """IB's pacing rules checked on what the gateway received (an oracle independent of the
    gate): identical requests 15 s apart, at most 60 in any 600 s, at most 5 per contract in
    any 2 s (six is a violation)."""
    breaches = []
    for index, request in enumerate(requests):
        for earlier in requests[:index]:
            same = (earlier.con_id, earlier.what_to_show, earlier.end, earlier.duration) == (
                request.con_id,
                request.what_to_show,
                request.end,
                request.duration,
            )
            if same and request.time - earlier.time < 15.0:
                breaches.append(f"identical request {index} within 15 s")
        window = [r for r in requests[: index + 1] if r.time > request.time - 600.0]
        if len(window) > 60:
            breaches.append(f"request {index}: {len(window)} in 10 minutes")
        contract = [
            r
            for r in requests[: index + 1]
            if r.con_id == request.con_id and r.time > request.time - 2.0
        ]
        if len(contract) > 5:
            breaches.append(f"request {index}: {len(contract)} for one contract in 2 s")
    return breaches


# ------------------------------------------------------------------------- pacing gate


def test_pacing_gate_spaces_identical_requests_15_seconds():
    time = FakeTime()
    gate = PacingGate(time)
    gate.record("req", "AAPL")
    time.now = 10.0
    assert gate.delay("req", "AAPL") == pytest.approx(5.0)
    assert gate.delay("other", "AAPL") == 0.0
    time.now = 15.0
    assert gate.delay("req", "AAPL") == 0.0


def test_pacing_gate_allows_60_requests_in_ten_minutes():
    time = FakeTime()
    gate = PacingGate(time)
    for number in range(60):
        time.now = 10.0 * number  # requests at 0, 10, …, 590 s
        assert gate.delay(f"r{number}", f"c{number}") == 0.0
        gate.record(f"r{number}", f"c{number}")
    time.now = 595.0
    # the 61st may go once the first (at 0 s) is 600 s old
    assert gate.delay("r60", "c60") == pytest.approx(5.0)
    time.now = 600.0
    assert gate.delay("r60", "c60") == 0.0
    gate.record("r60", "c60")
    assert gate.delay("r61", "c61") == pytest.approx(10.0)  # the second was sent at 10 s


def test_pacing_gate_allows_five_requests_per_contract_in_two_seconds():
    time = FakeTime()
    gate = PacingGate(time)
    for number in range(5):
        time.now = 0.1 * number
        assert gate.delay(f"r{number}", "AAPL") == 0.0
        gate.record(f"r{number}", "AAPL")
    time.now = 0.5
    assert gate.delay("r5", "AAPL") == pytest.approx(1.5)  # first at 0.0 s + 2 s
    assert gate.delay("r5", "MSFT") == 0.0
    time.now = 2.0
    assert gate.delay("r5", "AAPL") == 0.0


def test_pacing_gate_hold_blocks_every_request():
    time = FakeTime()
    gate = PacingGate(time)
    time.now = 100.0
    gate.hold(30.0)
    assert gate.delay("anything", "X") == pytest.approx(30.0)
    gate.hold(5.0)  # a shorter hold never shortens the longer one
    assert gate.delay("anything", "X") == pytest.approx(30.0)
    time.now = 130.0
    assert gate.delay("anything", "X") == 0.0


# ---------------------------------------------------------------------------- mapping


@pytest.mark.parametrize(
    ("industry", "category", "subcategory", "sector"),
    [
        # IB's classification of well-known companies -> their GICS sector (S&P / MSCI)
        ("Technology", "Computers", "Computers", "Information Technology"),  # AAPL
        ("Technology", "Software", "Applications Software", "Information Technology"),  # MSFT
        ("Technology", "Semiconductors", "Electronic Compo-Semicon", "Information Technology"),
        ("Technology", "Software", "Entertainment Software", "Communication Services"),  # EA
        ("Communications", "Internet", "Web Portals/ISP", "Communication Services"),  # GOOGL
        ("Communications", "Internet", "E-Commerce/Products", "Consumer Discretionary"),  # AMZN
        ("Communications", "Internet", "E-Commerce/Services", "Consumer Discretionary"),  # BKNG
        ("Communications", "Telecommunications", "Networking Products", "Information Technology"),
        ("Communications", "Media", "Multimedia", "Communication Services"),  # DIS
        ("Financial", "Banks", "Diversified Banking Inst", "Financials"),  # JPM
        ("Financial", "Insurance", "Reinsurance", "Financials"),  # BRK
        ("Financial", "REITS", "REITS-Diversified", "Real Estate"),  # AMT
        ("Consumer, Non-cyclical", "Pharmaceuticals", "Medical-Drugs", "Health Care"),  # JNJ
        ("Consumer, Non-cyclical", "Healthcare-Services", "Medical-HMO", "Health Care"),  # UNH
        ("Consumer, Non-cyclical", "Biotechnology", "Medical-Biomedical/Gene", "Health Care"),
        ("Consumer, Non-cyclical", "Beverages", "Beverages-Non-alcoholic", "Consumer Staples"),
        (
            "Consumer, Non-cyclical",
            "Cosmetics/Personal Care",
            "Cosmetics&Toiletries",
            "Consumer Staples",
        ),
        ("Consumer, Cyclical", "Retail", "Retail-Discount", "Consumer Staples"),  # WMT
        ("Consumer, Cyclical", "Retail", "Retail-Building Products", "Consumer Discretionary"),
        (
            "Consumer, Cyclical",
            "Auto Manufacturers",
            "Auto-Cars/Light Trucks",
            "Consumer Discretionary",
        ),
        ("Consumer, Cyclical", "Airlines", "Airlines", "Industrials"),  # DAL
        ("Energy", "Oil&Gas", "Oil Comp-Integrated", "Energy"),  # XOM
        ("Basic Materials", "Chemicals", "Chemicals-Diversified", "Materials"),  # LIN
        ("Utilities", "Electric", "Electric-Integrated", "Utilities"),  # NEE
        ("Industrial", "Machinery-Constr&Mining", "Machinery-Constr&Mining", "Industrials"),
        ("Industrial", "Electronics", "Electronic Connectors", "Information Technology"),  # APH
        ("Industrial", "Packaging&Containers", "Containers-Metal/Glass", "Materials"),  # BALL
        ("Diversified", "Holding Companies-Divers", "Diversified Operations", "Industrials"),
    ],
)
def test_ib_classification_maps_to_the_companies_gics_sector(
    industry, category, subcategory, sector
):
    assert gics_sector(industry, category, subcategory) == sector


def test_classification_without_a_gics_sector_and_unknown_industries():
    assert gics_sector("") is None
    assert gics_sector("Funds", "Equity Fund", "") is None
    with pytest.raises(UnknownIndustry):
        gics_sector("Crypto", "Coins", "")


def test_mapping_tables_name_only_gics_sectors_and_known_industries():
    assert set(IB_INDUSTRY_SECTORS.values()) - {None} <= set(GICS)
    assert set(IB_CATEGORY_SECTORS.values()) <= set(GICS)
    assert set(IB_SUBCATEGORY_SECTORS.values()) <= set(GICS)
    assert {key[0] for key in IB_CATEGORY_SECTORS} <= set(IB_INDUSTRY_SECTORS)
    assert {key[0] for key in IB_SUBCATEGORY_SECTORS} <= set(IB_INDUSTRY_SECTORS)
    # every GICS sector is reachable
    reachable = {
        *IB_INDUSTRY_SECTORS.values(),
        *IB_CATEGORY_SECTORS.values(),
        *IB_SUBCATEGORY_SECTORS.values(),
    }
    assert set(GICS) <= reachable


def test_duration_and_settled_session():
    assert duration(dt.date(2024, 5, 24), dt.date(2024, 5, 29)) == "6 D"
    assert duration(dt.date(2024, 1, 1), dt.date(2024, 12, 30)) == "365 D"
    assert duration(dt.date(2024, 1, 1), dt.date(2024, 12, 31)) == "2 Y"
    # Friday 2024-05-24: before 17:00 New York time the session is not settled
    assert last_settled_session(dt.datetime(2024, 5, 24, 20, 0, tzinfo=dt.UTC)) == dt.date(
        2024, 5, 23
    )
    assert last_settled_session(_evening(END)) == END
    # Memorial Day (a holiday) and the weekend before it fall back to Friday
    assert last_settled_session(_evening(dt.date(2024, 5, 27))) == END


# ------------------------------------------------------------------------------ loading


def _assert_bars(prices, gateway: FakeGateway, symbol: str, first: dt.date, last: dt.date):
    """The stored bars of ``symbol`` are the gateway's raw bars, with the raw close times the
    bar's adjustment factor as ``adj_close``."""
    expected = pd.DataFrame(
        [
            (bar.date, bar.open, bar.high, bar.low, bar.close, bar.close * bar.factor, bar.volume)
            for bar in gateway.daily_bars[symbol]
            if first <= bar.date <= last
        ],
        columns=["date", "open", "high", "low", "close", "adj_close", "volume"],
    )
    frame = prices.loc[prices["symbol"] == symbol].sort_values("date")
    actual = frame[expected.columns].reset_index(drop=True)
    actual["date"] = actual["date"].dt.date
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False)


def test_normal_ingest_reads_contracts_and_bars(tmp_path):
    gateway = history_gateway(_sessions(START, END))
    time = FakeTime()
    result = _loader(gateway, tmp_path, time, END).load(SYMBOLS, START, END)

    for symbol in SYMBOLS:
        _assert_bars(result.prices, gateway, symbol, START, END)
    before = result.prices.loc[
        (result.prices["symbol"] == "AAPL") & (result.prices["date"].dt.date < EX_DIVIDEND)
    ]
    assert (before["adj_close"] / before["close"]).to_numpy() == pytest.approx(DIVIDEND_FACTOR)
    instruments = result.instruments.set_index("symbol")
    assert instruments.loc["AAPL", "sector"] == "Information Technology"
    assert instruments.loc["AAPL", "industry"] == "Computers"
    assert instruments.loc["AAPL", "name"] == "APPLE INC"
    assert instruments.loc["JNJ", "sector"] == "Health Care"
    assert instruments.loc["AMZN", "sector"] == "Consumer Discretionary"
    assert instruments.loc["XLK", "asset_type"] == "etf"
    assert pd.isna(instruments.loc["XLK", "sector"])
    assert set(instruments["currency"]) == {"USD"}

    requests = gateway.history_requests
    assert len(requests) == 2 * len(SYMBOLS)  # TRADES and ADJUSTED_LAST per symbol
    days = (END - START).days + 1
    for request in requests:
        assert request.bar_size == "1 day"
        assert request.use_rth is True
        assert request.duration == f"{days} D"
        if request.what_to_show == "ADJUSTED_LAST":
            assert request.end == ""  # IB takes no end for adjusted bars
        else:
            assert request.what_to_show == "TRADES"
            assert request.end == "20240524 23:59:59 US/Eastern"
    assert pacing_breaches(requests) == []
    assert time.sleeps == []  # 32 requests, two per contract: nothing to wait for
    assert gateway.connections[0]["client_id"] == 13
    assert gateway.connections[0]["readonly"] is True
    assert not gateway.client_ids_in_use  # disconnected afterwards


def test_a_rerun_asks_only_for_the_new_days(tmp_path):
    gateway = history_gateway(_sessions(START, NEXT))
    gateway.history_today = END
    first = _loader(gateway, tmp_path, FakeTime(), END).load(SYMBOLS, START, END)
    for entry in first.cache_entries:
        BarCache(tmp_path / "ib_bars").write(entry)

    gateway.history_requests.clear()
    gateway.history_today = NEXT
    second = _loader(gateway, tmp_path, FakeTime(), NEXT).load(SYMBOLS, START, NEXT)
    # the last cached session (Friday 05-24) is asked again, through Wednesday 05-29
    assert len(gateway.history_requests) == 2 * len(SYMBOLS)
    assert {r.duration for r in gateway.history_requests} == {"6 D"}
    for symbol in SYMBOLS:
        _assert_bars(second.prices, gateway, symbol, START, NEXT)
    for entry in second.cache_entries:
        BarCache(tmp_path / "ib_bars").write(entry)

    gateway.history_requests.clear()
    third = _loader(gateway, tmp_path, FakeTime(), NEXT).load(SYMBOLS, START, NEXT)
    assert gateway.history_requests == []  # everything is cached
    assert third.cache_entries == []
    _assert_bars(third.prices, gateway, "JPM", START, NEXT)


def test_a_new_dividend_requests_the_whole_history_again(tmp_path):
    gateway = history_gateway(_sessions(START, NEXT))
    gateway.history_today = END
    first = _loader(gateway, tmp_path, FakeTime(), END).load(SYMBOLS, START, END)
    for entry in first.cache_entries:
        BarCache(tmp_path / "ib_bars").write(entry)

    # JPM goes ex-dividend on 05-28: IB's adjusted history before it moves by 0.99
    gateway.daily_bars["JPM"] = [
        replace(bar, factor=bar.factor * 0.99) if bar.date < dt.date(2024, 5, 28) else bar
        for bar in gateway.daily_bars["JPM"]
    ]
    gateway.history_requests.clear()
    gateway.history_today = NEXT
    second = _loader(gateway, tmp_path, FakeTime(), NEXT).load(SYMBOLS, START, NEXT)
    jpm = [r.duration for r in gateway.history_requests if r.symbol == "JPM"]
    assert jpm == ["6 D", "6 D", f"{(NEXT - START).days + 1} D", f"{(NEXT - START).days + 1} D"]
    _assert_bars(second.prices, gateway, "JPM", START, NEXT)
    march = second.prices.loc[
        (second.prices["symbol"] == "JPM") & (second.prices["date"] == "2024-03-01")
    ].iloc[0]
    assert march["adj_close"] == pytest.approx(march["close"] * DIVIDEND_FACTOR * 0.99)


def test_pacing_is_kept_over_60_requests(tmp_path):
    stocks = {f"S{number:02d}": Classification(f"STOCK {number}", "Energy") for number in range(24)}
    gateway = history_gateway(_sessions(START, END), stocks)
    symbols = [*stocks, *HISTORY_ETFS]  # 36 symbols, 72 requests
    time = FakeTime()
    _loader(gateway, tmp_path, time, END).load(symbols, START, END)
    requests = gateway.history_requests
    assert len(requests) == 72
    assert pacing_breaches(requests) == []
    assert [r.time for r in requests[:60]] == [0.0] * 60
    assert min(r.time for r in requests[60:]) == pytest.approx(600.0)


def test_a_pacing_violation_backs_off_and_retries(tmp_path):
    gateway = history_gateway(_sessions(START, END))
    gateway.pacing_violations["JPM"] = 2
    time = FakeTime()
    result = _loader(gateway, tmp_path, time, END, backoff_seconds=20.0).load(SYMBOLS, START, END)
    jpm = [r for r in gateway.history_requests if r.symbol == "JPM"]
    assert [r.what_to_show for r in jpm] == ["TRADES", "TRADES", "TRADES", "ADJUSTED_LAST"]
    # held 20 s after the first violation, 40 s after the second
    assert jpm[1].time - jpm[0].time == pytest.approx(20.0)
    assert jpm[2].time - jpm[1].time == pytest.approx(40.0)
    assert pacing_breaches(gateway.history_requests) == []
    _assert_bars(result.prices, gateway, "JPM", START, END)


def test_a_retry_never_repeats_an_identical_request_within_15_seconds(tmp_path):
    gateway = history_gateway(_sessions(START, END))
    gateway.pacing_violations["AAPL"] = 1
    time = FakeTime()
    _loader(gateway, tmp_path, time, END, backoff_seconds=5.0).load(["AAPL"], START, END)
    first, retry = (r for r in gateway.history_requests if r.what_to_show == "TRADES")
    assert retry.time - first.time == pytest.approx(15.0)  # the hold (5 s) is not enough


def test_a_persisting_pacing_violation_fails_naming_the_symbol(tmp_path):
    gateway = history_gateway(_sessions(START, END))
    gateway.pacing_violations["JNJ"] = 99
    loader = _loader(gateway, tmp_path, FakeTime(), END, max_attempts=3, backoff_seconds=20.0)
    with pytest.raises(BrokerError, match=r"\(JNJ, TRADES, .*pacing violation.*3 attempts"):
        loader.load(SYMBOLS, START, END)
    assert [r.symbol for r in gateway.history_requests].count("JNJ") == 3
    assert not (tmp_path / "ib_bars").exists()
    assert not gateway.client_ids_in_use


def test_a_disconnect_in_the_middle_fails_naming_the_symbol_reached(tmp_path):
    gateway = history_gateway(_sessions(START, END))
    gateway.drop_on_history_request = 5  # the first request of the third symbol
    loader = _loader(gateway, tmp_path, FakeTime(), END)
    with pytest.raises(BrokerDisconnected) as failure:
        loader.load(SYMBOLS, START, END)
    message = str(failure.value)
    assert f"{SYMBOLS[2]} (symbol 3 of {len(SYMBOLS)})" in message
    assert "wrote nothing" in message
    assert len(gateway.history_requests) == 5
    assert not (tmp_path / "ib_bars").exists()


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            lambda g: g.daily_bars.__setitem__("JPM", []),
            "IB historical data (JPM, TRADES), field 'bars': empty",
        ),
        (
            lambda g: g.daily_bars["AAPL"].__setitem__(
                3, replace(g.daily_bars["AAPL"][3], close=0.0)
            ),
            "IB historical data (AAPL, TRADES) bar 4, field 'close': must be a number > 0 "
            "(got '0.0')",
        ),
        (
            lambda g: g.daily_bars["AMZN"].__setitem__(
                1, replace(g.daily_bars["AMZN"][1], low=-1.0)
            ),
            "IB historical data (AMZN, TRADES) bar 2, field 'low': must be a number > 0",
        ),
        (
            lambda g: g.daily_bars["JNJ"].reverse(),
            "IB historical data (JNJ, TRADES) bar 2, field 'date': dates out of order: "
            "2024-05-23 follows 2024-05-24",
        ),
        (
            lambda g: g.daily_bars["XLE"].__setitem__(
                0, replace(g.daily_bars["XLE"][0], volume=-5.0)
            ),
            "IB historical data (XLE, TRADES) bar 1, field 'volume': must be a number >= 0",
        ),
        (
            lambda g: g.classifications.__setitem__(
                "AAPL", Classification("APPLE INC", "Crypto", "Coins")
            ),
            "IB contract details (AAPL), field 'industry': not an IB industry the GICS "
            "mapping knows (got 'Crypto')",
        ),
        (
            lambda g: g.classifications.pop("JPM"),
            "IB contract details (JPM), field 'symbol': unknown symbol",
        ),
    ],
)
def test_every_answer_is_validated_naming_symbol_and_field(tmp_path, fault, message):
    gateway = history_gateway(_sessions(START, END))
    fault(gateway)
    with pytest.raises(SourceFormatError) as failure:
        _loader(gateway, tmp_path, FakeTime(), END).load(SYMBOLS, START, END)
    assert message in str(failure.value)


def test_an_unreadable_cache_file_is_requested_in_full(tmp_path):
    gateway = history_gateway(_sessions(START, END))
    cache = tmp_path / "ib_bars"
    cache.mkdir()
    (cache / "AAPL.json").write_text("{not json")
    (cache / "JPM.json").write_text(json.dumps({"version": 1, "symbol": "JPM"}))
    result = _loader(gateway, tmp_path, FakeTime(), END).load(["AAPL", "JPM"], START, END)
    assert len(gateway.history_requests) == 4
    assert {entry.symbol for entry in result.cache_entries} == {"AAPL", "JPM"}


def test_cache_round_trip_keeps_bars_exactly(tmp_path):
    gateway = history_gateway(_sessions(START, END))
    result = _loader(gateway, tmp_path, FakeTime(), END).load(["AAPL"], START, END)
    cache = BarCache(tmp_path / "ib_bars")
    (entry,) = result.cache_entries
    cache.write(entry)
    read = cache.read("AAPL")
    assert read is not None
    assert (read.con_id, read.requested_from) == (entry.con_id, START)
    assert read.bars.equals(entry.bars)


def test_bars_of_a_new_contract_id_are_not_reused(tmp_path):
    gateway = history_gateway(_sessions(START, END))
    first = _loader(gateway, tmp_path, FakeTime(), END).load(["AAPL"], START, END)
    BarCache(tmp_path / "ib_bars").write(first.cache_entries[0])
    listing = gateway.listings["AAPL"]
    gateway.listings["AAPL"] = replace(listing, con_id=listing.con_id + 1)
    gateway.daily_bars["AAPL"] = history_bars("AAPL", _sessions(START, END), factor=0.5)
    gateway.history_requests.clear()
    second = _loader(gateway, tmp_path, FakeTime(), END).load(["AAPL"], START, END)
    assert len(gateway.history_requests) == 2
    _assert_bars(second.prices, gateway, "AAPL", START, END)


# ------------------------------------------------------------------------------ settings


def test_settings_select_the_ib_source_on_its_own_client_id(tmp_path):
    positions = tmp_path / "positions.csv"
    positions.write_text("account,symbol,quantity,cost_basis,currency\nMAIN,AAPL,5,900,USD\n")
    settings = load_settings(
        {
            "PORTFOLIO_HOME": str(tmp_path),
            "PORTFOLIO_MARKET_DATA": "ib",
            "PORTFOLIO_IB_SYMBOLS": "AAPL,BRK-B",
            "PORTFOLIO_IB_POSITIONS_CSV": str(positions),
            "IB_HOST": "gateway",
            "IB_PORT": "4001",
            "IB_MARKET_DATA_CLIENT_ID": "31",
        }
    )
    source = build_market_data(settings)
    assert isinstance(source, IbMarketData)
    assert (source.host, source.port, source.client_id) == ("gateway", 4001, 31)
    assert source.symbols == ["AAPL", "BRK-B"]
    assert source.positions_csv == str(positions)
    assert source.cache_dir == str(tmp_path / "ib_bars")
    assert source.start_date == settings.start_date.isoformat()
    defaults = load_settings({"PORTFOLIO_HOME": str(tmp_path)}).ib
    assert defaults.market_data_client_id not in (defaults.client_id, defaults.readonly_client_id)


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"IB_MARKET_DATA_CLIENT_ID": "11"}, "IB_MARKET_DATA_CLIENT_ID=11 must differ"),
        ({"IB_MARKET_DATA_CLIENT_ID": "12"}, "IB_MARKET_DATA_CLIENT_ID=12 must differ"),
        (
            {"PORTFOLIO_IB_POSITIONS_CSV": ""},
            "PORTFOLIO_MARKET_DATA=ib needs PORTFOLIO_IB_POSITIONS",
        ),
        ({"PORTFOLIO_IB_POSITIONS_CSV": "/no/such.csv"}, "is not a file"),
        ({"PORTFOLIO_IB_SYMBOLS": "AAPL,msft"}, "PORTFOLIO_IB_SYMBOLS has 'msft'"),
    ],
)
def test_invalid_ib_market_data_settings_name_the_variable(tmp_path, env, match):
    positions = tmp_path / "positions.csv"
    positions.write_text("account,symbol,quantity,cost_basis,currency\n")
    base = {
        "PORTFOLIO_HOME": str(tmp_path),
        "PORTFOLIO_MARKET_DATA": "ib",
        "PORTFOLIO_IB_POSITIONS_CSV": str(positions),
    }
    with pytest.raises(SettingsError, match=match):
        load_settings({**base, **env})


def test_broker_positions_need_no_positions_file(tmp_path):
    settings = load_settings(
        {
            "PORTFOLIO_HOME": str(tmp_path),
            "PORTFOLIO_MARKET_DATA": "ib",
            "PORTFOLIO_POSITIONS_SOURCE": "broker",
        }
    )
    assert settings.ib_market_data.positions_csv is None


def test_a_client_id_in_use_fails_naming_it(tmp_path):
    gateway = history_gateway(_sessions(START, END))
    gateway.client_ids_in_use.add(13)
    loader = _loader(gateway, tmp_path, FakeTime(), END, connect_timeout=0.5, request_timeout=0.5)
    with pytest.raises(BrokerError, match=r"client id 13 free\?\) \(IB error 326"):
        loader.load(["AAPL"], START, END)
    assert gateway.history_requests == []
