"""Price and returns panels read from the ``prices`` table (the system of record).

Every asset that needs returns reads them through :class:`ReturnsPanels`, so the lookback and
the quality filter are configured once (and shown on the resource page of the UI). Panels are
memoised for the duration of a run: a backfill that feeds several assets reads prices once,
and a window that extends one already read (the risk group's three years after the returns
panel's one, in the daily run) reads only the dates that one lacks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import dagster as dg
import pandas as pd
from pydantic import PrivateAttr

from analytics_lib.returns import ReturnsPanelResult, price_panel, returns_panel, simple_returns
from orchestration.constants import (
    DEFAULT_EXTREME_RETURN,
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_MAX_MISSING_FRACTION,
    DEFAULT_MIN_HISTORY,
)
from orchestration.resources.database import Database
from orchestration.storage.bulk import read_price_window


class ReturnsPanels(dg.ConfigurableResource):
    """Dates x symbols panels of adjusted closes and simple returns from the app database.

    Attributes
    ----------
    lookback_days
        Rows (trading days with prices) of the returns panel ending at an as-of date.
    min_history, max_missing_fraction, extreme_return
        The quality filter of :func:`analytics_lib.returns.returns_panel`.
    """

    database: Database
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    min_history: int = DEFAULT_MIN_HISTORY
    max_missing_fraction: float = DEFAULT_MAX_MISSING_FRACTION
    extreme_return: float = DEFAULT_EXTREME_RETURN
    _memo: dict = PrivateAttr(default_factory=dict)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._memo.clear()

    def trading_dates(self, start: dt.date | None, end: dt.date) -> list[dt.date]:
        """Dates with at least one price in ``[start, end]`` (all up to ``end`` if no start)."""
        sql = "SELECT DISTINCT date FROM prices WHERE date <= :end"
        params: dict = {"end": end}
        if start is not None:
            sql += " AND date >= :start"
            params["start"] = start
        frame = self.database.read_frame(sql + " ORDER BY date", params)
        return [pd.Timestamp(d).date() for d in frame["date"]]

    def window_start(self, end: dt.date, rows: int) -> dt.date | None:
        """The first of the last ``rows`` price dates up to ``end`` (None when there are none).

        Steps back one date at a time with index look-ups (a recursive query), instead of
        collecting the distinct dates of every price row: milliseconds instead of seconds on
        millions of rows."""
        frame = self.database.read_frame(
            "WITH RECURSIVE back(day, n) AS ("
            " SELECT (SELECT MAX(date) FROM prices WHERE date <= :end), 1"
            " UNION ALL"
            " SELECT (SELECT MAX(date) FROM prices WHERE date < back.day), n + 1 FROM back"
            " WHERE back.day IS NOT NULL AND n < :rows"
            ") SELECT MIN(day) AS first FROM back",
            {"end": end, "rows": rows},
        )
        first = frame["first"].iloc[0]
        return None if first is None else pd.Timestamp(first).date()

    def prices(
        self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Dates x symbols adjusted closes (close where no adjusted close) in ``[start, end]``;
        only of ``symbols`` when given (the database filters, so a few symbols of a large
        universe cost little). Symbols without prices have no column; the rows are every date
        with any price either way."""
        wanted = tuple(sorted(set(symbols))) if symbols is not None else None
        if wanted == ():
            raise ValueError("symbols is empty; pass None for every symbol")
        key = ("prices", start, end, wanted)
        if key not in self._memo:
            inner = self._inner_window(start, end, wanted)
            if inner is None:
                panel = self._read_prices(start, end, wanted)
            else:
                first, last = inner[1], inner[2]
                parts = [self._memo.pop(inner)]
                if start < first:
                    parts.append(self._read_prices(start, first - dt.timedelta(days=1), wanted))
                if last < end:
                    parts.append(self._read_prices(last + dt.timedelta(days=1), end, wanted))
                panel = _joined(parts)
            self._memo[key] = panel
        return self._memo[key]

    def _inner_window(
        self, start: dt.date, end: dt.date, wanted: tuple[str, ...] | None
    ) -> tuple | None:
        """The key of a memoised price window of the same symbols inside ``[start, end]``."""
        for key in self._memo:
            if key[0] == "prices" and key[3] == wanted and start <= key[1] and key[2] <= end:
                return key
        return None

    def _read_prices(
        self, start: dt.date, end: dt.date, wanted: tuple[str, ...] | None
    ) -> pd.DataFrame:
        with self.database.engine.connect() as connection:
            long = read_price_window(connection, start, end, wanted)
        panel = price_panel(long)
        if wanted is not None:
            # a row for every date with any price, so that a day none of these symbols
            # traded stays a missing day instead of merging two days into one return
            dates = pd.DatetimeIndex(pd.to_datetime(self.trading_dates(start, end)))
            panel = panel.reindex(dates.as_unit(panel.index.unit).rename(panel.index.name))
        return panel

    def returns(self, end: dt.date, rows: int) -> pd.DataFrame:
        """Unfiltered simple returns on the last ``rows`` price dates up to ``end``."""
        start = self.window_start(end, rows + 1)
        if start is None:
            return pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
        return simple_returns(self.prices(start, end))

    def panel(self, as_of: dt.date) -> ReturnsPanelResult:
        """The quality-filtered returns panel of ``lookback_days`` rows ending at ``as_of``."""
        key = ("panel", as_of)
        if key not in self._memo:
            start = self.window_start(as_of, self.lookback_days + 1)
            prices = (
                self.prices(start, as_of)
                if start is not None
                else pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
            )
            self._memo[key] = returns_panel(
                prices,
                min_history=self.min_history,
                max_missing_fraction=self.max_missing_fraction,
                extreme_return=self.extreme_return,
            )
        return self._memo[key]


def _joined(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Price panels of disjoint date ranges as one panel: dates sorted, symbols sorted (the
    union), NaN where a symbol has no price; equal to the panel read over the whole range
    (``close`` is never NULL, so NaN means no price row, as in a single read)."""
    parts = [part for part in parts if len(part.index)] or parts[:1]
    symbols = sorted(set().union(*(part.columns for part in parts)))
    panel = pd.concat(parts, axis=0).sort_index()
    return panel.reindex(columns=pd.Index(symbols, dtype=parts[0].columns.dtype, name="symbol"))
