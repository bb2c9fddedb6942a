"""Validators (and a follower) on 127.0.0.1: txs sent to different nodes commit, and every node
agrees."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from tests.node.cluster import Cluster, Load

pytestmark = pytest.mark.slow  # real node processes


@pytest.mark.timeout(90)
def test_txs_submitted_to_different_nodes_commit_with_identical_blocks_everywhere(
    cluster: Cluster,
) -> None:
    load = Load(cluster, targets=range(cluster.size))
    accepted = [load.submit_one() for _ in range(4 * len(load.traders))]
    assert all(accepted), f"every tx should be admitted: {load.rejected}"
    # Each of the next txs goes to every node at once (a node that already committed it
    # says nonce_used): each must still commit exactly once.
    again = []
    for _ in range(len(load.traders)):
        trader, tx = load.next_tx()
        answers = cluster.map(functools.partial(cluster.submit, tx=tx), range(cluster.size))
        assert {answer["code"] for answer in answers} <= {"ok", "duplicate_tx", "nonce_used"}
        load.nonces[trader] += 1
        load.advance()
        again.append(answers[0]["tx_hash"])

    cluster.wait_committed(load.accepted + again, range(cluster.size), timeout_s=60)

    common_height = cluster.check_agreement()
    assert common_height >= max(cluster.checker.tx_heights.values())
    cluster.check_txs(range(cluster.size), load.accepted + again)  # every tx index agrees
    trades = [cluster.get(index, "/v1/markets/BTC-USD/trades") for index in range(cluster.size)]
    assert trades[0], "buys and sells at one price should have traded"
    assert all(answer == trades[0] for answer in trades[1:])


@pytest.mark.timeout(90)
def test_a_follower_relays_txs_and_serves_the_same_certified_chain(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(4, followers=1)
    cluster.start_all()
    follower = cluster.size - 1
    assert cluster.status(follower)["mode"] == "follower"
    load = Load(cluster, targets=[follower])  # a follower gossips what clients give it
    accepted = [load.submit_one() for _ in range(len(load.traders))]
    assert all(accepted), f"every tx should be admitted: {load.rejected}"
    cluster.wait_committed(load.accepted, range(cluster.size), timeout_s=60)
    cluster.check_txs([follower], load.accepted)

    cluster.kill(follower)
    cluster.restart(follower)
    more = [load.submit_one() for _ in range(len(load.traders))]
    assert all(more), f"every tx should be admitted after the restart: {load.rejected}"
    cluster.wait_committed(load.accepted, range(cluster.size), timeout_s=60)
    cluster.check_agreement()
