"""The node's clock: wall-clock milliseconds that never jump and never go backwards.

The replica takes one ``now``: its timers are deadlines in that clock, and the
blocks it proposes carry it as their timestamp (DESIGN.md section 4). Timers
need a monotonic clock (a wall clock stepped back by an hour would stall every
timeout for an hour; stepped forward, it would fire them all at once), block
timestamps need the wall clock (voters compare them with theirs). `NodeClock`
gives both: it runs on the monotonic clock, anchored to the wall clock at
start, and slews towards the wall clock by at most `SLEW_PER_MILLE` of the time
elapsed, the way NTP slews a system clock. So it always runs between 90 % and
110 % of real speed, and a stepped wall clock is caught up with smoothly.
"""

from __future__ import annotations

import time
from collections.abc import Callable

SLEW_PER_MILLE = 100  # at most 10 % faster or slower than the monotonic clock


class NodeClock:
    def __init__(
        self,
        wall_ns: Callable[[], int] = time.time_ns,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._wall_ns = wall_ns
        self._monotonic_ns = monotonic_ns
        self._last_monotonic = monotonic_ns()
        self._offset = wall_ns() - self._last_monotonic

    def __call__(self) -> int:
        """Milliseconds since the epoch, as the wall clock reads them, slewed."""
        monotonic = self._monotonic_ns()
        elapsed = max(0, monotonic - self._last_monotonic)
        self._last_monotonic = monotonic
        lag = self._wall_ns() - (monotonic + self._offset)
        step = elapsed * SLEW_PER_MILLE // 1000
        self._offset += max(-step, min(step, lag))
        return (monotonic + self._offset) // 1_000_000
