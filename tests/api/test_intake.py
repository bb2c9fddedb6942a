"""Admission control: client txs past the latency budget, or past the junk budget, get 429 unchecked."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import pytest

from bftx import codec
from bftx.api.intake import IntakeControl, intake_for
from bftx.errors import Code
from bftx.exchange import Side
from bftx.mempool import Admitted
from tests.api.support import LiveCluster


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def control(
    clock: Clock, submit: Callable[[bytes], Admitted], backlog: list[int], committed: list[int]
) -> IntakeControl:
    return IntakeControl(
        submit,
        lambda: backlog[0],
        lambda: committed[0],
        queue_budget_s=1.0,
        rate_window_s=2.0,
        rate_floor_tps=100,
        window_s=0.100,
        busy_s_max=0.050,
        clock=clock,
    )


def test_past_its_budget_for_junk_a_window_refuses_without_calling_the_node() -> None:
    clock = Clock()
    calls: list[bytes] = []

    def submit(data: bytes) -> Admitted:
        calls.append(data)
        clock.now += 0.010  # each check costs 10 ms (a signature check, say) and fails
        return Admitted(Code.BAD_SIGNATURE, b"h" * 32)

    intake = control(clock, submit, [0], [0])
    answers = [intake.admit(bytes([index])) for index in range(8)]
    assert [answer is not None for answer in answers] == [True] * 5 + [False] * 3
    assert len(calls) == 5, "a refused tx costs the node nothing"
    assert intake.refused == intake.refused_junk == 3
    clock.now += 0.100  # the next window
    assert intake.admit(b"x") is not None


def test_time_spent_on_accepted_txs_refuses_nothing() -> None:
    clock = Clock()
    backlog = [0]

    def submit(data: bytes) -> Admitted:
        clock.now += 0.010  # a slow, contended admission: the whole window and more
        backlog[0] += 1
        return Admitted(Code.OK, b"h" * 32)

    intake = control(clock, submit, backlog, [0])
    assert all(intake.admit(bytes([index])) is not None for index in range(30))
    assert intake.refused == 0


def test_a_queue_past_the_latency_budget_is_refused_unchecked() -> None:
    clock = Clock()
    calls: list[bytes] = []
    backlog, committed = [0], [0]

    def submit(data: bytes) -> Admitted:
        calls.append(data)
        backlog[0] += 1
        return Admitted(Code.OK, b"h" * 32)

    intake = control(clock, submit, backlog, committed)
    answers = [intake.admit(bytes([index % 256])) for index in range(150)]
    # No commit seen yet: the floor (100 tx/s) times the budget (1 s) is the bound.
    assert sum(answer is not None for answer in answers) == 100
    assert len(calls) == 100 and intake.refused_queue == 50
    assert intake.expected_wait_s() == 1.0


def test_a_batch_meeting_a_full_queue_is_refused_whole_with_one_check() -> None:
    clock = Clock()
    calls: list[bytes] = []
    backlog = [99]

    def submit(data: bytes) -> Admitted:
        calls.append(data)
        return Admitted(Code.OK, b"h" * 32)

    intake = IntakeControl(
        submit,
        lambda: backlog[0],
        lambda: 0,
        is_next_nonce=lambda data: False,  # every tx here is some account's later nonce
        queue_budget_s=1.0,
        rate_floor_tps=100,
        clock=clock,
    )
    batch = [bytes([index % 256]) for index in range(500)]
    assert not intake.refuse_batch(batch), "the queue has room: each tx is looked at"
    assert intake.refused == 0
    backlog[0] = 100  # the floor (100 tx/s) times the budget (1 s)
    assert intake.refuse_batch(batch)
    assert intake.refused_queue == 500 and calls == []
    backlog[0] = 0  # the queue drained, but the refusal holds back later nonces as `admit` would
    assert intake.admit(b"a later nonce") is None and calls == []


def test_the_bound_follows_the_committed_rate() -> None:
    clock = Clock()
    backlog, committed = [0], [0]
    intake = control(clock, lambda data: Admitted(Code.OK, b"h" * 32), backlog, committed)
    backlog[0] = 400
    assert intake.admit(b"x") is None, "400 txs at the floor rate wait 4 s"
    for _ in range(20):  # the chain commits 500 tx/s for 2 s
        clock.now += 0.1
        committed[0] += 50
        intake.admit(b"x")
    assert intake.drain_tps == pytest.approx(500)
    assert intake.backlog_max == 500
    assert intake.admit(b"x") is not None, "400 txs at 500 tx/s wait 0.8 s"
    backlog[0] = 500
    assert intake.admit(b"x") is None


def test_after_a_refusal_only_an_accounts_next_nonce_is_admitted() -> None:
    clock = Clock()
    backlog = [1_000]
    next_nonces = {b"next"}
    intake = IntakeControl(
        lambda data: Admitted(Code.OK, b"h" * 32),
        lambda: backlog[0],
        lambda: 0,
        is_next_nonce=lambda data: data in next_nonces,
        queue_budget_s=1.0,
        rate_floor_tps=100,
        clock=clock,
    )
    assert intake.admit(b"next") is None, "over the bound: refused whatever it is"
    backlog[0] = 0
    assert intake.admit(b"later") is None, "it would wait behind a refused tx"
    clock.now += 1.5
    assert intake.admit(b"later") is None, "a refusal by the rule renews it"
    assert intake.admit(b"next") is not None
    clock.now += 2.0  # two budgets without a refusal: the gap rule ends
    assert intake.admit(b"later") is not None


def test_a_tx_that_fills_the_gap_accepted_txs_wait_for_is_never_refused_for_the_queue() -> None:
    """A later nonce can reach the node first (from another request the client has in flight)
    and be accepted; refusing the nonce it waits for would strand it."""
    clock = Clock()
    admitted: list[bytes] = []

    def submit(data: bytes) -> Admitted:
        admitted.append(data)
        return Admitted(Code.OK, b"h" * 32)

    intake = IntakeControl(
        submit,
        lambda: 1_000,  # far past the bound
        lambda: 0,
        is_next_nonce=lambda data: data in (b"gap", b"next"),
        fills_gap=lambda data: data == b"gap",
        queue_budget_s=1.0,
        rate_floor_tps=100,
        clock=clock,
    )
    assert intake.admit(b"next") is None, "an account's next nonce with nothing waiting on it"
    assert intake.admit(b"later") is None
    answer = intake.admit(b"gap")
    assert answer is not None and answer.code is Code.OK and admitted == [b"gap"]
    assert not intake.refuse_batch([b"later", b"gap", b"next"]), "looked at one by one"
    assert intake.refuse_batch([b"later", b"next"])
    assert intake.refused_queue == 4


def test_a_full_mempool_also_holds_back_later_nonces() -> None:
    clock = Clock()
    answers = iter([Code.MEMPOOL_FULL, Code.OK])
    intake = IntakeControl(
        lambda data: Admitted(next(answers), b"h" * 32),
        lambda: 0,
        lambda: 0,
        is_next_nonce=lambda data: data == b"next",
        clock=clock,
    )
    refused = intake.admit(b"next")
    assert refused is not None and refused.code is Code.MEMPOOL_FULL
    assert intake.admit(b"later") is None
    assert intake.admit(b"next") is not None


@pytest.fixture
def exhausted(cluster: LiveCluster) -> Iterator[IntakeControl]:
    """The cluster's node with an intake budget of zero: every submission is refused."""
    budget = intake_for(cluster.nodes[0])
    saved = budget._busy_s_max
    budget._busy_s_max = 0.0
    try:
        yield budget
    finally:
        budget._busy_s_max = saved


def test_a_tx_refused_for_load_is_a_429_with_retry_after(
    cluster: LiveCluster, exhausted: IntakeControl
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


def test_the_nonce_an_accepted_tx_waits_for_gets_past_a_full_queue(cluster: LiveCluster) -> None:
    """Through the REST API: nonce n+1 arrives first and is accepted; with the queue past its
    bound, n is still admitted, in a batch whose other tx is refused, and both commit. Another
    account's tx alone is refused meanwhile."""
    waiting, other = cluster.fresh_traders(2)
    first = cluster.nonce(waiting)
    intake = intake_for(cluster.nodes[0])
    intake._last_queue_refusal = -1e9  # no refusal of an earlier test holds later nonces back
    later = cluster.submit(cluster.order_tx(waiting, first + 1, Side.BUY, 4_500_000, 1))
    gap_fillers = [cluster.order_tx(waiting, first, Side.BUY, 4_500_000, 1)]
    unrelated = cluster.order_tx(other, cluster.nonce(other), Side.BUY, 4_500_000, 1)
    saved = intake._backlog
    intake._backlog = lambda: 10**9  # the queue far past its bound from here on
    try:
        alone = cluster.http.post(
            f"{cluster.api_url()}/v1/txs", json={"tx": base64.b64encode(unrelated).decode()}
        )
        assert (alone.status_code, alone.json()["code"]) == (429, "overloaded")
        batch = cluster.http.post(
            f"{cluster.api_url()}/v1/txs/batch",
            content=codec.encode((unrelated, *gap_fillers)),
            headers={"content-type": "application/octet-stream"},
        )
        assert batch.status_code == 200, batch.text
        results = batch.json()["results"]
        assert [result["code"] for result in results] == ["overloaded", "ok"]
    finally:
        intake._backlog = saved
    assert (
        cluster.wait_committed(later)["height"]
        >= cluster.wait_committed(results[1]["tx_hash"])["height"]
    )
