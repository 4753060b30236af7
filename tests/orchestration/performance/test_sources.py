"""Transaction sources: transactions.csv (validated like the market CSVs), the paper broker's
fills and IB's executions through the fake gateway, all behind one interface."""

import pandas as pd
import pytest

from orchestration.defs.market_data.csv_source import CsvFormatError
from orchestration.defs.performance.sources import BrokerTransactions, CsvTransactions
from orchestration.resources.broker import OrderRequest, OrderSide
from orchestration.resources.ib_broker import IbBroker
from tests.support_ib import ACCOUNT, FakeGateway
from tests.trading_support import paper_broker, seed_market

HEADER = "account,trade_id,datetime,symbol,side,quantity,price,fees,currency\n"


def write(tmp_path, body: str, name: str = "transactions.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def test_csv_rows_become_transactions(tmp_path):
    path = write(
        tmp_path,
        "A1,t1,2024-01-02,S01,buy,100,10,1,USD\n"
        "A1,t2,2024-01-10T15:30:00-05:00,S01,sell,100,12.5,1.25,USD\n",
    )
    frame = CsvTransactions(path).transactions()
    assert frame["trade_id"].tolist() == ["t1", "t2"]
    assert frame["side"].tolist() == ["buy", "sell"]
    assert frame["quantity"].tolist() == [100.0, 100.0]
    assert frame["price"].tolist() == [10.0, 12.5]
    assert frame["fees"].tolist() == [1.0, 1.25]
    # a date is midnight UTC; an offset is converted to UTC (15:30 -05:00 = 20:30 UTC)
    assert frame["datetime"].tolist() == [
        pd.Timestamp("2024-01-02 00:00", tz="UTC"),
        pd.Timestamp("2024-01-10 20:30", tz="UTC"),
    ]
    assert set(frame["source"]) == {"csv"}


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("A1,t1,2024-01-02,S01,hold,1,10,0,USD\n", r"line 2, field 'side'.*buy, sell.*'hold'"),
        ("A1,t1,2024-01-02,S01,buy,0,10,0,USD\n", r"line 2, field 'quantity': must be > 0"),
        ("A1,t1,2024-01-02,S01,buy,1,abc,0,USD\n", r"line 2, field 'price': not a number"),
        ("A1,t1,2024-01-02,S01,buy,1,10,-1,USD\n", r"line 2, field 'fees': must be >= 0"),
        ("A1,t1,2024-01-02,S01,buy,1,10,0,usd\n", r"line 2, field 'currency'"),
        ("A1,t1,02/01/2024,S01,buy,1,10,0,USD\n", r"line 2, field 'datetime': not an ISO 8601"),
        ("A1,t1,2024-01-02,s01,buy,1,10,0,USD\n", r"line 2, field 'symbol'"),
        ("A1,,2024-01-02,S01,buy,1,10,0,USD\n", r"line 2, field 'trade_id': value is required"),
        (
            "A1,t1,2024-01-02,S01,buy,1,10,0,USD\nA1,t1,2024-01-03,S01,sell,1,11,0,USD\n",
            r"line 3, field 'trade_id': duplicate key \(account=A1, trade_id=t1\); first seen "
            r"on line 2",
        ),
    ],
)
def test_a_bad_row_names_file_line_and_field(tmp_path, body, match):
    path = write(tmp_path, body)
    with pytest.raises(CsvFormatError, match=r"transactions\.csv " + match):
        CsvTransactions(path).transactions()


def test_a_bad_header_names_the_column(tmp_path):
    path = tmp_path / "transactions.csv"
    path.write_text("account,trade_id,datetime,symbol,side,quantity,price,currency\n")
    with pytest.raises(CsvFormatError, match=r"line 1, field 'fees': required column missing"):
        CsvTransactions(path).transactions()
    with pytest.raises(CsvFormatError, match="file not found"):
        CsvTransactions(tmp_path / "absent.csv").transactions()


def test_paper_fills_become_transactions(sqlite_url):
    seed_market(sqlite_url)
    broker = paper_broker(sqlite_url)
    broker.place(OrderRequest("S05", OrderSide.BUY, 10, "ref-1"))
    broker.place(OrderRequest("S05", OrderSide.SELL, 4, "ref-2"))
    frame = BrokerTransactions(broker).transactions()
    # S05 closes at 55; the paper broker pays 10 bp of slippage and $0.01/share, min $1
    assert frame["account"].tolist() == ["PAPER", "PAPER"]
    assert frame["side"].tolist() == ["buy", "sell"]
    assert frame["quantity"].tolist() == [10.0, 4.0]
    assert frame["price"].tolist() == pytest.approx([55.055, 54.945], abs=1e-12)
    assert frame["fees"].tolist() == [1.0, 1.0]
    assert frame["order_ref"].tolist() == ["ref-1", "ref-2"]
    assert set(frame["currency"]) == {"USD"} and set(frame["source"]) == {"paper"}


def test_ib_executions_become_transactions_with_account_and_currency():
    gateway = FakeGateway()
    broker = IbBroker(
        host="127.0.0.1",
        port=4002,
        account=ACCOUNT,
        client_id=11,
        client_factory=gateway.client,
        request_timeout=2.0,
        submit_timeout=0.5,
        probe_timeout=0.2,
        poll_interval=0.02,
    )
    with broker:
        broker.place(OrderRequest("AAPL", OrderSide.BUY, 3, "pp-1-1"))
        broker.place(OrderRequest("MSFT", OrderSide.SELL, 2, "pp-1-2"))
        broker.wait_for_terminal("pp-1-1", timeout=2)
        broker.wait_for_terminal("pp-1-2", timeout=2)
        frame = BrokerTransactions(broker).transactions()
    by_symbol = frame.set_index("symbol")
    # the fake gateway fills at the last price (AAPL 200, MSFT 400), commission max(1, 0.005 q)
    assert by_symbol.loc["AAPL", ["side", "quantity", "price", "fees"]].tolist() == [
        "buy",
        3.0,
        200.0,
        1.0,
    ]
    assert by_symbol.loc["MSFT", ["side", "quantity", "price", "fees"]].tolist() == [
        "sell",
        2.0,
        400.0,
        1.0,
    ]
    assert set(frame["account"]) == {ACCOUNT}
    assert set(frame["currency"]) == {"USD"}
    assert set(frame["source"]) == {"ib"}
    server_ids = {f.execution.execId for record in gateway.orders for f in record.fills}
    assert set(frame["trade_id"]) == server_ids
