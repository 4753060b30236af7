"""Data versions of the unpartitioned market-data assets, from what they hold.

Every ``daily_prices`` partition depends on the unpartitioned ``market_data_snapshot`` and
``instruments`` (and risk partitions on ``instruments``, ``benchmark_sector_weights`` and
``etf_holdings``). Dagster marks a partition "Unsynced" when such an upstream's data version
differs from the one recorded when the partition was materialized. Its default version is
derived from the run, so each daily run would mark the whole history unsynced; these versions
change only when the content does, so an identical re-materialization keeps downstream in sync
and a real change marks it unsynced.
"""

import hashlib

import dagster as dg
import pandas as pd


def frame_version(frame: pd.DataFrame, keys: list[str]) -> dg.DataVersion:
    """A SHA-256 of the rows of ``frame``: sorted by ``keys``, columns by name, written as
    CSV (floats round-trip exactly, dates as ``YYYY-MM-DD``), so row and column order do not
    matter and any changed value does."""
    ordered = frame.sort_values(keys, kind="stable").loc[:, sorted(frame.columns)]
    text = ordered.to_csv(index=False, date_format="%Y-%m-%d", lineterminator="\n")
    return dg.DataVersion(hashlib.sha256(text.encode()).hexdigest())


def source_version(kind: str, label: str) -> dg.DataVersion:
    """A SHA-256 of which source the prices come from (its kind and label): another source
    (directory, vendor, demo seed) marks every stored partition unsynced; a source that only
    gained days does not."""
    return dg.DataVersion(hashlib.sha256(f"{kind}\n{label}".encode()).hexdigest())
