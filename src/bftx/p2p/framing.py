"""The frame format on a validator link (sans-IO: bytes in, values out).

A frame is a 4-byte big-endian length followed by that many bytes of body.
The body is the canonical encoding (`bftx.codec`) of ``(channel, payload)``:
an integer in ``[0, frame_channel_max]`` and opaque bytes. Channel 0 belongs
to the transport (keepalive, with an empty payload); the others belong to the
node (consensus, gossip, state transfer), which encodes its own payloads.

Owns: building frames and parsing them strictly. Must never: interpret a
payload, accept a length of zero or above `limits.frame_bytes_max`, or raise
anything but `FrameError` on bad input.
"""

from __future__ import annotations

from bftx import codec, limits
from bftx.errors import DecodeError

HEADER_BYTES = 4
CONTROL_CHANNEL = 0
KEEPALIVE_PAYLOAD = b""


class FrameError(DecodeError):
    """A frame that breaks the format. ``reason`` is a stable slug for metrics."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def encode_frame(channel: int, payload: bytes) -> bytes:
    """The bytes on the wire for one frame. Raises `ValueError` for a caller's mistake."""
    if not 0 <= channel <= limits.frame_channel_max:
        raise ValueError(f"channel {channel} is outside [0, {limits.frame_channel_max}]")
    body = codec.encode((channel, bytes(payload)))
    if len(body) > limits.frame_bytes_max:
        raise ValueError(f"a frame of {len(body)} bytes exceeds {limits.frame_bytes_max}")
    return len(body).to_bytes(HEADER_BYTES, "big") + body


def decode_length(header: bytes) -> int:
    """The body length announced by a 4-byte header, checked against the cap."""
    assert len(header) == HEADER_BYTES
    length = int.from_bytes(header, "big")
    if length == 0:
        raise FrameError("empty_frame", "a frame length of zero")
    if length > limits.frame_bytes_max:
        raise FrameError(
            "oversized_frame", f"length {length} exceeds the limit of {limits.frame_bytes_max}"
        )
    return length


def decode_body(body: bytes) -> tuple[int, bytes]:
    """``(channel, payload)`` from a frame body; `FrameError` unless canonical and well formed."""
    try:
        value = codec.decode(body, limits.frame_bytes_max)
        fields = codec.expect_tuple(value, 2, "frame")
        channel = codec.expect_int(fields[0], "frame channel", 0, limits.frame_channel_max)
        payload = codec.expect_bytes(fields[1], "frame payload", max_size=limits.frame_bytes_max)
    except DecodeError as error:
        raise FrameError("malformed_frame", str(error)) from error
    if channel == CONTROL_CHANNEL and payload != KEEPALIVE_PAYLOAD:
        raise FrameError("malformed_frame", "unknown control message")
    return channel, payload


KEEPALIVE_FRAME = encode_frame(CONTROL_CHANNEL, KEEPALIVE_PAYLOAD)
