"""Four validators on 127.0.0.1: txs sent to different nodes commit, and every node agrees."""

from __future__ import annotations

import pytest

from tests.node.cluster import Cluster, Load


@pytest.mark.timeout(90)
def test_txs_submitted_to_different_nodes_commit_with_identical_blocks_everywhere(
    cluster: Cluster,
) -> None:
    load = Load(cluster, targets=range(cluster.size))
    accepted = [load.submit_one() for _ in range(4 * len(load.traders))]
    assert all(accepted), f"every tx should be admitted: {load.rejected}"

    cluster.wait_committed(load.accepted, range(cluster.size), timeout_s=60)

    common_height = cluster.check_agreement()
    assert common_height >= max(cluster.checker.tx_heights.values())
    trades = [cluster.get(index, "/v1/markets/BTC-USD/trades") for index in range(cluster.size)]
    assert trades[0], "buys and sells at one price should have traded"
    assert all(answer == trades[0] for answer in trades[1:])
