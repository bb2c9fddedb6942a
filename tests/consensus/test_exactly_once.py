"""Exactly once: a committed tx is never proposed or accepted again, and txs that can never
commit leave the pending pool instead of accusing an honest primary."""

from __future__ import annotations

from dataclasses import replace

from bftx.consensus import Broadcast, Replica, TimerKind
from bftx.consensus.messages import (
    BlockHeader,
    Commit,
    Prepare,
    PrePrepare,
    ViewChange,
    compute_genesis_hash,
    create_block,
)
from bftx.consensus.outputs import Output
from bftx.crypto import merkle_root
from bftx.sim.app import CounterApplication
from tests.consensus.support import (
    CHAIN_ID,
    broadcasts_of,
    make_chain,
    make_first_block,
    make_replica,
    sign,
)

CONFIG, KEYS = make_chain()


def started(index: int = 1) -> Replica:
    replica = make_replica(CONFIG, KEYS, index)
    replica.start(0)
    return replica


def prepares(outputs: list[Output]) -> list[Prepare]:
    return [message.body for message in broadcasts_of(outputs, Prepare)]


def commit_first_block(replica: Replica, txs: tuple[bytes, ...]) -> None:
    block = make_first_block(txs=txs)
    replica.on_message(sign(KEYS, 0, PrePrepare(0, 1, block)), 20)
    for signer in (0, 2):
        replica.on_message(sign(KEYS, signer, Prepare(0, 1, block.digest)), 30)
    for signer in (0, 2):
        replica.on_message(sign(KEYS, signer, Commit(0, 1, block.digest)), 40)
    assert replica.last_executed == 1


def proposal_at_two(txs: tuple[bytes, ...]) -> PrePrepare:
    """Height 2 still anchors on the genesis (pipeline depth 4)."""
    header = BlockHeader(
        chain_id=CHAIN_ID,
        height=2,
        view=0,
        anchor_hash=compute_genesis_hash(CHAIN_ID),
        anchor_state_root=CounterApplication().state_root(),
        txs_root=merkle_root(txs),
        proposer=0,
        timestamp_ms=50,
        is_null=False,
    )
    return PrePrepare(0, 2, create_block(header, txs))


def test_proposal_carrying_an_already_committed_tx_is_not_prepared() -> None:
    replica = started()
    commit_first_block(replica, (b"tx:1",))
    outputs = replica.on_message(sign(KEYS, 0, proposal_at_two((b"tx:1", b"tx:2"))), 60)
    assert prepares(outputs) == []
    assert replica.dropped["duplicate_tx"] == 1


def test_proposal_with_only_new_txs_after_a_commit_is_prepared() -> None:
    replica = started()
    commit_first_block(replica, (b"tx:1",))
    outputs = replica.on_message(sign(KEYS, 0, proposal_at_two((b"tx:2",))), 60)
    assert len(prepares(outputs)) == 1


def test_proposal_carrying_one_tx_twice_is_not_prepared() -> None:
    replica = started()
    block = make_first_block(txs=(b"tx:1", b"tx:1"))
    outputs = replica.on_message(sign(KEYS, 0, PrePrepare(0, 1, block)), 20)
    assert prepares(outputs) == [] and replica.dropped["duplicate_tx"] == 1


def test_tx_executed_in_a_block_this_replica_skipped_is_not_admitted() -> None:
    replica = started()
    application = replica.application
    assert isinstance(application, CounterApplication)
    application.executed_txs.add(b"tx:old")  # as a state transfer past its block leaves it
    replica.on_client_tx(b"tx:old", 10)
    assert replica.pending_txs == {}


def started_with_long_view_timeout() -> Replica:
    """The censorship clock (tx_proposal_timeout_ms) fires before the stall timer."""
    config = replace(CONFIG, view_timeout_ms=4_000)
    replica = Replica(config, 1, KEYS[1], CounterApplication())
    replica.start(0)
    return replica


def fire_progress_deadline(replica: Replica) -> list[Output]:
    deadline = replica.timers[TimerKind.PROGRESS]
    return replica.on_timer(TimerKind.PROGRESS, deadline)


def asks_for_view_change(outputs: list[Output]) -> bool:
    return any(
        isinstance(output, Broadcast) and isinstance(output.message.body, ViewChange)
        for output in outputs
    )


def test_pending_tx_that_lost_a_nonce_race_does_not_accuse_the_primary() -> None:
    replica = started_with_long_view_timeout()
    replica.on_client_tx(b"tx:loser", 10)
    application = replica.application
    assert isinstance(application, CounterApplication)
    application.executed_txs.add(b"tx:loser")  # its nonce is taken: it can never commit
    outputs = fire_progress_deadline(replica)
    assert not asks_for_view_change(outputs)
    assert replica.pending_txs == {} and replica.stats["txs_purged"] == 1


def test_pending_tx_never_proposed_does_accuse_the_primary() -> None:
    """The control for the test above: the same deadline with a live tx starts a view change."""
    replica = started_with_long_view_timeout()
    replica.on_client_tx(b"tx:ignored", 10)
    outputs = fire_progress_deadline(replica)
    assert asks_for_view_change(outputs) or replica.stats["suspicions"] == 1
