"""Stopping every node (SIGTERM, or SIGKILL: a power cut) and starting them again loses nothing,
and the chain goes on."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3

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

    admitted_before = len(load.accepted)
    after = [load.submit_one() for _ in range(len(load.traders))]
    assert all(after), f"every tx should be admitted after the restart: {load.rejected}"
    cluster.wait_committed(load.accepted, everyone, timeout_s=60)
    new_heights = [cluster.checker.tx_heights[tx] for tx in load.accepted[admitted_before:]]
    assert min(new_heights) > max(heights.values())
    cluster.check_agreement()


@pytest.mark.timeout(120)
def test_a_node_whose_store_disagrees_with_its_certified_blocks_refuses_to_start(
    cluster: Cluster,
) -> None:
    victim = (int(cluster.status(0)["primary"]) + 1) % cluster.size
    others = [index for index in range(cluster.size) if index != victim]
    load = Load(cluster, targets=others)
    assert all(load.submit_one() for _ in range(len(load.traders)))
    cluster.wait_committed(load.accepted, range(cluster.size), timeout_s=60)
    cluster.wait_height([victim], 10, timeout_s=60)
    assert cluster.stop(victim) == 0

    # The stored state root of a block in the middle no longer matches what it executes to.
    database = cluster.testnet.nodes[victim].database_path
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        (height,) = connection.execute("SELECT max(height) / 2 FROM blocks").fetchone()
        changed = connection.execute(
            "UPDATE blocks SET state_root = zeroblob(32) WHERE height = ?", (height,)
        ).rowcount
    assert changed == 1
    cluster.start(victim)
    process = cluster.nodes[victim].process
    assert process is not None and process.wait(30) == 1
    log = cluster.nodes[victim].log()
    assert f"block {height} executes to another state root than the one stored" in log

    # Wiped, it joins again from its peers, and agrees.
    shutil.rmtree(cluster.testnet.nodes[victim].data_dir)
    cluster.restart(victim)
    assert all(load.submit_one() for _ in range(len(load.traders)))
    cluster.wait_committed(load.accepted, range(cluster.size), timeout_s=60)
    cluster.check_agreement()
