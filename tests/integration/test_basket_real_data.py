"""Baskets on the real Lean sample data (skipped when ../shared/data is absent): a basket seeded
from the QQQ holdings file (only AAPL and GOOGL of its 2011 holdings have prices here) is the
holdings-weighted average of their adjusted-close returns."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from orchestration.cli.runs import execute_job, run_sensor_once
from orchestration.definitions import build_definitions
from orchestration.defs.baskets import store as basket_store
from orchestration.resources.database import Database
from tests.support import LEAN_DIR, make_settings, require_dir


@pytest.fixture
def instance(persistent_instance):
    """Sensors are evaluated as the daemon does, which needs an on-disk instance."""
    return persistent_instance


pytestmark = pytest.mark.realdata

START = dt.date(2021, 3, 1)
END = dt.date(2021, 3, 31)


def test_qqq_seeded_basket_on_real_prices(tmp_path, database_url, instance):
    data = require_dir(LEAN_DIR)
    settings = make_settings(
        tmp_path,
        database_url,
        PORTFOLIO_MARKET_DATA="csv",
        PORTFOLIO_CSV_DIR=str(data),
        PORTFOLIO_START_DATE=START.isoformat(),
    )
    defs = build_definitions(settings)
    assert execute_job(defs, "daily_pipeline", instance, partition_range=(START, END)).success
    database = Database(url=settings.database_url)
    record = basket_store.create_basket_from_etf(
        database, "QQQ", "QQQ 2011 priced", top_n=10, known_only=True
    )
    assert set(record.tickers) == {"AAPL", "GOOGL"}
    assert [r.success for r in run_sensor_once(defs, instance, "basket_changes")] == [True]

    holdings = pd.read_csv(data / "etf_holdings.csv")
    qqq = holdings.loc[(holdings["etf"] == "QQQ") & holdings["symbol"].isin(["AAPL", "GOOGL"])]
    weights = qqq.set_index("symbol")["weight"] / qqq["weight"].sum()
    prices = pd.read_csv(data / "prices.csv", parse_dates=["date"])
    prices = prices.loc[
        (prices["date"] >= pd.Timestamp(START)) & (prices["date"] <= pd.Timestamp(END))
    ]
    returns = prices.pivot(index="date", columns="symbol", values="adj_close").pct_change(
        fill_method=None
    )
    expected = (returns[weights.index] * weights).sum(axis=1).iloc[1:]
    stored = database.read_frame(
        "SELECT date, daily_return FROM basket_returns WHERE basket = 'QQQ 2011 priced' "
        "ORDER BY date"
    )
    assert [str(d)[:10] for d in stored["date"]] == [d.date().isoformat() for d in expected.index]
    np.testing.assert_allclose(
        pd.to_numeric(stored["daily_return"]).to_numpy(dtype=float),
        expected.to_numpy(),
        rtol=0,
        atol=1e-12,
    )
