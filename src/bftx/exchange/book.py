"""The order book of one market: price-time priority over integer prices and sizes.

Pure data structure, no accounts and no money. `place` matches an incoming
order and reports fills and self-trade cancellations; the caller
(`execution`) settles them. Orders are identified by an integer id (the
exchange uses its global order sequence) and owned by a bytes owner (the
account address). This is also the "bare matching engine" the benchmark
compares with a peer.

Two implementations with one API and identical results:
- `ReferenceOrderBook` below: plain Python, written to be read;
- ``bftx.exchange._book.OrderBook``: the same algorithm in C (``_book.c``),
  about five times faster, tested against the reference on random operation
  sequences (tests/exchange/test_book.py).
`OrderBook` is the native one when it is built (``pip install`` builds it),
else the reference. Both are deterministic, so nodes running either agree.

Self-trade prevention policy: when an incoming order would match a resting
order of the same owner, the resting order is cancelled (taken out unfilled)
and matching goes on ("cancel resting"). The bare benchmark, which has no
owners, turns it off.
"""

from __future__ import annotations

import bisect
from collections import deque
from typing import Protocol

BUY = 0
SELL = 1

Fill = tuple[int, int, int]  # (maker order id, lots, price_ticks) at the maker's price
SelfTradeCancel = tuple[int, int]  # (maker order id, lots it still had)
PlaceResult = tuple[list[Fill], list[SelfTradeCancel] | None, int]  # ..., remaining lots


class OrderBookApi(Protocol):
    def place(
        self,
        order_id: int,
        owner: bytes,
        side: int,
        price_ticks: int,
        lots: int,
        rest: bool,
        prevent_self_trade: bool,
    ) -> PlaceResult: ...
    def cancel(self, order_id: int) -> int: ...
    def remaining(self, order_id: int) -> int: ...
    def best(self, side: int) -> int | None: ...
    def would_cross(self, side: int, price_ticks: int) -> bool: ...
    def fillable(self, side: int, price_ticks: int, lots: int, owner: bytes) -> int: ...
    def depth(self, side: int, levels: int) -> list[tuple[int, int]]: ...
    def orders(self) -> list[tuple[int, bytes, int, int, int]]: ...
    def levels(self, side: int) -> list[tuple[int, int, int]]: ...
    def __len__(self) -> int: ...


class _Resting:
    __slots__ = ("order_id", "owner", "price_ticks", "remaining", "side")

    def __init__(
        self, order_id: int, owner: bytes, side: int, price_ticks: int, remaining: int
    ) -> None:
        self.order_id = order_id
        self.owner = owner
        self.side = side
        self.price_ticks = price_ticks
        self.remaining = remaining


def _key(side: int, price_ticks: int) -> int:
    """Sort key of a level: ascending keys put the best level last on both sides."""
    return price_ticks if side == BUY else -price_ticks


class _Side:
    def __init__(self, side: int) -> None:
        self.side = side
        self.keys: list[int] = []  # sorted ascending, best last
        self.levels: dict[int, deque[_Resting]] = {}  # key -> orders in time order

    def best_key(self) -> int | None:
        return self.keys[-1] if self.keys else None

    def add(self, order: _Resting) -> None:
        key = _key(self.side, order.price_ticks)
        level = self.levels.get(key)
        if level is None:
            level = self.levels[key] = deque()
            bisect.insort(self.keys, key)
        level.append(order)

    def discard_level_if_empty(self, key: int) -> None:
        if not self.levels[key]:
            del self.levels[key]
            self.keys.pop(bisect.bisect_left(self.keys, key))


class ReferenceOrderBook:
    def __init__(self) -> None:
        self._sides = (_Side(BUY), _Side(SELL))
        self._orders: dict[int, _Resting] = {}

    def __len__(self) -> int:
        return len(self._orders)

    def place(
        self,
        order_id: int,
        owner: bytes,
        side: int,
        price_ticks: int,
        lots: int,
        rest: bool,
        prevent_self_trade: bool,
    ) -> PlaceResult:
        """Match an incoming order, then rest what is left if ``rest``.

        Returns the fills in execution order, the makers cancelled by
        self-trade prevention (None when there were none) and the lots that
        did not fill. An id already in the book is refused (`ValueError`)
        before anything matches: on any error the book is unchanged.
        """
        _check(order_id, side, price_ticks, lots)
        if order_id in self._orders:  # refused before anything matches: an error changes nothing
            raise ValueError(f"order id {order_id} is already in the book")
        opposite = self._sides[1 - side]
        bound = _key(opposite.side, price_ticks)
        fills: list[Fill] = []
        cancels: list[SelfTradeCancel] | None = None
        remaining = lots
        while remaining:
            key = opposite.best_key()
            if key is None or key < bound:
                break
            level = opposite.levels[key]
            while remaining and level:
                maker = level[0]
                if prevent_self_trade and maker.owner == owner:
                    cancels = cancels if cancels is not None else []
                    cancels.append((maker.order_id, maker.remaining))
                    self._forget(level.popleft())
                    continue
                lots_filled = min(maker.remaining, remaining)
                fills.append((maker.order_id, lots_filled, maker.price_ticks))
                maker.remaining -= lots_filled
                remaining -= lots_filled
                if maker.remaining == 0:
                    self._forget(level.popleft())
            opposite.discard_level_if_empty(key)
        if remaining and rest:
            resting = _Resting(order_id, owner, side, price_ticks, remaining)
            self._orders[order_id] = resting
            self._sides[side].add(resting)
        return fills, cancels, remaining

    def cancel(self, order_id: int) -> int:
        order = self._orders.get(order_id)
        if order is None:
            return 0
        side = self._sides[order.side]
        key = _key(order.side, order.price_ticks)
        side.levels[key].remove(order)
        side.discard_level_if_empty(key)
        self._forget(order)
        return order.remaining

    def remaining(self, order_id: int) -> int:
        order = self._orders.get(order_id)
        return 0 if order is None else order.remaining

    def best(self, side: int) -> int | None:
        key = self._sides[side].best_key()
        return None if key is None else _key(side, key)

    def would_cross(self, side: int, price_ticks: int) -> bool:
        opposite = self._sides[1 - side]
        key = opposite.best_key()
        return key is not None and key >= _key(opposite.side, price_ticks)

    def fillable(self, side: int, price_ticks: int, lots: int, owner: bytes) -> int:
        opposite = self._sides[1 - side]
        bound = _key(opposite.side, price_ticks)
        total = 0
        for key in reversed(opposite.keys):
            if key < bound or total >= lots:
                break
            total += sum(order.remaining for order in opposite.levels[key] if order.owner != owner)
        return min(total, lots)

    def depth(self, side: int, levels: int) -> list[tuple[int, int]]:
        return [
            (price, quantity) for price, quantity, _count in self.levels(side)[: max(levels, 0)]
        ]

    def levels(self, side: int) -> list[tuple[int, int, int]]:
        book_side = self._sides[side]
        return [
            (
                _key(side, key),
                sum(order.remaining for order in book_side.levels[key]),
                len(book_side.levels[key]),
            )
            for key in reversed(book_side.keys)
        ]

    def orders(self) -> list[tuple[int, bytes, int, int, int]]:
        return [
            (order.order_id, order.owner, order.side, order.price_ticks, order.remaining)
            for book_side in self._sides
            for key in reversed(book_side.keys)
            for order in book_side.levels[key]
        ]

    def _forget(self, order: _Resting) -> None:
        del self._orders[order.order_id]


_VALUE_MAX = 2**62


def _check(order_id: int, side: int, price_ticks: int, lots: int) -> None:
    if side not in (BUY, SELL):
        raise ValueError("side must be 0 (buy) or 1 (sell)")
    for what, value, low in (
        ("order id", order_id, 0),
        ("price", price_ticks, 1),
        ("lots", lots, 1),
    ):
        if not low <= value < _VALUE_MAX:
            raise ValueError(f"{what} out of range: {value}")


try:
    from bftx.exchange._book import OrderBook as _NativeOrderBook
except ImportError:  # not built: run on the reference, with the same results
    NATIVE = False
    OrderBook: type[OrderBookApi] = ReferenceOrderBook
else:
    NATIVE = True
    OrderBook = _NativeOrderBook
