"""Trading assets: the portfolio's current holdings."""

import dagster as dg

from orchestration import constants as c
from orchestration.assets.market_data import instruments
from orchestration.clock import utc_now
from orchestration.metadata import markdown, source_metadata
from orchestration.resources.database import Database
from orchestration.resources.market_data import MarketDataSource
from orchestration.storage.bulk import replace_rows
from orchestration.storage.models import PortfolioPosition


@dg.asset(group_name=c.TRADING, deps=[instruments], kinds={"sql"})
def portfolio_positions(market_data: MarketDataSource, database: Database) -> dg.MaterializeResult:
    """Current holdings (account, symbol, quantity, cost basis) from ``positions.csv`` or the
    demo portfolio; every symbol must be a known instrument."""
    frame = market_data.positions()
    known = set(database.read_frame("SELECT symbol FROM instruments")["symbol"])
    unknown = sorted(set(frame["symbol"]) - known)
    if unknown:
        raise ValueError(
            f"positions reference symbols that are not instruments: {', '.join(unknown)}"
        )
    with database.transaction() as connection:
        replace_rows(
            connection,
            PortfolioPosition.__table__,
            frame,
            constants={"source": market_data.label, "updated_at": utc_now()},
        )
    return dg.MaterializeResult(
        metadata={
            **source_metadata(market_data),
            "dagster/row_count": len(frame),
            "accounts": int(frame["account"].nunique()),
            "long_positions": int((frame["quantity"] > 0).sum()),
            "short_positions": int((frame["quantity"] < 0).sum()),
            "positions": markdown(frame),
        }
    )
