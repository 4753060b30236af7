"""IB's pacing rules for historical-data requests, as a pure gate with an injectable clock.

IB answers a request that breaks its pacing rules with error 162 ("Historical Market Data
Service error message:Historical data request pacing violation") and may hold back the
connection's later requests. The rules (TWS API, "Historical Data Limitations"):

- no identical request (same contract, bar size, duration, end, data type, hours) within 15 s;
- no more than 60 requests in any 10-minute window;
- six or more requests for one contract (and exchange and data type) within 2 s is a violation,
  so at most five are sent for one contract in any 2-second window.

:class:`PacingGate` only computes: :meth:`PacingGate.delay` is how long to wait before a request
may go out, :meth:`PacingGate.record` notes that it went out, and :meth:`PacingGate.hold` blocks
every request for a while (the backoff after a violation). The caller does the waiting, so the
gate is tested with a fake clock and never sleeps.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable

IDENTICAL_SECONDS = 15.0
WINDOW_SECONDS = 600.0
WINDOW_LIMIT = 60
CONTRACT_SECONDS = 2.0
CONTRACT_LIMIT = 5


class PacingGate:
    """When the next historical-data request may be sent under IB's pacing rules.

    Parameters
    ----------
    clock
        Seconds on a monotonic clock (``time.monotonic`` by default; a fake in tests).
    identical_seconds
        Minimum gap between two identical requests.
    window_seconds, window_limit
        At most ``window_limit`` requests in any ``window_seconds``.
    contract_seconds, contract_limit
        At most ``contract_limit`` requests for one contract in any ``contract_seconds``.

    A request sent at ``t`` counts in the windows ``(t - w, t]``: the ``window_limit + 1``-th
    request may go ``window_seconds`` after the first one, no earlier.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        identical_seconds: float = IDENTICAL_SECONDS,
        window_seconds: float = WINDOW_SECONDS,
        window_limit: int = WINDOW_LIMIT,
        contract_seconds: float = CONTRACT_SECONDS,
        contract_limit: int = CONTRACT_LIMIT,
    ) -> None:
        if window_limit < 1 or contract_limit < 1:
            raise ValueError("window_limit and contract_limit must be at least 1")
        self._clock = clock
        self._identical_seconds = identical_seconds
        self._window_seconds = window_seconds
        self._window_limit = window_limit
        self._contract_seconds = contract_seconds
        self._contract_limit = contract_limit
        self._sent: deque[float] = deque()
        self._last_identical: dict[Hashable, float] = {}
        self._by_contract: dict[Hashable, deque[float]] = {}
        self._held_until = float("-inf")

    def delay(self, request: Hashable, contract: Hashable) -> float:
        """Seconds to wait before ``request`` (for ``contract``) may be sent; 0 when now."""
        now = self._clock()
        self._forget(now)
        waits = [0.0, self._held_until - now]
        last = self._last_identical.get(request)
        if last is not None:
            waits.append(last + self._identical_seconds - now)
        if len(self._sent) >= self._window_limit:
            waits.append(self._sent[-self._window_limit] + self._window_seconds - now)
        times = self._by_contract.get(contract, deque())
        if len(times) >= self._contract_limit:
            waits.append(times[-self._contract_limit] + self._contract_seconds - now)
        return max(waits)

    def record(self, request: Hashable, contract: Hashable) -> None:
        """Note that ``request`` for ``contract`` was sent now."""
        now = self._clock()
        self._sent.append(now)
        self._last_identical[request] = now
        self._by_contract.setdefault(contract, deque()).append(now)

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` from now (after IB reported a pacing violation)."""
        self._held_until = max(self._held_until, self._clock() + seconds)

    def _forget(self, now: float) -> None:
        """Drop what no longer constrains a request sent at ``now``."""
        while self._sent and self._sent[0] <= now - self._window_seconds:
            self._sent.popleft()
        expired = [r for r, t in self._last_identical.items() if t <= now - self._identical_seconds]
        for request in expired:
            del self._last_identical[request]
        for contract in list(self._by_contract):
            times = self._by_contract[contract]
            while times and times[0] <= now - self._contract_seconds:
                times.popleft()
            if not times:
                del self._by_contract[contract]
