"""A long range is computed a chunk of as-of dates at a time (bounded memory): the betas and
HAR forecasts of every date equal the per-date computation on that date's own window, however
the dates are chunked."""

import numpy as np
import pandas as pd
import pytest

from analytics_lib.betas import market_betas
from analytics_lib.volatility import har_forecast
from orchestration.defs.risk import assets as risk_assets
from orchestration.resources.database import Database
from orchestration.resources.panels import ReturnsPanels
from orchestration.resources.risk import RiskHistory, RiskModel
from orchestration.storage.bulk import insert_frame
from orchestration.storage.models import Price

HISTORY_DAYS = 150
SYMBOLS = ["AAA", "BBB", "CCC", "DDD", "SPY"]
DATES = pd.bdate_range("2023-01-02", periods=260, name="date")


@pytest.fixture
def risk_model(database_url) -> RiskModel:
    """Random prices of five symbols over 260 sessions (gaps, one listed late) in the
    prices table."""
    rng = np.random.default_rng(17)
    market = 0.01 * rng.standard_normal(len(DATES))
    returns = np.column_stack(
        [0.8 * market + 0.012 * rng.standard_normal(len(DATES)) for _ in SYMBOLS[:-1]] + [market]
    )
    prices = pd.DataFrame(100 * np.cumprod(1 + returns, axis=0), index=DATES, columns=SYMBOLS)
    prices.iloc[:, :-1] = prices.iloc[:, :-1].mask(rng.random((len(DATES), 4)) < 0.03)
    prices.iloc[:40, 1] = np.nan
    rows = prices.rename_axis(index="date", columns="symbol").stack().dropna().rename("close")
    frame = rows.reset_index().assign(
        adj_close=rows.to_numpy(), source="test", ingested_at=pd.Timestamp("2026-01-01")
    )
    database = Database(url=database_url)
    with database.transaction() as connection:
        insert_frame(connection, Price.__table__, frame)
    return RiskModel(
        panels=ReturnsPanels(database=database),
        market_index="SPY",
        history_days=HISTORY_DAYS,
        har_min_observations=40,
    )


@pytest.fixture
def history(risk_model) -> RiskHistory:
    return risk_model.history([d.date() for d in DATES[-70:]])


@pytest.mark.parametrize("dates_per_chunk", [1, 7, 70])
def test_har_of_every_date_equals_the_fit_on_its_own_window(
    history, risk_model, monkeypatch, dates_per_chunk
):
    monkeypatch.setattr(risk_assets, "CHUNK_CELLS", dates_per_chunk * len(SYMBOLS))
    dates = list(history.calc_dates)
    assert len(dates) == 70
    forecasts = list(risk_assets._symbol_har(history, dates, risk_model))
    assert len(forecasts) == len(dates)
    for as_of, got in zip(dates, forecasts, strict=True):
        expected = har_forecast(
            history.window(as_of), min_observations=40, max_history=HISTORY_DAYS
        )
        assert list(got.index) == SYMBOLS
        assert (got["status"].astype(str) == expected["status"].astype(str)).all()
        np.testing.assert_allclose(
            got["forecast_vol"].to_numpy(), expected["forecast_vol"].to_numpy(), rtol=1e-10
        )
        np.testing.assert_allclose(
            got["r_squared"].to_numpy(), expected["r_squared"].to_numpy(), rtol=1e-9
        )


@pytest.mark.parametrize("dates_per_chunk", [1, 7, 70])
def test_betas_of_every_date_equal_the_regression_on_its_own_window(
    history, risk_model, monkeypatch, dates_per_chunk
):
    monkeypatch.setattr(risk_assets, "CHUNK_CELLS", dates_per_chunk * len(SYMBOLS))
    frame = pd.concat(risk_assets._beta_frames(risk_model, history), ignore_index=True)
    assert frame["calc_date"].is_monotonic_increasing
    for as_of, rows in frame.groupby("calc_date"):
        expected = market_betas(history.window(as_of), market="SPY")
        got = rows.set_index("symbol")
        priced = history.returns.columns[history.priced_mask(as_of)]
        assert list(got.index) == list(priced)
        expected = expected.loc[priced]
        assert (got["status"] == expected["status"].astype(str)).all()
        np.testing.assert_allclose(
            got["beta"].to_numpy(), expected["beta"].to_numpy(dtype=float), rtol=1e-10
        )
        np.testing.assert_array_equal(got["observations"], expected["observations"])
