"""Sector exposure of a book against benchmark sector weights.

Currently implemented
---------------------
:func:`benchmark_weights_at`
    The benchmark's sector weights in force at a date.
:func:`sector_exposure` -> :class:`SectorExposure`
    Net and gross weight per GICS sector (plus ``ETF`` and ``Unclassified`` buckets), active
    weight against the benchmark, positions per sector, largest over- and underweight, with
    optional look-through of ETFs to their holdings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from analytics_lib._typing import GICS_SECTORS, Weights
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.validation import (
    require_columns,
    require_float_values,
    require_frame,
    require_series,
    require_weights,
)

__all__ = [
    "ETF_BUCKET",
    "SECTOR_COLUMNS",
    "UNCLASSIFIED",
    "SectorExposure",
    "benchmark_weights_at",
    "sector_exposure",
]

ETF_BUCKET: Final = "ETF"
UNCLASSIFIED: Final = "Unclassified"
SECTOR_COLUMNS: Final[tuple[str, ...]] = (
    "net_weight",
    "gross_weight",
    "benchmark_weight",
    "active_weight",
    "positions",
)
_HOLDINGS_TOL: Final = 1e-6


@dataclass(frozen=True)
class SectorExposure:
    """Result of :func:`sector_exposure`.

    Attributes
    ----------
    table
        Indexed by ``sector``: the 11 GICS sectors (``_typing.GICS_SECTORS`` order), then
        ``ETF`` (only without look-through) and ``Unclassified``; columns
        :data:`SECTOR_COLUMNS`.
    largest_overweight, largest_underweight
        ``(sector, active_weight)`` of the GICS sector with the largest positive / most
        negative active weight, or None when no sector is over- / underweight or no benchmark
        is in force.
    unclassified_symbols
        Holdings without a sector (and, with look-through, ETFs without holdings data), in
        the order of the weights.
    unclassified_weight
        Net weight of the ``Unclassified`` row (including look-through residuals).
    look_through
        Whether ETFs were looked through.
    """

    table: pd.DataFrame
    largest_overweight: tuple[str, float] | None
    largest_underweight: tuple[str, float] | None
    unclassified_symbols: tuple[Any, ...]
    unclassified_weight: float
    look_through: bool


def _require_gics(labels: Iterable[Any], name: str) -> None:
    unknown = sorted({str(label) for label in labels if label not in GICS_SECTORS})
    if unknown:
        raise AnalyticsError(
            f"{name} has sector name(s) that are not GICS sectors: {', '.join(unknown)}"
        )


def _to_timestamp(value: object, name: str) -> pd.Timestamp:
    if value is None or isinstance(value, bool):
        raise AnalyticsError(f"{name} must be a date, got {value!r}")
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise AnalyticsError(f"{name} must be a date: {exc}") from None
    if stamp is pd.NaT or pd.isna(stamp):
        raise AnalyticsError(f"{name} must be a date, got {value!r}")
    if stamp.tzinfo is not None:
        raise AnalyticsError(f"{name} must be tz-naive")
    return stamp


def benchmark_weights_at(
    benchmark_weights: pd.DataFrame, as_of: object, benchmark: str = "SP500"
) -> pd.Series:
    """Sector weights of ``benchmark`` in force at ``as_of``.

    Parameters
    ----------
    benchmark_weights
        Long frame with columns ``benchmark``, ``asof_date``, ``sector``, ``weight`` (the
        ``benchmark_sector_weights`` asset / table).
    as_of
        The date (``datetime.date``, ``Timestamp`` or ISO string).
    benchmark
        Benchmark code (default ``"SP500"``).

    Returns
    -------
    Series
        Indexed by ``sector`` (GICS order, sectors of that snapshot only), named ``weight``;
        ``attrs["asof_date"]`` is the snapshot date used.

    Raises
    ------
    AnalyticsError
        When a column is missing, dates or weights are invalid, a sector is not a GICS sector
        or repeats within the snapshot, or no snapshot of ``benchmark`` is dated on or before
        ``as_of``.

    Notes
    -----
    The weights in force are the snapshot with the latest ``asof_date`` :math:`\\le` ``as_of``
    (never a later one: no look-ahead).
    """
    frame = require_frame(benchmark_weights, "benchmark_weights")
    require_columns(frame, ("benchmark", "asof_date", "sector", "weight"), "benchmark_weights")
    when = _to_timestamp(as_of, "as_of")
    rows = frame.loc[frame["benchmark"] == benchmark]
    if rows.empty:
        raise AnalyticsError(f"benchmark_weights has no rows for benchmark {benchmark!r}")
    try:
        dates = pd.to_datetime(rows["asof_date"])
    except (TypeError, ValueError) as exc:
        raise AnalyticsError(f"benchmark_weights asof_date must hold dates: {exc}") from None
    eligible = dates <= when
    if not eligible.any():
        raise AnalyticsError(
            f"benchmark_weights has no {benchmark} snapshot on or before "
            f"{when.date().isoformat()} (earliest is {dates.min().date().isoformat()})"
        )
    latest = dates[eligible].max()
    snapshot = rows.loc[(dates == latest).to_numpy()]
    sectors = snapshot["sector"]
    _require_gics(sectors, "benchmark_weights")
    if sectors.duplicated().any():
        dup = sectors[sectors.duplicated()].iloc[0]
        raise AnalyticsError(
            f"benchmark_weights lists sector {dup!r} twice for {benchmark} on "
            f"{latest.date().isoformat()}"
        )
    weights = require_float_values(snapshot["weight"], "benchmark_weights weight")
    if not (np.isfinite(weights) & (weights >= 0.0)).all():
        raise AnalyticsError("benchmark_weights weight must be finite and >= 0")
    out = pd.Series(weights, index=pd.Index(sectors.to_numpy(), name="sector"), name="weight")
    out = out.reindex([s for s in GICS_SECTORS if s in out.index])
    out.attrs["asof_date"] = latest
    return out


def _sector_map(sectors: object) -> pd.Series:
    series = require_series(sectors, "sectors")
    if series.index.has_duplicates:
        dups = sorted({str(s) for s in series.index[series.index.duplicated()]})
        raise AnalyticsError(f"sectors has duplicate symbol(s): {', '.join(dups)}")
    known = series[series.notna()]
    bad = [(sym, lab) for sym, lab in known.items() if lab not in GICS_SECTORS]
    if bad:
        listed = ", ".join(f"{sym}={lab!r}" for sym, lab in bad[:10])
        raise AnalyticsError(f"sectors has labels that are not GICS sectors: {listed}")
    return known.astype(object)


def _benchmark_series(benchmark: object) -> pd.Series:
    series = require_series(benchmark, "benchmark")
    if series.index.has_duplicates:
        raise AnalyticsError("benchmark has duplicate sectors")
    _require_gics(series.index, "benchmark")
    values = require_float_values(series, "benchmark")
    if not (np.isfinite(values) & (values >= 0.0)).all():
        raise AnalyticsError("benchmark weights must be finite and >= 0")
    return pd.Series(values, index=series.index)


def _holdings_frame(etf_holdings: object, etfs: set[Any]) -> pd.DataFrame:
    frame = require_frame(etf_holdings, "etf_holdings")
    require_columns(frame, ("etf", "symbol", "weight"), "etf_holdings")
    rows = frame.loc[frame["etf"].isin(etfs), ["etf", "symbol", "weight"]].copy()
    if "asof_date" in frame.columns:
        snapshots = frame.loc[frame["etf"].isin(etfs)].groupby("etf")["asof_date"].nunique()
        several = snapshots[snapshots > 1]
        if not several.empty:
            raise AnalyticsError(
                "etf_holdings holds several snapshots for ETF(s) "
                f"{', '.join(str(e) for e in several.index)}; pass only the one in force"
            )
    if rows.duplicated(["etf", "symbol"]).any():
        dup = rows.loc[rows.duplicated(["etf", "symbol"])].iloc[0]
        raise AnalyticsError(f"etf_holdings lists {dup['symbol']!r} twice in {dup['etf']!r}")
    rows["weight"] = require_float_values(rows["weight"], "etf_holdings weight")
    if not np.isfinite(rows["weight"].to_numpy()).all():
        raise AnalyticsError("etf_holdings weight must be finite")
    totals = rows.groupby("etf")["weight"].sum()
    over = totals[totals > 1.0 + _HOLDINGS_TOL]
    if not over.empty:
        raise AnalyticsError(
            "etf_holdings weights sum to more than 1 for ETF(s) "
            f"{', '.join(f'{e} ({v:.4f})' for e, v in over.items())}"
        )
    return rows


def sector_exposure(
    weights: Weights,
    sectors: pd.Series,
    benchmark: pd.Series | None,
    *,
    etf_symbols: Iterable[Any] = (),
    etf_holdings: pd.DataFrame | None = None,
    look_through: bool = False,
) -> SectorExposure:
    """Sector weights of a book (net and gross) against the benchmark.

    Parameters
    ----------
    weights
        Series symbol -> weight (market value / net equity, shorts negative); zero weights are
        ignored.
    sectors
        Series symbol -> GICS sector name, NaN/None when unknown (e.g. the ``sector`` column of
        ``instruments`` indexed by symbol). Also used for ETF holdings under look-through.
    benchmark
        Series sector -> benchmark weight (e.g. :func:`benchmark_weights_at`); sectors it
        omits have benchmark weight 0. ``None`` when no benchmark snapshot is in force: the
        benchmark and active weights are then NaN and there is no largest over- or
        underweight (never active weights against zero).
    etf_symbols
        Symbols that are ETFs. They form the ``ETF`` bucket unless ``look_through``.
    etf_holdings
        Long frame ``etf, symbol, weight`` (optionally ``asof_date``), already the snapshot in
        force; needed when ``look_through``. Holding weights are fractions of the ETF (their
        sum <= 1; the rest is cash/other).
    look_through
        Distribute each ETF's weight over its holdings' sectors.

    Returns
    -------
    SectorExposure
        See the class; ``table`` columns: ``net_weight`` :math:`\\sum c`, ``gross_weight``
        :math:`\\sum |c|`, ``benchmark_weight``, ``active_weight`` (net - benchmark),
        ``positions`` (book holdings contributing to the row).

    Raises
    ------
    AnalyticsError
        On invalid inputs, sector labels that are not GICS sectors, ``look_through`` without
        ``etf_holdings``, or ETF holdings summing to more than 1.

    Notes
    -----
    Each holding contributes :math:`c = w_i` to its sector (``Unclassified`` when unknown;
    ``ETF`` for an ETF without look-through). With look-through an ETF e contributes
    :math:`w_e v_{e,h}` to the sector of each holding h (``Unclassified`` when unknown) and the
    residual :math:`w_e (1 - \\sum_h v_{e,h})` to ``Unclassified``; an ETF without holdings data
    goes to ``Unclassified`` entirely and is listed in ``unclassified_symbols``. Hence
    :math:`\\sum` net_weight :math:`= \\sum_i w_i` (1 for a fully invested book). Largest
    over/underweight consider the 11 GICS sectors only.
    """
    w = require_weights(weights, "weights")
    w = w[w != 0.0]
    sector_of = _sector_map(sectors)
    bench = None if benchmark is None else _benchmark_series(benchmark)
    if isinstance(etf_symbols, str | bytes):
        raise AnalyticsError("etf_symbols must be a collection of symbols, not a string")
    etfs = set(etf_symbols)
    if not isinstance(look_through, bool):
        raise AnalyticsError(f"look_through must be a bool, got {look_through!r}")
    if look_through and etf_holdings is None:
        raise AnalyticsError("etf_holdings is required when look_through is True")

    is_etf = np.array([s in etfs for s in w.index], dtype=bool)
    direct = w[~is_etf]
    parts = [
        pd.DataFrame(
            {
                "holding": direct.index,
                "bucket": direct.index.map(lambda s: sector_of.get(s, UNCLASSIFIED)),
                "contribution": direct.to_numpy(),
            }
        )
    ]
    unclassified = [s for s in direct.index if s not in sector_of.index]
    held_etfs = w[is_etf]
    if not look_through:
        parts.append(
            pd.DataFrame(
                {
                    "holding": held_etfs.index,
                    "bucket": ETF_BUCKET,
                    "contribution": held_etfs.to_numpy(),
                }
            )
        )
    elif not held_etfs.empty:
        holdings = _holdings_frame(etf_holdings, set(held_etfs.index))
        etf_weight = holdings["etf"].map(held_etfs)
        parts.append(
            pd.DataFrame(
                {
                    "holding": holdings["etf"].to_numpy(),
                    "bucket": holdings["symbol"].map(sector_of).fillna(UNCLASSIFIED).to_numpy(),
                    "contribution": (etf_weight * holdings["weight"]).to_numpy(),
                }
            )
        )
        covered = holdings.groupby("etf")["weight"].sum().reindex(held_etfs.index, fill_value=0.0)
        residual = held_etfs * (1.0 - covered)
        residual = residual[residual.abs() > 1e-15]
        parts.append(
            pd.DataFrame(
                {
                    "holding": residual.index,
                    "bucket": UNCLASSIFIED,
                    "contribution": residual.to_numpy(),
                }
            )
        )
        with_data = set(holdings["etf"])
        unclassified_etfs = [e for e in held_etfs.index if e not in with_data]
        unclassified = [s for s in w.index if s in set(unclassified) | set(unclassified_etfs)]

    contributions = pd.concat(parts, ignore_index=True)
    rows = [*GICS_SECTORS, *([] if look_through else [ETF_BUCKET]), UNCLASSIFIED]
    grouped = contributions.groupby("bucket")
    net = grouped["contribution"].sum().reindex(rows, fill_value=0.0)
    gross = (
        contributions.assign(contribution=contributions["contribution"].abs())
        .groupby("bucket")["contribution"]
        .sum()
        .reindex(rows, fill_value=0.0)
    )
    positions = (
        contributions.loc[contributions["contribution"] != 0.0]
        .groupby("bucket")["holding"]
        .nunique()
        .reindex(rows, fill_value=0)
        .astype(np.int64)
    )
    bench_col = (
        pd.Series(np.nan, index=rows) if bench is None else bench.reindex(rows, fill_value=0.0)
    )
    table = pd.DataFrame(
        {
            "net_weight": net.to_numpy(dtype=np.float64),
            "gross_weight": gross.to_numpy(dtype=np.float64),
            "benchmark_weight": bench_col.to_numpy(dtype=np.float64),
            "active_weight": (net - bench_col).to_numpy(dtype=np.float64),
            "positions": positions.to_numpy(),
        },
        index=pd.Index(rows, name="sector"),
    )
    active = table.loc[list(GICS_SECTORS), "active_weight"]
    over = active[active > 0.0]
    under = active[active < 0.0]
    return SectorExposure(
        table=table,
        largest_overweight=(str(over.idxmax()), float(over.max())) if not over.empty else None,
        largest_underweight=(str(under.idxmin()), float(under.min())) if not under.empty else None,
        unclassified_symbols=tuple(unclassified),
        unclassified_weight=float(table.loc[UNCLASSIFIED, "net_weight"]),
        look_through=look_through,
    )
