"""Provider payloads obey the same rules as CSV files; errors name the payload, row and field."""

import datetime as dt

import pandas as pd
import pytest

from orchestration.defs.market_data.validation import (
    MarketDataSnapshot,
    Origins,
    SourceFormatError,
    shown,
    validate_snapshot,
)
from orchestration.resources.market_data import DemoMarketData


@pytest.fixture(scope="module")
def demo() -> MarketDataSnapshot:
    source = DemoMarketData(start_date="2024-01-01", n_symbols=33, end_date="2024-02-29")
    return source.load()


def _with(snapshot: MarketDataSnapshot, **tables: pd.DataFrame) -> MarketDataSnapshot:
    frames = {
        name: getattr(snapshot, name)
        for name in (
            "instruments",
            "prices",
            "benchmark_sector_weights",
            "etf_holdings",
            "positions",
        )
    }
    return MarketDataSnapshot(**{**frames, **tables}, origins=Origins.payloads("demo market"))


def test_the_demo_market_passes_every_rule(demo):
    assert validate_snapshot(demo, payloads=True) is demo


@pytest.mark.parametrize(
    ("table", "column", "value", "message"),
    [
        ("prices", "close", -1.0, r"demo market prices row 3, field 'close': must be > 0"),
        ("prices", "close", float("inf"), r"prices row 3, field 'close': not a number"),
        ("prices", "symbol", "bad symbol", r"prices row 3, field 'symbol': not an uppercase"),
        (
            "prices",
            "date",
            pd.Timestamp("2024-01-06"),
            r"prices row 3, field 'date': not a trading session: 2024-01-06 is a weekend day",
        ),
        (
            "prices",
            "date",
            pd.Timestamp("2024-02-19"),
            r"prices row 3, field 'date': not a trading session: 2024-02-19 is an NYSE holiday",
        ),
        ("positions", "quantity", 0.0, r"positions row 3, field 'quantity': must not be 0"),
        ("instruments", "sector", "Tech", r"instruments row 3, field 'sector': must be one of"),
        (
            "benchmark_sector_weights",
            "weight",
            0.5,
            r"benchmark_sector_weights row \d+, field .weight.: .*sum to 1",
        ),
    ],
)
def test_a_bad_payload_value_names_payload_row_and_field(demo, table, column, value, message):
    frame = getattr(demo, table).copy()
    frame.loc[2, column] = value
    with pytest.raises(SourceFormatError, match=message):
        validate_snapshot(_with(demo, **{table: frame}), payloads=True)


def test_cross_table_rules_name_the_referencing_row(demo):
    positions = demo.positions.copy()
    positions.loc[1, "symbol"] = "NOPE"
    with pytest.raises(
        SourceFormatError,
        match=r"demo market positions row 2, field 'symbol': not an instrument in demo market "
        r"instruments \(1 unknown symbol\(s\): NOPE\)",
    ):
        validate_snapshot(_with(demo, positions=positions), payloads=True)


def test_an_echoed_value_is_cut_to_a_readable_length():
    text = shown("x" * 1_000_000)
    assert len(text) < 80
    assert text.endswith("(1,000,000 characters)")
    assert shown(pd.Timestamp(dt.date(2024, 1, 2))) == "'2024-01-02'"
