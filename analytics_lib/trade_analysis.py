"""Trade analysis: executions -> FIFO realized trades, plus ticker and company-name helpers.

Conventions (seed 004 "Trading Analysis Enhancement Plan", section "Conventions & Edge Cases"):

* Sign convention: ``quantity`` is the source of truth for direction (positive = long, negative =
  short); ``cost_basis = quantity * entry_price`` is positive for a long and negative for a
  short; ``entry_price`` is always positive; the value of a position at price :math:`p` is
  ``quantity * p`` and its P&L is that value minus ``cost_basis``, for longs and shorts alike.
* Ticker normalization: upper case, surrounding whitespace removed, one exchange / OTC suffix
  (``.TO``, ``.V``, ``.OB``, ``.PK``) removed.
* Company names: provider name, then the instruments table's name, then the normalized ticker;
  the first non-empty one wins.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from analytics_lib._typing import FloatArray
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.validation import require_columns, require_frame

__all__ = [
    "OPEN_LOT_COLUMNS",
    "POSITION_COLUMNS",
    "QUANTITY_TOLERANCE",
    "REALIZED_COLUMNS",
    "TICKER_SUFFIXES",
    "TRANSACTION_COLUMNS",
    "TRANSACTION_SIDES",
    "Direction",
    "FifoResult",
    "TransactionSide",
    "match_fifo",
    "normalize_ticker",
    "resolve_names",
    "validate_transactions",
]

TransactionSide: TypeAlias = Literal["buy", "sell"]
TRANSACTION_SIDES: tuple[str, ...] = ("buy", "sell")
Direction: TypeAlias = Literal["long", "short"]

TICKER_SUFFIXES: tuple[str, ...] = (".TO", ".V", ".OB", ".PK")
"""Exchange (TSX ``.TO``, TSX Venture ``.V``) and OTC (``.OB``, ``.PK``) suffixes removed by
:func:`normalize_ticker`."""

TRANSACTION_COLUMNS: tuple[str, ...] = (
    "account",
    "trade_id",
    "datetime",
    "symbol",
    "side",
    "quantity",
    "price",
    "fees",
    "currency",
)

REALIZED_COLUMNS: tuple[str, ...] = (
    "account",
    "currency",
    "symbol",
    "direction",
    "open_trade_id",
    "close_trade_id",
    "open_datetime",
    "close_datetime",
    "holding_days",
    "quantity",
    "entry_price",
    "exit_price",
    "cost_basis",
    "proceeds",
    "fees",
    "pnl",
    "pnl_pct",
)

OPEN_LOT_COLUMNS: tuple[str, ...] = (
    "account",
    "currency",
    "symbol",
    "direction",
    "open_trade_id",
    "open_datetime",
    "quantity",
    "entry_price",
    "cost_basis",
    "fees",
)

POSITION_COLUMNS: tuple[str, ...] = ("account", "symbol", "quantity", "cost_basis", "currency")

QUANTITY_TOLERANCE: Final = 1e-9
"""Lots and unmatched remainders of at most this many shares count as closed, so floating-point
dust (``0.3 - 0.1 - 0.2``) never leaves a phantom lot behind."""

_KEY: Final = ["account", "currency", "symbol"]


# --------------------------------------------------------------------------------------------
# Tickers and names
# --------------------------------------------------------------------------------------------


def normalize_ticker(symbol: str) -> str:
    """Normalize a ticker for display and name look-ups.

    Parameters
    ----------
    symbol
        A ticker as a provider reports it, e.g. ``" shop.to "``.

    Returns
    -------
    str
        ``symbol`` upper-cased with surrounding whitespace removed and then one trailing
        suffix from :data:`TICKER_SUFFIXES` removed: ``"shop.to"`` -> ``"SHOP"``,
        ``"ABC.V"`` -> ``"ABC"``, ``"xyz.ob"`` -> ``"XYZ"``, ``"BRK.B"`` -> ``"BRK.B"``.
        A ticker carries at most one exchange suffix, so only one is removed (``"A.PK.TO"``
        -> ``"A.PK"``).

    Raises
    ------
    AnalyticsError
        ``symbol`` is not a string, or is empty (or only a suffix) once normalized.
    """
    if not isinstance(symbol, str):
        raise AnalyticsError(f"symbol must be a string, got {type(symbol).__name__}")
    ticker = symbol.strip().upper()
    for suffix in TICKER_SUFFIXES:
        if ticker.endswith(suffix):
            ticker = ticker[: -len(suffix)].rstrip()
            break
    if not ticker:
        raise AnalyticsError(f"symbol {symbol!r} is empty once normalized")
    return ticker


def _clean_name(value: object, mapping_name: str, key: object) -> str:
    """A name stripped of whitespace; '' for None, NaN or blank; raise for non-strings."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if not isinstance(value, str):
        raise AnalyticsError(
            f"{mapping_name}[{key!r}] must be a string or None, got {type(value).__name__}"
        )
    return value.strip()


def _name_index(mapping: object, mapping_name: str) -> tuple[dict[str, str], dict[str, str]]:
    """(exact symbol -> name, normalized ticker -> first non-empty name) of one name source."""
    if not isinstance(mapping, Mapping):
        raise AnalyticsError(
            f"{mapping_name} must be a mapping of symbol -> name, got {type(mapping).__name__}"
        )
    exact: dict[str, str] = {}
    by_ticker: dict[str, str] = {}
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise AnalyticsError(
                f"{mapping_name} keys must be symbol strings, got {type(key).__name__}"
            )
        name = _clean_name(value, mapping_name, key)
        if not name:
            continue
        exact[key] = name
        try:
            ticker = normalize_ticker(key)
        except AnalyticsError:
            raise AnalyticsError(f"{mapping_name} has an empty symbol key {key!r}") from None
        by_ticker.setdefault(ticker, name)
    return exact, by_ticker


def resolve_names(
    symbols: Iterable[str],
    provider_names: Mapping[str, str | None],
    instrument_names: Mapping[str, str | None],
) -> dict[str, str]:
    """Company name of each symbol: provider name -> instruments name -> normalized ticker.

    Parameters
    ----------
    symbols
        Symbols to name (any iterable of strings except a bare string).
    provider_names
        Names from the broker / data provider (Plaid ``securities[].name``, SnapTrade
        ``symbol.description``), keyed by the provider's symbol.
    instrument_names
        Names from the instruments table (``instruments.name``), keyed by symbol.

    Returns
    -------
    dict
        ``{symbol: name}`` for every distinct symbol, in first-seen order. Each source is looked
        up by the symbol exactly as given, then by its normalized ticker
        (:func:`normalize_ticker`), so ``"SHOP.TO"`` finds a name keyed ``"SHOP"`` and vice
        versa. The first non-empty (after stripping whitespace; ``None``/NaN count as empty)
        name wins: provider, then instruments, then the normalized ticker itself. When several
        keys of one source normalize to the same ticker, the first non-empty one in the
        source's iteration order wins.

    Raises
    ------
    AnalyticsError
        ``symbols`` is a bare string or holds a non-string / empty symbol; a source is not a
        mapping, has a non-string key or a non-string, non-None name.
    """
    if isinstance(symbols, str) or not isinstance(symbols, Iterable):
        raise AnalyticsError("symbols must be an iterable of symbol strings (not a bare string)")
    sources = [
        _name_index(provider_names, "provider_names"),
        _name_index(instrument_names, "instrument_names"),
    ]
    names: dict[str, str] = {}
    for symbol in symbols:
        if symbol in names:
            continue
        ticker = normalize_ticker(symbol)
        resolved = ticker
        for exact, by_ticker in sources:
            found = exact.get(symbol) or by_ticker.get(ticker)
            if found:
                resolved = found
                break
        names[symbol] = resolved
    return names


# --------------------------------------------------------------------------------------------
# Transactions
# --------------------------------------------------------------------------------------------


def _row_error(frame: pd.DataFrame, position: int, field: str, problem: str) -> AnalyticsError:
    """An error naming the row label, its trade_id and the field."""
    label = frame.index[position]
    if isinstance(label, np.generic):
        label = label.item()
    trade_id = frame["trade_id"].iloc[position]
    if isinstance(trade_id, np.generic):
        trade_id = trade_id.item()
    return AnalyticsError(f"transactions row {label!r} (trade_id {trade_id!r}): {field} {problem}")


def _check_strings(frame: pd.DataFrame, field: str) -> None:
    values = frame[field].tolist()
    ok = [isinstance(v, str) and bool(v.strip()) for v in values]
    if not all(ok):
        position = ok.index(False)
        raise _row_error(
            frame, position, field, f"must be a non-empty string, got {values[position]!r}"
        )


def _check_numbers(frame: pd.DataFrame, field: str, *, strictly_positive: bool) -> FloatArray:
    column = frame[field]
    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        raise AnalyticsError(
            f"transactions field {field} must have a numeric dtype, got {column.dtype}"
        )
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values) | ((values <= 0.0) if strictly_positive else (values < 0.0))
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        bound = "> 0" if strictly_positive else ">= 0"
        raise _row_error(
            frame,
            position,
            field,
            f"must be a finite number {bound}, got {float(values[position])!r}",
        )
    return values


def validate_transactions(transactions: pd.DataFrame) -> pd.DataFrame:
    """Validate executions and return a clean copy with the :data:`TRANSACTION_COLUMNS`.

    Parameters
    ----------
    transactions
        One row per execution with columns :data:`TRANSACTION_COLUMNS` (others are dropped):
        ``account``, ``symbol``, ``currency`` non-empty strings; ``trade_id`` all strings or all
        integers, unique within an account; ``datetime`` a datetime64 column (tz-naive or
        tz-aware) without NaT; ``side`` exactly ``"buy"`` or ``"sell"``; ``quantity`` and
        ``price`` finite and > 0; ``fees`` finite and >= 0 (commissions plus other charges, in
        ``currency``).

    Returns
    -------
    DataFrame
        A new frame, same index, columns in :data:`TRANSACTION_COLUMNS` order, ``quantity``,
        ``price`` and ``fees`` as float64. The input is never modified.

    Raises
    ------
    AnalyticsError
        Not a DataFrame or a column missing; otherwise the first offending row, named by its
        index label and trade_id, with the field and the bad value.
    """
    frame = require_frame(transactions, "transactions")
    require_columns(frame, TRANSACTION_COLUMNS, "transactions")
    frame = frame.loc[:, list(TRANSACTION_COLUMNS)].copy()

    trade_ids = frame["trade_id"].tolist()
    is_str = [isinstance(v, str) for v in trade_ids]
    is_int = [isinstance(v, int | np.integer) and not isinstance(v, bool) for v in trade_ids]
    kind_ok = is_str if trade_ids and is_str[0] else is_int
    if not all(kind_ok):
        position = kind_ok.index(False)
        raise _row_error(
            frame,
            position,
            "trade_id",
            "must be a string or an integer, the same type on "
            f"every row, got {trade_ids[position]!r}",
        )
    for field in ("account", "symbol", "currency"):
        _check_strings(frame, field)
    duplicated = frame.duplicated(["account", "trade_id"]).to_numpy()
    if duplicated.any():
        position = int(np.flatnonzero(duplicated)[0])
        raise _row_error(frame, position, "trade_id", "is duplicated within its account")

    if not pd.api.types.is_datetime64_any_dtype(frame["datetime"]):
        raise AnalyticsError(
            "transactions field datetime must have a datetime64 dtype (use pd.to_datetime), "
            f"got {frame['datetime'].dtype}"
        )
    missing = frame["datetime"].isna().to_numpy()
    if missing.any():
        raise _row_error(frame, int(np.flatnonzero(missing)[0]), "datetime", "is missing (NaT)")

    sides = frame["side"].isin(TRANSACTION_SIDES).to_numpy()
    if not sides.all():
        position = int(np.flatnonzero(~sides)[0])
        raise _row_error(
            frame,
            position,
            "side",
            f"must be 'buy' or 'sell', got {frame['side'].iloc[position]!r}",
        )
    frame["quantity"] = _check_numbers(frame, "quantity", strictly_positive=True)
    frame["price"] = _check_numbers(frame, "price", strictly_positive=True)
    frame["fees"] = _check_numbers(frame, "fees", strictly_positive=False)
    return frame


# --------------------------------------------------------------------------------------------
# FIFO matching
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FifoResult:
    """Realized trades and remaining open lots from :func:`match_fifo`.

    Attributes
    ----------
    realized
        One row per (opening lot, closing execution) match, columns :data:`REALIZED_COLUMNS`:

        * ``direction``: ``"long"`` (a buy closed by a sell) or ``"short"`` (a sell closed by a
          buy); ``open_trade_id`` / ``close_trade_id``: the two executions.
        * ``holding_days``: calendar days between the open date and the close date
          (``close_datetime`` and ``open_datetime`` truncated to their dates, in their own time
          zone); 0 for a same-day round trip.
        * ``quantity`` :math:`q > 0` matched shares; ``entry_price`` :math:`p_o` and
          ``exit_price`` :math:`p_c` the execution prices (fees not folded in).
        * with :math:`s = +1` for a long and :math:`-1` for a short (seed sign convention):
          ``cost_basis`` :math:`= s\\,p_o q`, ``proceeds`` (the signed closing value)
          :math:`= s\\,p_c q`, ``fees`` :math:`= q\\,(f_o/Q_o + f_c/Q_c)` (the pro-rata
          shares of the opening and the closing execution's fees),
          ``pnl`` :math:`=` ``proceeds`` :math:`-` ``cost_basis`` :math:`-` ``fees``, i.e.
          :math:`(p_c-p_o)q-\\text{fees}` long and :math:`(p_o-p_c)q-\\text{fees}` short,
          ``pnl_pct`` :math:`= 100\\,\\text{pnl}/|\\text{cost\\_basis}|` (NaN when the cost
          basis is 0, which validated prices > 0 rule out).

        Rows are in closing order: by closing execution (datetime, then trade_id), and within
        one execution by the FIFO order of the lots it closed.
    open_lots
        The lots still open, columns :data:`OPEN_LOT_COLUMNS`, sorted by (account, currency,
        symbol) then FIFO order: ``quantity`` signed (short negative), ``cost_basis`` =
        ``quantity`` × ``entry_price`` (signed, fees excluded), ``fees`` the opening fees not
        yet allocated to a realized trade.
    """

    realized: pd.DataFrame
    open_lots: pd.DataFrame

    @property
    def positions(self) -> pd.DataFrame:
        """Open position per (account, currency, symbol): columns :data:`POSITION_COLUMNS`.

        ``quantity`` and ``cost_basis`` are the sums over the open lots (signed; the
        :func:`analytics_lib.performance.positions_pnl` input shape).
        """
        lots = self.open_lots
        grouped = lots.groupby(_KEY, sort=True, as_index=False)[["quantity", "cost_basis"]].sum()
        return grouped.loc[:, list(POSITION_COLUMNS)].reset_index(drop=True)


def match_fifo(transactions: pd.DataFrame) -> FifoResult:
    """Match executions first-in first-out into realized trades, longs and shorts alike.

    Parameters
    ----------
    transactions
        Executions, see :func:`validate_transactions`.

    Returns
    -------
    FifoResult
        Realized trades and open lots (definitions on :class:`FifoResult`).

    Notes
    -----
    Executions are processed in (``datetime``, ``trade_id``) order, separately for every
    (``account``, ``currency``, ``symbol``): accounts and currencies are never mixed. Each book
    holds lots of one sign. An execution first closes lots of the opposite sign, oldest first,
    splitting the last lot it touches when it closes only part of it; whatever is left opens a
    new lot in its own direction. So a sell with no long lot opens a short, a buy covers shorts
    first, and one sell larger than the long position closes it and opens a short (a flip).

    Fees are allocated pro rata to quantity: a match of :math:`q` shares carries
    :math:`q/Q_o` of the opening execution's fees and :math:`q/Q_c` of the closing one's, both
    on the realized trade. The share of an execution's fees that opens a lot stays on the lot
    until it is closed, so realized ``fees`` plus open-lot ``fees`` equal the total fees.

    Remainders of at most :data:`QUANTITY_TOLERANCE` shares are treated as zero.

    Raises
    ------
    AnalyticsError
        Invalid transactions (see :func:`validate_transactions`).
    """
    frame = validate_transactions(transactions)
    frame = frame.sort_values(["datetime", "trade_id"], kind="stable").reset_index(drop=True)
    codes = frame.groupby(_KEY, sort=True).ngroup().to_numpy()
    n_books = int(codes.max()) + 1 if len(codes) else 0

    quantities = frame["quantity"].to_numpy()
    fee_per_share = (frame["fees"].to_numpy() / quantities).tolist()
    signs = np.where(frame["side"].to_numpy() == "buy", 1, -1).tolist()

    books: list[deque[list[Any]]] = [deque() for _ in range(n_books)]
    open_rows: list[int] = []
    close_rows: list[int] = []
    matched: list[float] = []
    tol = QUANTITY_TOLERANCE
    for row, (code, sign, remaining) in enumerate(
        zip(codes.tolist(), signs, quantities.tolist(), strict=True)
    ):
        book = books[code]
        # a book holds lots of one sign: [remaining quantity, sign, opening row]
        while book and remaining > tol and book[0][1] != sign:
            lot = book[0]
            take = lot[0] if lot[0] <= remaining else remaining
            open_rows.append(lot[2])
            close_rows.append(row)
            matched.append(take)
            lot[0] -= take
            remaining -= take
            if lot[0] <= tol:
                book.popleft()
        if remaining > tol:
            book.append([remaining, sign, row])

    realized = _realized_frame(
        frame,
        np.asarray(open_rows, dtype=np.int64),
        np.asarray(close_rows, dtype=np.int64),
        np.asarray(matched, dtype=np.float64),
        fee_per_share,
    )
    lot_rows = [lot[2] for book in books for lot in book]
    lot_quantities = [lot[0] * lot[1] for book in books for lot in book]
    open_lots = _open_lot_frame(
        frame,
        np.asarray(lot_rows, dtype=np.int64),
        np.asarray(lot_quantities, dtype=np.float64),
        fee_per_share,
    )
    return FifoResult(realized=realized, open_lots=open_lots)


def _realized_frame(
    frame: pd.DataFrame,
    open_rows: npt.NDArray[np.int64],
    close_rows: npt.NDArray[np.int64],
    quantity: FloatArray,
    fee_per_share: list[float],
) -> pd.DataFrame:
    fps = np.asarray(fee_per_share, dtype=np.float64)
    side = frame["side"].to_numpy()
    sign = np.where(side[open_rows] == "buy", 1.0, -1.0)
    entry = frame["price"].to_numpy()[open_rows]
    exit_ = frame["price"].to_numpy()[close_rows]
    cost_basis = sign * entry * quantity
    proceeds = sign * exit_ * quantity
    fees = quantity * (fps[open_rows] + fps[close_rows])
    pnl = proceeds - cost_basis - fees
    abs_cost = np.abs(cost_basis)
    with np.errstate(divide="ignore", invalid="ignore"):
        pnl_pct = np.where(
            abs_cost > 0.0, pnl / np.where(abs_cost > 0.0, abs_cost, 1.0) * 100.0, np.nan
        )
    opened = frame["datetime"].iloc[open_rows].reset_index(drop=True)
    closed = frame["datetime"].iloc[close_rows].reset_index(drop=True)
    holding_days = (closed.dt.normalize() - opened.dt.normalize()).dt.days.astype(np.int64)
    return pd.DataFrame(
        {
            "account": frame["account"].to_numpy()[close_rows],
            "currency": frame["currency"].to_numpy()[close_rows],
            "symbol": frame["symbol"].to_numpy()[close_rows],
            "direction": np.where(sign > 0, "long", "short").astype(object),
            "open_trade_id": frame["trade_id"].to_numpy()[open_rows],
            "close_trade_id": frame["trade_id"].to_numpy()[close_rows],
            "open_datetime": opened,
            "close_datetime": closed,
            "holding_days": holding_days.to_numpy(),
            "quantity": quantity,
            "entry_price": entry,
            "exit_price": exit_,
            "cost_basis": cost_basis,
            "proceeds": proceeds,
            "fees": fees,
            "pnl": pnl,
            "pnl_pct": pnl_pct,
        },
        columns=list(REALIZED_COLUMNS),
    )


def _open_lot_frame(
    frame: pd.DataFrame,
    rows: npt.NDArray[np.int64],
    quantity: FloatArray,
    fee_per_share: list[float],
) -> pd.DataFrame:
    fps = np.asarray(fee_per_share, dtype=np.float64)
    entry = frame["price"].to_numpy()[rows]
    return pd.DataFrame(
        {
            "account": frame["account"].to_numpy()[rows],
            "currency": frame["currency"].to_numpy()[rows],
            "symbol": frame["symbol"].to_numpy()[rows],
            "direction": np.where(quantity > 0, "long", "short").astype(object),
            "open_trade_id": frame["trade_id"].to_numpy()[rows],
            "open_datetime": frame["datetime"].iloc[rows].reset_index(drop=True),
            "quantity": quantity,
            "entry_price": entry,
            "cost_basis": quantity * entry,
            "fees": np.abs(quantity) * fps[rows],
        },
        columns=list(OPEN_LOT_COLUMNS),
    )
