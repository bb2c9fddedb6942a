"""Snapshots under attack: hostile but well-formed snapshots are refused with `DecodeError`.

A snapshot comes from a peer during state transfer, so it is untrusted: any
value in any field must give either a `DecodeError` or a state, never another
exception; and the application accepts it only when its root is the
certified one.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bftx import codec, limits
from bftx.errors import DecodeError
from bftx.exchange import Burn, Exchange, Mint, OrderType, Side
from bftx.exchange.application import ExchangeApplication
from bftx.exchange.invariants import find_violations

from .support import ALICE, BOB, BTC_ISSUER, CAROL, World, compute_root_from_scratch


def busy_world() -> World:
    w = World.create([ALICE, BOB, CAROL], maker_fee_bps=5, taker_fee_bps=9)
    w.order(ALICE, Side.SELL, 105, 4)
    w.order(BOB, Side.BUY, 105, 1)
    w.order(BOB, Side.BUY, 99, 3, OrderType.POST_ONLY, expires_at_ms=w.timestamp_ms + 50_000)
    w.order(CAROL, Side.SELL, 60, 2, market="ETH/BTC")
    return w


def snapshot_value(w: World) -> list[object]:
    value = codec.decode(w.exchange.snapshot(), limits.snapshot_bytes_max)
    assert isinstance(value, tuple)
    return thaw(value)  # type: ignore[return-value]


def thaw(value: object) -> object:
    return [thaw(item) for item in value] if isinstance(value, tuple) else value


def freeze(value: object) -> codec.Value:
    return tuple(freeze(item) for item in value) if isinstance(value, list) else value  # type: ignore[return-value]


def restore(w: World, value: list[object]) -> Exchange:
    return Exchange.restore(w.exchange.state.genesis, codec.encode(freeze(value)))


def test_snapshot_round_trips_a_busy_state() -> None:
    w = busy_world()
    restored = restore(w, snapshot_value(w))
    assert restored.state_root() == w.exchange.state_root()
    assert compute_root_from_scratch(restored.state) == restored.state_root()
    assert find_violations(restored.state) == []


def test_snapshot_after_cumulative_supply_past_64_bits_round_trips() -> None:
    """minted and burned grow without bound; a node must still save and send its snapshot."""
    w = World.create([ALICE], btc=0)
    for _ in range(5):
        w.run(BTC_ISSUER, Mint("BTC", ALICE.address, limits.amount_max))
        w.run(ALICE, Burn("BTC", limits.amount_max, "out"))
    data = w.exchange.snapshot()
    restored = Exchange.restore(w.exchange.state.genesis, data)
    assert restored.state_root() == w.exchange.state_root()
    assert restored.state.minted["BTC"] == 5 * limits.amount_max


# indices into the snapshot value: (version, chain_id, height, next_sequence, next_trade,
# supplies, accounts, orders); an order is (sequence, owner, nonce, market, side, type,
# price, quantity, remaining, expires_at)
ORDERS, ACCOUNTS = 7, 6


def first_order(value: list[object]) -> list[object]:
    return value[ORDERS][0]  # type: ignore[index,return-value]


def edit_order(field: int, new: object) -> Callable[[list[object]], None]:
    def edit(value: list[object]) -> None:
        first_order(value)[field] = new

    return edit


def cross_the_book(value: list[object]) -> None:
    orders = value[ORDERS]
    bid = next(o for o in orders if o[4] == int(Side.BUY) and o[3] == "BTC/USD")  # type: ignore[union-attr,index]
    bid[6] = 200  # above every ask


def duplicate_an_order(value: list[object]) -> None:
    value[ORDERS].insert(1, list(first_order(value)))  # type: ignore[union-attr]


def unsort_accounts(value: list[object]) -> None:
    value[ACCOUNTS].reverse()  # type: ignore[union-attr]


def repeat_a_balance(value: list[object]) -> None:
    account = next(a for a in value[ACCOUNTS] if a[3])  # type: ignore[union-attr,index]
    account[3].append(list(account[3][0]))


def drop_a_supply(value: list[object]) -> None:
    value[5].pop()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "edit",
    [
        edit_order(0, 10**6),  # sequence beyond next_order_sequence
        edit_order(1, b"\x07" * 20),  # owner with no account
        edit_order(2, 10**6),  # nonce the owner has not used yet
        edit_order(3, "DOGE/USD"),
        edit_order(4, 2),  # side
        edit_order(5, int(OrderType.IOC)),  # immediate orders never rest
        edit_order(6, 0),  # price
        edit_order(8, 10**6),  # remaining above quantity
        edit_order(8, 0),  # an order with nothing left is not open
        cross_the_book,
        duplicate_an_order,
        unsort_accounts,
        repeat_a_balance,
        drop_a_supply,
        lambda value: value.__setitem__(0, 99),  # version
        lambda value: value.__setitem__(1, "other-chain"),
        lambda value: value.__setitem__(3, 0),  # next order sequence
        lambda value: value.append(None),
    ],
    ids=[
        "sequence-ahead",
        "unknown-owner",
        "unused-nonce",
        "unknown-market",
        "bad-side",
        "immediate-type",
        "zero-price",
        "remaining-above-quantity",
        "nothing-remaining",
        "crossed-book",
        "duplicate-order",
        "unsorted-accounts",
        "repeated-balance",
        "missing-supply",
        "version",
        "chain",
        "sequence-zero",
        "extra-field",
    ],
)
def test_hostile_snapshot_is_refused(edit: Callable[[list[object]], None]) -> None:
    w = busy_world()
    value = snapshot_value(w)
    edit(value)
    with pytest.raises(DecodeError):
        restore(w, value)


snapshot_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**64 - 1),
        st.sampled_from([0, 1, 2, 3, 99, 105, 2**32, 2**62]),
        st.binary(max_size=24),
        st.sampled_from(["BTC", "USD", "ETH", "BTC/USD", "ETH/BTC", "x"]),
    ),
    lambda children: st.lists(children, max_size=4),
    max_leaves=8,
)


def leaf_paths(value: object, path: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    if isinstance(value, list):
        return [path, *(p for i, item in enumerate(value) for p in leaf_paths(item, (*path, i)))]
    return [path]


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.data())
def test_any_field_replaced_by_any_value_gives_decode_error_or_a_state(data: st.DataObject) -> None:
    w = busy_world()
    value = snapshot_value(w)
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        path = data.draw(st.sampled_from([p for p in leaf_paths(value) if p]), label="path")
        parent: list[object] = value
        for index in path[:-1]:
            parent = parent[index]  # type: ignore[assignment]
        parent[path[-1]] = data.draw(snapshot_values, label="new value")
    try:
        encoded = codec.encode(freeze(value))
    except (OverflowError, ValueError, TypeError):
        return  # not encodable, so never on the wire
    application = ExchangeApplication(w.exchange.state.genesis)
    try:
        restored = Exchange.restore(w.exchange.state.genesis, encoded)
    except DecodeError:
        assert not application.restore_snapshot(w.exchange.height, encoded, w.exchange.state_root())
        return
    accepted = application.restore_snapshot(w.exchange.height, encoded, w.exchange.state_root())
    if accepted:
        assert restored.snapshot() == w.exchange.snapshot()
        assert find_violations(restored.state) == []
