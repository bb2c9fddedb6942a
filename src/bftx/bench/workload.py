"""Seeded order-flow workloads shared by the matching benchmark and the differential test.

The shape (issue 2): one market; 30% cancels of a random live order, 70% limit
orders; side 50/50; price = mid + a normal deviation of about 5 ticks;
quantity 1-10 lots. Which orders are live depends on matching, so the
generator runs the reference matcher (`bftx.exchange.book`) as it goes. The
result is a plain list of operations any matching engine can replay.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bftx.exchange.book import OrderBook, OrderBookApi, ReferenceOrderBook
from bftx.exchange.transactions import Side

MARKET = "BTC/USD"


@dataclass(frozen=True, slots=True)
class Place:
    order_id: int  # 1, 2, 3... in placement order
    side: Side
    price_ticks: int
    quantity_lots: int


@dataclass(frozen=True, slots=True)
class Cancel:
    order_id: int


Operation = Place | Cancel


def generate_operations(
    count: int,
    seed: int,
    mid_ticks: int = 100_000,
    spread_ticks: float = 5.0,
    cancel_share: float = 0.3,
) -> list[Operation]:
    generator = random.Random(seed)
    book = ReferenceOrderBook()
    live_ids: list[int] = []
    live_index: dict[int, int] = {}
    operations: list[Operation] = []

    def forget(order_id: int) -> None:
        index = live_index.pop(order_id)
        last = live_ids.pop()
        if last != order_id:
            live_ids[index] = last
            live_index[last] = index

    next_id = 1
    while len(operations) < count:
        if live_ids and generator.random() < cancel_share:
            order_id = live_ids[generator.randrange(len(live_ids))]
            book.cancel(order_id)
            forget(order_id)
            operations.append(Cancel(order_id))
            continue
        side = Side.BUY if generator.random() < 0.5 else Side.SELL
        price = max(1, mid_ticks + round(generator.gauss(0.0, spread_ticks)))
        lots = generator.randint(1, 10)
        order_id, next_id = next_id, next_id + 1
        operations.append(Place(order_id, side, price, lots))
        fills, _cancels, remaining = book.place(order_id, b"", side, price, lots, True, False)
        for maker_id, _lots, _price in fills:
            if book.remaining(maker_id) == 0:
                forget(maker_id)
        if remaining:
            live_index[order_id] = len(live_ids)
            live_ids.append(order_id)
    return operations


Fill = tuple[int, int, int, int]  # (price_ticks, quantity_lots, maker order id, taker order id)


def replay_bftx(operations: list[Operation], book: OrderBookApi | None = None) -> list[Fill]:
    """Run the operations through bftx's bare matcher (the native one unless ``book`` is given)."""
    book = book if book is not None else OrderBook()
    fills: list[Fill] = []
    append = fills.append
    place, cancel = book.place, book.cancel
    owner = b""
    for operation in operations:
        if type(operation) is Place:
            order_id = operation.order_id
            matched, _cancels, _remaining = place(
                order_id,
                owner,
                operation.side,
                operation.price_ticks,
                operation.quantity_lots,
                True,
                False,
            )
            for maker_id, lots, price in matched:
                append((price, lots, maker_id, order_id))
        else:
            cancel(operation.order_id)
    return fills


def replay_peer(operations: list[Operation]) -> list[Fill]:
    """Run the operations through `lightmatchingengine` (the peer); return its maker fills in order."""
    from lightmatchingengine.lightmatchingengine import LightMatchingEngine
    from lightmatchingengine.lightmatchingengine import Side as PeerSide

    engine = LightMatchingEngine()
    fills: list[Fill] = []
    append = fills.append
    buy, sell = PeerSide.BUY, PeerSide.SELL
    for operation in operations:
        if type(operation) is Place:
            side = buy if operation.side is Side.BUY else sell
            order, trades = engine.add_order(
                MARKET, operation.price_ticks, operation.quantity_lots, side
            )
            taker_id = order.order_id
            for trade in trades:
                if (
                    trade.order_id != taker_id
                ):  # the peer also reports the taker's aggregate per level
                    append((trade.trade_price, trade.trade_qty, trade.order_id, taker_id))
        else:
            engine.cancel_order(operation.order_id, MARKET)
    return fills
