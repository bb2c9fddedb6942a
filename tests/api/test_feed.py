"""The feed's book diffs, block by block, on a real exchange without a network.

The feed reads whatever the exchange holds when it publishes a block, so these
tests execute blocks on an `ExchangeApplication` and publish them by hand,
including the case where the node has committed further than the block being
published.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from bftx.access import AccessPolicy
from bftx.api import feed as feed_module
from bftx.api.feed import Feed, Update, compute_level_changes
from bftx.api.grpc import server as grpc_server
from bftx.consensus.messages import CommitCertificate
from bftx.crypto import KeyPair
from bftx.exchange import OrderType, PlaceOrder, Side, sign_tx
from bftx.exchange.application import ExchangeApplication
from bftx.exchange.genesis import ExchangeGenesis
from bftx.node.runtime import CommittedBlock
from bftx.node.testnet import CHAIN_ID, exchange_document

ACCOUNTS = ("registrar", "btc-issuer", "usd-issuer", "fees", "alice", "bob")


@dataclass(eq=False)  # subscribers are kept in sets, by identity
class Recorder:
    updates: list[dict[str, Any]] = field(default_factory=list)
    ended: str | None = None

    def deliver(self, update: Update) -> None:
        self.updates.append(update.payload)

    def end(self, reason: str) -> None:
        self.ended = reason


class FakeNode:
    """What the feed reads from a node: the application, the genesis and a block stream."""

    def __init__(self) -> None:
        self.keys = {name: KeyPair.generate() for name in ACCOUNTS}
        genesis = ExchangeGenesis.from_document(exchange_document(CHAIN_ID, self.keys))
        self.application = ExchangeApplication(genesis)
        self.genesis = SimpleNamespace(
            validators=[SimpleNamespace(name="node0")], access=AccessPolicy()
        )
        self.nonces = dict.fromkeys(ACCOUNTS, 0)

    async def subscribe(self) -> AsyncIterator[CommittedBlock]:
        await asyncio.Event().wait()  # the tests publish by hand
        yield  # type: ignore[misc]

    def order(self, name: str, side: Side, price_ticks: int, lots: int) -> bytes:
        nonce = self.nonces[name]
        self.nonces[name] += 1
        body = PlaceOrder("BTC/USD", side, OrderType.LIMIT, price_ticks, lots, 0)
        return sign_tx(self.keys[name], CHAIN_ID, nonce, body)

    def execute(self, *txs: bytes) -> CommittedBlock:
        height = self.application.exchange.height + 1
        self.application.execute_block(height, 1_000 * height, txs)
        result = self.application.last_result
        assert result is not None
        digest = bytes([height]) * 32
        certificate = CommitCertificate(0, height, digest, ())
        return CommittedBlock(height, digest, result.timestamp_ms, txs, certificate, result)


def run(test: Any) -> None:
    """Run ``test(node, feed)`` in an event loop (the feed starts its task on subscribe)."""

    async def main() -> None:
        node = FakeNode()
        feed = Feed(node)  # type: ignore[arg-type]
        try:
            test(node, feed)
        finally:
            await feed.stop()

    asyncio.run(main())


def subscribe_book(feed: Feed) -> tuple[Recorder, dict[str, Any]]:
    recorder = Recorder()
    snapshot = feed.subscribe(("book", "BTC/USD"), recorder)
    assert snapshot is not None
    return recorder, snapshot.payload


def test_level_changes_list_new_amounts_and_zeros_for_removed_levels() -> None:
    before = {100: 5, 99: 1, 98: 2}
    after = {100: 5, 99: 3, 97: 4}
    assert compute_level_changes(before, after, descending=True) == [(99, 3), (98, 0), (97, 4)]
    assert compute_level_changes(before, after, descending=False) == [(97, 4), (98, 0), (99, 3)]
    assert compute_level_changes(after, after, descending=True) == []


def test_each_block_that_changes_the_book_gets_one_diff_chained_to_the_last() -> None:
    def test(node: FakeNode, feed: Feed) -> None:
        recorder, snapshot = subscribe_book(feed)
        assert (snapshot["sequence"], snapshot["bids"], snapshot["asks"]) == (0, [], [])
        feed.publish(node.execute(node.order("alice", Side.BUY, 4_000_000, 100)))
        feed.publish(node.execute())  # an empty block: nothing changed
        feed.publish(node.execute(node.order("bob", Side.SELL, 4_100_000, 300)))
        first, second = recorder.updates
        assert (first["sequence"], first["previous_sequence"]) == (1, 0)
        assert first["bids"] == [["40000", "0.01000000"]] and first["asks"] == []
        assert (second["sequence"], second["previous_sequence"]) == (3, 1)
        assert second["bids"] == [] and second["asks"] == [["41000", "0.03000000"]]

    run(test)


def test_a_block_whose_trades_leave_the_book_as_it_was_sends_no_diff() -> None:
    def test(node: FakeNode, feed: Feed) -> None:
        recorder, _ = subscribe_book(feed)
        trades = Recorder()
        feed.subscribe(("trades", "BTC/USD"), trades)
        sell = node.order("bob", Side.SELL, 4_500_000, 50)
        buy = node.order("alice", Side.BUY, 4_500_000, 50)
        feed.publish(node.execute(sell, buy))
        assert recorder.updates == []
        [batch] = trades.updates
        assert [trade["amount"] for trade in batch["trades"]] == ["0.00500000"]

    run(test)


def test_a_feed_behind_the_node_labels_the_diff_with_the_later_height_once() -> None:
    def test(node: FakeNode, feed: Feed) -> None:
        recorder, _ = subscribe_book(feed)
        first = node.execute(node.order("alice", Side.BUY, 4_000_000, 100))
        second = node.execute(node.order("alice", Side.BUY, 3_900_000, 100))
        feed.publish(first)  # the exchange is already at height 2
        feed.publish(second)
        [diff] = recorder.updates
        assert (diff["sequence"], diff["previous_sequence"]) == (2, 0)
        assert diff["bids"] == [["40000", "0.01000000"], ["39000", "0.01000000"]]

    run(test)


def test_a_level_pushed_out_of_the_bounded_depth_is_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feed_module, "BOOK_LEVELS", 2)

    def test(node: FakeNode, feed: Feed) -> None:
        for price in (4_000_000, 3_900_000):
            node.execute(node.order("alice", Side.BUY, price, 10))
        recorder, snapshot = subscribe_book(feed)
        assert [price for price, _ in snapshot["bids"]] == ["40000", "39000"]
        feed.publish(node.execute(node.order("alice", Side.BUY, 4_100_000, 10)))
        [diff] = recorder.updates
        assert diff["bids"] == [["41000", "0.00100000"], ["39000", "0"]]

    run(test)


def test_a_late_subscriber_gets_the_book_as_of_the_last_diff() -> None:
    def test(node: FakeNode, feed: Feed) -> None:
        early, _ = subscribe_book(feed)
        feed.publish(node.execute(node.order("alice", Side.BUY, 4_000_000, 100)))
        feed.publish(node.execute())
        late, snapshot = subscribe_book(feed)
        assert snapshot["sequence"] == early.updates[-1]["sequence"] == 1
        feed.publish(node.execute(node.order("bob", Side.SELL, 4_200_000, 1)))
        assert late.updates == early.updates[-1:]
        assert late.updates[0]["previous_sequence"] == snapshot["sequence"]

    run(test)


def test_account_updates_go_only_to_the_accounts_involved() -> None:
    def test(node: FakeNode, feed: Feed) -> None:
        alice, bob = Recorder(), Recorder()
        feed.subscribe(("account", node.keys["alice"].address.hex()), alice)
        feed.subscribe(("account", node.keys["bob"].address.hex()), bob)
        feed.publish(node.execute(node.order("alice", Side.BUY, 4_000_000, 100)))
        assert bob.updates == []
        [update] = alice.updates
        assert [event["event"] for event in update["events"]] == ["tx", "order_placed"]
        assert {"asset": "USD", "available": "9999600.000000", "locked": "400.000000"} in (
            update["balances"]
        )

    run(test)


def test_stopping_the_feed_ends_every_subscriber() -> None:
    recorders = [Recorder(), Recorder()]

    def test(node: FakeNode, feed: Feed) -> None:
        feed.subscribe(("blocks", ""), recorders[0])
        feed.subscribe(("book", "BTC/USD"), recorders[1])

    run(test)
    assert all(recorder.ended for recorder in recorders)


def test_a_grpc_stream_too_slow_for_its_queue_ends_with_resource_exhausted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(grpc_server, "STREAM_QUEUE_MESSAGES_MAX", 2)

    async def main() -> None:
        node = FakeNode()
        feed = Feed(node)  # type: ignore[arg-type]
        stream = grpc_server._Stream(feed, ("blocks", ""))
        stream.start()
        for _ in range(3):
            feed.publish(node.execute())
        assert feed.subscriber_count() == 0
        with pytest.raises(grpc_server._StreamEnded) as ended:
            async for _ in stream.updates():
                pass
        assert ended.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        await feed.stop()

    asyncio.run(main())
