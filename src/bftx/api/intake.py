"""How much of the node's event loop client submissions may take: a time budget, then 429.

Consensus and client intake share one event loop, and admitting a tx costs a
signature check. `IntakeBudget` lets submissions use at most
`limits.intake_busy_ms_max` of every `limits.intake_window_ms` window; past
that, txs are refused at once with ``overloaded`` (HTTP 429 with a
``Retry-After``, gRPC ``RESOURCE_EXHAUSTED``) before any signature is checked,
so a flood of txs, valid or not, costs the loop a bounded share of its time
and consensus messages keep their turn. Batch submissions also yield to the
loop every `limits.intake_chunk_txs` txs.

Must never: refuse consensus traffic (it does not pass through here), or hold
a refused tx anywhere (the client resends it).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable

from bftx import limits
from bftx.mempool import Admitted
from bftx.node.runtime import Node

Clock = Callable[[], float]  # seconds, monotonic

OVERLOADED = "overloaded"
OVERLOADED_MESSAGE = "the node is busy with consensus and other clients; retry after a pause"


class IntakeBudget:
    """Time spent admitting client txs, per window; `admit` refuses once it is spent."""

    def __init__(
        self,
        submit: Callable[[bytes], Admitted],
        window_s: float = limits.intake_window_ms / 1000,
        busy_s_max: float = limits.intake_busy_ms_max / 1000,
        clock: Clock = time.perf_counter,
    ) -> None:
        self._submit = submit
        self._window_s = window_s
        self._busy_s_max = busy_s_max
        self._clock = clock
        self._window_started = clock()
        self._busy_s = 0.0
        self.refused = 0  # txs refused for load since the start

    def admit(self, data: bytes) -> Admitted | None:
        """The node's answer, or None when this window's budget is spent (refuse: overloaded)."""
        now = self._clock()
        if now - self._window_started >= self._window_s:
            self._window_started, self._busy_s = now, 0.0
        if self._busy_s >= self._busy_s_max:
            self.refused += 1
            return None
        try:
            return self._submit(data)
        finally:
            self._busy_s += self._clock() - now

    def retry_after_s(self) -> int:
        """Whole seconds a refused client should wait (HTTP Retry-After has no fractions)."""
        return 1


_budgets: weakref.WeakKeyDictionary[Node, IntakeBudget] = weakref.WeakKeyDictionary()


def intake_for(node: Node) -> IntakeBudget:
    """The node's one intake budget, shared by REST and gRPC submissions."""
    found = _budgets.get(node)
    if found is None:
        found = _budgets[node] = IntakeBudget(node.submit)
    return found
