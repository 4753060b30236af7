"""`portfolio risk show`: the stored snapshot printed, checked against rows inserted here (values
with more digits than any rounding would keep) and against a real materialization of the risk
group on the tiny hand-checked market of tests/orchestration/risk/test_assets.py."""

import datetime as dt
import json

import dagster as dg
import pytest
from sqlalchemy import insert

from orchestration.cli import main
from orchestration.cli.runs import execute_job, failure_summary
from orchestration.definitions import build_definitions
from orchestration.storage.engine import get_engine
from orchestration.storage.models import PortfolioSnapshot
from tests.orchestration.risk.test_assets import AS_OF, START, _write_market
from tests.support import make_settings

SNAPSHOTS = PortfolioSnapshot.__table__
D1, D2, D3 = dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 4)
NOW = dt.datetime(2026, 3, 4, 22, 0, tzinfo=dt.UTC)
SECTORS = [
    {
        "sector": "Information Technology",
        "net_weight": 0.4,
        "gross_weight": 0.4,
        "benchmark_weight": 0.32,
        "active_weight": 0.08000000000000002,
        "positions": 2,
    },
    {
        "sector": "Energy",
        "net_weight": 0.0,
        "gross_weight": 0.0,
        "benchmark_weight": None,
        "active_weight": None,
        "positions": 0,
    },
]


def _row(day: dt.date, *, complete: bool, beta: float) -> dict[str, object]:
    return {
        "calc_date": day,
        "market_index": "SPY",
        "market_beta_weighted": beta,
        "market_beta_r_squared": 0.8123456789012345,
        "market_beta_observations": 90,
        "market_beta_coverage": 0.95,
        "market_beta_direct": 1.0123456789012345,
        "market_beta_direct_r_squared": 0.7,
        "market_beta_direct_observations": 89,
        "sector_exposure": {
            "benchmark": "SP500",
            "benchmark_asof": "2026-02-27",
            "look_through": False,
            "sectors": SECTORS,
            "unclassified_symbols": ["ZZZ"],
        },
        "sector_look_through": False,
        "benchmark": "SP500",
        "benchmark_asof": dt.date(2026, 2, 27),
        "largest_overweight_sector": "Information Technology",
        "largest_overweight": 0.08000000000000002,
        "largest_underweight_sector": "Financials",
        "largest_underweight": -0.3,
        "largest_active_weight": 0.3,
        "unclassified_weight": 0.1,
        "positions": 5,
        "hhi": 2600.0000000000005,
        "effective_positions": 1 / 0.26,
        "top3_weight": 0.8,
        "top3_symbols": ["AAA", "BBB", "XLK"],
        "top10_weight": 1.0,
        "top10_symbols": ["AAA", "BBB", "XLK", "CCC", "DDD"],
        "portfolio_return": -0.005626,
        "return_coverage": 1.0,
        "unpriced_holdings": [],
        "realized_volatility_21d": 0.16651226118844867,
        "realized_volatility_63d": 0.17047184839486837,
        "expected_volatility_21d": 1 / 3,
        "volatility_trend": "rising",
        "volatility_trend_strength": 0.25,
        "volatility_percentile": 0.5595238095238095,
        "completed_at": NOW if complete else None,
        "updated_at": NOW,
    }


@pytest.fixture
def home(tmp_path, monkeypatch):
    for name in ("PORTFOLIO_MARKET_DATA", "PORTFOLIO_CSV_DIR", "PORTFOLIO_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTFOLIO_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    return tmp_path


@pytest.fixture
def snapshots(home):
    """Two complete snapshots and a newer incomplete one."""
    engine = get_engine(f"sqlite:///{home / 'portfolio.db'}")
    rows = [
        _row(D1, complete=True, beta=0.9),
        _row(D2, complete=True, beta=1.2345678901234567),
        _row(D3, complete=False, beta=1.5),
    ]
    with engine.begin() as connection:
        connection.execute(insert(SNAPSHOTS), rows)
    return rows


def _show_json(capsys, *args: str) -> dict:
    assert main(["risk", "show", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_is_the_latest_complete_snapshot_at_full_precision(snapshots, capsys):
    shown = _show_json(capsys)
    inserted = snapshots[1]
    assert shown["as_of"] == "2026-03-03" and shown["complete"] is True
    assert shown["portfolio_beta"]["market_beta_weighted"] == 1.2345678901234567
    assert shown["portfolio_beta"]["market_beta_direct_observations"] == 89
    assert shown["volatility"]["expected_volatility_21d"] == 1 / 3
    assert shown["volatility"]["volatility_percentile"] == 0.5595238095238095
    assert shown["volatility"]["volatility_trend"] == "rising"
    assert shown["concentration"]["hhi"] == 2600.0000000000005
    assert shown["concentration"]["effective_positions"] == 1 / 0.26
    assert shown["concentration"]["top3_symbols"] == ["AAA", "BBB", "XLK"]
    sectors = shown["sector_exposure"]
    assert sectors["largest_overweight"] == 0.08000000000000002
    assert sectors["benchmark_asof"] == "2026-02-27"
    assert sectors["sectors"] == SECTORS
    assert sectors["unclassified_symbols"] == ["ZZZ"]
    assert shown["portfolio_returns"] == {
        "portfolio_return": inserted["portfolio_return"],
        "return_coverage": 1.0,
        "unpriced_holdings": [],
    }


def test_date_selects_a_snapshot_even_when_incomplete(snapshots, capsys):
    shown = _show_json(capsys, "--date", "2026-03-04")
    assert shown["as_of"] == "2026-03-04" and shown["complete"] is False
    assert shown["portfolio_beta"]["market_beta_weighted"] == 1.5
    first = _show_json(capsys, "--date", "2026-03-02")
    assert first["portfolio_beta"]["market_beta_weighted"] == 0.9


def test_text_read_out(snapshots, capsys):
    assert main(["risk", "show"]) == 0
    out = capsys.readouterr().out
    # 1.2345678901234567 to four decimals; R² 0.8123… to three; 95 % of the book covered
    assert "1.2346 weighted (R² 0.812, 95.0% of the book covered)" in out
    assert "1.0123 direct (R² 0.700, 89 days)" in out
    assert "16.65% / 17.05%" in out  # realized vol 21d / 63d
    assert "HAR forecast, next 21d      33.33%" in out  # 1/3
    assert "rising (strength 0.250)" in out
    assert "0.560 of its last year" in out
    assert "HHI 2,600.0, effective positions 3.85 of 5" in out  # 1 / 0.26 = 3.846…
    assert "80.00% (AAA, BBB, XLK) / 100.00%" in out
    assert "Information Technology +8.00% / Financials -30.00%" in out
    lines = {line.split("  ")[0]: line.split() for line in out.splitlines()}
    assert lines["Information Technology"][-5:] == ["40.00", "40.00", "32.00", "+8.00", "2"]
    # an undefined benchmark and active weight print blank, not 0 or nan
    assert lines["Energy"][1:] == ["0.00", "0.00", "0"]


def test_a_date_without_a_snapshot_exits_2_naming_it(snapshots, capsys):
    assert main(["risk", "show", "--date", "2026-03-05"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "portfolio risk: error: no risk snapshot for 2026-03-05 (the latest is 2026-03-04)"
    ]


def test_no_snapshot_at_all_exits_2(home, capsys):
    assert main(["risk", "show"]) == 2
    assert "no complete risk snapshot yet" in capsys.readouterr().err


@pytest.fixture(scope="module")
def materialized(tmp_path_factory):
    """The tiny market's risk group materialized for AS_OF (market data over the whole range
    first) into the app database of its home."""
    root = tmp_path_factory.mktemp("risk-show")
    (root / "market").mkdir()
    (root / "home").mkdir()
    _write_market(root / "market")
    env = {
        "PORTFOLIO_MARKET_DATA": "csv",
        "PORTFOLIO_CSV_DIR": str(root / "market"),
        "PORTFOLIO_START_DATE": START.isoformat(),
    }
    settings = make_settings(root / "home", None, **env)
    defs = build_definitions(settings)
    with dg.DagsterInstance.ephemeral() as instance:
        market = execute_job(defs, "market_data_backfill", instance, partition_range=(START, AS_OF))
        assert market.success, failure_summary(market)
        risk = execute_job(defs, "risk_backfill", instance, partition_key=AS_OF.isoformat())
        assert risk.success, failure_summary(risk)
    return root, env, settings


def test_json_matches_a_real_materialization(materialized, monkeypatch, capsys):
    root, env, settings = materialized
    monkeypatch.setenv("PORTFOLIO_HOME", str(root / "home"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PORTFOLIO_DATABASE_URL", raising=False)
    shown = _show_json(capsys)
    assert shown["as_of"] == AS_OF.isoformat() and shown["complete"] is True
    # hand-checked in test_assets.py: weights AAA .4, BBB .2, CCC .1, DDD .1, XLK .2
    assert shown["concentration"]["hhi"] == pytest.approx(2600.0, rel=1e-12)
    assert shown["concentration"]["top3_symbols"] == ["AAA", "BBB", "XLK"]
    assert shown["sector_exposure"]["largest_overweight"] == pytest.approx(0.08, abs=1e-12)
    assert shown["sector_exposure"]["largest_underweight_sector"] == "Industrials"
    assert shown["portfolio_returns"]["unpriced_holdings"] == ["ZZZ"]
    # and every stored number is printed exactly as the table holds it
    engine = get_engine(settings.database_url)
    with engine.connect() as connection:
        row = (
            connection.execute(SNAPSHOTS.select().where(SNAPSHOTS.c.calc_date == AS_OF))
            .mappings()
            .one()
        )
    for group in ("portfolio_beta", "volatility", "concentration", "portfolio_returns"):
        for column, value in shown[group].items():
            assert value == row[column], column
    assert shown["portfolio_beta"]["market_beta_weighted"] is not None
    assert shown["volatility"]["realized_volatility_21d"] is not None
    assert shown["sector_exposure"]["sectors"] == row["sector_exposure"]["sectors"]
