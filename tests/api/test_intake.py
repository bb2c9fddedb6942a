"""The intake budget: client submissions get a bounded share of the loop, then 429 unchecked."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from bftx import codec
from bftx.api.intake import IntakeBudget, intake_for
from bftx.errors import Code
from bftx.exchange import Side
from bftx.mempool import Admitted
from tests.api.support import LiveCluster


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_past_its_budget_a_window_refuses_without_calling_the_node() -> None:
    clock = Clock()
    calls: list[bytes] = []

    def submit(data: bytes) -> Admitted:
        calls.append(data)
        clock.now += 0.010  # each admission costs 10 ms (a signature check, say)
        return Admitted(Code.OK, b"h" * 32)

    budget = IntakeBudget(submit, window_s=0.100, busy_s_max=0.050, clock=clock)
    answers = [budget.admit(bytes([index])) for index in range(8)]
    assert [answer is not None for answer in answers] == [True] * 5 + [False] * 3
    assert len(calls) == 5, "a refused tx costs the node nothing"
    assert budget.refused == 3
    clock.now += 0.100  # the next window
    assert budget.admit(b"x") is not None


@pytest.fixture
def exhausted(cluster: LiveCluster) -> Iterator[IntakeBudget]:
    """The cluster's node with an intake budget of zero: every submission is refused."""
    budget = intake_for(cluster.nodes[0])
    saved = budget._busy_s_max
    budget._busy_s_max = 0.0
    try:
        yield budget
    finally:
        budget._busy_s_max = saved


def test_a_tx_refused_for_load_is_a_429_with_retry_after(
    cluster: LiveCluster, exhausted: IntakeBudget
) -> None:
    (key,) = cluster.fresh_traders(1)
    tx = cluster.order_tx(key, 0, Side.BUY, 4_500_000, 1)
    single = cluster.http.post(
        f"{cluster.api_url()}/v1/txs", json={"tx": base64.b64encode(tx).decode()}
    )
    assert single.status_code == 429
    assert single.headers["retry-after"] == "1"
    assert single.json()["code"] == "overloaded"
    batch = cluster.http.post(
        f"{cluster.api_url()}/v1/txs/batch",
        content=codec.encode((tx,)),
        headers={"content-type": "application/octet-stream"},
    )
    assert (batch.status_code, batch.json()["code"]) == (429, "overloaded")
    assert exhausted.refused >= 2
