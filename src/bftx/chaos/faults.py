"""The faults of a chaos run, one at a time, each after the previous victim caught up.

The kinds (issue 8): kill -9 of a random validator and restart 4 s later;
kill -9 of the primary (found from ``/v1/status``) and restart 4 s later;
SIGSTOP of a validator for 8 s, then SIGCONT; kill -9 and restart 0.5 s
later; SIGTERM of every node and restart; and, where network namespaces are
available, a partition of one validator for 8 s.

`compute_fault_plan` fixes the order of the kinds from the seed. While the
load lasts, the injector picks the next fault among the kinds whose usual
cost still fits in the time left: the kind injected least often so far, ties
broken by the plan's order. A short run thus sees as many different kinds as
fit, a long one goes round the plan again and again.

Must never: leave a node paused, killed or partitioned when it returns
(every fault restores what it broke in a ``finally``).
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bftx.chaos.cluster import ChaosCluster
from bftx.chaos.collect import fetch_statuses


class FaultKind(enum.StrEnum):
    KILL_RESTART = "kill_restart"  # kill -9 a random validator, restart 4 s later
    KILL_PRIMARY = "kill_primary"  # kill -9 the primary, restart 4 s later
    PAUSE = "pause"  # SIGSTOP 8 s, then SIGCONT
    KILL_QUICK_RESTART = "kill_quick_restart"  # kill -9, restart 0.5 s later
    RESTART_ALL = "restart_all"  # SIGTERM every node, start them again
    PARTITION = "partition"  # one validator cut off for 8 s (network namespaces)


RESTART_DELAY_S = 4.0
QUICK_RESTART_DELAY_S = 0.5
PAUSE_S = 8.0
PARTITION_S = 8.0
# The usual wall time of each fault, its victims' catch-up included (a planning estimate only).
FAULT_COST_S: dict[FaultKind, float] = {
    FaultKind.KILL_RESTART: 9.0,
    FaultKind.KILL_PRIMARY: 10.0,
    FaultKind.PAUSE: 11.0,
    FaultKind.KILL_QUICK_RESTART: 6.0,
    FaultKind.RESTART_ALL: 12.0,
    FaultKind.PARTITION: 12.0,
}
GAP_S = 2.0  # between a victim catching up and the next fault
CATCH_UP_TIMEOUT_S = 60.0  # at most; or the time left of the run, but at least:
CATCH_UP_MIN_S = 15.0
RECOVERY_TIMEOUT_S = 30.0
POLL_S = 0.05


@dataclass(slots=True)
class FaultRecord:
    kind: FaultKind
    victims: list[str]
    at_s: float  # since the load began
    view_before: int | None = None
    view_after: int | None = None
    recovery_s: float | None = None  # primary kill: until the survivors commit in a new view
    caught_up_s: float | None = None  # from the victims' return until they caught up
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "victims": self.victims,
            "at_s": round(self.at_s, 2),
            "view_before": self.view_before,
            "view_after": self.view_after,
            "recovery_s": None if self.recovery_s is None else round(self.recovery_s, 3),
            "caught_up_s": None if self.caught_up_s is None else round(self.caught_up_s, 2),
            "error": self.error,
        }


def available_kinds(partition: bool) -> list[FaultKind]:
    return [kind for kind in FaultKind if partition or kind is not FaultKind.PARTITION]


def compute_fault_plan(kinds: Sequence[FaultKind], seed: int) -> list[FaultKind]:
    """The kinds in an order shuffled by ``seed`` (the injector goes round it, again and again)."""
    order = list(kinds)
    random.Random(seed).shuffle(order)
    return order


class Injector:
    """Runs the plan against the cluster until `deadline_s`; every record kept in `records`."""

    def __init__(
        self,
        cluster: ChaosCluster,
        client: httpx.AsyncClient,
        plan: list[FaultKind],
        seed: int,
        started: float,
        deadline_s: float,
    ) -> None:
        self.cluster = cluster
        self.client = client
        self.plan = plan
        self.victims = list(range(cluster.size))
        random.Random(seed + 1).shuffle(self.victims)
        self.next_victim = 0
        self.started = started
        self.deadline_s = deadline_s
        self.records: list[FaultRecord] = []
        self.on_fault: Callable[[FaultRecord], None] = lambda _record: None

    def now(self) -> float:
        return time.monotonic() - self.started

    def next_kind(self) -> FaultKind | None:
        """The next planned kind that fits in the time left, kinds seen least often first."""
        done = Counter(record.kind for record in self.records)
        fitting = [
            (done[kind], position, kind)
            for position, kind in enumerate(self.plan)
            if self.now() + FAULT_COST_S[kind] <= self.deadline_s
        ]
        return min(fitting)[2] if fitting else None

    async def run(self, warmup_s: float) -> None:
        await asyncio.sleep(warmup_s)
        while (kind := self.next_kind()) is not None:
            record = FaultRecord(kind, [], self.now())
            self.records.append(record)
            try:
                await self._inject(record)
            except NodeStartError as error:
                record.error = str(error)
                return
            await asyncio.sleep(GAP_S)

    async def _inject(self, record: FaultRecord) -> None:
        cluster = self.cluster
        size = cluster.size
        statuses = await fetch_statuses(self.client, cluster.urls)
        record.view_before = _common(status["view"] for status in statuses if status)
        if record.kind is FaultKind.KILL_PRIMARY:
            primary = _common(status["primary"] for status in statuses if status)
            victim = int(primary) if primary is not None else self._pick_victim()
        else:
            victim = self._pick_victim()
        victims = list(range(size)) if record.kind is FaultKind.RESTART_ALL else [victim]
        record.victims = [cluster.names[index] for index in victims]
        self.on_fault(record)
        returned = time.monotonic()
        if record.kind in (FaultKind.KILL_RESTART, FaultKind.KILL_QUICK_RESTART):
            cluster.kill(victim)
            delay = (
                RESTART_DELAY_S if record.kind is FaultKind.KILL_RESTART else QUICK_RESTART_DELAY_S
            )
            await asyncio.sleep(delay)
            self._restart(victim)
            returned = time.monotonic()
        elif record.kind is FaultKind.KILL_PRIMARY:
            height = max((int(s["height"]) for s in statuses if s), default=0)
            cluster.kill(victim)
            killed = time.monotonic()
            restart = asyncio.create_task(self._restart_later(victim, RESTART_DELAY_S))
            try:
                record.recovery_s = await self._wait_new_view(
                    victim, record.view_before or 0, height, killed
                )
            finally:
                await restart
            returned = time.monotonic()
        elif record.kind is FaultKind.PAUSE:
            cluster.pause(victim)
            try:
                await asyncio.sleep(PAUSE_S)
            finally:
                cluster.resume(victim)
            returned = time.monotonic()
        elif record.kind is FaultKind.RESTART_ALL:
            await asyncio.to_thread(cluster.terminate_all)
            for index in range(size):
                self._restart(index)
            returned = time.monotonic()
        elif record.kind is FaultKind.PARTITION:
            namespaces = cluster.namespaces
            assert namespaces is not None, "partitions need network namespaces"
            namespaces.partition(victim)
            try:
                await asyncio.sleep(PARTITION_S)
            finally:
                namespaces.heal()
            returned = time.monotonic()
        caught_up = await self._wait_caught_up(victims)
        if caught_up is not None:
            record.caught_up_s = caught_up - returned
        statuses = await fetch_statuses(self.client, cluster.urls)
        record.view_after = _common(status["view"] for status in statuses if status)

    def _pick_victim(self) -> int:
        """Validators in an order shuffled by the seed, round and round."""
        victim = self.victims[self.next_victim % len(self.victims)]
        self.next_victim += 1
        return victim

    def _restart(self, index: int) -> None:
        try:
            self.cluster.restart(index)
        except OSError as error:
            raise NodeStartError(f"{self.cluster.names[index]} could not start: {error}") from error

    async def _restart_later(self, index: int, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        self._restart(index)

    async def _wait_new_view(
        self, victim: int, view: int, height: int, killed: float
    ) -> float | None:
        """Seconds from the kill until a survivor commits past ``height`` in a later view."""
        survivors = [url for index, url in enumerate(self.cluster.urls) if index != victim]
        deadline = killed + RECOVERY_TIMEOUT_S
        while time.monotonic() < deadline:
            for status in await fetch_statuses(self.client, survivors):
                if status and int(status["view"]) > view and int(status["height"]) > height:
                    return time.monotonic() - killed
            await asyncio.sleep(POLL_S)
        return None

    async def _wait_caught_up(self, victims: list[int]) -> float | None:
        """When every victim answers at a height at least the lowest of the others'
        (for a whole-cluster restart: when every node answers and the chain moved on)."""
        cluster = self.cluster
        others = [index for index in range(cluster.size) if index not in victims]
        first_height: int | None = None
        left_s = self.deadline_s - self.now()
        deadline = time.monotonic() + min(CATCH_UP_TIMEOUT_S, max(CATCH_UP_MIN_S, left_s))
        while time.monotonic() < deadline:
            for index in victims:
                if not cluster.running(index):
                    raise NodeStartError(
                        f"{cluster.names[index]} exited with status "
                        f"{cluster.processes.processes[index].returncode} after the fault"
                    )
            statuses = await fetch_statuses(self.client, cluster.urls)
            if all(statuses[index] is not None for index in victims):
                heights = [int(status["height"]) if status else -1 for status in statuses]
                if others:
                    target = min(heights[index] for index in others)
                    if min(heights[index] for index in victims) >= target:
                        return time.monotonic()
                else:
                    first_height = max(heights) if first_height is None else first_height
                    if min(heights) > first_height:
                        return time.monotonic()
            await asyncio.sleep(0.2)
        return None


class NodeStartError(Exception):
    """A node could not be started again, or died after a fault; the run stops injecting."""


def _common(values: Any) -> int | None:
    """The value most nodes report (None when none answered)."""
    counted = Counter(int(value) for value in values if value is not None)
    return counted.most_common(1)[0][0] if counted else None


def count_kinds(records: Sequence[FaultRecord]) -> dict[str, int]:
    counts = dict.fromkeys((kind.value for kind in FaultKind), 0)
    for record in records:
        counts[record.kind.value] += 1
    return counts
