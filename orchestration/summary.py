"""The short summary ``portfolio demo`` prints: key figures read back from the app database."""

from __future__ import annotations

import datetime as dt

from orchestration.resources.database import Database
from orchestration.settings import Settings


def _scalar(database: Database, sql: str, params: dict | None = None) -> object:
    frame = database.read_frame(sql, params)
    return frame.iloc[0, 0] if not frame.empty else None


def market_data_summary(database: Database, as_of: dt.date) -> list[tuple[str, object]]:
    """Instruments, price history and positions."""
    rows = _scalar(database, "SELECT COUNT(*) FROM prices")
    first = _scalar(database, "SELECT MIN(date) FROM prices")
    last = _scalar(database, "SELECT MAX(date) FROM prices")
    days = _scalar(database, "SELECT COUNT(DISTINCT date) FROM prices")
    on_day = _scalar(database, "SELECT COUNT(*) FROM prices WHERE date = :d", {"d": as_of})
    return [
        ("instruments", _scalar(database, "SELECT COUNT(*) FROM instruments")),
        ("price rows", f"{int(rows or 0):,}"),
        ("price history", f"{str(first)[:10]} … {str(last)[:10]} ({days} trading days)"),
        (f"symbols priced on {as_of}", on_day),
        ("positions", _scalar(database, "SELECT COUNT(*) FROM portfolio_positions")),
    ]


SUMMARY_SECTIONS = (market_data_summary,)


def pipeline_summary(settings: Settings, as_of: dt.date) -> list[tuple[str, object]]:
    """Every section's label/value pairs for the day ``as_of``."""
    database = Database(url=settings.database_url)
    pairs: list[tuple[str, object]] = [("market data", settings.market_data), ("as of", as_of)]
    for section in SUMMARY_SECTIONS:
        pairs.extend(section(database, as_of))
    return pairs
