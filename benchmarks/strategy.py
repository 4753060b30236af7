"""The strategy at scale, each stage next to an independent library doing the same work.

Run ``python -m benchmarks.strategy [--etfs 2000] [--days 1260] [--repeats 3]``.

On the SIMULATED market (150 stocks, SPY, the sector ETFs and ``--etfs`` strategy ETFs over
``--days`` trading days) it prints wall-clock seconds for

* ``factor_scores`` of every eligible ETF at the last date (issue 10 target <= 1 s),
* one ``mvo`` optimisation of the top 30 (<= 5 s), next to PyPortfolioOpt's
  ``max_quadratic_utility`` and scikit-learn's ``LedoitWolf`` on the same inputs, with the
  objective difference,
* the 5-year quarterly walk-forward backtest with the whole process at every rebalance
  (<= 20 s), and bt 1.4 on the same prices with 30 fixed equal weights (bt needs gap-free prices),
* the whole strategy group for one date through Dagster on a SQLite app database and a
  persistent on-disk instance (<= 30 s), the instance's event log included.

Prints only, never asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
from pathlib import Path

import bt
import dagster as dg
import numpy as np
import pandas as pd
from pypfopt import EfficientFrontier
from sklearn.covariance import LedoitWolf

from analytics_lib.backtest import BacktestParams, walk_forward_backtest
from analytics_lib.optimization import OptimizerParams, ledoit_wolf_covariance, target_weights
from analytics_lib.returns import simple_returns
from analytics_lib.scoring import factor_scores
from analytics_lib.simulation import simulate_market, trading_calendar
from analytics_lib.strategy import StrategyParams, strategy_weigh
from analytics_lib.universe import select_universe
from benchmarks.risk_kernels import peak_rss_mb, timed
from orchestration import constants as c
from orchestration.cli.runs import execute_job
from orchestration.definitions import build_definitions
from orchestration.resources.database import Database
from orchestration.settings import configure_dagster_process, load_settings
from orchestration.storage.bulk import insert_frame
from orchestration.storage.models import Instrument, Price

START = dt.date(2020, 1, 2)
STAMP = pd.Timestamp("2026-01-02", tz="UTC")


def _market(etfs: int, days: int):
    calendar, _ = trading_calendar(START, START + dt.timedelta(days=int(days * 1.6)))
    end = calendar[days - 1].date()
    return simulate_market(start=START, end=end, n_symbols=150, seed=11, n_etfs=etfs), end


def _panels(market) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    prices = market.prices.pivot(index="date", columns="symbol", values="adj_close")
    volume = market.prices.pivot(index="date", columns="symbol", values="volume")
    closes = market.prices.pivot(index="date", columns="symbol", values="close")
    instruments = market.instruments.loc[
        :, ["symbol", "name", "category", "asset_type", "expense_ratio"]
    ]
    return prices, closes * volume, instruments


def _kernels(market, repeats: int) -> None:
    prices, dollar_volume, instruments = _panels(market)
    params = StrategyParams()
    universe = select_universe(instruments, prices, dollar_volume, params.universe)
    print(f"universe: {universe.counts}")
    scores, _ = timed(
        f"factor_scores, {len(universe.eligible)} eligible x {len(prices)} days (<= 1 s)",
        repeats,
        lambda: factor_scores(prices, instruments, universe.eligible),
    )
    returns = simple_returns(prices.loc[:, list(universe.eligible)])
    target, _ = timed(
        "target_weights mvo, top 30 (Ledoit-Wolf + cvxpy; <= 5 s)",
        repeats,
        lambda: target_weights(scores.scores, returns, None, params.optimizer),
    )
    held = list(target.weights.index)
    window = returns.loc[:, held].dropna().iloc[-252:]
    timed(
        "  scikit-learn LedoitWolf on the same returns", repeats, lambda: LedoitWolf().fit(window)
    )
    ours, _ = ledoit_wolf_covariance(window)
    theirs = LedoitWolf().fit(window.to_numpy()).covariance_
    gap = np.abs(ours.to_numpy() - theirs).max()
    print(f"  Ledoit-Wolf largest difference vs scikit-learn: {gap:.2e}")
    mu = target.expected_returns.reindex(held)
    sigma = target.covariance.loc[held, held]
    optimizer = OptimizerParams()

    def pypfopt_solve() -> pd.Series:
        frontier = EfficientFrontier(
            mu, sigma, weight_bounds=(optimizer.min_weight, optimizer.max_weight)
        )
        return pd.Series(frontier.max_quadratic_utility(risk_aversion=optimizer.risk_aversion))

    theirs_w, _ = timed(
        "  PyPortfolioOpt max_quadratic_utility, same mu and sigma", repeats, pypfopt_solve
    )

    def utility(w: pd.Series) -> float:
        w = w.reindex(held).to_numpy()
        return float(mu.to_numpy() @ w - optimizer.risk_aversion / 2 * w @ sigma.to_numpy() @ w)

    ours_u, theirs_u = utility(target.weights), utility(theirs_w)
    print(
        f"  objective ours {ours_u:.10f} PyPortfolioOpt {theirs_u:.10f} "
        f"(relative difference {(ours_u - theirs_u) / abs(theirs_u):.2e})"
    )

    backtest_params = BacktestParams()
    start = prices.index[-1] - pd.DateOffset(years=5)
    start = max(start, prices.index[260])
    weigh = strategy_weigh(instruments, dollar_volume, params)
    result, _ = timed(
        f"walk-forward backtest {start.date()} … {prices.index[-1].date()}, quarterly, whole "
        "process per rebalance (<= 20 s)",
        1,
        lambda: walk_forward_backtest(prices, weigh, backtest_params, start, prices.index[-1]),
    )
    print(f"  metrics: { {k: round(v, 4) for k, v in result.metrics.items()} }")
    ranked = scores.scores["combined"].dropna().sort_values(ascending=False).index
    complete = [s for s in ranked if prices.loc[start:, s].notna().all()][:30]
    fixed = pd.Series(1.0 / len(complete), index=complete)
    window_prices = prices.loc[start:, complete]
    plain = BacktestParams(stop_loss=None, drift_threshold=None, cost_bps=10.0)
    ours_fixed, _ = timed(
        "  ours with 30 fixed equal weights (no stops, no drift)",
        repeats,
        lambda: walk_forward_backtest(window_prices, lambda _h: fixed, plain, start, None),
    )

    def run_bt() -> pd.Series:
        strategy = bt.Strategy(
            "fixed",
            [
                bt.algos.RunQuarterly(run_on_first_date=True),
                bt.algos.SelectAll(),
                bt.algos.WeighSpecified(**fixed.to_dict()),
                bt.algos.Rebalance(),
            ],
        )
        test = bt.Backtest(
            strategy,
            window_prices,
            initial_capital=plain.initial_capital,
            commissions=lambda q, p: abs(q) * p * plain.cost_bps / 1e4,
            integer_positions=False,
            progress_bar=False,
        )
        return bt.run(test).prices["fixed"]

    bt_prices, _ = timed("  bt 1.4 on the same fixed weights", repeats, run_bt)
    bt_equity = bt_prices.iloc[1:] / 100.0 * plain.initial_capital
    ours_equity = ours_fixed.equity.reindex(bt_equity.index)
    gap = float((ours_equity / bt_equity - 1.0).abs().max())
    print(f"  equity largest relative difference vs bt: {gap:.2e}")


def _dagster(market, end: dt.date) -> None:
    home = Path(tempfile.mkdtemp(prefix="pp-strategy-bench-"))
    url = f"sqlite:///{home / 'portfolio.db'}"
    database = Database(url=url)
    with database.transaction() as connection:
        insert_frame(
            connection,
            Instrument.__table__,
            market.instruments,
            constants={"source": "benchmark", "updated_at": STAMP},
        )
        insert_frame(
            connection,
            Price.__table__,
            market.prices,
            constants={"source": "benchmark", "ingested_at": STAMP},
        )
    settings = load_settings(
        {
            "PORTFOLIO_HOME": str(home),
            "PORTFOLIO_DATABASE_URL": url,
            "DAGSTER_HOME": str(home / "dagster"),
            "PORTFOLIO_START_DATE": START.isoformat(),
        }
    )
    settings.dagster_home.mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parents[1] / "dagster.yaml", settings.dagster_home)
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    result, _ = timed(
        f"strategy group for {end} through Dagster, on-disk instance (<= 30 s)",
        1,
        lambda: execute_job(
            defs,
            c.STRATEGY_JOB,
            instance,
            partition_key=end.isoformat(),
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        ),
    )
    print(f"  success: {result.success}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--etfs", type=int, default=2000)
    parser.add_argument("--days", type=int, default=1260)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    configure_dagster_process()
    market, end = _market(args.etfs, args.days)
    print(f"simulated market: {market.instruments.shape[0]} instruments, {args.days} days")
    _kernels(market, args.repeats)
    _dagster(market, end)
    print(f"peak RSS {peak_rss_mb():,.0f} MiB")


if __name__ == "__main__":
    main()
