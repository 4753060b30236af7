"""Where executions come from: the broker (paper ledger or Interactive Brokers) and CSV files.

Every source answers one question, :meth:`TransactionSource.transactions`: a frame with
:data:`analytics_lib.trade_analysis.TRANSACTION_COLUMNS` plus ``source``, ``order_ref`` and
``name`` (the provider's company name, when it gave one), validated by
:func:`analytics_lib.trade_analysis.validate_transactions`.

``transactions.csv`` (``account,trade_id,datetime,symbol,side,quantity,price,fees,currency``) is
read like the market-data CSV files: the whole file is parsed and validated before anything is
returned, and the first problem raises :class:`CsvFormatError` naming the file, the line (the
header is line 1) and the field. ``datetime`` is ISO 8601 (``2024-03-28``,
``2024-03-28 15:30:00``, ``2024-03-28T15:30:00-04:00``); values without an offset are UTC.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import pandas as pd

from analytics_lib.trade_analysis import TRANSACTION_COLUMNS, validate_transactions
from orchestration.defs.market_data.csv_source import SYMBOL_PATTERN, CsvFormatError
from orchestration.resources.broker import Broker, Execution

TRANSACTIONS_FILE = "transactions.csv"
TRANSACTION_RECORD_COLUMNS = (*TRANSACTION_COLUMNS, "source", "order_ref", "name")
CSV_SOURCE = "csv"
CURRENCY_PATTERN = r"[A-Z]{3}"
_TEXT_LIMITS = {"account": 64, "trade_id": 128}


class TransactionSource(ABC):
    """Executions of one origin; ``label`` is what the ``source`` column records."""

    label: str

    @abstractmethod
    def transactions(self) -> pd.DataFrame:
        """Validated executions, columns :data:`TRANSACTION_RECORD_COLUMNS`."""


def empty_transactions() -> pd.DataFrame:
    """A frame with the record columns and no rows (datetime as UTC datetime64)."""
    frame = pd.DataFrame({name: pd.Series(dtype=object) for name in TRANSACTION_RECORD_COLUMNS})
    frame["datetime"] = pd.Series(dtype="datetime64[ns, UTC]")
    for name in ("quantity", "price", "fees"):
        frame[name] = pd.Series(dtype=np.float64)
    return frame


def _records(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` validated by the kernel, with the record columns in order."""
    clean = validate_transactions(frame)
    for name in ("source", "order_ref", "name"):
        clean[name] = frame[name].to_numpy(dtype=object) if name in frame else None
    return clean.loc[:, list(TRANSACTION_RECORD_COLUMNS)].reset_index(drop=True)


class BrokerTransactions(TransactionSource):
    """The broker's executions (:meth:`Broker.executions`): the paper broker's fills from its
    ledger, or the fills IB reports (``reqExecutions``, the days TWS keeps).

    An execution is the transaction ``trade_id`` = the broker's execution id, ``fees`` = its
    commission, ``account`` / ``currency`` = the broker's when the execution carries them, else
    the account summary's. An execution whose commission the broker has not reported yet is
    left out (:attr:`awaiting_commission` counts them) and picked up by the next run, never
    recorded with made-up fees.
    """

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self.label = broker.name
        self.awaiting_commission = 0

    def transactions(self) -> pd.DataFrame:
        executions = self._broker.executions()
        summary = self._broker.account_summary()
        known = [e for e in executions if e.commission is not None]
        self.awaiting_commission = len(executions) - len(known)
        if not known:
            return empty_transactions()
        return _records(
            pd.DataFrame([self._row(e, summary.account, summary.currency) for e in known])
        )

    def _row(self, execution: Execution, account: str, currency: str) -> dict[str, object]:
        return {
            "account": execution.account or account,
            "trade_id": execution.execution_id,
            "datetime": pd.Timestamp(execution.time).tz_convert("UTC"),
            "symbol": execution.symbol,
            "side": execution.side.value.lower(),
            "quantity": float(execution.quantity),
            "price": float(execution.price),
            "fees": float(execution.commission or 0.0),
            "currency": execution.currency or currency,
            "source": self.label,
            "order_ref": execution.order_ref or None,
            "name": None,
        }


class CsvTransactions(TransactionSource):
    """``transactions.csv`` (module docstring): one row per execution, unique by
    (account, trade_id) within the file."""

    label = CSV_SOURCE

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def transactions(self) -> pd.DataFrame:
        return read_transactions(self.path)


def _fail(path: Path, bad: np.ndarray, text: pd.Series, field: str, problem: str) -> None:
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise CsvFormatError(path, row + 2, field, f"{problem} (got {text.iloc[row]!r})")


def _number(path: Path, text: pd.Series, field: str, *, strictly_positive: bool) -> np.ndarray:
    values = pd.to_numeric(text, errors="coerce").astype(np.float64).to_numpy()
    _fail(path, ~np.isfinite(values), text, field, "not a number")
    if strictly_positive:
        _fail(path, values <= 0, text, field, "must be > 0")
    else:
        _fail(path, values < 0, text, field, "must be >= 0")
    return values


def read_transactions(path: Path) -> pd.DataFrame:
    """Parse and validate ``transactions.csv`` (module docstring); raise :class:`CsvFormatError`
    at the first bad file, header, line or field."""
    if not path.is_file():
        raise CsvFormatError(path, None, None, "file not found")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        raise CsvFormatError(path, 1, None, "file is empty; expected a header row") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CsvFormatError(path, None, None, f"cannot be parsed: {exc}") from None
    expected = list(TRANSACTION_COLUMNS)
    unknown = [c for c in raw.columns if c not in expected]
    if unknown:
        raise CsvFormatError(
            path, 1, unknown[0], f"unknown column; expected columns: {', '.join(expected)}"
        )
    absent = [c for c in expected if c not in raw.columns]
    if absent:
        raise CsvFormatError(path, 1, absent[0], "required column missing from the header")
    text = {name: raw[name].str.strip() for name in expected}
    for name in expected:
        _fail(path, (text[name] == "").to_numpy(), text[name], name, "value is required")
    for name, limit in _TEXT_LIMITS.items():
        too_long = (text[name].str.len() > limit).to_numpy()
        _fail(path, too_long, text[name], name, f"longer than {limit} characters")
    symbols = text["symbol"]
    bad = ~symbols.map(lambda s: bool(SYMBOL_PATTERN.match(s))).to_numpy(dtype=bool)
    _fail(path, bad, symbols, "symbol", "not an uppercase ticker symbol")
    _fail(
        path,
        ~text["side"].isin(["buy", "sell"]).to_numpy(),
        text["side"],
        "side",
        "must be one of: buy, sell",
    )
    currency = text["currency"]
    _fail(
        path,
        ~currency.str.fullmatch(CURRENCY_PATTERN).to_numpy(dtype=bool),
        currency,
        "currency",
        "not a 3-letter ISO code",
    )
    stamps = pd.to_datetime(text["datetime"], format="ISO8601", utc=True, errors="coerce")
    _fail(
        path,
        stamps.isna().to_numpy(),
        text["datetime"],
        "datetime",
        "not an ISO 8601 date or date-time",
    )
    frame = pd.DataFrame(
        {
            "account": text["account"].astype(object),
            "trade_id": text["trade_id"].astype(object),
            "datetime": stamps,
            "symbol": symbols.astype(object),
            "side": text["side"].astype(object),
            "quantity": _number(path, text["quantity"], "quantity", strictly_positive=True),
            "price": _number(path, text["price"], "price", strictly_positive=True),
            "fees": _number(path, text["fees"], "fees", strictly_positive=False),
            "currency": currency.astype(object),
        }
    )
    duplicated = frame.duplicated(["account", "trade_id"]).to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        account, trade_id = frame["account"].iloc[row], frame["trade_id"].iloc[row]
        first = int(
            np.flatnonzero(
                ((frame["account"] == account) & (frame["trade_id"] == trade_id)).to_numpy()
            )[0]
        )
        raise CsvFormatError(
            path,
            row + 2,
            "trade_id",
            f"duplicate key (account={account}, trade_id={trade_id}); first seen on line "
            f"{first + 2}",
        )
    frame["source"] = CSV_SOURCE
    frame["order_ref"] = None
    frame["name"] = None
    return _records(frame)
