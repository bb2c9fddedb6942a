"""`GET /v1/ready` and the status's quorum fields: whether a quorum of validators is reachable.

The signing monitor counts over heights, so when two of four validators die the
chain stops and their last signatures never age out; the links, though, go down.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.support import LiveCluster, wait_for


@pytest.fixture
def four(tmp_path: Path) -> Iterator[LiveCluster]:
    live = LiveCluster(tmp_path / "testnet", validators=4)
    try:
        live.start()
        yield live
    finally:
        live.close()


def test_a_node_that_reaches_no_quorum_is_not_ready_and_says_so(four: LiveCluster) -> None:
    url = four.api_url(0)

    def all_linked() -> dict[str, object] | None:
        response = httpx.get(f"{url}/v1/ready")
        body: dict[str, object] = response.json()
        return body if body.get("validators_reachable") == 4 else None

    assert wait_for(all_linked, 20.0, "node0 linked to every validator") == {
        "status": "ready",
        "validators_reachable": 4,
        "quorum": 3,
    }
    status = four.status(0)
    assert status["quorum_reachable"] is True and status["quorum"] == 3
    four.call(four.nodes[3].stop())
    # Three of four still make a quorum.
    wait_for(lambda: len(four.status(0)["validators_reachable"]) == 3 or None, 20.0, "3 links")
    assert httpx.get(f"{url}/v1/ready").status_code == 200
    four.call(four.nodes[2].stop())
    wait_for(lambda: four.status(0)["quorum_reachable"] is False or None, 20.0, "no quorum")
    status = four.status(0)
    assert sorted(status["validators_reachable"]) == sorted(status["validators"][:2])
    response = httpx.get(f"{url}/v1/ready")
    assert response.status_code == 503
    problem = response.json()
    assert problem["code"] == "no_quorum" and "reaches 2 of 4" in problem["detail"]
    # Liveness is another question: the node itself runs.
    assert httpx.get(f"{url}/v1/health").status_code == 200
