"""Block sync between nodes: followers catch up, and any node fills heights it skipped.

Two exchanges on the sync channel, each a request and a bounded reply:

- **follow** (followers): ``(REQUEST, from_height)`` is answered with
  ``(REPLY, ((block, certificate), ...))``, up to `limits.sync_blocks_max`
  stored blocks from that height on. The follower applies each through
  `bftx.consensus.apply_certified_block` (certificate, anchor, timestamp
  rule), so a lying validator can delay a follower but never mislead it.
- **backfill** (any node that skipped heights by state transfer):
  ``(BACKFILL_REQUEST, from_height, to_height)`` is answered with
  ``(BACKFILL_REPLY, ((block, certificate, result), ...))`` for the stored
  blocks in that range. The node cannot execute those blocks (it holds the
  state after them, not before), so it checks each certificate against the
  validator set, and takes a block's execution result only once f + 1
  validators sent the very same result bytes (one of them is honest). See
  `Backfill`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bftx import codec, crypto, limits
from bftx.errors import DecodeError

REQUEST = 1
REPLY = 2
BACKFILL_REQUEST = 3
BACKFILL_REPLY = 4

_CERTIFICATE_BYTES_MAX = 65_536


@dataclass(frozen=True, slots=True)
class SyncRequest:
    from_height: int


@dataclass(frozen=True, slots=True)
class SyncReply:
    blocks: tuple[tuple[bytes, bytes], ...]  # (block, certificate)


@dataclass(frozen=True, slots=True)
class BackfillRequest:
    from_height: int
    to_height: int  # inclusive


@dataclass(frozen=True, slots=True)
class BackfillReply:
    blocks: tuple[tuple[bytes, bytes, bytes], ...]  # (block, certificate, result)


SyncMessage = SyncRequest | SyncReply | BackfillRequest | BackfillReply


def encode_request(from_height: int) -> bytes:
    return codec.encode((REQUEST, from_height))


def encode_reply(blocks: list[tuple[bytes, bytes]]) -> bytes:
    return codec.encode((REPLY, tuple(blocks)))


def encode_backfill_request(from_height: int, to_height: int) -> bytes:
    return codec.encode((BACKFILL_REQUEST, (from_height, to_height)))


def encode_backfill_reply(blocks: list[tuple[bytes, bytes, bytes]]) -> bytes:
    return codec.encode((BACKFILL_REPLY, tuple(blocks)))


def decode_sync(payload: bytes) -> SyncMessage:
    kind, body = codec.expect_tuple(
        codec.decode(payload, limits.sync_reply_bytes_max), 2, "sync message"
    )
    if kind == REQUEST:
        return SyncRequest(codec.expect_int(body, "sync from_height", 1, 2**62))
    if kind == REPLY:
        entries = codec.expect_list(body, limits.sync_blocks_max, "sync blocks")
        blocks = []
        for entry in entries:
            block, certificate = codec.expect_tuple(entry, 2, "sync block")
            blocks.append((_block_bytes(block), _certificate_bytes(certificate)))
        return SyncReply(tuple(blocks))
    if kind == BACKFILL_REQUEST:
        low, high = codec.expect_tuple(body, 2, "backfill range")
        from_height = codec.expect_int(low, "backfill from_height", 1, 2**62)
        to_height = codec.expect_int(high, "backfill to_height", from_height, 2**62)
        return BackfillRequest(from_height, to_height)
    if kind == BACKFILL_REPLY:
        entries = codec.expect_list(body, limits.sync_blocks_max, "backfill blocks")
        filled = []
        for entry in entries:
            block, certificate, result = codec.expect_tuple(entry, 3, "backfill block")
            filled.append(
                (
                    _block_bytes(block),
                    _certificate_bytes(certificate),
                    codec.expect_bytes(
                        result, "backfill result bytes", max_size=limits.sync_reply_bytes_max
                    ),
                )
            )
        return BackfillReply(tuple(filled))
    raise DecodeError(f"sync message: unknown kind {kind!r}")


def _block_bytes(value: codec.Value) -> bytes:
    return codec.expect_bytes(value, "sync block bytes", max_size=limits.block_bytes_max)


def _certificate_bytes(value: codec.Value) -> bytes:
    return codec.expect_bytes(value, "sync certificate bytes", max_size=_CERTIFICATE_BYTES_MAX)


@dataclass
class Backfill:
    """The skipped heights a node is filling, and the replies it holds until f + 1 agree.

    Bounded: candidates are kept only for the range last asked for (at most
    `limits.sync_blocks_max` heights), at most one per validator and height.
    """

    agreement: int  # f + 1 validators must send the same result bytes
    gap: tuple[int, int] | None = None  # the lowest range of missing heights (inclusive)
    # height -> result hash -> (block, certificate, result, validators that sent it)
    candidates: dict[int, dict[bytes, tuple[bytes, bytes, bytes, set[bytes]]]] = field(
        default_factory=dict
    )

    def request_range(self) -> tuple[int, int] | None:
        if self.gap is None:
            return None
        low, high = self.gap
        return low, min(high, low + limits.sync_blocks_max - 1)

    def offer(
        self, sender: bytes, height: int, block: bytes, certificate: bytes, result: bytes
    ) -> tuple[bytes, bytes, bytes] | None:
        """A checked block from ``sender``; the block once f + 1 senders agree on its result."""
        wanted = self.request_range()
        if wanted is None or not wanted[0] <= height <= wanted[1]:
            return None
        variants = self.candidates.setdefault(height, {})
        if any(sender in senders for *_, senders in variants.values()):
            return None  # one vote per validator and height
        if len(variants) >= limits.sync_blocks_max:
            return None
        key = crypto.sha256(result)
        entry = variants.setdefault(key, (block, certificate, result, set()))
        entry[3].add(sender)
        if len(entry[3]) < self.agreement:
            return None
        del self.candidates[height]
        return entry[0], entry[1], entry[2]

    def set_gap(self, gap: tuple[int, int] | None) -> None:
        if gap != self.gap:
            self.gap = gap
            low = gap[0] if gap else 0
            for height in [h for h in self.candidates if h < low]:
                del self.candidates[height]
