"""Basket management on SQLite and PostgreSQL: CRUD, validation errors that change nothing,
ETF seeding, versions; and the `portfolio basket` commands."""

import datetime as dt
import json

import pandas as pd
import pytest
from sqlalchemy import insert

from orchestration.cli import main
from orchestration.defs.baskets import store as basket_store
from orchestration.defs.baskets.store import BasketError
from orchestration.resources.database import Database
from orchestration.storage.bulk import insert_frame
from orchestration.storage.models import BasketAnalyticsRow, BasketReturn, EtfHolding, Instrument

NOW = pd.Timestamp("2024-01-02 00:00:00")
INSTRUMENTS = pd.DataFrame(
    {
        "symbol": ["AAA", "BBB", "CCC", "DDD", "XLK"],
        "name": ["A", "B", "C", "D", "Tech ETF"],
        "sector": ["Information Technology"] * 4 + [None],
        "industry": [None] * 5,
        "market_cap": [300.0, 100.0, None, 600.0, None],
        "asset_type": ["stock"] * 4 + ["etf"],
        "currency": ["USD"] * 5,
        "source": "test",
        "updated_at": NOW,
    }
)
HOLDINGS = pd.DataFrame(
    {
        "etf": ["XLK"] * 5 + ["XLK"] * 2,
        "asof_date": [pd.Timestamp("2024-01-02")] * 5 + [pd.Timestamp("2023-06-30")] * 2,
        "symbol": ["AAA", "BBB", "CCC", "DDD", "ZZZ", "AAA", "BBB"],
        "weight": [0.30, 0.10, 0.20, 0.15, 0.25, 0.5, 0.5],
        "source": "test",
        "updated_at": NOW,
    }
)


@pytest.fixture
def database(database_url):
    db = Database(url=database_url)
    with db.transaction() as connection:
        insert_frame(connection, Instrument.__table__, INSTRUMENTS)
        insert_frame(connection, EtfHolding.__table__, HOLDINGS)
    return db


def _state(database):
    return database.read_frame("SELECT * FROM baskets ORDER BY name")


def test_create_show_list_update_delete(database):
    record = basket_store.create_basket(
        database, "Tech leaders", ["aaa", "BBB"], description="two names"
    )
    assert record.tickers == ("AAA", "BBB") and record.method == "equal"
    assert basket_store.resolved_weights(database, record).to_dict() == {"AAA": 0.5, "BBB": 0.5}
    assert [b.name for b in basket_store.list_baskets(database)] == ["Tech leaders"]

    updated = basket_store.update_basket(database, "Tech leaders", description="renamed")
    assert updated.tickers == record.tickers and updated.description == "renamed"
    assert updated.updated_at > record.updated_at
    assert updated.version != record.version
    assert updated.created_at == record.created_at

    custom = basket_store.update_basket(
        database, "Tech leaders", method="custom", weights=[0.7, 0.3]
    )
    weights = basket_store.resolved_weights(database, custom)
    assert weights.to_dict() == pytest.approx({"AAA": 0.7, "BBB": 0.3}, abs=1e-15)
    # changing only the description keeps the custom weights
    kept = basket_store.update_basket(database, "Tech leaders", description="x")
    assert kept.weights == custom.weights

    caps = basket_store.create_basket(database, "caps", ["AAA", "BBB", "DDD"], method="market_cap")
    assert basket_store.resolved_weights(database, caps).tolist() == pytest.approx(
        [300 / 1000, 100 / 1000, 600 / 1000]
    )
    deleted = basket_store.delete_basket(database, "caps")
    assert deleted.name == "caps"
    assert [b.name for b in basket_store.list_baskets(database)] == ["Tech leaders"]
    assert basket_store.basket_versions(database) == {"Tech leaders": kept.version}


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda db: basket_store.create_basket(db, "b", ["AAA", "QQQ", "ZZZ"]),
            r"unknown tickers \(2\): 'QQQ', 'ZZZ'",
        ),
        (lambda db: basket_store.create_basket(db, "b", ["AAA", "aaa"]), "duplicate tickers: AAA"),
        (lambda db: basket_store.create_basket(db, "b", []), "tickers is empty"),
        (
            lambda db: basket_store.create_basket(
                db, "b", ["AAA", "BBB"], method="custom", weights=[1.2, -0.2]
            ),
            "negative",
        ),
        (
            lambda db: basket_store.create_basket(
                db, "b", ["AAA", "BBB"], method="custom", weights=[0.5, 0.2]
            ),
            "sum to 1",
        ),
        (
            lambda db: basket_store.create_basket(
                db, "b", ["AAA", "BBB"], method="custom", weights=[1.0]
            ),
            r"count \(1\).*\(2\)",
        ),
        (lambda db: basket_store.create_basket(db, "x" * 101, ["AAA"]), "maximum is 100"),
        (lambda db: basket_store.create_basket(db, "bad/name", ["AAA"]), "'/'"),
        (
            lambda db: basket_store.create_basket(db, "a...b", ["AAA"]),
            r"contains '\.\.\.', which Dagster reserves for partition ranges",
        ),
        (
            lambda db: basket_store.create_basket(db, "XLK", ["AAA"]),
            "'XLK' is a standard factor proxy",
        ),
        (lambda db: basket_store.create_basket(db, "b", ["AAA"], method="cap"), "method must be"),
        (lambda db: basket_store.create_basket(db, "b", ["AAA"], weights=[1.0]), "only accepted"),
        (lambda db: basket_store.create_basket(db, "existing", ["AAA"]), "already exists"),
        (lambda db: basket_store.update_basket(db, "missing", description="x"), "does not exist"),
        (lambda db: basket_store.update_basket(db, "existing"), "nothing to update"),
        (
            lambda db: basket_store.update_basket(db, "existing", tickers=["AAA", "BBB", "DDD"]),
            r"changing its tickers needs --weights \(one per ticker, 3 here\)",
        ),
        (
            lambda db: basket_store.update_basket(db, "existing", weights=[0.5, 0.3, 0.2]),
            r"count \(3\) does not match tickers count \(2\)",
        ),
        (lambda db: basket_store.delete_basket(db, "missing"), "does not exist"),
        (
            lambda db: basket_store.resolved_weights(
                db, basket_store.create_basket(db, "b", ["AAA", "CCC"], method="market_cap")
            ),
            "CCC",
        ),
    ],
)
def test_rejected_commands_change_nothing(database, call, match):
    basket_store.create_basket(
        database, "existing", ["AAA", "BBB"], method="custom", weights=[0.6, 0.4]
    )
    before = _state(database)
    with pytest.raises(ValueError, match=match):
        call(database)
    after = _state(database)
    if match == "CCC":  # the basket was created; weights cannot be resolved without a cap
        after = after.loc[after["name"] != "b"].reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)


def test_from_etf_seeds_the_top_holdings_renormalised(database):
    with pytest.raises(ValueError, match=r"unknown tickers.*ZZZ"):
        basket_store.create_basket_from_etf(database, "XLK", "tech top 3", top_n=3)
    record = basket_store.create_basket_from_etf(
        database, "XLK", "tech top 3", top_n=3, known_only=True
    )
    latest = HOLDINGS.loc[(HOLDINGS["asof_date"] == "2024-01-02") & (HOLDINGS["symbol"] != "ZZZ")]
    top = latest.nlargest(3, "weight")
    expected = dict(zip(top["symbol"], top["weight"] / top["weight"].sum(), strict=True))
    assert record.method == "custom"
    assert dict(zip(record.tickers, record.weights, strict=True)) == pytest.approx(expected)
    by_weight = basket_store.create_basket_from_etf(
        database, "XLK", "tech big", min_weight=0.2, known_only=True
    )
    assert set(by_weight.tickers) == {"AAA", "CCC"}
    with pytest.raises(BasketError, match="no holdings"):
        basket_store.create_basket_from_etf(database, "SPY", "spy")


def test_basket_commands(database, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PORTFOLIO_HOME", str(tmp_path))
    monkeypatch.setenv("PORTFOLIO_DATABASE_URL", database.url)
    monkeypatch.delenv("PORTFOLIO_MARKET_DATA", raising=False)
    argv = [
        "basket",
        "create",
        "core",
        "--tickers",
        "AAA,BBB,DDD",
        "--method",
        "custom",
        "--weights",
        "0.5,0.3,0.2",
        "--json",
    ]
    assert main(argv) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["resolved_weights"] == pytest.approx({"AAA": 0.5, "BBB": 0.3, "DDD": 0.2})
    assert main(["basket", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(b["name"], b["tickers"], b["method"]) for b in listed] == [("core", 3, "custom")]
    assert main(["basket", "update", "core", "--method", "equal", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["resolved_weights"] == pytest.approx(
        {"AAA": 1 / 3, "BBB": 1 / 3, "DDD": 1 / 3}
    )
    assert main(["basket", "show", "core"]) == 0
    assert "equal" in capsys.readouterr().out
    assert main(["basket", "create", "core", "--tickers", "AAA"]) == 2
    assert "basket 'core' already exists" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["basket", "create", "x", "--tickers", "AAA", "--weights", "a,b"])
    assert "--weights 'a,b' must be comma-separated numbers" in capsys.readouterr().err
    assert main(["basket", "from-etf", "XLK", "etf seeded", "--top-n", "2", "--known-only"]) == 0
    assert "Seeded from XLK holdings (top 2)" in capsys.readouterr().out
    assert main(["basket", "delete", "core", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"]["name"] == "core"
    assert [b.name for b in basket_store.list_baskets(database)] == ["etf seeded"]


def test_delete_removes_the_stored_series_and_analytics(database):
    basket_store.create_basket(database, "gone", ["AAA"])
    basket_store.create_basket(database, "kept", ["BBB"])
    stamp = pd.Timestamp("2024-01-03 00:00:00")
    series = pd.DataFrame(
        {
            "basket": ["gone", "kept"],
            "date": pd.Timestamp("2024-01-02"),
            "daily_return": [0.01, 0.02],
            "coverage": 1.0,
            "rebalance": "daily",
            "basket_version": "v",
            "computed_at": stamp,
        }
    )
    with database.transaction() as connection:
        insert_frame(connection, BasketReturn.__table__, series)
        connection.execute(
            insert(BasketAnalyticsRow.__table__),
            [
                {
                    "basket": name,
                    "end_date": dt.date(2024, 1, 2),
                    "start_date": dt.date(2024, 1, 2),
                    "observations": 1,
                    "basket_version": "v",
                    "rebalance": "daily",
                    "risk_free_rate": 0.0,
                    "total_return": 0.0,
                    "annualized_return": 0.0,
                    "annualized_volatility": 0.0,
                    "max_drawdown": 0.0,
                    "arithmetic_return": 0.0,
                    "contribution_residual": 0.0,
                    "components": [],
                    "monthly_returns": [],
                    "computed_at": stamp.to_pydatetime(),
                }
                for name in ("gone", "kept")
            ],
        )
    basket_store.delete_basket(database, "gone")
    for table in ("basket_returns", "basket_analytics"):
        names = database.read_frame(f"SELECT basket FROM {table}")["basket"].tolist()
        assert names == ["kept"]


def test_version_is_a_hash_of_name_and_update_time():
    first = basket_store.basket_version("a", dt.datetime(2024, 1, 2, 3, 4, 5, 6))
    assert first == basket_store.basket_version("a", dt.datetime(2024, 1, 2, 3, 4, 5, 6))
    assert first != basket_store.basket_version("a", dt.datetime(2024, 1, 2, 3, 4, 5, 7))
    assert first != basket_store.basket_version("b", dt.datetime(2024, 1, 2, 3, 4, 5, 6))
