"""When a primary proposes: a block that is not full only while none of its blocks is in
flight, so that under load the next one fills while the last commits; a full one at once."""

from __future__ import annotations

from dataclasses import replace

from bftx.consensus import Replica, TimerKind
from bftx.consensus.messages import Commit, Prepare, PrePrepare
from bftx.consensus.outputs import Output
from bftx.sim.app import CounterApplication
from tests.consensus.support import broadcasts_of, make_chain, sign

CONFIG, KEYS = make_chain()
SMALL_BLOCKS = replace(CONFIG, txs_per_block_max=3)


def primary() -> Replica:
    replica = Replica(SMALL_BLOCKS, 0, KEYS[0], CounterApplication())
    replica.start(0)
    return replica


def proposals(outputs: list[Output]) -> list[PrePrepare]:
    return [message.body for message in broadcasts_of(outputs, PrePrepare)]


def propose_due(replica: Replica, now: int) -> list[PrePrepare]:
    return proposals(
        replica.on_timer(TimerKind.PROPOSE, max(now, replica.timers[TimerKind.PROPOSE]))
    )


def commit(replica: Replica, proposal: PrePrepare, now: int) -> None:
    digest = proposal.block.digest
    for signer in (1, 2):
        replica.on_message(sign(KEYS, signer, Prepare(0, proposal.seq, digest)), now)
    for signer in (1, 2):
        replica.on_message(sign(KEYS, signer, Commit(0, proposal.seq, digest)), now)
    assert replica.last_executed == proposal.seq


def test_a_block_that_is_not_full_waits_for_the_one_in_flight() -> None:
    replica = primary()
    replica.on_client_txs((b"tx:1",), 10)
    (first,) = propose_due(replica, 100)
    assert first.block.txs == (b"tx:1",)
    replica.on_client_txs((b"tx:2",), 150)
    assert propose_due(replica, 200) == []  # block 1 is in flight: tx:2 waits for company
    commit(replica, first, 250)
    (second,) = propose_due(replica, 300)
    assert second.seq == 2 and second.block.txs == (b"tx:2",)


def test_a_full_block_is_proposed_while_another_is_in_flight() -> None:
    replica = primary()
    replica.on_client_txs((b"tx:1",), 10)
    (first,) = propose_due(replica, 100)
    replica.on_client_txs((b"tx:2", b"tx:3", b"tx:4"), 150)
    (second,) = propose_due(replica, 200)
    assert second.seq == 2 and second.block.txs == (b"tx:2", b"tx:3", b"tx:4")
    assert replica.last_executed == 0 and first.seq == 1
