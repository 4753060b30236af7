"""Bulk writes and reads of DataFrames on SQLite (executemany) and PostgreSQL (COPY).

Rows are converted chunk by chunk so memory stays bounded however large the frame is; the
caller owns the transaction, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Table, text
from sqlalchemy.engine import Connection

CHUNK_ROWS = 200_000
Progress = Callable[[int, int], None]


def _column_values(series: pd.Series, dialect: str) -> list[object]:
    """Python values of one column with None for missing, in the form the driver expects."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        missing = series.isna().to_numpy()
        fmt = "%Y-%m-%d" if (series.dt.normalize() == series).all() else "%Y-%m-%d %H:%M:%S.%f"
        text = series.dt.strftime(fmt).to_numpy(dtype=object)
        text[missing] = None
        return text.tolist()
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        out = values.astype(object)
        out[np.isnan(values)] = None
        return out.tolist()
    if pd.api.types.is_integer_dtype(series.dtype):
        if series.hasnans:
            return [None if pd.isna(v) else int(v) for v in series.astype(object)]
        return series.to_numpy().tolist()
    out = series.to_numpy(dtype=object, copy=True)
    out[pd.isna(out)] = None
    return [v.isoformat() if isinstance(v, dt.date) and dialect == "sqlite" else v for v in out]


def _rows(frame: pd.DataFrame, columns: Sequence[str], dialect: str) -> list[tuple]:
    return list(zip(*(_column_values(frame[c], dialect) for c in columns), strict=True))


def _copy_text(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    out = frame.loc[:, list(columns)]
    for name in columns:
        if pd.api.types.is_datetime64_any_dtype(out[name].dtype):
            series = out[name]
            daily = (series.dt.normalize() == series).all()
            out[name] = series.dt.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M:%S.%f+00")
    out.to_csv(buffer, sep="\t", header=False, index=False, na_rep="\\N", lineterminator="\n")
    return buffer.getvalue()


def insert_frame(
    connection: Connection,
    table: Table,
    frame: pd.DataFrame,
    *,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> int:
    """Insert every row of ``frame`` into ``table`` (columns by name); return the row count.

    SQLite uses the driver's ``executemany``; PostgreSQL uses ``COPY … FROM STDIN``. Datetime
    columns must hold UTC timestamps; float NaN and missing values become NULL.
    """
    columns = [c.name for c in table.columns if c.name in frame.columns]
    missing = [c.name for c in table.columns if not c.nullable and c.name not in frame.columns]
    if missing:
        raise ValueError(f"frame for table {table.name} lacks column(s): {', '.join(missing)}")
    total = len(frame)
    dialect = connection.dialect.name
    column_list = ", ".join(f'"{c}"' for c in columns)
    for start in range(0, total, chunk_rows):
        chunk = frame.iloc[start : start + chunk_rows]
        if dialect == "postgresql":
            cursor = connection.connection.driver_connection.cursor()
            with cursor.copy(f'COPY "{table.name}" ({column_list}) FROM STDIN') as copy:
                copy.write(_copy_text(chunk, columns))
        else:
            placeholders = ", ".join("?" for _ in columns)
            connection.exec_driver_sql(
                f'INSERT INTO "{table.name}" ({column_list}) VALUES ({placeholders})',
                _rows(chunk, columns, dialect),
            )
        if progress is not None:
            progress(min(start + chunk_rows, total), total)
    return total


def read_frame(connection: Connection, sql: str, params: dict | None = None) -> pd.DataFrame:
    """Run ``sql`` (with ``:name`` parameters) and return the result as a DataFrame."""
    result = connection.execute(text(sql), params or {})
    columns = list(result.keys())
    # Plain tuples: pandas probes each row with hasattr, which on SQLAlchemy rows goes through
    # a slow exception path (about 15 µs per row).
    return pd.DataFrame([tuple(row) for row in result.fetchall()], columns=columns)


def replace_rows(
    connection: Connection,
    table: Table,
    frame: pd.DataFrame,
    *conditions: object,
    progress: Progress | None = None,
) -> int:
    """Delete the rows of ``table`` matching ``conditions`` (all rows if none), insert ``frame``.

    Runs on the caller's connection, so inside its transaction the replacement is atomic.
    """
    statement = table.delete()
    if conditions:
        statement = statement.where(*conditions)
    connection.execute(statement)
    return insert_frame(connection, table, frame, progress=progress)
