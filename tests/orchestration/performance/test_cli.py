"""`portfolio transactions import`, `portfolio performance` and `portfolio positions --pnl` on a
hand-worked book (tiny market: S<i> closes at 20 + 7 i), on SQLite and PostgreSQL.

The book (account A1, USD):
- S01 long: buy 100 @ 10 (fee 1) on 01-02, sell 100 @ 12 (fee 1) on 01-10:
  P&L = (12 - 10) * 100 - 2 = 198, 198 / 1000 = +19.8 %, held 8 days;
- S02 short: sell 50 @ 20 on 01-03, buy 50 @ 22 on 01-05: P&L = (20 - 22) * 50 = -100, -10 %;
- S03 open long: buy 10 @ 40; close 41 → P&L +10, +2.5 %, exposure 410;
- S04 open long: buy 1 @ 500; close 48 → P&L -452, -90.4 %; entry > 10 x price → ⚠.
Realized: 2 trades, 1 win, 1 loss, net 98, profit factor 198 / 100 = 1.98, expectancy
0.5 * 198 - 0.5 * 100 = 49.
"""

import json

import pytest
from sqlalchemy import text

from orchestration.cli import main
from tests.trading_support import seed_market

HEADER = "account,trade_id,datetime,symbol,side,quantity,price,fees,currency\n"
BOOK = (
    "A1,t1,2024-01-02,S01,buy,100,10,1,USD\n"
    "A1,t2,2024-01-10,S01,sell,100,12,1,USD\n"
    "A1,t3,2024-01-03,S02,sell,50,20,0,USD\n"
    "A1,t4,2024-01-05,S02,buy,50,22,0,USD\n"
    "A1,t5,2024-01-08,S03,buy,10,40,0,USD\n"
    "A1,t6,2024-01-09,S04,buy,1,500,0,USD\n"
)


@pytest.fixture
def book(tmp_path, database_url, monkeypatch):
    for name in ("PORTFOLIO_MARKET_DATA", "PORTFOLIO_CSV_DIR", "PORTFOLIO_BROKER", "IB_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTFOLIO_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("PORTFOLIO_DATABASE_URL", database_url)
    database = seed_market(database_url, holdings={})
    path = tmp_path / "transactions.csv"
    path.write_text(HEADER + BOOK)
    return database, path


def _json(capsys, *argv: str) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _table(database) -> list[tuple]:
    with database.engine.connect() as connection:
        return connection.execute(
            text("SELECT * FROM transactions ORDER BY account, trade_id")
        ).all()


def test_import_is_idempotent(book, capsys):
    database, path = book
    first = _json(capsys, "transactions", "import", str(path))
    assert (first["received"], first["new"], first["updated"], first["unchanged"]) == (6, 6, 0, 0)
    before = _table(database)
    again = _json(capsys, "transactions", "import", str(path))
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, 6)
    assert _table(database) == before
    # a corrected fee updates that one execution
    path.write_text(
        HEADER
        + BOOK.replace("A1,t6,2024-01-09,S04,buy,1,500,0", "A1,t6,2024-01-09,S04,buy,1,500,2")
    )
    fixed = _json(capsys, "transactions", "import", str(path))
    assert (fixed["new"], fixed["updated"], fixed["unchanged"]) == (0, 1, 5)


def test_a_bad_file_exits_2_with_one_line_and_writes_nothing(book, capsys, tmp_path):
    database, path = book
    assert main(["transactions", "import", str(path)]) == 0
    capsys.readouterr()
    before = _table(database)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        HEADER + "A1,t7,2024-01-11,S05,buy,5,55,0,USD\nA1,t8,2024-01-12,S05,sell,x,56,0,USD\n"
    )
    assert main(["transactions", "import", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "bad.csv line 3, field 'quantity': not a number" in err
    assert _table(database) == before


def test_performance_and_positions_reports(book, capsys):
    _database, path = book
    assert main(["transactions", "import", str(path)]) == 0
    capsys.readouterr()
    report = _json(capsys, "performance", "--refresh")
    summary = report["realized_performance"]
    assert (summary["total_trades"], summary["num_wins"], summary["num_losses"]) == (2, 1, 1)
    assert summary["total_win_dollars"] == pytest.approx(198.0)
    assert summary["total_loss_dollars"] == pytest.approx(100.0)
    assert summary["net_pnl"] == pytest.approx(98.0)
    assert summary["profit_factor"] == pytest.approx(1.98)
    assert summary["expectancy"] == pytest.approx(49.0)
    counts = {b["range_label"]: b["count"] for b in report["return_distribution"]["buckets"]}
    assert counts["-10% to 0%"] == 1 and counts["10% to 20%"] == 1  # -10 % is [-10, 0)
    assert report["return_distribution"]["min_return"] == pytest.approx(-10.0)
    assert report["return_distribution"]["max_return"] == pytest.approx(19.8)
    assert report["primary_currency"] == "USD"
    assert report["return_statistics"]["kurtosis"] is None  # two trades: undefined → null

    trades = _json(capsys, "performance", "--trades", "--since", "2024-01-06")["realized_trades"]
    assert [(t["symbol"], t["direction"], t["holding_days"]) for t in trades] == [
        ("S01", "long", 8)
    ]
    assert trades[0]["name"] == "Test Co S01"  # instruments.name
    assert trades[0]["pnl_pct"] == pytest.approx(19.8)

    assert main(["performance"]) == 0
    out = capsys.readouterr().out
    assert "REALIZED PERFORMANCE" in out and "RETURN DISTRIBUTION" in out
    assert "Trades:     2 total (1 wins, 1 losses, 0 breakeven)" in out
    assert "Net P&L:    $98.00" in out and "Profit Factor: 1.98" in out
    assert "Expectancy: $49.00 per trade" in out

    positions = _json(capsys, "positions", "--pnl")
    rows = {p["ticker"]: p for p in positions["positions"]}
    assert set(rows) == {"S03", "S04"}
    assert rows["S03"]["direction"] == "LONG"
    assert rows["S03"]["entry_price"] == pytest.approx(40.0)
    assert rows["S03"]["current_price"] == pytest.approx(41.0)
    assert rows["S03"]["pnl_dollars"] == pytest.approx(10.0)
    assert rows["S03"]["pnl_percent"] == pytest.approx(2.5)
    assert rows["S03"]["entry_price_warning"] is False
    assert rows["S04"]["pnl_percent"] == pytest.approx(-90.4)
    assert rows["S04"]["entry_price_warning"] is True
    usd = positions["summary"]["by_currency"]["USD"]
    assert usd["gross_exposure"] == pytest.approx(410.0 + 48.0)
    assert usd["unrealized_pnl_dollars"] == pytest.approx(10.0 - 452.0)
    assert positions["summary"]["by_account"]["A1"]["USD"]["num_positions"] == 2

    assert main(["positions", "--pnl"]) == 0
    out = capsys.readouterr().out
    assert "POSITIONS MONITOR" in out
    [s04] = [line for line in out.splitlines() if line.startswith("S04")]
    assert s04.endswith("⚠")
    assert "⚠ Entry price may be inaccurate" in out
    assert "Gross Exposure:  $458.00" in out


def test_unknown_account_is_bad_input(book, capsys):
    _database, path = book
    assert main(["transactions", "import", str(path)]) == 0
    capsys.readouterr()
    assert main(["performance", "--account", "ZZ"]) == 2
    assert "--account 'ZZ' has no transactions; known accounts: A1" in capsys.readouterr().err
