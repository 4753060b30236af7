"""Risk kernels at scale: betas (one date and every date) and HAR forecasts.

Run ``python -m benchmarks.risk_kernels [--symbols 5000] [--days 1260] [--seed N]
[--repeats N] [--missing-prices RATE] [--reference-symbols 200]``.

On a random panel (GARCH market with planted betas, GARCH idiosyncratic noise, 10 % of the
symbols listed late, and missing prices at ``--missing-prices`` per symbol-day, each leaving two
missing returns) it prints wall-clock seconds for

* ``market_betas`` at one as-of date (issue 3 target <= 0.2 s),
* ``rolling_market_betas`` for every as-of date, the backfill (target <= 2 s),
* ``har_forecast`` for all symbols at one as-of date (target <= 2 s),

as the first call in the process and the best of ``--repeats`` calls, plus the process's peak
RSS; and, for reference, the original design's per-symbol statsmodels OLS loop on
``--reference-symbols`` symbols: seconds per symbol, the speed ratio per symbol, and the largest
absolute differences against our numbers. Prints only, never asserts.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd
import statsmodels.api as sm

from analytics_lib.betas import market_betas, rolling_market_betas
from analytics_lib.volatility import har_forecast

T = TypeVar("T")

TARGETS = {"market_betas": 0.2, "rolling_market_betas": 2.0, "har_forecast": 2.0}
COMPARED = ("beta_raw", "alpha", "r_squared", "std_error", "p_value")


def make_panel(
    n_symbols: int, n_days: int, seed: int, missing_prices: float
) -> tuple[pd.DataFrame, np.ndarray]:
    """Returns panel with column SPY (market) and S0000.. (planted betas), plus the betas."""
    rng = np.random.default_rng(seed)
    market = np.empty(n_days)
    idio = np.empty((n_days, n_symbols))
    m_var = 1e-4
    i_var = np.full(n_symbols, 2.5e-4)
    i_omega = 2.5e-4 * (1 - 0.08 - 0.9)
    for t in range(n_days):
        market[t] = np.sqrt(m_var) * rng.standard_normal()
        idio[t] = np.sqrt(i_var) * rng.standard_normal(n_symbols)
        m_var = 2e-6 + 0.1 * market[t] ** 2 + 0.88 * m_var
        i_var = i_omega + 0.08 * idio[t] ** 2 + 0.9 * i_var
    betas = rng.uniform(-0.3, 2.5, n_symbols)
    values = 2e-4 + market[:, None] * betas + idio
    late = rng.choice(n_symbols, n_symbols // 10, replace=False)
    starts = rng.integers(1, n_days - 100, late.size)
    listed = values[:, late]
    listed[np.arange(n_days)[:, None] < starts[None, :]] = np.nan
    values[:, late] = listed
    holes = np.argwhere(rng.random((n_days - 1, n_symbols)) < missing_prices)
    values[holes[:, 0], holes[:, 1]] = np.nan
    values[holes[:, 0] + 1, holes[:, 1]] = np.nan
    index = pd.bdate_range("2020-01-02", periods=n_days, name="date")
    frame = pd.DataFrame(values, index=index, columns=[f"S{i:04d}" for i in range(n_symbols)])
    frame.insert(0, "SPY", market)
    frame.columns.name = "symbol"
    return frame, betas


def timed(label: str, repeats: int, call: Callable[[], T]) -> tuple[T, float]:
    """Run ``call`` ``repeats`` times; print first-call and best seconds and peak RSS."""
    start = time.perf_counter()
    result = call()
    times = [time.perf_counter() - start]
    first_peak = peak_rss_mb()
    for _ in range(repeats - 1):
        del result  # so a repeat does not hold two results at once
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    target = TARGETS.get(label)
    verdict = (
        ""
        if target is None
        else f"  target <= {target:g} s: " + ("met" if min(times) <= target else "NOT met")
    )
    print(
        f"{label:<24s} first {times[0]:7.3f} s   best of {len(times)} {min(times):7.3f} s"
        f"   peak RSS {first_peak:6.0f} MB{verdict}"
    )
    return result, min(times)


def peak_rss_mb() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / 1024.0 if sys.platform != "darwin" else usage / 2**20


def statsmodels_loop(returns: pd.DataFrame, symbols: list[str]) -> pd.DataFrame:
    """The original design's way: one statsmodels OLS per symbol on its last 90 pairs."""
    rows = {}
    for symbol in symbols:
        pairs = returns[[symbol, "SPY"]].dropna().iloc[-90:]
        fit = sm.OLS(pairs[symbol].to_numpy(), sm.add_constant(pairs["SPY"].to_numpy())).fit()
        rows[symbol] = {
            "beta_raw": fit.params[1],
            "alpha": fit.params[0],
            "r_squared": fit.rsquared,
            "std_error": fit.bse[1],
            "p_value": fit.pvalues[1],
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=5000)
    parser.add_argument("--days", type=int, default=1260)
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--missing-prices", type=float, default=5e-4)
    parser.add_argument("--reference-symbols", type=int, default=200)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    returns, planted = make_panel(args.symbols, args.days, args.seed, args.missing_prices)
    missing = float(returns.isna().to_numpy().mean())
    print(
        f"panel: {args.days} days x {args.symbols} symbols + SPY, {missing:.2%} missing returns, "
        f"built in {time.perf_counter() - start:.1f} s; peak RSS {peak_rss_mb():.0f} MB"
    )

    single, single_seconds = timed("market_betas", args.repeats, lambda: market_betas(returns))
    rolling, _ = timed("rolling_market_betas", args.repeats, lambda: rolling_market_betas(returns))
    har, _ = timed("har_forecast", args.repeats, lambda: har_forecast(returns))

    ok = single["status"] == "ok"
    error = np.abs(single.loc[ok, "beta"].drop("SPY") - planted[ok.drop("SPY").to_numpy()])
    print(
        f"betas: {int(ok.sum())} ok of {len(single)}; mean |beta - planted| {error.mean():.4f}; "
        f"rolling rows {len(rolling):,}; HAR ok {int((har['status'] == 'ok').sum())}, "
        f"capped {int(har['capped'].sum())}"
    )
    last = rolling[rolling["date"] == returns.index[-1]].set_index("symbol")
    same = float(
        np.nanmax(
            np.abs(last.loc[single.index, "beta_raw"].to_numpy() - single["beta_raw"].to_numpy())
        )
    )
    print(f"rolling (last date) vs market_betas: max |beta_raw difference| {same:.2e}")

    compare_with_statsmodels(returns, single, single_seconds, args.reference_symbols)
    print(f"peak RSS {peak_rss_mb():.0f} MB")


def compare_with_statsmodels(
    returns: pd.DataFrame, single: pd.DataFrame, single_seconds: float, n_symbols: int
) -> None:
    """Time the per-symbol statsmodels loop on ``n_symbols`` ok symbols; print the speed ratio
    per symbol against ``market_betas`` (``single``, timed ``single_seconds``) and the largest
    differences of every statistic."""
    ok = single["status"] == "ok"
    symbols = [s for s in single.index[ok] if s != "SPY"][:n_symbols]
    t0 = time.perf_counter()
    reference = statsmodels_loop(returns, symbols)
    loop_seconds = time.perf_counter() - t0
    ours_per_symbol = single_seconds / len(single)
    loop_per_symbol = loop_seconds / len(symbols)
    print(
        f"statsmodels loop: {len(symbols)} symbols in {loop_seconds:.3f} s "
        f"({1e3 * loop_per_symbol:.3f} ms/symbol); market_betas {1e6 * ours_per_symbol:.2f} "
        f"us/symbol -> {loop_per_symbol / ours_per_symbol:,.0f}x faster per symbol"
    )
    for column in COMPARED:
        ours = single.loc[symbols, column].to_numpy()
        theirs = reference[column].to_numpy()
        scale = np.maximum(np.abs(theirs), np.finfo(float).tiny)
        print(
            f"  {column:<10s} max |ours - statsmodels| {np.max(np.abs(ours - theirs)):.2e}"
            f"   max relative {np.max(np.abs(ours - theirs) / scale):.2e}"
        )


if __name__ == "__main__":
    main()
