"""A small CSV market-data history that ends in the past (tests of the declared data end and
of data versions): AAA, BBB and SPY on the seven NYSE sessions 2024-03-20 … 2024-03-28, BBB
without a bar on 2024-03-22. The next day, Good Friday 2024-03-29, is no session; the session
after the data's end is Monday 2024-04-01."""

import datetime as dt
from pathlib import Path

from analytics_lib._typing import GICS_SECTORS

FIRST = dt.date(2024, 3, 20)
LAST = dt.date(2024, 3, 28)
NEXT_SESSION = dt.date(2024, 4, 1)
GOOD_FRIDAY = dt.date(2024, 3, 29)
SESSIONS = ["2024-03-20", "2024-03-21", "2024-03-22", "2024-03-25", "2024-03-26"]
SESSIONS += ["2024-03-27", "2024-03-28"]
BBB_MISSING = "2024-03-22"
ROWS_PER_SESSION = {day: 2 if day == BBB_MISSING else 3 for day in SESSIONS}
"""Hand-counted price rows per session: three symbols, BBB missing on 2024-03-22."""


def write_history(directory: Path, *, aaa_name: str = "Alpha Inc") -> Path:
    """Write the history into ``directory`` (created) and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "instruments.csv").write_text(
        "symbol,name,sector,industry,market_cap,asset_type,currency\n"
        f"AAA,{aaa_name},Information Technology,Software,2000,stock,USD\n"
        "BBB,Beta Bank,Financials,Banks,1000,stock,USD\n"
        "SPY,SPDR S&P 500,,,,etf,USD\n"
    )
    lines = []
    for number, symbol in enumerate(("AAA", "BBB", "SPY")):
        for offset, day in enumerate(SESSIONS):
            if symbol == "BBB" and day == BBB_MISSING:
                continue
            close = 100 + 10 * number + offset
            lines.append(f"{day},{symbol},{close},{close + 1},{close - 1},{close},{close},1000")
    (directory / "prices.csv").write_text(
        "date,symbol,open,high,low,close,adj_close,volume\n" + "\n".join(lines) + "\n"
    )
    weights = ["0.1"] * 9 + ["0.05", "0.05"]
    (directory / "benchmark_sector_weights.csv").write_text(
        "benchmark,asof_date,sector,weight\n"
        + "".join(f"SP500,2024-03-20,{s},{w}\n" for s, w in zip(GICS_SECTORS, weights, strict=True))
    )
    (directory / "etf_holdings.csv").write_text(
        "etf,asof_date,symbol,weight\nSPY,2024-03-20,AAA,0.6\nSPY,2024-03-20,BBB,0.4\n"
    )
    (directory / "positions.csv").write_text(
        "account,symbol,quantity,cost_basis,currency\nU1,AAA,10,1000,USD\nU1,BBB,5,500,USD\n"
    )
    return directory
