"""Decoding fuzz: random and mutated bytes never crash the decoder, block validation or execution.

`decode_tx` may only return a `Tx` or raise `DecodeError`; `Exchange.decode_block`
returns decoded txs or a `BlockRejection`; and any tx that does decode, even
with a signature that no longer verifies, executes without an exception and
leaves every invariant intact (`execute_block` trusts signatures, so this is
the worst case for the state machine).
"""

from __future__ import annotations

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bftx import codec, limits
from bftx.errors import DecodeError
from bftx.exchange import (
    BlockRejection,
    Burn,
    CancelOrder,
    Exchange,
    Mint,
    OrderType,
    PlaceOrder,
    Register,
    Side,
    Transfer,
    Tx,
    decode_tx,
    sign_tx,
)
from bftx.exchange.invariants import find_violations

from .support import ALICE, BOB, BTC_ISSUER, CHAIN_ID, REGISTRAR, make_genesis

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)

SIGNERS = [ALICE, BOB, BTC_ISSUER, REGISTRAR]

symbols = st.sampled_from(["BTC", "USD", "ETH", "BTC/USD", "ETH/BTC", "", "X" * 16])
addresses = st.one_of(
    st.sampled_from([ALICE.address, BOB.address]), st.binary(min_size=20, max_size=20)
)
amounts = st.one_of(st.integers(0, limits.amount_max), st.sampled_from([0, 1, limits.amount_max]))
bodies = st.one_of(
    st.builds(Register, addresses),
    st.builds(Mint, symbols, addresses, amounts),
    st.builds(Burn, symbols, amounts, st.text(max_size=20)),
    st.builds(Transfer, symbols, addresses, amounts),
    st.builds(
        PlaceOrder,
        st.sampled_from(["BTC/USD", "ETH/BTC", "NOPE"]),
        st.sampled_from(Side),
        st.sampled_from(OrderType),
        st.one_of(st.integers(0, 200), st.just(limits.price_ticks_max)),
        st.one_of(st.integers(0, 20), st.just(limits.quantity_lots_max)),
        st.one_of(st.just(0), st.integers(0, 2**62)),
    ),
    st.builds(CancelOrder, st.integers(0, limits.nonce_max)),
)


@st.composite
def signed_txs(draw: st.DrawFn) -> bytes:
    signer = draw(st.sampled_from(SIGNERS))
    nonce = draw(st.one_of(st.integers(0, 3), st.integers(0, limits.nonce_max)))
    return sign_tx(signer, CHAIN_ID, nonce, draw(bodies))


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 7)),
    st.tuples(st.just("set"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
)


def mutate(data: bytes, mutations: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, position, value in mutations:
        index = position % (len(out) + 1)
        if kind == "insert":
            out.insert(index, value)
        elif not out:
            continue
        elif kind == "flip":
            out[index % len(out)] ^= 1 << value
        elif kind == "set":
            out[index % len(out)] = value
        elif kind == "delete":
            del out[index % len(out)]
        else:
            del out[index:]
    return bytes(out)


@st.composite
def mutated_txs(draw: st.DrawFn) -> bytes:
    return mutate(draw(signed_txs()), draw(st.lists(mutation, min_size=1, max_size=4)))


def decode_or_none(data: bytes) -> Tx | None:
    try:
        return decode_tx(data)
    except DecodeError:
        return None


def busy_exchange() -> Exchange:
    """An exchange with resting orders on both sides, so mutated orders and cancels can bite."""
    exchange = Exchange(make_genesis([ALICE, BOB], maker_fee_bps=10, taker_fee_bps=20))
    setup = [
        sign_tx(ALICE, CHAIN_ID, 0, PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 95, 5, 0)),
        sign_tx(ALICE, CHAIN_ID, 1, PlaceOrder("ETH/BTC", Side.SELL, OrderType.LIMIT, 60, 5, 0)),
        sign_tx(BOB, CHAIN_ID, 0, PlaceOrder("BTC/USD", Side.SELL, OrderType.LIMIT, 105, 5, 0)),
        sign_tx(BOB, CHAIN_ID, 1, PlaceOrder("ETH/BTC", Side.BUY, OrderType.LIMIT, 40, 5, 3_000)),
    ]
    decoded = exchange.decode_block(setup)
    assert isinstance(decoded, list)
    exchange.execute_block(1, 1_000, decoded)
    return exchange


# --- decode_tx ----------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=limits.tx_bytes_max + 64))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    decode_or_none(data)


@FUZZ
@given(mutated_txs())
def test_mutated_txs_never_crash_the_decoder(data: bytes) -> None:
    tx = decode_or_none(data)
    if tx is not None:
        assert tx.hash == decode_tx(data).hash  # decoding is a function of the bytes


values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**64 - 1),
        st.binary(max_size=70),
        st.text(max_size=20),
    ),
    lambda children: st.lists(children, max_size=7).map(tuple),
    max_leaves=20,
)


@FUZZ
@given(values)
def test_well_formed_values_of_the_wrong_shape_raise_decode_error(value: codec.Value) -> None:
    data = codec.encode(value)
    decode_or_none(data)


@FUZZ
@given(
    chain_id=st.one_of(st.just(CHAIN_ID), values),
    public_key=st.one_of(st.just(ALICE.public_key), values),
    nonce=st.one_of(st.integers(0, 5), values),
    kind=st.one_of(st.integers(0, 8), values),
    body=st.one_of(values, st.lists(values, min_size=1, max_size=6).map(tuple)),
    signature=st.one_of(st.just(bytes(64)), values),
)
def test_envelopes_with_any_fields_raise_only_decode_error(
    chain_id: codec.Value,
    public_key: codec.Value,
    nonce: codec.Value,
    kind: codec.Value,
    body: codec.Value,
    signature: codec.Value,
) -> None:
    data = codec.encode((chain_id, public_key, nonce, kind, body, signature))
    tx = decode_or_none(data)
    if tx is not None:
        exchange = busy_exchange()
        exchange.execute_block(2, 2_000, [tx])
        assert find_violations(exchange.state) == []


def test_non_canonical_encoding_of_a_valid_tx_is_rejected() -> None:
    """One tx, one byte string: a wider integer encoding of the nonce must not decode."""
    data = sign_tx(ALICE, CHAIN_ID, 5, CancelOrder(1))
    fields = list(msgpack.unpackb(data, use_list=True))
    assert fields[2] == 5
    head = msgpack.packb(fields[:2], use_bin_type=True)[1:]  # the two fields, no array header
    tail = msgpack.packb(fields[3:], use_bin_type=True)[1:]
    wide = b"\x96" + head + b"\xcd\x00\x05" + tail  # uint16 5 instead of fixint 5
    assert msgpack.unpackb(wide) == msgpack.unpackb(data)
    try:
        decode_tx(wide)
    except DecodeError:
        pass
    else:
        raise AssertionError("a non-canonical encoding decoded")


def test_chain_id_as_bytes_instead_of_text_is_rejected() -> None:
    data = sign_tx(ALICE, CHAIN_ID, 0, CancelOrder(1))
    fields = list(msgpack.unpackb(data))
    fields[0] = CHAIN_ID.encode()
    try:
        decode_tx(msgpack.packb(fields, use_bin_type=True))
    except DecodeError:
        pass
    else:
        raise AssertionError("a bytes chain id decoded")


def test_extension_types_are_rejected_including_the_builtin_timestamp() -> None:
    """msgpack decodes ext type -1 as a Timestamp without calling ext_hook."""
    for ext in (msgpack.Timestamp(1, 0), msgpack.ExtType(5, b"x")):
        data = msgpack.packb((ext, ALICE.public_key, 0, 6, (1,), bytes(64)), use_bin_type=True)
        try:
            decode_tx(data)
        except DecodeError:
            pass
        else:
            raise AssertionError(f"{ext!r} decoded")


# --- decode_block and execution -----------------------------------------------------------


@FUZZ
@given(st.lists(st.one_of(mutated_txs(), signed_txs(), st.binary(max_size=80)), max_size=6))
def test_blocks_of_mutated_txs_are_decoded_or_rejected_never_crash(datas: list[bytes]) -> None:
    exchange = busy_exchange()
    outcome = exchange.decode_block(datas)
    if isinstance(outcome, BlockRejection):
        assert 0 <= outcome.index < len(datas)
        assert decode_or_none(datas[outcome.index]) is None or outcome.code.name in (
            "WRONG_CHAIN",
            "BAD_SIGNATURE",
        )
    else:
        assert [tx.hash for tx in outcome] == [decode_tx(d).hash for d in datas]
        exchange.execute_block(2, 2_000, outcome)
        assert find_violations(exchange.state) == []


@FUZZ
@given(st.lists(st.one_of(mutated_txs(), signed_txs()), min_size=1, max_size=8))
def test_executing_any_decodable_mutated_tx_keeps_every_invariant(datas: list[bytes]) -> None:
    exchange = busy_exchange()
    txs = [tx for tx in map(decode_or_none, datas) if tx is not None]
    result = exchange.execute_block(2, 2_000, txs)
    assert len(result.receipts) == len(txs)
    assert find_violations(exchange.state) == []
    exchange.execute_block(3, 10_000, txs)  # replays: all rejected by nonce, still sound
    assert find_violations(exchange.state) == []


@FUZZ
@given(st.lists(signed_txs(), min_size=1, max_size=8))
def test_validly_signed_txs_with_extreme_fields_keep_every_invariant(datas: list[bytes]) -> None:
    exchange = busy_exchange()
    decoded = exchange.decode_block(datas)
    assert isinstance(decoded, list)
    for tx in decoded:
        exchange.check_tx(tx)
    exchange.execute_block(2, 2_000, decoded)
    assert find_violations(exchange.state) == []
