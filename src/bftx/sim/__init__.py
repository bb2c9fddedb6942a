"""The deterministic simulator: many real replicas under a virtual clock and a hostile network.

This package owns fake time, network, disks, faults, byzantine behaviours and
the safety, liveness and memory checkers (docs/simulator.md). It drives the
very same `bftx.consensus.Replica` the node runs; if it needed a different
code path the design would be wrong. Its only randomness is `random.Random`
seeded from the run's seed; it never reads the wall clock, the real disk or
the network.
"""

from __future__ import annotations

from bftx.sim.runner import RunSettings, Summary, run_seed, run_seeds
from bftx.sim.scenario import BEHAVIOURS, FAULT_KINDS, Scenario, generate_scenario
from bftx.sim.simulation import APPS, MUTANTS, SeedResult, Simulation

__all__ = [
    "APPS",
    "BEHAVIOURS",
    "FAULT_KINDS",
    "MUTANTS",
    "RunSettings",
    "Scenario",
    "SeedResult",
    "Simulation",
    "Summary",
    "generate_scenario",
    "run_seed",
    "run_seeds",
]
