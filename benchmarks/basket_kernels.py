"""Basket return kernels at scale: 1,000 baskets of 50 names over 5,000 symbols × 1,260 days.

Run ``python -m benchmarks.basket_kernels [--seed N] [--repeats N]``. Prints wall-clock
seconds (first call and best of the repeats) for every basket's daily-rebalanced series and,
for comparison, the monthly buy-and-hold drift mode; the process's peak RSS; and the largest
absolute difference against a naive per-basket pandas implementation on 20 baskets. Target
(issue 4): all daily basket series in ≤ 2 s. Prints only, never asserts.
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

from analytics_lib.baskets import basket_returns

T = TypeVar("T")

N_DATES = 1260
N_SYMBOLS = 5000
N_BASKETS = 1000
BASKET_SIZE = 50
NAN_SHARE = 0.03
N_REFERENCE = 20


def make_inputs(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random returns panel (with scattered NaNs and late listings) and basket weights."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2019-01-02", periods=N_DATES, name="date")
    symbols = pd.Index([f"S{i:04d}" for i in range(N_SYMBOLS)], name="symbol")
    values = rng.normal(0.0003, 0.02, (N_DATES, N_SYMBOLS))
    values[rng.random(values.shape) < NAN_SHARE] = np.nan
    late = rng.choice(N_SYMBOLS, N_SYMBOLS // 20, replace=False)  # 5 % list later
    starts = rng.integers(1, N_DATES, late.size)
    listed = values[:, late]
    listed[np.arange(N_DATES)[:, None] < starts[None, :]] = np.nan
    values[:, late] = listed
    returns = pd.DataFrame(values, index=dates, columns=symbols)

    members = np.argsort(rng.random((N_BASKETS, N_SYMBOLS)), axis=1)[:, :BASKET_SIZE]
    raw = rng.random((N_BASKETS, BASKET_SIZE)) + 0.1
    matrix = np.full((N_BASKETS, N_SYMBOLS), np.nan)
    np.put_along_axis(matrix, members, raw / raw.sum(axis=1, keepdims=True), axis=1)
    weights = pd.DataFrame(
        matrix, index=pd.Index([f"basket_{j:04d}" for j in range(N_BASKETS)]), columns=symbols
    )
    return returns, weights


def naive_basket(returns: pd.DataFrame, weights: pd.Series) -> pd.Series:
    """Per-basket pandas reference: weights renormalised over the members with data."""
    w = weights.dropna()
    w = w[w > 0]
    sub = returns[w.index]
    numerator = (sub.fillna(0.0) * w).sum(axis=1)
    covered = sub.notna().mul(w).sum(axis=1)
    return numerator.where(covered > 0) / covered.where(covered > 0)


def timed(fn: Callable[[], T], repeats: int) -> tuple[float, float, T]:
    """Seconds of the first call, best seconds over ``repeats`` calls, and the last result."""
    first_start = time.perf_counter()
    result = fn()
    first = time.perf_counter() - first_start
    best = first
    for _ in range(repeats - 1):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return first, best, result


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    returns, weights = make_inputs(args.seed)
    print(
        f"inputs: {N_BASKETS} baskets × {BASKET_SIZE} names, {N_SYMBOLS} symbols × "
        f"{N_DATES} days, {returns.isna().to_numpy().mean():.1%} NaN "
        f"(built in {time.perf_counter() - t0:.2f} s); peak RSS so far {peak_rss_mb():.0f} MB"
    )

    first, best, daily = timed(lambda: basket_returns(returns, weights), args.repeats)
    print(
        f"basket_returns daily   : first {first:.3f} s, best of {args.repeats} {best:.3f} s "
        f"(target ≤ 2 s: {'met' if best <= 2.0 else 'MISSED'})"
    )
    print(f"peak RSS after daily   : {peak_rss_mb():.0f} MB")
    first_m, best_m, _ = timed(
        lambda: basket_returns(returns, weights, rebalance="monthly"), args.repeats
    )
    print(f"basket_returns monthly : first {first_m:.3f} s, best of {args.repeats} {best_m:.3f} s")
    print(f"peak RSS after monthly : {peak_rss_mb():.0f} MB")

    t0 = time.perf_counter()
    max_diff = 0.0
    for basket in weights.index[:N_REFERENCE]:
        reference = naive_basket(returns, weights.loc[basket])
        kernel = daily.returns[basket].to_numpy()
        expected = reference.to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.array_equal(np.isnan(kernel), np.isnan(expected)):
            max_diff = float("inf")  # NaN pattern differs
            continue
        finite = ~np.isnan(kernel)
        max_diff = max(max_diff, float(np.max(np.abs(kernel[finite] - expected[finite]))))
    naive_seconds = time.perf_counter() - t0
    print(
        f"naive pandas, {N_REFERENCE} baskets: {naive_seconds:.3f} s "
        f"(≈ {naive_seconds / N_REFERENCE * N_BASKETS:.1f} s extrapolated to {N_BASKETS}); "
        f"max |diff| vs kernel = {max_diff:.3e}"
    )


if __name__ == "__main__":
    main()
