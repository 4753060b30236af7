"""Reading and validating a CSV market-data directory (DESIGN.md section 4).

Each reader parses one file completely and validates every row before returning anything, so a
malformed file never reaches the database. The first problem found raises
:class:`CsvFormatError` naming the file, the line (the header is line 1) and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analytics_lib._typing import ASSET_TYPES, GICS_SECTORS

PRICES_FILE = "prices.csv"
INSTRUMENTS_FILE = "instruments.csv"
BENCHMARK_FILE = "benchmark_sector_weights.csv"
HOLDINGS_FILE = "etf_holdings.csv"
POSITIONS_FILE = "positions.csv"

SYMBOL_PATTERN = re.compile(r"^\^?[A-Z0-9][A-Z0-9.\-]{0,31}$")
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
WEIGHT_SUM_TOLERANCE = 1e-4


class CsvFormatError(ValueError):
    """A CSV file breaks the market-data format; names file, line and field."""

    def __init__(self, path: Path, line: int | None, field: str | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.field = field
        where = path.name if line is None else f"{path.name} line {line}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {problem} ({path})")


@dataclass(frozen=True)
class _Column:
    name: str
    kind: str  # date | symbol | float | int | text | choice
    required: bool = True
    minimum: float | None = None
    strictly_positive: bool = False
    maximum: float | None = None
    choices: tuple[str, ...] = ()


def _read(path: Path, columns: tuple[_Column, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise CsvFormatError(path, None, None, "file not found")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        raise CsvFormatError(path, 1, None, "file is empty; expected a header row") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CsvFormatError(path, None, None, f"cannot be parsed: {exc}") from None
    expected = [c.name for c in columns]
    unknown = [c for c in raw.columns if c not in expected]
    if unknown:
        raise CsvFormatError(
            path, 1, unknown[0], f"unknown column; expected columns: {', '.join(expected)}"
        )
    absent = [c for c in expected if c not in raw.columns]
    if absent:
        raise CsvFormatError(path, 1, absent[0], "required column missing from the header")
    out = {}
    for column in columns:
        out[column.name] = _parse(path, raw[column.name].str.strip(), column)
    return pd.DataFrame(out)


def _fail_first(path: Path, bad: np.ndarray, text: pd.Series, field: str, problem: str) -> None:
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise CsvFormatError(path, row + 2, field, f"{problem} (got {text.iloc[row]!r})")


def _parse(path: Path, text: pd.Series, column: _Column) -> pd.Series:
    empty = (text == "").to_numpy()
    if column.required:
        _fail_first(path, empty, text, column.name, "value is required")
    if column.kind == "date":
        parsed = pd.to_datetime(text.where(~empty), format="%Y-%m-%d", errors="coerce")
        malformed = ~empty & (parsed.isna().to_numpy() | ~text.str.match(DATE_PATTERN).to_numpy())
        _fail_first(path, malformed, text, column.name, "not an ISO date YYYY-MM-DD")
        return parsed
    if column.kind == "symbol":
        bad = ~empty & ~text.map(lambda s: bool(SYMBOL_PATTERN.match(s))).to_numpy(dtype=bool)
        _fail_first(path, bad, text, column.name, "not an uppercase ticker symbol")
        return text.where(~empty, None).astype(object)
    if column.kind in ("float", "int"):
        numbers = pd.to_numeric(text.where(~empty), errors="coerce").astype(np.float64)
        values = numbers.to_numpy()
        _fail_first(path, ~empty & ~np.isfinite(values), text, column.name, "not a number")
        if column.kind == "int":
            not_int = ~empty & ~text.str.fullmatch(r"-?\d+").to_numpy(dtype=bool)
            _fail_first(path, not_int, text, column.name, "not an integer")
        present = ~empty
        if column.strictly_positive:
            _fail_first(path, present & (values <= 0), text, column.name, "must be > 0")
        if column.minimum is not None:
            _fail_first(
                path,
                present & (values < column.minimum),
                text,
                column.name,
                f"must be >= {column.minimum:g}",
            )
        if column.maximum is not None:
            _fail_first(
                path,
                present & (values > column.maximum),
                text,
                column.name,
                f"must be <= {column.maximum:g}",
            )
        if column.kind == "int":
            return pd.Series(pd.array(numbers.round(), dtype="Int64"), index=text.index)
        return numbers
    if column.kind == "choice":
        bad = ~empty & ~text.isin(column.choices).to_numpy()
        _fail_first(path, bad, text, column.name, f"must be one of: {', '.join(column.choices)}")
    return text.where(~empty, None).astype(object)


def _require_unique(path: Path, frame: pd.DataFrame, keys: list[str]) -> None:
    duplicated = frame.duplicated(keys, keep="first").to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        key = ", ".join(f"{k}={_show(frame[k].iloc[row])}" for k in keys)
        mask = (frame[keys] == frame[keys].iloc[row]).all(axis=1).to_numpy()
        first = int(np.flatnonzero(mask)[0])
        raise CsvFormatError(
            path, row + 2, keys[-1], f"duplicate key ({key}); first seen on line {first + 2}"
        )


def _show(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return str(value)


PRICE_COLUMNS = (
    _Column("date", "date"),
    _Column("symbol", "symbol"),
    _Column("open", "float", required=False, strictly_positive=True),
    _Column("high", "float", required=False, strictly_positive=True),
    _Column("low", "float", required=False, strictly_positive=True),
    _Column("close", "float", strictly_positive=True),
    _Column("adj_close", "float", required=False, strictly_positive=True),
    _Column("volume", "int", required=False, minimum=0),
)


def read_prices(path: Path) -> pd.DataFrame:
    """Parse ``prices.csv``: one row per (date, symbol), positive prices, integer volume."""
    frame = _read(path, PRICE_COLUMNS)
    inverted = (frame["low"] > frame["high"]).to_numpy(dtype=bool, na_value=False)
    if inverted.any():
        row = int(np.flatnonzero(inverted)[0])
        raise CsvFormatError(
            path,
            row + 2,
            "low",
            f"low {frame['low'].iloc[row]} is above high {frame['high'].iloc[row]}",
        )
    _require_unique(path, frame, ["date", "symbol"])
    return frame


INSTRUMENT_COLUMNS = (
    _Column("symbol", "symbol"),
    _Column("name", "text", required=False),
    _Column("sector", "choice", required=False, choices=GICS_SECTORS),
    _Column("industry", "text", required=False),
    _Column("market_cap", "float", required=False, minimum=0),
    _Column("asset_type", "choice", choices=ASSET_TYPES),
    _Column("currency", "text"),
)


def read_instruments(path: Path) -> pd.DataFrame:
    """Parse ``instruments.csv``: one row per symbol, GICS sectors, known asset types."""
    frame = _read(path, INSTRUMENT_COLUMNS)
    bad_currency = ~frame["currency"].astype(str).str.fullmatch(r"[A-Z]{3}").to_numpy(dtype=bool)
    _fail_first(path, bad_currency, frame["currency"], "currency", "not a 3-letter ISO code")
    _require_unique(path, frame, ["symbol"])
    return frame


BENCHMARK_COLUMNS = (
    _Column("benchmark", "symbol"),
    _Column("asof_date", "date"),
    _Column("sector", "choice", choices=GICS_SECTORS),
    _Column("weight", "float", minimum=0, maximum=1),
)


def _check_group_sums(path: Path, frame: pd.DataFrame, keys: list[str], *, exact: bool) -> None:
    if frame.empty:
        return
    sums = frame.groupby(keys, sort=False)["weight"].transform("sum").to_numpy()
    bad = (
        (np.abs(sums - 1.0) > WEIGHT_SUM_TOLERANCE)
        if exact
        else (sums > 1.0 + WEIGHT_SUM_TOLERANCE)
    )
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        group = ", ".join(f"{k}={_show(frame[k].iloc[row])}" for k in keys)
        rule = "sum to 1" if exact else "sum to at most 1"
        raise CsvFormatError(
            path,
            row + 2,
            "weight",
            f"weights of ({group}) {rule} ± {WEIGHT_SUM_TOLERANCE:g}; they sum to {sums[row]:.6f}",
        )


def read_benchmark_sector_weights(path: Path) -> pd.DataFrame:
    """Parse ``benchmark_sector_weights.csv``: weights per (benchmark, asof_date) sum to 1."""
    frame = _read(path, BENCHMARK_COLUMNS)
    _require_unique(path, frame, ["benchmark", "asof_date", "sector"])
    _check_group_sums(path, frame, ["benchmark", "asof_date"], exact=True)
    return frame


HOLDINGS_COLUMNS = (
    _Column("etf", "symbol"),
    _Column("asof_date", "date"),
    _Column("symbol", "symbol"),
    _Column("weight", "float", strictly_positive=True, maximum=1),
)


def read_etf_holdings(path: Path) -> pd.DataFrame:
    """Parse ``etf_holdings.csv``: weights in (0, 1], summing to at most 1 per snapshot."""
    frame = _read(path, HOLDINGS_COLUMNS)
    _require_unique(path, frame, ["etf", "asof_date", "symbol"])
    _check_group_sums(path, frame, ["etf", "asof_date"], exact=False)
    return frame


POSITION_COLUMNS = (
    _Column("account", "text"),
    _Column("symbol", "symbol"),
    _Column("quantity", "float"),
    _Column("cost_basis", "float", required=False),
    _Column("currency", "text"),
)


def read_positions(path: Path) -> pd.DataFrame:
    """Parse ``positions.csv``: one row per (account, symbol), non-zero quantities."""
    frame = _read(path, POSITION_COLUMNS)
    zero = (frame["quantity"] == 0).to_numpy()
    _fail_first(path, zero, frame["quantity"].astype(str), "quantity", "must not be 0")
    bad_currency = ~frame["currency"].astype(str).str.fullmatch(r"[A-Z]{3}").to_numpy(dtype=bool)
    _fail_first(path, bad_currency, frame["currency"], "currency", "not a 3-letter ISO code")
    _require_unique(path, frame, ["account", "symbol"])
    return frame
