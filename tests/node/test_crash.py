"""Crashes (SIGKILL) of one validator under load: the others go on, the node comes back and agrees."""

from __future__ import annotations

import pytest

from tests.node.cluster import Cluster, Load

pytestmark = pytest.mark.slow  # real node processes


def _others(cluster: Cluster, index: int) -> list[int]:
    return [other for other in range(cluster.size) if other != index]


@pytest.mark.timeout(120)
def test_killed_validator_catches_up_after_restart_and_agrees(cluster: Cluster) -> None:
    primary = int(cluster.status(0)["primary"])
    victim = (primary + 1) % cluster.size
    survivors = _others(cluster, victim)
    load = Load(cluster, targets=survivors).start()
    cluster.wait_for(lambda: len(load.accepted) >= 20, 30, "the load to get going")
    cluster.wait_committed(load.accepted[:20], range(cluster.size), timeout_s=30)

    cluster.kill(victim)
    height_at_kill = max(cluster.height(index) for index in survivors)
    cluster.wait_height(survivors, height_at_kill + 20, timeout_s=30)
    cluster.wait_committed(list(load.accepted), survivors, timeout_s=30)

    cluster.restart(victim)
    target = max(cluster.height(index) for index in survivors)
    cluster.wait_height([victim], target, timeout_s=60)
    cluster.wait_for(  # past any snapshot it was given, it executes blocks itself again
        lambda: cluster.block(victim, cluster.height(victim)) is not None,
        60,
        f"node{victim} to hold the block at its height",
    )

    submitted = load.stop()
    cluster.wait_committed(submitted, range(cluster.size), timeout_s=60)
    common_height = cluster.check_agreement()
    assert common_height >= target
    assert all(not cluster.nodes[index].missing_heights for index in survivors)

    # Heights it skipped by state transfer are fetched in the background: in the end it
    # serves every block, and every tx reads the same on every node.
    def filled() -> bool:
        cluster.check_agreement([victim])
        return not cluster.nodes[victim].missing_heights

    cluster.wait_for(filled, 60, f"node{victim} to fetch the blocks it skipped")
    cluster.check_txs(range(cluster.size), submitted)

    # Restarted once more, it recovers from what it saved (the transferred snapshot, if
    # any, and the blocks after it) and carries on with the others.
    assert cluster.stop(victim) == 0
    cluster.restart(victim)
    assert cluster.height(victim) >= common_height
    cluster.wait_height(range(cluster.size), common_height + 10, timeout_s=60)
    cluster.check_agreement()


@pytest.mark.timeout(120)
def test_killed_primary_is_replaced_by_a_view_change_and_commits_resume(
    cluster: Cluster,
) -> None:
    status = cluster.status(0)
    primary, view = int(status["primary"]), int(status["view"])
    survivors = _others(cluster, primary)
    load = Load(cluster, targets=survivors).start()
    cluster.wait_for(lambda: len(load.accepted) >= 10, 30, "the load to get going")

    cluster.kill(primary)
    cluster.wait_for(
        lambda: all(int(cluster.status(index)["view"]) > view for index in survivors),
        60,
        f"a view change away from primary node{primary}",
    )
    new_primaries = {int(cluster.status(index)["primary"]) for index in survivors}
    assert primary not in new_primaries
    after_view_change = len(load.accepted)
    cluster.wait_for(
        lambda: len(load.accepted) >= after_view_change + 10,
        30,
        "txs admitted after the view change",
    )
    cluster.wait_committed(list(load.accepted), survivors, timeout_s=60)

    cluster.restart(primary)
    submitted = load.stop()
    cluster.wait_committed(submitted, range(cluster.size), timeout_s=60)
    cluster.check_agreement()
