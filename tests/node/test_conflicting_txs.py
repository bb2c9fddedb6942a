"""Conflicting txs from one account cannot move consensus.

A client signs two different txs with the same nonce and sends one to each of
two backups at the same moment, a hundred times in a row. One of each pair
commits; the other can never commit, and must not be taken for censorship by
the primary: no view change on any node, every node stays in consensus, and
the losers leave every pool.
"""

from __future__ import annotations

import threading

import pytest

from bftx.exchange import OrderType, PlaceOrder, Side, sign_tx
from bftx.node.testnet import CHAIN_ID
from tests.node.cluster import Cluster

pytestmark = pytest.mark.slow  # real node processes

PAIRS = 100
PRICE_TICKS = 4_500_000


def submit_together(cluster: Cluster, first: tuple[int, bytes], second: tuple[int, bytes]) -> None:
    """Both txs at once, each to its node (the race a hostile client sets up)."""
    barrier = threading.Barrier(2)

    def send(index: int, tx: bytes) -> None:
        barrier.wait()
        cluster.submit(index, tx)

    threads = [threading.Thread(target=send, args=pair) for pair in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)


@pytest.mark.timeout(240)
def test_a_hundred_same_nonce_pairs_at_two_backups_cause_no_view_change(cluster: Cluster) -> None:
    status = cluster.status(0)
    primary, view = int(status["primary"]), int(status["view"])
    left, right = [(primary + offset) % cluster.size for offset in (1, 2)]
    key = cluster.account("alice")
    for nonce in range(PAIRS):
        one, other = (
            sign_tx(key, CHAIN_ID, nonce, PlaceOrder("BTC/USD", side, OrderType.LIMIT, price, 1, 0))
            for side, price in ((Side.BUY, PRICE_TICKS - 100), (Side.SELL, PRICE_TICKS + 100))
        )
        submit_together(cluster, (left, one), (right, other))
        cluster.wait_for(
            lambda nonce=nonce: (
                int(cluster.get(primary, f"/v1/accounts/{key.address.hex()}")["nonce"]) > nonce
            ),
            30,
            f"one tx of pair {nonce} to commit",
        )
    height = max(cluster.height(index) for index in range(cluster.size))
    cluster.wait_height(range(cluster.size), height + 10, timeout_s=60)  # idle heartbeats go on
    views = [int(cluster.status(index)["view"]) for index in range(cluster.size)]
    assert views == [view] * cluster.size, f"view changed from {view}: {views}"
    pending = [int(cluster.status(index)["mempool_txs"]) for index in range(cluster.size)]
    assert pending == [0] * cluster.size, f"losing txs left in pools: {pending}"
