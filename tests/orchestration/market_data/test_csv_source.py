"""CSV market-data files: the real fixtures parse; malformed files name file, line and field."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from orchestration.defs.market_data import csv_source as market_csv
from orchestration.defs.market_data.csv_source import CsvFormatError
from tests.support import LEAN_DIR, PYPFOPT_DIR, require_dir

PRICES_HEADER = "date,symbol,open,high,low,close,adj_close,volume\n"
GOOD_PRICES = (
    "2024-01-02,AAA,10,11,9.5,10.5,10.4,1000\n"
    "2024-01-02,BBB,,,,20,,\n"
    "2024-01-03,AAA,10.5,11.5,10,11,10.9,1200\n"
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_prices_parse_with_types(tmp_path):
    frame = market_csv.read_prices(_write(tmp_path, "prices.csv", PRICES_HEADER + GOOD_PRICES))
    assert len(frame) == 3
    assert frame["date"].dtype.kind == "M"
    assert frame["close"].tolist() == [10.5, 20.0, 11.0]
    assert np.isnan(frame["adj_close"].iloc[1])
    assert frame["volume"].iloc[0] == 1000
    assert pd.isna(frame["volume"].iloc[1])


@pytest.mark.parametrize(
    ("row", "line", "field", "problem"),
    [
        ("2024-01-04,AAA,1,1,1,0,1,1\n", 5, "close", "must be > 0"),
        ("2024-01-04,AAA,1,1,1,-2,1,1\n", 5, "close", "must be > 0"),
        ("2024-01-04,AAA,1,1,1,abc,1,1\n", 5, "close", "not a number"),
        ("2024-01-04,AAA,1,1,1,,1,1\n", 5, "close", "value is required"),
        ("2024/01/04,AAA,1,1,1,1,1,1\n", 5, "date", "not an ISO date"),
        ("2024-02-30,AAA,1,1,1,1,1,1\n", 5, "date", "not an ISO date"),
        ("2024-01-04,aaa,1,1,1,1,1,1\n", 5, "symbol", "not an uppercase ticker"),
        ("2024-01-04,AAA,1,1,1,1,1,1.5\n", 5, "volume", "not an integer"),
        ("2024-01-04,AAA,1,1,1,1,1,-3\n", 5, "volume", "must be >= 0"),
        ("2024-01-04,AAA,1,1,2,1,1,1\n", 5, "low", "low 2.0 is above high 1.0"),
        ("2024-01-04,AAA,1,1,1,1,inf,1\n", 5, "adj_close", "not a number"),
        ("2024-01-02,AAA,1,1,1,1,1,1\n", 5, "symbol", "duplicate key.*first seen on line 2"),
        (
            "2024-01-15,AAA,1,1,1,1,1,1\n",
            5,
            "date",
            r"not a trading session: 2024-01-15 is an NYSE holiday \(Dr. Martin Luther King",
        ),
        (
            "2024-07-04,AAA,1,1,1,1,1,1\n",
            5,
            "date",
            r"not a trading session: 2024-07-04 is an NYSE holiday",
        ),
        (
            "2024-01-06,AAA,1,1,1,1,1,1\n",
            5,
            "date",
            r"not a trading session: 2024-01-06 is a weekend day \(Saturday\)",
        ),
        ("1950-01-03,AAA,1,1,1,1,1,1\n", 5, "date", "outside the NYSE calendar"),
    ],
)
def test_malformed_price_rows_name_file_line_and_field(tmp_path, row, line, field, problem):
    path = _write(tmp_path, "prices.csv", PRICES_HEADER + GOOD_PRICES + row)
    with pytest.raises(
        CsvFormatError, match=rf"prices.csv line {line}, field '{field}': {problem}"
    ) as info:
        market_csv.read_prices(path)
    assert (info.value.line, info.value.field, info.value.path) == (line, field, path)


def test_header_problems(tmp_path):
    path = _write(tmp_path, "prices.csv", "date,symbol,close,adj,volume\n")
    with pytest.raises(CsvFormatError, match="line 1, field 'adj': unknown column"):
        market_csv.read_prices(path)
    path = _write(tmp_path, "prices.csv", "date,symbol,open,high,low,adj_close,volume\n")
    with pytest.raises(CsvFormatError, match="line 1, field 'close': required column missing"):
        market_csv.read_prices(path)
    with pytest.raises(CsvFormatError, match="file is empty"):
        market_csv.read_prices(_write(tmp_path, "prices.csv", ""))
    with pytest.raises(CsvFormatError, match="file not found"):
        market_csv.read_prices(tmp_path / "nope.csv")


def test_instruments_validation(tmp_path):
    header = "symbol,name,sector,industry,market_cap,asset_type,currency\n"
    good = "AAA,A Inc,Information Technology,Software,1000,stock,USD\nSPY,,,,,etf,USD\n"
    frame = market_csv.read_instruments(_write(tmp_path, "instruments.csv", header + good))
    assert frame["sector"].tolist()[0] == "Information Technology"
    assert frame["sector"].isna().tolist() == [False, True]
    for row, field in [
        ("CCC,C,Tech,,,stock,USD\n", "sector"),
        ("CCC,C,,,,bond,USD\n", "asset_type"),
        ("CCC,C,,,-5,stock,USD\n", "market_cap"),
        ("CCC,C,,,,stock,usd\n", "currency"),
        ("AAA,C,,,,stock,USD\n", "symbol"),
    ]:
        path = _write(tmp_path, "instruments.csv", header + good + row)
        with pytest.raises(CsvFormatError, match=f"line 4, field '{field}'"):
            market_csv.read_instruments(path)


def test_benchmark_weights_must_sum_to_one(tmp_path):
    header = "benchmark,asof_date,sector,weight\n"
    rows = "SP500,2024-01-02,Energy,0.4\nSP500,2024-01-02,Financials,0.5\n"
    with pytest.raises(CsvFormatError, match=r"line 2, field 'weight'.*sum to 0.900000"):
        market_csv.read_benchmark_sector_weights(_write(tmp_path, "b.csv", header + rows))
    ok = "SP500,2024-01-02,Energy,0.4\nSP500,2024-01-02,Financials,0.6\n"
    frame = market_csv.read_benchmark_sector_weights(_write(tmp_path, "b.csv", header + ok))
    assert frame["weight"].sum() == pytest.approx(1.0)
    assert market_csv.read_benchmark_sector_weights(_write(tmp_path, "e.csv", header)).empty


def test_etf_holdings_and_positions_validation(tmp_path):
    header = "etf,asof_date,symbol,weight\n"
    too_much = "XLK,2024-01-02,AAA,0.7\nXLK,2024-01-02,BBB,0.4\n"
    with pytest.raises(CsvFormatError, match="sum to at most 1"):
        market_csv.read_etf_holdings(_write(tmp_path, "h.csv", header + too_much))
    zero = "XLK,2024-01-02,AAA,0\n"
    with pytest.raises(CsvFormatError, match="line 2, field 'weight': must be > 0"):
        market_csv.read_etf_holdings(_write(tmp_path, "h.csv", header + zero))
    pos_header = "account,symbol,quantity,cost_basis,currency\n"
    with pytest.raises(CsvFormatError, match="line 2, field 'quantity': must not be 0"):
        market_csv.read_positions(_write(tmp_path, "p.csv", pos_header + "DEMO,AAA,0,,USD\n"))
    frame = market_csv.read_positions(_write(tmp_path, "p.csv", pos_header + "DEMO,AAA,-5,,USD\n"))
    assert frame["quantity"].iloc[0] == -5


@pytest.mark.realdata
@pytest.mark.parametrize("directory", [LEAN_DIR, PYPFOPT_DIR], ids=["lean", "pypfopt"])
def test_real_fixtures_parse_completely(directory):
    require_dir(directory)
    prices = market_csv.read_prices(directory / "prices.csv")
    raw = pd.read_csv(directory / "prices.csv")
    assert len(prices) == len(raw)
    np.testing.assert_array_equal(prices["close"].to_numpy(), raw["close"].to_numpy())
    instruments = market_csv.read_instruments(directory / "instruments.csv")
    assert set(instruments["symbol"]) == set(prices["symbol"])
    market_csv.read_benchmark_sector_weights(directory / "benchmark_sector_weights.csv")
    market_csv.read_etf_holdings(directory / "etf_holdings.csv")
    positions = market_csv.read_positions(directory / "positions.csv")
    assert set(positions["symbol"]) <= set(prices["symbol"])


def test_instruments_may_carry_category_and_expense_ratio(tmp_path):
    path = tmp_path / "instruments.csv"
    path.write_text(
        "symbol,name,sector,industry,market_cap,asset_type,currency,category,expense_ratio\n"
        "AAA,A fund,,,,etf,USD,US Large Cap,0.0009\n"
        "BBB,B corp,Energy,Oil,1e9,stock,USD,,\n"
    )
    frame = market_csv.read_instruments(path)
    assert frame["category"].iloc[0] == "US Large Cap" and pd.isna(frame["category"].iloc[1])
    assert frame["expense_ratio"].iloc[0] == 0.0009 and pd.isna(frame["expense_ratio"].iloc[1])
    old = tmp_path / "old" / "instruments.csv"
    old.parent.mkdir()
    old.write_text(
        "symbol,name,sector,industry,market_cap,asset_type,currency\nAAA,A fund,,,,etf,USD\n"
    )
    legacy = market_csv.read_instruments(old)
    assert legacy["category"].isna().all() and legacy["expense_ratio"].isna().all()
    path.write_text(
        "symbol,name,sector,industry,market_cap,asset_type,currency,expense_ratio\n"
        "AAA,A fund,,,,etf,USD,1.5\n"
    )
    with pytest.raises(CsvFormatError, match=r"line 2, field 'expense_ratio'"):
        market_csv.read_instruments(path)
