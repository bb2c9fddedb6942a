from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bftx import codec
from bftx.errors import DecodeError

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.binary(max_size=40)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5).map(tuple),
    max_leaves=20,
)


@given(values)
def test_round_trip_is_exact(value: codec.Value) -> None:
    data = codec.encode(value)
    assert codec.decode(data, max_bytes=len(data)) == value


@given(st.binary(max_size=64))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        codec.decode(data, max_bytes=64)


def test_trailing_bytes_are_rejected() -> None:
    with pytest.raises(DecodeError, match="trailing"):
        codec.decode(codec.encode((1, 2)) + b"\x00", max_bytes=100)


def test_oversized_input_is_rejected_before_parsing() -> None:
    with pytest.raises(DecodeError, match="exceeds"):
        codec.decode(codec.encode(b"x" * 100), max_bytes=50)


def test_non_canonical_integer_is_rejected() -> None:
    padded = b"\xcd\x00\x05"  # 5 as uint16 instead of a fixint
    with pytest.raises(DecodeError, match="canonical"):
        codec.decode(padded, max_bytes=10)


def test_maps_floats_and_extensions_are_rejected() -> None:
    with pytest.raises(DecodeError, match="maps"):
        codec.decode(msgpack.packb({"a": 1}), max_bytes=100)
    with pytest.raises(DecodeError, match="floats"):
        codec.decode(msgpack.packb((1.5,)), max_bytes=100)
    with pytest.raises(DecodeError, match="extension"):
        codec.decode(msgpack.packb(msgpack.ExtType(1, b"x")), max_bytes=100)


def test_invalid_utf8_and_truncation_are_decode_errors() -> None:
    with pytest.raises(DecodeError):
        codec.decode(b"\xa2\xff\xfe", max_bytes=10)
    with pytest.raises(DecodeError):
        codec.decode(codec.encode((1, b"abcdef"))[:-2], max_bytes=100)
    with pytest.raises(DecodeError, match="empty"):
        codec.decode(b"", max_bytes=10)


def test_deep_nesting_is_rejected() -> None:
    value: codec.Value = ()
    for _ in range(40):
        value = (value,)
    with pytest.raises(DecodeError, match="nesting"):
        codec.decode(codec.encode(value), max_bytes=1000)


def test_shape_checks_name_the_field() -> None:
    with pytest.raises(DecodeError, match="order: expected 3 fields, got 2"):
        codec.expect_tuple((1, 2), 3, "order")
    with pytest.raises(DecodeError, match="price: expected an integer, got bool"):
        codec.expect_int(True, "price")
    with pytest.raises(DecodeError, match=r"price: 0 is outside \[1, 10\]"):
        codec.expect_int(0, "price", low=1, high=10)
    with pytest.raises(DecodeError, match="key: expected 32 bytes, got 3"):
        codec.expect_bytes(b"abc", "key", size=32)
    with pytest.raises(DecodeError, match="memo: longer than 4 bytes"):
        codec.expect_str("hello", "memo", max_bytes=4)
    with pytest.raises(DecodeError, match="items exceeds"):
        codec.expect_list((1, 2, 3), 2, "txs")


def test_msgpack_timestamps_are_rejected() -> None:
    timestamp = msgpack.packb(msgpack.Timestamp(1, 0))
    with pytest.raises(DecodeError, match="Timestamp"):
        codec.decode(timestamp, max_bytes=100)
