"""The MCP tools in process (the SDK's in-memory client) on the tiny trading market: stored risk
and strategy rows read back as they were written, approval only when the operator allows it
(paper broker only), the halt switch and the limits refusing what an agent starts, cancelling a
preview, and the setting's validation."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from mcp import Client
from sqlalchemy import insert, select

from orchestration.execution.halts import halt_trading
from orchestration.mcp.server import build_server
from orchestration.settings import SettingsError, load_settings
from orchestration.storage.models import (
    BasketTradeGroup,
    PortfolioSnapshot,
    PositionMarketBeta,
    PositionVolatility,
    TargetWeightRow,
    TradeApproval,
    TradeApprovalRequest,
)
from tests.support import make_settings
from tests.trading_support import LATEST, NOW, make_basket, seed_market

STAMP = NOW.to_pydatetime()


def _call(settings, *calls: tuple[str, dict]) -> list:
    """Call tools in order on one in-process session; the results."""

    async def run() -> list:
        async with Client(build_server(settings)) as client:
            return [await client.call_tool(name, arguments) for name, arguments in calls]

    return asyncio.run(run())


def _error(result) -> str:
    assert result.is_error, result
    return result.content[0].text


def _rows(database, model) -> list:
    with database.engine.connect() as connection:
        return connection.execute(select(model.__table__)).all()


@pytest.fixture
def market(tmp_path, sqlite_url):
    """Settings factory and the seeded database (an equal-weight basket ``three``)."""
    database = seed_market(sqlite_url)
    make_basket(database, "three", 3)

    def settings(**env: str):
        return make_settings(tmp_path / "home", sqlite_url, **env)

    return settings, database


def test_allow_execute_is_paper_only():
    assert load_settings({}).mcp_allow_execute is False
    assert load_settings({"PORTFOLIO_MCP_ALLOW_EXECUTE": "true"}).mcp_allow_execute is True
    with pytest.raises(
        SettingsError, match=r"PORTFOLIO_MCP_ALLOW_EXECUTE=true .* PORTFOLIO_BROKER=paper"
    ):
        load_settings(
            {
                "PORTFOLIO_MCP_ALLOW_EXECUTE": "true",
                "PORTFOLIO_BROKER": "ib",
                "IB_ACCOUNT": "DU123",
            }
        )
    with pytest.raises(SettingsError, match="PORTFOLIO_MCP_ALLOW_EXECUTE='maybe'"):
        load_settings({"PORTFOLIO_MCP_ALLOW_EXECUTE": "maybe"})


def test_risk_and_strategy_tools_read_the_stored_rows(market):
    settings, database = market
    earlier = LATEST - dt.timedelta(days=1)
    with database.transaction() as connection:
        for day, beta in ((earlier, 0.5), (LATEST, 1.25)):
            connection.execute(
                insert(PortfolioSnapshot.__table__).values(
                    calc_date=day,
                    market_index="SPY",
                    market_beta_weighted=beta,
                    hhi=2500.0,
                    benchmark="SPX",
                    sector_exposure={"Tests": {"weight": 1.0}},
                    largest_overweight_sector="Tests",
                    largest_overweight=0.75,
                    updated_at=STAMP,
                )
            )
        connection.execute(
            insert(PositionMarketBeta.__table__).values(
                symbol="S01",
                calc_date=LATEST,
                method="ols",
                window_days=90,
                market_index="SPY",
                beta=0.8,
                beta_raw=0.8,
                capped=False,
                observations=90,
                status="ok",
                computed_at=STAMP,
            )
        )
        connection.execute(
            insert(PositionVolatility.__table__).values(
                kind="symbol",
                symbol="S01",
                calc_date=LATEST,
                realized_vol_21d=0.2,
                forecast_capped=False,
                cap_reason="none",
                har_observations=0,
                har_status="ok",
                computed_at=STAMP,
            )
        )
        connection.execute(
            insert(TargetWeightRow.__table__),
            [
                {"as_of": LATEST, "symbol": s, "method": "mvo", "weight": w, "computed_at": STAMP}
                for s, w in (("S01", 0.6), ("S02", 0.4))
            ],
        )
    latest, dated, sectors, risk, target, missing_plan, no_day = _call(
        settings(),
        ("portfolio_snapshot", {}),
        ("portfolio_snapshot", {"date": earlier.isoformat()}),
        ("sector_exposure", {}),
        ("position_risk", {"symbols": ["s01", "S02"]}),
        ("target_portfolio", {}),
        ("trade_plan", {"plan_id": 7}),
        ("portfolio_snapshot", {"date": "2020-01-01"}),
    )
    assert latest.structured_content["market_beta_weighted"] == 1.25
    assert latest.content[0].text.startswith(f"portfolio {LATEST}: beta 1.25")
    assert dated.structured_content["market_beta_weighted"] == 0.5
    assert sectors.structured_content["sector_exposure"] == {"Tests": {"weight": 1.0}}
    assert [r["beta"] for r in risk.structured_content["betas"]] == [0.8]
    assert [r["realized_vol_21d"] for r in risk.structured_content["volatility"]] == [0.2]
    positions = target.structured_content["positions"]
    assert [(p["symbol"], p["weight"]) for p in positions] == [("S01", 0.6), ("S02", 0.4)]
    assert "plan_id: trade plan 7 does not exist" in _error(missing_plan)
    assert "date: no portfolio snapshot for 2020-01-01" in _error(no_day)


def test_agents_approve_only_when_the_operator_allows_it(market):
    settings, database = market
    (preview,) = _call(
        settings(), ("preview_basket_trade", {"basket": "three", "action": "buy", "value": 5000})
    )
    group_id = preview.structured_content["group_id"]
    (refused,) = _call(settings(), ("approve_trade", {"group_id": group_id}))
    assert "PORTFOLIO_MCP_ALLOW_EXECUTE" in _error(refused)
    assert _rows(database, TradeApproval) == []

    (approved,) = _call(
        settings(PORTFOLIO_MCP_ALLOW_EXECUTE="true"), ("approve_trade", {"group_id": group_id})
    )
    assert approved.structured_content["status"] == "approved"
    assert [(r.group_id, r.source) for r in _rows(database, TradeApproval)] == [(group_id, "mcp")]


def test_the_halt_switch_refuses_what_an_agent_starts(market):
    settings, database = market
    (preview,) = _call(
        settings(), ("preview_basket_trade", {"basket": "three", "action": "buy", "value": 5000})
    )
    halt_trading(database, "agents misbehaving")
    allowed = settings(PORTFOLIO_MCP_ALLOW_EXECUTE="true")
    group_id = preview.structured_content["group_id"]
    results = _call(
        allowed,
        ("preview_basket_trade", {"basket": "three", "action": "buy", "value": 5000}),
        ("request_trade_approval", {"group_id": group_id}),
        ("approve_trade", {"group_id": group_id}),
    )
    for result in results:
        assert "trading is halted" in _error(result) and "agents misbehaving" in _error(result)
    assert len(_rows(database, BasketTradeGroup)) == 1
    assert _rows(database, TradeApprovalRequest) == []
    assert _rows(database, TradeApproval) == []


def test_limits_refuse_an_approval_request(market):
    settings, database = market
    tight = settings(PORTFOLIO_MAX_ORDER_NOTIONAL="500")
    preview, request = _call(
        tight,
        ("preview_basket_trade", {"basket": "three", "action": "buy", "value": 5000}),
        ("request_trade_approval", {"group_id": 1}),
    )
    # every leg (about 1,667 each) breaks the 500 per-order limit: the preview stores the group
    # failed with the limit named, and an agent cannot put it up for approval
    assert "max_order_notional" in str(preview.structured_content)
    assert "group 1 is failed" in _error(request)
    assert _rows(database, TradeApprovalRequest) == []


def test_cancel_and_request_on_a_cancelled_group(market):
    settings, database = market
    preview, cancelled, status, request = _call(
        settings(),
        ("preview_basket_trade", {"basket": "three", "action": "buy", "value": 5000}),
        ("cancel_trade", {"group_id": 1}),
        ("trade_status", {"group_id": 1}),
        ("request_trade_approval", {"group_id": 1}),
    )
    assert preview.structured_content["status"] == "preview"
    assert cancelled.structured_content["status"] == "cancelled"
    assert {leg["status"] for leg in status.structured_content["legs"]} == {"cancelled"}
    assert "group 1 is cancelled" in _error(request)
    assert _rows(database, TradeApprovalRequest) == []
