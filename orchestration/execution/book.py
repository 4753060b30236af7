"""The live book as the broker reports it: positions, cash, net liquidation and prices.

A trade plan is sized on it, and an execution compares it with the plan's snapshot before it
places any of the plan's orders.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from analytics_lib.trade_plan import LiveBook
from orchestration.execution.preview import reference_price
from orchestration.resources.broker import Broker


def live_book(broker: Broker, symbols: Iterable[str] = ()) -> tuple[str, LiveBook]:
    """The broker's account name and live book, priced for every held symbol and ``symbols``.

    Positions are summed per symbol (zero positions dropped); prices are the broker's
    reference prices (last trade, else the bid/ask midpoint).
    """
    held: dict[str, float] = {}
    for position in broker.positions():
        held[position.symbol] = held.get(position.symbol, 0.0) + position.quantity
    positions = pd.Series({s: q for s, q in held.items() if q != 0}, dtype=float)
    wanted = sorted(set(positions.index) | set(symbols))
    quotes = broker.quotes(wanted) if wanted else {}
    prices = pd.Series({s: reference_price(quotes[s]) for s in wanted}, dtype=float)
    summary = broker.account_summary()
    book = LiveBook(
        positions=positions.rename_axis("symbol"),
        cash=float(summary.cash),
        net_liquidation=float(summary.net_liquidation),
        prices=prices.rename_axis("symbol"),
    )
    return summary.account, book
