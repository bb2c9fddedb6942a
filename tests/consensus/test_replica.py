"""Replica transitions driven directly, one input at a time (no simulator)."""

from __future__ import annotations

from dataclasses import replace

from bftx.consensus import Broadcast, Persist, Replica, SignedMessage
from bftx.consensus.messages import (
    BlockHeader,
    Checkpoint,
    Commit,
    HistoryEntry,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    SignatureShare,
    ViewChange,
    create_block,
)
from bftx.consensus.outputs import (
    PreparedRecord,
    PruneRecord,
    SignedRecord,
    ViewRecord,
    prune_journal,
)
from bftx.consensus.pool import PendingTx
from bftx.consensus.replica import compute_reproposals
from bftx.crypto import merkle_root
from tests.consensus.support import (
    CHAIN_ID,
    broadcasts_of,
    make_chain,
    make_first_block,
    make_replica,
    sign,
)

CONFIG, KEYS = make_chain()


def started(index: int) -> Replica:
    replica = make_replica(CONFIG, KEYS, index)
    replica.start(0)
    return replica


def test_backup_prepares_a_valid_proposal_and_commits_with_a_quorum() -> None:
    replica = started(1)
    block = make_first_block()
    outputs = replica.on_message(sign(KEYS, 0, PrePrepare(0, 1, block)), 20)
    assert [m.body for m in broadcasts_of(outputs, Prepare)] == [Prepare(0, 1, block.digest)]
    outputs = []
    for signer in (0, 2):
        outputs += replica.on_message(sign(KEYS, signer, Prepare(0, 1, block.digest)), 30)
    assert [m.body for m in broadcasts_of(outputs, Commit)] == [Commit(0, 1, block.digest)]
    for signer in (0, 2):
        outputs = replica.on_message(sign(KEYS, signer, Commit(0, 1, block.digest)), 40)
    assert replica.last_executed == 1
    assert replica.committed[1].certificate.digest == block.digest


def test_every_vote_is_persisted_before_it_is_sent() -> None:
    replica = started(1)
    block = make_first_block()
    outputs = replica.on_message(sign(KEYS, 0, PrePrepare(0, 1, block)), 20)
    for signer in (0, 2):
        outputs += replica.on_message(sign(KEYS, signer, Prepare(0, 1, block.digest)), 30)
    persisted: set[SignedMessage] = set()
    saw_prepared_record = False
    for output in outputs:
        if isinstance(output, Persist) and isinstance(output.record, SignedRecord):
            persisted.add(output.record.message)
        if isinstance(output, Persist) and isinstance(output.record, PreparedRecord):
            saw_prepared_record = True
        if isinstance(output, Broadcast) and isinstance(output.message.body, Prepare | Commit):
            assert output.message in persisted, "a vote went out before its journal record"
            if isinstance(output.message.body, Commit):
                assert saw_prepared_record, "COMMIT sent before its prepared certificate was saved"


def test_restarted_replica_never_prepares_a_second_block_for_one_slot() -> None:
    replica = started(1)
    first = make_first_block(txs=(b"tx:first",))
    outputs = replica.on_message(sign(KEYS, 0, PrePrepare(0, 1, first)), 20)
    journal = [output.record for output in outputs if isinstance(output, Persist)]

    restarted = make_replica(CONFIG, KEYS, 1)
    restarted.start(100, journal)
    second = make_first_block(txs=(b"tx:second",))
    outputs = restarted.on_message(sign(KEYS, 0, PrePrepare(0, 1, second)), 120)
    assert broadcasts_of(outputs, Prepare) == []
    assert restarted.dropped["conflicts_with_own_vote"] == 1
    # The proposal it did vote for still gets the very same vote again.
    outputs = restarted.on_message(sign(KEYS, 0, PrePrepare(0, 1, first)), 130)
    again = broadcasts_of(outputs, Prepare)
    assert len(again) == 1 and again[0].body == Prepare(0, 1, first.digest)


def test_invalid_messages_are_dropped_and_counted_by_reason() -> None:
    replica = started(1)
    block = make_first_block()
    good = sign(KEYS, 2, Prepare(0, 1, block.digest))
    bad_signature = SignedMessage(good.body, 2, bytes([good.signature[0] ^ 1]) + good.signature[1:])
    unknown_signer = SignedMessage(good.body, 9, good.signature)
    far_view = sign(KEYS, 2, Prepare(10**6, 1, block.digest))
    far_seq = sign(KEYS, 2, Commit(0, 10**6, block.digest))
    not_primary = sign(KEYS, 3, PrePrepare(0, 1, make_first_block(proposer=3)))
    other_chain = sign(KEYS, 3, Prepare(0, 1, block.digest), chain_id="other-chain")
    for message in (bad_signature, unknown_signer, far_view, far_seq, not_primary, other_chain):
        replica.on_message(message, 10)
    replica.on_bytes(b"\x93junk", 10)
    replica.on_message(good, 10)
    replica.on_message(sign(KEYS, 2, Prepare(0, 1, b"\x07" * 32)), 10)
    assert replica.dropped == {
        "bad_signature": 2,  # the flipped signature and the other chain's
        "unknown_signer": 1,
        "view_too_far": 1,
        "outside_window": 1,
        "not_primary": 1,
        "malformed": 1,
        "double_vote": 1,
    }
    assert replica.slots[1].prepares[(0, block.digest)].keys() == {2}


def test_proposal_with_a_wrong_anchor_is_not_prepared() -> None:
    replica = started(1)
    block = make_first_block()
    bad = create_block(replace(block.header, anchor_state_root=b"\x09" * 32), block.txs)
    outputs = replica.on_message(sign(KEYS, 0, PrePrepare(0, 1, bad)), 20)
    assert broadcasts_of(outputs, Prepare) == []
    assert replica.dropped["bad_anchor"] == 1


def test_proposal_from_the_far_future_clock_is_not_prepared() -> None:
    replica = started(1)
    block = make_first_block()
    outputs = replica.on_message(sign(KEYS, 0, PrePrepare(0, 1, block)), 10 - 10_000)
    assert broadcasts_of(outputs, Prepare) == []
    assert replica.dropped["timestamp_in_future"] == 1


def test_new_view_reproposes_prepared_blocks_and_fills_gaps_with_null_blocks() -> None:
    block_one = make_first_block(seq=1)
    block_three = make_first_block(seq=3, txs=(b"tx:3",))
    shares = tuple(SignatureShare(index, bytes(64)) for index in range(3))
    changes = [
        ViewChange(1, None, (PreparedCertificate(0, 1, block_one, shares),), ()),
        ViewChange(1, None, (PreparedCertificate(0, 3, block_three, shares),), ()),
        ViewChange(1, None, (), ()),
    ]
    base, blocks = compute_reproposals(changes, CHAIN_ID, view=1, primary=1)
    assert base == 0
    assert [block.height for block in blocks] == [1, 2, 3]
    assert blocks[0] == block_one and blocks[2] == block_three
    assert blocks[1].header.is_null and blocks[1].txs == ()


def test_new_view_prefers_the_block_prepared_in_the_highest_view() -> None:
    older = make_first_block(view=0, txs=(b"tx:old",))
    newer = make_first_block(view=2, txs=(b"tx:new",), proposer=2)
    shares = tuple(SignatureShare(index, bytes(64)) for index in range(3))
    changes = [
        ViewChange(3, None, (PreparedCertificate(0, 1, older, shares),), ()),
        ViewChange(3, None, (PreparedCertificate(2, 1, newer, shares),), ()),
    ]
    _base, blocks = compute_reproposals(changes, CHAIN_ID, view=3, primary=3)
    assert blocks == (newer,)


def test_prune_journal_keeps_only_what_a_restart_needs() -> None:
    block = make_first_block(seq=9)
    shares = tuple(SignatureShare(index, bytes(64)) for index in range(3))
    old_vote = SignedRecord(sign(KEYS, 1, Prepare(0, 3, block.digest)))
    old_view_vote = SignedRecord(sign(KEYS, 1, Prepare(0, 9, block.digest)))
    current_vote = SignedRecord(sign(KEYS, 1, Prepare(2, 9, block.digest)))
    older_prepared = PreparedRecord(PreparedCertificate(0, 9, block, shares))
    newer_prepared = PreparedRecord(PreparedCertificate(1, 9, block, shares))
    old_view_change = SignedRecord(sign(KEYS, 1, ViewChange(1, None, (), ())))
    records = [old_vote, old_view_vote, current_vote, older_prepared, newer_prepared]
    records += [old_view_change, ViewRecord(1), ViewRecord(2)]
    prune = PruneRecord(8, 2, None)
    assert prune_journal(records, prune) == [current_vote, newer_prepared, ViewRecord(2), prune]


def test_checkpoint_becomes_stable_and_the_log_is_collected() -> None:
    replica = started(1)
    interval = CONFIG.checkpoint_interval_blocks
    for height in range(1, interval + 1):
        anchor_height = max(height - CONFIG.pipeline_depth_blocks, 0)
        anchor: HistoryEntry = replica.history[anchor_height]
        txs = (b"tx:%d" % height,)
        header = BlockHeader(
            CHAIN_ID, height, 0, anchor.digest, anchor.state_root, merkle_root(txs), 0, 10, False
        )
        block = create_block(header, txs)
        replica.on_message(sign(KEYS, 0, PrePrepare(0, height, block)), 20)
        for signer in (0, 2):
            replica.on_message(sign(KEYS, signer, Prepare(0, height, block.digest)), 20)
        for signer in (0, 2):
            replica.on_message(sign(KEYS, signer, Commit(0, height, block.digest)), 20)
    assert replica.last_executed == interval
    own = replica.own_checkpoint
    assert own is not None and isinstance(own.body, Checkpoint)
    assert replica.stable_seq == 0
    for signer in (0, 2):
        replica.on_message(sign(KEYS, signer, own.body), 30)
    assert replica.stable_seq == interval
    assert all(seq > interval for seq in replica.slots)
    # Certified blocks of one more interval stay, so a peer a little behind fetches blocks
    # rather than a state transfer; the next stable checkpoint collects them.
    assert sorted(replica.committed) == list(range(1, interval + 1))


def test_a_proposal_over_the_block_byte_budget_is_not_prepared() -> None:
    from bftx import limits

    config = replace(CONFIG, txs_per_block_max=limits.txs_per_block_max)
    replica = make_replica(config, KEYS, 1)
    replica.start(0)
    size = limits.tx_bytes_max
    count = limits.block_txs_bytes_max // size + 1  # each tx within bounds, together too many
    txs = tuple(b"tx:" + index.to_bytes(4, "big") + bytes(size - 7) for index in range(count))
    block = make_first_block(txs=txs)
    outputs = replica.on_message(sign(KEYS, 0, PrePrepare(0, 1, block)), 20)
    assert broadcasts_of(outputs, Prepare) == []
    assert replica.dropped["too_many_tx_bytes"] == 1


def test_a_primary_fills_a_block_up_to_the_byte_budget_only() -> None:
    from bftx import limits

    config = replace(CONFIG, txs_per_block_max=limits.txs_per_block_max)
    primary = make_replica(config, KEYS, 0)
    primary.start(0)
    size = limits.tx_bytes_max
    for index in range(limits.block_txs_bytes_max // size + 3):
        primary.pending_txs[index.to_bytes(32, "big")] = PendingTx(
            b"tx:" + index.to_bytes(4, "big") + bytes(size - 7), 0
        )
    block = primary._build_block(1, 20)
    assert sum(len(tx) for tx in block.txs) <= limits.block_txs_bytes_max
    assert len(block.txs) == limits.block_txs_bytes_max // size
