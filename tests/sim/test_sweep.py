"""Many random seeds, and the proof that the checkers can fail: each mutant is caught."""

from __future__ import annotations

import json

import pytest

from bftx.cli import main
from bftx.sim import MUTANTS, RunSettings, run_seed, run_seeds
from bftx.sim.scenario import compute_liveness_bound_ms

CHUNK = 25


@pytest.mark.parametrize("first", range(0, 300, CHUNK))
def test_seed_sweep_four_nodes_one_byzantine(first: int) -> None:
    heal = 2_000
    duration = heal + compute_liveness_bound_ms(1)
    settings = RunSettings(
        4, 1, CHUNK, seed_start=10_000 + first, duration_ms=duration, heal_ms=heal
    )
    summary = run_seeds(settings)
    assert not summary.is_failure, summary.failures


@pytest.mark.parametrize("first", range(0, 40, 10))
def test_seed_sweep_seven_nodes_two_byzantine(first: int) -> None:
    heal = 2_500
    duration = heal + compute_liveness_bound_ms(2)
    settings = RunSettings(7, 2, 10, seed_start=20_000 + first, duration_ms=duration, heal_ms=heal)
    summary = run_seeds(settings)
    assert not summary.is_failure, summary.failures


# Seeds of the default 4-node, 1-byzantine run on which each mutant is caught. The
# honest replicas pass every one of them (test below), so the checkers, not luck, fail.
CATCHING_SEEDS = {
    "weak-quorum": [0, 1],
    "skip-signature-check": [14, 16],
    "forget-votes": [1, 25, 31],
    "send-before-persist": [0, 1],
}


@pytest.mark.parametrize("mutant", MUTANTS)
def test_each_mutant_is_caught(mutant: str) -> None:
    settings = RunSettings(4, 1, 1, mutant=mutant)
    for seed in CATCHING_SEEDS[mutant]:
        result = run_seed(settings, seed)
        assert result.safety_violations or result.liveness_failures, (mutant, seed)
        honest = run_seed(RunSettings(4, 1, 1), seed)
        assert not honest.is_failure, (seed, honest.safety_violations, honest.liveness_failures)


def test_replaying_a_seed_gives_the_identical_result() -> None:
    settings = RunSettings(4, 1, 1, duration_ms=4_000, heal_ms=2_000)
    assert run_seed(settings, 5) == run_seed(settings, 5)


def test_cli_prints_json_and_exits_zero_when_healthy(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["sim", "--nodes", "4", "--byzantine", "1", "--seeds", "2", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert status == 0
    assert document["seeds"] == 2 and document["safety_violations"] == 0
    for key in ("liveness_failures", "blocks_committed", "view_changes", "faults_injected"):
        assert key in document


def test_cli_prints_the_replay_command_and_exits_nonzero_for_a_mutant(
    capsys: pytest.CaptureFixture[str],
) -> None:
    arguments = [
        "sim",
        "--nodes",
        "4",
        "--byzantine",
        "1",
        "--seeds",
        "1",
        "--mutant",
        "weak-quorum",
    ]
    status = main(arguments)
    first = capsys.readouterr().out
    assert status == 1
    assert (
        "replay: bftx sim --nodes 4 --byzantine 1 --seeds 1 --seed-start 0 --mutant weak-quorum"
        in first
    )
    assert main(arguments) == 1
    assert capsys.readouterr().out == first  # a replay prints the identical summary
