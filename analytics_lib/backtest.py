"""Walk-forward backtest of a weighting rule with stop-losses and drift rebalancing.

Currently implemented: :class:`BacktestParams`, :func:`walk_forward_backtest`
(-> :class:`BacktestResult`), the backtest step of the strategy process (seed design 003,
section 5: quarterly/bimonthly/monthly rebalance, 12% stop-loss, 5% drift, capital $1,000,000).

Conventions (all stated once here, referenced by the docstrings below)
-----------------------------------------------------------------------
Timing
    Every decision and trade happens at a date's close. On a scheduled rebalance date the
    caller's ``weigh(history)`` sees ``prices`` up to and including that date, never later.
    Rebalance dates are the first date of the window and the first trading day (first date
    present in ``prices``) of every later calendar period: quarter, two-month block
    (Jan-Feb, Mar-Apr, ...) or month.
Fractional shares
    The backtest holds fractional shares (as the seed's stop-loss log does: "sold 1037.06
    shares"); whole-share sizing belongs to the live trade plan (:mod:`analytics_lib.trade_plan`).
Trading rule and costs (the ``bt`` library's convention, ``integer_positions=False``)
    With cost rate :math:`k = \\text{cost\\_bps}/10^4`, at a rebalance:

    1. Exits: held positions with target weight 0 are sold in full at the close; proceeds
       :math:`h p (1 - k)`.
    2. Base :math:`B` = cash + market value of the remaining tradable positions (the equity
       after exit costs, without positions that cannot trade that day, see *Missing prices*).
    3. For each target :math:`i`: cash outlay :math:`a_i = w_i B - h_i p_i`, costs included.
       A buy (:math:`a_i > 0`) trades notional :math:`n_i = a_i / (1 + k)`; a sell trades
       :math:`n_i = \\min(|a_i| / (1 - k), h_i p_i)`. Cost :math:`k\\, n_i` is paid from cash.

    Cash after a rebalance is therefore :math:`B (1 - \\sum_i w_i) \\ge 0`: weights are
    fractions of the pre-trade equity and costs are paid out of each position's allocation.
    Costs are :math:`k \\times |\\text{traded notional}|` on every trade (rebalances and
    stop-loss sales alike).
Stop-loss
    Each position's entry price is the close at which it was last *bought* (increased) at a
    rebalance; trims keep it. On a day that is not a scheduled rebalance, a position whose
    close is below :math:`(1 - \\text{stop\\_loss}) \\times` entry is sold in full at that close
    (costs apply) and stays in cash until the next *scheduled* rebalance: drift rebalances
    neither re-buy it nor count its deviation.
Drift rebalance
    After stop-losses, on a day that is not a scheduled rebalance, let
    :math:`w_{i,t} = h_i P_{i,t} / E_t` be the drifted weights and :math:`w^*_i` the last
    scheduled targets (0 for stopped-out symbols). If
    :math:`\\max_i |w_{i,t} - w^*_i| > \\text{drift\\_threshold}` (an absolute weight
    difference, over symbols with a close that day) the trading rule above re-applies
    :math:`w^*` at that close. ``weigh`` is not called again.
Missing prices
    Positions are marked at their last available close. A symbol without a close on a date
    cannot trade that date: a scheduled target weight > 0 for it raises
    :class:`AnalyticsError` naming it (``weigh`` sees that date's row and must not weight it);
    a held position without a close is left untouched by that rebalance (also by drift
    rebalances and stop-losses) and outside the base :math:`B`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

import numpy as np
import pandas as pd

from analytics_lib._typing import TRADING_DAYS_PER_YEAR, FloatArray, PricePanel
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.validation import (
    require_date_index,
    require_finite_number,
    require_float_values,
    require_frame,
    require_series,
)

__all__ = [
    "METRIC_NAMES",
    "REBALANCE_FREQUENCIES",
    "BacktestParams",
    "BacktestResult",
    "RebalanceFrequency",
    "Weigh",
    "walk_forward_backtest",
]

RebalanceFrequency: TypeAlias = Literal["quarterly", "bimonthly", "monthly"]
REBALANCE_FREQUENCIES: Final[tuple[str, ...]] = ("quarterly", "bimonthly", "monthly")

Weigh: TypeAlias = Callable[[pd.DataFrame], pd.Series]
"""``weigh(history) -> target weights``: history is ``prices`` up to the rebalance date."""

WEIGHT_SUM_TOLERANCE: Final = 1e-9

METRIC_NAMES: Final[tuple[str, ...]] = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "win_rate",
    "rebalances",
    "rebalances_scheduled",
    "rebalances_drift",
    "rebalances_per_year",
    "stop_loss_events",
    "turnover",
    "turnover_annualised",
    "costs",
)

_STOP_COLUMNS: Final = ("date", "symbol", "shares", "price")


def _optional_fraction(value: object, name: str, *, upper_inclusive: bool) -> float | None:
    if value is None:
        return None
    number = require_finite_number(value, name)
    ok = 0.0 < number <= 1.0 if upper_inclusive else 0.0 < number < 1.0
    if not ok:
        bound = "(0, 1]" if upper_inclusive else "(0, 1)"
        raise AnalyticsError(f"{name} must be None or in {bound}, got {value!r}")
    return number


@dataclass(frozen=True)
class BacktestParams:
    """Validated parameters of :func:`walk_forward_backtest` (defaults from seed 003).

    Attributes
    ----------
    rebalance
        ``"quarterly"`` (seed default), ``"bimonthly"`` or ``"monthly"``: scheduled rebalances
        on the first trading day of each period.
    stop_loss
        Fraction in (0, 1) a position's close may fall below its entry price before it is sold
        (seed: 12%); ``None`` disables stop-losses.
    drift_threshold
        Absolute weight deviation in (0, 1] from the last targets that triggers a drift
        rebalance, :math:`\\max_i |w_i - w^*_i| > \\text{drift\\_threshold}` (seed: 5%);
        ``None`` disables drift rebalances.
    cost_bps
        Transaction cost in basis points of traded notional, in [0, 10,000) (default 10; the
        seed does not state one).
    initial_capital
        Starting cash, > 0 (seed: $1,000,000).

    Raises
    ------
    AnalyticsError
        Naming the field that is out of range or of the wrong type.
    """

    rebalance: RebalanceFrequency = "quarterly"
    stop_loss: float | None = 0.12
    drift_threshold: float | None = 0.05
    cost_bps: float = 10.0
    initial_capital: float = 1_000_000.0

    def __post_init__(self) -> None:
        if self.rebalance not in REBALANCE_FREQUENCIES:
            raise AnalyticsError(
                f"rebalance must be one of {', '.join(REBALANCE_FREQUENCIES)}, "
                f"got {self.rebalance!r}"
            )
        stop = _optional_fraction(self.stop_loss, "stop_loss", upper_inclusive=False)
        drift = _optional_fraction(self.drift_threshold, "drift_threshold", upper_inclusive=True)
        cost = require_finite_number(self.cost_bps, "cost_bps")
        if not 0.0 <= cost < 10_000.0:
            raise AnalyticsError(f"cost_bps must be in [0, 10000), got {self.cost_bps!r}")
        capital = require_finite_number(self.initial_capital, "initial_capital", positive=True)
        object.__setattr__(self, "stop_loss", stop)
        object.__setattr__(self, "drift_threshold", drift)
        object.__setattr__(self, "cost_bps", cost)
        object.__setattr__(self, "initial_capital", capital)


@dataclass(frozen=True)
class BacktestResult:
    """Outcome of :func:`walk_forward_backtest`.

    Attributes
    ----------
    params
        The parameters used.
    equity
        Portfolio value (cash + positions at their last close) after each date's trades, over
        the backtest window (index ``date``), named ``equity``.
    cash
        Cash after each date's trades, named ``cash``.
    returns
        Daily simple returns of ``equity`` from the window's second date on, named ``return``.
    drawdown
        :math:`E_t / \\max_{s \\le t} E_s - 1` (≤ 0), named ``drawdown``.
    benchmark
        The benchmark's price scaled to ``initial_capital`` at the first date
        (:math:`C \\cdot b_t / b_0`), named ``benchmark``; ``None`` without a benchmark.
    weights
        Target weights applied at every rebalance (index ``date``, one column per symbol of
        ``prices``, 0 where not targeted). Drift rows hold the re-applied targets (0 for
        stopped-out symbols and for held symbols without a close that day).
    rebalances
        One row per rebalance (index ``date``): ``kind`` (``"scheduled"``/``"drift"``),
        ``traded`` (Σ |traded notional|) and ``costs``.
    stop_loss_events
        Columns ``date, symbol, shares, price``: each stop-loss sale.
    metrics
        Keys :data:`METRIC_NAMES`, see :func:`walk_forward_backtest`.
    """

    params: BacktestParams
    equity: pd.Series
    cash: pd.Series
    returns: pd.Series
    drawdown: pd.Series
    benchmark: pd.Series | None
    weights: pd.DataFrame
    rebalances: pd.DataFrame
    stop_loss_events: pd.DataFrame
    metrics: dict[str, float]


def _validate_prices(prices: object) -> tuple[pd.DataFrame, FloatArray]:
    frame = require_frame(prices, "prices")
    require_date_index(frame, "prices")
    if frame.columns.has_duplicates:
        dups = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise AnalyticsError(f"prices has duplicate symbol column(s): {', '.join(dups)}")
    if frame.shape[0] == 0:
        raise AnalyticsError("prices has no rows (dates)")
    if frame.shape[1] == 0:
        raise AnalyticsError("prices has no columns (symbols)")
    values = require_float_values(frame, "prices")
    present = ~np.isnan(values)
    bad = present & ~((values > 0.0) & np.isfinite(values))
    if bad.any():
        cols = sorted({str(frame.columns[j]) for j in np.nonzero(bad)[1][:50]})
        raise AnalyticsError(
            f"prices must be positive and finite where present; not for: {', '.join(cols)}"
        )
    return frame, values


def _as_timestamp(value: object, name: str) -> pd.Timestamp:
    if isinstance(value, pd.Timestamp):
        stamp = value
    elif isinstance(value, dt.date):
        stamp = pd.Timestamp(value)
    else:
        raise AnalyticsError(
            f"{name} must be a datetime.date or pandas Timestamp, got {type(value).__name__}"
        )
    if stamp.tz is not None:
        raise AnalyticsError(f"{name} must be tz-naive, got {stamp}")
    return stamp


def _period_keys(index: pd.DatetimeIndex, rebalance: str) -> np.ndarray:
    year = index.year.to_numpy().astype(np.int64)
    month = index.month.to_numpy().astype(np.int64)
    if rebalance == "monthly":
        return year * 12 + (month - 1)
    if rebalance == "bimonthly":
        return year * 6 + (month - 1) // 2
    return year * 4 + (month - 1) // 3


def _scheduled_mask(index: pd.DatetimeIndex, rebalance: str) -> np.ndarray:
    keys = _period_keys(index, rebalance)
    mask = np.ones(len(keys), dtype=bool)
    mask[1:] = keys[1:] != keys[:-1]
    return mask


def _validate_target(
    raw: object, columns: pd.Index, close: FloatArray, date: pd.Timestamp
) -> FloatArray:
    day = date.date().isoformat()
    name = f"weigh(...) on {day}"
    if not isinstance(raw, pd.Series):
        raise AnalyticsError(f"{name} must return a pandas Series, got {type(raw).__name__}")
    if raw.index.has_duplicates:
        dups = sorted({str(s) for s in raw.index[raw.index.duplicated()]})
        raise AnalyticsError(f"{name} returned duplicate symbol(s): {', '.join(dups)}")
    values = require_float_values(raw, name)
    labels = [str(s) for s in raw.index]
    non_finite = [s for s, v in zip(labels, values, strict=True) if not math.isfinite(v)]
    if non_finite:
        raise AnalyticsError(f"{name} returned non-finite weight(s) for: {', '.join(non_finite)}")
    negative = [s for s, v in zip(labels, values, strict=True) if v < 0.0]
    if negative:
        raise AnalyticsError(f"{name} returned negative weight(s) for: {', '.join(negative)}")
    total = math.fsum(values)
    if total > 1.0 + WEIGHT_SUM_TOLERANCE:
        raise AnalyticsError(f"{name} returned weights summing to {total:.10g} > 1")
    position = columns.get_indexer(raw.index)
    unknown = [s for s, j in zip(labels, position, strict=True) if j < 0]
    if unknown:
        raise AnalyticsError(f"{name} returned symbol(s) not in prices: {', '.join(unknown)}")
    target = np.zeros(len(columns))
    target[position] = values
    untradable = (target > 0.0) & np.isnan(close)
    if untradable.any():
        missing = ", ".join(str(s) for s in columns[untradable])
        raise AnalyticsError(f"{name} weights symbol(s) without a close on {day}: {missing}")
    return target


def _validate_benchmark(benchmark: object, dates: pd.DatetimeIndex, capital: float) -> pd.Series:
    series = require_series(benchmark, "benchmark")
    require_date_index(series, "benchmark")
    values = pd.Series(require_float_values(series, "benchmark"), index=series.index)
    aligned = values.reindex(dates).to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~(np.isfinite(aligned) & (aligned > 0.0))
    if bad.any():
        first = dates[np.argmax(bad)].date().isoformat()
        raise AnalyticsError(
            f"benchmark needs a positive finite price on every backtest date; "
            f"{int(bad.sum())} missing or invalid, first {first}"
        )
    return pd.Series(capital * aligned / aligned[0], index=dates, name="benchmark")


def _metrics(
    equity: FloatArray,
    capital: float,
    traded_total: float,
    costs_total: float,
    n_scheduled: int,
    n_drift: int,
    n_stops: int,
) -> dict[str, float]:
    returns = equity[1:] / equity[:-1] - 1.0
    n = returns.size
    years = n / TRADING_DAYS_PER_YEAR
    growth = equity[-1] / capital
    cagr = growth ** (1.0 / years) - 1.0 if growth > 0.0 else -1.0
    sd = float(np.std(returns, ddof=1)) if n >= 2 else math.nan
    mean = float(np.mean(returns))
    root = math.sqrt(TRADING_DAYS_PER_YEAR)
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    peak = np.maximum.accumulate(equity)
    turnover = traded_total / float(np.mean(equity))
    return {
        "total_return": float(growth - 1.0),
        "cagr": float(cagr),
        "volatility": sd * root,
        "sharpe": mean / sd * root if sd > 0.0 else math.nan,
        "sortino": mean / downside * root if downside > 0.0 else math.nan,
        "max_drawdown": float(np.min(equity / peak - 1.0)),
        "win_rate": float(np.mean(returns > 0.0)),
        "rebalances": float(n_scheduled + n_drift),
        "rebalances_scheduled": float(n_scheduled),
        "rebalances_drift": float(n_drift),
        "rebalances_per_year": (n_scheduled + n_drift) / years,
        "stop_loss_events": float(n_stops),
        "turnover": turnover,
        "turnover_annualised": turnover / years,
        "costs": costs_total,
    }


class _Book:
    """Mutable simulation state (fractional shares), numpy arrays over the symbols."""

    def __init__(self, n: int, capital: float, rate: float) -> None:
        self.shares = np.zeros(n)
        self.entry = np.full(n, np.nan)
        self.cash = capital
        self.rate = rate

    def value(self, mark: FloatArray) -> float:
        held = self.shares != 0.0
        return self.cash + float(np.dot(self.shares[held], mark[held]))

    def rebalance(self, target: FloatArray, close: FloatArray) -> tuple[float, float]:
        """Apply the trading rule (module docstring); return (traded notional, costs)."""
        k = self.rate
        tradable = ~np.isnan(close)
        held = (self.shares != 0.0) & tradable
        px = np.where(tradable, close, 0.0)
        exits = held & (target == 0.0)
        exit_notional = self.shares[exits] * px[exits]
        self.cash += float(exit_notional.sum()) * (1.0 - k)
        self.shares[exits] = 0.0
        self.entry[exits] = np.nan
        traded = float(exit_notional.sum())

        base = self.cash + float(np.dot(self.shares[held], px[held]))
        active = target > 0.0
        current = self.shares[active] * px[active]
        outlay = target[active] * base - current
        buy = outlay > 0.0
        notional = np.where(buy, outlay / (1.0 + k), np.minimum(-outlay / (1.0 - k), current))
        delta = np.where(buy, notional, -notional) / px[active]
        new_shares = self.shares[active] + delta
        new_shares[~buy & (notional >= current)] = 0.0
        self.shares[active] = new_shares
        self.cash -= float(np.sum(np.where(buy, outlay, -notional * (1.0 - k))))
        bought = np.nonzero(active)[0][buy]
        self.entry[bought] = close[bought]
        traded += float(notional.sum())
        return traded, traded * k

    def stop_out(self, close: FloatArray, stop_loss: float) -> tuple[np.ndarray, FloatArray]:
        """Sell positions closing below (1 - stop_loss) x entry; return (indices, shares)."""
        with np.errstate(invalid="ignore"):
            hit = (self.shares > 0.0) & (close < self.entry * (1.0 - stop_loss))
        idx = np.nonzero(hit)[0]
        sold = self.shares[idx].copy()
        if idx.size:
            self.cash += float(np.dot(sold, close[idx])) * (1.0 - self.rate)
            self.shares[idx] = 0.0
            self.entry[idx] = np.nan
        return idx, sold


def walk_forward_backtest(
    prices: PricePanel,
    weigh: Weigh,
    params: BacktestParams | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    benchmark: pd.Series | None = None,
) -> BacktestResult:
    """Simulate rebalancing to ``weigh``'s targets over ``[start, end]`` without look-ahead.

    Parameters
    ----------
    prices
        Dates x symbols adjusted closes (sorted unique tz-naive dates, unique symbols,
        positive where present, ``NaN`` where a symbol has no close). Rows before ``start``
        are history that ``weigh`` may use.
    weigh
        ``weigh(history) -> Series`` of target weights by symbol (columns of ``prices``),
        finite, ≥ 0, summing to at most 1 (the remainder is cash). ``history`` is
        ``prices.loc[:rebalance_date]``: only data up to and including the rebalance date.
        Called once per scheduled rebalance, never for drift rebalances.
    params
        :class:`BacktestParams` (default: the seed's defaults).
    start, end
        First and last date of the window (``datetime.date`` or tz-naive ``Timestamp``,
        inclusive; default: the first and last date of ``prices``). At least two dates of
        ``prices`` must fall inside.
    benchmark
        Optional price series (e.g. SPY) with a positive price on every window date; returned
        scaled to ``initial_capital``.

    Returns
    -------
    BacktestResult
        With the daily returns :math:`r_t = E_t/E_{t-1} - 1` of the equity over the window's
        :math:`N` = dates − 1 days, capital :math:`C` and :math:`Y = N / 252` years, the
        ``metrics`` are:

        - ``total_return`` :math:`= E_N / C - 1` (from the capital before the first trades, so
          the initial costs count); ``cagr`` :math:`= (E_N / C)^{1/Y} - 1`.
        - ``volatility`` :math:`= s \\sqrt{252}` with :math:`s` the sample standard deviation
          (ddof = 1) of :math:`r`; ``sharpe`` :math:`= \\bar r / s \\cdot \\sqrt{252}`
          (risk-free rate 0); ``sortino`` :math:`= \\bar r / d \\cdot \\sqrt{252}` with the
          downside deviation :math:`d = \\sqrt{\\frac1N \\sum_t \\min(r_t, 0)^2}` (target 0,
          all :math:`N` days in the mean). NaN when :math:`s` or :math:`d` is 0.
        - ``max_drawdown`` :math:`= \\min_t (E_t / \\max_{s \\le t} E_s - 1)` (≤ 0).
        - ``win_rate``: the share of days with :math:`r_t > 0` (the seed's win rate sits with
          the daily-return statistics; positions are not round-tripped often enough for a
          per-position rate).
        - ``rebalances`` = ``rebalances_scheduled`` + ``rebalances_drift``;
          ``rebalances_per_year`` = ``rebalances`` / :math:`Y`; ``stop_loss_events``.
        - ``turnover`` :math:`= \\sum |\\text{traded notional}| / \\bar E` over the whole
          window (all trades, including the initial purchase and stop-loss sales), with
          :math:`\\bar E` the mean equity; ``turnover_annualised`` = ``turnover`` / :math:`Y`.
        - ``costs``: total transaction costs in currency.

        Counts are stored as floats.

    Raises
    ------
    AnalyticsError
        Invalid ``prices`` / ``params`` / ``start`` / ``end`` / ``benchmark``; fewer than two
        dates in the window; ``weigh`` returning something other than a Series of finite
        non-negative weights summing to at most 1 over known symbols, or weighting a symbol
        with no close on the rebalance date (the symbol and date are named).

    Notes
    -----
    See the module docstring for the trading rule (the ``bt`` library's cost-inclusive
    allocation with fractional shares), the stop-loss and drift rules and missing prices.
    The daily loop runs on numpy arrays; ``weigh`` is the only per-rebalance pandas work.
    """
    frame, values = _validate_prices(prices)
    if params is None:
        params = BacktestParams()
    elif not isinstance(params, BacktestParams):
        raise AnalyticsError(f"params must be a BacktestParams, got {type(params).__name__}")
    if not callable(weigh):
        raise AnalyticsError(f"weigh must be callable, got {type(weigh).__name__}")
    index = frame.index
    first = index[0] if start is None else _as_timestamp(start, "start")
    last = index[-1] if end is None else _as_timestamp(end, "end")
    if first > last:
        raise AnalyticsError(f"start {first.date()} is after end {last.date()}")
    lo = int(index.searchsorted(first, "left"))
    hi = int(index.searchsorted(last, "right"))
    if hi - lo < 2:
        raise AnalyticsError(
            f"the backtest window [start, end] must contain at least 2 dates of prices, "
            f"got {max(hi - lo, 0)}"
        )
    dates = index[lo:hi]
    bench = (
        None if benchmark is None else _validate_benchmark(benchmark, dates, params.initial_capital)
    )

    closes = values[lo:hi]
    marks = frame.iloc[:hi].ffill().to_numpy(dtype=np.float64, na_value=np.nan)[lo:]
    scheduled = _scheduled_mask(dates, params.rebalance)
    columns = frame.columns
    n_days, n_symbols = closes.shape
    rate = params.cost_bps / 1e4
    book = _Book(n_symbols, params.initial_capital, rate)
    target = np.zeros(n_symbols)
    stopped = np.zeros(n_symbols, dtype=bool)
    equity = np.empty(n_days)
    cash = np.empty(n_days)
    weight_rows: list[FloatArray] = []
    log: list[tuple[pd.Timestamp, str, float, float]] = []
    stops: list[tuple[pd.Timestamp, str, float, float]] = []

    for t in range(n_days):
        close, mark, date = closes[t], marks[t], dates[t]
        if scheduled[t]:
            target = _validate_target(weigh(frame.iloc[: lo + t + 1]), columns, close, date)
            stopped[:] = False
            traded, cost = book.rebalance(target, close)
            weight_rows.append(target.copy())
            log.append((date, "scheduled", traded, cost))
        else:
            if params.stop_loss is not None:
                idx, sold = book.stop_out(close, params.stop_loss)
                stopped[idx] = True
                stops.extend(
                    (date, str(columns[j]), float(q), float(close[j]))
                    for j, q in zip(idx, sold, strict=True)
                )
            if params.drift_threshold is not None:
                applied = np.where(stopped | np.isnan(close), 0.0, target)
                held = book.shares != 0.0
                weights_now = np.zeros(n_symbols)
                weights_now[held] = book.shares[held] * mark[held] / book.value(mark)
                watch = ~stopped & ~np.isnan(close)
                deviation = np.abs(weights_now - applied)[watch]
                if deviation.size and float(deviation.max()) > params.drift_threshold:
                    traded, cost = book.rebalance(applied, close)
                    weight_rows.append(applied)
                    log.append((date, "drift", traded, cost))
        equity[t] = book.value(mark)
        cash[t] = book.cash

    stop_traded = sum(s * p for _, _, s, p in stops)
    traded_total = sum(row[2] for row in log) + stop_traded
    costs_total = sum(row[3] for row in log) + stop_traded * rate
    n_scheduled = int(scheduled.sum())
    n_drift = len(log) - n_scheduled
    date_index = pd.DatetimeIndex(dates, name="date")
    equity_s = pd.Series(equity, index=date_index, name="equity")
    peak = np.maximum.accumulate(equity)
    rebalance_dates = pd.DatetimeIndex([row[0] for row in log], name="date")
    return BacktestResult(
        params=params,
        equity=equity_s,
        cash=pd.Series(cash, index=date_index, name="cash"),
        returns=equity_s.pct_change().iloc[1:].rename("return"),
        drawdown=pd.Series(equity / peak - 1.0, index=date_index, name="drawdown"),
        benchmark=bench,
        weights=pd.DataFrame(
            np.array(weight_rows).reshape(len(weight_rows), n_symbols),
            index=rebalance_dates,
            columns=columns.copy(),
        ),
        rebalances=pd.DataFrame(
            {
                "kind": [row[1] for row in log],
                "traded": np.array([row[2] for row in log], dtype=np.float64),
                "costs": np.array([row[3] for row in log], dtype=np.float64),
            },
            index=rebalance_dates,
        ),
        stop_loss_events=pd.DataFrame(
            {
                "date": pd.DatetimeIndex([s[0] for s in stops]),
                "symbol": pd.Series([s[1] for s in stops], dtype=object),
                "shares": np.array([s[2] for s in stops], dtype=np.float64),
                "price": np.array([s[3] for s in stops], dtype=np.float64),
            },
            columns=list(_STOP_COLUMNS),
        ),
        metrics=_metrics(
            equity,
            params.initial_capital,
            traded_total,
            costs_total,
            n_scheduled,
            n_drift,
            len(stops),
        ),
    )
