"""Each invariant checker catches a state broken on purpose (and is silent on a sound one).

The states are real: built by executing blocks, then corrupted directly.
"""

from __future__ import annotations

import pytest

from bftx.exchange import OrderType, Side
from bftx.exchange.book import BUY, SELL, ReferenceOrderBook, _Resting
from bftx.exchange.invariants import (
    find_book_mismatches,
    find_conservation_violations,
    find_crossed_books,
    find_lock_mismatches,
    find_negative_balances,
    find_violations,
)
from bftx.exchange.state import ExchangeState

from .support import ALICE, BOB, CAROL, FEES, World

CHECKERS = [
    find_conservation_violations,
    find_negative_balances,
    find_crossed_books,
    find_lock_mismatches,
    find_book_mismatches,
]


def sound_state() -> ExchangeState:
    """Open orders on both sides of both markets, a partial fill, fees collected."""
    w = World.create([ALICE, BOB, CAROL], maker_fee_bps=10, taker_fee_bps=20)
    w.order(BOB, Side.SELL, 105, 5)
    w.order(CAROL, Side.SELL, 106, 2)
    w.order(ALICE, Side.BUY, 105, 2)  # Bob keeps 3
    w.order(ALICE, Side.BUY, 100, 4)
    w.order(CAROL, Side.BUY, 99, 1, OrderType.POST_ONLY)
    w.order(BOB, Side.SELL, 60, 2, market="ETH/BTC")
    w.order(ALICE, Side.BUY, 50, 3, market="ETH/BTC")
    assert find_violations(w.exchange.state) == []
    return w.exchange.state


def only_open_order(state: ExchangeState, who: object, market: str = "BTC/USD") -> object:
    account = state.accounts[who.address]  # type: ignore[attr-defined]
    (order,) = [o for o in account.open_orders.values() if o.market == market]
    return order


def with_reference_book(state: ExchangeState, market: str) -> ReferenceOrderBook:
    """Swap a market's book for an equal reference book, whose internals a test can reach."""
    reference = ReferenceOrderBook()
    for order_id, owner, side, price, remaining in state.books[market].orders():
        reference.place(order_id, owner, side, price, remaining, True, False)
    assert reference.orders() == state.books[market].orders()
    state.books[market] = reference
    assert find_violations(state) == []
    return reference


def test_a_sound_state_passes_every_checker() -> None:
    state = sound_state()
    for checker in CHECKERS:
        assert checker(state) == [], checker.__name__


def test_conservation_checker_catches_a_unit_created_from_nothing() -> None:
    state = sound_state()
    state.accounts[ALICE.address].balances["BTC"][0] += 1
    found = find_conservation_violations(state)
    assert len(found) == 1 and found[0].startswith("BTC")
    assert find_negative_balances(state) == [] and find_lock_mismatches(state) == []


def test_conservation_checker_catches_a_lost_fee() -> None:
    state = sound_state()
    state.accounts[FEES.address].balances["USD"][0] -= 1
    assert [v.split(":")[0] for v in find_conservation_violations(state)] == ["USD"]


def test_conservation_checker_catches_an_unrecorded_burn() -> None:
    state = sound_state()
    state.burned["ETH"] += 10
    assert [v.split(":")[0] for v in find_conservation_violations(state)] == ["ETH"]


def test_conservation_checker_catches_a_locked_unit_created() -> None:
    state = sound_state()
    state.accounts[ALICE.address].balances["USD"][1] += 1
    assert find_conservation_violations(state)


def test_negative_balance_checker_catches_a_negative_available() -> None:
    state = sound_state()
    # moved, not created: conservation still holds, only the sign is wrong
    bob_btc = state.accounts[BOB.address].balances["BTC"]
    state.accounts[ALICE.address].balances["BTC"][0] += bob_btc[0] + 7
    bob_btc[0] = -7
    found = find_negative_balances(state)
    assert len(found) == 1 and BOB.address.hex() in found[0] and "BTC" in found[0]
    assert find_conservation_violations(state) == []


def test_negative_balance_checker_catches_a_negative_locked() -> None:
    state = sound_state()
    state.accounts[CAROL.address].balances["ETH"] = [5, -5]
    assert any(CAROL.address.hex() in v for v in find_negative_balances(state))


def test_crossed_book_checker_catches_a_crossing_order_inserted_into_a_book() -> None:
    state = sound_state()
    reference = with_reference_book(state, "BTC/USD")
    crossing = _Resting(10_000, ALICE.address, BUY, 106, 1)  # best ask is 105
    reference._orders[crossing.order_id] = crossing
    reference._sides[BUY].add(crossing)
    found = find_crossed_books(state)
    assert found == ["BTC/USD: best bid 106 >= best ask 105"]


def test_crossed_book_checker_catches_a_bid_equal_to_the_ask() -> None:
    state = sound_state()
    reference = with_reference_book(state, "ETH/BTC")
    touching = _Resting(10_001, CAROL.address, SELL, 50, 1)  # best bid is 50
    reference._orders[touching.order_id] = touching
    reference._sides[SELL].add(touching)
    assert find_crossed_books(state) == ["ETH/BTC: best bid 50 >= best ask 50"]


def test_lock_checker_catches_a_changed_lock() -> None:
    state = sound_state()
    balance = state.accounts[ALICE.address].balances["USD"]
    balance[0] += 1  # moved from locked to available: conservation holds
    balance[1] -= 1
    found = find_lock_mismatches(state)
    assert len(found) == 1 and ALICE.address.hex() in found[0] and "USD" in found[0]
    assert find_conservation_violations(state) == []


def test_lock_checker_catches_a_lock_without_an_order() -> None:
    state = sound_state()
    balance = state.accounts[FEES.address].balances["BTC"]
    balance[0] -= 1
    balance[1] += 1
    assert any(FEES.address.hex() in v for v in find_lock_mismatches(state))


def test_lock_checker_catches_an_order_whose_remaining_changed() -> None:
    state = sound_state()
    order = only_open_order(state, BOB)
    order.remaining_lots -= 1  # type: ignore[attr-defined]
    assert any(BOB.address.hex() in v for v in find_lock_mismatches(state))


def test_book_checker_catches_an_order_dropped_from_a_book() -> None:
    state = sound_state()
    order = only_open_order(state, BOB, "BTC/USD")
    assert state.books["BTC/USD"].cancel(order.sequence) == 3  # type: ignore[attr-defined]
    found = find_book_mismatches(state)
    assert found and "missing from the books" in found[-1]


def test_book_checker_catches_an_order_the_exchange_forgot() -> None:
    state = sound_state()
    order = only_open_order(state, ALICE, "ETH/BTC")
    del state.orders[order.sequence]  # type: ignore[attr-defined]
    del state.accounts[ALICE.address].open_orders[order.key[1]]  # type: ignore[attr-defined]
    found = find_book_mismatches(state)
    assert any("does not record" in v for v in found)


def test_book_checker_catches_a_size_that_differs_between_book_and_exchange() -> None:
    state = sound_state()
    order = only_open_order(state, BOB)
    order.remaining_lots += 1  # type: ignore[attr-defined]
    assert any("differs" in v for v in find_book_mismatches(state))


def test_book_checker_catches_a_price_that_differs_between_book_and_exchange() -> None:
    state = sound_state()
    order = only_open_order(state, ALICE, "ETH/BTC")
    order.price_ticks -= 1  # type: ignore[attr-defined]
    assert any("differs" in v for v in find_book_mismatches(state))


def test_book_checker_catches_an_account_listing_an_order_the_exchange_does_not() -> None:
    state = sound_state()
    order = only_open_order(state, ALICE, "ETH/BTC")
    del state.orders[order.sequence]  # type: ignore[attr-defined]
    found = find_book_mismatches(state)
    assert any("not recorded consistently" in v for v in found)


class DriftedLevels:
    """A book whose level counters drifted from its orders (the native book keeps them apart)."""

    def __init__(self, book: object, quantity_delta: int, count_delta: int) -> None:
        self.book = book
        self.quantity_delta = quantity_delta
        self.count_delta = count_delta

    def __getattr__(self, name: str) -> object:
        return getattr(self.book, name)

    def levels(self, side: int) -> list[tuple[int, int, int]]:
        levels = self.book.levels(side)  # type: ignore[attr-defined]
        if side == BUY and levels:
            price, quantity, count = levels[0]
            levels[0] = (price, quantity + self.quantity_delta, count + self.count_delta)
        return levels


@pytest.mark.parametrize(("quantity_delta", "count_delta"), [(1, 0), (0, 1), (-4, 0)])
def test_book_checker_catches_level_totals_that_do_not_add_up(
    quantity_delta: int, count_delta: int
) -> None:
    state = sound_state()
    state.books["BTC/USD"] = DriftedLevels(state.books["BTC/USD"], quantity_delta, count_delta)  # type: ignore[assignment]
    found = find_book_mismatches(state)
    assert any("level 100" in v for v in found), found


@pytest.mark.parametrize("checker", CHECKERS, ids=lambda c: c.__name__)
def test_find_violations_reports_what_each_checker_reports(checker: object) -> None:
    state = sound_state()
    state.accounts[ALICE.address].balances["USD"][1] -= 10**12  # breaks several at once
    reported = set(find_violations(state))
    assert set(checker(state)) <= reported  # type: ignore[operator]
    assert reported
