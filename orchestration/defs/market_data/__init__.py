"""Market data: instruments, daily prices, benchmark sector weights, ETF holdings and the
returns panel; their checks, the history-load job and the CSV directory reader."""
