"""The MCP server: one tool per thing an agent may read or do, each a thin adapter over the
service the command line calls for the same thing.

Every tool has typed arguments (the JSON schema comes from the type hints), lets the services
validate completely before they write, and answers with a compact structured result (numbers,
not prose; ``structuredContent``) plus a one-line summary (the first text block; the second
carries the same result as JSON for clients that read text only). A rejected call is an MCP tool
error whose message names the bad argument; a crash reaches the client as the bare tool name
(the SDK keeps the traceback on the server's standard error).

Trading safety: previews, approval requests and approvals are refused while trading is halted;
an approval request or an approval is refused when the limits would refuse a leg (a dry run of
the executor); approving is a human action (``portfolio trade approve ID``) unless
``PORTFOLIO_MCP_ALLOW_EXECUTE=true``, which settings accept with the paper broker only.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

import pandas as pd
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field
from sqlalchemy import func, select

from analytics_lib.performance import performance_report, positions_summary
from orchestration.cli.performance import POSITION_JSON_COLUMNS
from orchestration.cli.strategy import plan_summary
from orchestration.cli.trading import next_step
from orchestration.defs.baskets import store as basket_store
from orchestration.defs.performance import store as performance_store
from orchestration.defs.strategy.store import latest_plan_id
from orchestration.execution.approve import approve_basket_trade
from orchestration.execution.cancel import cancel_basket_trade
from orchestration.execution.execute import execute_basket_trade
from orchestration.execution.halts import current_halt
from orchestration.execution.preview import preview_basket_trade
from orchestration.execution.records import TradeGroup, read_group
from orchestration.mcp.approvals import REQUESTS, request_approval
from orchestration.resources.broker import BrokerError
from orchestration.resources.broker_connection import broker_connection
from orchestration.resources.database import Database
from orchestration.settings import Settings
from orchestration.storage.engine import DatabaseUnavailable
from orchestration.storage.models import (
    BasketAnalyticsRow,
    Instrument,
    PortfolioSnapshot,
    PositionMarketBeta,
    PositionVolatility,
    TargetWeightRow,
)

SERVER_NAME = "portfolio-pipeline"
SOURCE = "mcp"
ANALYTICS = BasketAnalyticsRow.__table__
SNAPSHOTS = PortfolioSnapshot.__table__
BETAS = PositionMarketBeta.__table__
VOLATILITY = PositionVolatility.__table__
TARGETS = TargetWeightRow.__table__
INSTRUMENTS = Instrument.__table__
MAX_SYMBOLS = 200
INSTRUCTIONS = (
    "Portfolio Pipeline: one investor's portfolio (prices, risk, baskets, basket trades, "
    "strategy, trade performance). Baskets you create or change are refreshed by the "
    "basket_changes sensor on its next tick; read them back with analyze_basket. Trades: "
    "preview_basket_trade, then request_trade_approval; a person approves with "
    "`portfolio trade approve ID`. Every result has a one-line summary and structured numbers "
    "(fractions, not percent)."
)

BasketName = Annotated[str, Field(min_length=1, max_length=100, description="basket name")]
Tickers = Annotated[
    list[str], Field(min_length=1, max_length=500, description="instrument symbols, e.g. XLK")
]
Method = Literal["equal", "market_cap", "custom"]
Weights = Annotated[
    list[float] | None,
    Field(description="custom weights, one per ticker, summing to 1 ± 0.01 (method=custom)"),
]
Description = Annotated[str | None, Field(max_length=2000)]
AsOf = Annotated[dt.date | None, Field(description="as-of date YYYY-MM-DD (default: latest)")]
GroupId = Annotated[int, Field(ge=1, description="trade group id (from preview_basket_trade)")]

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)
BROKER = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)


def plain(value: object) -> object:
    """``value`` as JSON data: numpy scalars as numbers, NaN and NaT as null, dates as ISO."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def result(summary: str, data: dict[str, object]) -> CallToolResult:
    """A tool's answer: the summary line, the data as JSON text and as structured content."""
    payload = plain(data)
    return CallToolResult(
        content=[
            TextContent(type="text", text=summary),
            TextContent(type="text", text=json.dumps(payload, separators=(",", ":"))),
        ],
        structured_content={"summary": summary, **payload},
    )


_CLI_FLAG = re.compile(r"--([a-z][a-z-]*)")


def _message(error: BaseException) -> str:
    """The error on one line, command-line flags spelt as tool arguments (--top-n → top_n)."""
    text = " ".join(str(error).split())
    return _CLI_FLAG.sub(lambda m: m.group(1).replace("-", "_"), text)


@contextmanager
def argument(name: str) -> Iterator[None]:
    """Name the argument a lookup was about in the tool error it raises."""
    try:
        yield
    except ValueError as exc:
        raise ToolError(f"{name}: {_message(exc)}") from None


def guarded(tool: Callable[..., CallToolResult]) -> Callable[..., CallToolResult]:
    """``tool`` with the services' anticipated failures turned into tool errors (a bad value,
    the broker or the database unavailable); its signature (the input schema) is kept."""

    @functools.wraps(tool)
    def call(**arguments: Any) -> CallToolResult:
        try:
            return tool(**arguments)
        except BrokerError as exc:
            raise ToolError(f"broker error: {_message(exc)}") from None
        except (ValueError, DatabaseUnavailable) as exc:
            raise ToolError(_message(exc)) from None

    return call


def _pct(value: object) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.1%}"


def _num(value: object, spec: str = ".2f") -> str:
    return "n/a" if value is None or pd.isna(value) else format(float(value), spec)


def _row(row: Any, drop: tuple[str, ...] = ()) -> dict[str, object]:
    return {k: v for k, v in row._mapping.items() if k not in drop}


class PortfolioTools:
    """The tools, bound to one installation's settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = Database(url=settings.database_url)

    def registry(self) -> list[tuple[Callable[..., CallToolResult], ToolAnnotations]]:
        """Every tool with its hints, in the order agents see them."""
        return [
            (self.list_baskets, READ),
            (self.get_basket, READ),
            (self.create_basket, WRITE),
            (self.update_basket, WRITE),
            (self.delete_basket, DESTRUCTIVE),
            (self.create_basket_from_etf, WRITE),
            (self.analyze_basket, READ),
            (self.analyze_basket_vs_portfolio, READ),
            (self.portfolio_snapshot, READ),
            (self.position_risk, READ),
            (self.sector_exposure, READ),
            (self.trading_performance, READ),
            (self.positions_pnl, READ),
            (self.target_portfolio, READ),
            (self.trade_plan, READ),
            (self.preview_basket_trade, BROKER),
            (self.trade_status, READ),
            (self.cancel_trade, BROKER),
            (self.request_trade_approval, BROKER),
            (self.approve_trade, BROKER),
        ]

    # baskets ------------------------------------------------------------------------------

    def _basket(self, record: basket_store.BasketRecord) -> dict[str, object]:
        weights = basket_store.resolved_weights(self.database, record)
        return {
            "name": record.name,
            "method": record.method,
            "description": record.description,
            "tickers": len(record.tickers),
            "weights": {str(k): float(v) for k, v in weights.items()},
            "updated_at": record.updated_at.isoformat(timespec="seconds"),
            "version": record.version,
        }

    def _basket_result(self, verb: str, record: basket_store.BasketRecord) -> CallToolResult:
        data = self._basket(record)
        return result(
            f"basket {record.name!r} {verb}: {data['tickers']} tickers, {record.method} weights",
            data,
        )

    def list_baskets(self) -> CallToolResult:
        """Every basket: name, weighting method, number of tickers, last update."""
        records = basket_store.list_baskets(self.database)
        rows = [
            {
                "name": r.name,
                "method": r.method,
                "tickers": len(r.tickers),
                "updated_at": r.updated_at.isoformat(timespec="seconds"),
            }
            for r in records
        ]
        return result(f"{len(rows)} baskets", {"baskets": rows})

    def get_basket(self, name: BasketName) -> CallToolResult:
        """One basket with its resolved weights (equal, market-cap or custom), summing to 1."""
        with argument("name"):
            record = basket_store.get_basket(self.database, name)
        return self._basket_result("found", record)

    def create_basket(
        self,
        name: BasketName,
        tickers: Tickers,
        method: Method = "equal",
        weights: Weights = None,
        description: Description = None,
    ) -> CallToolResult:
        """Create a basket (a named custom index). Tickers must be known instruments; custom
        weights must sum to 1 ± 0.01. The basket_changes sensor computes its return series and
        analytics on its next tick."""
        record = basket_store.create_basket(
            self.database,
            name,
            tickers,
            method=method,
            weights=weights,
            description=description,
        )
        return self._basket_result("created", record)

    def update_basket(
        self,
        name: BasketName,
        tickers: Tickers | None = None,
        method: Method | None = None,
        weights: Weights = None,
        description: Description = None,
    ) -> CallToolResult:
        """Change only the given fields of a basket (validated as a whole)."""
        with argument("name"):
            basket_store.get_basket(self.database, name)
        record = basket_store.update_basket(
            self.database,
            name,
            tickers=tickers,
            method=method,
            weights=weights,
            description=description,
        )
        return self._basket_result("updated", record)

    def delete_basket(self, name: BasketName) -> CallToolResult:
        """Delete a basket with its stored return series and analytics."""
        with argument("name"):
            record = basket_store.delete_basket(self.database, name)
        return result(
            f"basket {record.name!r} deleted ({len(record.tickers)} tickers)",
            {"deleted": record.name, "tickers": len(record.tickers)},
        )

    def create_basket_from_etf(
        self,
        etf: Annotated[str, Field(min_length=1, max_length=32, description="ETF symbol")],
        name: BasketName,
        top_n: Annotated[int | None, Field(ge=1, description="keep the N largest (10)")] = None,
        min_weight: Annotated[float | None, Field(gt=0, le=1)] = None,
        known_only: bool = False,
        description: Description = None,
    ) -> CallToolResult:
        """A custom-weighted basket from an ETF's latest holdings (top N, default 10, or those
        with weight >= min_weight), renormalised to sum to 1; known_only drops holdings that
        are not instruments first."""
        record = basket_store.create_basket_from_etf(
            self.database,
            etf,
            name,
            top_n=top_n,
            min_weight=min_weight,
            known_only=known_only,
            description=description,
        )
        return self._basket_result(f"created from {etf}", record)

    def _analytics(self, name: str, end_date: dt.date | None) -> tuple[dict[str, object], bool]:
        with argument("name"):
            record = basket_store.get_basket(self.database, name)
        query = select(ANALYTICS).where(ANALYTICS.c.basket == name)
        if end_date is not None:
            query = query.where(ANALYTICS.c.end_date == end_date)
        with self.database.engine.connect() as connection:
            row = connection.execute(query.order_by(ANALYTICS.c.end_date.desc()).limit(1)).first()
        if row is None:
            where = f" ending {end_date}" if end_date else ""
            raise ToolError(
                f"{'end_date' if end_date else 'name'}: basket {name!r} has no analytics{where} "
                "yet; the basket_changes sensor computes them on its next tick"
            )
        return _row(row), row.basket_version == record.version

    def analyze_basket(
        self,
        name: BasketName,
        end_date: AsOf = None,
    ) -> CallToolResult:
        """The stored basket_analytics of a basket (latest, or ending on end_date): total and
        annualized return, volatility, Sharpe, max drawdown, per-component return and
        contribution, monthly returns. ``current`` is false while a newer basket version
        waits for its refresh."""
        row, current = self._analytics(name, end_date)
        data = {
            key: row[key]
            for key in (
                "basket",
                "start_date",
                "end_date",
                "observations",
                "total_return",
                "annualized_return",
                "annualized_volatility",
                "sharpe",
                "max_drawdown",
                "arithmetic_return",
                "risk_free_rate",
                "rebalance",
                "components",
                "monthly_returns",
            )
        }
        data["current"] = current
        return result(
            f"basket {name!r} through {row['end_date']}: total {_pct(row['total_return'])}, "
            f"vol {_pct(row['annualized_volatility'])}, Sharpe {_num(row['sharpe'])}, "
            f"max drawdown {_pct(row['max_drawdown'])}",
            data,
        )

    def analyze_basket_vs_portfolio(
        self,
        name: BasketName,
        end_date: AsOf = None,
    ) -> CallToolResult:
        """The basket against the current portfolio over the same window (stored
        basket_analytics): correlation, beta, annualized tracking error (null without
        positions)."""
        row, current = self._analytics(name, end_date)
        data = {
            "basket": row["basket"],
            "start_date": row["start_date"],
            "end_date": row["end_date"],
            "correlation": row["portfolio_correlation"],
            "beta": row["portfolio_beta"],
            "tracking_error": row["tracking_error"],
            "observations": row["portfolio_observations"],
            "current": current,
        }
        return result(
            f"basket {name!r} vs portfolio through {row['end_date']}: correlation "
            f"{_num(row['portfolio_correlation'])}, beta {_num(row['portfolio_beta'])}, "
            f"tracking error {_pct(row['tracking_error'])}",
            data,
        )

    # risk ---------------------------------------------------------------------------------

    def _snapshot(self, date: dt.date | None) -> dict[str, object]:
        query = select(SNAPSHOTS)
        if date is not None:
            query = query.where(SNAPSHOTS.c.calc_date == date)
        with self.database.engine.connect() as connection:
            row = connection.execute(query.order_by(SNAPSHOTS.c.calc_date.desc()).limit(1)).first()
        if row is None:
            raise ToolError(
                f"date: no portfolio snapshot for {date}"
                if date
                else "no portfolio snapshot yet; run the daily pipeline (`portfolio run`)"
            )
        return _row(row)

    def portfolio_snapshot(self, date: AsOf = None) -> CallToolResult:
        """The portfolio's risk figures (portfolio_snapshots) at the latest or a given date:
        market beta (weighted and direct), realized and HAR-expected volatility, concentration
        (HHI, effective positions, top holdings), portfolio return."""
        row = self._snapshot(date)
        data = {k: v for k, v in row.items() if k not in ("sector_exposure", "updated_at")}
        return result(
            f"portfolio {row['calc_date']}: beta {_num(row['market_beta_weighted'])}, "
            f"realized vol 21d {_pct(row['realized_volatility_21d'])}, expected vol 21d "
            f"{_pct(row['expected_volatility_21d'])}, HHI {_num(row['hhi'], ',.0f')}",
            data,
        )

    def sector_exposure(self, date: AsOf = None) -> CallToolResult:
        """Sector weights of the portfolio against its benchmark (portfolio_snapshots) at the
        latest or a given date, with the largest over- and underweight."""
        row = self._snapshot(date)
        keys = (
            "calc_date",
            "benchmark",
            "benchmark_asof",
            "sector_look_through",
            "largest_overweight_sector",
            "largest_overweight",
            "largest_underweight_sector",
            "largest_underweight",
            "largest_active_weight",
            "unclassified_weight",
            "sector_exposure",
        )
        return result(
            f"sectors {row['calc_date']} vs {row['benchmark']}: largest overweight "
            f"{row['largest_overweight_sector']} {_pct(row['largest_overweight'])}, largest "
            f"underweight {row['largest_underweight_sector']} {_pct(row['largest_underweight'])}",
            {key: row[key] for key in keys},
        )

    def position_risk(
        self,
        symbols: Annotated[list[str], Field(min_length=1, max_length=MAX_SYMBOLS)],
        date: AsOf = None,
    ) -> CallToolResult:
        """Market betas (position_market_betas) and realized / HAR-expected volatility
        (position_volatility) of the given symbols at the latest or a given date."""
        wanted = list(dict.fromkeys(s.upper() for s in symbols))
        with self.database.engine.connect() as connection:
            known = set(
                connection.execute(
                    select(INSTRUMENTS.c.symbol).where(INSTRUMENTS.c.symbol.in_(wanted))
                ).scalars()
            )
            unknown = [s for s in wanted if s not in known]
            if unknown:
                raise ToolError(
                    f"symbols: unknown symbols ({len(unknown)}): {', '.join(map(repr, unknown))}"
                )
            frames = {}
            for name, table, extra in (
                ("betas", BETAS, ()),
                ("volatility", VOLATILITY, (VOLATILITY.c.kind == "symbol",)),
            ):
                latest = select(func.max(table.c.calc_date)).where(*extra)
                if date is not None:
                    latest = latest.where(table.c.calc_date <= date)
                day = connection.execute(latest).scalar()
                rows = connection.execute(
                    select(table)
                    .where(table.c.calc_date == day, table.c.symbol.in_(wanted), *extra)
                    .order_by(table.c.symbol)
                ).all()
                frames[name] = [_row(r, ("computed_at", "kind")) for r in rows]
        if not frames["betas"] and not frames["volatility"]:
            raise ToolError(
                f"date: no betas or volatility on or before {date}"
                if date
                else "no betas or volatility yet; run the daily pipeline (`portfolio run`)"
            )
        betas = {r["symbol"]: r["beta"] for r in frames["betas"]}
        listing = ", ".join(f"{s} {_num(betas.get(s))}" for s in wanted[:5])
        return result(f"betas of {len(wanted)} symbols: {listing}", frames)

    # trading analytics --------------------------------------------------------------------

    def trading_performance(
        self,
        account: Annotated[str | None, Field(max_length=64)] = None,
        since: Annotated[dt.date | None, Field(description="closed on or after YYYY-MM-DD")] = None,
    ) -> CallToolResult:
        """Realized performance of the FIFO-matched closed trades (as `portfolio performance
        --json`): P&L, win rate, return distribution and statistics, per currency."""
        with self.database.engine.connect() as connection:
            if account is not None:
                known = performance_store.transaction_accounts(connection)
                if account not in known:
                    raise ToolError(
                        f"account: {account!r} has no transactions; known accounts: "
                        f"{', '.join(known) or 'none'}"
                    )
            trades = performance_store.read_realized_trades(connection, account, since)
        report = performance_report(trades)
        realized = report["realized_performance"]
        return result(
            f"{realized['total_trades']} realized trades: net P&L "
            f"{_num(realized.get('net_pnl'), ',.2f')}, win rate "
            f"{_num(realized.get('win_percent'), '.1f')}%",
            {"account": account, "since": since, **report},
        )

    def positions_pnl(self) -> CallToolResult:
        """Open positions of the transactions at the latest close with $ and % P&L, plus
        exposure totals per currency and account (as `portfolio positions --pnl --json`)."""
        with self.database.engine.connect() as connection:
            frame = performance_store.read_positions_pnl(connection)
        summary = positions_summary(frame)
        rows = frame.assign(ticker=frame["symbol"], direction=frame["direction"].str.upper())
        positions = rows.loc[:, list(POSITION_JSON_COLUMNS)].to_dict("records")
        return result(
            f"{len(positions)} open positions", {"positions": positions, "summary": summary}
        )

    # strategy -----------------------------------------------------------------------------

    def target_portfolio(self, date: AsOf = None) -> CallToolResult:
        """The strategy's target portfolio (target_weights) at the latest or a given as-of
        date: symbol, weight, combined factor score, category."""
        with self.database.engine.connect() as connection:
            day = date or connection.execute(select(func.max(TARGETS.c.as_of))).scalar()
            rows = connection.execute(
                select(TARGETS.c.symbol, TARGETS.c.weight, TARGETS.c.combined, TARGETS.c.category)
                .where(TARGETS.c.as_of == day)
                .order_by(TARGETS.c.weight.desc(), TARGETS.c.symbol)
            ).all()
            method = connection.execute(
                select(TARGETS.c.method).where(TARGETS.c.as_of == day).limit(1)
            ).scalar()
        if not rows:
            raise ToolError(
                f"date: no target portfolio for {date}"
                if date
                else "no target portfolio yet; run `portfolio strategy run`"
            )
        positions = [_row(r) for r in rows]
        top = ", ".join(f"{r['symbol']} {_pct(r['weight'])}" for r in positions[:3])
        return result(
            f"target portfolio {day} ({method}): {len(positions)} positions; top {top}",
            {"as_of": day, "method": method, "positions": positions},
        )

    def trade_plan(
        self,
        plan_id: Annotated[int | None, Field(ge=1, description="default: the newest")] = None,
    ) -> CallToolResult:
        """A stored trade plan (the newest by default): its trades, buy and sell totals, cash
        after, and the transition (retained, exiting, entering symbols)."""
        chosen = plan_id if plan_id is not None else latest_plan_id(self.database)
        if chosen is None:
            raise ToolError("no trade plan yet; run `portfolio strategy run`")
        with argument("plan_id"):
            summary = plan_summary(self.settings, chosen)
        return result(
            f"trade plan {chosen} ({summary['as_of']}): {len(summary['trades'])} trades, buys "
            f"{_num(summary['buys_total'], ',.2f')}, sells {_num(summary['sells_total'], ',.2f')}",
            summary,
        )

    # trades -------------------------------------------------------------------------------

    def _require_not_halted(self) -> None:
        halt = current_halt(self.database)
        if halt.halted:
            raise ToolError(
                f"refused: {halt.describe()}; a person lifts it with `portfolio trading resume`"
            )

    def _require_within_limits(self, group_id: int) -> None:
        connection = broker_connection(self.settings, readonly=True)
        try:
            with argument("group_id"):
                report = execute_basket_trade(
                    self.database,
                    connection.get,
                    group_id,
                    trading=self.settings.trading,
                    owner=f"{SOURCE}-dry-run-{uuid.uuid4().hex[:12]}",
                    dry_run=True,
                )
        finally:
            connection.close()
        refused = [
            f"leg {row['leg']} {row['symbol']}: {str(row['would']).removeprefix('refuse: ')}"
            for row in report.legs
            if str(row.get("would", "")).startswith("refuse")
        ]
        if refused:
            raise ToolError(
                f"group_id: the limits would refuse {len(refused)} leg(s) of group {group_id}: "
                + "; ".join(refused)
            )

    def _group(self, group: TradeGroup) -> dict[str, object]:
        with self.database.engine.connect() as connection:
            requested = connection.execute(
                select(func.max(REQUESTS.c.requested_at)).where(REQUESTS.c.group_id == group.id)
            ).scalar()
        return {
            "group_id": group.id,
            "basket": group.basket_name,
            "action": group.action,
            "requested_value": group.requested_value,
            "status": group.status.value,
            "broker": group.broker,
            "account": group.account,
            "estimated_cost": group.estimated_cost,
            "total_notional": group.total_notional,
            "total_commission": group.total_commission,
            "leftover_cash": group.leftover_cash,
            "created_at": group.created_at,
            "approved_at": group.approved_at,
            "finished_at": group.finished_at,
            "approval_requested_at": requested,
            "next_step": next_step(group, current_halt(self.database)),
            "warnings": list(group.warnings),
            "drift_warnings": list(group.drift_warnings),
            "legs": [
                {
                    "leg": leg.leg_no,
                    "symbol": leg.symbol,
                    "side": leg.side,
                    "quantity": leg.quantity,
                    "estimated_price": leg.estimated_price,
                    "estimated_cost": leg.estimated_cost,
                    "status": leg.status.value,
                    "filled": leg.filled_quantity,
                    "average_price": leg.average_fill_price,
                }
                for leg in group.legs
            ],
        }

    def _group_summary(self, group: TradeGroup) -> str:
        return (
            f"group {group.id} {group.status.value}: {group.action} {group.basket_name} "
            f"{group.requested_value:,.2f}, {len(group.legs)} legs, estimated cost "
            f"{group.estimated_cost:,.2f}"
        )

    def preview_basket_trade(
        self,
        basket: BasketName,
        action: Literal["buy", "sell", "rebalance"],
        value: Annotated[float, Field(gt=0, allow_inf_nan=False, description="cash value")],
    ) -> CallToolResult:
        """Preview buying, selling or rebalancing a basket for a cash value: whole-share legs
        with a what-if preview each, stored as a trade group in preview. Nothing is sent to
        the broker; follow with request_trade_approval."""
        self._require_not_halted()
        with argument("basket"):
            basket_store.get_basket(self.database, basket)
        with broker_connection(self.settings, readonly=True).session() as broker:
            group = preview_basket_trade(
                self.database,
                broker,
                basket,
                action,
                value,
                trading=self.settings.trading,
                source=SOURCE,
            )
        return result(self._group_summary(group), self._group(group))

    def trade_status(self, group_id: GroupId) -> CallToolResult:
        """A trade group with its legs, fills, approval request and next step."""
        with argument("group_id"):
            group = read_group(self.database, group_id)
        return result(self._group_summary(group), self._group(group))

    def cancel_trade(self, group_id: GroupId) -> CallToolResult:
        """Cancel what is not yet filled of a group: unsent legs are cancelled, an order in
        flight is cancelled at the broker; filled legs stay filled."""
        connection = broker_connection(self.settings, readonly=False)
        try:
            with argument("group_id"):
                report = cancel_basket_trade(
                    self.database,
                    connection.get,
                    group_id,
                    trading=self.settings.trading,
                    owner=f"{SOURCE}-cancel-{uuid.uuid4().hex[:12]}",
                )
        finally:
            connection.close()
        return result(report.message, report.as_dict())

    def request_trade_approval(
        self,
        group_id: GroupId,
        note: Annotated[str | None, Field(max_length=2000, description="for the approver")] = None,
    ) -> CallToolResult:
        """Ask a person to approve a previewed group (recorded; `portfolio trade list` shows
        it). Refused while trading is halted or when the limits would refuse a leg."""
        self._require_not_halted()
        with argument("group_id"):
            read_group(self.database, group_id)
        self._require_within_limits(group_id)
        with argument("group_id"):
            request = request_approval(self.database, group_id, requested_by=SOURCE, note=note)
        return result(
            f"approval of group {group_id} requested (request {request.id}); a person approves "
            f"with `portfolio trade approve {group_id}`",
            request.as_dict(),
        )

    def approve_trade(self, group_id: GroupId) -> CallToolResult:
        """Approve a previewed group; the trade_approval_sensor then executes it. Refused unless
        the operator set PORTFOLIO_MCP_ALLOW_EXECUTE=true (paper broker only): otherwise use
        request_trade_approval."""
        if not self.settings.mcp_allow_execute:
            raise ToolError(
                "refused: approving and executing trades are human actions "
                f"(`portfolio trade approve {group_id}`); use request_trade_approval. An "
                "operator can allow agents with PORTFOLIO_MCP_ALLOW_EXECUTE=true (paper broker "
                "only)"
            )
        self._require_not_halted()
        with argument("group_id"):
            read_group(self.database, group_id)
        self._require_within_limits(group_id)
        with argument("group_id"):
            approval = approve_basket_trade(self.database, group_id, source=SOURCE)
        return result(approval.message, approval.as_dict())


def build_server(settings: Settings) -> MCPServer:
    """The MCP server with every tool of :class:`PortfolioTools` registered."""
    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING")
    for tool, hints in PortfolioTools(settings).registry():
        server.add_tool(guarded(tool), annotations=hints)
    return server
