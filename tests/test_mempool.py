"""The mempool: admission codes, nonce-ordered fair batches, bounds and eviction, cleanup after blocks."""

from __future__ import annotations

from bftx.errors import Code
from bftx.exchange import OrderType, PlaceOrder, Side, Transfer, sign_tx
from bftx.exchange.application import ExchangeApplication
from bftx.exchange.transactions import decode_tx
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
    assert pool.add(order(0), 0).code is Code.DUPLICATE_TX
    other_tx_same_nonce = order(0, lots=2)
    assert pool.add(other_tx_same_nonce, 0).code is Code.DUPLICATE_TX
    assert pool.add(order(1000), 0).code is Code.NONCE_GAP
    assert len(pool) == 1


def test_batches_keep_each_accounts_nonce_order_without_gaps() -> None:
    _app, pool = make_pool()
    for nonce in (2, 0, 3):  # nonce 1 missing: 2 and 3 must wait
        assert pool.add(order(nonce), 0).code is Code.OK
    batch = [decode_tx(data).nonce for data in pool.select(100, 10**6, set())]
    assert batch == [0]
    pool.add(order(1), 0)
    batch = [decode_tx(data).nonce for data in pool.select(100, 10**6, set())]
    assert batch == [0, 1, 2, 3]


def test_in_flight_txs_are_not_proposed_again_but_continue_the_run() -> None:
    _app, pool = make_pool()
    txs = [order(nonce) for nonce in range(3)]
    for data in txs:
        pool.add(data, 0)
    in_flight = {decode_tx(txs[0]).hash}
    assert [decode_tx(d).nonce for d in pool.select(100, 10**6, in_flight)] == [1, 2]


def test_accounts_are_served_round_robin() -> None:
    _app, pool = make_pool()
    for nonce in range(5):
        pool.add(order(nonce, ALICE), 0)
    pool.add(order(0, BOB), 0)
    pool.add(order(0, CAROL), 0)
    senders = [decode_tx(data).sender for data in pool.select(3, 10**6, set())]
    assert sorted(senders) == sorted([ALICE.address, BOB.address, CAROL.address])


def test_batches_respect_the_byte_bound() -> None:
    _app, pool = make_pool()
    for nonce in range(10):
        pool.add(order(nonce), 0)
    size = len(order(0))
    assert len(pool.select(100, 3 * size, set())) == 3


def test_a_full_pool_evicts_the_farthest_nonce_of_the_busiest_account_for_a_ready_tx() -> None:
    _app, pool = make_pool(txs_max=4)
    for nonce in range(4):
        assert pool.add(order(nonce, ALICE), 0).code is Code.OK
    assert pool.add(order(1, BOB), 0).code is Code.MEMPOOL_FULL  # not ready: bob's next nonce is 0
    assert pool.add(order(0, BOB), 0).code is Code.OK  # ready: evicts alice's nonce 3
    assert pool.evicted == 1
    assert sorted(
        decode_tx(d).nonce
        for d in pool.select(100, 10**6, set())
        if decode_tx(d).sender == ALICE.address
    ) == [
        0,
        1,
        2,
    ]


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


def test_oldest_waiting_tx_ignores_what_is_in_flight() -> None:
    _app, pool = make_pool()
    pool.add(order(0), 100)
    pool.add(order(1), 250)
    assert pool.oldest_admitted_ms(set()) == 100
    assert pool.oldest_admitted_ms({decode_tx(order(0)).hash}) == 250
