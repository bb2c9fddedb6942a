"""The fault plan: a seeded order, and a short run fitting as many different kinds as it can."""

from __future__ import annotations

import time
from typing import Any

from bftx.chaos.faults import (
    FAULT_COST_S,
    FaultKind,
    FaultRecord,
    Injector,
    available_kinds,
    compute_fault_plan,
    count_kinds,
)


class _FourNodes:
    """All the injector reads of a cluster before it injects anything."""

    size = 4
    names = ("node0", "node1", "node2", "node3")


def _injector(seed: int, deadline_s: float, partition: bool = False) -> Injector:
    plan = compute_fault_plan(available_kinds(partition), seed)
    cluster: Any = _FourNodes()
    return Injector(
        cluster, client=None, plan=plan, seed=seed, started=time.monotonic(), deadline_s=deadline_s
    )  # type: ignore[arg-type]


def test_partition_is_planned_only_where_namespaces_are_available() -> None:
    assert FaultKind.PARTITION not in available_kinds(partition=False)
    assert set(available_kinds(partition=True)) == set(FaultKind)


def test_the_seed_fixes_the_order_of_the_kinds() -> None:
    kinds = available_kinds(partition=True)
    assert compute_fault_plan(kinds, 7) == compute_fault_plan(kinds, 7)
    assert sorted(compute_fault_plan(kinds, 7)) == sorted(kinds)
    orders = {tuple(compute_fault_plan(kinds, seed)) for seed in range(20)}
    assert len(orders) > 1


def test_a_kind_not_injected_yet_comes_before_a_repeat() -> None:
    injector = _injector(seed=3, deadline_s=1_000)
    seen = []
    for _ in range(len(injector.plan)):
        kind = injector.next_kind()
        assert kind is not None
        seen.append(kind)
        injector.records.append(FaultRecord(kind, [], 0.0))
    assert sorted(seen) == sorted(injector.plan)
    assert injector.next_kind() == injector.plan[0]  # then round again, in the same order


def test_a_fault_that_no_longer_fits_is_skipped_for_one_that_does() -> None:
    cheapest = min(FAULT_COST_S.values())
    injector = _injector(seed=1, deadline_s=cheapest + 0.5)
    kind = injector.next_kind()
    assert kind is not None and FAULT_COST_S[kind] == cheapest
    assert _injector(seed=1, deadline_s=cheapest - 0.5).next_kind() is None


def test_victims_go_round_every_validator() -> None:
    injector = _injector(seed=5, deadline_s=100)
    victims = [injector._pick_victim() for _ in range(8)]
    assert sorted(victims[:4]) == [0, 1, 2, 3]
    assert victims[4:] == victims[:4]


def test_fault_counts_name_every_kind() -> None:
    records = [FaultRecord(FaultKind.PAUSE, ["node1"], 1.0), FaultRecord(FaultKind.PAUSE, [], 9.0)]
    counts = count_kinds(records)
    assert counts[FaultKind.PAUSE.value] == 2
    assert set(counts) == {kind.value for kind in FaultKind}
    assert sum(counts.values()) == 2
