"""The node process's cyclic garbage collector: how often it runs, and what its pauses cost.

Nearly everything a node allocates per tx (decoded txs, mempool entries,
messages, results) is freed by reference counting within a second or two.
With CPython's default thresholds (a young collection every 700 net
allocations of tracked objects) those objects outlive several young
collections under load, are promoted, and then trigger full collections
that walk the whole heap: at 8,000 tx/s offered (about 1,700 committed) each
validator spent 7–8% of its CPU in the collector and paused its event loop
up to 90 ms at a time. Young collections every `limits.gc_young_objects`
allocations let them die young instead (docs/benchmarks.md, "The garbage
collector, and a tx that waited for a refused one").
Cycles are still collected, only later; the older generations keep their
default thresholds.

`CollectorPauses` times every collection (`gc.callbacks`) for the node's
metrics (``bftx_gc_pause_seconds``), so an operator sees the pauses the
event loop takes.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from bftx import limits


def tune_collector(young_objects: int = limits.gc_young_objects) -> None:
    """Collect the young generation every ``young_objects`` net allocations (process-wide)."""
    if young_objects < 1:
        raise ValueError(f"young_objects must be at least 1, got {young_objects}")
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_objects, middle, old)


PAUSE_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
GENERATIONS = 3


class CollectorPauses:
    """Times every collection of the process's collector while installed.

    The callback runs inside the collector, wherever an allocation set it off,
    possibly while that code holds a lock. So it takes no lock and calls no
    metrics library: it adds to plain counts, which the metrics read when
    scraped (a reading may miss the collection running at that moment).
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._started = 0.0
        self._installed = False
        # per generation: collections with a pause at most each bucket's bound (the last: above)
        self.bucket_counts = [[0] * (len(PAUSE_BUCKETS_S) + 1) for _ in range(GENERATIONS)]
        self.seconds = [0.0] * GENERATIONS

    def install(self) -> None:
        if not self._installed:
            gc.callbacks.append(self._on_collection)
            self._installed = True

    def remove(self) -> None:
        if self._installed:
            gc.callbacks.remove(self._on_collection)
            self._installed = False

    def collections(self, generation: int) -> int:
        return sum(self.bucket_counts[generation])

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = self._clock()
            return
        pause = self._clock() - self._started
        generation = int(info["generation"])
        bucket = 0
        while bucket < len(PAUSE_BUCKETS_S) and pause > PAUSE_BUCKETS_S[bucket]:
            bucket += 1
        self.bucket_counts[generation][bucket] += 1
        self.seconds[generation] += pause
