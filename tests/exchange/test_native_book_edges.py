"""Edges of the native order book's id table that random operation sequences do not reach.

The C table marks empty and deleted slots with the keys -1 and -2, so an id
lookup of a negative id must never compare equal to a marker and hand back an
uninitialised or freed slot. Each case runs in a child process: a memory
error there is a crash, not an exception.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bftx.exchange import book

pytestmark = pytest.mark.skipif(not book.NATIVE, reason="the native book is not built")

_PROGRAM = """
from bftx.exchange import book
native, reference = book.OrderBook(), book.ReferenceOrderBook()
for implementation in (native, reference):
    for order_id in range(1, 40):
        implementation.place(order_id, b"o", order_id % 2, 100 + order_id, 1, True, True)
    for order_id in range(1, 40, 2):
        implementation.cancel(order_id)
for order_id in [{ids}]:
    assert native.remaining(order_id) == reference.remaining(order_id), order_id
    assert native.cancel(order_id) == reference.cancel(order_id), order_id
assert len(native) == len(reference)
print("ok")
"""


@pytest.mark.parametrize("ids", ["-1", "-2", "-1, -2, -3, -(2**62)"])
def test_negative_order_ids_are_not_found(ids: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _PROGRAM.format(ids=ids)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, (completed.returncode, completed.stderr[-2_000:])
    assert completed.stdout.strip() == "ok"


@pytest.mark.parametrize("side", [2, -1, 2**32, 2**32 + 1, -(2**32)])
def test_a_side_out_of_range_is_rejected_not_truncated(side: int) -> None:
    """The native book once cast a side to a C int: 2**32 became BUY."""
    native = book.OrderBook()
    with pytest.raises(ValueError, match="side"):
        native.place(1, b"o", side, 100, 1, True, True)
    for query in (native.best, native.levels):
        with pytest.raises(ValueError, match="side"):
            query(side)
    with pytest.raises(ValueError, match="side"):
        native.would_cross(side, 100)
    with pytest.raises(ValueError, match="side"):
        native.depth(side, 5)
    with pytest.raises(ValueError, match="side"):
        native.fillable(side, 100, 1, b"o")
    assert len(native) == 0
