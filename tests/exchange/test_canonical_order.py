"""The in-block canonical order (DESIGN.md section 3): the proposer picks which txs, not their order.

Executing a block's txs in any permutation gives identical receipts, events
and state root, and each account's txs execute in nonce order.
"""

from __future__ import annotations

import random

from bftx.errors import Code
from bftx.exchange import (
    BlockResult,
    Burn,
    CancelOrder,
    Exchange,
    Mint,
    OrderType,
    PlaceOrder,
    Side,
    Transfer,
    Tx,
)
from bftx.exchange.execution import canonical_order, compute_order_seed

from .support import ALICE, BOB, BTC_ISSUER, CAROL, DAVE, USD_ISSUER, World, events_of

SEED = compute_order_seed(1, b"\x00" * 32)

TRADERS = [ALICE, BOB, CAROL, DAVE]


def limit(side: Side, price: int, lots: int, order_type: OrderType = OrderType.LIMIT) -> PlaceOrder:
    return PlaceOrder("BTC/USD", side, order_type, price, lots, 0)


def setup_world() -> World:
    """A book with resting orders from every trader, one of them expiring in the big block."""
    w = World.create(TRADERS, maker_fee_bps=5, taker_fee_bps=17)
    w.block(
        [
            w.tx(ALICE, limit(Side.SELL, 101, 3)),
            w.tx(BOB, limit(Side.SELL, 102, 4)),
            w.tx(CAROL, limit(Side.BUY, 99, 5)),
            w.tx(DAVE, limit(Side.BUY, 98, 6)),
            w.tx(DAVE, PlaceOrder("BTC/USD", Side.SELL, OrderType.LIMIT, 103, 2, 5_500)),
            w.tx(ALICE, PlaceOrder("ETH/BTC", Side.BUY, OrderType.LIMIT, 40, 3, 0)),
        ],
        timestamp_ms=5_000,
    )
    return w


def busy_block(w: World) -> list[Tx]:
    """Several nonces per sender, crossing orders, cancels, transfers, mints, conflicts."""
    txs = [
        w.tx(ALICE, limit(Side.BUY, 102, 5)),  # crosses Bob, self-trades her own ask
        w.tx(ALICE, CancelOrder(1)),  # her ETH/BTC bid from the setup block
        w.tx(ALICE, limit(Side.SELL, 99, 2, OrderType.IOC)),
        w.tx(ALICE, Transfer("USD", BOB.address, 1_000)),
        w.tx(BOB, limit(Side.SELL, 100, 6)),
        w.tx(BOB, limit(Side.BUY, 103, 2, OrderType.FOK)),
        w.tx(BOB, CancelOrder(0)),
        w.tx(BOB, limit(Side.SELL, 97, 1, OrderType.MARKET)),
        w.tx(CAROL, limit(Side.BUY, 101, 4, OrderType.POST_ONLY)),
        w.tx(CAROL, limit(Side.BUY, 100, 3)),
        w.tx(CAROL, Burn("BTC", 12_345, "somewhere")),
        w.tx(DAVE, limit(Side.SELL, 99, 8)),
        w.tx(DAVE, CancelOrder(1)),
        w.tx(DAVE, limit(Side.BUY, 100, 2, OrderType.IOC)),
        w.tx(BTC_ISSUER, Mint("BTC", CAROL.address, 77)),
        w.tx(USD_ISSUER, Mint("USD", DAVE.address, 88)),
    ]
    # conflicts whose outcome must not depend on the listing order either
    txs.append(w.tx(DAVE, Transfer("BTC", ALICE.address, 1), nonce=w.next_nonce(DAVE) - 1))
    txs.append(txs[0])  # the same tx twice
    txs.append(w.tx(CAROL, limit(Side.SELL, 100, 1), nonce=w.next_nonce(CAROL) + 3))  # a gap
    return txs


def run(txs: list[Tx]) -> tuple[BlockResult, Exchange]:
    w = setup_world()
    busy_block(w)  # advances the world's nonces the same way; the txs given are what runs
    result = w.block(txs, timestamp_ms=6_000)
    return result, w.exchange


def observable(exchange: Exchange) -> object:
    return (
        exchange.state_root(),
        exchange.depth("BTC/USD"),
        exchange.depth("ETH/BTC"),
        [exchange.balances(t.address) for t in TRADERS],
        [exchange.open_orders(t.address) for t in TRADERS],
        exchange.recent_trades("BTC/USD"),
    )


def test_any_permutation_of_a_block_executes_identically() -> None:
    txs = busy_block(setup_world())
    reference, reference_exchange = run(txs)
    codes = {r.code for r in reference.receipts}
    assert {Code.OK, Code.NONCE_USED, Code.NONCE_GAP} <= codes  # the block is not trivial
    assert any(e.__class__.__name__ == "Trade" for e in events_of(reference))
    assert reference.block_events  # Dave's order expired at the block's start
    rng = random.Random(20261125)
    for _ in range(8):
        shuffled = list(txs)
        rng.shuffle(shuffled)
        result, exchange = run(shuffled)
        assert result == reference
        assert observable(exchange) == observable(reference_exchange)
    assert run(list(reversed(txs)))[0] == reference


def test_each_accounts_nonce_order_is_kept_whatever_the_listing() -> None:
    txs = busy_block(setup_world())
    rng = random.Random(7)
    for _ in range(5):
        shuffled = list(txs)
        rng.shuffle(shuffled)
        result, _ = run(shuffled)
        by_sender: dict[bytes, list[int]] = {}
        for receipt in result.receipts:
            by_sender.setdefault(receipt.sender, []).append(receipt.nonce)
        for nonces in by_sender.values():
            assert nonces == sorted(nonces)
        executed = [r for r in result.receipts if r.code not in (Code.NONCE_USED, Code.NONCE_GAP)]
        assert len(executed) == 16  # every tx with the right nonce ran, none was skipped


def test_reverse_nonce_listing_still_executes_every_tx() -> None:
    w = World.create([ALICE, BOB])
    txs = [w.tx(ALICE, Transfer("BTC", BOB.address, n + 1)) for n in range(10)]
    result = w.block(list(reversed(txs)))
    assert [r.nonce for r in result.receipts] == list(range(10))
    assert {r.code for r in result.receipts} == {Code.OK}


def test_senders_take_turns_so_no_account_queues_ahead() -> None:
    """Round by round: every sender's first tx before any sender's second."""
    w = World.create(TRADERS)
    txs = [w.tx(t, limit(Side.BUY, 10 + i, 1)) for t in TRADERS for i in range(4)]
    order = canonical_order(txs, SEED)
    rounds = [next(i for i, tx in enumerate(txs) if tx is chosen) % 4 for chosen in order]
    assert rounds == sorted(rounds)
    assert [tx.nonce for tx in order[:4]] == [0, 0, 0, 0]
    assert len({tx.sender for tx in order[:4]}) == 4


def test_canonical_order_depends_only_on_the_set_of_txs() -> None:
    w = World.create(TRADERS)
    txs = [w.tx(t, limit(Side.BUY, 10, 1)) for t in TRADERS for _ in range(3)]
    reference = [tx.hash for tx in canonical_order(txs, SEED)]
    rng = random.Random(3)
    for _ in range(10):
        shuffled = list(txs)
        rng.shuffle(shuffled)
        assert [tx.hash for tx in canonical_order(shuffled, SEED)] == reference


def test_first_mover_at_the_same_price_is_not_the_proposers_choice() -> None:
    """Two makers at one price: who fills first follows the canonical order, whatever the listing."""
    w = World.create(TRADERS)
    makers = [w.tx(t, limit(Side.SELL, 100, 1)) for t in (BOB, CAROL, DAVE)]
    first_listing = World.create(TRADERS)
    second_listing = World.create(TRADERS)
    one = first_listing.block(makers)
    two = second_listing.block(list(reversed(makers)))
    assert one == two
    taker_body = limit(Side.BUY, 100, 1)
    fill_one = first_listing.receipt(ALICE, taker_body)
    fill_two = second_listing.receipt(ALICE, taker_body)
    assert fill_one == fill_two


def test_txs_that_never_execute_cannot_reorder_the_others() -> None:
    """Fairness (DESIGN.md section 3): the order must come from data the proposer cannot choose.

    Two makers post at one price; the proposer (Dave) wants Carol's order to
    rest first. Junk txs from Dave with a nonce far ahead are accepted into a
    block and execute nothing; they must not change the ranking (the seed
    comes from the committed history, not from the block's txs).
    """
    w = World.create(TRADERS)
    makers = [w.tx(t, limit(Side.SELL, 100, 1)) for t in (BOB, CAROL)]
    honest = [tx.sender for tx in canonical_order(makers, SEED)]
    for amount in range(1, 40):
        junk = w.tx(DAVE, Transfer("USD", ALICE.address, amount), nonce=10**6)
        ground = [tx.sender for tx in canonical_order([*makers, junk], SEED) if tx is not junk]
        assert ground == honest, f"junk tx #{amount} reordered the block"


def test_the_proposers_timestamp_cannot_change_the_ranks() -> None:
    """Dave's order expires at 5_500: whether the proposer picks 5_400 or 5_600, the senders
    take the same ranks (the seed is fixed before the timestamp matters)."""
    orders = []
    for timestamp_ms in (5_400, 5_600):
        w = setup_world()
        txs = [w.tx(trader, limit(Side.BUY, 90, 1)) for trader in TRADERS]
        result = w.block(txs, timestamp_ms=timestamp_ms)
        expired = any(getattr(event, "reason", None) == "expired" for event in result.block_events)
        assert expired == (timestamp_ms == 5_600)
        orders.append([receipt.tx_hash for receipt in result.receipts])
    assert orders[0] == orders[1]
