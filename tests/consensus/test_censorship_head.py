"""The censorship clock runs on the oldest pending tx that no accepted proposal carries, from
when it became the oldest: a queue served in arrival order, or a proposed tx slow to commit,
accuses nobody; a tx passed over while later ones are proposed does."""

from __future__ import annotations

from dataclasses import replace

from bftx.consensus import Broadcast, Replica, TimerKind
from bftx.consensus.messages import Prepare, PrePrepare, Suspect
from bftx.consensus.outputs import Output
from bftx.sim.app import CounterApplication
from tests.consensus.support import make_chain, make_first_block, sign
from tests.consensus.test_exactly_once import proposal_at_two

CONFIG, KEYS = make_chain()
LONG_VIEW_TIMEOUT = replace(CONFIG, view_timeout_ms=4_000)  # the stall timer fires later
PROPOSAL_TIMEOUT = LONG_VIEW_TIMEOUT.tx_proposal_timeout_ms


def backup_with(txs: tuple[bytes, ...], at: int) -> Replica:
    replica = Replica(LONG_VIEW_TIMEOUT, 1, KEYS[1], CounterApplication())
    replica.start(0)
    replica.on_client_txs(txs, at)
    return replica


def accept(replica: Replica, proposal: PrePrepare, now: int) -> None:
    outputs = replica.on_message(sign(KEYS, 0, proposal), now)
    assert any(isinstance(o, Broadcast) and isinstance(o.message.body, Prepare) for o in outputs)


def suspects(outputs: list[Output]) -> bool:
    return any(isinstance(o, Broadcast) and isinstance(o.message.body, Suspect) for o in outputs)


def progress_deadline(replica: Replica) -> int:
    return replica.timers[TimerKind.PROGRESS]


def test_a_tx_never_proposed_is_censored_after_the_proposal_timeout() -> None:
    """The control for the tests below."""
    replica = backup_with((b"tx:a",), 10)
    assert progress_deadline(replica) == 10 + PROPOSAL_TIMEOUT
    assert suspects(replica.on_timer(TimerKind.PROGRESS, 10 + PROPOSAL_TIMEOUT))


def test_a_proposed_tx_slow_to_commit_is_left_to_the_stall_timer() -> None:
    replica = backup_with((b"tx:a", b"tx:b"), 10)
    accept(replica, PrePrepare(0, 1, make_first_block(txs=(b"tx:a", b"tx:b"))), 20)
    assert replica.unproposed_txs == {} and len(replica.pending_txs) == 2
    assert progress_deadline(replica) == LONG_VIEW_TIMEOUT.view_timeout_ms  # from the start at 0
    assert not suspects(replica.on_timer(TimerKind.PROGRESS, 10 + PROPOSAL_TIMEOUT))


def test_a_queue_served_in_arrival_order_accuses_nobody() -> None:
    replica = backup_with((b"tx:a", b"tx:b", b"tx:c"), 10)
    accept(replica, PrePrepare(0, 1, make_first_block(txs=(b"tx:a",))), 1_000)
    # tx:b has waited 990 ms, but it has been the oldest unproposed tx only since 1,000
    assert progress_deadline(replica) == 1_000 + PROPOSAL_TIMEOUT
    assert not suspects(replica.on_timer(TimerKind.PROGRESS, 10 + PROPOSAL_TIMEOUT))
    accept(replica, proposal_at_two((b"tx:b", b"tx:c")), 2_000)
    assert replica.unproposed_txs == {}
    assert not suspects(replica.on_timer(TimerKind.PROGRESS, 1_000 + PROPOSAL_TIMEOUT))


def test_a_tx_passed_over_while_later_ones_are_proposed_is_censored() -> None:
    replica = backup_with((b"tx:a", b"tx:b", b"tx:c"), 10)
    accept(replica, PrePrepare(0, 1, make_first_block(txs=(b"tx:a",))), 1_000)
    accept(replica, proposal_at_two((b"tx:c",)), 2_000)  # tx:b is still the oldest, since 1,000
    assert len(replica.unproposed_txs) == 1  # tx:b
    assert progress_deadline(replica) == 1_000 + PROPOSAL_TIMEOUT
    assert suspects(replica.on_timer(TimerKind.PROGRESS, 1_000 + PROPOSAL_TIMEOUT))
