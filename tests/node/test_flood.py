"""A flood of txs with invalid signatures at the primary does not move consensus.

Three clients send the primary batches of 8,192 well-formed txs from
registered traders, with valid nonces and random signatures (so each one
costs the node a signature check), for 15 seconds (bounded in count), while a
light valid load commits through a backup. The node's intake budget
(`bftx.api.intake`) refuses what it has no time for with 429 before any
check, so: no view change on any node, valid txs keep committing, and no gap
between consecutive blocks is longer than `GAP_MS_MAX`.

`GAP_MS_MAX` is the bound this test states: an idle chain proposes a heartbeat
block about every 600 ms and a view change takes at least `view_timeout_ms`
(1 s) to start, so a gap of 1.5 s means consensus neither stalled nor changed
view, with room for a loaded 2-core machine.
"""

from __future__ import annotations

import itertools
import os
import threading
import time

import httpx
import pytest

from bftx import codec
from bftx.exchange import OrderType, PlaceOrder, Side
from bftx.exchange.transactions import Kind, encode_body
from bftx.node.testnet import CHAIN_ID
from tests.node.cluster import Cluster, Load

pytestmark = pytest.mark.slow  # real node processes

FLOOD_S = 15.0
FLOOD_CLIENTS = 3
BATCH_TXS = 8_192
DISTINCT_BATCHES = 6
BATCHES_PER_CLIENT_MAX = 200  # the bound on the flood's size, whatever the machine's speed
GAP_MS_MAX = 1_500


def forged_batches(cluster: Cluster) -> list[bytes]:
    """Binary batches of well-formed txs whose signatures are random bytes."""
    traders = [key for name, key in cluster.testnet.accounts.items() if name.startswith("trader")]
    body = encode_body(PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 4_500_000, 1, 0))
    batches = []
    for batch in range(DISTINCT_BATCHES):
        txs = tuple(
            codec.encode(
                (
                    CHAIN_ID,
                    traders[index % len(traders)].public_key,
                    (batch * BATCH_TXS + index) // len(traders) % 200,  # inside the nonce window
                    int(Kind.PLACE_ORDER),
                    body,
                    os.urandom(64),
                )
            )
            for index in range(BATCH_TXS)
        )
        batches.append(codec.encode(txs))
    return batches


def flood(url: str, batches: list[bytes], until: float, counts: dict[str, int]) -> None:
    with httpx.Client(timeout=30) as http:
        for sent in range(BATCHES_PER_CLIENT_MAX):
            if time.monotonic() > until:
                return
            response = http.post(
                f"{url}/v1/txs/batch",
                content=batches[sent % len(batches)],
                headers={"content-type": "application/octet-stream"},
            )
            codes = (
                [result["code"] for result in response.json()["results"]]
                if response.status_code == 200
                else [f"http_{response.status_code}"]
            )
            for code in codes:
                counts[code] = counts.get(code, 0) + 1


@pytest.mark.timeout(180)
def test_a_flood_of_invalid_signatures_at_the_primary_moves_no_view(cluster: Cluster) -> None:
    status = cluster.status(0)
    primary, view = int(status["primary"]), int(status["view"])
    backup = (primary + 1) % cluster.size
    batches = forged_batches(cluster)
    load = Load(cluster, targets=[backup], txs_per_second=10).start()
    start_height = max(cluster.height(index) for index in range(cluster.size))

    counts: dict[str, int] = {}  # per-tx result codes; http_429 for a batch refused whole
    until = time.monotonic() + FLOOD_S
    url = cluster.nodes[primary].api_url
    clients = [
        threading.Thread(target=flood, args=(url, batches, until, counts))
        for _ in range(FLOOD_CLIENTS)
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join(FLOOD_S + 60)
    submitted = load.stop()
    end_height = max(cluster.height(index) for index in range(cluster.size))

    views = [int(cluster.status(index)["view"]) for index in range(cluster.size)]
    assert views == [view] * cluster.size, f"view changed from {view}: {views}"
    assert counts.get("bad_signature", 0) > 0, f"no signature was checked: {counts}"
    shed = counts.get("overloaded", 0) + counts.get("http_429", 0)
    assert shed > 0, f"nothing was shed: {counts}"
    assert set(counts) <= {"bad_signature", "overloaded", "http_429", "mempool_full"}, counts
    cluster.wait_committed(submitted, range(cluster.size), timeout_s=30)
    stamps = [
        int(cluster.block(primary, height)["timestamp_ms"])  # type: ignore[index]
        for height in range(max(1, start_height), end_height + 1)
    ]
    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    assert gaps and max(gaps) <= GAP_MS_MAX, f"longest gap {max(gaps, default=0)} ms"
