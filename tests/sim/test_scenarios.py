"""Named situations, each run through the simulator with the real replicas."""

from __future__ import annotations

from bftx import limits
from bftx.sim import RunSettings, Simulation, run_seed
from bftx.sim.scenario import Crash, Partition
from tests.sim.support import assert_healthy, halves, honest_views, isolated, run


def test_primary_crash_leads_to_a_view_change_and_commits_resume() -> None:
    simulation, result = run(crashes=(Crash(node=0, at_ms=1_000, restart_ms=3_000),))
    assert_healthy(result)
    assert min(honest_views(simulation)) >= 1
    assert result.faults["crash"] == 1 and result.faults["restart"] == 1


def test_primary_equivocation_does_not_split_honest_replicas() -> None:
    for seed in range(3):
        simulation, result = run(behaviours={0: "equivocation"}, seed=seed)
        assert_healthy(result)
        assert result.faults["equivocation"] > 0
        heights = [
            i.replica.last_executed for i in simulation.all_instances if i.is_honest and i.replica
        ]
        assert min(heights) > 20


def test_partition_without_a_quorum_heals_and_commits_resume() -> None:
    partition = Partition("partition_halves", 500, 3_500, halves(4, {0, 1}))
    _simulation, result = run(partitions=(partition,))
    assert_healthy(result)
    assert result.faults["partition_halves"] == 1


def test_restart_from_journal_resumes_without_equivocating() -> None:
    simulation, result = run(
        behaviours={0: "equivocation"},
        crashes=(Crash(node=2, at_ms=1_500, restart_ms=2_500),),
        loss_per_mille=20,
    )
    assert_healthy(result)
    restarted = simulation.instances[2][0]
    assert restarted.disk.writes > 0 and restarted.disk.records
    assert restarted.replica is not None and restarted.replica.last_executed > 20


def test_lagging_replica_catches_up_through_state_transfer() -> None:
    # Isolated for longer than the watermark window holds blocks: only a snapshot helps.
    partition = Partition("partition_isolated", 300, 5_000, isolated(4, 3))
    simulation, result = run(partitions=(partition,), duration_ms=9_000, heal_ms=5_000)
    assert_healthy(result)
    lagging = simulation.instances[3][0].replica
    leader = simulation.instances[0][0].replica
    assert lagging is not None and leader is not None
    assert lagging.stats["state_transfers"] >= 1
    assert lagging.last_executed >= leader.last_executed - 8


def test_view_change_during_a_view_change() -> None:
    # The primaries of views 0 and 1 are silent: the view change to view 1 installs a
    # primary that never proposes, so a second one (1 -> 2) follows before view 2 takes over.
    simulation, result = run(
        nodes=7,
        behaviours={0: "silence", 1: "silence"},
        duration_ms=12_000,
        heal_ms=1_200,
    )
    assert_healthy(result)
    assert min(honest_views(simulation)) >= 2
    started = [
        sum(
            i.replica.stats[name]
            for name in ("view_changes_started", "view_changes_joined", "view_changes_escalated")
        )
        for i in simulation.all_instances
        if i.is_honest and i.replica is not None
    ]
    assert min(started) >= 2  # every honest replica left view 0 and then view 1


def test_primary_restarted_quickly_rejoins_its_view_without_a_view_change() -> None:
    # Primary 0 is down for 200 ms: the backups only suspect view 0 (not binding), and once
    # it is back the same view goes on; nobody pays for a view change.
    simulation, result = run(
        nodes=7,
        behaviours={1: "silence", 2: "silence"},
        crashes=(Crash(node=0, at_ms=1_000, restart_ms=1_200),),
        duration_ms=12_000,
        heal_ms=1_200,
    )
    assert_healthy(result)
    assert max(honest_views(simulation)) == 0


def test_censoring_primary_is_replaced() -> None:
    simulation, result = run(behaviours={0: "censorship"})
    assert_healthy(result)
    assert min(honest_views(simulation)) >= 1
    app = simulation.instances[1][0].application
    assert app is not None and app.tx_count > 0


def test_invalid_messages_are_dropped_and_counted() -> None:
    expected = {
        "junk_flood": "malformed",
        "invalid_signature": "bad_signature",
        "far_future": "view_too_far",
        "double_vote": "double_vote",
    }
    for behaviour, reason in expected.items():
        _simulation, result = run(behaviours={3: behaviour}, duration_ms=4_000, heal_ms=1_000)
        assert_healthy(result)
        assert result.dropped[reason] > 0, (behaviour, dict(result.dropped))


def test_twins_sharing_one_key_cannot_break_safety() -> None:
    for seed in range(3):
        _simulation, result = run(behaviours={0: "twins"}, seed=seed, loss_per_mille=10)
        assert_healthy(result)


def test_memory_stays_bounded_in_a_long_run() -> None:
    simulation, result = run(duration_ms=40_000, heal_ms=2_000, loss_per_mille=10)
    assert_healthy(result)  # includes the memory checker
    replica = simulation.instances[1][0].replica
    assert replica is not None and replica.last_executed > 300
    footprint = replica.compute_memory_footprint()
    assert footprint["slots"] <= simulation.config.watermark_window_blocks
    assert footprint["committed_blocks"] <= simulation.config.watermark_window_blocks


def test_exchange_backed_replicas_agree_on_every_state_root() -> None:
    settings = RunSettings(4, 1, 1, duration_ms=6_000, heal_ms=2_000, app="exchange")
    for seed in (3, 4):
        result = run_seed(settings, seed)
        assert_healthy(result)  # the safety checker compares the exchange's state roots
        assert result.blocks_committed > 20


VIEW_TIMEOUT_MS = limits.view_timeout_ms


def signs_recent_commits(simulation: Simulation, node: int) -> bool:
    """Every other honest replica holds a COMMIT from ``node`` for one of its newest heights."""
    for instance in simulation.all_instances:
        replica = instance.replica
        if not instance.is_honest or replica is None or instance.node_id == node:
            continue
        signed = replica.compute_signed_heights()[node]
        if signed < replica.last_executed - replica.config.pipeline_depth_blocks:
            return False
    return True


def test_restarted_validator_signs_again_within_two_view_timeouts() -> None:
    restart_ms = 3_000
    simulation, result = run(
        crashes=(Crash(node=2, at_ms=1_000, restart_ms=restart_ms),),
        duration_ms=restart_ms + 2 * VIEW_TIMEOUT_MS,
        heal_ms=restart_ms,
    )
    assert_healthy(result)
    assert signs_recent_commits(simulation, 2)
    assert max(honest_views(simulation)) == 0  # a backup's restart costs no view change


def test_validator_alone_in_suspecting_its_view_signs_again_within_two_view_timeouts() -> None:
    heal_ms = 3_500  # isolated for longer than the view timeout: it suspects view 0 alone
    simulation, result = run(
        partitions=(Partition("partition_isolated", 1_000, heal_ms, isolated(4, 3)),),
        duration_ms=heal_ms + 2 * VIEW_TIMEOUT_MS,
        heal_ms=heal_ms,
    )
    assert_healthy(result)
    lone = simulation.instances[3][0].replica
    assert lone is not None and lone.stats["suspicions"] >= 1
    assert lone.status.value == "normal" and max(honest_views(simulation)) == 0
    assert signs_recent_commits(simulation, 3)


def test_one_primary_crash_under_load_costs_one_view_change() -> None:
    simulation, result = run(
        crashes=(Crash(node=0, at_ms=1_000, restart_ms=5_000),),
        duration_ms=10_000,
        heal_ms=5_000,
    )
    assert_healthy(result)
    assert honest_views(simulation) == [1, 1, 1, 1]
