"""Asset checks of the trade-performance assets, one function per property."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd

from analytics_lib.trade_analysis import FifoResult

REALIZED_PNL_RECONCILES = "realized_pnl_reconciles"
RECONCILE_RELATIVE_TOLERANCE = 1e-9
_BOOK = ["account", "currency"]
_POSITION = ["account", "currency", "symbol"]


def realized_pnl_reconciles(transactions: pd.DataFrame, fifo: FifoResult) -> dg.AssetCheckResult:
    """FIFO matching neither creates nor loses money or shares.

    Per account and currency, the executions' cash flows (sells +price·qty, buys −price·qty)
    minus their fees equal Σ realized P&L − Σ open-lot cost basis − Σ open-lot fees (realized
    P&L is net of fees; a long lot's cost basis is cash paid, a short lot's negative cost basis
    is cash received). Per account, currency and symbol, the signed quantity traded equals the
    open lots' signed quantity. Tolerance: 1e-9 of the gross traded value.
    """
    signed = np.where(transactions["side"] == "buy", 1.0, -1.0)
    flows = transactions.assign(
        cash=-signed * transactions["price"] * transactions["quantity"],
        gross=transactions["price"] * transactions["quantity"],
        shares=signed * transactions["quantity"],
    )
    by_book = flows.groupby(_BOOK)[["cash", "fees", "gross"]].sum()
    realized = fifo.realized.groupby(_BOOK)["pnl"].sum()
    lots = fifo.open_lots.groupby(_BOOK)[["cost_basis", "fees"]].sum()
    lots.columns = ["cost_basis", "fees_open"]
    books = by_book.join(realized, how="outer").join(lots, how="outer")
    books = books.fillna(0.0)
    expected = books["pnl"] - books["cost_basis"] - books["fees_open"]
    cash_error = (books["cash"] - books["fees"] - expected).abs()
    cash_bad = cash_error > RECONCILE_RELATIVE_TOLERANCE * books["gross"].clip(lower=1.0)

    traded = flows.groupby(_POSITION)["shares"].sum()
    held = fifo.open_lots.groupby(_POSITION)["quantity"].sum()
    shares = pd.concat([traded, held], axis=1, keys=["traded", "held"]).fillna(0.0)
    shares_bad = (shares["traded"] - shares["held"]).abs() > 1e-6

    failures = [
        f"{a}/{cur}: cash off by {cash_error[(a, cur)]:.6g}" for a, cur in books.index[cash_bad]
    ]
    failures += [
        f"{a}/{cur}/{s}: traded {shares.loc[(a, cur, s), 'traded']:g} but open lots hold "
        f"{shares.loc[(a, cur, s), 'held']:g}"
        for a, cur, s in shares.index[shares_bad]
    ]
    return dg.AssetCheckResult(
        check_name=REALIZED_PNL_RECONCILES,
        passed=not failures,
        description="; ".join(failures[:10]) or "cash and shares reconcile in every book",
        metadata={
            "books_checked": len(books),
            "positions_checked": len(shares),
            "max_cash_error": float(cash_error.max()) if len(cash_error) else 0.0,
            "failures": len(failures),
        },
    )
