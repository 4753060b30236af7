"""The demo's trades end to end on SQLite and PostgreSQL: a basket buy and a partial sale go
preview → approve → sensor → execute on the paper broker; the refresh job then records every
paper fill as a transaction and the sale as a realized trade.

Hand-worked on the tiny market (S<i> closes at 20 + 7 i, portfolio holds S01-S03): the demo
buys 10,000 of the equal-weight basket S01-S10, 1,000 each; S04 (close 48) gets
floor(1000 / 48) = 20 shares, the most of any symbol the portfolio did not hold, so the round
trip sells 10 of them.
"""

import json

from orchestration.cli import main
from orchestration.cli.trading import demo_basket_trade
from orchestration.settings import load_settings
from tests.trading_support import make_basket, seed_market


def test_demo_trades_become_transactions_and_a_realized_trade(
    tmp_path, database_url, monkeypatch, capsys
):
    for name in ("PORTFOLIO_MARKET_DATA", "PORTFOLIO_CSV_DIR", "PORTFOLIO_BROKER", "IB_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTFOLIO_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("PORTFOLIO_DATABASE_URL", database_url)
    database = seed_market(database_url)
    make_basket(database)

    trade = demo_basket_trade(load_settings())
    assert trade["success"] and trade["status"] == "completed"
    round_trip = trade["round_trip"]
    assert (round_trip["symbol"], round_trip["bought"], round_trip["sold"]) == ("S04", 20, 10)

    assert main(["performance", "--refresh", "--trades", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    fills = database.read_frame("SELECT id, order_ref FROM paper_fills")
    recorded = database.read_frame("SELECT trade_id, order_ref, source FROM transactions")
    assert sorted(recorded["trade_id"]) == sorted(f"paper-{i}" for i in fills["id"])
    assert sorted(recorded["order_ref"]) == sorted(fills["order_ref"])
    assert set(recorded["source"]) == {"paper"}
    [realized] = report["realized_trades"]
    assert (realized["symbol"], realized["direction"], realized["quantity"]) == ("S04", "long", 10)
    assert report["realized_performance"]["total_trades"] == 1

    assert main(["positions", "--pnl", "--json"]) == 0
    positions = {p["ticker"]: p for p in json.loads(capsys.readouterr().out)["positions"]}
    assert positions["S04"]["shares"] == 10
    assert len(positions) == len(fills) - 1  # one position per bought symbol
