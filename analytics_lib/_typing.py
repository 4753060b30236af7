"""Type aliases shared by the analytics modules.

The aliases document the *shape contract* of the pandas objects passed around:

``ReturnsPanel``
    ``DataFrame`` indexed by a sorted, unique, tz-naive ``DatetimeIndex`` named ``date``
    (trading days), one float64 column per symbol (columns named ``symbol``), simple returns,
    ``NaN`` where a symbol has no return that day.
``PricePanel``
    Same shape as ``ReturnsPanel`` holding positive prices (adjusted closes).
``PriceFrame``
    Long ``DataFrame`` with columns ``date, symbol, open, high, low, close, adj_close, volume``.
``Weights``
    ``Series`` indexed by symbol, float64.
"""

from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray: TypeAlias = npt.NDArray[np.float64]
ReturnsPanel: TypeAlias = pd.DataFrame
PricePanel: TypeAlias = pd.DataFrame
PriceFrame: TypeAlias = pd.DataFrame
Weights: TypeAlias = pd.Series

GICS_SECTORS: tuple[str, ...] = (
    "Information Technology",
    "Health Care",
    "Financials",
    "Consumer Discretionary",
    "Communication Services",
    "Industrials",
    "Consumer Staples",
    "Energy",
    "Utilities",
    "Real Estate",
    "Materials",
)

AssetType: TypeAlias = Literal["stock", "etf", "index"]
ASSET_TYPES: tuple[str, ...] = ("stock", "etf", "index")

TRADING_DAYS_PER_YEAR = 252
