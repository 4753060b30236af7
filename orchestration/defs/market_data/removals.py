"""Guards of the price history: a replace never silently deletes stored prices, and a database
that lost its history is never silently refilled from nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy.engine import Connection

from orchestration.defs.market_data.validation import SHOWN_SYMBOLS, MarketDataError
from orchestration.storage.bulk import read_frame

ALLOW_REMOVALS_TAG = "portfolio/allow_removals"
"""Run tag: ``true`` lets a run replace price partitions with fewer rows than are stored."""


class PriceRemovalError(MarketDataError):
    """Replacing the run's price partitions would delete stored prices the source lacks."""


class HistoryLostError(RuntimeError):
    """The app database has no price history although the Dagster instance recorded some."""


def removals_allowed(tags: dict[str, str]) -> bool:
    """Whether the run was started with ``--allow-removals`` (tag ``portfolio/allow_removals``)."""
    return tags.get(ALLOW_REMOVALS_TAG, "").lower() == "true"


@dataclass(frozen=True)
class Removals:
    """Stored (date, symbol) prices in a range that a replacement would not write again."""

    rows: pd.DataFrame  # date (datetime.date), symbol

    @property
    def count(self) -> int:
        return len(self.rows)

    def describe(self, first: dt.date, last: dt.date, dates_in_source: set[dt.date]) -> str:
        """One line: how many rows on how many dates, the dates dropped entirely, the first
        symbols."""
        dates = sorted(set(self.rows["date"]))
        whole = [d for d in dates if d not in dates_in_source]
        symbols = self.rows["symbol"].drop_duplicates()
        listed = ", ".join(symbols.head(SHOWN_SYMBOLS))
        more = f" and {len(symbols) - SHOWN_SYMBOLS} more" if len(symbols) > SHOWN_SYMBOLS else ""
        text = (
            f"replacing prices {first.isoformat()} … {last.isoformat()} would delete "
            f"{self.count:,} stored row(s) the source no longer has, on {len(dates):,} date(s) "
            f"from {dates[0].isoformat()}, symbols {listed}{more}"
        )
        if whole:
            text += f"; {len(whole):,} date(s) would disappear entirely (first {whole[0]})"
        return (
            text
            + "; rerun with --allow-removals to delete them (run tag portfolio/allow_removals=true)"
        )


def price_removals(
    connection: Connection, source: pd.DataFrame, first: dt.date, last: dt.date
) -> Removals:
    """Stored prices with ``first <= date <= last`` whose (date, symbol) ``source`` lacks."""
    stored = read_frame(
        connection,
        "SELECT date, symbol FROM prices WHERE date >= :first AND date <= :last",
        {"first": first, "last": last},
    )
    if stored.empty:
        return Removals(pd.DataFrame({"date": [], "symbol": []}))
    stored["date"] = pd.to_datetime(stored["date"]).dt.date
    incoming = pd.MultiIndex.from_arrays([source["date"].dt.date, source["symbol"]])
    keys = pd.MultiIndex.from_arrays([stored["date"], stored["symbol"]])
    missing = stored.loc[~keys.isin(incoming)].sort_values(["date", "symbol"])
    return Removals(missing.reset_index(drop=True))


def check_price_removals(
    connection: Connection,
    source: pd.DataFrame,
    first: dt.date,
    last: dt.date,
    *,
    allowed: bool,
) -> int:
    """The number of stored rows the replacement deletes; raises :class:`PriceRemovalError`
    when there are any and they are not ``allowed``."""
    return check_range_removals(connection, [(first, last, source)], first, last, allowed=allowed)


SourcePart = tuple[dt.date, dt.date, pd.DataFrame]
"""Consecutive dates ``(first, last)`` of a range and the source's prices on them."""


def check_range_removals(
    connection: Connection,
    parts: Iterable[SourcePart],
    first: dt.date,
    last: dt.date,
    *,
    allowed: bool,
) -> int:
    """:func:`check_price_removals` of the range ``first`` … ``last`` given as consecutive
    ``parts`` that cover it (each its dates and the source's prices on them), so a long
    range is checked without holding all of its prices at once. The count and the message
    are those of the whole range."""
    found: list[pd.DataFrame] = []
    dates_in_source: set[dt.date] = set()
    for part_first, part_last, source in parts:
        rows = price_removals(connection, source, part_first, part_last).rows
        if len(rows):
            found.append(rows)
        dates_in_source.update(pd.DatetimeIndex(source["date"].unique()).date)
    removals = Removals(
        pd.concat(found, ignore_index=True) if found else pd.DataFrame({"date": [], "symbol": []})
    )
    if removals.count and not allowed:
        raise PriceRemovalError(removals.describe(first, last, dates_in_source))
    return removals.count
