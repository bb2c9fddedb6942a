"""Queries the API needs: depth, an order by (owner, nonce), open orders, balances, trades."""

from __future__ import annotations

from bftx import limits
from bftx.errors import Code
from bftx.exchange import Balance, CancelOrder, OrderType, PlaceOrder, Side, Transfer

from .support import ALICE, BOB, CAROL, OUTSIDER, World

BTC0 = 100 * 10**8
USD0 = 10_000_000 * 10**6


def world() -> World:
    return World.create([ALICE, BOB, CAROL])


def test_depth_aggregates_orders_per_level_best_first() -> None:
    w = world()
    for who, side, price, lots in [
        (ALICE, Side.BUY, 98, 1),
        (BOB, Side.BUY, 99, 2),
        (CAROL, Side.BUY, 99, 3),
        (ALICE, Side.BUY, 97, 4),
        (BOB, Side.SELL, 103, 5),
        (CAROL, Side.SELL, 101, 6),
        (ALICE, Side.SELL, 101, 7),
        (BOB, Side.SELL, 102, 8),
    ]:
        assert w.order(who, side, price, lots) is Code.OK
    depth = w.exchange.depth("BTC/USD")
    assert depth is not None
    assert depth.market == "BTC/USD" and depth.height == w.exchange.height
    assert depth.bids == ((99, 5), (98, 1), (97, 4))
    assert depth.asks == ((101, 13), (102, 8), (103, 5))


def test_depth_is_limited_to_the_requested_levels() -> None:
    w = world()
    txs = [
        w.tx(ALICE, PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, p, 1, 0)) for p in range(1, 31)
    ]
    w.block(txs)
    assert w.exchange.depth("BTC/USD", levels=3).bids == ((30, 1), (29, 1), (28, 1))
    assert len(w.exchange.depth("BTC/USD").bids) == 30
    assert len(w.exchange.depth("BTC/USD", levels=10**9).bids) == 30


def test_depth_query_never_returns_more_than_the_limit() -> None:
    w = world()
    w.check_invariants = False
    count = limits.book_depth_levels_max + 5
    traders = (ALICE, BOB, CAROL)  # an account may have at most 1_000 open orders
    w.block(
        [
            w.tx(traders[p % 3], PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, p, 1, 0))
            for p in range(1, count + 1)
        ]
    )
    depth = w.exchange.depth("BTC/USD", levels=count)
    assert len(depth.bids) == limits.book_depth_levels_max
    assert depth.bids[0] == (count, 1)


def test_depth_follows_fills_and_cancels() -> None:
    w = world()
    ask = w.place(BOB, Side.SELL, 101, 5)
    w.order(CAROL, Side.SELL, 101, 2)
    w.order(ALICE, Side.BUY, 101, 3)
    assert w.exchange.depth("BTC/USD").asks == ((101, 4),)
    w.run(BOB, CancelOrder(ask.nonce))
    assert w.exchange.depth("BTC/USD").asks == ((101, 2),)
    w.order(ALICE, Side.BUY, 101, 2)
    assert w.exchange.depth("BTC/USD").asks == ()


def test_depth_of_an_unknown_market_is_none() -> None:
    assert world().exchange.depth("DOGE/USD") is None


def test_depth_of_the_other_market_is_separate() -> None:
    w = world()
    w.order(ALICE, Side.BUY, 50, 1, market="ETH/BTC")
    assert w.exchange.depth("BTC/USD").bids == ()
    assert w.exchange.depth("ETH/BTC").bids == ((50, 1),)


def test_order_by_owner_and_nonce() -> None:
    w = world()
    w.run(ALICE, Transfer("BTC", BOB.address, 1))  # nonce 0 is not an order
    receipt = w.place(ALICE, Side.SELL, 120, 9, OrderType.POST_ONLY)
    view = w.exchange.order(ALICE.address, receipt.nonce)
    assert view is not None
    assert (view.market, view.owner, view.nonce, view.side) == (
        "BTC/USD",
        ALICE.address,
        1,
        Side.SELL,
    )
    assert (view.order_type, view.price_ticks, view.quantity_lots, view.remaining_lots) == (
        OrderType.POST_ONLY,
        120,
        9,
        9,
    )
    assert view.expires_at_ms == 0 and view.sequence >= 1
    assert w.exchange.order(ALICE.address, 0) is None
    assert w.exchange.order(BOB.address, receipt.nonce) is None
    assert w.exchange.order(OUTSIDER.address, 0) is None


def test_order_query_shows_the_remaining_after_a_partial_fill() -> None:
    w = world()
    receipt = w.place(ALICE, Side.SELL, 120, 9)
    w.order(BOB, Side.BUY, 120, 4)
    view = w.exchange.order(ALICE.address, receipt.nonce)
    assert view is not None and (view.quantity_lots, view.remaining_lots) == (9, 5)


def test_open_orders_in_placement_order_with_market_filter() -> None:
    w = world()
    first = w.place(ALICE, Side.BUY, 90, 1)
    second = w.place(ALICE, Side.SELL, 200, 1, market="ETH/BTC")
    third = w.place(ALICE, Side.SELL, 150, 1)
    w.order(BOB, Side.BUY, 10, 1)
    assert [o.nonce for o in w.exchange.open_orders(ALICE.address)] == [
        first.nonce,
        second.nonce,
        third.nonce,
    ]
    assert [o.nonce for o in w.exchange.open_orders(ALICE.address, "BTC/USD")] == [
        first.nonce,
        third.nonce,
    ]
    assert [o.nonce for o in w.exchange.open_orders(ALICE.address, "ETH/BTC")] == [second.nonce]
    assert w.exchange.open_orders(ALICE.address, "NOPE") == []
    assert w.exchange.open_orders(OUTSIDER.address) == []


def test_balances_split_available_and_locked_and_omit_zero() -> None:
    w = World.create([ALICE, BOB], btc=0)
    assert w.exchange.balances(ALICE.address) == {"USD": Balance(USD0, 0)}
    w.order(ALICE, Side.BUY, 100, 3)
    assert w.exchange.balances(ALICE.address)["USD"] == Balance(USD0 - 300, 300)
    assert w.exchange.balances(OUTSIDER.address) == {}


def test_balances_are_listed_in_symbol_order() -> None:
    w = world()
    assert list(w.exchange.balances(ALICE.address)) == ["BTC", "ETH", "USD"]


def test_recent_trades_newest_first_with_limit() -> None:
    w = world()
    w.order(BOB, Side.SELL, 100, 1)
    w.order(BOB, Side.SELL, 101, 1)
    w.order(BOB, Side.SELL, 102, 1)
    w.order(ALICE, Side.BUY, 101, 2)
    w.order(CAROL, Side.BUY, 102, 1)
    trades = w.exchange.recent_trades("BTC/USD")
    assert [t.price_ticks for t in trades] == [102, 101, 100]
    assert [t.trade_id for t in trades] == sorted((t.trade_id for t in trades), reverse=True)
    assert [t.price_ticks for t in w.exchange.recent_trades("BTC/USD", limit=2)] == [102, 101]
    assert w.exchange.recent_trades("BTC/USD", limit=0) == []
    assert w.exchange.recent_trades("ETH/BTC") == []
    assert w.exchange.recent_trades("NOPE") == []
    newest = trades[0]
    assert (newest.maker, newest.taker, newest.taker_side) == (BOB.address, CAROL.address, Side.BUY)
    assert newest.timestamp_ms == w.timestamp_ms


def test_recent_trades_keep_at_most_the_limit() -> None:
    w = world()
    w.check_invariants = False
    trades_total = limits.recent_trades_max + 10
    sells = [
        w.tx(BOB if i % 2 else CAROL, PlaceOrder("BTC/USD", Side.SELL, OrderType.LIMIT, 100, 1, 0))
        for i in range(trades_total)
    ]
    w.block(sells)
    w.block([w.tx(ALICE, PlaceOrder("BTC/USD", Side.BUY, OrderType.IOC, 100, trades_total, 0))])
    trades = w.exchange.recent_trades("BTC/USD", limit=10**6)
    assert len(trades) == limits.recent_trades_max
    assert trades[0].trade_id == trades_total
    assert trades[-1].trade_id == 11


def test_trade_ids_are_global_and_increasing() -> None:
    w = world()
    w.order(BOB, Side.SELL, 100, 1)
    w.order(ALICE, Side.BUY, 100, 1)
    w.order(BOB, Side.SELL, 100, 1, market="ETH/BTC")
    w.order(ALICE, Side.BUY, 100, 1, market="ETH/BTC")
    assert w.exchange.recent_trades("BTC/USD")[0].trade_id == 1
    assert w.exchange.recent_trades("ETH/BTC")[0].trade_id == 2


def test_nonce_and_registration_queries() -> None:
    w = world()
    assert w.exchange.nonce(ALICE.address) == 0
    w.order(ALICE, Side.BUY, 100, 1)
    assert w.exchange.nonce(ALICE.address) == 1
    assert w.exchange.nonce(OUTSIDER.address) == 0
    assert w.exchange.is_registered(ALICE.address)
    assert not w.exchange.is_registered(OUTSIDER.address)
    assert w.available(ALICE, "BTC") == BTC0
