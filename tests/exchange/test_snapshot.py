"""Snapshots: the whole exchange state out and back, and untrusted bytes refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bftx.errors import DecodeError
from bftx.exchange import Exchange, OrderType, Side
from bftx.exchange.application import ExchangeApplication
from bftx.exchange.invariants import find_violations
from bftx.exchange.transactions import CancelOrder, PlaceOrder, Transfer, sign_tx
from tests.exchange.support import CHAIN_ID, World, key


def busy_world() -> World:
    traders = [key(100 + index) for index in range(4)]
    world = World.create(traders, maker_fee_bps=3, taker_fee_bps=7)
    world.order(traders[0], Side.SELL, 4_500_000, 10)
    world.order(traders[1], Side.SELL, 4_500_100, 5, expires_at_ms=world.timestamp_ms + 60_000)
    world.order(traders[2], Side.BUY, 4_500_000, 4)
    world.order(traders[3], Side.BUY, 4_400_000, 7, OrderType.POST_ONLY)
    world.order(traders[0], Side.BUY, 90, 3, market="ETH/BTC")
    world.run(traders[1], Transfer("USD", traders[2].address, 1234))
    return world


def test_restored_exchange_has_the_same_root_and_behaves_the_same() -> None:
    world = busy_world()
    restored = Exchange.restore(world.exchange.state.genesis, world.exchange.snapshot())
    assert restored.state_root() == world.exchange.state_root()
    assert restored.height == world.exchange.height
    assert find_violations(restored.state) == []
    assert restored.snapshot() == world.exchange.snapshot()
    # the same next block gives the same result on both
    taker = key(103)
    tx = world.tx(taker, PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 4_500_100, 20, 0))
    expected = world.block([tx])
    again = restored.execute_block(expected.height, expected.timestamp_ms, [tx])
    assert again == expected


def test_expiring_orders_still_expire_after_a_restore() -> None:
    world = busy_world()
    restored = Exchange.restore(world.exchange.state.genesis, world.exchange.snapshot())
    later = world.timestamp_ms + 120_000
    result = restored.execute_block(restored.height + 1, later, [])
    assert [event.reason for event in result.block_events] == ["expired"]  # type: ignore[union-attr]


def test_application_refuses_a_snapshot_with_the_wrong_root_or_height() -> None:
    world = busy_world()
    application = ExchangeApplication(world.exchange.state.genesis)
    data, root, height = (
        world.exchange.snapshot(),
        world.exchange.state_root(),
        world.exchange.height,
    )
    assert not application.restore_snapshot(height, data, b"\x00" * 32)
    assert not application.restore_snapshot(height + 1, data, root)
    assert application.exchange.height == 0
    assert application.restore_snapshot(height, data, root)
    assert application.state_root() == root


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.data())
def test_mutated_snapshots_never_crash_the_restore(data: st.DataObject) -> None:
    world = busy_world()
    snapshot = bytearray(world.exchange.snapshot())
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        position = data.draw(st.integers(min_value=0, max_value=len(snapshot) - 1))
        snapshot[position] = data.draw(st.integers(min_value=0, max_value=255))
    application = ExchangeApplication(world.exchange.state.genesis)
    accepted = application.restore_snapshot(
        world.exchange.height, bytes(snapshot), world.exchange.state_root()
    )
    if accepted:
        assert application.exchange.snapshot() == world.exchange.snapshot()


def test_snapshot_for_another_chain_is_refused() -> None:
    world = busy_world()
    other = World.create([key(100)])
    other.exchange.state.chain_id = "another-chain"
    with pytest.raises(DecodeError, match="chain_id"):
        Exchange.restore(world.exchange.state.genesis, other.exchange.snapshot())


def test_application_verifies_a_signature_once() -> None:
    trader = key(100)
    world = World.create([trader])
    application = ExchangeApplication(world.exchange.state.genesis)
    tx = sign_tx(trader, CHAIN_ID, 0, PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 100, 1, 0))
    assert application.check_tx(tx) == 0
    assert len(application.verified) == 1
    tampered = tx[:-1] + bytes([tx[-1] ^ 1])
    assert application.check_tx(tampered) != 0
    assert not application.validate_block((tampered,))
    assert application.validate_block((tx,))
    cancel = sign_tx(trader, CHAIN_ID, 1, CancelOrder(0))
    assert application.validate_block((tx, cancel))
    root = application.execute_block(1, 1_000, (tx, cancel))
    assert root == application.state_root()
    assert application.last_result is not None
    assert [receipt.code for receipt in application.last_result.receipts] == [0, 0]
