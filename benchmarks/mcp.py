"""Response times of the MCP tools (``portfolio mcp``) on an existing state, e.g. the demo's.

Run ``python -m benchmarks.mcp --home PORTFOLIO_HOME [--database-url URL] [--repeats 5]``
after ``portfolio demo`` (with the same ``PORTFOLIO_HOME``). It starts the server over stdio
with the SDK's client, as an agent's client does, and prints the start-up time and, per tool,
the median and the slowest of ``--repeats`` calls in milliseconds (client side: JSON-RPC over
stdio included). Write tools work on their own basket and trade groups (``bench …``), which are
deleted or cancelled again. Prints only, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[1]


async def _timed(session: ClientSession, times: dict, name: str, arguments: dict) -> dict:
    started = time.perf_counter()
    result = await session.call_tool(name, arguments)
    times.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    if result.is_error:
        print(f"  {name}: error: {result.content[0].text}", file=sys.stderr)
        return {}
    return result.structured_content or {}


async def _round(session: ClientSession, times: dict, k: int) -> None:
    baskets = (await _timed(session, times, "list_baskets", {}))["baskets"]
    demo = baskets[0]["name"]
    basket = await _timed(session, times, "get_basket", {"name": demo})
    symbols = list(basket["weights"])
    await _timed(session, times, "analyze_basket", {"name": demo})
    await _timed(session, times, "analyze_basket_vs_portfolio", {"name": demo})
    await _timed(session, times, "portfolio_snapshot", {})
    await _timed(session, times, "sector_exposure", {})
    await _timed(session, times, "position_risk", {"symbols": symbols})
    await _timed(session, times, "trading_performance", {})
    await _timed(session, times, "positions_pnl", {})
    await _timed(session, times, "target_portfolio", {})
    await _timed(session, times, "trade_plan", {})
    name = f"bench {k}"
    await _timed(session, times, "create_basket", {"name": name, "tickers": symbols})
    await _timed(session, times, "update_basket", {"name": name, "description": "benchmark"})
    group = await _timed(
        session,
        times,
        "preview_basket_trade",
        {"basket": name, "action": "buy", "value": 5000},
    )
    await _timed(session, times, "trade_status", {"group_id": group["group_id"]})
    await _timed(session, times, "request_trade_approval", {"group_id": group["group_id"]})
    await _timed(session, times, "approve_trade", {"group_id": group["group_id"]})
    await _timed(session, times, "cancel_trade", {"group_id": group["group_id"]})
    await _timed(session, times, "delete_basket", {"name": name})
    await _timed(session, times, "create_basket_from_etf", {"etf": "XLK", "name": f"{name} etf"})
    await _timed(session, times, "delete_basket", {"name": f"{name} etf"})


async def run(home: Path, database_url: str | None, repeats: int) -> None:
    """Start the server on ``home`` and time every tool ``repeats`` times."""
    env = {"PORTFOLIO_HOME": str(home)}
    if database_url:
        env["PORTFOLIO_DATABASE_URL"] = database_url
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "orchestration.cli", "mcp"], env=env, cwd=ROOT
    )
    started = time.perf_counter()
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = await session.list_tools()
        print(
            f"start-up and tools/list ({len(tools.tools)} tools): "
            f"{(time.perf_counter() - started) * 1000:,.0f} ms"
        )
        times: dict[str, list[float]] = {}
        for k in range(repeats):
            await _round(session, times, k)
    print(f"{'tool':<30} {'median ms':>10} {'max ms':>10}")
    for name, values in times.items():
        print(f"{name:<30} {statistics.median(values):>10.1f} {max(values):>10.1f}")


def main() -> None:
    """Parse the arguments and print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="PORTFOLIO_HOME of the state")
    parser.add_argument("--database-url", help="PORTFOLIO_DATABASE_URL, if not the default")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.home.resolve(), args.database_url, args.repeats))


if __name__ == "__main__":
    main()
