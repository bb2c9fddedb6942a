"""What goes wrong in one simulated run, drawn from the seed before the run starts.

A `Scenario` is plain data: byzantine behaviours per node, network fault
rates, partitions, crashes and clock skews. It is a pure function of
(seed, nodes, byzantine count, durations), so a seed replays exactly and a
test can also write a scenario by hand. This module never runs anything.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from bftx import limits

FAULT_KINDS = (
    "loss",
    "duplication",
    "reordering",
    "partition_halves",
    "partition_isolated",
    "partition_one_way",
    "crash",
    "restart",
    "clock_skew",
    "output_exception",
    "crash_before_persist",
)
# How a node goes down: killed, an exception at an arbitrary output (the node halts), or a
# crash after signing and before the journal sync. Each is followed by a restart.
CRASH_KINDS = ("crash", "output_exception", "crash_before_persist")
BEHAVIOURS = (
    "equivocation",
    "double_vote",
    "silence",
    "invalid_signature",
    "far_future",
    "junk_flood",
    "twins",
    "censorship",
)


@dataclass(frozen=True, slots=True)
class Partition:
    kind: str  # partition_halves, partition_isolated or partition_one_way
    start_ms: int
    end_ms: int
    blocked: frozenset[tuple[int, int]]  # directed links (sender, receiver) that drop everything


@dataclass(frozen=True, slots=True)
class Crash:
    node: int
    at_ms: int  # a crash happens then; the other kinds are armed then and fire at a later output
    restart_ms: int
    kind: str = "crash"  # one of CRASH_KINDS


@dataclass(frozen=True, slots=True)
class Scenario:
    nodes: int
    behaviours: dict[int, str]  # byzantine node -> behaviour
    duration_ms: int
    heal_ms: int  # network faults, partitions and crashes all end by then
    loss_per_mille: int = 0
    duplication_per_mille: int = 0
    reorder_per_mille: int = 0
    latency_ms_min: int = 5
    latency_ms_max: int = 40
    reorder_delay_ms_max: int = 300
    partitions: tuple[Partition, ...] = ()
    crashes: tuple[Crash, ...] = ()
    clock_skews_ms: tuple[int, ...] = field(default_factory=tuple)
    tx_interval_ms: int = 50

    def __post_init__(self) -> None:
        assert self.heal_ms <= self.duration_ms
        assert all(partition.end_ms <= self.heal_ms for partition in self.partitions)
        assert all(crash.restart_ms <= self.heal_ms for crash in self.crashes)
        assert all(crash.node not in self.behaviours for crash in self.crashes)
        assert all(crash.kind in CRASH_KINDS for crash in self.crashes)
        assert not self.clock_skews_ms or len(self.clock_skews_ms) == self.nodes

    @property
    def honest(self) -> list[int]:
        return [node for node in range(self.nodes) if node not in self.behaviours]


def compute_liveness_bound_ms(byzantine: int) -> int:
    """How long after healing commits may take to resume, from the protocol's timeouts.

    Stall detection, then up to byzantine+1 consecutive view changes whose
    timeouts double (a byzantine primary can waste each), then catching up.
    """
    bound = limits.view_timeout_ms + 2_000
    for failed in range(byzantine + 1):
        bound += min(limits.view_timeout_ms << failed, limits.view_timeout_ms_max)
    return bound


def compute_default_durations_ms(nodes: int, byzantine: int) -> tuple[int, int]:
    """(duration, heal): faults for a while, then the liveness bound to recover."""
    if nodes > 16:  # large runs: short, only light network faults (see generate_scenario)
        return 9_000, 1_000
    heal = 5_000
    return heal + compute_liveness_bound_ms(byzantine), heal


def generate_scenario(
    seed: int, nodes: int, byzantine: int, duration_ms: int, heal_ms: int
) -> Scenario:
    rng = random.Random(f"bftx-scenario/{seed}/{nodes}/{byzantine}")
    behaviours = _draw_behaviours(rng, nodes, byzantine)
    honest = [node for node in range(nodes) if node not in behaviours]
    large = nodes > 16
    partitions = () if large else _draw_partitions(rng, nodes, heal_ms)
    crashes = () if large else _draw_crashes(rng, honest, heal_ms)
    skews = tuple(rng.randint(-150, 150) for _ in range(nodes))
    return Scenario(
        nodes=nodes,
        behaviours=behaviours,
        duration_ms=duration_ms,
        heal_ms=heal_ms,
        loss_per_mille=0 if large else rng.randint(1, 40),
        duplication_per_mille=rng.randint(1, 5) if large else rng.randint(1, 40),
        reorder_per_mille=rng.randint(1, 5) if large else rng.randint(1, 40),
        latency_ms_min=rng.randint(1, 10),
        latency_ms_max=rng.randint(15, 60),
        partitions=partitions,
        crashes=crashes,
        clock_skews_ms=skews,
        tx_interval_ms=rng.choice((20, 50, 100)) if not large else 100,
    )


def _draw_behaviours(rng: random.Random, nodes: int, byzantine: int) -> dict[int, str]:
    if byzantine == 0:
        return {}
    chosen = sorted(rng.sample(range(nodes), byzantine))
    if 0 not in chosen and rng.random() < 0.5:
        chosen[0] = 0  # a byzantine first primary half of the time
        chosen.sort()
    offset = rng.randrange(len(BEHAVIOURS))
    kinds = [BEHAVIOURS[(offset + index) % len(BEHAVIOURS)] for index in range(byzantine)]
    if "equivocation" in kinds:  # equivocation needs to be primary: give it the lowest id
        kinds.remove("equivocation")
        kinds.insert(0, "equivocation")
    return dict(zip(chosen, kinds, strict=True))


def _draw_partitions(rng: random.Random, nodes: int, heal_ms: int) -> tuple[Partition, ...]:
    partitions = []
    for _ in range(rng.randint(0, 2)):
        kind = rng.choice(("partition_halves", "partition_isolated", "partition_one_way"))
        start = rng.randint(0, max(0, heal_ms - 400))
        end = min(heal_ms, start + rng.randint(300, 1_500))
        blocked: set[tuple[int, int]] = set()
        if kind == "partition_halves":
            order = list(range(nodes))
            rng.shuffle(order)
            half = set(order[: nodes // 2])
            blocked = {
                (a, b) for a in range(nodes) for b in range(nodes) if (a in half) != (b in half)
            }
        elif kind == "partition_isolated":
            alone = rng.randrange(nodes)
            blocked = {(alone, b) for b in range(nodes)} | {(b, alone) for b in range(nodes)}
        else:
            node = rng.randrange(nodes)
            outgoing = rng.random() < 0.5
            blocked = {(node, b) if outgoing else (b, node) for b in range(nodes) if b != node}
        partitions.append(Partition(kind, start, end, frozenset(blocked)))
    return tuple(partitions)


def _draw_crashes(rng: random.Random, honest: list[int], heal_ms: int) -> tuple[Crash, ...]:
    crashes = []
    busy_until: dict[int, int] = {}
    for _ in range(rng.randint(0, 3)):
        node = rng.choice(honest)
        at = rng.randint(200, max(200, heal_ms - 300))
        if at < busy_until.get(node, -1):
            continue
        restart = min(heal_ms, at + rng.randint(100, 2_000))
        busy_until[node] = restart
        kind = CRASH_KINDS[rng.randrange(len(CRASH_KINDS))]
        crashes.append(Crash(node, at, restart, kind))
    return tuple(crashes)
