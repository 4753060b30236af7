"""Reading and validating a CSV market-data directory (DESIGN.md section 4).

Each reader parses one file completely and validates every row before returning anything, so a
malformed file never reaches the database; :func:`read_directory` reads every file of a
directory and applies the rules across files. The first problem found raises
:class:`CsvFormatError` naming the file, the line (the header is line 1) and the field.
A UTF-8 byte-order mark, CRLF line ends and any order of the columns are accepted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from orchestration.defs.market_data.validation import (
    BENCHMARK_COLUMNS,
    HOLDINGS_COLUMNS,
    INSTRUMENT_COLUMNS,
    POSITION_COLUMNS,
    PRICE_COLUMNS,
    SYMBOL_PATTERN,
    Column,
    CsvFormatError,
    MarketDataSnapshot,
    Origin,
    Origins,
    check_benchmark_sector_weights,
    check_bounds,
    check_etf_holdings,
    check_instruments,
    check_positions,
    check_prices,
    fail_first,
    validate_snapshot,
)

__all__ = ["SYMBOL_PATTERN", "CsvFormatError", "read_directory"]

PRICES_FILE = "prices.csv"
INSTRUMENTS_FILE = "instruments.csv"
BENCHMARK_FILE = "benchmark_sector_weights.csv"
HOLDINGS_FILE = "etf_holdings.csv"
POSITIONS_FILE = "positions.csv"

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def _read(path: Path, columns: tuple[Column, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise CsvFormatError(path, None, None, "file not found")
    try:
        raw = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig"
        )
    except pd.errors.EmptyDataError:
        raise CsvFormatError(path, 1, None, "file is empty; expected a header row") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        problem = " ".join(str(exc).split())
        raise CsvFormatError(path, None, None, f"cannot be parsed: {problem}") from None
    expected = [c.name for c in columns]
    unknown = [c for c in raw.columns if c not in expected]
    if unknown:
        raise CsvFormatError(
            path, 1, unknown[0], f"unknown column; expected columns: {', '.join(expected)}"
        )
    absent = [c.name for c in columns if c.in_header and c.name not in raw.columns]
    if absent:
        raise CsvFormatError(path, 1, absent[0], "required column missing from the header")
    origin = Origin.csv(path)
    out = {}
    for column in columns:
        text = raw[column.name] if column.name in raw.columns else pd.Series("", index=raw.index)
        out[column.name] = _parse(origin, text.str.strip(), column)
    return pd.DataFrame(out)


def _parse(origin: Origin, text: pd.Series, column: Column) -> pd.Series:
    empty = (text == "").to_numpy()
    if column.required:
        fail_first(origin, empty, text, column.name, "value is required")
    if column.kind == "date":
        parsed = pd.to_datetime(text.where(~empty), format="%Y-%m-%d", errors="coerce")
        malformed = ~empty & (parsed.isna().to_numpy() | ~text.str.match(DATE_PATTERN).to_numpy())
        fail_first(origin, malformed, text, column.name, "not an ISO date YYYY-MM-DD")
        return parsed
    if column.kind == "symbol":
        bad = ~empty & ~text.map(lambda s: bool(SYMBOL_PATTERN.match(s))).to_numpy(dtype=bool)
        fail_first(origin, bad, text, column.name, "not an uppercase ticker symbol")
        return text.where(~empty, None).astype(object)
    if column.kind in ("float", "int"):
        numbers = pd.to_numeric(text.where(~empty), errors="coerce").astype(np.float64)
        values = numbers.to_numpy()
        fail_first(origin, ~empty & ~np.isfinite(values), text, column.name, "not a number")
        if column.kind == "int":
            not_int = ~empty & ~text.str.fullmatch(r"-?\d+").to_numpy(dtype=bool)
            fail_first(origin, not_int, text, column.name, "not an integer")
        check_bounds(origin, values, ~empty, text, column)
        if column.kind == "int":
            return pd.Series(pd.array(numbers.round(), dtype="Int64"), index=text.index)
        return numbers
    if column.kind == "choice":
        bad = ~empty & ~text.isin(column.choices).to_numpy()
        fail_first(origin, bad, text, column.name, f"must be one of: {', '.join(column.choices)}")
    return text.where(~empty, None).astype(object)


def read_prices(path: Path) -> pd.DataFrame:
    """Parse ``prices.csv``: one row per (date, symbol) on a weekday, positive prices, integer
    volume."""
    frame = _read(path, PRICE_COLUMNS)
    check_prices(Origin.csv(path), frame)
    return frame


def read_instruments(path: Path) -> pd.DataFrame:
    """Parse ``instruments.csv``: one row per symbol, GICS sectors, known asset types."""
    frame = _read(path, INSTRUMENT_COLUMNS)
    check_instruments(Origin.csv(path), frame)
    return frame


def read_benchmark_sector_weights(path: Path) -> pd.DataFrame:
    """Parse ``benchmark_sector_weights.csv``: weights per (benchmark, asof_date) sum to 1."""
    frame = _read(path, BENCHMARK_COLUMNS)
    check_benchmark_sector_weights(Origin.csv(path), frame)
    return frame


def read_etf_holdings(path: Path) -> pd.DataFrame:
    """Parse ``etf_holdings.csv``: weights in (0, 1], summing to at most 1 per snapshot."""
    frame = _read(path, HOLDINGS_COLUMNS)
    check_etf_holdings(Origin.csv(path), frame)
    return frame


def read_positions(path: Path) -> pd.DataFrame:
    """Parse ``positions.csv``: one row per (account, symbol), non-zero quantities."""
    frame = _read(path, POSITION_COLUMNS)
    check_positions(Origin.csv(path), frame)
    return frame


def read_directory(directory: Path) -> MarketDataSnapshot:
    """Every file of a CSV market-data directory, each validated, then the rules across files
    (every price symbol, position and ETF is an instrument of ``instruments.csv``)."""
    paths = Origins(
        instruments=Origin.csv(directory / INSTRUMENTS_FILE),
        prices=Origin.csv(directory / PRICES_FILE),
        benchmark_sector_weights=Origin.csv(directory / BENCHMARK_FILE),
        etf_holdings=Origin.csv(directory / HOLDINGS_FILE),
        positions=Origin.csv(directory / POSITIONS_FILE),
    )
    snapshot = MarketDataSnapshot(
        instruments=read_instruments(paths.instruments.path),
        prices=read_prices(paths.prices.path),
        benchmark_sector_weights=read_benchmark_sector_weights(paths.benchmark_sector_weights.path),
        etf_holdings=read_etf_holdings(paths.etf_holdings.path),
        positions=read_positions(paths.positions.path),
        origins=paths,
    )
    return validate_snapshot(snapshot, payloads=False)
