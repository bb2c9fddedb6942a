"""Gossip batching: one frame per peer per flush, on size or on time, never back to the origin."""

from __future__ import annotations

import asyncio

import pytest

from bftx import codec
from bftx.crypto import sha256
from bftx.errors import DecodeError
from bftx.p2p import GossipBatcher, Message, SeenHashes, decode_batch, encode_batch
from tests.p2p.support import Cluster, receive, run

CHANNEL = 2
A, B, C = b"A" * 32, b"B" * 32, b"C" * 32


class RecordingSender:
    def __init__(self, peers: set[bytes]) -> None:
        self.peers = peers
        self.sent: list[tuple[bytes, int, tuple[bytes, ...]]] = []

    def send(self, peer: bytes, channel: int, payload: bytes) -> bool:
        self.sent.append((peer, channel, decode_batch(payload)))
        return True

    def connected_peers(self) -> frozenset[bytes]:
        return frozenset(self.peers)

    def batches_for(self, peer: bytes) -> list[tuple[bytes, ...]]:
        return [items for target, _channel, items in self.sent if target == peer]


def test_batch_is_sent_as_soon_as_it_is_full() -> None:
    async def body() -> None:
        sender = RecordingSender({A, B})
        batcher = GossipBatcher(sender, CHANNEL, items_per_batch_max=3, flush_interval_ms=60_000)
        batcher.add(b"tx1")
        batcher.add(b"tx2")
        assert sender.sent == []
        batcher.add(b"tx3")
        assert sender.batches_for(A) == [(b"tx1", b"tx2", b"tx3")]
        assert sender.batches_for(B) == [(b"tx1", b"tx2", b"tx3")]
        assert {channel for _peer, channel, _items in sender.sent} == {CHANNEL}
        assert batcher.pending_items == 0
        assert batcher.metrics.batches_sent == 2

    run(body)


def test_batch_is_sent_when_the_interval_passes() -> None:
    async def body() -> None:
        sender = RecordingSender({A})
        batcher = GossipBatcher(sender, CHANNEL, items_per_batch_max=100, flush_interval_ms=20)
        batcher.add(b"tx1")
        batcher.add(b"tx2")
        assert sender.sent == []
        await asyncio.sleep(0.2)
        assert sender.batches_for(A) == [(b"tx1", b"tx2")]

    run(body)


def test_batch_is_sent_before_it_would_exceed_its_byte_bound() -> None:
    async def body() -> None:
        sender = RecordingSender({A})
        batcher = GossipBatcher(
            sender,
            CHANNEL,
            items_per_batch_max=100,
            batch_bytes_max=2_100,
            item_bytes_max=1_000,
            flush_interval_ms=60_000,
        )
        for index in range(5):
            batcher.add(bytes([index]) * 1_000)
        assert [len(items) for items in sender.batches_for(A)] == [2, 2]
        assert batcher.pending_items == 1

    run(body)


def test_an_item_never_goes_back_to_the_peer_it_came_from() -> None:
    async def body() -> None:
        sender = RecordingSender({A, B, C})
        batcher = GossipBatcher(sender, CHANNEL, items_per_batch_max=100, flush_interval_ms=60_000)
        batcher.add(b"from A", origin=A)
        batcher.add(b"from B", origin=B)
        batcher.add(b"local")
        # The same item arriving from C while pending: C does not get it back either.
        assert not batcher.add(b"from A", origin=C)
        batcher.flush()
        assert sender.batches_for(A) == [(b"from B", b"local")]
        assert sender.batches_for(B) == [(b"from A", b"local")]
        assert sender.batches_for(C) == [(b"from B", b"local")]

    run(body)


def test_duplicates_are_dropped_by_hash() -> None:
    async def body() -> None:
        sender = RecordingSender({A})
        batcher = GossipBatcher(sender, CHANNEL, items_per_batch_max=100, flush_interval_ms=60_000)
        assert batcher.add(b"tx")
        batcher.flush()
        assert not batcher.add(b"tx")
        assert not batcher.add(b"other bytes", item_hash=sha256(b"tx"))
        batcher.flush()
        assert sender.batches_for(A) == [(b"tx",)]
        assert batcher.metrics.duplicates_dropped == 2
        assert batcher.seen(sha256(b"tx"))

    run(body)


def test_seen_hashes_stay_bounded_and_remember_the_recent_half() -> None:
    seen = SeenHashes(capacity=100)
    for index in range(1_000):
        assert seen.add(index.to_bytes(4, "big"))
        assert len(seen) <= 100
    for index in range(950, 1_000):
        assert index.to_bytes(4, "big") in seen
    assert (0).to_bytes(4, "big") not in seen


def test_batch_decoding_is_strict() -> None:
    assert decode_batch(encode_batch([b"a", b"b"])) == (b"a", b"b")
    for bad in [codec.encode(b"not a list"), codec.encode(("text",)), b"\xc1"]:
        with pytest.raises(DecodeError):
            decode_batch(bad)
    with pytest.raises(DecodeError):
        decode_batch(encode_batch([b"a", b"b", b"c"]), items_max=2)
    with pytest.raises(DecodeError):
        decode_batch(encode_batch([b"x" * 11]), item_bytes_max=10)


def test_gossip_over_real_links_reaches_every_peer_but_the_origin() -> None:
    async def body() -> None:
        cluster = Cluster.create(3)
        networks = await cluster.start()
        try:
            batcher = GossipBatcher(networks[1], CHANNEL, flush_interval_ms=5)
            for index in range(50):
                batcher.add(f"tx{index}".encode(), origin=cluster.key(0))
            expected = tuple(f"tx{index}".encode() for index in range(50))
            message = await receive(networks[2])
            assert message == Message(cluster.key(1), CHANNEL, encode_batch(expected))
            assert decode_batch(message.payload) == expected
            # one frame for fifty items; nothing went back to node 0
            assert batcher.metrics.batches_sent == 1
            with pytest.raises(TimeoutError):
                await receive(networks[0], timeout_s=0.2)
        finally:
            await cluster.close()

    run(body)
