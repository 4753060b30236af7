"""Basket management: create, list, show, update, delete and seed from ETF holdings.

The CLI and the Dagster jobs call these functions. Every command validates completely before it
writes, and writes in one transaction, so a rejected command changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from analytics_lib.baskets import (
    ETF_DEFAULT_TOP_N,
    BasketDefinition,
    etf_basket_weights,
    resolve_weights,
    validate_basket_definition,
    validate_basket_name,
)
from analytics_lib.factors import STANDARD_PROXIES
from orchestration.clock import naive_utc, utc_now
from orchestration.storage.models import Basket, BasketAnalyticsRow, BasketReturn, Instrument

if TYPE_CHECKING:
    from orchestration.resources.database import Database

TABLE = Basket.__table__
DERIVED_TABLES = (BasketReturn.__table__, BasketAnalyticsRow.__table__)
RESERVED_NAMES = frozenset(s for symbols in STANDARD_PROXIES.values() for s in symbols)


class BasketError(ValueError):
    """A basket command that cannot be carried out (unknown name, name taken, …)."""


@dataclass(frozen=True)
class BasketRecord:
    """A stored basket."""

    name: str
    description: str | None
    tickers: tuple[str, ...]
    weights: tuple[float, ...] | None
    method: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def definition(self) -> BasketDefinition:
        """The validated definition (tickers, method, custom weights)."""
        return BasketDefinition(tickers=self.tickers, method=self.method, weights=self.weights)

    @property
    def version(self) -> str:
        """Data version: a hash of the name and the last update time."""
        return basket_version(self.name, self.updated_at)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready representation."""
        return {
            "name": self.name,
            "description": self.description,
            "tickers": list(self.tickers),
            "weights": list(self.weights) if self.weights is not None else None,
            "method": self.method,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "version": self.version,
        }


def basket_version(name: str, updated_at: dt.datetime) -> str:
    """The data version of a basket: sha256 of ``name|updated_at`` (first 16 hex digits)."""
    stamp = naive_utc(updated_at).isoformat()
    return hashlib.sha256(f"{name}|{stamp}".encode()).hexdigest()[:16]


def _record(row) -> BasketRecord:
    weights = row.weights
    return BasketRecord(
        name=row.name,
        description=row.description,
        tickers=tuple(row.tickers),
        weights=tuple(float(w) for w in weights) if weights is not None else None,
        method=row.weighting_method,
        created_at=naive_utc(row.created_at),
        updated_at=naive_utc(row.updated_at),
    )


def _known_symbols(connection: Connection) -> set[str]:
    symbols = connection.execute(select(Instrument.__table__.c.symbol)).scalars().all()
    if not symbols:
        raise BasketError(
            "no instruments are loaded yet; materialize `instruments` (e.g. `portfolio run`) "
            "before creating baskets"
        )
    return set(symbols)


def _fetch(connection: Connection, name: str) -> BasketRecord:
    row = connection.execute(select(TABLE).where(TABLE.c.name == name)).first()
    if row is None:
        raise BasketError(f"basket {name!r} does not exist")
    return _record(row)


def list_baskets(database: Database) -> list[BasketRecord]:
    """Every basket, by name."""
    with database.engine.connect() as connection:
        rows = connection.execute(select(TABLE).order_by(TABLE.c.name)).all()
    return [_record(row) for row in rows]


def get_basket(database: Database, name: str) -> BasketRecord:
    """The basket called ``name``; :class:`BasketError` when there is none."""
    with database.engine.connect() as connection:
        return _fetch(connection, name)


def get_baskets(database: Database, names: Sequence[str]) -> list[BasketRecord]:
    """The baskets called ``names``, in that order; :class:`BasketError` naming every name
    without a basket."""
    with database.engine.connect() as connection:
        rows = connection.execute(select(TABLE).where(TABLE.c.name.in_(list(names)))).all()
    by_name = {row.name: _record(row) for row in rows}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise BasketError(f"no basket named {', '.join(repr(n) for n in missing)}")
    return [by_name[name] for name in names]


def _validated(
    connection: Connection,
    tickers: Sequence[str],
    method: str,
    weights: Sequence[float] | None,
) -> BasketDefinition:
    return validate_basket_definition(
        tickers=list(tickers),
        weights=list(weights) if weights is not None else None,
        method=method,
        known_symbols=_known_symbols(connection),
    )


def _require_name(name: str) -> None:
    validate_basket_name(name)
    if "..." in name:
        raise BasketError(
            f"name {name!r} contains '...', which Dagster reserves for partition ranges "
            "(each basket is a partition named after it)"
        )
    if name in RESERVED_NAMES:
        raise BasketError(
            f"name {name!r} is a standard factor proxy; the factor returns panel would have two "
            "columns of that name — choose another name"
        )


def _require_description(description: str | None) -> str | None:
    if description is not None and len(description) > 2000:
        raise BasketError(f"description is {len(description)} characters; the maximum is 2000")
    return description


def create_basket(
    database: Database,
    name: str,
    tickers: Sequence[str],
    *,
    method: str = "equal",
    weights: Sequence[float] | None = None,
    description: str | None = None,
) -> BasketRecord:
    """Validate and store a new basket; :class:`BasketError` if the name is taken, contains
    ``...`` or is a standard factor proxy's symbol (``SPY``, ``XLK``, …)."""
    _require_name(name)
    _require_description(description)
    with database.transaction() as connection:
        definition = _validated(connection, tickers, method, weights)
        exists = connection.execute(select(TABLE.c.id).where(TABLE.c.name == name)).first()
        if exists is not None:
            raise BasketError(f"basket {name!r} already exists; use `basket update` to change it")
        now = utc_now()
        connection.execute(
            insert(TABLE).values(
                name=name,
                description=description,
                tickers=list(definition.tickers),
                weights=list(definition.weights) if definition.weights is not None else None,
                weighting_method=definition.method,
                created_at=now,
                updated_at=now,
            )
        )
        return _fetch(connection, name)


def update_basket(
    database: Database,
    name: str,
    *,
    tickers: Sequence[str] | None = None,
    method: str | None = None,
    weights: Sequence[float] | None = None,
    description: str | None = None,
) -> BasketRecord:
    """Change only the given fields of basket ``name`` (validated as a whole)."""
    _require_description(description)
    if tickers is None and method is None and weights is None and description is None:
        raise BasketError("nothing to update: give --tickers, --method, --weights or --description")
    with database.transaction() as connection:
        current = _fetch(connection, name)
        new_method = method or current.method
        new_tickers = tickers if tickers is not None else current.tickers
        if weights is not None:
            new_weights = weights
        elif new_method == "custom" and tickers is not None:
            raise BasketError(
                f"basket {name!r} is custom-weighted: changing its tickers needs --weights "
                f"(one per ticker, {len(tickers)} here)"
            )
        elif new_method == "custom" and current.method == "custom":
            new_weights = current.weights
        else:
            new_weights = None
        definition = _validated(connection, new_tickers, new_method, new_weights)
        connection.execute(
            update(TABLE)
            .where(TABLE.c.name == name)
            .values(
                tickers=list(definition.tickers),
                weights=list(definition.weights) if definition.weights is not None else None,
                weighting_method=definition.method,
                description=description if description is not None else current.description,
                updated_at=max(
                    utc_now(),
                    (current.updated_at + dt.timedelta(microseconds=1)).replace(tzinfo=dt.UTC),
                ),
            )
        )
        return _fetch(connection, name)


def delete_basket(database: Database, name: str) -> BasketRecord:
    """Delete basket ``name`` with its stored return series and analytics; return what was
    deleted."""
    with database.transaction() as connection:
        current = _fetch(connection, name)
        for table in DERIVED_TABLES:
            connection.execute(delete(table).where(table.c.basket == name))
        connection.execute(delete(TABLE).where(TABLE.c.name == name))
    return current


def create_basket_from_etf(
    database: Database,
    etf: str,
    name: str,
    *,
    top_n: int | None = None,
    min_weight: float | None = None,
    known_only: bool = False,
    description: str | None = None,
) -> BasketRecord:
    """A custom-weighted basket from ``etf``'s latest holdings (top N or above a weight),
    renormalised to sum to 1. With ``known_only``, holdings that are not instruments are
    dropped before the selection; otherwise they make the command fail (named)."""
    holdings = database.read_frame(
        "SELECT etf, asof_date, symbol, weight FROM etf_holdings WHERE etf = :etf", {"etf": etf}
    )
    if holdings.empty:
        raise BasketError(f"ETF {etf!r} has no holdings in etf_holdings")
    if known_only:
        with database.engine.connect() as connection:
            known = _known_symbols(connection)
        holdings = holdings.loc[holdings["symbol"].isin(known)]
        if holdings.empty:
            raise BasketError(f"none of ETF {etf!r}'s holdings is a known instrument")
    weights = etf_basket_weights(holdings, etf, top_n=top_n, min_weight=min_weight)
    selection = (
        f"top {top_n or ETF_DEFAULT_TOP_N}" if min_weight is None else f"weight >= {min_weight:g}"
    )
    return create_basket(
        database,
        name,
        list(weights.index),
        method="custom",
        weights=list(weights.to_numpy()),
        description=description or f"Seeded from {etf} holdings ({selection})",
    )


def resolved_weights(database: Database, record: BasketRecord) -> pd.Series:
    """The basket's weights summing to 1 (market caps from ``instruments`` when needed)."""
    caps = None
    if record.method == "market_cap":
        frame = database.read_frame("SELECT symbol, market_cap FROM instruments")
        caps = frame.set_index("symbol")["market_cap"].astype(float)
    return resolve_weights(record.definition, caps)


@dataclass(frozen=True)
class BasketStamp:
    """A basket's name, last update time (naive UTC) and data version."""

    name: str
    updated_at: dt.datetime
    version: str


def basket_stamps(database: Database) -> list[BasketStamp]:
    """Name, update time and version of every basket, by name (one small query)."""
    frame = database.read_frame("SELECT name, updated_at FROM baskets ORDER BY name")
    stamps = []
    for name, raw in zip(frame["name"], frame["updated_at"], strict=True):
        updated_at = naive_utc(raw)
        stamps.append(BasketStamp(name, updated_at, basket_version(name, updated_at)))
    return stamps


def basket_versions(database: Database) -> dict[str, str]:
    """Data version of every basket by name."""
    return {stamp.name: stamp.version for stamp in basket_stamps(database)}
