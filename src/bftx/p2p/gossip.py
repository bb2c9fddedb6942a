"""Batched gossip of opaque items (admitted txs) to every connected peer.

Owns: collecting items into one frame per peer (flushed when
``items_per_batch_max`` items or ``batch_bytes_max`` bytes are pending, or
``flush_interval_ms`` after the first pending item), never sending an item
back to a peer it came from, dropping items already seen (by SHA-256, in a
bounded cache), and the strict decoding of a received batch.

A batch payload is the canonical encoding (`bftx.codec`) of a list of byte
strings. What an item means, and whether it deserves gossiping (admission),
is the caller's business: the mempool calls `GossipBatcher.add` for each tx it
admitted, with the peer it came from.

Must never: send one frame per item, hold more than the bounded number of
pending items or remembered hashes, or block its caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from bftx import codec, limits
from bftx.crypto import sha256

_ITEM_OVERHEAD_BYTES = 5  # a msgpack bin header is at most 5 bytes
_LIST_OVERHEAD_BYTES = 5


class Sender(Protocol):
    """What the batcher needs from the transport (`bftx.p2p.Network` is one)."""

    def send(self, peer: bytes, channel: int, payload: bytes) -> bool: ...

    def connected_peers(self) -> frozenset[bytes]: ...


class SeenHashes:
    """A bounded set of recently seen hashes: two generations, the older one forgotten as a whole.

    Holds at most ``capacity`` hashes and remembers at least the last
    ``capacity // 2`` added. O(1) per operation, no per-entry bookkeeping.
    """

    __slots__ = ("_current", "_generation_max", "_previous")

    def __init__(self, capacity: int) -> None:
        if capacity < 2:
            raise ValueError("a seen-hash cache holds at least 2 hashes")
        self._generation_max = capacity // 2
        self._current: set[bytes] = set()
        self._previous: set[bytes] = set()

    def __contains__(self, item_hash: bytes) -> bool:
        return item_hash in self._current or item_hash in self._previous

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    def add(self, item_hash: bytes) -> bool:
        """Remember ``item_hash``; False when it was already remembered."""
        if item_hash in self._current or item_hash in self._previous:
            return False
        if len(self._current) >= self._generation_max:
            self._previous = self._current
            self._current = set()
        self._current.add(item_hash)
        return True


class GossipMetrics:
    __slots__ = ("batches_sent", "duplicates_dropped", "items_added", "items_sent")

    def __init__(self) -> None:
        self.items_added = 0
        self.duplicates_dropped = 0
        self.batches_sent = 0  # one per peer per flush
        self.items_sent = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class GossipBatcher:
    """Accumulates items and sends each connected peer one batch frame on ``channel``.

    `add` must be called from inside the running event loop (the time trigger
    uses the loop's timer).
    """

    def __init__(
        self,
        sender: Sender,
        channel: int,
        *,
        items_per_batch_max: int = limits.gossip_batch_items_max,
        batch_bytes_max: int = limits.gossip_batch_bytes_max,
        flush_interval_ms: int = limits.gossip_flush_interval_ms,
        item_bytes_max: int = limits.gossip_item_bytes_max,
        seen_hashes_max: int = limits.gossip_seen_hashes_max,
    ) -> None:
        if not 0 < items_per_batch_max <= limits.gossip_batch_items_max:
            raise ValueError(f"items_per_batch_max must be in [1, {limits.gossip_batch_items_max}]")
        if not item_bytes_max + _ITEM_OVERHEAD_BYTES + _LIST_OVERHEAD_BYTES <= batch_bytes_max:
            raise ValueError("batch_bytes_max must hold at least one item of item_bytes_max")
        if batch_bytes_max > limits.gossip_batch_bytes_max:
            raise ValueError(f"batch_bytes_max exceeds {limits.gossip_batch_bytes_max}")
        self.sender = sender
        self.channel = channel
        self.items_per_batch_max = items_per_batch_max
        self.batch_bytes_max = batch_bytes_max
        self.flush_interval_ms = flush_interval_ms
        self.item_bytes_max = item_bytes_max
        self.metrics = GossipMetrics()
        self._seen = SeenHashes(seen_hashes_max)
        # Pending items in arrival order; the set holds the peers they came from.
        self._pending: dict[bytes, tuple[bytes, set[bytes] | None]] = {}
        self._pending_bytes = _LIST_OVERHEAD_BYTES
        self._timer: asyncio.TimerHandle | None = None

    @property
    def pending_items(self) -> int:
        return len(self._pending)

    def seen(self, item_hash: bytes) -> bool:
        return item_hash in self._seen

    def add(self, item: bytes, origin: bytes | None = None, item_hash: bytes | None = None) -> bool:
        """Queue ``item`` for every connected peer except ``origin``; False if already seen.

        ``item_hash`` is the item's SHA-256 when the caller has it already. A
        duplicate that is still pending also stops it going back to ``origin``.
        """
        if len(item) > self.item_bytes_max:
            raise ValueError(f"a gossip item of {len(item)} bytes exceeds {self.item_bytes_max}")
        key = sha256(item) if item_hash is None else item_hash
        if not self._seen.add(key):
            self.metrics.duplicates_dropped += 1
            if origin is not None and key in self._pending:
                self._exclude(key, origin)
            return False
        self.metrics.items_added += 1
        size = len(item) + _ITEM_OVERHEAD_BYTES
        if self._pending_bytes + size > self.batch_bytes_max:
            self.flush()
        self._pending[key] = (item, None if origin is None else {origin})
        self._pending_bytes += size
        if len(self._pending) >= self.items_per_batch_max:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(
                self.flush_interval_ms / 1000, self.flush
            )
        return True

    def flush(self) -> None:
        """Send what is pending now, one frame per connected peer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        entries = list(self._pending.values())
        self._pending.clear()
        self._pending_bytes = _LIST_OVERHEAD_BYTES
        everything: bytes | None = None
        for peer in sorted(self.sender.connected_peers()):
            items = [item for item, origins in entries if origins is None or peer not in origins]
            if not items:
                continue
            if len(items) == len(entries):
                everything = everything or encode_batch(items)
                payload = everything
            else:
                payload = encode_batch(items)
            if self.sender.send(peer, self.channel, payload):
                self.metrics.batches_sent += 1
                self.metrics.items_sent += len(items)

    def close(self) -> None:
        """Flush what is pending and stop the timer."""
        self.flush()

    def _exclude(self, key: bytes, origin: bytes) -> None:
        item, origins = self._pending[key]
        if origins is None:
            self._pending[key] = (item, {origin})
        else:
            origins.add(origin)


def encode_batch(items: Sequence[bytes]) -> bytes:
    return codec.encode(tuple(items))


def decode_batch(
    payload: bytes,
    items_max: int = limits.gossip_batch_items_max,
    item_bytes_max: int = limits.gossip_item_bytes_max,
) -> tuple[bytes, ...]:
    """The items of a received batch; `bftx.errors.DecodeError` unless canonical and within bounds."""
    value = codec.decode(payload, limits.gossip_batch_bytes_max)
    items = codec.expect_list(value, items_max, "gossip batch")
    return tuple(codec.expect_bytes(item, "gossip item", max_size=item_bytes_max) for item in items)
