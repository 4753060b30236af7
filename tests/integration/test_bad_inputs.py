"""Bad inputs and faults through the `portfolio` command, on SQLite and PostgreSQL.

One small CSV market (6 stocks, SPY and XLK, 61 trading days) is loaded once per backend with
`portfolio backfill`, plus a basket. Then each case breaks one thing (a CSV field, a file, a
setting, an argument, the database) and runs one command, asserting the exit code (2 bad input,
3 database or broker, 1 otherwise), that standard error ends with ONE line naming the fault and
holds no traceback, and that every app table has exactly the content it had before.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, inspect, text

from analytics_lib._typing import GICS_SECTORS
from orchestration.cli import main
from orchestration.storage.engine import dispose_engines

START, END = "2024-01-02", "2024-03-29"
BACKFILL = ["backfill", START, "2024-03-28"]
STOCKS = {
    "AAA": "Information Technology",
    "BBB": "Financials",
    "CCC": "Energy",
    "DDD": "Health Care",
    "EEE": "Utilities",
    "FFF": "Industrials",
}
BASKET = "Two names"


def write_market(directory: Path) -> None:
    """A small, valid CSV market-data directory."""
    directory.mkdir(parents=True)
    rows = [
        f"{s},{s} Inc,{sector},Industry,{1000 * (i + 1)},stock,USD"
        for i, (s, sector) in enumerate(STOCKS.items())
    ]
    rows += ["SPY,SPDR S&P 500,,,,etf,USD", "XLK,Technology Select,,,,etf,USD"]
    (directory / "instruments.csv").write_text(
        "symbol,name,sector,industry,market_cap,asset_type,currency\n" + "\n".join(rows) + "\n"
    )
    # NYSE sessions: weekdays without MLK Day, Presidents' Day and Good Friday
    days = pd.bdate_range(START, END, freq="C", holidays=["2024-01-15", "2024-02-19", "2024-03-29"])
    rng = np.random.default_rng(7)
    lines = []
    for symbol in [*STOCKS, "SPY", "XLK"]:
        closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(days))))
        for day, close in zip(days, closes, strict=True):
            lines.append(
                f"{day.date()},{symbol},{close:.4f},{close * 1.01:.4f},{close * 0.99:.4f},"
                f"{close:.4f},{close:.4f},{int(rng.integers(1000, 9000))}"
            )
    (directory / "prices.csv").write_text(
        "date,symbol,open,high,low,close,adj_close,volume\n" + "\n".join(lines) + "\n"
    )
    weights = [f"{1 / len(GICS_SECTORS):.10f}"] * (len(GICS_SECTORS) - 1)
    weights.append(f"{1 - sum(float(w) for w in weights):.10f}")
    (directory / "benchmark_sector_weights.csv").write_text(
        "benchmark,asof_date,sector,weight\n"
        + "".join(f"SP500,{START},{s},{w}\n" for s, w in zip(GICS_SECTORS, weights, strict=True))
    )
    (directory / "etf_holdings.csv").write_text(
        f"etf,asof_date,symbol,weight\nXLK,{START},AAA,0.5\nXLK,{START},BBB,0.4\n"
    )
    (directory / "positions.csv").write_text(
        "account,symbol,quantity,cost_basis,currency\n"
        "U1,AAA,100,9000,USD\nU1,BBB,50,5000,USD\nU1,SPY,-10,,USD\n"
    )


def table_hashes(url: str) -> dict[str, str]:
    """A content hash of every app table (rows sorted, every column)."""
    engine = create_engine(url)
    try:
        hashes = {}
        with engine.connect() as connection:
            for table in sorted(inspect(connection).get_table_names()):
                rows = connection.execute(text(f'SELECT * FROM "{table}"')).fetchall()
                digest = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
                hashes[table] = digest
        return hashes
    finally:
        engine.dispose()


@dataclass
class Loaded:
    """The loaded state of one backend: the pristine CSV directory and the environment."""

    url: str
    home: Path
    pristine: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def loaded(module_database_url, tmp_path_factory) -> Loaded:
    root = tmp_path_factory.mktemp("bad_inputs")
    pristine = root / "pristine"
    write_market(pristine)
    home = root / "home"
    env = {
        "PORTFOLIO_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "PORTFOLIO_DATABASE_URL": module_database_url,
        "PORTFOLIO_MARKET_DATA": "csv",
        "PORTFOLIO_CSV_DIR": str(pristine),
        "PORTFOLIO_START_DATE": START,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        assert main(BACKFILL) == 0
        assert main(["basket", "create", BASKET, "--tickers", "AAA,BBB"]) == 0
    return Loaded(module_database_url, home, pristine, env)


@pytest.fixture
def world(loaded, tmp_path, monkeypatch) -> Loaded:
    """The loaded backend with a fresh copy of its CSV directory in the environment."""
    csv = tmp_path / "csv"
    shutil.copytree(loaded.pristine, csv)
    for name, value in {**loaded.env, "PORTFOLIO_CSV_DIR": str(csv)}.items():
        monkeypatch.setenv(name, value)
    return loaded


def _csv(name: str) -> Path:
    return Path(os.environ["PORTFOLIO_CSV_DIR"]) / name


def set_field(name: str, line: int, field: str, value: str) -> None:
    """Set ``field`` on file line ``line`` (the header is line 1) of a CSV of the source."""
    path = _csv(name)
    lines = path.read_text().splitlines()
    columns = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[columns.index(field)] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def edit(name: str, change: Callable[[list[str]], list[str]]) -> None:
    """Rewrite the lines of a CSV of the source (the header is ``lines[0]``)."""
    path = _csv(name)
    path.write_text("\n".join(change(path.read_text().splitlines())) + "\n")


def append(name: str, row: str) -> None:
    edit(name, lambda lines: [*lines, row])


def prices_line(symbol: str, day: str) -> int:
    for number, line in enumerate(_csv("prices.csv").read_text().splitlines(), start=1):
        if line.startswith(f"{day},{symbol},"):
            return number
    raise AssertionError(f"no price row {symbol} {day}")


@dataclass(frozen=True)
class Case:
    id: str
    change: Callable[[], None]
    argv: list[str]
    code: int
    message: str  # regex the last line of standard error must contain
    env: tuple[tuple[str, str], ...] = ()


def _none() -> None:
    return None


def _move_to_saturday() -> None:
    line = prices_line("CCC", "2024-03-01")
    set_field("prices.csv", line, "date", "2024-03-02")


def _huge_field() -> None:
    set_field("prices.csv", 40, "close", "x" * 30_000_000)


def _drop_column(name: str, column: str) -> Callable[[], None]:
    def change() -> None:
        frame = pd.read_csv(_csv(name), dtype=str, keep_default_na=False)
        frame.drop(columns=[column]).to_csv(_csv(name), index=False)

    return change


def _rename_column(name: str, old: str, new: str) -> Callable[[], None]:
    return lambda: edit(name, lambda lines: [lines[0].replace(old, new), *lines[1:]])


def _empty(name: str) -> Callable[[], None]:
    return lambda: _csv(name).write_text("")


def _header_only(name: str) -> Callable[[], None]:
    return lambda: edit(name, lambda lines: lines[:1])


def _delete(name: str) -> Callable[[], None]:
    return lambda: _csv(name).unlink()


def _without(symbol: str) -> Callable[[], None]:
    return lambda: edit(
        "prices.csv", lambda lines: [x for x in lines if f",{symbol}," not in x[:20]]
    )


def _without_day(day: str) -> Callable[[], None]:
    return lambda: edit("prices.csv", lambda lines: [x for x in lines if not x.startswith(day)])


def _truncated() -> None:
    edit("prices.csv", lambda lines: lines[: len(lines) // 2])


def _latin1_name() -> None:
    path = _csv("instruments.csv")
    path.write_bytes(
        path.read_bytes().replace(b"AAA Inc", "AAA Soci\u00e9t\u00e9".encode("latin-1"))
    )


CLOSE_LINE = 30
CSV_CASES = [
    # prices.csv: every field's rules
    Case(
        "close-not-a-number",
        lambda: set_field("prices.csv", CLOSE_LINE, "close", "abc"),
        BACKFILL,
        2,
        rf"prices.csv line {CLOSE_LINE}, field 'close': not a number \(got 'abc'\)",
    ),
    Case(
        "close-negative",
        lambda: set_field("prices.csv", CLOSE_LINE, "close", "-1"),
        BACKFILL,
        2,
        rf"prices.csv line {CLOSE_LINE}, field 'close': must be > 0",
    ),
    Case(
        "close-zero",
        lambda: set_field("prices.csv", CLOSE_LINE, "close", "0"),
        BACKFILL,
        2,
        rf"prices.csv line {CLOSE_LINE}, field 'close': must be > 0",
    ),
    Case(
        "close-empty",
        lambda: set_field("prices.csv", CLOSE_LINE, "close", ""),
        BACKFILL,
        2,
        rf"prices.csv line {CLOSE_LINE}, field 'close': value is required",
    ),
    Case(
        "open-negative",
        lambda: set_field("prices.csv", CLOSE_LINE, "open", "-3"),
        BACKFILL,
        2,
        rf"prices.csv line {CLOSE_LINE}, field 'open': must be > 0",
    ),
    Case(
        "adj-close-infinite",
        lambda: set_field("prices.csv", CLOSE_LINE, "adj_close", "inf"),
        BACKFILL,
        2,
        rf"prices.csv line {CLOSE_LINE}, field 'adj_close': not a number",
    ),
    Case(
        "date-slashes",
        lambda: set_field("prices.csv", CLOSE_LINE, "date", "2024/01/05"),
        BACKFILL,
        2,
        rf"prices.csv line {CLOSE_LINE}, field 'date': not an ISO date",
    ),
    Case(
        "date-impossible",
        lambda: set_field("prices.csv", CLOSE_LINE, "date", "2024-02-30"),
        BACKFILL,
        2,
        rf"prices.csv line {CLOSE_LINE}, field 'date': not an ISO date",
    ),
    Case(
        "row-moved-to-saturday",
        _move_to_saturday,
        BACKFILL,
        2,
        r"prices.csv line \d+, field 'date': not a trading session",
    ),
    Case(
        "symbol-lowercase",
        lambda: set_field("prices.csv", CLOSE_LINE, "symbol", "aaa"),
        BACKFILL,
        2,
        rf"prices.csv line {CLOSE_LINE}, field 'symbol': not an uppercase ticker",
    ),
    Case(
        "volume-fraction",
        lambda: set_field("prices.csv", CLOSE_LINE, "volume", "1.5"),
        BACKFILL,
        2,
        rf"prices.csv line {CLOSE_LINE}, field 'volume': not an integer",
    ),
    Case(
        "volume-negative",
        lambda: set_field("prices.csv", CLOSE_LINE, "volume", "-3"),
        BACKFILL,
        2,
        rf"prices.csv line {CLOSE_LINE}, field 'volume': must be >= 0",
    ),
    Case(
        "low-above-high",
        lambda: set_field("prices.csv", CLOSE_LINE, "low", "999"),
        BACKFILL,
        2,
        rf"prices.csv line {CLOSE_LINE}, field 'low': low 999.0 is above high",
    ),
    Case(
        "duplicate-key",
        lambda: edit("prices.csv", lambda lines: [*lines, lines[1]]),
        BACKFILL,
        2,
        r"prices.csv line \d+, field 'symbol': duplicate key .*first seen on line 2",
    ),
    Case(
        "price-symbol-not-an-instrument",
        lambda: append("prices.csv", "2024-01-05,ZZZ,1,1,1,1,1,1"),
        BACKFILL,
        2,
        r"prices.csv line \d+, field 'symbol': not an instrument in instruments.csv",
    ),
    Case(
        "missing-column",
        _drop_column("prices.csv", "close"),
        BACKFILL,
        2,
        r"prices.csv line 1, field 'close': required column missing",
    ),
    Case(
        "unknown-column",
        _rename_column("prices.csv", "adj_close", "adj"),
        BACKFILL,
        2,
        r"prices.csv line 1, field 'adj': unknown column",
    ),
    Case(
        "extra-field",
        lambda: append("prices.csv", "2024-01-05,AAA,1,1,1,1,1,1,9"),
        BACKFILL,
        2,
        r"prices.csv: cannot be parsed",
    ),
    Case("empty-file", _empty("prices.csv"), BACKFILL, 2, r"prices.csv line 1: file is empty"),
    Case("missing-file", _delete("prices.csv"), BACKFILL, 2, r"prices.csv: file not found"),
    Case(
        "thirty-megabyte-field",
        _huge_field,
        BACKFILL,
        2,
        r"prices.csv line 40, field 'close': .*30,000,000 characters",
    ),
    # a good-looking source never silently deletes stored prices (section 2)
    Case(
        "header-only-prices",
        _header_only("prices.csv"),
        BACKFILL,
        2,
        r"prices.csv has no rows: the source is empty",
    ),
    Case(
        "header-only-prices-market-data-only",
        _header_only("prices.csv"),
        [*BACKFILL, "--market-data-only"],
        2,
        r"prices.csv has no rows",
    ),
    Case(
        "symbol-rows-gone",
        _without("CCC"),
        BACKFILL,
        2,
        r"would delete 61 stored row\(s\) .*symbols CCC; rerun with --allow-removals",
    ),
    Case(
        "symbol-gone-one-day",
        _without("CCC"),
        ["run", "--date", "2024-03-28"],
        2,
        r"would delete 1 stored row\(s\) .*symbols CCC",
    ),
    Case(
        "truncated-at-line-end",
        _truncated,
        BACKFILL,
        2,
        r"would delete \d+ stored row\(s\) the source no longer has",
    ),
    Case(
        "day-gone",
        _without_day("2024-02-14"),
        BACKFILL,
        2,
        r"1 date\(s\) would disappear entirely \(first 2024-02-14\)",
    ),
    Case(
        "range-outside-source",
        _none,
        ["backfill", "2024-05-01", "2024-05-03"],
        2,
        r"no data yet for the 3 sessions 2024-05-01 … 2024-05-03 \(the source's data ends on "
        r"2024-03-28\)",
    ),
    Case(
        "session-after-data-end",
        _none,
        ["run", "--date", "2024-04-01"],
        2,
        r"market_data_snapshot: no data yet for 2024-04-01 \(the source's data ends on "
        r"2024-03-28\)$",
    ),
    # instruments.csv
    Case(
        "sector-unknown",
        lambda: set_field("instruments.csv", 2, "sector", "Tech"),
        BACKFILL,
        2,
        r"instruments.csv line 2, field 'sector': must be one of",
    ),
    Case(
        "asset-type-unknown",
        lambda: set_field("instruments.csv", 3, "asset_type", "bond"),
        BACKFILL,
        2,
        r"instruments.csv line 3, field 'asset_type': must be one of",
    ),
    Case(
        "market-cap-negative",
        lambda: set_field("instruments.csv", 2, "market_cap", "-5"),
        BACKFILL,
        2,
        r"instruments.csv line 2, field 'market_cap': must be >= 0",
    ),
    Case(
        "currency-lowercase",
        lambda: set_field("instruments.csv", 4, "currency", "usd"),
        BACKFILL,
        2,
        r"instruments.csv line 4, field 'currency': not a 3-letter ISO code",
    ),
    Case(
        "instrument-duplicate",
        lambda: append("instruments.csv", "AAA,Again,,,,stock,USD"),
        BACKFILL,
        2,
        r"instruments.csv line 10, field 'symbol': duplicate key",
    ),
    Case(
        "instrument-missing-for-prices",
        lambda: edit(
            "instruments.csv", lambda lines: [x for x in lines if not x.startswith("CCC,")]
        ),
        BACKFILL,
        2,
        r"prices.csv line \d+, field 'symbol': not an instrument .*CCC",
    ),
    Case("instruments-not-utf8", _latin1_name, BACKFILL, 2, r"instruments.csv: cannot be parsed"),
    Case(
        "instruments-missing",
        _delete("instruments.csv"),
        BACKFILL,
        2,
        r"instruments.csv: file not found",
    ),
    # benchmark_sector_weights.csv
    Case(
        "benchmark-sums-to-1.03",
        lambda: set_field("benchmark_sector_weights.csv", 2, "weight", f"{1 / 11 + 0.03:.10f}"),
        BACKFILL,
        2,
        r"benchmark_sector_weights.csv line 2, field 'weight': .*sum to 1 ",
    ),
    Case(
        "benchmark-sector-unknown",
        lambda: set_field("benchmark_sector_weights.csv", 3, "sector", "Crypto"),
        BACKFILL,
        2,
        r"benchmark_sector_weights.csv line 3, field 'sector': must be one of",
    ),
    Case(
        "benchmark-weight-above-one",
        lambda: set_field("benchmark_sector_weights.csv", 2, "weight", "1.5"),
        BACKFILL,
        2,
        r"benchmark_sector_weights.csv line 2, field 'weight': must be <= 1",
    ),
    Case(
        "benchmark-date-bad",
        lambda: set_field("benchmark_sector_weights.csv", 2, "asof_date", "yesterday"),
        BACKFILL,
        2,
        r"benchmark_sector_weights.csv line 2, field 'asof_date': not an ISO date",
    ),
    # etf_holdings.csv
    Case(
        "holdings-sum-above-one",
        lambda: set_field("etf_holdings.csv", 3, "weight", "0.7"),
        BACKFILL,
        2,
        r"etf_holdings.csv line 2, field 'weight': .*sum to at most 1",
    ),
    Case(
        "holdings-weight-zero",
        lambda: set_field("etf_holdings.csv", 2, "weight", "0"),
        BACKFILL,
        2,
        r"etf_holdings.csv line 2, field 'weight': must be > 0",
    ),
    Case(
        "holdings-etf-not-an-instrument",
        lambda: append("etf_holdings.csv", f"QQQ,{START},AAA,0.5"),
        BACKFILL,
        2,
        r"etf_holdings.csv line 4, field 'etf': not an instrument",
    ),
    # positions.csv
    Case(
        "position-quantity-zero",
        lambda: set_field("positions.csv", 2, "quantity", "0"),
        BACKFILL,
        2,
        r"positions.csv line 2, field 'quantity': must not be 0",
    ),
    Case(
        "position-quantity-text",
        lambda: set_field("positions.csv", 3, "quantity", "ten"),
        BACKFILL,
        2,
        r"positions.csv line 3, field 'quantity': not a number \(got 'ten'\)",
    ),
    Case(
        "position-duplicate",
        lambda: append("positions.csv", "U1,AAA,1,,USD"),
        BACKFILL,
        2,
        r"positions.csv line 5, field 'symbol': duplicate key",
    ),
    Case(
        "position-not-an-instrument",
        lambda: append("positions.csv", "U1,ZZZ,5,,USD"),
        ["run", "--date", "2024-03-28"],
        2,
        r"positions.csv line 5, field 'symbol': not an instrument in instruments.csv",
    ),
    Case(
        "positions-missing",
        _delete("positions.csv"),
        ["run", "--date", "2024-03-28"],
        2,
        r"positions.csv: file not found",
    ),
]

SETTINGS_CASES = [
    Case(
        "market-data-unknown",
        _none,
        ["basket", "list"],
        2,
        r"PORTFOLIO_MARKET_DATA='yahoo' is not supported; accepted values: demo, csv",
        (("PORTFOLIO_MARKET_DATA", "yahoo"),),
    ),
    Case(
        "csv-dir-missing",
        _none,
        BACKFILL,
        2,
        r"PORTFOLIO_CSV_DIR=.* is not a directory",
        (("PORTFOLIO_CSV_DIR", "/nonexistent/csv"),),
    ),
    Case(
        "start-date-weekend",
        _none,
        BACKFILL,
        2,
        r"PORTFOLIO_START_DATE=2024-01-06 falls on a weekend",
        (("PORTFOLIO_START_DATE", "2024-01-06"),),
    ),
    Case(
        "start-date-junk",
        _none,
        BACKFILL,
        2,
        r"PORTFOLIO_START_DATE='soon' is not an ISO date",
        (("PORTFOLIO_START_DATE", "soon"),),
    ),
    Case(
        "database-url-scheme",
        _none,
        ["basket", "list"],
        2,
        r"PORTFOLIO_DATABASE_URL must start with one of",
        (("PORTFOLIO_DATABASE_URL", "mysql://localhost/db"),),
    ),
    Case(
        "database-url-password",
        _none,
        ["basket", "list"],
        2,
        r"must not contain a password",
        (("PORTFOLIO_DATABASE_URL", "postgresql+psycopg://u:secret@localhost/db"),),
    ),
    Case(
        "sqlite-folder-missing",
        _none,
        ["basket", "list"],
        2,
        r"the folder /nonexistent/portfolio-dir does not exist",
        (("PORTFOLIO_DATABASE_URL", "sqlite:////nonexistent/portfolio-dir/p.db"),),
    ),
    Case(
        "broker-unknown",
        _none,
        ["trade", "list"],
        2,
        r"PORTFOLIO_BROKER='etrade' is not supported",
        (("PORTFOLIO_BROKER", "etrade"),),
    ),
    Case(
        "order-notional-negative",
        _none,
        ["trade", "list"],
        2,
        r"PORTFOLIO_MAX_ORDER_NOTIONAL=-5 must be greater than 0",
        (("PORTFOLIO_MAX_ORDER_NOTIONAL", "-5"),),
    ),
    Case(
        "end-before-start",
        _none,
        ["backfill", "2024-03-01", "2024-02-01"],
        2,
        r"END 2024-02-01 is before START 2024-03-01",
    ),
    Case(
        "start-on-weekend",
        _none,
        ["backfill", "2024-01-06", "2024-02-01"],
        2,
        r"START 2024-01-06 is a weekend day",
    ),
    Case(
        "date-before-first-partition",
        _none,
        ["run", "--date", "2023-06-01"],
        2,
        r"--date 2023-06-01 is before the first partition 2024-01-02",
    ),
]

BASKET_CASES = [
    Case(
        "basket-unknown-tickers",
        _none,
        ["basket", "create", "Unknown", "--tickers", "AAA,ZZZ,YYY"],
        2,
        r"YYY.*ZZZ|ZZZ.*YYY",
    ),
    Case(
        "basket-weights-do-not-sum",
        _none,
        [
            "basket",
            "create",
            "Custom",
            "--tickers",
            "AAA,BBB",
            "--method",
            "custom",
            "--weights",
            "0.5,0.6",
        ],
        2,
        r"weights",
    ),
    Case(
        "basket-name-slash",
        _none,
        ["basket", "create", "Bad/Name", "--tickers", "AAA"],
        2,
        r"found '/' in 'Bad/Name'",
    ),
    Case(
        "basket-exists",
        _none,
        ["basket", "create", BASKET, "--tickers", "AAA"],
        2,
        rf"basket '{BASKET}' already exists",
    ),
    Case(
        "basket-show-missing", _none, ["basket", "show", "Nope"], 2, r"basket 'Nope' does not exist"
    ),
    Case(
        "basket-delete-missing",
        _none,
        ["basket", "delete", "Nope"],
        2,
        r"basket 'Nope' does not exist",
    ),
    Case(
        "basket-update-missing",
        _none,
        ["basket", "update", "Nope", "--tickers", "AAA"],
        2,
        r"basket 'Nope' does not exist",
    ),
    Case(
        "basket-from-unknown-etf",
        _none,
        ["basket", "from-etf", "ZZZ", "New"],
        2,
        r"ETF 'ZZZ' has no holdings in etf_holdings",
    ),
]

TRADE_CASES = [
    Case(
        "trade-approve-missing",
        _none,
        ["trade", "approve", "99999"],
        2,
        r"trade group 99999 does not exist",
    ),
    Case(
        "trade-status-missing",
        _none,
        ["trade", "status", "99999"],
        2,
        r"trade group 99999 does not exist",
    ),
    Case(
        "trade-cancel-missing",
        _none,
        ["trade", "cancel", "99999"],
        2,
        r"trade group 99999 does not exist",
    ),
    Case(
        "trade-preview-unknown-basket",
        _none,
        ["trade", "preview", "Nope", "--action", "buy", "--value", "1000"],
        2,
        r"basket 'Nope' does not exist",
    ),
    Case(
        "trade-preview-negative-value",
        _none,
        ["trade", "preview", BASKET, "--action", "buy", "--value", "-5"],
        2,
        r"--value must be a positive amount",
    ),
]

CASES = CSV_CASES + SETTINGS_CASES + BASKET_CASES + TRADE_CASES


def run_command(argv: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr().err


def assert_one_line_error(err: str, argv: list[str], message: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "nothing on standard error"
    last = lines[-1]
    assert last.startswith(f"portfolio {argv[0]}: error: "), last
    assert sum(": error: " in line for line in lines) == 1, err
    assert "Traceback" not in err, err
    assert re.search(message, last), last
    return last


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_fails_in_one_line_and_changes_nothing(case, world, capsys, monkeypatch):
    for name, value in case.env:
        monkeypatch.setenv(name, value)
    before = table_hashes(world.url)
    case.change()
    code, err = run_command(case.argv, capsys)
    last = assert_one_line_error(err, case.argv, case.message)
    assert code == case.code, last
    assert len(last) <= 600
    assert table_hashes(world.url) == before
    assert not Path("/nonexistent").exists()


def _bom() -> None:
    path = _csv("prices.csv")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def _crlf() -> None:
    path = _csv("prices.csv")
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))


def _reordered() -> None:
    frame = pd.read_csv(_csv("prices.csv"), dtype=str, keep_default_na=False)
    frame[list(reversed(frame.columns))].to_csv(_csv("prices.csv"), index=False)


def _prices(url: str) -> pd.DataFrame:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT date, symbol, open, high, low, close, adj_close, volume FROM prices "
                    "ORDER BY symbol, date"
                )
            ).fetchall()
    finally:
        engine.dispose()
    return pd.DataFrame(rows)


@pytest.mark.parametrize("change", [_bom, _crlf, _reordered], ids=["bom", "crlf", "reordered"])
def test_accepted_variants_load_the_same_prices(change, world, capsys):
    before = _prices(world.url)
    change()
    code, err = run_command(["run", "--date", "2024-03-28"], capsys)
    assert code == 0, err
    pd.testing.assert_frame_equal(_prices(world.url), before)


def test_removals_pass_only_when_allowed_and_are_recorded(world, capsys):
    _without("CCC")()
    code, err = run_command(["run", "--date", "2024-03-28"], capsys)
    assert code == 2
    code, err = run_command(["run", "--date", "2024-03-28", "--allow-removals", "--json"], capsys)
    assert code == 0, err
    remaining = _prices(world.url)
    assert not (
        (remaining["symbol"] == "CCC") & (remaining["date"].astype(str) == "2024-03-28")
    ).any()
    restored = world.pristine / "prices.csv"
    shutil.copy(restored, _csv("prices.csv"))
    assert run_command(["run", "--date", "2024-03-28"], capsys)[0] == 0


# --- database faults ---------------------------------------------------------------------


def test_postgresql_down_is_one_line_exit_3(world, capsys, monkeypatch):
    monkeypatch.setenv("PORTFOLIO_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5999/x")
    for argv in (["basket", "list"], ["trade", "list"], BACKFILL):
        code, err = run_command(argv, capsys)
        assert_one_line_error(
            err, argv, r"cannot connect to PostgreSQL at 127.0.0.1:5999: connection refused"
        )
        assert code == 3


def test_file_that_is_not_a_database_is_one_line_exit_3(world, tmp_path, capsys, monkeypatch):
    bogus = tmp_path / "not.db"
    bogus.write_bytes(b"this is a text file, not a database" * 100)
    monkeypatch.setenv("PORTFOLIO_DATABASE_URL", f"sqlite:///{bogus}")
    code, err = run_command(["basket", "list"], capsys)
    assert_one_line_error(err, ["basket"], rf"database file {bogus} is not a SQLite database")
    assert code == 3
    assert bogus.read_bytes() == b"this is a text file, not a database" * 100


def test_read_only_database_is_one_line_exit_3(world, tmp_path, capsys, monkeypatch):
    if not world.url.startswith("sqlite"):
        pytest.skip("a read-only database file is a SQLite fault")
    dispose_engines()
    copy = tmp_path / "ro" / "portfolio.db"
    copy.parent.mkdir()
    source = sqlite3.connect(world.url.removeprefix("sqlite:///"))
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    before = table_hashes(f"sqlite:///{copy}")
    monkeypatch.setenv("PORTFOLIO_DATABASE_URL", f"sqlite:///file:{copy}?mode=ro&uri=true")
    code, err = run_command(["basket", "create", "Readonly", "--tickers", "AAA,BBB"], capsys)
    assert_one_line_error(err, ["basket"], r"read-only|readonly|cannot open database file")
    assert code == 3
    assert table_hashes(f"sqlite:///{copy}") == before


def test_home_that_is_a_file_is_one_line_exit_2(world, tmp_path, capsys, monkeypatch):
    home = tmp_path / "home-file"
    home.write_text("")
    monkeypatch.setenv("PORTFOLIO_HOME", str(home))
    monkeypatch.delenv("DAGSTER_HOME")
    code, err = run_command(["basket", "list"], capsys)
    assert_one_line_error(err, ["basket"], rf"PORTFOLIO_HOME={home} is a file, not a folder")
    assert code == 2


def test_database_that_lost_its_history_fails_naming_the_mismatch(
    world, tmp_path, capsys, monkeypatch, request
):
    """The Dagster instance remembers daily_prices; the app database is a new, empty one (the
    file was deleted or replaced): the run fails instead of starting again from nothing."""
    if world.url.startswith("postgresql"):
        empty = request.getfixturevalue("postgres_url")
    else:
        empty = f"sqlite:///{tmp_path / 'replaced.db'}"
    monkeypatch.setenv("PORTFOLIO_DATABASE_URL", empty)
    code, err = run_command(["run", "--date", "2024-03-28"], capsys)
    assert_one_line_error(
        err, ["run"], r"holds no prices, but the Dagster instance recorded daily_prices"
    )
    assert code == 3
    assert _prices(empty).empty


def test_closed_standard_output_prints_no_traceback(world):
    """`portfolio basket list | head -0`: the reader is gone before the command writes."""
    child = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "basket", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    child.stdout.close()
    err = child.stderr.read().decode()
    child.wait()
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err
    assert "Exception ignored" not in err
