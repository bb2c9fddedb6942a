"""Runs many seeds and summarizes them: the engine behind ``bftx sim``.

It owns the aggregation of seed results into one deterministic summary (no
wall-clock values inside, so a replay prints the same bytes) and the replay
command of a failing seed. It never prints; the CLI does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bftx.sim.scenario import (
    BEHAVIOURS,
    FAULT_KINDS,
    compute_default_durations_ms,
    generate_scenario,
)
from bftx.sim.simulation import SeedResult, Simulation


@dataclass(frozen=True, slots=True)
class RunSettings:
    nodes: int
    byzantine: int
    seeds: int
    seed_start: int = 0
    mutant: str | None = None
    duration_ms: int | None = None
    heal_ms: int | None = None
    app: str = "counter"

    @property
    def durations_ms(self) -> tuple[int, int]:
        default_duration, default_heal = compute_default_durations_ms(self.nodes, self.byzantine)
        duration = self.duration_ms or default_duration
        heal = self.heal_ms if self.heal_ms is not None else min(default_heal, duration // 2)
        return duration, heal

    def replay_command(self, seed: int) -> str:
        parts = [
            "bftx sim",
            f"--nodes {self.nodes}",
            f"--byzantine {self.byzantine}",
            "--seeds 1",
            f"--seed-start {seed}",
        ]
        if self.mutant:
            parts.append(f"--mutant {self.mutant}")
        if self.duration_ms:
            parts.append(f"--duration-ms {self.duration_ms}")
        if self.heal_ms is not None:
            parts.append(f"--heal-ms {self.heal_ms}")
        if self.app != "counter":
            parts.append(f"--app {self.app}")
        return " ".join(parts)


@dataclass(slots=True)
class Summary:
    settings: RunSettings
    seeds: int = 0
    simulated_ms: int = 0
    blocks_committed: int = 0
    view_changes: int = 0
    messages: int = 0
    faults_injected: Counter[str] = field(default_factory=Counter)
    dropped_messages: Counter[str] = field(default_factory=Counter)
    safety_violations: int = 0
    liveness_failures: int = 0
    memory_violations: int = 0
    failures: list[dict[str, object]] = field(default_factory=list)

    def add(self, result: SeedResult) -> None:
        self.seeds += 1
        self.simulated_ms += result.simulated_ms
        self.blocks_committed += result.blocks_committed
        self.view_changes += result.view_changes
        self.messages += result.messages
        self.faults_injected.update(result.faults)
        self.dropped_messages.update(result.dropped)
        self.safety_violations += len(result.safety_violations)
        self.liveness_failures += len(result.liveness_failures)
        self.memory_violations += len(result.memory_violations)
        if result.is_failure and len(self.failures) < 20:
            self.failures.append(
                {
                    "seed": result.seed,
                    "replay": self.settings.replay_command(result.seed),
                    "safety": result.safety_violations[:5],
                    "liveness": result.liveness_failures[:5],
                    "memory": result.memory_violations[:5],
                }
            )

    @property
    def is_failure(self) -> bool:
        return bool(self.safety_violations or self.liveness_failures or self.memory_violations)

    @property
    def messages_per_block(self) -> int:
        return self.messages // max(1, self.blocks_committed)

    def to_json(self) -> dict[str, object]:
        faults = {kind: self.faults_injected.get(kind, 0) for kind in (*FAULT_KINDS, *BEHAVIOURS)}
        return {
            "nodes": self.settings.nodes,
            "byzantine": self.settings.byzantine,
            "mutant": self.settings.mutant,
            "app": self.settings.app,
            "seed_start": self.settings.seed_start,
            "seeds": self.seeds,
            "simulated_seconds": self.simulated_ms / 1000,
            "blocks_committed": self.blocks_committed,
            "view_changes": self.view_changes,
            "messages": self.messages,
            "messages_per_block": self.messages_per_block,
            "faults_injected": faults,
            "dropped_messages": dict(sorted(self.dropped_messages.items())),
            "safety_violations": self.safety_violations,
            "liveness_failures": self.liveness_failures,
            "memory_violations": self.memory_violations,
            "failures": self.failures,
        }


def run_seed(settings: RunSettings, seed: int) -> SeedResult:
    duration, heal = settings.durations_ms
    scenario = generate_scenario(seed, settings.nodes, settings.byzantine, duration, heal)
    return Simulation(scenario, seed, settings.mutant, app=settings.app).run()


def run_seeds(settings: RunSettings) -> Summary:
    summary = Summary(settings)
    for seed in range(settings.seed_start, settings.seed_start + settings.seeds):
        summary.add(run_seed(settings, seed))
    return summary
