"""Helpers that turn results into Dagster metadata the UI shows and plots."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from orchestration.constants import SIMULATED_NOTICE
from orchestration.resources.market_data import MarketDataSource


def markdown(frame: pd.DataFrame | pd.Series, *, floatfmt: str = ".4g") -> dg.MetadataValue:
    """A small markdown table (``_none_`` for an empty frame)."""
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    if frame.empty:
        return dg.MetadataValue.md("_none_")
    return dg.MetadataValue.md(frame.to_markdown(index=False, floatfmt=floatfmt))


def table_text(frame: pd.DataFrame) -> str:
    """A markdown table of every column as it is (``_none_`` for an empty frame)."""
    if frame.empty:
        return "_none_"
    return frame.to_markdown(index=False)


def source_metadata(source: MarketDataSource) -> dict[str, object]:
    """Where the data came from; the demo market says plainly that it is simulated."""
    meta: dict[str, object] = {"source": source.label, "simulated": source.simulated}
    if source.simulated:
        meta["notice"] = SIMULATED_NOTICE
    return meta
