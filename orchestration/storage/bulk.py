"""Bulk writes and reads of DataFrames on SQLite (executemany) and PostgreSQL (binary COPY).

Rows are converted chunk by chunk so memory stays bounded however large the frame is; values
that are the same on every row (source, ingestion time) are passed once as ``constants``. The
caller owns the transaction, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Boolean, Date, DateTime, Double, Float, Integer, Table, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

CHUNK_ROWS = 200_000
Progress = Callable[[int, int], None]


def _postgres_type(column) -> str:
    kind = column.type
    if isinstance(kind, DateTime):
        return "timestamptz" if kind.timezone else "timestamp"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, Double | Float):
        return "float8"
    if isinstance(kind, BigInteger):
        return "int8"
    if isinstance(kind, Integer):
        return "int4"
    if isinstance(kind, Boolean):
        return "bool"
    return "text"


def _sqlite_scalar(value: object) -> object:
    """One value in the form SQLAlchemy's SQLite dialect stores it."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _postgres_scalar(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _column_values(series: pd.Series, column, dialect: str) -> list[object]:
    """Python values of one column, None for missing, in the form the driver expects."""
    missing = series.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        stamps = series.dt.tz_convert("UTC").dt.tz_localize(None) if series.dt.tz else series
        if isinstance(column.type, DateTime):
            if dialect == "sqlite":
                out = stamps.dt.strftime("%Y-%m-%d %H:%M:%S.%f").to_numpy(dtype=object)
            else:
                out = np.array(
                    [v.replace(tzinfo=dt.UTC) for v in stamps.dt.to_pydatetime()], dtype=object
                )
        elif dialect == "sqlite":
            out = stamps.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
        else:
            out = np.array(stamps.dt.date.tolist(), dtype=object)
    elif pd.api.types.is_float_dtype(series.dtype):
        out = series.to_numpy(dtype=np.float64, na_value=np.nan).astype(object)
    elif pd.api.types.is_integer_dtype(series.dtype):
        out = series.to_numpy(dtype=object, na_value=None, copy=True)
        out = np.array([None if v is None else int(v) for v in out], dtype=object)
    elif pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_string_dtype(series):
        out = series.to_numpy(dtype=object, na_value=None, copy=True)
    else:
        convert = _sqlite_scalar if dialect == "sqlite" else _postgres_scalar
        out = np.array([convert(v) for v in series.to_numpy(dtype=object)], dtype=object)
    out[missing] = None
    return out.tolist()


def _in_key_order(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """``frame`` sorted by the table's primary key (B-tree inserts in key order are
    sequential), unless it already is or lacks a key column."""
    keys = [c.name for c in table.primary_key.columns]
    if not keys or any(k not in frame.columns for k in keys) or len(frame) < 2:
        return frame
    codes = [pd.factorize(frame[k], sort=True)[0] for k in reversed(keys)]
    order = np.lexsort(codes)
    if (order[1:] > order[:-1]).all():
        return frame
    return frame.iloc[order]


def insert_frame(
    connection: Connection,
    table: Table,
    frame: pd.DataFrame,
    *,
    constants: Mapping[str, object] | None = None,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> int:
    """Insert every row of ``frame`` (columns by name) into ``table``; return the row count.

    ``constants`` gives columns whose value is the same on every row. SQLite uses the driver's
    ``executemany``; PostgreSQL uses binary ``COPY … FROM STDIN``. Datetimes are stored as UTC;
    float NaN and missing values become NULL.
    """
    constants = dict(constants or {})
    names = [c.name for c in table.columns if c.name in frame.columns or c.name in constants]
    missing = [
        c.name
        for c in table.columns
        if not c.nullable and c.name not in names and c.autoincrement is not True
    ]
    if missing:
        raise ValueError(f"frame for table {table.name} lacks column(s): {', '.join(missing)}")
    dialect = connection.dialect.name
    convert = _sqlite_scalar if dialect == "sqlite" else _postgres_scalar
    fixed = {name: convert(value) for name, value in constants.items()}
    column_list = ", ".join(f'"{c}"' for c in names)
    frame = _in_key_order(frame, table)
    total = len(frame)
    for start in range(0, total, chunk_rows):
        chunk = frame.iloc[start : start + chunk_rows]
        values = [
            itertools.repeat(fixed[name], len(chunk))
            if name in fixed
            else _column_values(chunk[name], table.c[name], dialect)
            for name in names
        ]
        rows = zip(*values, strict=False)
        if dialect == "postgresql":
            cursor = connection.connection.driver_connection.cursor()
            statement = f'COPY "{table.name}" ({column_list}) FROM STDIN (FORMAT BINARY)'
            with cursor.copy(statement) as copy:
                copy.set_types([_postgres_type(table.c[name]) for name in names])
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join("?" for _ in names)
            connection.exec_driver_sql(
                f'INSERT INTO "{table.name}" ({column_list}) VALUES ({placeholders})',
                list(rows),
            )
        if progress is not None:
            progress(min(start + chunk_rows, total), total)
    return total


class RowSpool:
    """Rows of a range computation spooled to disk a chunk at a time, then written in one go.

    A multi-year range over thousands of symbols computes millions of rows (one per symbol and
    as-of date); holding them all, and then their insert, would take gigabytes. Append each
    date's frame (same columns every time) as it is computed: every ``chunk_rows`` rows the
    buffer goes to a temporary pickle and only the ``kept`` columns stay in memory (what the
    caller still reads afterwards, e.g. for checks and metadata); ``transform``, when given,
    is applied to each chunk first (a row-wise fix-up, e.g. masking). :meth:`replace` then
    replaces the rows of the range chunk by chunk on the caller's connection, so the write is
    still one transaction, and removes the files. Peak memory: one chunk plus the kept columns.

    Parameters
    ----------
    kept
        Columns of every appended row to keep in memory (:meth:`kept`).
    chunk_rows
        Rows per spooled chunk.
    transform
        Row-wise function applied to every chunk before it is kept and spooled.
    on_chunk
        Called with every chunk (after ``transform``) before it is spooled: a caller that
        tallies what it needs of the rows chunk by chunk keeps no column at all.
    """

    def __init__(
        self,
        kept: Sequence[str],
        *,
        chunk_rows: int = CHUNK_ROWS,
        transform: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
        on_chunk: Callable[[pd.DataFrame], None] | None = None,
    ) -> None:
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
        self._kept_columns = list(kept)
        self._chunk_rows = chunk_rows
        self._transform = transform
        self._on_chunk = on_chunk
        self._empty: pd.DataFrame | None = None
        self._buffer: list[pd.DataFrame] = []
        self._buffered = 0
        self._kept: dict[str, list[pd.Series]] = {name: [] for name in self._kept_columns}
        self._files: list[Path] = []
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._rows = 0

    def __len__(self) -> int:
        return self._rows

    def append(self, frame: pd.DataFrame) -> None:
        """Add the rows of ``frame``; an empty frame only sets the column types :meth:`kept`
        returns when no row is appended."""
        missing = [name for name in self._kept_columns if name not in frame.columns]
        if missing:
            raise ValueError(f"frame lacks kept column(s): {', '.join(missing)}")
        if frame.empty:
            if self._empty is None:
                self._empty = frame[self._kept_columns]
            return
        self._buffer.append(frame)
        self._buffered += len(frame)
        self._rows += len(frame)
        if self._buffered >= self._chunk_rows:
            self._spill()

    def _spill(self) -> None:
        if not self._buffer:
            return
        chunk = pd.concat(self._buffer, ignore_index=True)
        self._buffer, self._buffered = [], 0
        if self._transform is not None:
            chunk = self._transform(chunk)
        if self._on_chunk is not None:
            self._on_chunk(chunk)
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="portfolio-rows-")
        path = Path(self._folder.name) / f"{len(self._files):06d}.pkl"
        chunk.to_pickle(path)
        self._files.append(path)
        for name in self._kept_columns:
            # a copy: a column shares the chunk's block (copy-on-write) and would keep every
            # column of every chunk alive
            self._kept[name].append(chunk[name].copy())

    def kept(self) -> pd.DataFrame:
        """The kept columns of every row appended so far, in order."""
        self._spill()
        if self._rows:
            columns = {}
            for name in self._kept_columns:
                # one column at a time, its parts dropped as soon as it is joined: the peak is
                # the kept rows plus one column, not twice the kept rows
                parts, self._kept[name] = self._kept[name], []
                joined = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
                self._kept[name] = [joined]
                columns[name] = joined
            return pd.DataFrame(columns, copy=False)
        if self._empty is not None:
            return self._empty.copy()
        return pd.DataFrame(columns=self._kept_columns)

    def replace(
        self,
        connection: Connection,
        table: Table,
        *conditions: object,
        constants: Mapping[str, object] | None = None,
    ) -> int:
        """:func:`replace_rows` of every appended row, one chunk in memory at a time; the
        spooled files are removed afterwards. Returns the row count."""
        statement = table.delete()
        if conditions:
            statement = statement.where(*conditions)
        connection.execute(statement)
        self._spill()
        written = 0
        try:
            for path in self._files:
                written += insert_frame(
                    connection, table, pd.read_pickle(path), constants=constants
                )
        finally:
            self.close()
        return written

    def close(self) -> None:
        """Remove the spooled files (the kept columns stay readable)."""
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None
        self._files = []


def insert_ignoring_conflicts(connection: Connection, table: Table, values: dict) -> bool:
    """Insert one row unless it conflicts with a unique key; True when the row was inserted.

    Concurrent writers of the same key see exactly one ``True`` (PostgreSQL and SQLite both
    implement ``INSERT … ON CONFLICT DO NOTHING``).
    """
    dialect_insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(table).values(**values).on_conflict_do_nothing()
    inserted = connection.execute(statement.returning(*table.primary_key.columns)).first()
    return inserted is not None


def replace_rows(
    connection: Connection,
    table: Table,
    frame: pd.DataFrame,
    *conditions: object,
    constants: Mapping[str, object] | None = None,
    progress: Progress | None = None,
) -> int:
    """Delete the rows of ``table`` matching ``conditions`` (all rows if none), insert ``frame``.

    Runs on the caller's connection, so inside its transaction the replacement is atomic.
    """
    statement = table.delete()
    if conditions:
        statement = statement.where(*conditions)
    connection.execute(statement)
    return insert_frame(connection, table, frame, constants=constants, progress=progress)


def read_frame(connection: Connection, sql: str, params: dict | None = None) -> pd.DataFrame:
    """Run ``sql`` (with ``:name`` parameters) and return the result as a DataFrame."""
    result = connection.execute(text(sql), params or {})
    columns = list(result.keys())
    rows = result.fetchall()
    data = list(zip(*rows, strict=True)) if rows else [[] for _ in columns]
    return pd.DataFrame(dict(zip(columns, data, strict=True)), columns=columns)


def read_price_window(
    connection: Connection,
    start: dt.date,
    end: dt.date,
    symbols: Sequence[str] | None = None,
) -> pd.DataFrame:
    """``date, symbol, close, adj_close`` of every price with ``start <= date <= end`` (of
    ``symbols`` only, when given).

    The hot read path of every panel: raw driver cursor read in chunks on SQLite, ``COPY … TO
    STDOUT`` on PostgreSQL; ``date`` is returned as datetime64. Symbols are held as categories
    while reading, so a multi-million-row window costs a few bytes per row, not a Python string
    per row.
    """
    columns = ["date", "symbol", "close", "adj_close"]
    names = list(symbols) if symbols is not None else None
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        buffer = io.BytesIO()
        where = f"date >= '{start.isoformat()}' AND date <= '{end.isoformat()}'"
        if names is not None:
            quoted = ", ".join("'" + name.replace("'", "''") + "'" for name in names)
            where += f" AND symbol IN ({quoted})"
        query = f"COPY (SELECT date, symbol, close, adj_close FROM prices WHERE {where}) TO STDOUT"
        with cursor.copy(query) as copy:
            for block in copy:
                buffer.write(block)
        buffer.seek(0)
        frame = pd.read_csv(
            buffer,
            sep="\t",
            header=None,
            names=columns,
            na_values=["\\N"],
            keep_default_na=False,
            dtype={"symbol": "category", "close": np.float64, "adj_close": np.float64},
        )
        frame["symbol"] = frame["symbol"].astype(object)
    else:
        cursor = connection.connection.driver_connection.cursor()
        sql = "SELECT date, symbol, close, adj_close FROM prices WHERE date >= ? AND date <= ?"
        params: list[str] = [start.isoformat(), end.isoformat()]
        if names is not None:
            sql += f" AND symbol IN ({', '.join('?' for _ in names)})"
            params += names
        cursor.execute(sql, params)
        parts = []
        while rows := cursor.fetchmany(CHUNK_ROWS):
            parts.append(_compact(pd.DataFrame.from_records(rows, columns=columns)))
        cursor.close()
        if not parts:
            parts.append(_compact(pd.DataFrame({name: [] for name in columns})))
        frame = pd.concat(parts, ignore_index=True)
        frame["symbol"] = frame["symbol"].astype(object)
        return frame
    frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d")
    return frame


def _compact(part: pd.DataFrame) -> pd.DataFrame:
    """A chunk of price rows with typed columns: ``date`` datetime64, ``symbol`` categorical
    (one string object per symbol instead of one per row, which is what bounds the memory of a
    multi-million-row read), prices float64 (NULL → NaN)."""
    part["date"] = pd.to_datetime(part["date"], format="%Y-%m-%d")
    part["symbol"] = part["symbol"].astype("category")
    for name in ("close", "adj_close"):
        part[name] = pd.to_numeric(part[name]).astype(np.float64)
    return part


def _plain(value: object) -> object:
    """A value SQLAlchemy binds as is: NaN, ±inf and NaT become None, numpy scalars Python."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def upsert_rows(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, object]],
    keys: Sequence[str],
) -> int:
    """Insert ``rows`` into ``table``, or update them where a row with the same ``keys`` exists.

    Only the columns the rows carry are written: on an existing row the other columns keep
    their values (several writers can each own a group of columns of one row). Meant for a few
    rows per call (one statement, executemany); every row must carry the same columns. Float
    NaN and ±inf are stored as NULL. Returns the number of rows written.
    """
    if not rows:
        return 0
    columns = list(rows[0])
    unknown = [name for name in columns if name not in table.columns]
    if unknown:
        raise ValueError(f"table {table.name} has no column(s): {', '.join(unknown)}")
    missing = [name for name in keys if name not in columns]
    if missing:
        raise ValueError(f"rows for table {table.name} lack key column(s): {', '.join(missing)}")
    dialect_insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: statement.excluded[name] for name in columns if name not in keys},
    )
    values = [{name: _plain(row[name]) for name in columns} for row in rows]
    connection.execute(statement, values)
    return len(values)
