"""Hand-written scenarios for the simulator: one situation each, no random faults."""

from __future__ import annotations

from bftx.sim.scenario import Crash, Partition, Scenario
from bftx.sim.simulation import SeedResult, Simulation


def halves(nodes: int, first: set[int]) -> frozenset[tuple[int, int]]:
    return frozenset(
        (a, b) for a in range(nodes) for b in range(nodes) if (a in first) != (b in first)
    )


def isolated(nodes: int, alone: int) -> frozenset[tuple[int, int]]:
    return frozenset({(alone, b) for b in range(nodes)} | {(b, alone) for b in range(nodes)})


def run(
    nodes: int = 4,
    behaviours: dict[int, str] | None = None,
    crashes: tuple[Crash, ...] = (),
    partitions: tuple[Partition, ...] = (),
    duration_ms: int = 8_000,
    heal_ms: int = 4_000,
    loss_per_mille: int = 0,
    seed: int = 1,
    mutant: str | None = None,
) -> tuple[Simulation, SeedResult]:
    scenario = Scenario(
        nodes=nodes,
        behaviours=behaviours or {},
        duration_ms=duration_ms,
        heal_ms=heal_ms,
        loss_per_mille=loss_per_mille,
        partitions=partitions,
        crashes=crashes,
    )
    simulation = Simulation(scenario, seed, mutant)
    return simulation, simulation.run()


def assert_healthy(result: SeedResult) -> None:
    assert result.safety_violations == []
    assert result.liveness_failures == []
    assert result.memory_violations == []


def honest_views(simulation: Simulation) -> list[int]:
    return [
        instance.replica.view
        for instance in simulation.all_instances
        if instance.is_honest and instance.replica is not None
    ]
