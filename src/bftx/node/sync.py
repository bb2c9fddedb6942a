"""Block sync for followers: ask a validator for certified blocks from a height on.

A follower does not vote. It sends ``(REQUEST, from_height)`` on the sync
channel; a validator answers ``(REPLY, ((block, certificate), ...))`` with up
to `limits.sync_blocks_max` stored blocks. The follower verifies each
certificate against the genesis validator set before executing anything, so a
lying validator can delay a follower but never mislead it.
"""

from __future__ import annotations

from bftx import codec, limits
from bftx.errors import DecodeError

REQUEST = 1
REPLY = 2


def encode_request(from_height: int) -> bytes:
    return codec.encode((REQUEST, from_height))


def encode_reply(blocks: list[tuple[bytes, bytes]]) -> bytes:
    return codec.encode((REPLY, tuple(blocks)))


def decode_sync(payload: bytes) -> tuple[int, int | tuple[tuple[bytes, bytes], ...]]:
    """``(REQUEST, from_height)`` or ``(REPLY, ((block, certificate), ...))``."""
    kind, body = codec.expect_tuple(
        codec.decode(payload, limits.sync_reply_bytes_max), 2, "sync message"
    )
    if kind == REQUEST:
        return REQUEST, codec.expect_int(body, "sync from_height", 1, 2**62)
    if kind == REPLY:
        entries = codec.expect_list(body, limits.sync_blocks_max, "sync blocks")
        blocks = []
        for entry in entries:
            block, certificate = codec.expect_tuple(entry, 2, "sync block")
            blocks.append(
                (
                    codec.expect_bytes(block, "sync block bytes", max_size=limits.block_bytes_max),
                    codec.expect_bytes(certificate, "sync certificate bytes", max_size=65_536),
                )
            )
        return REPLY, tuple(blocks)
    raise DecodeError(f"sync message: unknown kind {kind!r}")
