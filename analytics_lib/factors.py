"""Factor returns panel: standard market / sector proxies plus user baskets as factors.

Currently implemented: :data:`STANDARD_PROXIES` and :func:`factor_returns_panel`
(-> :class:`FactorPanel`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from analytics_lib.exceptions import AnalyticsError
from analytics_lib.validation import require_returns_panel

__all__ = ["FACTOR_CATEGORIES", "STANDARD_PROXIES", "FactorPanel", "factor_returns_panel"]

STANDARD_PROXIES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "market": ("SPY", "QQQ", "IWM"),
        "sector": (
            "XLK",
            "XLV",
            "XLF",
            "XLY",
            "XLC",
            "XLI",
            "XLP",
            "XLE",
            "XLU",
            "XLRE",
            "XLB",
        ),
    }
)
"""Standard factor proxies by category (read-only)."""

FACTOR_CATEGORIES: tuple[str, ...] = ("market", "sector", "user_baskets")
"""Category keys of :attr:`FactorPanel.categories`, in panel column order."""


@dataclass(frozen=True)
class FactorPanel:
    """Factor return series side by side.

    Attributes
    ----------
    panel
        Dates × factors simple returns: the standard proxies present in the returns panel
        (market, then sector, each in :data:`STANDARD_PROXIES` order), then every basket in
        the order given. ``NaN`` = no data that day. Columns are named ``factor``.
    categories
        ``{"market": [...], "sector": [...], "user_baskets": [...]}``, every key always
        present (possibly with an empty list), listing the panel's columns by category.
    correlation
        Factors × factors Pearson correlation, pairwise-complete (each pair over the dates
        on which both are finite); ``NaN`` for pairs with fewer than 2 common dates or a
        constant series.
    """

    panel: pd.DataFrame
    categories: dict[str, list[str]]
    correlation: pd.DataFrame


def factor_returns_panel(
    returns: pd.DataFrame, basket_returns: pd.DataFrame | None = None
) -> FactorPanel:
    """Build the factor returns panel from the returns panel and the baskets' returns.

    Parameters
    ----------
    returns
        Returns panel (dates × symbols); the standard proxies are taken from its columns.
    basket_returns
        Dates × baskets return series (e.g. :attr:`BasketReturns.returns`), or ``None``.

    Returns
    -------
    FactorPanel

    Raises
    ------
    AnalyticsError
        Invalid panels; a basket named like a standard proxy (all such names listed, even
        proxies absent from ``returns``, so a column's meaning never depends on the data);
        no factor at all (no proxy in ``returns`` and no basket).

    Notes
    -----
    The panel's dates are the union of both panels' dates (sorted); a factor is ``NaN`` on
    dates its source panel does not have. The correlation is
    :math:`\\rho_{jk} = \\mathrm{corr}(f_j, f_k)` over the dates where both are finite.
    """
    panel = require_returns_panel(returns, "returns")
    proxies = {
        category: [s for s in symbols if s in panel.columns]
        for category, symbols in STANDARD_PROXIES.items()
    }
    proxy_columns = proxies["market"] + proxies["sector"]
    baskets: list[str] = []
    frames = [panel.loc[:, proxy_columns]]
    if basket_returns is not None:
        basket_frame = require_returns_panel(basket_returns, "basket_returns")
        all_proxies = {s for symbols in STANDARD_PROXIES.values() for s in symbols}
        clashes = sorted(str(c) for c in basket_frame.columns if c in all_proxies)
        if clashes:
            raise AnalyticsError(
                "basket_returns has basket(s) named like a standard proxy: "
                f"{', '.join(clashes)}; rename the basket"
            )
        baskets = [str(c) for c in basket_frame.columns]
        frames.append(basket_frame)
    if not proxy_columns and not baskets:
        raise AnalyticsError(
            "no factors: returns has none of the standard proxies "
            f"({', '.join(s for v in STANDARD_PROXIES.values() for s in v)}) "
            "and basket_returns has no baskets"
        )
    combined = pd.concat(frames, axis=1, join="outer", sort=True).astype(np.float64)
    combined.columns = pd.Index(proxy_columns + baskets, name="factor")
    combined.index.name = "date"
    correlation = combined.corr(method="pearson", min_periods=2)
    return FactorPanel(
        panel=combined,
        categories={
            "market": proxies["market"],
            "sector": proxies["sector"],
            "user_baskets": baskets,
        },
        correlation=correlation,
    )
