"""The state root: equal states give equal roots, any single difference changes it."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from bftx.exchange import Burn, CancelOrder, Exchange, OrderType, PlaceOrder, Side, Transfer, Tx
from bftx.exchange.state import ExchangeState

from .support import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    FEES,
    OUTSIDER,
    World,
    compute_root_from_scratch,
    make_genesis,
)

TRADERS = [ALICE, BOB, CAROL, DAVE]


def random_blocks(seed: int, count: int) -> tuple[World, list[tuple[int, list[Tx]]]]:
    """Signed random blocks (orders of every type, cancels, transfers, burns) and their times."""
    rng = random.Random(seed)
    w = World.create(TRADERS, maker_fee_bps=3, taker_fee_bps=9)
    blocks = []
    timestamp = 1_000
    for _ in range(count):
        timestamp += rng.randint(0, 3_000)
        txs = []
        for _ in range(rng.randint(0, 8)):
            trader = rng.choice(TRADERS)
            roll = rng.random()
            if roll < 0.65:
                order_type = rng.choice(list(OrderType))
                resting = order_type in (OrderType.LIMIT, OrderType.POST_ONLY)
                expires = timestamp + rng.randint(1, 6_000) if resting and rng.random() < 0.3 else 0
                body: object = PlaceOrder(
                    rng.choice(["BTC/USD", "ETH/BTC"]),
                    rng.choice(list(Side)),
                    order_type,
                    rng.randint(95, 105),
                    rng.randint(1, 6),
                    expires,
                )
            elif roll < 0.85:
                body = CancelOrder(rng.randint(0, max(0, w.next_nonce(trader) - 1)))
            elif roll < 0.95:
                other = rng.choice([t for t in TRADERS if t is not trader])
                body = Transfer(
                    rng.choice(["BTC", "USD", "ETH"]), other.address, rng.randint(1, 500)
                )
            else:
                body = Burn("USD", rng.randint(1, 500), "out")
            txs.append(w.tx(trader, body))  # type: ignore[arg-type]
        blocks.append((timestamp, txs))
    return w, blocks


def test_two_instances_fed_the_same_blocks_agree_at_every_height() -> None:
    _, blocks = random_blocks(seed=1, count=60)
    one = Exchange(make_genesis(TRADERS, maker_fee_bps=3, taker_fee_bps=9))
    two = Exchange(make_genesis(TRADERS, maker_fee_bps=3, taker_fee_bps=9))
    assert one.state_root() == two.state_root()
    trades = 0
    for height, (timestamp, txs) in enumerate(blocks, start=1):
        first = one.execute_block(height, timestamp, txs)
        second = two.execute_block(height, timestamp, list(reversed(txs)))
        assert first == second
        assert first.state_root == one.state_root() == two.state_root()
        trades += sum(type(e).__name__ == "Trade" for r in first.receipts for e in r.events)
    assert trades > 10


def test_incremental_root_equals_a_root_rebuilt_from_scratch() -> None:
    """A mutation that forgot to mark what it touched would leave the incremental root stale."""
    _, blocks = random_blocks(seed=2, count=80)
    exchange = Exchange(make_genesis(TRADERS, maker_fee_bps=3, taker_fee_bps=9))
    assert compute_root_from_scratch(exchange.state) == exchange.state_root()
    for height, (timestamp, txs) in enumerate(blocks, start=1):
        result = exchange.execute_block(height, timestamp, txs)
        assert compute_root_from_scratch(exchange.state) == result.state_root, height


def test_root_changes_every_block_and_commits_to_the_height() -> None:
    one = World.create(TRADERS)
    roots = {one.exchange.state_root()}
    for _ in range(5):
        roots.add(one.block([]).state_root)
    assert len(roots) == 6


def test_equal_states_reached_in_different_orders_have_equal_roots() -> None:
    """Alice's and Bob's burns commute: run them in either order over two blocks."""
    one, two = World.create(TRADERS), World.create(TRADERS)
    alice, bob = one.tx(ALICE, Burn("BTC", 5, "x")), one.tx(BOB, Burn("USD", 7, "y"))
    one.block([alice])
    one.block([bob])
    two.block([bob])
    two.block([alice])
    assert one.exchange.state_root() == two.exchange.state_root()


def test_a_traded_and_an_untraded_exchange_differ() -> None:
    one, two = World.create(TRADERS), World.create(TRADERS)
    one.order(ALICE, Side.BUY, 100, 1)
    two.order(ALICE, Side.BUY, 101, 1)
    assert one.exchange.state_root() != two.exchange.state_root()


def busy_state() -> ExchangeState:
    w = World.create(TRADERS, maker_fee_bps=3, taker_fee_bps=9)
    w.order(BOB, Side.SELL, 100, 5)
    w.order(ALICE, Side.BUY, 100, 2)  # Bob's order now has 3 remaining
    w.order(CAROL, Side.BUY, 90, 4)
    return w.exchange.state


def bump_available(state: ExchangeState) -> Callable[[int], None]:
    def change(delta: int) -> None:
        state.accounts[ALICE.address].balances["USD"][0] += delta
        state.dirty_accounts.add(ALICE.address)

    return change


def bump_locked(state: ExchangeState) -> Callable[[int], None]:
    def change(delta: int) -> None:
        state.accounts[CAROL.address].balances["USD"][1] += delta
        state.dirty_accounts.add(CAROL.address)

    return change


def bump_fee_balance(state: ExchangeState) -> Callable[[int], None]:
    def change(delta: int) -> None:
        state.accounts[FEES.address].balances["BTC"][0] += delta
        state.dirty_accounts.add(FEES.address)

    return change


def bump_nonce(state: ExchangeState) -> Callable[[int], None]:
    def change(delta: int) -> None:
        state.accounts[DAVE.address].nonce += delta
        state.dirty_accounts.add(DAVE.address)

    return change


def bump_remaining(state: ExchangeState) -> Callable[[int], None]:
    def change(delta: int) -> None:
        (order,) = state.accounts[BOB.address].open_orders.values()
        order.remaining_lots -= delta
        state.dirty_orders[order.key] = order

    return change


def bump_order_price(state: ExchangeState) -> Callable[[int], None]:
    def change(delta: int) -> None:
        (order,) = state.accounts[CAROL.address].open_orders.values()
        order.price_ticks += delta
        state.dirty_orders[order.key] = order

    return change


def bump_minted(state: ExchangeState) -> Callable[[int], None]:
    def change(delta: int) -> None:
        state.minted["ETH"] += delta

    return change


def flip_registration(state: ExchangeState) -> Callable[[int], None]:
    def change(delta: int) -> None:
        account = state.accounts[DAVE.address]
        account.registered = not account.registered
        state.dirty_accounts.add(DAVE.address)

    return change


@pytest.mark.parametrize(
    "mutation",
    [
        bump_available,
        bump_locked,
        bump_fee_balance,
        bump_nonce,
        bump_remaining,
        bump_order_price,
        bump_minted,
        flip_registration,
    ],
)
def test_any_single_difference_changes_the_root(
    mutation: Callable[[ExchangeState], Callable[[int], None]],
) -> None:
    state = busy_state()
    original = state.compute_state_root()
    change = mutation(state)
    change(1)
    changed = state.compute_state_root()
    assert changed != original
    assert compute_root_from_scratch(state) == changed
    change(-1)
    assert state.compute_state_root() == original


def test_a_cancelled_order_leaves_no_trace_in_the_root_but_the_nonce_and_counters() -> None:
    """Place-and-cancel differs from a plain nonce use only by the order sequence counter."""
    one, two = World.create(TRADERS), World.create(TRADERS)
    placed = one.place(ALICE, Side.BUY, 100, 1)
    one.run(ALICE, CancelOrder(placed.nonce))
    two.run(ALICE, Transfer("USD", BOB.address, 1))
    two.run(BOB, Transfer("USD", ALICE.address, 1))
    assert compute_root_from_scratch(one.exchange.state) == one.exchange.state_root()
    assert one.exchange.balances(ALICE.address) == two.exchange.balances(ALICE.address)
    assert one.exchange.state_root() != two.exchange.state_root()


def test_a_new_account_changes_the_root() -> None:
    state = busy_state()
    original = state.compute_state_root()
    state.account(OUTSIDER.address).balance("BTC")[0] += 1
    assert state.compute_state_root() != original
