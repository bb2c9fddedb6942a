"""Canonical encoding and strict decoding.

A value is ``None``, ``bool``, ``int`` (signed 64-bit range), ``bytes``, ``str``
or a tuple of values. Records are tuples with a fixed field order. There are
no maps and no floats, so every value has exactly one encoding: the bytes that
are signed and hashed. The wire format is MessagePack (compact, fast in C).

Decoding is strict: the input must be within its size bound, well formed, free
of trailing bytes, and *canonical* (re-encoding the value gives the same
bytes). Anything else raises `DecodeError` with a reason, never an
``IndexError``, ``KeyError`` or ``TypeError``. The ``expect_*`` helpers check
the shape of a decoded value, field by field, with a message that names the
field.
"""

from __future__ import annotations

from typing import TypeAlias

import msgpack

from bftx import limits
from bftx.errors import DecodeError

Value: TypeAlias = "bool | int | bytes | str | tuple[Value, ...] | None"

_I64_MIN = -(2**63)
_U64_MAX = 2**64 - 1


def _reject_map(_pairs: object) -> object:
    raise DecodeError("maps are not allowed in canonical encoding")


def _reject_ext(code: int, _data: bytes) -> object:
    raise DecodeError(f"extension type {code} is not allowed")


def encode(value: Value) -> bytes:
    """The canonical bytes of ``value``. The cores trust their own values; no re-validation."""
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed


def decode(
    data: bytes, max_bytes: int, max_items: int = limits.decode_container_items_max
) -> Value:
    """Decode canonical bytes of at most ``max_bytes`` (and lists of at most ``max_items``);
    raise `DecodeError` otherwise."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"expected bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise DecodeError(f"{len(data)} bytes exceeds the limit of {max_bytes}")
    if len(data) == 0:
        raise DecodeError("empty input")
    try:
        value = _unpack(data, max_bytes, min(max_items, max_bytes))
    except DecodeError:
        raise
    except msgpack.ExtraData as error:
        raise DecodeError("trailing bytes after the value") from error
    except (ValueError, TypeError, OverflowError, RecursionError) as error:
        # msgpack reports malformed input, invalid UTF-8 and exceeded limits as
        # ValueError subclasses; keep the library's reason in the message.
        raise DecodeError(f"malformed encoding: {error}") from error
    except Exception as error:
        raise DecodeError(f"malformed encoding: {type(error).__name__}: {error}") from error
    _check_scalars(value, depth=0)
    if encode(value) != bytes(data):
        raise DecodeError("not the canonical encoding of its value")
    return value


def peek(data: bytes, max_bytes: int) -> object | None:
    """The value of ``data`` read without `decode`'s checks of types, depth and canonical form
    (None if it cannot be read at all): for a hint that decides nothing on its own, at a
    fraction of `decode`'s cost."""
    if len(data) > max_bytes:
        return None
    try:
        return _unpack(data, max_bytes, min(limits.decode_container_items_max, max_bytes))
    except Exception:  # malformed input of any kind: no value to peek at
        return None


def _unpack(data: bytes, max_bytes: int, items_max: int) -> Value:
    """MessagePack within the size bounds, no maps or extension types; raises on anything else."""
    value: Value = msgpack.unpackb(
        data,
        raw=False,
        use_list=False,
        strict_map_key=True,
        object_pairs_hook=_reject_map,
        ext_hook=_reject_ext,
        max_bin_len=max_bytes,
        max_str_len=max_bytes,
        max_array_len=items_max,
        max_map_len=items_max,
        max_ext_len=max_bytes,
    )
    return value


_LEAVES = frozenset({type(None), bool, int, bytes, str})  # exact types msgpack returns
_DEPTH_MAX = 16


def _check_scalars(value: object, depth: int) -> None:
    """Only the allowed types, nested at most `_DEPTH_MAX` levels (no value deeper)."""
    kind = type(value)
    if kind is tuple:
        if depth >= _DEPTH_MAX and value:
            raise DecodeError(f"nesting deeper than {_DEPTH_MAX} levels")
        for item in value:  # type: ignore[attr-defined]
            item_kind = type(item)
            if item_kind is tuple:
                _check_scalars(item, depth + 1)
            elif item_kind not in _LEAVES:
                _refuse_type(item)
    elif kind not in _LEAVES:
        _refuse_type(value)


def _refuse_type(value: object) -> None:
    if isinstance(value, float):
        raise DecodeError("floats are not allowed in canonical encoding")
    raise DecodeError(f"{type(value).__name__} values are not allowed in canonical encoding")


# --- shape checks --------------------------------------------------------------


def expect_tuple(value: Value, length: int, what: str) -> tuple[Value, ...]:
    """``value`` as a tuple of exactly ``length`` items."""
    if not isinstance(value, tuple):
        raise DecodeError(f"{what}: expected a list of {length} fields, got {_kind(value)}")
    if len(value) != length:
        raise DecodeError(f"{what}: expected {length} fields, got {len(value)}")
    return value


def expect_list(value: Value, max_items: int, what: str) -> tuple[Value, ...]:
    """``value`` as a tuple of at most ``max_items`` items."""
    if not isinstance(value, tuple):
        raise DecodeError(f"{what}: expected a list, got {_kind(value)}")
    if len(value) > max_items:
        raise DecodeError(f"{what}: {len(value)} items exceeds the limit of {max_items}")
    return value


def expect_int(value: Value, what: str, low: int = 0, high: int = _U64_MAX) -> int:
    """``value`` as an integer in ``[low, high]`` (booleans are not integers here)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise DecodeError(f"{what}: expected an integer, got {_kind(value)}")
    if not low <= value <= high:
        raise DecodeError(f"{what}: {value} is outside [{low}, {high}]")
    return value


def expect_bool(value: Value, what: str) -> bool:
    if not isinstance(value, bool):
        raise DecodeError(f"{what}: expected a boolean, got {_kind(value)}")
    return value


def expect_bytes(value: Value, what: str, size: int | None = None, max_size: int = 2**20) -> bytes:
    """``value`` as bytes, of exactly ``size`` bytes when given, else at most ``max_size``."""
    if not isinstance(value, bytes):
        raise DecodeError(f"{what}: expected bytes, got {_kind(value)}")
    if size is not None and len(value) != size:
        raise DecodeError(f"{what}: expected {size} bytes, got {len(value)}")
    if len(value) > max_size:
        raise DecodeError(f"{what}: {len(value)} bytes exceeds the limit of {max_size}")
    return value


def expect_str(value: Value, what: str, max_bytes: int) -> str:
    if not isinstance(value, str):
        raise DecodeError(f"{what}: expected a string, got {_kind(value)}")
    if len(value.encode()) > max_bytes:
        raise DecodeError(f"{what}: longer than {max_bytes} bytes")
    return value


def _kind(value: object) -> str:
    if isinstance(value, tuple):
        return f"a list of {len(value)}"
    if value is None:
        return "nil"
    return type(value).__name__


assert _I64_MIN < 0 < _U64_MAX
