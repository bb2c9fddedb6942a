"""Order types, cancels, expiry, self-trade prevention and price-time priority.

BTC/USD in `support`: a lot is 10_000 satoshi, a tick is 1 micro-dollar per
lot, so a buy of ``n`` lots at ``p`` locks ``n * p`` USD units and a sell locks
``n * 10_000`` BTC units. Every block also runs the invariant checkers.
"""

from __future__ import annotations

from bftx.errors import Code
from bftx.exchange import CancelOrder, OrderType, PlaceOrder, Side, Trade
from bftx.exchange.events import OrderClosed, OrderPlaced

from .support import ALICE, BOB, BTC_LOT, CAROL, DAVE, World

BTC0 = 100 * 10**8
USD0 = 10_000_000 * 10**6


def world() -> World:
    return World.create([ALICE, BOB, CAROL, DAVE])


def trades(receipt_events: tuple[object, ...]) -> list[Trade]:
    return [event for event in receipt_events if isinstance(event, Trade)]


def closed(receipt_events: tuple[object, ...]) -> list[OrderClosed]:
    """The OrderClosed events, in order."""
    return [event for event in receipt_events if isinstance(event, OrderClosed)]


def fills(receipt_events: tuple[object, ...]) -> list[tuple[bytes, int, int, int]]:
    """(maker, maker nonce, price, lots) of each trade, in order."""
    return [
        (t.maker, t.maker_nonce, t.price_ticks, t.quantity_lots) for t in trades(receipt_events)
    ]


# --- limit (GTC) ----------------------------------------------------------------


def test_limit_buy_rests_and_locks_quote_at_its_price() -> None:
    w = world()
    receipt = w.place(ALICE, Side.BUY, 100, 10)
    assert receipt.code is Code.OK
    assert w.exchange.depth("BTC/USD").bids == ((100, 10),)
    assert w.locked(ALICE, "USD") == 1_000
    assert w.available(ALICE, "USD") == USD0 - 1_000
    view = w.exchange.order(ALICE.address, receipt.nonce)
    assert view is not None and view.remaining_lots == 10 and view.order_type is OrderType.LIMIT
    assert [type(e) for e in receipt.events] == [OrderPlaced]


def test_limit_sell_rests_and_locks_base() -> None:
    w = world()
    assert w.order(BOB, Side.SELL, 100, 3) is Code.OK
    assert w.locked(BOB, "BTC") == 3 * BTC_LOT
    assert w.available(BOB, "BTC") == BTC0 - 3 * BTC_LOT
    assert w.exchange.depth("BTC/USD").asks == ((100, 3),)


def test_limit_order_partially_fills_and_rests_the_remainder() -> None:
    w = world()
    bob = w.place(BOB, Side.SELL, 100, 4)
    alice = w.place(ALICE, Side.BUY, 100, 10)
    assert fills(alice.events) == [(BOB.address, bob.nonce, 100, 4)]
    depth = w.exchange.depth("BTC/USD")
    assert depth.bids == ((100, 6),) and depth.asks == ()
    view = w.exchange.order(ALICE.address, alice.nonce)
    assert view is not None and (view.quantity_lots, view.remaining_lots) == (10, 6)
    assert w.locked(ALICE, "USD") == 600
    assert w.available(ALICE, "USD") == USD0 - 1_000
    assert w.available(ALICE, "BTC") == BTC0 + 4 * BTC_LOT
    assert w.exchange.order(BOB.address, bob.nonce) is None
    assert w.locked(BOB, "BTC") == 0


def test_partially_filled_maker_keeps_the_rest_of_its_lock() -> None:
    w = world()
    bob = w.place(BOB, Side.SELL, 100, 10)
    w.order(ALICE, Side.BUY, 100, 3)
    assert w.locked(BOB, "BTC") == 7 * BTC_LOT
    view = w.exchange.order(BOB.address, bob.nonce)
    assert view is not None and view.remaining_lots == 7


def test_limit_that_does_not_reach_the_best_price_does_not_trade() -> None:
    w = world()
    w.order(BOB, Side.SELL, 101, 5)
    receipt = w.place(ALICE, Side.BUY, 100, 5)
    assert trades(receipt.events) == []
    depth = w.exchange.depth("BTC/USD")
    assert depth.bids == ((100, 5),) and depth.asks == ((101, 5),)


def test_fully_filled_limit_order_closes_as_filled() -> None:
    w = world()
    w.order(BOB, Side.SELL, 100, 5)
    receipt = w.place(ALICE, Side.BUY, 100, 5)
    assert [(c.owner, c.reason) for c in closed(receipt.events)] == [
        (BOB.address, "filled"),
        (ALICE.address, "filled"),
    ]
    assert w.exchange.open_orders(ALICE.address) == []
    assert w.locked(ALICE, "USD") == 0


# --- market ---------------------------------------------------------------------


def test_market_buy_never_trades_past_its_worst_price() -> None:
    w = world()
    w.order(BOB, Side.SELL, 100, 2)
    w.order(CAROL, Side.SELL, 101, 2)
    w.order(DAVE, Side.SELL, 105, 5)
    receipt = w.place(ALICE, Side.BUY, 102, 10, OrderType.MARKET)
    assert receipt.code is Code.OK
    assert [(price, lots) for _, _, price, lots in fills(receipt.events)] == [(100, 2), (101, 2)]
    assert closed(receipt.events)[-1] == OrderClosed(
        "BTC/USD", ALICE.address, receipt.nonce, "unfilled", 6
    )
    assert w.exchange.depth("BTC/USD").asks == ((105, 5),)
    assert w.exchange.depth("BTC/USD").bids == ()  # a market order never rests
    assert w.locked(ALICE, "USD") == 0
    assert w.available(ALICE, "USD") == USD0 - (200 + 202)
    assert w.available(ALICE, "BTC") == BTC0 + 4 * BTC_LOT


def test_market_sell_never_trades_below_its_worst_price() -> None:
    w = world()
    w.order(BOB, Side.BUY, 100, 2)
    w.order(CAROL, Side.BUY, 95, 2)
    receipt = w.place(ALICE, Side.SELL, 98, 5, OrderType.MARKET)
    assert [(price, lots) for _, _, price, lots in fills(receipt.events)] == [(100, 2)]
    assert w.exchange.depth("BTC/USD").bids == ((95, 2),)
    assert w.exchange.depth("BTC/USD").asks == ()
    assert w.locked(ALICE, "BTC") == 0
    assert w.available(ALICE, "BTC") == BTC0 - 2 * BTC_LOT


def test_market_order_on_an_empty_book_fills_nothing_and_unlocks() -> None:
    w = world()
    receipt = w.place(ALICE, Side.BUY, 1_000, 5, OrderType.MARKET)
    assert receipt.code is Code.OK
    assert closed(receipt.events) == [OrderClosed("BTC/USD", ALICE.address, 0, "unfilled", 5)]
    assert w.exchange.balances(ALICE.address)["USD"].locked == 0
    assert w.available(ALICE, "USD") == USD0


def test_market_order_needs_funds_for_its_worst_price() -> None:
    """The bound is also what is locked: a market buy cannot spend more than it could pay."""
    w = World.create([ALICE, BOB], usd=1_000)
    w.order(BOB, Side.SELL, 10, 5)
    assert w.order(ALICE, Side.BUY, 1_001, 1, OrderType.MARKET) is Code.INSUFFICIENT_FUNDS
    assert w.order(ALICE, Side.BUY, 1_000, 1, OrderType.MARKET) is Code.OK
    assert w.available(ALICE, "USD") == 1_000 - 10


# --- IOC ------------------------------------------------------------------------


def test_ioc_remainder_is_cancelled() -> None:
    w = world()
    w.order(BOB, Side.SELL, 100, 3)
    receipt = w.place(ALICE, Side.BUY, 100, 8, OrderType.IOC)
    assert receipt.code is Code.OK
    assert [lots for *_, lots in fills(receipt.events)] == [3]
    assert closed(receipt.events)[-1].reason == "unfilled"
    assert closed(receipt.events)[-1].remaining_lots == 5
    assert w.exchange.depth("BTC/USD").bids == ()
    assert w.exchange.order(ALICE.address, receipt.nonce) is None
    assert w.locked(ALICE, "USD") == 0
    assert w.available(ALICE, "USD") == USD0 - 300


def test_ioc_respects_its_limit_price() -> None:
    w = world()
    w.order(BOB, Side.SELL, 100, 3)
    w.order(CAROL, Side.SELL, 101, 3)
    receipt = w.place(ALICE, Side.BUY, 100, 6, OrderType.IOC)
    assert [(price, lots) for *_, price, lots in fills(receipt.events)] == [(100, 3)]
    assert w.exchange.depth("BTC/USD").asks == ((101, 3),)


def test_ioc_that_crosses_nothing_leaves_no_trace_but_its_nonce() -> None:
    w = world()
    w.order(BOB, Side.SELL, 101, 3)
    before = w.exchange.balances(ALICE.address)
    receipt = w.place(ALICE, Side.BUY, 100, 2, OrderType.IOC)
    assert receipt.code is Code.OK
    assert w.exchange.balances(ALICE.address) == before
    assert w.exchange.depth("BTC/USD").bids == ()
    assert w.exchange.nonce(ALICE.address) == 1


# --- FOK ------------------------------------------------------------------------


def test_fok_filled_completely_across_levels() -> None:
    w = world()
    w.order(BOB, Side.SELL, 100, 2)
    w.order(CAROL, Side.SELL, 102, 3)
    receipt = w.place(ALICE, Side.BUY, 102, 5, OrderType.FOK)
    assert receipt.code is Code.OK
    assert [(p, n) for *_, p, n in fills(receipt.events)] == [(100, 2), (102, 3)]
    assert closed(receipt.events)[-1].reason == "filled"
    assert w.available(ALICE, "USD") == USD0 - 200 - 306
    assert w.locked(ALICE, "USD") == 0


def test_fok_that_cannot_fill_completely_is_rejected_and_changes_nothing() -> None:
    w = world()
    w.order(BOB, Side.SELL, 100, 2)
    w.order(CAROL, Side.SELL, 103, 3)  # beyond the limit: does not count
    depth_before = w.exchange.depth("BTC/USD")
    balances_before = w.exchange.balances(ALICE.address)
    receipt = w.place(ALICE, Side.BUY, 102, 5, OrderType.FOK)
    assert receipt.code is Code.FOK_UNFILLED
    assert receipt.events == ()
    assert w.exchange.depth("BTC/USD").bids == depth_before.bids
    assert w.exchange.depth("BTC/USD").asks == depth_before.asks
    assert w.exchange.balances(ALICE.address) == balances_before
    assert w.exchange.nonce(ALICE.address) == 1  # a failed tx consumes its nonce


def test_fok_does_not_count_the_takers_own_resting_orders() -> None:
    """Own orders would be cancelled by self-trade prevention, not filled."""
    w = world()
    w.order(ALICE, Side.SELL, 100, 3)
    w.order(BOB, Side.SELL, 100, 2)
    assert w.order(ALICE, Side.BUY, 100, 4, OrderType.FOK) is Code.FOK_UNFILLED
    # rejected: the own resting sell is untouched
    assert w.exchange.depth("BTC/USD").asks == ((100, 5),)
    assert w.order(ALICE, Side.BUY, 100, 2, OrderType.FOK) is Code.OK


def test_fok_exactly_equal_to_the_available_liquidity_fills() -> None:
    w = world()
    w.order(BOB, Side.SELL, 100, 2)
    w.order(CAROL, Side.SELL, 100, 3)
    assert w.order(ALICE, Side.BUY, 100, 5, OrderType.FOK) is Code.OK
    assert w.exchange.depth("BTC/USD").asks == ()


def test_fok_sell_filled() -> None:
    w = world()
    w.order(BOB, Side.BUY, 100, 2)
    w.order(CAROL, Side.BUY, 99, 2)
    assert w.order(ALICE, Side.SELL, 99, 4, OrderType.FOK) is Code.OK
    assert w.order(ALICE, Side.SELL, 1, 1, OrderType.FOK) is Code.FOK_UNFILLED


# --- post-only --------------------------------------------------------------------


def test_post_only_that_would_cross_is_rejected() -> None:
    w = world()
    w.order(BOB, Side.SELL, 100, 3)
    receipt = w.place(ALICE, Side.BUY, 100, 1, OrderType.POST_ONLY)
    assert receipt.code is Code.POST_ONLY_WOULD_CROSS
    assert receipt.events == ()
    assert w.exchange.depth("BTC/USD").asks == ((100, 3),)
    assert w.exchange.depth("BTC/USD").bids == ()
    assert w.locked(ALICE, "USD") == 0


def test_post_only_sell_that_would_cross_is_rejected() -> None:
    w = world()
    w.order(BOB, Side.BUY, 100, 3)
    assert w.order(ALICE, Side.SELL, 99, 1, OrderType.POST_ONLY) is Code.POST_ONLY_WOULD_CROSS


def test_post_only_that_does_not_cross_rests_as_maker() -> None:
    w = world()
    w.order(BOB, Side.SELL, 101, 3)
    receipt = w.place(ALICE, Side.BUY, 100, 2, OrderType.POST_ONLY)
    assert receipt.code is Code.OK
    assert w.exchange.depth("BTC/USD").bids == ((100, 2),)
    view = w.exchange.order(ALICE.address, receipt.nonce)
    assert view is not None and view.order_type is OrderType.POST_ONLY
    taker = w.place(BOB, Side.SELL, 100, 2)
    assert fills(taker.events) == [(ALICE.address, receipt.nonce, 100, 2)]


def test_post_only_that_would_cross_only_its_own_order_is_rejected() -> None:
    """Chosen policy: post-only means 'never take', whoever rests on the other side."""
    w = world()
    w.order(ALICE, Side.SELL, 100, 3)
    assert w.order(ALICE, Side.BUY, 100, 1, OrderType.POST_ONLY) is Code.POST_ONLY_WOULD_CROSS
    assert w.exchange.depth("BTC/USD").asks == ((100, 3),)


# --- cancel -----------------------------------------------------------------------


def test_cancel_of_own_order_removes_it_and_unlocks_funds() -> None:
    w = world()
    order = w.place(ALICE, Side.BUY, 100, 10)
    receipt = w.receipt(ALICE, CancelOrder(order.nonce))
    assert receipt.code is Code.OK
    assert closed(receipt.events) == [
        OrderClosed("BTC/USD", ALICE.address, order.nonce, "cancelled", 10)
    ]
    assert w.exchange.depth("BTC/USD").bids == ()
    assert w.exchange.order(ALICE.address, order.nonce) is None
    assert w.locked(ALICE, "USD") == 0
    assert w.available(ALICE, "USD") == USD0


def test_cancel_of_partially_filled_order_unlocks_only_the_remainder() -> None:
    w = world()
    order = w.place(BOB, Side.SELL, 100, 10)
    w.order(ALICE, Side.BUY, 100, 4)
    receipt = w.receipt(BOB, CancelOrder(order.nonce))
    assert closed(receipt.events)[0].remaining_lots == 6
    assert w.locked(BOB, "BTC") == 0
    assert w.available(BOB, "BTC") == BTC0 - 4 * BTC_LOT


def test_cancel_of_unknown_order_is_rejected() -> None:
    w = world()
    assert w.run(ALICE, CancelOrder(12345)) is Code.UNKNOWN_ORDER
    assert w.exchange.nonce(ALICE.address) == 1


def test_cancel_of_already_filled_order_is_rejected() -> None:
    w = world()
    order = w.place(BOB, Side.SELL, 100, 2)
    w.order(ALICE, Side.BUY, 100, 2)
    assert w.run(BOB, CancelOrder(order.nonce)) is Code.UNKNOWN_ORDER


def test_cancel_twice_is_rejected_the_second_time() -> None:
    w = world()
    order = w.place(BOB, Side.SELL, 100, 2)
    assert w.run(BOB, CancelOrder(order.nonce)) is Code.OK
    assert w.run(BOB, CancelOrder(order.nonce)) is Code.UNKNOWN_ORDER


def test_cancel_of_another_accounts_order_is_impossible() -> None:
    """Order ids are (owner, nonce): Bob naming Alice's nonce names his own (unknown) order."""
    w = world()
    w.order(BOB, Side.SELL, 100, 1)  # Bob's nonce 0 is used by a filled order below
    w.order(CAROL, Side.BUY, 100, 1)
    alice = w.place(ALICE, Side.SELL, 105, 2)
    assert alice.nonce == 0
    assert w.run(BOB, CancelOrder(alice.nonce)) is Code.UNKNOWN_ORDER
    assert w.exchange.order(ALICE.address, alice.nonce) is not None
    assert w.exchange.depth("BTC/USD").asks == ((105, 2),)


def test_cancel_of_an_immediate_order_is_unknown() -> None:
    w = world()
    ioc = w.place(ALICE, Side.BUY, 100, 2, OrderType.IOC)
    assert w.run(ALICE, CancelOrder(ioc.nonce)) is Code.UNKNOWN_ORDER


def test_cancel_of_a_rejected_order_is_unknown() -> None:
    w = World.create([ALICE], usd=10)
    rejected = w.place(ALICE, Side.BUY, 100, 2)
    assert rejected.code is Code.INSUFFICIENT_FUNDS
    assert w.run(ALICE, CancelOrder(rejected.nonce)) is Code.UNKNOWN_ORDER


def test_place_and_cancel_in_the_same_block() -> None:
    w = world()
    place = w.tx(ALICE, PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 100, 2, 0))
    cancel = w.tx(ALICE, CancelOrder(place.nonce))
    result = w.block([cancel, place])
    assert [r.code for r in result.receipts] == [Code.OK, Code.OK]
    assert [r.nonce for r in result.receipts] == [0, 1]
    assert w.exchange.depth("BTC/USD").bids == ()
    assert w.locked(ALICE, "USD") == 0


# --- expiry -----------------------------------------------------------------------


def test_order_expires_at_the_block_timestamp_and_unlocks_its_funds() -> None:
    w = world()
    w.block([], timestamp_ms=10_000)
    order = w.tx(ALICE, PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 100, 4, 12_000))
    assert w.block([order], timestamp_ms=11_000).receipts[0].code is Code.OK
    assert w.block([], timestamp_ms=11_999).block_events == ()
    assert w.locked(ALICE, "USD") == 400
    result = w.block([], timestamp_ms=12_000)  # expiry is inclusive: at or before the time
    assert result.block_events == (
        OrderClosed("BTC/USD", ALICE.address, order.nonce, "expired", 4),
    )
    assert w.exchange.order(ALICE.address, order.nonce) is None
    assert w.exchange.depth("BTC/USD").bids == ()
    assert w.locked(ALICE, "USD") == 0
    assert w.available(ALICE, "USD") == USD0


def test_expired_order_cannot_trade_in_the_block_that_expires_it() -> None:
    """Expiries run at the start of a block, before any of its txs."""
    w = world()
    w.block([], timestamp_ms=10_000)
    bid = w.tx(ALICE, PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 100, 4, 15_000))
    w.block([bid], timestamp_ms=11_000)
    sell = w.tx(BOB, PlaceOrder("BTC/USD", Side.SELL, OrderType.LIMIT, 100, 4, 0))
    result = w.block([sell], timestamp_ms=15_000)
    assert trades(result.receipts[0].events) == []
    assert w.exchange.depth("BTC/USD").asks == ((100, 4),)


def test_partially_filled_order_expires_with_its_remainder() -> None:
    w = world()
    w.block([], timestamp_ms=10_000)
    ask = w.tx(BOB, PlaceOrder("BTC/USD", Side.SELL, OrderType.LIMIT, 100, 5, 20_000))
    w.block([ask], timestamp_ms=11_000)
    w.block([w.tx(ALICE, PlaceOrder("BTC/USD", Side.BUY, OrderType.IOC, 100, 2, 0))], 12_000)
    result = w.block([], timestamp_ms=30_000)
    assert [(e.reason, e.remaining_lots) for e in result.block_events] == [("expired", 3)]
    assert w.locked(BOB, "BTC") == 0
    assert w.available(BOB, "BTC") == BTC0 - 2 * BTC_LOT


def test_cancelled_order_with_an_expiry_does_not_expire_later() -> None:
    w = world()
    w.block([], timestamp_ms=10_000)
    order = w.tx(ALICE, PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 100, 4, 20_000))
    cancel = w.tx(ALICE, CancelOrder(order.nonce))
    w.block([order], timestamp_ms=11_000)
    w.block([cancel], timestamp_ms=12_000)
    assert w.block([], timestamp_ms=25_000).block_events == ()


def test_orders_expire_in_expiry_then_placement_order() -> None:
    w = world()
    w.block([], timestamp_ms=10_000)
    first = w.tx(ALICE, PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 100, 1, 19_000))
    second = w.tx(BOB, PlaceOrder("BTC/USD", Side.BUY, OrderType.POST_ONLY, 99, 1, 18_000))
    third = w.tx(CAROL, PlaceOrder("BTC/USD", Side.SELL, OrderType.LIMIT, 150, 1, 19_000))
    w.block([first], timestamp_ms=11_000)
    w.block([second], timestamp_ms=12_000)
    w.block([third], timestamp_ms=13_000)
    result = w.block([], timestamp_ms=19_000)
    assert [e.owner for e in result.block_events] == [BOB.address, ALICE.address, CAROL.address]
    assert w.exchange.depth("BTC/USD").bids == () and w.exchange.depth("BTC/USD").asks == ()


def test_order_that_expires_at_or_before_the_block_time_is_rejected() -> None:
    w = world()
    w.block([], timestamp_ms=10_000)
    at_time = w.tx(ALICE, PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 100, 1, 11_000))
    result = w.block([at_time], timestamp_ms=11_000)
    assert result.receipts[0].code is Code.ORDER_EXPIRED
    assert w.locked(ALICE, "USD") == 0
    assert w.exchange.nonce(ALICE.address) == 1


def test_an_expiry_on_an_immediate_order_is_an_invalid_order_type() -> None:
    w = world()
    w.order(BOB, Side.SELL, 100, 5)
    for order_type in (OrderType.MARKET, OrderType.IOC, OrderType.FOK):
        code = w.order(ALICE, Side.BUY, 100, 1, order_type, expires_at_ms=10**9)
        assert code is Code.INVALID_ORDER_TYPE, order_type
    assert w.exchange.depth("BTC/USD").asks == ((100, 5),)


def test_post_only_order_can_expire() -> None:
    w = world()
    w.block([], timestamp_ms=10_000)
    order = w.tx(ALICE, PlaceOrder("BTC/USD", Side.BUY, OrderType.POST_ONLY, 100, 1, 12_000))
    w.block([order], timestamp_ms=11_000)
    assert len(w.block([], timestamp_ms=12_500).block_events) == 1
    assert w.locked(ALICE, "USD") == 0


# --- self-trade prevention -----------------------------------------------------------


def test_self_trade_cancels_the_resting_order_and_matching_continues() -> None:
    w = world()
    own = w.place(ALICE, Side.SELL, 100, 2)
    bob = w.place(BOB, Side.SELL, 100, 3)
    receipt = w.place(ALICE, Side.BUY, 100, 4)
    assert receipt.code is Code.OK
    assert OrderClosed("BTC/USD", ALICE.address, own.nonce, "self_trade", 2) in receipt.events
    assert fills(receipt.events) == [(BOB.address, bob.nonce, 100, 3)]
    assert all(t.maker != t.taker for t in trades(receipt.events))
    assert w.exchange.order(ALICE.address, own.nonce) is None
    assert w.locked(ALICE, "BTC") == 0  # the cancelled sell's base is unlocked
    assert w.available(ALICE, "BTC") == BTC0 + 3 * BTC_LOT
    assert w.exchange.depth("BTC/USD").bids == ((100, 1),)
    assert w.exchange.depth("BTC/USD").asks == ()
    assert w.locked(ALICE, "USD") == 100


def test_self_trade_prevention_across_levels() -> None:
    w = world()
    w.order(BOB, Side.SELL, 99, 1)
    own_a = w.place(ALICE, Side.SELL, 100, 2)
    w.order(CAROL, Side.SELL, 100, 1)
    own_b = w.place(ALICE, Side.SELL, 101, 2)
    w.order(DAVE, Side.SELL, 102, 5)
    receipt = w.place(ALICE, Side.BUY, 102, 3, OrderType.IOC)
    assert [(m, p, n) for m, _, p, n in fills(receipt.events)] == [
        (BOB.address, 99, 1),
        (CAROL.address, 100, 1),
        (DAVE.address, 102, 1),
    ]
    reasons = {(c.nonce, c.reason) for c in closed(receipt.events) if c.owner == ALICE.address}
    assert (own_a.nonce, "self_trade") in reasons and (own_b.nonce, "self_trade") in reasons
    assert w.exchange.open_orders(ALICE.address) == []
    assert w.locked(ALICE, "BTC") == 0
    assert w.exchange.depth("BTC/USD").asks == ((102, 4),)


def test_own_order_beyond_the_fill_is_not_cancelled() -> None:
    """Only own orders the taker would actually have matched are cancelled."""
    w = world()
    w.order(BOB, Side.SELL, 100, 5)
    own = w.place(ALICE, Side.SELL, 100, 2)  # behind Bob in time
    receipt = w.place(ALICE, Side.BUY, 100, 5)
    assert [
        c for c in closed(receipt.events) if (c.owner, c.nonce) == (ALICE.address, own.nonce)
    ] == []
    assert w.exchange.order(ALICE.address, own.nonce) is not None
    assert w.locked(ALICE, "BTC") == 2 * BTC_LOT


def test_own_order_at_a_price_the_taker_does_not_reach_is_kept() -> None:
    w = world()
    own = w.place(ALICE, Side.SELL, 105, 2)
    w.order(ALICE, Side.BUY, 104, 1)
    assert w.exchange.order(ALICE.address, own.nonce) is not None


def test_ioc_against_only_own_orders_cancels_them_and_fills_nothing() -> None:
    w = world()
    own = w.place(ALICE, Side.BUY, 100, 3)
    receipt = w.place(ALICE, Side.SELL, 100, 3, OrderType.IOC)
    assert trades(receipt.events) == []
    assert [(c.nonce, c.reason) for c in closed(receipt.events)] == [
        (own.nonce, "self_trade"),
        (receipt.nonce, "unfilled"),
    ]
    assert w.exchange.balances(ALICE.address)["USD"].locked == 0
    assert w.available(ALICE, "USD") == USD0
    assert w.available(ALICE, "BTC") == BTC0


def test_limit_crossing_own_order_rests_after_cancelling_it() -> None:
    w = world()
    w.order(ALICE, Side.BUY, 100, 3)
    sell = w.place(ALICE, Side.SELL, 99, 2)
    depth = w.exchange.depth("BTC/USD")
    assert depth.bids == () and depth.asks == ((99, 2),)
    assert [o.nonce for o in w.exchange.open_orders(ALICE.address)] == [sell.nonce]


# --- price-time priority ------------------------------------------------------------


def test_earlier_order_at_the_same_price_fills_first() -> None:
    w = world()
    bob = w.place(BOB, Side.SELL, 100, 2)
    carol = w.place(CAROL, Side.SELL, 100, 2)
    receipt = w.place(ALICE, Side.BUY, 100, 3)
    assert fills(receipt.events) == [
        (BOB.address, bob.nonce, 100, 2),
        (CAROL.address, carol.nonce, 100, 1),
    ]


def test_better_price_fills_first_even_if_later() -> None:
    w = world()
    w.order(BOB, Side.SELL, 101, 2)
    carol = w.place(CAROL, Side.SELL, 100, 2)
    receipt = w.place(ALICE, Side.BUY, 101, 2)
    assert fills(receipt.events) == [(CAROL.address, carol.nonce, 100, 2)]


def test_better_bid_fills_first_for_a_seller() -> None:
    w = world()
    w.order(BOB, Side.BUY, 99, 2)
    carol = w.place(CAROL, Side.BUY, 100, 2)
    receipt = w.place(ALICE, Side.SELL, 99, 2)
    assert fills(receipt.events) == [(CAROL.address, carol.nonce, 100, 2)]


def test_partially_filled_maker_keeps_its_priority() -> None:
    w = world()
    bob = w.place(BOB, Side.SELL, 100, 5)
    w.order(CAROL, Side.SELL, 100, 5)
    w.order(ALICE, Side.BUY, 100, 2)
    receipt = w.place(DAVE, Side.BUY, 100, 1)
    assert fills(receipt.events) == [(BOB.address, bob.nonce, 100, 1)]


def test_cancel_and_replace_loses_priority() -> None:
    w = world()
    bob = w.place(BOB, Side.SELL, 100, 2)
    carol = w.place(CAROL, Side.SELL, 100, 2)
    w.run(BOB, CancelOrder(bob.nonce))
    bob_again = w.place(BOB, Side.SELL, 100, 2)
    receipt = w.place(ALICE, Side.BUY, 100, 3)
    assert fills(receipt.events) == [
        (CAROL.address, carol.nonce, 100, 2),
        (BOB.address, bob_again.nonce, 100, 1),
    ]


def test_priority_in_a_block_follows_the_canonical_execution_order() -> None:
    """Time is the canonical order: the fill order matches the sequence numbers given."""
    w = world()
    makers = [
        w.tx(trader, PlaceOrder("BTC/USD", Side.SELL, OrderType.LIMIT, 100, 1, 0))
        for trader in (BOB, CAROL, DAVE)
    ]
    result = w.block(makers)
    placed = [e for r in result.receipts for e in r.events if isinstance(e, OrderPlaced)]
    by_sequence = [p.owner for p in sorted(placed, key=lambda p: p.sequence)]
    assert by_sequence == [r.sender for r in result.receipts]
    taker = w.place(ALICE, Side.BUY, 100, 3)
    assert [t.maker for t in trades(taker.events)] == by_sequence


def test_resting_remainder_of_a_taker_queues_behind_earlier_orders() -> None:
    w = world()
    w.order(BOB, Side.SELL, 100, 1)
    alice = w.place(ALICE, Side.BUY, 101, 3)  # fills 1, rests 2 at 101
    carol = w.place(CAROL, Side.BUY, 101, 2)
    receipt = w.place(DAVE, Side.SELL, 101, 3)
    assert fills(receipt.events) == [
        (ALICE.address, alice.nonce, 101, 2),
        (CAROL.address, carol.nonce, 101, 1),
    ]


def test_trade_price_is_the_makers_price() -> None:
    w = world()
    w.order(BOB, Side.BUY, 105, 1)
    receipt = w.place(ALICE, Side.SELL, 90, 1)
    assert trades(receipt.events)[0].price_ticks == 105
    assert w.available(ALICE, "USD") == USD0 + 105


def test_taker_sweeps_many_levels_in_price_order() -> None:
    w = world()
    for price in (107, 103, 105, 101, 109):
        w.order(BOB, Side.SELL, price, 1)
    receipt = w.place(ALICE, Side.BUY, 108, 10)
    assert [p for *_, p, _ in fills(receipt.events)] == [101, 103, 105, 107]
    depth = w.exchange.depth("BTC/USD")
    assert depth.asks == ((109, 1),) and depth.bids == ((108, 6),)


def test_expiries_of_cancelled_orders_do_not_pile_up() -> None:
    """Place-and-cancel with a far expiry, over and over: the memory kept for expiries must
    follow the open orders, not every order ever placed (nothing else bounds it)."""
    w = world()
    w.check_invariants = False
    for _ in range(15):
        txs = []
        for _ in range(100):
            placed = w.tx(ALICE, PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 10, 1, 2**62))
            txs += [placed, w.tx(ALICE, CancelOrder(placed.nonce))]
        w.block(txs)
    state = w.exchange.state
    assert state.orders == {}
    assert len(state.expiries) < 1_500 / 2


def test_expiry_still_works_after_stale_expiries_are_reclaimed() -> None:
    w = world()
    w.check_invariants = False
    w.block([], timestamp_ms=10_000)
    keeper = w.tx(BOB, PlaceOrder("BTC/USD", Side.SELL, OrderType.LIMIT, 500, 1, 50_000))
    w.block([keeper], timestamp_ms=11_000)
    for _ in range(15):
        txs = []
        for _ in range(100):
            placed = w.tx(ALICE, PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 10, 1, 40_000))
            txs += [placed, w.tx(ALICE, CancelOrder(placed.nonce))]
        w.block(txs, timestamp_ms=12_000)
    assert w.block([], timestamp_ms=49_999).block_events == ()
    result = w.block([], timestamp_ms=50_000)
    assert [(e.owner, e.reason) for e in result.block_events] == [(BOB.address, "expired")]
