"""Stopping every node (SIGTERM, or SIGKILL: a power cut) and starting them again loses nothing,
and the chain goes on."""

from __future__ import annotations

import pytest

from tests.node.cluster import Cluster, Load

pytestmark = pytest.mark.slow  # real node processes


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_stopping_and_restarting_every_node_loses_nothing_and_the_chain_continues(
    cluster: Cluster, how: str
) -> None:
    everyone = range(cluster.size)
    load = Load(cluster, targets=everyone)
    before = [load.submit_one() for _ in range(2 * len(load.traders))]
    assert all(before), f"every tx should be admitted: {load.rejected}"
    cluster.wait_committed(load.accepted, everyone, timeout_s=60)
    cluster.check_agreement()
    heights = {index: cluster.height(index) for index in everyone}

    if how == "sigterm":
        exit_statuses = [cluster.stop(index) for index in everyone]
        assert exit_statuses == [0] * cluster.size
        for node in cluster.nodes:
            assert '"node stopped"' in node.log(), f"{node.name} did not shut down cleanly"
    else:  # every node crashes at once, mid-stream (empty blocks keep coming)
        for index in everyone:
            cluster.kill(index)

    cluster.start_all()
    for index in everyone:
        assert cluster.height(index) >= heights[index], "a restarted node lost blocks"
    cluster.check_agreement()  # every block, from height 1, as recorded before the stop
    cluster.check_txs(everyone, load.accepted)  # every tx committed, at the same height

    after = [load.submit_one() for _ in range(len(load.traders))]
    assert all(after), f"every tx should be admitted after the restart: {load.rejected}"
    cluster.wait_committed(load.accepted, everyone, timeout_s=60)
    assert min(cluster.checker.tx_heights[tx] for tx in after) > max(heights.values())
    cluster.check_agreement()
