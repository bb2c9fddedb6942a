"""Block results survive encoding exactly, and damaged bytes raise DecodeError only."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from bftx.errors import DecodeError
from bftx.exchange import OrderType, PlaceOrder, Side
from bftx.exchange.events import decode_block_result, encode_block_result
from tests.exchange.support import key
from tests.exchange.test_snapshot import busy_world


def a_result_with_trades():  # type: ignore[no-untyped-def]
    world = busy_world()
    taker = key(103)
    return world.block(
        [world.tx(taker, PlaceOrder("BTC/USD", Side.BUY, OrderType.IOC, 4_500_100, 20, 0))]
    )


def test_block_result_round_trip_is_exact() -> None:
    result = a_result_with_trades()
    assert any(receipt.events for receipt in result.receipts)
    assert decode_block_result(encode_block_result(result)) == result


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.data())
def test_damaged_results_raise_decode_errors_only(data: st.DataObject) -> None:
    encoded = bytearray(encode_block_result(a_result_with_trades()))
    position = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    encoded[position] = data.draw(st.integers(min_value=0, max_value=255))
    with contextlib.suppress(DecodeError):
        decode_block_result(bytes(encoded))
