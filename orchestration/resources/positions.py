"""Where ``portfolio_positions`` comes from (``PORTFOLIO_POSITIONS_SOURCE``).

``market_data`` (default): the demo portfolio or ``positions.csv`` of the market data source.
``broker``: the broker's current positions (read-only session), so risk and baskets see what
the account really holds after trades.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import dagster as dg
import pandas as pd

from orchestration.resources.broker_connection import BrokerConnection
from orchestration.resources.market_data import POSITION_COLUMNS, MarketDataSource


class PositionsSource(dg.ConfigurableResource, ABC):
    """Current holdings with columns ``account, symbol, quantity, cost_basis, currency``."""

    @property
    @abstractmethod
    def label(self) -> str:
        """Human-readable description of the source, shown in metadata."""

    @property
    @abstractmethod
    def simulated(self) -> bool:
        """True when the holdings are simulated (demo market or paper broker)."""

    @abstractmethod
    def positions(self) -> pd.DataFrame:
        """The holdings."""


class MarketDataPositions(PositionsSource):
    """Holdings from the market data source (demo portfolio or ``positions.csv``)."""

    market_data: MarketDataSource

    @property
    def label(self) -> str:
        return self.market_data.label

    @property
    def simulated(self) -> bool:
        return self.market_data.simulated

    def positions(self) -> pd.DataFrame:
        return self.market_data.positions()


class BrokerPositions(PositionsSource):
    """Holdings the broker reports (cost basis = quantity × average cost)."""

    broker: BrokerConnection

    @property
    def label(self) -> str:
        return f"{self.broker.kind} broker positions"

    @property
    def simulated(self) -> bool:
        return self.broker.kind == "paper"

    def positions(self) -> pd.DataFrame:
        broker = self.broker.get()
        currency = broker.account_summary().currency
        rows = [
            {
                "account": p.account,
                "symbol": p.symbol,
                "quantity": p.quantity,
                "cost_basis": p.quantity * p.average_cost if p.average_cost is not None else None,
                "currency": currency,
            }
            for p in broker.positions()
        ]
        frame = pd.DataFrame(rows, columns=POSITION_COLUMNS)
        return frame.astype({"quantity": float, "cost_basis": float})
