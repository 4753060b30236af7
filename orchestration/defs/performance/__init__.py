"""Trade performance: the book's executions (``transactions``, the system of record, from the
paper broker, IB and CSV imports), FIFO-matched ``realized_trades``, the realized
``trading_performance`` report and the open ``positions_pnl``, with the job that refreshes them
(``refresh_trading_performance``) and the tables' reads and writes (``store``)."""
