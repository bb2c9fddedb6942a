"""The mempool: admission codes, nonce-ordered fair batches, bounds and eviction, cleanup after blocks."""

from __future__ import annotations

import pytest

from bftx.errors import Code
from bftx.exchange import CancelOrder, OrderType, PlaceOrder, Side, Transfer, sign_tx
from bftx.exchange import application as application_module
from bftx.exchange import machine as machine_module
from bftx.exchange.application import ExchangeApplication
from bftx.exchange.transactions import Tx, decode_tx
from bftx.mempool import Mempool
from tests.exchange.support import CHAIN_ID, key, make_genesis

ALICE, BOB, CAROL = key(10), key(11), key(12)


def order(nonce: int, signer=ALICE, lots: int = 1) -> bytes:  # type: ignore[no-untyped-def]
    return sign_tx(
        signer, CHAIN_ID, nonce, PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 100, lots, 0)
    )


def make_pool(**bounds: int) -> tuple[ExchangeApplication, Mempool]:
    application = ExchangeApplication(make_genesis([ALICE, BOB, CAROL]))
    return application, Mempool(application, **bounds)


def test_admission_reports_clear_codes() -> None:
    _app, pool = make_pool()
    assert pool.add(b"\x00garbage", 0).code is Code.MALFORMED
    tampered = bytearray(order(0))
    tampered[-1] ^= 1
    assert pool.add(bytes(tampered), 0).code is Code.BAD_SIGNATURE
    assert (
        pool.add(sign_tx(ALICE, "other-chain", 0, Transfer("BTC", BOB.address, 1)), 0).code
        is Code.WRONG_CHAIN
    )
    assert pool.add(order(0, key(99)), 0).code is Code.NOT_REGISTERED
    assert pool.add(order(0), 0).code is Code.OK
    again = pool.add(order(0), 0)
    assert again.code is Code.DUPLICATE_TX
    other_tx_same_nonce = pool.add(order(0, lots=2), 0)  # a nonce conflict, not this tx again
    assert other_tx_same_nonce.code is Code.NONCE_PENDING
    assert pool.add(order(1000), 0).code is Code.NONCE_GAP
    assert len(pool) == 1


def test_only_gap_free_nonce_runs_are_released_in_nonce_order() -> None:
    _app, pool = make_pool()
    for nonce in (2, 0, 3):  # nonce 1 missing: 2 and 3 must wait
        assert pool.add(order(nonce), 0).code is Code.OK
    assert [decode_tx(data).nonce for data in pool.release_ready()] == [0]
    assert pool.release_ready() == []  # released once only
    pool.add(order(1), 0)
    assert [decode_tx(data).nonce for data in pool.release_ready()] == [1, 2, 3]


def test_every_ready_account_is_released() -> None:
    _app, pool = make_pool()
    for nonce in range(3):
        pool.add(order(nonce, ALICE), 0)
    pool.add(order(0, BOB), 0)
    pool.add(order(1, CAROL), 0)  # carol's nonce 0 is missing
    senders = [decode_tx(data).sender for data in pool.release_ready()]
    assert sorted(set(senders)) == sorted([ALICE.address, BOB.address])
    assert senders.count(ALICE.address) == 3


def test_txs_become_ready_when_their_predecessor_commits_elsewhere() -> None:
    app, pool = make_pool()
    pool.add(order(1), 0)
    assert pool.release_ready() == []
    first = order(0)
    assert app.validate_block((first,))
    app.execute_block(1, 1_000, (first,))
    pool.remove_committed([decode_tx(first).hash], [ALICE.address])
    assert [decode_tx(data).nonce for data in pool.release_ready()] == [1]


def test_a_full_pool_evicts_the_farthest_nonce_of_the_busiest_account_for_a_ready_tx() -> None:
    _app, pool = make_pool(txs_max=4)
    for nonce in range(4):
        assert pool.add(order(nonce, ALICE), 0).code is Code.OK
    assert pool.add(order(1, BOB), 0).code is Code.MEMPOOL_FULL  # not ready: bob's next nonce is 0
    assert pool.add(order(0, BOB), 0).code is Code.OK  # ready: evicts alice's nonce 3
    assert pool.evicted == 1
    released = [decode_tx(data) for data in pool.release_ready()]
    assert sorted(tx.nonce for tx in released if tx.sender == ALICE.address) == [0, 1, 2]


def test_released_txs_are_never_evicted() -> None:
    _app, pool = make_pool(txs_max=2)
    pool.add(order(0, ALICE), 0)
    pool.add(order(1, ALICE), 0)
    pool.release_ready()
    assert pool.add(order(0, BOB), 0).code is Code.MEMPOOL_FULL


def test_committed_txs_leave_and_stale_ones_are_dropped() -> None:
    app, pool = make_pool()
    first, second = order(0), order(1)
    pool.add(first, 0)
    pool.add(second, 0)
    # the block commits nonce 0 and, from elsewhere, a conflicting nonce 1 (another tx of alice)
    conflicting = sign_tx(ALICE, CHAIN_ID, 1, Transfer("BTC", BOB.address, 5))
    assert app.validate_block((first, conflicting))
    app.execute_block(1, 1_000, (first, conflicting))
    pool.remove_committed(
        [decode_tx(first).hash, decode_tx(conflicting).hash], [ALICE.address, BOB.address]
    )
    assert len(pool) == 0
    assert pool.dropped_after_block == 1


def test_after_a_state_transfer_every_tx_whose_nonce_was_used_leaves() -> None:
    """Blocks the node never saw (skipped by state transfer) used alice's and bob's nonces."""
    app, pool = make_pool()
    for signer in (ALICE, BOB, CAROL):
        pool.add(order(0, signer), 0)
    pool.release_ready()
    skipped = (order(0, ALICE), sign_tx(BOB, CHAIN_ID, 0, Transfer("BTC", CAROL.address, 5)))
    assert app.validate_block(skipped)
    app.execute_block(1, 1_000, skipped)  # as if restored from a snapshot: no block seen here
    assert len(pool) == 3
    pool.recheck_all()
    assert [decode_tx(data).sender for data in [pool.get(h) or b"" for h in pool._by_hash]] == [
        CAROL.address
    ]


def test_released_counts_txs_handed_to_consensus_until_they_commit() -> None:
    app, pool = make_pool()
    for nonce in (0, 1, 3):  # 3 waits for 2: not released, not counted
        pool.add(order(nonce), 0)
    pool.release_ready()
    assert pool.released == 2
    first = order(0)
    assert app.validate_block((first,))
    app.execute_block(1, 1_000, (first,))
    pool.remove_committed([decode_tx(first).hash], [ALICE.address])
    assert (pool.released, len(pool)) == (1, 2)


def test_the_next_nonce_counts_the_txs_the_pool_holds() -> None:
    _app, pool = make_pool()
    assert pool.is_next_nonce(decode_tx(order(0)))
    assert not pool.is_next_nonce(decode_tx(order(1)))
    pool.add(order(0), 0)
    pool.add(order(1), 0)
    pool.add(order(3), 0)
    assert pool.is_next_nonce(decode_tx(order(2)))  # the gap before 3
    assert not pool.is_next_nonce(decode_tx(order(4)))
    assert pool.is_next_nonce(decode_tx(order(0, BOB)))


def test_a_gap_is_the_first_missing_nonce_before_txs_the_pool_holds() -> None:
    app, pool = make_pool()
    assert pool.waiting == 0 and not pool.fills_gap(ALICE.address, 0), "nothing waits"
    pool.add(order(0), 0)
    pool.add(order(2), 0)
    pool.add(order(3), 0)
    pool.release_ready()  # nonce 0 goes to consensus; 2 and 3 wait for 1
    assert pool.waiting == 2
    assert pool.fills_gap(ALICE.address, 1)
    assert not pool.fills_gap(ALICE.address, 4), "past the txs held: no one waits for it"
    assert not pool.fills_gap(ALICE.address, 0) and not pool.fills_gap(BOB.address, 1)
    app.execute_block(1, 1_000, (order(0),))  # nonce 0 commits: still 1 is missing
    pool.remove_committed([decode_tx(order(0)).hash], [ALICE.address])
    assert pool.fills_gap(ALICE.address, 1)
    pool.add(order(1), 0)
    assert not pool.fills_gap(ALICE.address, 1) and not pool.fills_gap(ALICE.address, 4)
    pool.release_ready()
    assert pool.waiting == 0


def test_an_admitted_cancel_whose_order_filled_stays_and_settles_with_its_failure_code() -> None:
    """Dropping it would leave the client acknowledged and never answered, and alice's later
    nonces waiting on a hole; in a block it uses its nonce and says why it failed."""
    app, pool = make_pool()
    sell = sign_tx(ALICE, CHAIN_ID, 0, PlaceOrder("BTC/USD", Side.SELL, OrderType.LIMIT, 100, 1, 0))
    app.execute_block(1, 1_000, (sell,))
    cancel = sign_tx(ALICE, CHAIN_ID, 1, CancelOrder(0))
    assert pool.add(cancel, 0).code is Code.OK
    assert pool.add(order(2), 0).code is Code.OK
    fill = order(0, BOB)  # bob buys at alice's price: her order fills before the cancel
    app.execute_block(2, 2_000, (fill,))
    pool.remove_committed([decode_tx(fill).hash], [BOB.address, ALICE.address])
    assert decode_tx(cancel).hash in pool and len(pool) == 2
    assert pool.release_ready() == [cancel, order(2)]
    app.execute_block(3, 3_000, (cancel, order(2)))
    assert app.last_result is not None
    assert [r.code for r in app.last_result.receipts] == [Code.UNKNOWN_ORDER, Code.OK]


def test_a_peers_tx_is_admitted_when_it_can_execute_even_if_its_body_fails_here() -> None:
    """The peer checked the body against its own state; this node may be blocks apart."""
    _app, pool = make_pool()
    cancel = sign_tx(ALICE, CHAIN_ID, 0, CancelOrder(7))
    assert pool.add(cancel, 0).code is Code.UNKNOWN_ORDER  # from a client: told at once
    assert pool.add(cancel, 0, check_body=False).code is Code.OK
    tampered = bytearray(order(1))
    tampered[-1] ^= 1
    assert pool.add(bytes(tampered), 0, check_body=False).code is Code.BAD_SIGNATURE
    assert pool.add(order(1000), 0, check_body=False).code is Code.NONCE_GAP


def test_a_committed_blocks_txs_leave_the_caches_and_decode_again_alike() -> None:
    """The caches hold what is pending, not the chain's history: a node that kept every
    decoded tx gave the garbage collector hundreds of thousands of objects to walk, and the
    verified hashes grew its memory by tens of megabytes."""
    application, pool = make_pool()
    committed, pending = order(0), order(1)
    assert pool.add(committed, 0).code is Code.OK
    assert pool.add(pending, 0).code is Code.OK
    assert len(application.decoded) == 2
    assert decode_tx(committed).hash in application.verified
    application.execute_block(1, 1_000, (committed,))
    assert application.decoded.get(committed) is None
    assert decode_tx(committed).hash not in application.verified
    assert decode_tx(pending).hash in application.verified
    assert application.decoded.get(pending) == decode_tx(pending)
    assert application.decoded.decode(committed) == decode_tx(committed)  # a duplicate, afresh
    assert application.is_tx_used(committed)


def test_a_stale_copy_from_a_peer_costs_no_signature_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A node that lags admits gossip after its txs committed in blocks it validated (and then
    forgot them). Verifying each again cost it a second signature check per tx, which kept
    it lagging; its nonce is checked first now. A client still hears of its bad signature."""
    application, pool = make_pool()
    committed = order(0)
    application.execute_block(1, 1_000, (committed,))
    verified: list[bytes] = []
    real = Tx.has_valid_signature

    def counting(tx: Tx) -> bool:
        verified.append(tx.hash)
        return real(tx)

    monkeypatch.setattr(Tx, "has_valid_signature", counting)
    assert pool.add(committed, 0, check_body=False).code is Code.NONCE_USED
    assert verified == []
    tampered = bytearray(committed)
    tampered[-1] ^= 1
    assert pool.add(bytes(tampered), 0).code is Code.BAD_SIGNATURE  # a client: told first
    assert pool.add(bytes(tampered), 0, check_body=False).code is Code.NONCE_USED
    assert pool.add(order(1), 0, check_body=False).code is Code.OK
    assert len(verified) == 2  # the client's tampered copy, and the fresh tx


def test_a_block_decodes_only_the_txs_this_node_has_not_seen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A block that holds one tx not seen here is validated by decoding that tx alone: the
    others come from the cache of admitted txs (they were decoded twice per block before)."""
    application, pool = make_pool()
    seen, unseen = order(0), order(1)
    assert pool.add(seen, 0).code is Code.OK
    decoded: list[bytes] = []

    def counting_decode(data: bytes) -> Tx:
        decoded.append(data)
        return decode_tx(data)

    monkeypatch.setattr(application_module, "decode_tx", counting_decode)
    monkeypatch.setattr(machine_module, "decode_tx", counting_decode)
    assert application.validate_block((seen, unseen))
    assert decoded == [unseen]
    assert decode_tx(unseen).hash in application.verified
    assert application.validate_block((seen, unseen))  # both known now: nothing decoded again
    assert decoded == [unseen]
