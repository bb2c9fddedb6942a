"""Every rejection code the exchange can produce, each reached by a real tx.

One scenario per code, run through the path that produces it (`execute_block`,
`check_tx` or `decode_block`). A scenario also checks that the rejected tx
left balances, books and open orders as they were. The mempool-only codes
(DUPLICATE_TX, MEMPOOL_FULL, NONCE_PENDING) are not the exchange's to produce.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from bftx import limits
from bftx.errors import Code
from bftx.exchange import (
    BlockRejection,
    Burn,
    CancelOrder,
    Mint,
    OrderType,
    PlaceOrder,
    Register,
    Side,
    Transfer,
    decode_tx,
    sign_tx,
)

from .support import ALICE, BOB, BTC_ISSUER, CHAIN_ID, OUTSIDER, REGISTRAR, World
from .test_contracts import CONTRACT_SCENARIOS
from .test_interchain import INTERCHAIN_SCENARIOS

MEMPOOL_ONLY = {Code.DUPLICATE_TX, Code.MEMPOOL_FULL, Code.NONCE_PENDING}


def order(
    side: Side = Side.BUY,
    price: int = 100,
    lots: int = 1,
    order_type: OrderType = OrderType.LIMIT,
    market: str = "BTC/USD",
    expires_at_ms: int = 0,
) -> PlaceOrder:
    return PlaceOrder(market, side, order_type, price, lots, expires_at_ms)


def snapshot(w: World) -> object:
    exchange = w.exchange
    return (
        [exchange.balances(who.address) for who in (ALICE, BOB, OUTSIDER)],
        [
            dataclasses.replace(exchange.depth(market), height=0)
            for market in ("BTC/USD", "ETH/BTC")
        ],
        [exchange.open_orders(who.address) for who in (ALICE, BOB)],
        dict(exchange.state.minted),
        dict(exchange.state.burned),
    )


def executed(w: World, signer: object, body: object) -> Code:
    """Run ``body`` in its own block and check that nothing but the nonce changed."""
    before = snapshot(w)
    code = w.run(signer, body)  # type: ignore[arg-type]
    if code is not Code.OK:
        assert snapshot(w) == before, f"{code.name} changed the state"
    return code


def world(**options: object) -> World:
    return World.create([ALICE, BOB], **options)


def malformed() -> Code:
    rejection = world().exchange.decode_block([b"\x93\x01\x02"])
    assert isinstance(rejection, BlockRejection)
    return rejection.code


def wrong_chain() -> Code:
    w = world()
    return w.block([decode_tx(sign_tx(ALICE, "other", 0, order()))]).receipts[0].code


def bad_signature() -> Code:
    w = world()
    tx = w.tx(ALICE, order())
    return w.exchange.check_tx(dataclasses.replace(tx, signature=bytes(64)))


def not_registered() -> Code:
    return executed(world(), OUTSIDER, order())


def nonce_used() -> Code:
    w = world()
    tx = w.tx(ALICE, order())
    w.block([tx])
    return w.block([tx]).receipts[0].code


def nonce_gap() -> Code:
    w = world()
    return w.block([w.tx(ALICE, order(), nonce=1)]).receipts[0].code


def insufficient_funds() -> Code:
    return executed(world(usd=99), ALICE, order(price=100, lots=1))


def unknown_asset() -> Code:
    return executed(world(), ALICE, Transfer("XRP", BOB.address, 1))


def unknown_market() -> Code:
    return executed(world(), ALICE, order(market="BTC/EUR"))


def invalid_price() -> Code:
    return executed(world(), ALICE, order(price=0))


def invalid_quantity() -> Code:
    return executed(world(), ALICE, order(lots=0))


def below_min_size() -> Code:
    return executed(world(min_lots=5), ALICE, order(lots=4))


def post_only_would_cross() -> Code:
    w = world()
    w.order(BOB, Side.SELL, 100, 1)
    return executed(w, ALICE, order(order_type=OrderType.POST_ONLY))


def fok_unfilled() -> Code:
    w = world()
    w.order(BOB, Side.SELL, 100, 1)
    return executed(w, ALICE, order(lots=2, order_type=OrderType.FOK))


def too_many_orders() -> Code:
    w = world()
    w.check_invariants = False  # checked once below, not after each of the blocks
    per_block = 250
    for start in range(0, limits.orders_per_account_max, per_block):
        txs = [w.tx(ALICE, order(price=1 + i)) for i in range(start, start + per_block)]
        assert {r.code for r in w.block(txs).receipts} == {Code.OK}
    assert len(w.exchange.open_orders(ALICE.address)) == limits.orders_per_account_max
    w.check_invariants = True
    code = executed(w, ALICE, order(price=5))
    # immediate orders never rest, so they are still allowed at the limit
    assert executed(w, ALICE, order(price=5, order_type=OrderType.IOC)) is Code.OK
    return code


def unknown_order() -> Code:
    return executed(world(), ALICE, CancelOrder(0))


def not_issuer() -> Code:
    return executed(world(), ALICE, Mint("BTC", ALICE.address, 1))


def not_registrar() -> Code:
    return executed(world(), ALICE, Register(OUTSIDER.address))


def already_registered() -> Code:
    return executed(world(), REGISTRAR, Register(BOB.address))


def recipient_not_registered() -> Code:
    return executed(world(), ALICE, Transfer("BTC", OUTSIDER.address, 1))


def invalid_amount() -> Code:
    return executed(world(), ALICE, Burn("BTC", 0, "x"))


def supply_overflow() -> Code:
    return executed(
        world(supply_max={"BTC": 2 * 100 * 10**8}), BTC_ISSUER, Mint("BTC", BOB.address, 1)
    )


def invalid_recipient() -> Code:
    return executed(world(), ALICE, Transfer("BTC", ALICE.address, 1))


def order_expired() -> Code:
    w = world()
    return executed(w, ALICE, order(expires_at_ms=w.timestamp_ms + 1_000))


def invalid_order_type() -> Code:
    return executed(world(), ALICE, order(order_type=OrderType.IOC, expires_at_ms=10**12))


SCENARIOS: dict[Code, Callable[[], Code]] = {
    Code.MALFORMED: malformed,
    Code.WRONG_CHAIN: wrong_chain,
    Code.BAD_SIGNATURE: bad_signature,
    Code.NOT_REGISTERED: not_registered,
    Code.NONCE_USED: nonce_used,
    Code.NONCE_GAP: nonce_gap,
    Code.INSUFFICIENT_FUNDS: insufficient_funds,
    Code.UNKNOWN_ASSET: unknown_asset,
    Code.UNKNOWN_MARKET: unknown_market,
    Code.INVALID_PRICE: invalid_price,
    Code.INVALID_QUANTITY: invalid_quantity,
    Code.BELOW_MIN_SIZE: below_min_size,
    Code.POST_ONLY_WOULD_CROSS: post_only_would_cross,
    Code.FOK_UNFILLED: fok_unfilled,
    Code.TOO_MANY_ORDERS: too_many_orders,
    Code.UNKNOWN_ORDER: unknown_order,
    Code.NOT_ISSUER: not_issuer,
    Code.NOT_REGISTRAR: not_registrar,
    Code.ALREADY_REGISTERED: already_registered,
    Code.RECIPIENT_NOT_REGISTERED: recipient_not_registered,
    Code.INVALID_AMOUNT: invalid_amount,
    Code.SUPPLY_OVERFLOW: supply_overflow,
    Code.INVALID_RECIPIENT: invalid_recipient,
    Code.ORDER_EXPIRED: order_expired,
    Code.INVALID_ORDER_TYPE: invalid_order_type,
    **CONTRACT_SCENARIOS,
    **INTERCHAIN_SCENARIOS,
}


def test_every_rejection_code_has_a_scenario() -> None:
    assert set(SCENARIOS) == set(Code) - MEMPOOL_ONLY - {Code.OK}


@pytest.mark.parametrize("code", list(SCENARIOS), ids=lambda code: code.slug)
def test_rejection_code_is_produced(code: Code) -> None:
    assert SCENARIOS[code]() is code


def test_min_size_boundary_is_accepted() -> None:
    assert executed(world(min_lots=5), ALICE, order(lots=5)) is Code.OK


def test_largest_price_and_quantity_are_valid_but_unaffordable() -> None:
    big = order(price=limits.price_ticks_max, lots=limits.quantity_lots_max)
    assert executed(world(), ALICE, big) is Code.INSUFFICIENT_FUNDS
    big_sell = order(Side.SELL, price=limits.price_ticks_max, lots=limits.quantity_lots_max)
    assert executed(world(), ALICE, big_sell) is Code.INSUFFICIENT_FUNDS


def test_insufficient_funds_counts_only_available_not_locked() -> None:
    w = world(usd=150)
    assert w.order(ALICE, Side.BUY, 100, 1) is Code.OK
    assert executed(w, ALICE, order(price=51)) is Code.INSUFFICIENT_FUNDS
    assert executed(w, ALICE, order(price=50)) is Code.OK


def test_sell_needs_base_not_quote() -> None:
    w = world(btc=10_000)
    assert executed(w, ALICE, order(Side.SELL, lots=2)) is Code.INSUFFICIENT_FUNDS
    assert executed(w, ALICE, order(Side.SELL, lots=1)) is Code.OK


def test_check_order_is_market_then_price_then_quantity_then_size() -> None:
    """Validation runs in a fixed order, so a tx with several faults reports the first."""
    w = world(min_lots=5)
    assert executed(w, ALICE, order(market="NOPE", price=0, lots=0)) is Code.UNKNOWN_MARKET
    assert executed(w, ALICE, order(price=0, lots=0)) is Code.INVALID_PRICE
    assert executed(w, ALICE, order(lots=0)) is Code.INVALID_QUANTITY
    assert executed(w, ALICE, order(lots=1, price=10**9)) is Code.BELOW_MIN_SIZE


def test_chain_id_of_the_signed_bytes_is_what_counts() -> None:
    w = world()
    data = sign_tx(ALICE, CHAIN_ID + "x", 0, order())
    assert w.exchange.check_tx(decode_tx(data)) is Code.WRONG_CHAIN
