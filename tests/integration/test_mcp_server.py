"""``portfolio mcp`` through a real MCP client session (the SDK's stdio client spawning
``python -m orchestration.cli mcp``) on a small market seeded into the app database, on SQLite
and PostgreSQL: the tools and their schemas, a basket created by the agent and refreshed by the
basket_changes sensor, a trade preview, an approval request shown by ``portfolio trade list``,
execution refused by default, and named errors for bad inputs that write nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from sqlalchemy import inspect, select

from orchestration.cli import main
from orchestration.cli.runs import instance_for, run_sensor_once
from orchestration.definitions import build_definitions
from orchestration.storage import bulk
from orchestration.storage.models import Base, Price
from tests.support import make_settings
from tests.trading_support import LATEST, NOW, close, seed_market

ROOT = Path(__file__).resolve().parents[2]
EARLIER = [dt.date(2024, 3, 21), dt.date(2024, 3, 22), dt.date(2024, 3, 25), dt.date(2024, 3, 26)]
BASKET = ["S01", "S02", "S03"]
TOOLS = {
    "list_baskets",
    "get_basket",
    "create_basket",
    "update_basket",
    "delete_basket",
    "create_basket_from_etf",
    "analyze_basket",
    "analyze_basket_vs_portfolio",
    "portfolio_snapshot",
    "position_risk",
    "sector_exposure",
    "trading_performance",
    "positions_pnl",
    "target_portfolio",
    "trade_plan",
    "preview_basket_trade",
    "trade_status",
    "cancel_trade",
    "request_trade_approval",
    "approve_trade",
}


def _earlier_close(symbol: str, day_index: int) -> float:
    """Closes before the two days of ``seed_market``: a zig-zag that differs by symbol."""
    i = int(symbol[1:])
    return close(symbol) - 1.0 - (4 - day_index) * (0.5 if i % 2 else -0.25) - (day_index % 2)


def _seed(database_url: str):
    database = seed_market(database_url)
    rows = [
        {
            "symbol": f"S{i:02d}",
            "date": pd.Timestamp(day),
            "close": _earlier_close(f"S{i:02d}", k),
            "adj_close": _earlier_close(f"S{i:02d}", k),
            "source": "tests",
            "ingested_at": NOW,
        }
        for i in range(1, 13)
        for k, day in enumerate(EARLIER)
    ]
    with database.transaction() as connection:
        bulk.insert_frame(connection, Price.__table__, pd.DataFrame(rows))
    return database


def _expected_total_return() -> float:
    """Equal weights rebalanced daily over the seeded closes (hand arithmetic, plain Python)."""
    days = [*EARLIER, dt.date(2024, 3, 27), LATEST]

    def price(symbol: str, k: int) -> float:
        if k < len(EARLIER):
            return _earlier_close(symbol, k)
        return close(symbol) - (1.0 if k == len(EARLIER) else 0.0)

    wealth = 1.0
    for k in range(1, len(days)):
        wealth *= 1 + sum(price(s, k) / price(s, k - 1) - 1 for s in BASKET) / len(BASKET)
    return wealth - 1


def _content_hash(database) -> str:
    digest = hashlib.sha256()
    with database.engine.connect() as connection:
        for name in sorted(inspect(connection).get_table_names()):
            if name not in Base.metadata.tables:
                continue
            rows = connection.execute(select(Base.metadata.tables[name])).all()
            digest.update(name.encode())
            for text in sorted(repr(tuple(row)) for row in rows):
                digest.update(text.encode())
    return digest.hexdigest()


@pytest.fixture
def environment(tmp_path, database_url):
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PORTFOLIO_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "PORTFOLIO_DATABASE_URL": database_url,
    }
    return env, make_settings(home, database_url, DAGSTER_HOME=env["DAGSTER_HOME"])


def _error_text(result) -> str:
    """The error message without the SDK's ``Error executing tool <name>:`` prefix."""
    assert result.is_error, result
    text = " ".join(block.text for block in result.content)
    return text.split(": ", 1)[1]


BAD_INPUTS = [
    ("create_basket", {"name": "bad one", "tickers": ["S01", "NOPE"]}, "tickers", "NOPE"),
    (
        "create_basket",
        {"name": "bad two", "tickers": ["S01", "S02"], "method": "custom", "weights": [0.5, 0.3]},
        "weights",
        "sum",
    ),
    (
        "create_basket",
        {
            "name": "bad three",
            "tickers": ["S01", "S02"],
            "method": "custom",
            "weights": [1.2, -0.2],
        },
        "weights",
        "negative",
    ),
    ("create_basket", {"name": "bad/name", "tickers": ["S01"]}, "name", "/"),
    ("create_basket", {"name": "no tickers", "tickers": []}, "tickers", "at least 1"),
    ("preview_basket_trade", {"basket": "agent three", "action": "buy", "value": -5}, "value", ""),
    (
        "preview_basket_trade",
        {"basket": "agent three", "action": "hold", "value": 10},
        "action",
        "",
    ),
    ("preview_basket_trade", {"basket": "nobody", "action": "buy", "value": 10}, "basket", ""),
    ("trade_status", {"group_id": 999}, "group_id", "999"),
    ("request_trade_approval", {"group_id": 999, "note": "x"}, "group_id", "999"),
    ("cancel_trade", {"group_id": 0}, "group_id", ""),
    ("get_basket", {"name": "missing"}, "name", "missing"),
    ("update_basket", {"name": "missing", "description": "x"}, "name", "missing"),
    ("create_basket_from_etf", {"etf": "NOSUCH", "name": "from etf"}, "etf", "NOSUCH"),
    ("position_risk", {"symbols": ["ZZZ"]}, "symbols", "ZZZ"),
    ("analyze_basket", {"name": "agent three", "end_date": "2024-13-45"}, "end_date", ""),
]


async def _session_flow(env: dict[str, str], settings, database, capsys, monkeypatch) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "orchestration.cli", "mcp"], env=env, cwd=ROOT
    )
    errlog = (settings.home / "mcp-server.log").open("w")
    async with (
        stdio_client(params, errlog=errlog) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        listed = await session.list_tools()
        schemas = {tool.name: tool.input_schema for tool in listed.tools}
        assert set(schemas) == TOOLS
        create = schemas["create_basket"]
        assert set(create["required"]) == {"name", "tickers"}
        assert create["properties"]["tickers"]["type"] == "array"
        assert create["properties"]["method"]["enum"] == ["equal", "market_cap", "custom"]
        preview = schemas["preview_basket_trade"]["properties"]
        assert preview["value"]["exclusiveMinimum"] == 0
        assert preview["action"]["enum"] == ["buy", "sell", "rebalance"]
        assert schemas["trade_status"]["properties"]["group_id"]["type"] == "integer"

        created = await session.call_tool(
            "create_basket", {"name": "agent three", "tickers": [s.lower() for s in BASKET]}
        )
        assert not created.is_error, created
        assert created.content[0].text.startswith("basket 'agent three' created")
        basket = created.structured_content
        assert basket["weights"] == pytest.approx({s: 1 / 3 for s in BASKET}, abs=1e-15)

        # the agent's basket has no analytics until the sensor's refresh run
        early = _error_text(await session.call_tool("analyze_basket", {"name": "agent three"}))
        assert "no analytics" in early and "basket_changes" in early

        before = _content_hash(database)
        for tool, arguments, name, detail in BAD_INPUTS:
            text = _error_text(await session.call_tool(tool, arguments))
            assert name in text.lower(), (tool, arguments, text)
            assert detail in text, (tool, arguments, text)
            assert "Traceback" not in text
        assert _content_hash(database) == before

        launches = await asyncio.to_thread(
            run_sensor_once, build_definitions(settings), instance_for(settings), "basket_changes"
        )
        assert [launch.success for launch in launches] == [True]

        analysis = await session.call_tool("analyze_basket", {"name": "agent three"})
        assert not analysis.is_error, analysis
        figures = analysis.structured_content
        assert figures["end_date"] == LATEST.isoformat()
        assert figures["current"] is True
        assert figures["total_return"] == pytest.approx(_expected_total_return(), abs=1e-12)
        assert {c["symbol"] for c in figures["components"]} == set(BASKET)
        assert json.loads(analysis.content[1].text)["total_return"] == figures["total_return"]
        versus = await session.call_tool("analyze_basket_vs_portfolio", {"name": "agent three"})
        assert not versus.is_error, versus
        assert -1 <= versus.structured_content["correlation"] <= 1

        previewed = await session.call_tool(
            "preview_basket_trade", {"basket": "agent three", "action": "buy", "value": 10_000}
        )
        assert not previewed.is_error, previewed
        group = previewed.structured_content
        assert group["status"] == "preview"
        assert {leg["symbol"] for leg in group["legs"]} == set(BASKET)
        assert {leg["side"] for leg in group["legs"]} == {"BUY"}
        assert group["approval_requested_at"] is None
        group_id = group["group_id"]

        requested = await session.call_tool(
            "request_trade_approval", {"group_id": group_id, "note": "rebalance into tech"}
        )
        assert not requested.is_error, requested
        assert requested.structured_content["group_id"] == group_id

        refused = _error_text(await session.call_tool("approve_trade", {"group_id": group_id}))
        assert "refused" in refused and "PORTFOLIO_MCP_ALLOW_EXECUTE" in refused
        status = await session.call_tool("trade_status", {"group_id": group_id})
        assert status.structured_content["status"] == "preview"
        assert status.structured_content["approval_requested_at"] is not None

    errlog.close()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert main(["trade", "list", "--json"]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows[group_id]["status"] == "preview"
    assert rows[group_id]["approval_requested"] is not None


def test_agent_session_over_stdio(environment, capsys, monkeypatch):
    env, settings = environment
    database = _seed(settings.database_url)
    asyncio.run(_session_flow(env, settings, database, capsys, monkeypatch))
    # the agent's writes are the store's: one basket, one preview group, one request
    with database.engine.connect() as connection:
        counts = {
            name: len(connection.execute(select(Base.metadata.tables[name])).all())
            for name in ("baskets", "basket_trade_groups", "trade_approval_requests")
        }
    assert counts == {"baskets": 1, "basket_trade_groups": 1, "trade_approval_requests": 1}
