"""The native order book (C) against the reference (Python): one API, identical results."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bftx.exchange import book

pytestmark = pytest.mark.skipif(not book.NATIVE, reason="the native order book is not built")

OWNERS = [b"alice", b"bob", b"carol"]

operation = st.one_of(
    st.tuples(
        st.just("place"),
        st.sampled_from(OWNERS),
        st.sampled_from([book.BUY, book.SELL]),
        st.integers(min_value=95, max_value=105),
        st.integers(min_value=1, max_value=8),
        st.booleans(),  # rest
        st.booleans(),  # prevent self-trade
    ),
    st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=60)),
    st.tuples(
        st.just("fillable"),
        st.sampled_from(OWNERS),
        st.sampled_from([book.BUY, book.SELL]),
        st.integers(min_value=95, max_value=105),
        st.integers(min_value=1, max_value=30),
    ),
)


def snapshot(order_book: book.OrderBookApi) -> object:
    return (
        order_book.orders(),
        order_book.levels(book.BUY),
        order_book.levels(book.SELL),
        order_book.best(book.BUY),
        order_book.best(book.SELL),
        order_book.depth(book.BUY, 3),
        order_book.depth(book.SELL, 3),
        len(order_book),
    )


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(operation, max_size=60))
def test_native_book_matches_the_reference(operations: list[tuple[object, ...]]) -> None:
    native, reference = book.OrderBook(), book.ReferenceOrderBook()
    for order_id, op in enumerate(operations):
        if op[0] == "place":
            _, owner, side, price, lots, rest, stp = op
            args = (order_id, owner, side, price, lots, rest, stp)
            assert native.place(*args) == reference.place(*args)  # type: ignore[arg-type]
        elif op[0] == "cancel":
            assert native.cancel(op[1]) == reference.cancel(op[1])  # type: ignore[arg-type]
        else:
            _, owner, side, price, lots = op
            assert native.fillable(side, price, lots, owner) == reference.fillable(
                side, price, lots, owner
            )  # type: ignore[arg-type]
            assert native.would_cross(side, price) == reference.would_cross(side, price)  # type: ignore[arg-type]
        assert snapshot(native) == snapshot(reference)
        bid, ask = native.best(book.BUY), native.best(book.SELL)
        assert bid is None or ask is None or bid < ask


@pytest.mark.parametrize("implementation", [book.OrderBook, book.ReferenceOrderBook])
def test_bad_arguments_raise_clear_errors(implementation: type[book.OrderBookApi]) -> None:
    order_book = implementation()
    with pytest.raises(ValueError, match="side"):
        order_book.place(1, b"a", 2, 100, 1, True, True)
    with pytest.raises(ValueError, match="price"):
        order_book.place(1, b"a", book.BUY, 0, 1, True, True)
    with pytest.raises(ValueError, match="lots"):
        order_book.place(1, b"a", book.BUY, 100, 0, True, True)
    order_book.place(1, b"a", book.BUY, 100, 1, True, True)
    with pytest.raises(ValueError, match="already in the book"):
        order_book.place(1, b"a", book.BUY, 99, 1, True, True)
    assert order_book.cancel(12345) == 0


def test_native_book_survives_many_levels_and_cancels() -> None:
    """Growth of the level array and the id table, and cleanup when everything is cancelled."""
    native, reference = book.OrderBook(), book.ReferenceOrderBook()
    for order_id in range(1, 5_001):
        side = book.BUY if order_id % 2 else book.SELL
        price = 10_000 - order_id if side == book.BUY else 20_000 + order_id
        native.place(order_id, b"x", side, price, 1 + order_id % 7, True, True)
        reference.place(order_id, b"x", side, price, 1 + order_id % 7, True, True)
    assert snapshot(native) == snapshot(reference)
    for order_id in range(1, 5_001, 3):
        assert native.cancel(order_id) == reference.cancel(order_id)
    sweep = (9_000_000, b"y", book.BUY, 30_000, 100_000, True, True)
    assert native.place(*sweep) == reference.place(*sweep)
    assert snapshot(native) == snapshot(reference)


@pytest.mark.parametrize("implementation", [book.OrderBook, book.ReferenceOrderBook])
def test_an_order_that_would_fill_then_fail_leaves_the_book_unchanged(
    implementation: type[book.OrderBookApi],
) -> None:
    """The failure used to come after the fills, with the makers already taken out."""
    order_book = implementation()
    order_book.place(1, b"maker", book.SELL, 100, 3, True, True)
    order_book.place(2, b"maker", book.SELL, 101, 3, True, True)
    order_book.place(3, b"taker", book.BUY, 90, 1, True, True)
    before = snapshot(order_book)
    with pytest.raises(ValueError, match="already in the book"):
        order_book.place(3, b"taker", book.BUY, 101, 10, True, True)  # would fill 6 lots first
    with pytest.raises(ValueError, match="already in the book"):
        order_book.place(1, b"maker", book.BUY, 101, 2, False, True)
    assert snapshot(order_book) == before


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=12),  # ids repeat: some places must fail
            st.sampled_from(OWNERS),
            st.sampled_from([book.BUY, book.SELL]),
            st.integers(min_value=97, max_value=103),
            st.integers(min_value=1, max_value=8),
            st.booleans(),
        ),
        max_size=50,
    )
)
def test_failed_places_change_neither_book(
    places: list[tuple[int, bytes, int, int, int, bool]],
) -> None:
    native, reference = book.OrderBook(), book.ReferenceOrderBook()
    for order_id, owner, side, price, lots, rest in places:
        before = snapshot(native)
        outcomes = []
        for implementation in (native, reference):
            try:
                outcomes.append(
                    implementation.place(order_id, owner, side, price, lots, rest, True)
                )
            except ValueError as error:
                outcomes.append(str(error))
        assert outcomes[0] == outcomes[1]
        if isinstance(outcomes[0], str):
            assert snapshot(native) == before
        assert snapshot(native) == snapshot(reference)
