"""Cross-sectional factor scores (momentum, quality, value, low volatility) and their blend.

Currently implemented: :data:`FACTORS`, :data:`DEFAULT_FACTOR_WEIGHTS`, :func:`percentile_scores`
and :func:`factor_scores` (-> :class:`FactorScores`).

Every factor is measured as of the last row of the price panel, from that row and earlier rows
only, and turned into a percentile score in :math:`(0, 1]` across the eligible symbols (1 = best).
Windows are trading days (panel rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from analytics_lib._typing import TRADING_DAYS_PER_YEAR, FloatArray, PricePanel
from analytics_lib.exceptions import AnalyticsError
from analytics_lib.validation import (
    require_float_values,
    require_frame,
    require_returns_values,
)

__all__ = [
    "DEFAULT_FACTOR_WEIGHTS",
    "FACTORS",
    "FILL_LIMIT",
    "MIN_VOLATILITY_OBSERVATIONS",
    "MOMENTUM_LOOKBACK",
    "MOMENTUM_SKIP",
    "MONTH",
    "FactorScores",
    "factor_scores",
    "percentile_scores",
]

FACTORS: Final[tuple[str, ...]] = ("momentum", "quality", "value", "volatility")
"""Factor names, in column order."""

DEFAULT_FACTOR_WEIGHTS: Final[Mapping[str, float]] = MappingProxyType(
    {"momentum": 0.35, "quality": 0.30, "value": 0.15, "volatility": 0.20}
)
"""The seed's factor weights (read-only)."""

MOMENTUM_LOOKBACK: Final = TRADING_DAYS_PER_YEAR
"""Rows back to the start of the momentum window (12 months)."""
MOMENTUM_SKIP: Final = 21
"""Most recent rows left out of momentum (1 month, the short-term reversal)."""
MONTH: Final = 21
"""Rows per month for the quality factor's monthly returns."""
MIN_VOLATILITY_OBSERVATIONS: Final = 63
"""Fewest daily returns in the one-year window for a volatility (and so a score)."""
FILL_LIMIT: Final = 5
"""Longest run of missing prices carried forward for the momentum and quality prices."""


@dataclass(frozen=True)
class FactorScores:
    """Factor percentile scores of the eligible symbols and their weighted blend.

    Attributes
    ----------
    as_of
        Date of the last row of the price panel.
    scores
        Index ``symbol`` (every eligible symbol), sorted by ``combined`` descending (``NaN``
        last, ties by symbol). Columns: one score in :math:`(0, 1]` per active factor
        (``momentum``, ``quality``, ``value``, ``volatility``, in that order), ``combined``, then
        the raw measures ``momentum_raw``, ``quality_raw``, ``quality_positive_months``,
        ``quality_max_drawdown``, ``value_raw`` (only when expense ratios are known) and
        ``volatility_raw``. ``NaN`` = the symbol lacks the data for that factor.
    active_factors
        Factors that were scored, in :data:`FACTORS` order.
    skipped_factors
        Factors left out (zero weight or no data), in :data:`FACTORS` order.
    skip_reasons
        Why each skipped factor was left out.
    effective_weights
        Weight of each active factor after the skipped factors' weights were redistributed
        proportionally (they sum to 1).
    counts
        ``eligible``, then per active factor the number of symbols with a score, then
        ``combined`` (symbols with at least one factor score).
    """

    as_of: pd.Timestamp
    scores: pd.DataFrame
    active_factors: tuple[str, ...]
    skipped_factors: tuple[str, ...]
    skip_reasons: dict[str, str]
    effective_weights: dict[str, float]
    counts: dict[str, int]


def percentile_scores(values: FloatArray) -> FloatArray:
    """Percentile rank of each finite value among the finite values, higher = better.

    .. math:: s_i = \\frac{\\operatorname{rank}(x_i)}{n}

    where :math:`\\operatorname{rank}` is the ascending rank among the :math:`n` finite values
    (1 = smallest) with ties given their average rank, so the best value scores 1 and the worst
    :math:`1/n`. Only the order of the values matters: a strictly increasing transform of ``x``
    leaves the scores unchanged. Non-finite values score ``NaN``.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise AnalyticsError(f"values must be one-dimensional, got shape {x.shape}")
    out = np.full(x.shape, np.nan)
    finite = np.isfinite(x)
    count = int(finite.sum())
    if count:
        out[finite] = rankdata(x[finite], method="average") / count
    return out


def _validate_weights(weights: Mapping[str, float] | None) -> dict[str, float]:
    if weights is None:
        return dict(DEFAULT_FACTOR_WEIGHTS)
    if not isinstance(weights, Mapping):
        raise AnalyticsError(f"weights must be a mapping of factor -> weight, got {weights!r}")
    unknown = sorted(str(k) for k in weights if k not in FACTORS)
    if unknown:
        raise AnalyticsError(
            f"weights has unknown factor(s) {', '.join(unknown)}; expected some of "
            f"{', '.join(FACTORS)}"
        )
    clean: dict[str, float] = {}
    for name in FACTORS:
        value = weights.get(name, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise AnalyticsError(f"weights[{name!r}] must be a number, got {value!r}")
        if not (np.isfinite(value) and value >= 0):
            raise AnalyticsError(f"weights[{name!r}] must be finite and >= 0, got {value!r}")
        clean[name] = float(value)
    if sum(clean.values()) <= 0:
        raise AnalyticsError("weights must give at least one factor a positive weight")
    return clean


def _validate_eligible(eligible: Sequence[str], columns: pd.Index) -> list[str]:
    if isinstance(eligible, str) or not isinstance(eligible, Sequence | pd.Index | np.ndarray):
        raise AnalyticsError(f"eligible must be a sequence of symbols, got {eligible!r}")
    symbols = [str(s) for s in eligible]
    if not symbols:
        raise AnalyticsError("eligible is empty: there is nothing to score")
    index = pd.Index(symbols)
    if index.has_duplicates:
        dups = sorted(set(index[index.duplicated()]))
        raise AnalyticsError(f"eligible has duplicate symbol(s): {', '.join(dups[:10])}")
    missing = [s for s in symbols if s not in columns]
    if missing:
        raise AnalyticsError(
            f"eligible symbol(s) not in prices: {', '.join(missing[:10])}"
            + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        )
    return symbols


def _expense_ratios(instruments: object, symbols: list[str]) -> FloatArray | None:
    frame = require_frame(instruments, "instruments")
    if "symbol" not in frame.columns:
        raise AnalyticsError("instruments is missing column(s): symbol")
    if frame["symbol"].duplicated().any():
        dups = sorted({str(s) for s in frame["symbol"][frame["symbol"].duplicated()]})
        raise AnalyticsError(f"instruments has duplicate symbol(s): {', '.join(dups[:10])}")
    if "expense_ratio" not in frame.columns:
        return None
    ratios = require_float_values(frame["expense_ratio"], "instruments.expense_ratio")
    known = np.isfinite(ratios)
    if np.isinf(ratios).any() or (ratios[known] < 0).any():
        raise AnalyticsError("instruments.expense_ratio must be finite and >= 0 where known")
    by_symbol = pd.Series(ratios, index=frame["symbol"].astype(str).to_numpy(dtype=object))
    values = by_symbol.reindex(symbols).to_numpy(dtype=np.float64, na_value=np.nan)
    return values if np.isfinite(values).any() else None


def _price_factors(prices: FloatArray) -> dict[str, FloatArray]:
    """Raw price factors of each column of ``prices`` (rows = dates, last row = as-of).

    ``prices`` holds the last ``MOMENTUM_LOOKBACK + 1 + FILL_LIMIT`` rows (or fewer).
    """
    n = prices.shape[1]
    window = prices[-(MOMENTUM_LOOKBACK + 1) :]
    # Fill from up to FILL_LIMIT rows before the window so its first row can be carried too.
    padded = pd.DataFrame(prices[-(MOMENTUM_LOOKBACK + 1 + FILL_LIMIT) :])
    filled = padded.ffill(limit=FILL_LIMIT).to_numpy()[-window.shape[0] :]
    last = filled.shape[0] - 1

    def at(lag: int) -> FloatArray:
        return filled[last - lag] if lag <= last else np.full(n, np.nan)

    with np.errstate(invalid="ignore", divide="ignore"):
        momentum = at(MOMENTUM_SKIP) / at(MOMENTUM_LOOKBACK) - 1.0

        month_ends = np.stack([at(MONTH * k) for k in range(MOMENTUM_LOOKBACK // MONTH + 1)])
        monthly = month_ends[:-1] / month_ends[1:] - 1.0
        quality_ok = np.isfinite(monthly).all(axis=0)
        positive_months = np.where(quality_ok, (monthly > 0).mean(axis=0), np.nan)
        peak = np.fmax.accumulate(filled, axis=0)
        drawdown = np.where(np.isfinite(filled), filled / peak - 1.0, 0.0)
        max_drawdown = np.where(quality_ok, drawdown.min(axis=0), np.nan)

        daily = window[1:] / window[:-1] - 1.0
    finite = np.isfinite(daily)
    count = finite.sum(axis=0)
    safe = np.where(finite, daily, 0.0)
    mean = safe.sum(axis=0) / np.maximum(count, 1)
    sq = np.where(finite, (daily - mean) ** 2, 0.0).sum(axis=0)
    enough = count >= MIN_VOLATILITY_OBSERVATIONS
    volatility = np.where(
        enough, np.sqrt(sq / np.maximum(count - 1, 1) * TRADING_DAYS_PER_YEAR), np.nan
    )
    return {
        "momentum_raw": momentum,
        "quality_positive_months": positive_months,
        "quality_max_drawdown": max_drawdown,
        "volatility_raw": volatility,
    }


def factor_scores(
    prices: PricePanel,
    instruments: pd.DataFrame,
    eligible: Sequence[str],
    weights: Mapping[str, float] | None = None,
) -> FactorScores:
    """Score the eligible symbols on each factor and blend the scores.

    Parameters
    ----------
    prices
        Dates x symbols adjusted closes; the last row is the as-of date. Must hold a column
        for every eligible symbol.
    instruments
        Frame with a unique ``symbol`` column and optionally ``expense_ratio`` (a fraction, e.g.
        0.0009; ``NaN`` = unknown).
    eligible
        The symbols to score (e.g. :attr:`analytics_lib.universe.Universe.eligible`).
    weights
        Factor -> weight (:math:`\\ge 0`; missing keys weigh 0). Default
        :data:`DEFAULT_FACTOR_WEIGHTS` (momentum 0.35, quality 0.30, value 0.15, volatility 0.20).

    Returns
    -------
    FactorScores

    Notes
    -----
    Let :math:`t` be the last row and :math:`\\tilde P` the prices with gaps of at most
    :data:`FILL_LIMIT` rows carried forward. Raw factors (higher = better unless noted):

    * **momentum** (12-1): :math:`\\tilde P_{t-21} / \\tilde P_{t-252} - 1`.
    * **quality**: from the 12 monthly returns
      :math:`m_k = \\tilde P_{t-21k} / \\tilde P_{t-21(k+1)} - 1`, :math:`k = 0..11` (all
      needed): the share of positive months :math:`\\pi = \\frac{1}{12}\\sum_k 1[m_k > 0]`
      (``quality_positive_months``) and the maximum drawdown over rows :math:`t-252..t`,
      :math:`D = \\min_s (\\tilde P_s / \\max_{u \\le s} \\tilde P_u - 1) \\le 0`
      (``quality_max_drawdown``, closer to 0 is better). The raw quality is the mean of their
      percentile scores, :math:`q = (s(\\pi) + s(D)) / 2` (``quality_raw``).
    * **value**: the expense ratio, lower is better. Scored only when ``instruments`` has an
      ``expense_ratio`` column with a known value for at least one eligible symbol; otherwise
      SKIPPED.
    * **volatility** (low volatility): :math:`\\sigma = \\sqrt{252}\\,\\mathrm{sd}(r)` of the daily
      simple returns :math:`r` over rows :math:`t-251..t` (never across a gap, ``ddof=1``), at
      least :data:`MIN_VOLATILITY_OBSERVATIONS` of them; lower is better.

    Each raw factor becomes a score with :func:`percentile_scores` over the eligible symbols that
    have it (negated first when lower is better), so the best symbol scores 1. A factor is
    skipped when its weight is 0 or no eligible symbol has it; the weights of the active
    factors are rescaled to sum to 1, :math:`\\omega_f = w_f / \\sum_{g\\,\\mathrm{active}} w_g`
    (so with value skipped the defaults become 0.35/0.85, 0.30/0.85, 0.20/0.85 = 41%, 35%,
    24%). A symbol missing a factor keeps its other scores: its combined score averages over
    the factors it has, with the weights renormalised over them,

    .. math:: c_i = \\frac{\\sum_{f \\in A_i} \\omega_f s_{i,f}}{\\sum_{f \\in A_i} \\omega_f},

    :math:`A_i` = active factors scored for :math:`i`; ``NaN`` when :math:`A_i` is empty.

    Raises
    ------
    AnalyticsError
        When ``prices`` is not a valid panel, ``eligible`` is empty, has duplicates or symbols
        without a price column, ``weights`` has an unknown factor or a negative weight, or
        ``instruments`` has duplicate symbols or a negative expense ratio.
    """
    panel, values = require_returns_values(prices, "prices")
    symbols = _validate_eligible(eligible, panel.columns)
    requested = _validate_weights(weights)
    expense = _expense_ratios(instruments, symbols)

    columns = panel.columns.get_indexer(symbols)
    window = values[-(MOMENTUM_LOOKBACK + 1 + FILL_LIMIT) :, columns]
    if (window <= 0).any():
        bad = np.asarray(symbols, dtype=object)[(window <= 0).any(axis=0)]
        raise AnalyticsError(
            f"prices must be positive; found a price <= 0 for {', '.join(bad[:10])}"
        )
    raw = _price_factors(window)
    if expense is not None:
        raw["value_raw"] = expense
    good: dict[str, FloatArray] = {
        "momentum": raw["momentum_raw"],
        "volatility": -raw["volatility_raw"],
    }
    quality_ok = np.isfinite(raw["quality_positive_months"])
    raw["quality_raw"] = np.where(
        quality_ok,
        (
            percentile_scores(raw["quality_positive_months"])
            + percentile_scores(raw["quality_max_drawdown"])
        )
        / 2.0,
        np.nan,
    )
    good["quality"] = raw["quality_raw"]
    if expense is not None:
        good["value"] = -expense

    skip_reasons: dict[str, str] = {}
    for name in FACTORS:
        if requested[name] == 0:
            skip_reasons[name] = "weight is 0"
        elif name == "value" and expense is None:
            skip_reasons[name] = "no expense ratio data available"
        elif not np.isfinite(good[name]).any():
            skip_reasons[name] = "no eligible symbol has enough price history"
    active = tuple(f for f in FACTORS if f not in skip_reasons)
    if not active:
        raise AnalyticsError(
            "no factor could be scored: " + "; ".join(f"{k}: {v}" for k, v in skip_reasons.items())
        )
    total = sum(requested[f] for f in active)
    effective = {f: requested[f] / total for f in active}

    score_matrix = np.column_stack([percentile_scores(good[f]) for f in active])
    weight_vector = np.array([effective[f] for f in active])
    has = np.isfinite(score_matrix)
    weight_sum = (has * weight_vector).sum(axis=1)
    weighted = (np.where(has, score_matrix, 0.0) * weight_vector).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        combined = np.where(weight_sum > 0, weighted / weight_sum, np.nan)

    data: dict[str, FloatArray] = {f: score_matrix[:, j] for j, f in enumerate(active)}
    data["combined"] = combined
    for key in (
        "momentum_raw",
        "quality_raw",
        "quality_positive_months",
        "quality_max_drawdown",
        "value_raw",
        "volatility_raw",
    ):
        if key in raw:
            data[key] = raw[key]
    frame = (
        pd.DataFrame(data, index=pd.Index(symbols, name="symbol"))
        .sort_index(kind="stable")
        .sort_values("combined", ascending=False, na_position="last", kind="stable")
    )

    counts = {"eligible": len(symbols)}
    counts.update({f: int(has[:, j].sum()) for j, f in enumerate(active)})
    counts["combined"] = int(np.isfinite(combined).sum())
    return FactorScores(
        as_of=pd.Timestamp(panel.index[-1]),
        scores=frame,
        active_factors=active,
        skipped_factors=tuple(skip_reasons),
        skip_reasons=skip_reasons,
        effective_weights=effective,
        counts=counts,
    )
