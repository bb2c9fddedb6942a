"""The order book of one market and its matcher: price-time priority, integers only.

Pure data structure, no accounts and no money: `match` reports fills and
self-trade cancellations, and the caller (`execution`) settles them. This is
also the "bare matching engine" the benchmark compares with a peer.

Each side keeps a dict of price levels and a heap of level keys (the price for
asks, minus the price for bids, so the best level has the smallest key).
Removed levels leave stale heap keys that are skipped lazily; the heap is
rebuilt when stale keys outnumber live ones. A level is a deque of orders in
time order; a cancelled order is marked dead in place and skipped when it
reaches the front, and the deque is compacted when dead entries dominate.
All of it is O(log levels) per new level and O(1) per fill or cancel.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

from bftx.exchange.transactions import Side

OrderKey = tuple[bytes, int]  # (owner address, nonce of the placing tx)


class Order:
    """A resting (or incoming) order. Mutable: ``remaining_lots`` falls as it fills."""

    __slots__ = (
        "expires_at_ms",
        "key",
        "market",
        "order_type",
        "owner",
        "price_ticks",
        "quantity_lots",
        "remaining_lots",
        "sequence",
        "side",
    )

    def __init__(
        self,
        key: OrderKey,
        market: str,
        side: Side,
        order_type: int,
        price_ticks: int,
        quantity_lots: int,
        sequence: int,
        expires_at_ms: int = 0,
    ) -> None:
        self.key = key
        self.owner = key[0]
        self.market = market
        self.side = side
        self.order_type = order_type
        self.price_ticks = price_ticks
        self.quantity_lots = quantity_lots
        self.remaining_lots = quantity_lots
        self.sequence = sequence
        self.expires_at_ms = expires_at_ms

    def __repr__(self) -> str:
        return (
            f"Order({self.key[0].hex()[:8]}/{self.key[1]} {self.side.name} "
            f"{self.remaining_lots}/{self.quantity_lots} @ {self.price_ticks})"
        )


class Level:
    __slots__ = ("live", "orders", "quantity_lots")

    def __init__(self) -> None:
        self.orders: deque[Order] = deque()
        self.live = 0
        self.quantity_lots = 0


@dataclass(slots=True)
class MatchResult:
    fills: list[tuple[Order, int]]  # (maker, lots) in execution order; price is the maker's
    self_trade_cancelled: list[Order]  # makers of the taker's own account, removed unfilled
    remaining_lots: int


class BookSide:
    """One side of a book. Keys are ``sign * price`` so the best level has the smallest key."""

    __slots__ = ("heap", "in_heap", "levels", "sign")

    def __init__(self, side: Side) -> None:
        self.sign = -1 if side is Side.BUY else 1
        self.levels: dict[int, Level] = {}
        self.heap: list[int] = []
        self.in_heap: set[int] = set()

    def best_key(self) -> int | None:
        heap, levels = self.heap, self.levels
        while heap:
            key = heap[0]
            if key in levels:
                return key
            heapq.heappop(heap)
            self.in_heap.discard(key)
        return None

    def best_price(self) -> int | None:
        key = self.best_key()
        return None if key is None else key * self.sign

    def add(self, order: Order) -> None:
        key = order.price_ticks * self.sign
        level = self.levels.get(key)
        if level is None:
            level = self.levels[key] = Level()
            if key not in self.in_heap:
                heapq.heappush(self.heap, key)
                self.in_heap.add(key)
                if len(self.heap) > 2 * len(self.levels) + 64:
                    self._rebuild_heap()
        level.orders.append(order)
        level.live += 1
        level.quantity_lots += order.remaining_lots

    def remove(self, order: Order) -> None:
        """Take a live resting order out of the book (cancel, expiry)."""
        key = order.price_ticks * self.sign
        level = self.levels[key]
        level.quantity_lots -= order.remaining_lots
        level.live -= 1
        order.remaining_lots = 0  # marks it dead where it sits in the deque
        if level.live == 0:
            del self.levels[key]
        elif len(level.orders) > 2 * level.live + 16:
            level.orders = deque(o for o in level.orders if o.remaining_lots)

    def sorted_levels(self, limit: int) -> list[tuple[int, int]]:
        """The best ``limit`` levels as (price_ticks, quantity_lots), best first."""
        keys = heapq.nsmallest(limit, self.levels)
        return [(key * self.sign, self.levels[key].quantity_lots) for key in keys]

    def _rebuild_heap(self) -> None:
        self.heap = list(self.levels)
        heapq.heapify(self.heap)
        self.in_heap = set(self.heap)


class OrderBook:
    __slots__ = ("asks", "bids", "market")

    def __init__(self, market: str) -> None:
        self.market = market
        self.bids = BookSide(Side.BUY)
        self.asks = BookSide(Side.SELL)

    def side(self, side: Side) -> BookSide:
        return self.bids if side is Side.BUY else self.asks

    def opposite(self, side: Side) -> BookSide:
        return self.asks if side is Side.BUY else self.bids

    def add(self, order: Order) -> None:
        self.side(order.side).add(order)

    def remove(self, order: Order) -> None:
        self.side(order.side).remove(order)

    def would_cross(self, side: Side, price_ticks: int) -> bool:
        """True when an order at ``price_ticks`` would take liquidity right now."""
        opposite = self.opposite(side)
        best = opposite.best_key()
        return best is not None and best <= price_ticks * opposite.sign

    def match(
        self, side: Side, price_ticks: int, quantity_lots: int, owner: bytes | None
    ) -> MatchResult:
        """Take liquidity for an incoming order up to ``price_ticks``; ``owner``'s own makers are cancelled.

        Self-trade prevention policy: a resting order of the same owner that
        would be matched is cancelled (taken out unfilled), and matching goes on.
        """
        opposite = self.opposite(side)
        levels = opposite.levels
        bound = price_ticks * opposite.sign
        fills: list[tuple[Order, int]] = []
        cancelled: list[Order] = []
        remaining = quantity_lots
        while remaining:
            key = opposite.best_key()
            if key is None or key > bound:
                break
            level = levels[key]
            orders = level.orders
            while remaining and orders:
                maker = orders[0]
                lots = maker.remaining_lots
                if lots == 0:
                    orders.popleft()
                    continue
                if maker.owner == owner:
                    orders.popleft()
                    level.live -= 1
                    level.quantity_lots -= lots
                    cancelled.append(maker)
                    continue
                if lots > remaining:
                    lots = remaining
                maker.remaining_lots -= lots
                level.quantity_lots -= lots
                remaining -= lots
                fills.append((maker, lots))
                if maker.remaining_lots == 0:
                    orders.popleft()
                    level.live -= 1
            if level.live == 0:
                del levels[key]
        return MatchResult(fills, cancelled, remaining)

    def fillable_lots(
        self, side: Side, price_ticks: int, quantity_lots: int, owner: bytes | None
    ) -> int:
        """How many lots an incoming order could fill now (own orders excluded), up to ``quantity_lots``."""
        opposite = self.opposite(side)
        bound = price_ticks * opposite.sign
        total = 0
        for key in sorted(key for key in opposite.levels if key <= bound):
            level = opposite.levels[key]
            for order in level.orders:
                if order.remaining_lots and order.owner != owner:
                    total += order.remaining_lots
                    if total >= quantity_lots:
                        return quantity_lots
        return total
