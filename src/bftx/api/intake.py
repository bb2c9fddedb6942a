"""Admission control for client txs: refuse at once what could not commit within the latency budget.

A node accepts a client tx only if it can expect to commit it within
`limits.intake_queue_ms` of queueing. The queue is the txs the mempool has
handed to consensus and not seen committed yet, whichever validator received
them (gossip brings them all here), and the gossiped txs not admitted yet
(`Node.client_backlog`); txs waiting for an earlier nonce of their
account are not in it, since nothing can commit them before it. How
fast it drains is the committed tx/s the chain showed over the last
`limits.intake_rate_window_ms` (never taken below `limits.intake_rate_floor_tps`,
so a burst on an idle chain is not refused for want of history). By Little's
law a backlog of ``rate × budget`` txs is a wait of about the budget; past it,
txs are refused with ``overloaded`` (HTTP 429 with a ``Retry-After``, gRPC
``RESOURCE_EXHAUSTED``) before their signature is checked.

Refusals must not strand what was accepted: a tx admitted after an earlier
nonce of its account was refused would wait in the mempool for it, counted
nowhere and committing never if the client gives up. So for twice the budget
after any refusal for load (the queue, the junk budget, a full mempool, or
this rule itself), a client tx is admitted only if it is its account's next
nonce (nothing missing before it). Telling that costs a decode
(cached, and reused when the tx is admitted); a refusal never costs a
signature check. A later nonce can still arrive first (from another request a
client has in flight) and be admitted before its predecessor is refused. So a
tx that claims the nonce txs in the mempool wait for is never refused for the
queue: it releases txs already accepted. Telling that costs a look at the
tx's account and nonce (no decode), and only while some tx waits at all; the
tx is checked in full when admitted.

Junk (txs the node refuses after paying for them: bad signatures, bad nonces)
never enters the mempool, so the queue cannot see it. For it a second bound
stays: the time spent on refused txs may use at most
`limits.intake_busy_ms_max` of every `limits.intake_window_ms`; past that
every client tx is refused unchecked until the window ends, so a flood of
junk, however large, costs the event loop a bounded share and consensus keeps
its turn. Accepted txs are not charged: under CPU contention their wall time
grows, and charging it refused load long before the queue was long.

Must never: refuse consensus traffic (it does not pass through here), or hold
a refused tx anywhere (the client resends it).
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence

from bftx import limits
from bftx.errors import Code
from bftx.mempool import Admitted
from bftx.node.runtime import Node

Clock = Callable[[], float]  # seconds, monotonic

OVERLOADED = "overloaded"
OVERLOADED_MESSAGE = (
    "the node's queue is longer than it can commit within its latency budget; retry after a pause"
)
RATE_SAMPLE_INTERVAL_S = 0.1  # the committed count is sampled at most this often


class IntakeControl:
    """Admits a client tx only while the expected queueing time is within the budget."""

    def __init__(
        self,
        submit: Callable[[bytes], Admitted],
        backlog: Callable[[], int],
        committed: Callable[[], int],
        is_next_nonce: Callable[[bytes], bool] = lambda data: True,
        fills_gap: Callable[[bytes], bool] = lambda data: False,
        queue_budget_s: float = limits.intake_queue_ms / 1000,
        rate_window_s: float = limits.intake_rate_window_ms / 1000,
        rate_floor_tps: float = limits.intake_rate_floor_tps,
        window_s: float = limits.intake_window_ms / 1000,
        busy_s_max: float = limits.intake_busy_ms_max / 1000,
        clock: Clock = time.perf_counter,
    ) -> None:
        self._submit = submit
        self._backlog = backlog
        self._committed = committed
        self._is_next_nonce = is_next_nonce
        self._fills_gap = fills_gap
        self._last_queue_refusal = -1e9  # when a tx was last refused for the queue
        self.queue_budget_s = queue_budget_s
        self._rate_window_s = rate_window_s
        self._rate_floor_tps = rate_floor_tps
        self._window_s = window_s
        self._busy_s_max = busy_s_max
        self._clock = clock
        now = clock()
        self._samples: deque[tuple[float, int]] = deque([(now, committed())])
        self.drain_tps = rate_floor_tps  # the committed tx/s the backlog bound assumes
        self.backlog_max = round(rate_floor_tps * queue_budget_s)
        self._window_started = now
        self._busy_s = 0.0
        self.refused_queue = 0  # refused because the queue was past the budget
        self.refused_junk = 0  # refused because refused txs used up the window's time

    @property
    def refused(self) -> int:
        """Txs refused for load since the start."""
        return self.refused_queue + self.refused_junk

    def admit(self, data: bytes) -> Admitted | None:
        """The node's answer, or None to refuse (``overloaded``) without looking at the tx."""
        now = self._clock()
        if now - self._samples[-1][0] >= RATE_SAMPLE_INTERVAL_S:
            self._sample(now)
        if self._backlog() >= self.backlog_max and not self._fills_gap(data):
            self._last_queue_refusal = now
            self.refused_queue += 1
            return None
        recently_refused = now - self._last_queue_refusal < 2 * self.queue_budget_s
        if recently_refused and not self._is_next_nonce(data):  # it would wait behind one
            self._last_queue_refusal = now  # its own later nonces must wait behind it too
            self.refused_queue += 1
            return None
        if now - self._window_started >= self._window_s:
            self._window_started, self._busy_s = now, 0.0
        if self._busy_s >= self._busy_s_max:
            self._last_queue_refusal = now  # later nonces of this tx's account must wait too
            self.refused_junk += 1
            return None
        admitted = self._submit(data)
        if admitted.code is not Code.OK:
            self._busy_s += self._clock() - now
            if admitted.code is Code.MEMPOOL_FULL:
                self._last_queue_refusal = now
        return admitted

    def refuse_batch(self, txs: Sequence[bytes]) -> bool:
        """Is the queue past the budget, with no tx in ``txs`` that fills a gap? Then they are
        refused at once, as `admit` would refuse each of them, without a call per tx: under a
        flood a batch then costs the node one check (and, while some tx waits for a gap, a
        look at each tx's account and nonce), not an admission per tx."""
        now = self._clock()
        if now - self._samples[-1][0] >= RATE_SAMPLE_INTERVAL_S:
            self._sample(now)
        if self._backlog() < self.backlog_max or any(self._fills_gap(data) for data in txs):
            return False
        self._last_queue_refusal = now
        self.refused_queue += len(txs)
        return True

    def readings(self) -> dict[str, int]:
        """What the metrics show."""
        return {
            "backlog": self._backlog(),
            "backlog_max": self.backlog_max,
            "drain_tps": round(self.drain_tps),
            "refused_queue": self.refused_queue,
            "refused_junk": self.refused_junk,
        }

    def expected_wait_s(self) -> float:
        """How long the current backlog takes to commit at the assumed drain rate."""
        return self._backlog() / self.drain_tps

    def retry_after_s(self) -> int:
        """Whole seconds a refused client should wait (HTTP Retry-After has no fractions)."""
        return max(1, round(self.queue_budget_s))

    def _sample(self, now: float) -> None:
        """Add a (time, committed) sample; re-derive the drain rate and the backlog bound."""
        samples = self._samples
        samples.append((now, self._committed()))
        while len(samples) > 2 and now - samples[0][0] > self._rate_window_s:
            samples.popleft()
        (first_s, first_count), (last_s, last_count) = samples[0], samples[-1]
        span = last_s - first_s
        if span > self._rate_window_s * 2:  # no sample for a long while (no client load)
            samples.popleft()
            return  # keep the last bound until a window of fresh samples exists
        if span >= self._rate_window_s / 2:
            rate = (last_count - first_count) / span
            self.drain_tps = max(self._rate_floor_tps, rate)
            self.backlog_max = round(self.drain_tps * self.queue_budget_s)


_controls: weakref.WeakKeyDictionary[Node, IntakeControl] = weakref.WeakKeyDictionary()


def intake_for(node: Node) -> IntakeControl:
    """The node's one admission control, shared by REST and gRPC submissions."""
    found = _controls.get(node)
    if found is None:
        found = _controls[node] = IntakeControl(
            node.submit,
            node.client_backlog,
            lambda: node.txs_committed_total,
            node.is_next_nonce,
            node.fills_gap,
            queue_budget_s=node.config.intake_queue_ms / 1000,
        )
        node.metrics.add_gauges(
            "bftx_intake",
            "Admission control: the queue (backlog), its bound, the drain rate assumed (tx/s), "
            "and the client txs refused for the queue and for junk since the start",
            "value",
            found.readings,
        )
    return found
