"""Committed-data streams behind the push APIs (WebSocket and gRPC).

Owns: one task per node that reads ``node.subscribe()`` and turns each
committed block into updates exactly once (book diffs, trades, the block,
per-account events), and the topics that transports subscribe to. Every
subscriber of a topic receives the very same `Update`; a transport encodes an
update once (`Update.encoded` memoises it) and puts it in its own bounded
queue. A subscriber that cannot keep up closes itself; the feed never waits
for a client.

Book diffs compare the committed depth (the best `BOOK_LEVELS` levels a side)
before and after each block that touched the market. Each diff carries
``sequence`` (the height the book is as of) and ``previous_sequence`` (the
sequence of the diff before it, or of the snapshot), so a client that missed
one sees ``previous_sequence`` differ from the last sequence it applied and
resyncs from a new snapshot. Levels carry absolute amounts ("0" removes the
level), so applying a diff twice is harmless.

Must never: show uncommitted state, or do per-subscriber work per block
beyond handing over an update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from bftx.api.contracts import contract_account_events
from bftx.api.interchain import interchain_account_events
from bftx.api.units import format_amount, format_price, format_size
from bftx.errors import CODE_DESCRIPTIONS
from bftx.exchange.events import (
    Deposited,
    Event,
    OrderClosed,
    OrderPlaced,
    Registered,
    Trade,
    Transferred,
    Withdrawn,
)
from bftx.exchange.machine import Depth, Exchange
from bftx.exchange.transactions import Side
from bftx.node.runtime import CommittedBlock, Node

logger = logging.getLogger("bftx.api")

BOOK_LEVELS = 50  # levels per side that book snapshots and diffs cover
CHANNELS = ("book", "trades", "blocks", "account")

Payload = dict[str, Any]
Topic = tuple[str, str]  # (channel, key): key is a market ("BTC/USD"), an address (hex) or ""
T = TypeVar("T")


class Update:
    """One message for every subscriber of ``topic``; encodings are computed once and shared."""

    __slots__ = ("_encoded", "payload", "topic")

    def __init__(self, topic: Topic, payload: Payload) -> None:
        self.topic = topic
        self.payload = payload
        self._encoded: dict[str, object] = {}

    def encoded(self, form: str, encode: Callable[[Payload], T]) -> T:
        if form not in self._encoded:
            self._encoded[form] = encode(self.payload)
        return cast(T, self._encoded[form])


class Subscriber(Protocol):
    def deliver(self, update: Update) -> None:
        """Queue ``update`` without waiting; a subscriber whose queue is full closes itself."""

    def end(self, reason: str) -> None:
        """The feed stopped: close with ``reason`` (the client resubscribes and resyncs)."""


@dataclass(slots=True)
class _Book:
    sequence: int  # height of the last diff sent (or of the first look at the book)
    bids: dict[int, int]  # price_ticks -> quantity_lots
    asks: dict[int, int]


def market_label(symbol: str) -> str:
    """``BTC/USD`` -> ``BTC-USD`` (how market symbols appear in the APIs)."""
    return symbol.replace("/", "-")


def find_market(exchange: Exchange, text: str) -> str | None:
    """The internal symbol of a market written ``BTC-USD`` (any case), or None if unknown."""
    symbol = text.replace("-", "/").upper()
    return symbol if symbol in exchange.state.markets else None


class Feed:
    """The one fan-out of committed blocks of a node. Use `feed_for(node)`."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._topics: dict[Topic, set[Subscriber]] = {}
        self._books: dict[str, _Book] = {}
        self._task: asyncio.Task[None] | None = None

    # --- subscriptions ---------------------------------------------------------------

    def subscribe(self, topic: Topic, subscriber: Subscriber) -> Update | None:
        """Add ``subscriber`` to ``topic``; for a book, return the snapshot to send first.

        Nothing awaits between taking the snapshot and registering, so the
        first diff the subscriber receives follows the snapshot exactly.
        """
        channel, key = topic
        assert channel in CHANNELS
        self._start()
        self._topics.setdefault(topic, set()).add(subscriber)
        if channel != "book":
            return None
        book = self._books.get(key)
        if book is None:
            depth = self._exchange().depth(key, BOOK_LEVELS)
            assert depth is not None, f"unknown market {key}"
            book = _Book(depth.height, dict(depth.bids), dict(depth.asks))
            self._books[key] = book
        return Update(topic, self._book_payload("book_snapshot", key, book, None))

    def unsubscribe(self, topic: Topic, subscriber: Subscriber) -> None:
        subscribers = self._topics.get(topic)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._topics[topic]
                if topic[0] == "book":  # the next subscriber starts from a fresh snapshot
                    self._books.pop(topic[1], None)

    def remove(self, subscriber: Subscriber) -> None:
        for topic in [t for t, members in self._topics.items() if subscriber in members]:
            self.unsubscribe(topic, subscriber)

    def subscriber_count(self) -> int:
        return sum(len(members) for members in self._topics.values())

    # --- the fan-out task ------------------------------------------------------------

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._end_all("the server is stopping")

    async def _run(self) -> None:
        try:
            async for block in self._node.subscribe():
                self.publish(block)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must not take the node down; clients resync
            logger.exception("the API feed failed")
        # The node ended our stream: it stopped, or we fell too far behind. Either way
        # every subscriber must resync from a new snapshot.
        self._end_all("stream interrupted: resubscribe to resync")

    def _end_all(self, reason: str) -> None:
        subscribers = {s for members in self._topics.values() for s in members}
        self._topics.clear()
        self._books.clear()
        for subscriber in subscribers:
            subscriber.end(reason)

    def publish(self, block: CommittedBlock) -> None:
        """Turn one committed block into updates, each built once, and hand them out."""
        if not self._topics:
            return
        events = [e for r in block.result.receipts for e in r.events]
        events.extend(block.result.block_events)
        updates = self._book_updates(block, events)
        updates += self._trade_updates(block, events)
        if ("blocks", "") in self._topics:
            updates.append(Update(("blocks", ""), self._block_payload(block)))
        updates += self._account_updates(block, events)
        for update in updates:
            for subscriber in list(self._topics.get(update.topic, ())):
                subscriber.deliver(update)

    def _exchange(self) -> Exchange:  # read it each time: state transfer may replace it
        return self._node.application.exchange

    # --- books -----------------------------------------------------------------------

    def _book_updates(self, block: CommittedBlock, events: list[Event]) -> list[Update]:
        if block.certificate is None:  # restored by state transfer: anything may have changed
            touched = set(self._books)
        else:
            touched = {
                e.market
                for e in events
                if isinstance(e, OrderPlaced | Trade | OrderClosed) and e.market in self._books
            }
        updates = []
        for symbol in sorted(touched):
            depth = self._exchange().depth(symbol, BOOK_LEVELS)
            assert depth is not None
            payload = self._advance(symbol, depth)
            if payload is not None:
                updates.append(Update(("book", symbol), payload))
        return updates

    def _advance(self, symbol: str, depth: Depth) -> Payload | None:
        """The diff from the book last sent to ``depth``, or None when no level changed.

        ``depth`` may be ahead of the block being published (the node committed
        more while this task waited); the diff is then labelled with the later
        height and the later blocks find nothing left to send.
        """
        book = self._books[symbol]
        bids, asks = dict(depth.bids), dict(depth.asks)
        changed_bids = compute_level_changes(book.bids, bids, descending=True)
        changed_asks = compute_level_changes(book.asks, asks, descending=False)
        if (not changed_bids and not changed_asks) or depth.height <= book.sequence:
            return None
        previous = book.sequence
        book.sequence, book.bids, book.asks = depth.height, bids, asks
        changes = _Book(depth.height, dict(changed_bids), dict(changed_asks))
        return self._book_payload("book_diff", symbol, changes, previous)

    def _book_payload(
        self, kind: str, symbol: str, book: _Book, previous_sequence: int | None
    ) -> Payload:
        state = self._exchange().state
        market = state.markets[symbol]
        base, quote = state.assets[market.base], state.assets[market.quote]

        def amount(lots: int) -> str:
            return format_size(lots, market, base) if lots else "0"  # "0": the level is gone

        def levels(entries: dict[int, int], descending: bool) -> list[list[str]]:
            return [
                [format_price(p, market, base, quote), amount(entries[p])]
                for p in sorted(entries, reverse=descending)
            ]

        payload: Payload = {"type": kind, "market": market_label(symbol), "sequence": book.sequence}
        if previous_sequence is not None:
            payload["previous_sequence"] = previous_sequence
        payload["bids"] = levels(book.bids, True)
        payload["asks"] = levels(book.asks, False)
        return payload

    # --- trades and blocks -----------------------------------------------------------

    def _trade_updates(self, block: CommittedBlock, events: list[Event]) -> list[Update]:
        by_market: dict[str, list[Trade]] = {}
        for event in events:
            if isinstance(event, Trade) and ("trades", event.market) in self._topics:
                by_market.setdefault(event.market, []).append(event)
        return [
            Update(
                ("trades", symbol),
                {
                    "type": "trades",
                    "market": market_label(symbol),
                    "height": block.height,
                    "trades": [self._trade_payload(trade) for trade in trades],
                },
            )
            for symbol, trades in by_market.items()
        ]

    def _trade_payload(self, trade: Trade) -> Payload:
        state = self._exchange().state
        market = state.markets[trade.market]
        base, quote = state.assets[market.base], state.assets[market.quote]
        return {
            "trade_id": trade.trade_id,
            "price": format_price(trade.price_ticks, market, base, quote),
            "amount": format_size(trade.quantity_lots, market, base),
            "taker_side": _side(trade.taker_side),
            "maker_order_id": self._order_id(trade.maker, trade.maker_nonce),
            "taker_order_id": self._order_id(trade.taker, trade.taker_nonce),
            "timestamp_ms": trade.timestamp_ms,
        }

    def _order_id(self, owner: bytes, nonce: int) -> str:
        """Empty in a permissioned network: public trades name no participant."""
        if self._node.genesis.access.permissioned:
            return ""
        return f"{owner.hex()}:{nonce}"

    def _block_payload(self, block: CommittedBlock) -> Payload:
        names = [v.name for v in self._node.genesis.validators]
        certificate = block.certificate
        return {
            "type": "block",
            "height": block.height,
            "hash": block.block_hash.hex(),
            "timestamp_ms": block.timestamp_ms,
            "tx_count": len(block.txs),
            "tx_hashes": [receipt.tx_hash.hex() for receipt in block.result.receipts],
            "accepted_count": sum(1 for r in block.result.receipts if not r.code),
            "state_root": block.result.state_root.hex(),
            "certificate": None
            if certificate is None
            else {
                "view": certificate.view,
                "signers": [names[share.signer] for share in certificate.shares],
            },
        }

    # --- accounts --------------------------------------------------------------------

    def _account_updates(self, block: CommittedBlock, events: list[Event]) -> list[Update]:
        watched = {key for channel, key in self._topics if channel == "account"}
        if not watched:
            return []
        found: dict[str, list[Payload]] = {}

        def add(owner: bytes, payload: Payload) -> None:
            address = owner.hex()
            if address in watched:
                found.setdefault(address, []).append(payload)

        for receipt in block.result.receipts:
            add(
                receipt.sender,
                {
                    "event": "tx",
                    "tx_hash": receipt.tx_hash.hex(),
                    "nonce": receipt.nonce,
                    "code": receipt.code.slug,
                    "message": CODE_DESCRIPTIONS[receipt.code],
                },
            )
        for event in events:
            for owner, payload in self._account_events(event):
                add(owner, payload)
        exchange = self._exchange()
        updates = []
        for address, entries in found.items():
            updates.append(
                Update(
                    ("account", address),
                    {
                        "type": "account",
                        "address": address,
                        "height": block.height,
                        "events": entries,
                        "balances": balances_payload(exchange, bytes.fromhex(address)),
                        "balances_height": exchange.height,
                    },
                )
            )
        return updates

    def _account_events(self, event: Event) -> list[tuple[bytes, Payload]]:
        state = self._exchange().state
        if isinstance(event, OrderPlaced):
            market = state.markets[event.market]
            base, quote = state.assets[market.base], state.assets[market.quote]
            return [
                (
                    event.owner,
                    {
                        "event": "order_placed",
                        "order_id": f"{event.owner.hex()}:{event.nonce}",
                        "market": market_label(event.market),
                        "side": _side(event.side),
                        "order_type": event.order_type.name.lower(),
                        "price": format_price(event.price_ticks, market, base, quote),
                        "amount": format_size(event.quantity_lots, market, base),
                    },
                )
            ]
        if isinstance(event, Trade):
            return [
                (event.maker, self._fill(event, "maker")),
                (event.taker, self._fill(event, "taker")),
            ]
        if isinstance(event, OrderClosed):
            market = state.markets[event.market]
            return [
                (
                    event.owner,
                    {
                        "event": "order_closed",
                        "order_id": f"{event.owner.hex()}:{event.nonce}",
                        "market": market_label(event.market),
                        "reason": event.reason,
                        "remaining": format_size(
                            event.remaining_lots, market, state.assets[market.base]
                        ),
                    },
                )
            ]
        if isinstance(event, Registered):
            return [(event.address, {"event": "registered"})]
        if isinstance(event, Deposited):
            return [(event.recipient, self._movement("deposited", event.asset, event.amount))]
        if isinstance(event, Withdrawn):
            return [(event.account, self._movement("withdrawn", event.asset, event.amount))]
        if isinstance(event, Transferred):
            return [
                (event.sender, self._movement("transfer_sent", event.asset, event.amount)),
                (event.recipient, self._movement("transfer_received", event.asset, event.amount)),
            ]
        found = contract_account_events(event, state.contracts, state.assets)
        return found or interchain_account_events(event, state.assets)

    def _fill(self, trade: Trade, role: str) -> Payload:
        state = self._exchange().state
        market = state.markets[trade.market]
        base, quote = state.assets[market.base], state.assets[market.quote]
        side = trade.taker_side if role == "taker" else Side(1 - trade.taker_side)
        owner, nonce, fee = (
            (trade.taker, trade.taker_nonce, trade.taker_fee)
            if role == "taker"
            else (trade.maker, trade.maker_nonce, trade.maker_fee)
        )
        received = base if side is Side.BUY else quote  # fees are taken from what one receives
        return {
            "event": "fill",
            "order_id": f"{owner.hex()}:{nonce}",
            "market": market_label(trade.market),
            "trade_id": trade.trade_id,
            "role": role,
            "side": _side(side),
            "price": format_price(trade.price_ticks, market, base, quote),
            "amount": format_size(trade.quantity_lots, market, base),
            "fee": format_amount(fee, received.decimals),
            "fee_asset": received.symbol,
        }

    def _movement(self, kind: str, asset: str, amount: int) -> Payload:
        decimals = self._exchange().state.assets[asset].decimals
        return {"event": kind, "asset": asset, "amount": format_amount(amount, decimals)}


def compute_level_changes(
    before: dict[int, int], after: dict[int, int], descending: bool
) -> list[tuple[int, int]]:
    """Levels whose amount differs, best first; a level that disappeared has amount 0."""
    changed = {price: lots for price, lots in after.items() if before.get(price) != lots}
    changed.update({price: 0 for price in before if price not in after})
    return sorted(changed.items(), reverse=descending)


def balances_payload(exchange: Exchange, owner: bytes) -> list[Payload]:
    result = []
    for symbol, balance in exchange.balances(owner).items():
        decimals = exchange.state.assets[symbol].decimals
        result.append(
            {
                "asset": symbol,
                "available": format_amount(balance.available, decimals),
                "locked": format_amount(balance.locked, decimals),
            }
        )
    return result


def _side(side: Side) -> str:
    return "buy" if side is Side.BUY else "sell"


_feeds: weakref.WeakKeyDictionary[Node, Feed] = weakref.WeakKeyDictionary()


def feed_for(node: Node) -> Feed:
    """The node's one feed, shared by every transport."""
    feed = _feeds.get(node)
    if feed is None:
        feed = _feeds[node] = Feed(node)
    return feed
