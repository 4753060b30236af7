"""The short summary ``portfolio demo`` prints: key figures read back from the app database."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from orchestration.cli.database import AppDatabase
from orchestration.settings import Settings


def _scalar(database: AppDatabase, sql: str, params: dict | None = None) -> object:
    frame = database.read_frame(sql, params)
    return frame.iloc[0, 0] if not frame.empty else None


def market_data_summary(database: AppDatabase, as_of: dt.date) -> list[tuple[str, object]]:
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


def _fmt(value: object, spec: str) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    return format(float(value), spec)


def _symbols(value: object) -> str:
    symbols = json.loads(value) if isinstance(value, str) else value
    return ", ".join(symbols or [])


def risk_summary(database: AppDatabase, as_of: dt.date) -> list[tuple[str, object]]:
    """The portfolio snapshot of ``as_of``: beta, volatility, forecast, concentration, sectors."""
    frame = database.read_frame(
        "SELECT * FROM portfolio_snapshots WHERE calc_date = :d", {"d": as_of}
    )
    if frame.empty:
        return [("risk", f"no portfolio snapshot for {as_of}")]
    row = frame.iloc[0]
    return [
        (
            f"portfolio beta to {row['market_index']}",
            f"{_fmt(row['market_beta_weighted'], '.2f')} weighted "
            f"(R² {_fmt(row['market_beta_r_squared'], '.2f')}), "
            f"{_fmt(row['market_beta_direct'], '.2f')} direct "
            f"(R² {_fmt(row['market_beta_direct_r_squared'], '.2f')})",
        ),
        (
            "realized vol 21d / 63d",
            f"{_fmt(row['realized_volatility_21d'], '.1%')} / "
            f"{_fmt(row['realized_volatility_63d'], '.1%')}",
        ),
        (
            "expected vol next 21d (HAR)",
            f"{_fmt(row['expected_volatility_21d'], '.1%')}, trend {row['volatility_trend']} "
            f"(strength {_fmt(row['volatility_trend_strength'], '.2f')}), 21d vol percentile "
            f"{_fmt(row['volatility_percentile'], '.2f')} of its last year (0 low, 1 high)",
        ),
        (
            "concentration",
            f"HHI {_fmt(row['hhi'], ',.0f')}, effective positions "
            f"{_fmt(row['effective_positions'], '.1f')} of {row['positions']}",
        ),
        (
            "top 3 holdings",
            f"{_fmt(row['top3_weight'], '.1%')} ({_symbols(row['top3_symbols'])})",
        ),
        (
            "largest over / underweight sector",
            f"{row['largest_overweight_sector']} {_fmt(row['largest_overweight'], '+.1%')} / "
            f"{row['largest_underweight_sector']} {_fmt(row['largest_underweight'], '+.1%')}",
        ),
    ]


def baskets_summary(database: AppDatabase, as_of: dt.date) -> list[tuple[str, object]]:
    """Each basket's latest analytics: total return, volatility, Sharpe, drawdown, correlation
    with the portfolio."""
    latest = database.read_frame(
        "SELECT a.basket, a.end_date, a.total_return, a.annualized_volatility, a.sharpe, "
        "a.max_drawdown, a.portfolio_correlation FROM basket_analytics a "
        "WHERE a.end_date = (SELECT MAX(b.end_date) FROM basket_analytics b "
        "WHERE b.basket = a.basket) ORDER BY a.basket"
    )
    pairs: list[tuple[str, object]] = [
        ("baskets", _scalar(database, "SELECT COUNT(*) FROM baskets"))
    ]
    for row in latest.itertuples(index=False):
        pairs.append(
            (
                f"basket {row.basket}",
                f"total {_fmt(row.total_return, '+.1%')}, "
                f"vol {_fmt(row.annualized_volatility, '.1%')}, "
                f"Sharpe {_fmt(row.sharpe, '.2f')}, "
                f"max drawdown {_fmt(row.max_drawdown, '.1%')}, "
                f"corr. vs portfolio {_fmt(row.portfolio_correlation, '.2f')} "
                f"(through {str(row.end_date)[:10]})",
            )
        )
    return pairs


def trading_summary(database: AppDatabase, as_of: dt.date) -> list[tuple[str, object]]:
    """Basket trades, fills, the halt switch and the latest broker reconciliation."""
    groups = database.read_frame(
        "SELECT status, COUNT(*) AS n FROM basket_trade_groups GROUP BY status ORDER BY status"
    )
    latest = database.read_frame(
        "SELECT g.id, g.basket_name, g.action, g.status, "
        "SUM(CASE WHEN l.status = 'filled' THEN 1 ELSE 0 END) AS filled, COUNT(l.id) AS legs "
        "FROM basket_trade_groups g LEFT JOIN trade_previews l ON l.group_id = g.id "
        "GROUP BY g.id, g.basket_name, g.action, g.status ORDER BY g.id DESC LIMIT 1"
    )
    halt = database.read_frame("SELECT action, reason FROM trading_halts ORDER BY id DESC LIMIT 1")
    check = database.read_frame(
        "SELECT passed, breaks FROM broker_reconciliations ORDER BY id DESC LIMIT 1"
    )
    by_status = ", ".join(f"{r.status} {r.n}" for r in groups.itertuples()) or "none"
    pairs: list[tuple[str, object]] = [("trade groups", by_status)]
    if not latest.empty:
        row = latest.iloc[0]
        pairs.append(
            (
                "latest basket trade",
                f"group {row['id']} {row['action']} {row['basket_name']}: {row['status']} "
                f"({int(row['filled'])}/{int(row['legs'])} legs filled)",
            )
        )
    fills = _scalar(database, "SELECT COUNT(*) FROM broker_fills")
    pairs.append(("broker fills recorded", int(fills or 0)))
    halted = not halt.empty and halt["action"].iloc[0] == "halt"
    pairs.append(("trading", f"HALTED: {halt['reason'].iloc[0]}" if halted else "not halted"))
    if not check.empty:
        passed = bool(check["passed"].iloc[0])
        breaks = int(check["breaks"].iloc[0])
        pairs.append(("broker reconciliation", "passed" if passed else f"{breaks} break(s)"))
    return pairs


def _money(value: object, currency: object) -> str:
    if value is None:
        return "n/a"
    unit = "$" if currency in (None, "USD") else f"{currency} "
    sign = "-" if float(value) < 0 else ""
    return f"{sign}{unit}{abs(float(value)):,.2f}"


def performance_summary(database: AppDatabase, as_of: dt.date) -> list[tuple[str, object]]:
    """The latest trading-performance report and positions P&L (primary currency)."""
    report = database.read_frame(
        "SELECT report FROM trading_performance_snapshots ORDER BY id DESC LIMIT 1"
    )
    positions = database.read_frame(
        "SELECT summary FROM positions_pnl_snapshots ORDER BY id DESC LIMIT 1"
    )
    pairs: list[tuple[str, object]] = [
        ("transactions", int(_scalar(database, "SELECT COUNT(*) FROM transactions") or 0))
    ]
    if not report.empty:
        data = report["report"].iloc[0]
        data = json.loads(data) if isinstance(data, str) else data
        primary = data["primary_currency"]
        section = data["by_currency"][primary] if primary else data
        realized = section["realized_performance"]
        pairs.append(
            (
                "realized trades",
                f"{data['realized_performance']['total_trades']}: net P&L "
                f"{_money(realized['net_pnl'], primary)}, win rate "
                f"{realized['win_percent']:.1f}%",
            )
        )
    if not positions.empty:
        data = positions["summary"].iloc[0]
        data = json.loads(data) if isinstance(data, str) else data
        primary = data["primary_currency"]
        totals = data["by_currency"].get(primary) if primary else None
        if totals:
            pairs.append(
                (
                    "open positions (traded)",
                    f"{totals['num_positions']}: gross exposure "
                    f"{_money(totals['gross_exposure'], primary)}, unrealized P&L "
                    f"{_money(totals['unrealized_pnl_dollars'], primary)}",
                )
            )
    return pairs


def strategy_summary(database: AppDatabase, as_of: dt.date) -> list[tuple[str, object]]:
    """The target portfolio, its backtest and the trade plan of ``as_of`` (when computed)."""
    targets = database.read_frame(
        "SELECT symbol, weight, method FROM target_weights WHERE as_of = :d "
        "ORDER BY weight DESC, symbol",
        {"d": as_of},
    )
    if targets.empty:
        return [("strategy", "not run for this day")]
    universe = database.read_frame(
        "SELECT COUNT(*) AS n, SUM(CASE WHEN eligible THEN 1 ELSE 0 END) AS eligible "
        "FROM strategy_universe WHERE as_of = :d",
        {"d": as_of},
    ).iloc[0]
    top = ", ".join(f"{r.symbol} {r.weight:.1%}" for r in targets.head(5).itertuples())
    pairs: list[tuple[str, object]] = [
        ("strategy universe", f"{int(universe['eligible'])} eligible of {int(universe['n'])}"),
        (
            "target portfolio",
            f"{len(targets)} positions ({targets['method'].iloc[0]}); largest: {top}",
        ),
    ]
    metrics = _scalar(database, "SELECT metrics FROM backtest_runs WHERE as_of = :d", {"d": as_of})
    if metrics is not None:
        data = json.loads(metrics) if isinstance(metrics, str) else metrics
        pairs.append(
            (
                "backtest",
                f"CAGR {_fmt(data['cagr'], '.1%')}, Sharpe {_fmt(data['sharpe'], '.2f')}, "
                f"max drawdown {_fmt(data['max_drawdown'], '.1%')}, "
                f"{int(data['stop_loss_events'])} stop-losses",
            )
        )
    plan = database.read_frame(
        "SELECT p.id, p.buys_total, p.sells_total, p.cash_after, "
        "(SELECT COUNT(*) FROM trade_plan_trades t WHERE t.plan_id = p.id) AS trades, "
        "(SELECT MAX(g.id) FROM basket_trade_groups g WHERE g.trade_plan_id = p.id) AS group_id "
        "FROM trade_plans p WHERE p.as_of = :d ORDER BY p.id DESC LIMIT 1",
        {"d": as_of},
    )
    if not plan.empty:
        row = plan.iloc[0]
        group = (
            f"previewed as group {int(row['group_id'])} (`portfolio trade approve "
            f"{int(row['group_id'])}` executes it)"
            if row["group_id"] is not None and not pd.isna(row["group_id"])
            else "not previewed"
        )
        pairs.append(
            (
                "trade plan",
                f"plan {int(row['id'])}: {int(row['trades'])} trades, sells "
                f"{row['sells_total']:,.0f}, buys {row['buys_total']:,.0f}, cash after "
                f"{row['cash_after']:,.0f}; {group}",
            )
        )
    return pairs


SUMMARY_SECTIONS = (
    market_data_summary,
    risk_summary,
    baskets_summary,
    trading_summary,
    performance_summary,
    strategy_summary,
)


def pipeline_summary(settings: Settings, as_of: dt.date) -> list[tuple[str, object]]:
    """Every section's label/value pairs for the day ``as_of``."""
    database = AppDatabase(settings.database_url)
    pairs: list[tuple[str, object]] = [("market data", settings.market_data), ("as of", as_of)]
    for section in SUMMARY_SECTIONS:
        pairs.extend(section(database, as_of))
    return pairs
