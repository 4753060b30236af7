"""Trading: the book's positions and the broker reconciliation, the basket-trade jobs
(preview, approve, execute, cancel) and the sensors that turn approvals and trade plans into
runs. The trade state machine itself is shared in :mod:`orchestration.execution`."""
