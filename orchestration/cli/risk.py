"""``portfolio risk show [--date D] [--json]``: the portfolio's risk snapshot from the app
database.

It reads what the risk group stored in ``portfolio_snapshots`` for one as-of date (default: the
latest complete snapshot) and prints it: portfolio beta, realized and HAR-forecast volatility with
its trend and percentile, concentration, and the sector table with active weights. ``--json``
prints the stored values at full float precision, grouped by the asset that wrote them; a value
the asset left undefined is ``null``. A date without a snapshot exits 2 naming the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Mapping, Sequence

import pandas as pd
from sqlalchemy import func, select

from orchestration.cli.arguments import iso_date
from orchestration.cli.database import AppDatabase
from orchestration.cli.output import print_json, print_pairs, print_table
from orchestration.settings import Settings
from orchestration.storage.models import PortfolioSnapshot

SNAPSHOTS = PortfolioSnapshot.__table__
GROUPS = {
    "portfolio_beta": (
        "market_index",
        "market_beta_weighted",
        "market_beta_r_squared",
        "market_beta_observations",
        "market_beta_coverage",
        "market_beta_direct",
        "market_beta_direct_r_squared",
        "market_beta_direct_observations",
    ),
    "volatility": (
        "realized_volatility_21d",
        "realized_volatility_63d",
        "expected_volatility_21d",
        "volatility_trend",
        "volatility_trend_strength",
        "volatility_percentile",
    ),
    "concentration": (
        "positions",
        "hhi",
        "effective_positions",
        "top3_weight",
        "top3_symbols",
        "top10_weight",
        "top10_symbols",
    ),
    "sector_exposure": (
        "benchmark",
        "benchmark_asof",
        "sector_look_through",
        "largest_overweight_sector",
        "largest_overweight",
        "largest_underweight_sector",
        "largest_underweight",
        "largest_active_weight",
        "unclassified_weight",
    ),
    "portfolio_returns": ("portfolio_return", "return_coverage", "unpriced_holdings"),
}
"""The snapshot's columns by the risk asset that writes them (``--json`` keeps this shape)."""
SECTOR_COLUMNS = (
    "sector",
    "net_weight",
    "gross_weight",
    "benchmark_weight",
    "active_weight",
    "positions",
)
SECTOR_FORMATS = ("", ".2f", ".2f", ".2f", "+.2f", "")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``portfolio risk show`` to the parser."""
    risk = subparsers.add_parser("risk", help="the portfolio's risk snapshot")
    commands = risk.add_subparsers(dest="risk_command", required=True, metavar="ACTION")
    show = commands.add_parser(
        "show",
        help="beta, volatility, forecast, concentration and sectors of one as-of date",
        description="The risk snapshot the risk group stored for one as-of date (default: the "
        "latest complete one): portfolio beta, realized vols, the HAR forecast with its trend "
        "and percentile, concentration and the sector table with active weights. Exits 2 when "
        "the date has no snapshot.",
    )
    show.add_argument(
        "--date", type=iso_date, help="as-of date (default: the latest complete snapshot)"
    )
    show.add_argument(
        "--json", action="store_true", help="print the stored values as JSON (full precision)"
    )
    show.set_defaults(handler=show_command)


def read_snapshot(database: AppDatabase, day: dt.date | None) -> Mapping[str, object]:
    """The ``portfolio_snapshots`` row of ``day`` (default: the latest complete one).

    Raises
    ------
    ValueError
        No snapshot for ``day`` (naming it and the latest there is), or none complete yet.
    """
    with database.engine.connect() as connection:
        if day is None:
            day = connection.execute(
                select(func.max(SNAPSHOTS.c.calc_date)).where(SNAPSHOTS.c.completed_at.is_not(None))
            ).scalar()
            if day is None:
                raise ValueError(
                    "no complete risk snapshot yet: run `portfolio run` (or `portfolio backfill "
                    "START END`) first"
                )
        row = (
            connection.execute(select(SNAPSHOTS).where(SNAPSHOTS.c.calc_date == day))
            .mappings()
            .first()
        )
        if row is None:
            latest = connection.execute(select(func.max(SNAPSHOTS.c.calc_date))).scalar()
            known = f"the latest is {latest.isoformat()}" if latest else "there is none yet"
            raise ValueError(f"no risk snapshot for {day.isoformat()} ({known})")
    return row


def snapshot_document(row: Mapping[str, object]) -> dict[str, object]:
    """The snapshot as JSON-ready data: the stored values, grouped by the asset that wrote them,
    with the sector table and the unclassified symbols from ``sector_exposure``."""
    exposure = row["sector_exposure"] or {}
    document: dict[str, object] = {
        "as_of": row["calc_date"],
        "complete": row["completed_at"] is not None,
    }
    for group, columns in GROUPS.items():
        document[group] = {column: row[column] for column in columns}
    document["sector_exposure"]["sectors"] = exposure.get("sectors", [])
    document["sector_exposure"]["unclassified_symbols"] = exposure.get("unclassified_symbols", [])
    return document


def _number(value: object, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _symbols(symbols: Sequence[str] | None) -> str:
    return ", ".join(symbols or []) or "none"


def _pairs(document: Mapping[str, object]) -> list[tuple[str, object]]:
    beta, vol = document["portfolio_beta"], document["volatility"]
    conc, sectors = document["concentration"], document["sector_exposure"]
    returns = document["portfolio_returns"]
    benchmark = (
        f"{sectors['benchmark']} as of {sectors['benchmark_asof']}"
        if sectors["benchmark"]
        else "none in force (active weights undefined)"
    )
    return [
        ("as of", f"{document['as_of']}{'' if document['complete'] else ' (incomplete)'}"),
        (
            f"portfolio beta to {beta['market_index'] or 'the market'}",
            f"{_number(beta['market_beta_weighted'], '.4f')} weighted "
            f"(R² {_number(beta['market_beta_r_squared'], '.3f')}, "
            f"{_number(beta['market_beta_coverage'], '.1%')} of the book covered), "
            f"{_number(beta['market_beta_direct'], '.4f')} direct "
            f"(R² {_number(beta['market_beta_direct_r_squared'], '.3f')}, "
            f"{beta['market_beta_direct_observations'] or 0} days)",
        ),
        (
            "realized vol 21d / 63d",
            f"{_number(vol['realized_volatility_21d'], '.2%')} / "
            f"{_number(vol['realized_volatility_63d'], '.2%')}",
        ),
        ("HAR forecast, next 21d", _number(vol["expected_volatility_21d"], ".2%")),
        (
            "vol trend",
            f"{vol['volatility_trend'] or 'n/a'} "
            f"(strength {_number(vol['volatility_trend_strength'], '.3f')})",
        ),
        (
            "21d vol percentile",
            f"{_number(vol['volatility_percentile'], '.3f')} of its last year (0 low, 1 high)",
        ),
        (
            "concentration",
            f"HHI {_number(conc['hhi'], ',.1f')}, effective positions "
            f"{_number(conc['effective_positions'], '.2f')} of {conc['positions']}",
        ),
        (
            "top 3 / top 10",
            f"{_number(conc['top3_weight'], '.2%')} ({_symbols(conc['top3_symbols'])}) / "
            f"{_number(conc['top10_weight'], '.2%')}",
        ),
        (
            "portfolio return",
            f"{_number(returns['portfolio_return'], '+.4%')} "
            f"({_number(returns['return_coverage'], '.1%')} of the book priced)",
        ),
        ("sector benchmark", benchmark),
        (
            "largest over / underweight",
            f"{sectors['largest_overweight_sector'] or 'n/a'} "
            f"{_number(sectors['largest_overweight'], '+.2%')} / "
            f"{sectors['largest_underweight_sector'] or 'n/a'} "
            f"{_number(sectors['largest_underweight'], '+.2%')}",
        ),
        (
            "unclassified",
            f"{_number(sectors['unclassified_weight'], '.2%')} "
            f"({_symbols(sectors['unclassified_symbols'])})",
        ),
    ]


def _sector_frame(sectors: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """The sector table in percent of net equity (blank where a weight is undefined)."""
    rows = []
    for sector in sectors:
        row: dict[str, object] = {"sector": sector.get("sector")}
        for column in SECTOR_COLUMNS[1:-1]:
            value = sector.get(column)
            row[column.removesuffix("_weight") + " %"] = None if value is None else value * 100
        row["positions"] = sector.get("positions")
        rows.append(row)
    return pd.DataFrame(rows, dtype=object)


def show_command(args: argparse.Namespace, settings: Settings) -> int:
    """Print the risk snapshot of ``--date`` (default: the latest complete one)."""
    document = snapshot_document(read_snapshot(AppDatabase(settings.database_url), args.date))
    if args.json:
        print_json(document)
        return 0
    print_pairs(_pairs(document))
    print("\nSectors (weights in % of net equity; active = net − benchmark)")
    sectors = _sector_frame(document["sector_exposure"]["sectors"])
    print_table(sectors, floatfmt=SECTOR_FORMATS)
    return 0
