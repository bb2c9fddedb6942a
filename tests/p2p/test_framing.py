"""The frame format: what is accepted, and that nothing else escapes as anything but FrameError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bftx import codec, limits
from bftx.p2p.framing import (
    HEADER_BYTES,
    KEEPALIVE_FRAME,
    FrameError,
    decode_body,
    decode_length,
    encode_frame,
)


def test_frame_round_trips() -> None:
    frame = encode_frame(3, b"payload")
    length = decode_length(frame[:HEADER_BYTES])
    assert length == len(frame) - HEADER_BYTES
    assert decode_body(frame[HEADER_BYTES:]) == (3, b"payload")
    assert decode_body(KEEPALIVE_FRAME[HEADER_BYTES:]) == (0, b"")


def test_lengths_outside_the_bounds_are_refused() -> None:
    with pytest.raises(FrameError) as empty:
        decode_length((0).to_bytes(4, "big"))
    assert empty.value.reason == "empty_frame"
    with pytest.raises(FrameError) as oversized:
        decode_length((limits.frame_bytes_max + 1).to_bytes(4, "big"))
    assert oversized.value.reason == "oversized_frame"
    assert decode_length(limits.frame_bytes_max.to_bytes(4, "big")) == limits.frame_bytes_max


def test_the_largest_payload_fills_the_largest_frame() -> None:
    # The network refuses payloads above frame_bytes_max - 8 before encoding them.
    largest = encode_frame(limits.frame_channel_max, bytes(limits.frame_bytes_max - 8))
    assert len(largest) == HEADER_BYTES + limits.frame_bytes_max
    with pytest.raises(ValueError):
        encode_frame(limits.frame_channel_max, bytes(limits.frame_bytes_max - 7))


def test_a_caller_cannot_build_a_bad_frame() -> None:
    with pytest.raises(ValueError):
        encode_frame(limits.frame_channel_max + 1, b"")
    with pytest.raises(ValueError):
        encode_frame(-1, b"")


@pytest.mark.parametrize(
    "body",
    [
        codec.encode((1,)),
        codec.encode((1, b"x", b"y")),
        codec.encode((True, b"x")),
        codec.encode((1, "text")),
        codec.encode((256, b"x")),
        codec.encode((0, b"not a keepalive")),
        codec.encode(b"bare bytes"),
        b"\x92\xcc\x01\xc4\x00",  # 1 encoded as uint8: not canonical
        codec.encode((1, b"x")) + b"\x00",  # trailing byte
        b"\xc1",
    ],
)
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(FrameError) as error:
        decode_body(body)
    assert error.value.reason == "malformed_frame"


@given(st.binary(min_size=1, max_size=64))
def test_arbitrary_bytes_raise_only_frame_errors(body: bytes) -> None:
    try:
        channel, payload = decode_body(body)
    except FrameError:
        return
    assert encode_frame(channel, payload)[HEADER_BYTES:] == body
