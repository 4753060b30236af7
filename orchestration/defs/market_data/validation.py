"""The rules every market-data source obeys, and the validated snapshot a run writes from.

A source (a CSV directory, the demo market, a provider's payloads) is read completely and
checked as a whole before any asset of a run writes: each table on its own (required values,
bounds, unique keys, weight sums, prices on NYSE sessions only) and across tables (every price,
position and ETF is a known instrument). The first problem raises :class:`SourceFormatError`
naming where it is: the file and line for CSV (the header is line 1), the payload and row
otherwise, and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analytics_lib._typing import ASSET_TYPES, GICS_SECTORS
from orchestration import market_calendar

SYMBOL_PATTERN = re.compile(r"^\^?[A-Z0-9][A-Z0-9.\-]{0,31}$")
CURRENCY_PATTERN = r"[A-Z]{3}"
WEIGHT_SUM_TOLERANCE = 1e-4
SHOWN_CHARACTERS = 40
SHOWN_SYMBOLS = 5


class MarketDataError(ValueError):
    """Market data a run must not write (bad input the user fixes)."""


class SourceFormatError(MarketDataError):
    """Market data breaks the format or a rule; names the file or payload, line and field."""

    def __init__(
        self,
        origin: str,
        line: int | None,
        field: str | None,
        problem: str,
        *,
        unit: str = "line",
        suffix: str = "",
    ) -> None:
        self.origin = origin
        self.line = line
        self.field = field
        where = origin if line is None else f"{origin} {unit} {line}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {problem}{suffix}")


class CsvFormatError(SourceFormatError):
    """A CSV file breaks the market-data format; names file, line and field."""

    def __init__(self, path: Path, line: int | None, field: str | None, problem: str) -> None:
        self.path = path
        super().__init__(path.name, line, field, problem, suffix=f" ({path})")


def shown(value: object) -> str:
    """``value`` as echoed in an error: quoted, cut to a readable length."""
    if isinstance(value, pd.Timestamp):
        return repr(value.date().isoformat())
    text = str(value)
    if len(text) > SHOWN_CHARACTERS:
        return repr(text[:SHOWN_CHARACTERS]) + f"… ({len(text):,} characters)"
    return repr(text)


@dataclass(frozen=True)
class Origin:
    """Where a table came from: a CSV file (rows numbered as file lines, the header is line 1)
    or a provider's payload (rows numbered from 1)."""

    name: str
    path: Path | None = None

    @classmethod
    def csv(cls, path: Path) -> Origin:
        return cls(path.name, path)

    def error(self, row: int | None, field: str | None, problem: str) -> SourceFormatError:
        """The error for the ``row``-th record (0-based; None for the whole table)."""
        if self.path is not None:
            return CsvFormatError(self.path, None if row is None else row + 2, field, problem)
        return SourceFormatError(
            self.name, None if row is None else row + 1, field, problem, unit="row"
        )

    def line(self, row: int) -> str:
        """How a record is referred to in a message about another record."""
        return f"line {row + 2}" if self.path is not None else f"row {row + 1}"


@dataclass(frozen=True)
class Column:
    """One column of a market-data table and the values it accepts."""

    name: str
    kind: str  # date | symbol | float | int | text | choice
    required: bool = True
    minimum: float | None = None
    strictly_positive: bool = False
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    in_header: bool = True
    """False for an optional column: a file may leave it out (older files stay valid), and its
    values are then missing."""


PRICE_COLUMNS = (
    Column("date", "date"),
    Column("symbol", "symbol"),
    Column("open", "float", required=False, strictly_positive=True),
    Column("high", "float", required=False, strictly_positive=True),
    Column("low", "float", required=False, strictly_positive=True),
    Column("close", "float", strictly_positive=True),
    Column("adj_close", "float", required=False, strictly_positive=True),
    Column("volume", "int", required=False, minimum=0),
)
INSTRUMENT_COLUMNS = (
    Column("symbol", "symbol"),
    Column("name", "text", required=False),
    Column("sector", "choice", required=False, choices=GICS_SECTORS),
    Column("industry", "text", required=False),
    Column("market_cap", "float", required=False, minimum=0),
    Column("asset_type", "choice", choices=ASSET_TYPES),
    Column("currency", "text"),
    Column("category", "text", required=False, in_header=False),
    Column("expense_ratio", "float", required=False, minimum=0, maximum=1, in_header=False),
)
BENCHMARK_COLUMNS = (
    Column("benchmark", "symbol"),
    Column("asof_date", "date"),
    Column("sector", "choice", choices=GICS_SECTORS),
    Column("weight", "float", minimum=0, maximum=1),
)
HOLDINGS_COLUMNS = (
    Column("etf", "symbol"),
    Column("asof_date", "date"),
    Column("symbol", "symbol"),
    Column("weight", "float", strictly_positive=True, maximum=1),
)
POSITION_COLUMNS = (
    Column("account", "text"),
    Column("symbol", "symbol"),
    Column("quantity", "float"),
    Column("cost_basis", "float", required=False),
    Column("currency", "text"),
)


def fail_first(
    origin: Origin, bad: np.ndarray, values: pd.Series, field: str, problem: str
) -> None:
    """Raise for the first row flagged in ``bad``, echoing its value."""
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise origin.error(row, field, f"{problem} (got {shown(values.iloc[row])})")


def check_bounds(
    origin: Origin, values: np.ndarray, present: np.ndarray, text: pd.Series, column: Column
) -> None:
    """The numeric bounds of ``column`` on the ``present`` values."""
    if column.strictly_positive:
        fail_first(origin, present & (values <= 0), text, column.name, "must be > 0")
    if column.minimum is not None:
        fail_first(
            origin,
            present & (values < column.minimum),
            text,
            column.name,
            f"must be >= {column.minimum:g}",
        )
    if column.maximum is not None:
        fail_first(
            origin,
            present & (values > column.maximum),
            text,
            column.name,
            f"must be <= {column.maximum:g}",
        )


def check_values(origin: Origin, frame: pd.DataFrame, columns: tuple[Column, ...]) -> None:
    """Every column of a typed payload frame holds values its :class:`Column` accepts."""
    absent = [c.name for c in columns if c.name not in frame.columns]
    if absent:
        raise origin.error(None, absent[0], "required column missing")
    for column in columns:
        series = frame[column.name].reset_index(drop=True)
        missing = series.isna().to_numpy(dtype=bool)
        if column.required:
            fail_first(origin, missing, series, column.name, "value is required")
        present = ~missing
        if column.kind in ("float", "int"):
            values = pd.to_numeric(series, errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
            fail_first(origin, present & ~np.isfinite(values), series, column.name, "not a number")
            check_bounds(origin, values, present, series, column)
        elif column.kind == "symbol":
            invalid = [s for s in series.dropna().unique() if not SYMBOL_PATTERN.match(str(s))]
            bad = present & series.isin(invalid).to_numpy(dtype=bool)
            fail_first(origin, bad, series, column.name, "not an uppercase ticker symbol")
        elif column.kind == "choice":
            bad = present & ~series.isin(column.choices).to_numpy(dtype=bool)
            fail_first(
                origin, bad, series, column.name, f"must be one of: {', '.join(column.choices)}"
            )
        elif column.kind == "date":
            dates = pd.to_datetime(series, errors="coerce")
            fail_first(origin, present & dates.isna().to_numpy(), series, column.name, "not a date")


def _key_text(frame: pd.DataFrame, keys: list[str], row: int) -> str:
    return ", ".join(f"{k}={shown(frame[k].iloc[row]).strip(chr(39))}" for k in keys)


def require_unique(origin: Origin, frame: pd.DataFrame, keys: list[str]) -> None:
    """No two rows share ``keys``; names the repeat and the line of the first."""
    duplicated = frame.duplicated(keys, keep="first").to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        mask = (frame[keys] == frame[keys].iloc[row]).all(axis=1).to_numpy()
        first = int(np.flatnonzero(mask)[0])
        raise origin.error(
            row,
            keys[-1],
            f"duplicate key ({_key_text(frame, keys, row)}); first seen on {origin.line(first)}",
        )


def check_group_sums(origin: Origin, frame: pd.DataFrame, keys: list[str], *, exact: bool) -> None:
    """Weights per ``keys`` sum to 1 (``exact``) or to at most 1."""
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
        rule = "sum to 1" if exact else "sum to at most 1"
        raise origin.error(
            row,
            "weight",
            f"weights of ({_key_text(frame, keys, row)}) {rule} ± {WEIGHT_SUM_TOLERANCE:g}; "
            f"they sum to {sums[row]:.6f}",
        )


def _check_currency(origin: Origin, frame: pd.DataFrame) -> None:
    currency = frame["currency"].astype(str)
    bad = ~currency.str.fullmatch(CURRENCY_PATTERN).to_numpy(dtype=bool)
    fail_first(origin, bad, currency, "currency", "not a 3-letter ISO code")


def check_prices(origin: Origin, frame: pd.DataFrame) -> None:
    """Rows of ``prices``: on NYSE sessions (:mod:`orchestration.market_calendar`), low <= high,
    one per (date, symbol)."""
    closed = ~market_calendar.sessions_mask(frame["date"]).to_numpy(dtype=bool)
    if closed.any():
        row = int(np.flatnonzero(closed)[0])
        day = frame["date"].iloc[row].date()
        if market_calendar.FIRST_DATE <= day <= market_calendar.LAST_DATE:
            problem = f"not a trading session: {day.isoformat()} is {market_calendar.closure(day)}"
        else:
            problem = (
                f"outside the NYSE calendar the pipeline knows ({market_calendar.FIRST_DATE} … "
                f"{market_calendar.LAST_DATE})"
            )
        raise origin.error(row, "date", f"{problem} (got {shown(day.isoformat())})")
    inverted = (frame["low"] > frame["high"]).to_numpy(dtype=bool, na_value=False)
    if inverted.any():
        row = int(np.flatnonzero(inverted)[0])
        raise origin.error(
            row, "low", f"low {frame['low'].iloc[row]} is above high {frame['high'].iloc[row]}"
        )
    require_unique(origin, frame, ["date", "symbol"])


def check_instruments(origin: Origin, frame: pd.DataFrame) -> None:
    """Rows of ``instruments``: ISO currencies, one row per symbol."""
    _check_currency(origin, frame)
    require_unique(origin, frame, ["symbol"])


def check_benchmark_sector_weights(origin: Origin, frame: pd.DataFrame) -> None:
    """Rows of ``benchmark_sector_weights``: unique, weights per snapshot sum to 1."""
    require_unique(origin, frame, ["benchmark", "asof_date", "sector"])
    check_group_sums(origin, frame, ["benchmark", "asof_date"], exact=True)


def check_etf_holdings(origin: Origin, frame: pd.DataFrame) -> None:
    """Rows of ``etf_holdings``: unique, weights per snapshot sum to at most 1."""
    require_unique(origin, frame, ["etf", "asof_date", "symbol"])
    check_group_sums(origin, frame, ["etf", "asof_date"], exact=False)


def check_positions(origin: Origin, frame: pd.DataFrame) -> None:
    """Rows of ``positions``: non-zero quantities, ISO currencies, one per (account, symbol)."""
    zero = (frame["quantity"] == 0).to_numpy(dtype=bool)
    fail_first(origin, zero, frame["quantity"].astype(str), "quantity", "must not be 0")
    _check_currency(origin, frame)
    require_unique(origin, frame, ["account", "symbol"])


@dataclass(frozen=True)
class Origins:
    """Where each table of a snapshot came from."""

    instruments: Origin
    prices: Origin
    benchmark_sector_weights: Origin
    etf_holdings: Origin
    positions: Origin

    @classmethod
    def payloads(cls, label: str) -> Origins:
        """Origins of a provider's payloads, e.g. ``demo market prices``."""
        return cls(
            *(
                Origin(f"{label} {name}")
                for name in (
                    "instruments",
                    "prices",
                    "benchmark_sector_weights",
                    "etf_holdings",
                    "positions",
                )
            )
        )


@dataclass(frozen=True)
class MarketDataSnapshot:
    """Every table of a source, read and validated as a whole (:func:`validate_snapshot`)."""

    instruments: pd.DataFrame
    prices: pd.DataFrame
    benchmark_sector_weights: pd.DataFrame
    etf_holdings: pd.DataFrame
    positions: pd.DataFrame
    origins: Origins

    def prices_between(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """The rows of ``prices`` with ``start <= date <= end``."""
        dates = self.prices["date"]
        return self.prices.loc[(dates >= start) & (dates <= end)].reset_index(drop=True)


def _require_known(
    origin: Origin, frame: pd.DataFrame, field: str, known: set[str], instruments: Origin
) -> None:
    unknown = ~frame[field].isin(known).to_numpy(dtype=bool)
    if unknown.any():
        symbols = frame.loc[unknown, field].drop_duplicates()
        listed = ", ".join(symbols.head(SHOWN_SYMBOLS))
        more = f" and {len(symbols) - SHOWN_SYMBOLS} more" if len(symbols) > SHOWN_SYMBOLS else ""
        fail_first(
            origin,
            unknown,
            frame[field],
            field,
            f"not an instrument in {instruments.name} ({len(symbols)} unknown symbol(s): "
            f"{listed}{more})",
        )


def validate_snapshot(snapshot: MarketDataSnapshot, *, payloads: bool) -> MarketDataSnapshot:
    """Check every table of ``snapshot`` and the rules across them; return it unchanged.

    ``payloads`` also checks each column's values (a CSV reader has already done that while
    parsing the text, with the text in its messages). Across tables: every price symbol, every
    position and every ETF of ``etf_holdings`` is a symbol of ``instruments`` (an ETF's
    constituents need not be).
    """
    origins = snapshot.origins
    tables = (
        (snapshot.instruments, origins.instruments, INSTRUMENT_COLUMNS, check_instruments),
        (snapshot.prices, origins.prices, PRICE_COLUMNS, check_prices),
        (
            snapshot.benchmark_sector_weights,
            origins.benchmark_sector_weights,
            BENCHMARK_COLUMNS,
            check_benchmark_sector_weights,
        ),
        (snapshot.etf_holdings, origins.etf_holdings, HOLDINGS_COLUMNS, check_etf_holdings),
        (snapshot.positions, origins.positions, POSITION_COLUMNS, check_positions),
    )
    for frame, origin, columns, check in tables:
        if payloads:
            check_values(origin, frame, columns)
            check(origin, frame.reset_index(drop=True))
    known = set(snapshot.instruments["symbol"])
    _require_known(origins.prices, snapshot.prices, "symbol", known, origins.instruments)
    _require_known(origins.positions, snapshot.positions, "symbol", known, origins.instruments)
    _require_known(origins.etf_holdings, snapshot.etf_holdings, "etf", known, origins.instruments)
    return snapshot
