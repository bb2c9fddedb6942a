"""bftx's matcher against peers: lightmatchingengine (nobody here wrote it) and our own reference.

On random sequences of plain limit orders and cancels of live orders, every
implementation must produce the same fills (price, quantity, maker, taker) in
the same order.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bftx.bench.workload import generate_operations, replay_bftx, replay_peer
from bftx.exchange import book


@pytest.mark.parametrize("seed", range(5))
def test_bftx_and_lightmatchingengine_agree_on_seeded_workloads(seed: int) -> None:
    operations = generate_operations(5_000, seed)
    fills = replay_bftx(operations)
    assert len(fills) > 500, "the workload should cross often"
    assert fills == replay_peer(operations)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    count=st.integers(min_value=1, max_value=400),
    spread=st.floats(min_value=0.5, max_value=20.0),
    cancel_share=st.floats(min_value=0.0, max_value=0.6),
)
def test_bftx_and_lightmatchingengine_agree_on_random_workloads(
    seed: int, count: int, spread: float, cancel_share: float
) -> None:
    operations = generate_operations(count, seed, spread_ticks=spread, cancel_share=cancel_share)
    assert replay_bftx(operations) == replay_peer(operations)


def test_reference_book_agrees_with_lightmatchingengine() -> None:
    operations = generate_operations(5_000, 99)
    assert replay_bftx(operations, book.ReferenceOrderBook()) == replay_peer(operations)


class _LastInFirstOutSide(book._Side):
    """A deliberately broken side: newer orders jump the queue at their price."""

    def add(self, order: book._Resting) -> None:
        super().add(order)
        level = self.levels[book._key(self.side, order.price_ticks)]
        level.rotate(1)


def test_the_comparison_catches_a_broken_matcher() -> None:
    broken = book.ReferenceOrderBook()
    broken._sides = (_LastInFirstOutSide(book.BUY), _LastInFirstOutSide(book.SELL))
    operations = generate_operations(2_000, 3)
    assert replay_bftx(operations, broken) != replay_peer(operations)
