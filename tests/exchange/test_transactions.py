"""Nonces, replays, access control, mint/burn/transfer, `check_tx` and `decode_block`."""

from __future__ import annotations

import dataclasses

import pytest

from bftx import codec, limits
from bftx.errors import Code
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
    decode_tx,
    sign_tx,
)
from bftx.exchange.events import Deposited, Registered, Transferred, Withdrawn
from bftx.exchange.transactions import peek_sender_and_nonce

from .support import (
    ALICE,
    BOB,
    BTC_ISSUER,
    CHAIN_ID,
    FEES,
    OUTSIDER,
    REGISTRAR,
    USD_ISSUER,
    World,
    key,
    make_genesis,
)

BTC0 = 100 * 10**8
BUY = PlaceOrder("BTC/USD", Side.BUY, OrderType.LIMIT, 100, 1, 0)


def world(**options: object) -> World:
    return World.create([ALICE, BOB], **options)


def empty_block_root(w: World, **options: object) -> bytes:
    """The root a twin of ``w`` reaches by running only empty blocks to the same height."""
    twin = World.create([ALICE, BOB], **options)
    for _ in range(w.exchange.height):
        twin.block([])
    return twin.exchange.state_root()


# --- nonces -----------------------------------------------------------------------


def test_used_nonce_is_rejected() -> None:
    w = world()
    tx = w.tx(ALICE, BUY)
    assert w.block([tx]).receipts[0].code is Code.OK
    assert w.block([tx]).receipts[0].code is Code.NONCE_USED
    assert w.exchange.nonce(ALICE.address) == 1
    assert len(w.exchange.open_orders(ALICE.address)) == 1


def test_the_same_tx_twice_in_one_block_executes_once() -> None:
    w = world()
    tx = w.tx(ALICE, Transfer("BTC", BOB.address, 5))
    result = w.block([tx, tx])
    assert sorted(r.code for r in result.receipts) == [Code.OK, Code.NONCE_USED]
    assert w.available(BOB, "BTC") == BTC0 + 5


def test_two_different_txs_with_the_same_nonce_execute_one() -> None:
    w = world()
    first = w.tx(ALICE, Transfer("BTC", BOB.address, 5), nonce=0)
    second = w.tx(ALICE, Transfer("BTC", BOB.address, 7), nonce=0)
    result = w.block([first, second])
    assert sorted(r.code for r in result.receipts) == [Code.OK, Code.NONCE_USED]
    assert w.available(BOB, "BTC") in (BTC0 + 5, BTC0 + 7)
    assert w.exchange.nonce(ALICE.address) == 1


def test_nonce_gap_is_rejected_and_does_not_consume_the_nonce() -> None:
    w = world()
    ahead = w.tx(ALICE, BUY, nonce=1)
    assert w.block([ahead]).receipts[0].code is Code.NONCE_GAP
    assert w.exchange.nonce(ALICE.address) == 0
    assert w.exchange.open_orders(ALICE.address) == []
    # once the gap is filled, the same tx executes
    result = w.block([w.tx(ALICE, BUY, nonce=0), ahead])
    assert [r.code for r in result.receipts] == [Code.OK, Code.OK]


def test_failed_tx_consumes_its_nonce() -> None:
    w = world()
    failing = w.tx(ALICE, Transfer("BTC", BOB.address, BTC0 + 1))
    assert w.block([failing]).receipts[0].code is Code.INSUFFICIENT_FUNDS
    assert w.exchange.nonce(ALICE.address) == 1
    assert w.block([failing]).receipts[0].code is Code.NONCE_USED


def test_failed_tx_consumes_its_nonce_but_changes_nothing_else() -> None:
    w = world()
    before = w.exchange.balances(ALICE.address)
    assert w.run(ALICE, Transfer("DOGE", BOB.address, 1)) is Code.UNKNOWN_ASSET
    assert w.exchange.balances(ALICE.address) == before
    assert w.exchange.balances(BOB.address)["BTC"].available == BTC0


def test_wrong_chain_tx_does_not_consume_a_nonce() -> None:
    w = world()
    foreign = decode_tx(sign_tx(ALICE, "other-chain", 0, BUY))
    assert w.block([foreign]).receipts[0].code is Code.WRONG_CHAIN
    assert w.exchange.nonce(ALICE.address) == 0
    assert w.exchange.state_root() == empty_block_root(w)


def test_unregistered_sender_does_not_consume_a_nonce_or_create_state() -> None:
    w = world()
    result = w.block([w.tx(OUTSIDER, BUY)])
    assert result.receipts[0].code is Code.NOT_REGISTERED
    assert w.exchange.nonce(OUTSIDER.address) == 0
    assert w.exchange.state_root() == empty_block_root(w)


def test_nonce_gap_leaves_the_state_as_an_empty_block_would() -> None:
    w = world()
    assert w.block([w.tx(ALICE, BUY, nonce=3)]).receipts[0].code is Code.NONCE_GAP
    assert w.exchange.state_root() == empty_block_root(w)


def test_nonce_gap_from_a_new_account_in_open_mode_creates_no_state() -> None:
    """A tx that is not executed must not leave an empty account in the state (and its root).

    Otherwise anyone could grow every validator's state for free with txs
    from fresh keys at a wrong nonce, which consume nothing.
    """
    w = world(permissioned=False)
    result = w.block([w.tx(OUTSIDER, BUY, nonce=7)])
    assert result.receipts[0].code is Code.NONCE_GAP
    assert w.exchange.state_root() == empty_block_root(w, permissioned=False)
    assert OUTSIDER.address not in w.exchange.state.accounts


def test_nonces_are_per_account() -> None:
    w = world()
    result = w.block([w.tx(ALICE, BUY, nonce=0), w.tx(BOB, BUY, nonce=0)])
    assert [r.code for r in result.receipts] == [Code.OK, Code.OK]


# --- replay across chains ---------------------------------------------------------------


def test_tx_signed_for_another_chain_is_rejected_everywhere() -> None:
    w = world()
    data = sign_tx(ALICE, "bftx-other", 0, Transfer("BTC", BOB.address, 5))
    tx = decode_tx(data)
    assert w.exchange.check_tx(tx) is Code.WRONG_CHAIN
    rejection = w.exchange.decode_block([data])
    assert isinstance(rejection, BlockRejection)
    assert (rejection.index, rejection.code) == (0, Code.WRONG_CHAIN)
    assert w.block([tx]).receipts[0].code is Code.WRONG_CHAIN
    assert w.available(BOB, "BTC") == BTC0


def test_tx_relabelled_with_our_chain_id_fails_its_signature() -> None:
    w = world()
    foreign = decode_tx(sign_tx(ALICE, "bftx-other", 0, Transfer("BTC", BOB.address, 5)))
    relabelled = dataclasses.replace(foreign, chain_id=CHAIN_ID)
    assert w.exchange.check_tx(relabelled) is Code.BAD_SIGNATURE


def test_tx_valid_on_another_chain_is_rejected_by_an_exchange_of_that_chain_and_not_ours() -> None:
    other = Exchange(make_genesis([ALICE, BOB], chain_id="bftx-other"))
    data = sign_tx(ALICE, "bftx-other", 0, Transfer("BTC", BOB.address, 5))
    assert other.check_tx(decode_tx(data)) is Code.OK
    assert isinstance(other.decode_block([data]), list)
    ours = world()
    assert ours.exchange.check_tx(decode_tx(data)) is Code.WRONG_CHAIN


# --- permissioned mode ------------------------------------------------------------------


def test_unregistered_sender_is_rejected_in_permissioned_mode() -> None:
    w = world()
    assert w.run(OUTSIDER, Transfer("BTC", ALICE.address, 1)) is Code.NOT_REGISTERED
    assert w.exchange.check_tx(w.tx(OUTSIDER, BUY, nonce=0)) is Code.NOT_REGISTERED


def test_transfer_to_an_unregistered_recipient_is_rejected() -> None:
    w = world()
    assert w.run(ALICE, Transfer("BTC", OUTSIDER.address, 1)) is Code.RECIPIENT_NOT_REGISTERED
    assert w.available(ALICE, "BTC") == BTC0


def test_mint_to_an_unregistered_recipient_is_rejected() -> None:
    w = world()
    assert w.run(BTC_ISSUER, Mint("BTC", OUTSIDER.address, 1)) is Code.RECIPIENT_NOT_REGISTERED


def test_registrar_registers_an_account_which_can_then_trade_and_receive() -> None:
    w = world()
    receipt = w.receipt(REGISTRAR, Register(OUTSIDER.address))
    assert receipt.code is Code.OK
    assert receipt.events == (Registered(OUTSIDER.address),)
    assert w.exchange.is_registered(OUTSIDER.address)
    assert w.run(ALICE, Transfer("USD", OUTSIDER.address, 1_000)) is Code.OK
    assert w.run(OUTSIDER, BUY) is Code.OK
    assert w.locked(OUTSIDER, "USD") == 100


def test_only_a_registrar_may_register() -> None:
    w = world()
    assert w.run(ALICE, Register(OUTSIDER.address)) is Code.NOT_REGISTRAR
    assert not w.exchange.is_registered(OUTSIDER.address)


def test_registering_twice_is_rejected() -> None:
    w = world()
    assert w.run(REGISTRAR, Register(ALICE.address)) is Code.ALREADY_REGISTERED
    assert w.run(REGISTRAR, Register(OUTSIDER.address)) is Code.OK
    assert w.run(REGISTRAR, Register(OUTSIDER.address)) is Code.ALREADY_REGISTERED


def test_privileged_genesis_accounts_are_registered() -> None:
    w = world()
    for who in (REGISTRAR, BTC_ISSUER, USD_ISSUER, FEES, ALICE, BOB):
        assert w.exchange.is_registered(who.address)
    assert not w.exchange.is_registered(OUTSIDER.address)


def test_open_mode_lets_anyone_send_and_receive() -> None:
    w = world(permissioned=False)
    assert w.exchange.is_registered(OUTSIDER.address)
    assert w.run(BTC_ISSUER, Mint("BTC", OUTSIDER.address, 50_000)) is Code.OK
    assert w.run(OUTSIDER, PlaceOrder("BTC/USD", Side.SELL, OrderType.LIMIT, 100, 2, 0)) is Code.OK
    assert w.run(OUTSIDER, Transfer("BTC", key(77).address, 1)) is Code.OK
    assert w.available(key(77), "BTC") == 1


# --- mint -------------------------------------------------------------------------------


def test_issuer_mints_its_asset() -> None:
    w = world()
    receipt = w.receipt(USD_ISSUER, Mint("USD", ALICE.address, 123))
    assert receipt.code is Code.OK
    assert receipt.events == (Deposited("USD", ALICE.address, 123),)
    assert w.available(ALICE, "USD") == 10_000_000 * 10**6 + 123


def test_mint_by_a_non_issuer_is_rejected() -> None:
    w = world()
    assert w.run(ALICE, Mint("BTC", ALICE.address, 1)) is Code.NOT_ISSUER
    assert w.run(USD_ISSUER, Mint("BTC", ALICE.address, 1)) is Code.NOT_ISSUER
    assert w.run(BTC_ISSUER, Mint("USD", ALICE.address, 1)) is Code.NOT_ISSUER
    assert w.available(ALICE, "BTC") == BTC0


def test_mint_up_to_supply_max_and_not_one_unit_more() -> None:
    w = World.create([ALICE], btc=1_000, supply_max={"BTC": 5_000})
    assert w.run(BTC_ISSUER, Mint("BTC", ALICE.address, 4_001)) is Code.SUPPLY_OVERFLOW
    assert w.run(BTC_ISSUER, Mint("BTC", ALICE.address, 4_000)) is Code.OK
    assert w.run(BTC_ISSUER, Mint("BTC", ALICE.address, 1)) is Code.SUPPLY_OVERFLOW
    assert w.available(ALICE, "BTC") == 5_000


def test_burn_makes_room_under_supply_max() -> None:
    w = World.create([ALICE], btc=5_000, supply_max={"BTC": 5_000})
    assert w.run(ALICE, Burn("BTC", 300, "bc1q-destination")) is Code.OK
    assert w.run(BTC_ISSUER, Mint("BTC", ALICE.address, 300)) is Code.OK
    assert w.run(BTC_ISSUER, Mint("BTC", ALICE.address, 1)) is Code.SUPPLY_OVERFLOW


def test_mint_of_zero_or_unknown_asset_is_rejected() -> None:
    w = world()
    assert w.run(BTC_ISSUER, Mint("BTC", ALICE.address, 0)) is Code.INVALID_AMOUNT
    assert w.run(BTC_ISSUER, Mint("DOGE", ALICE.address, 1)) is Code.UNKNOWN_ASSET


def test_mint_of_the_whole_supply_max_in_one_tx() -> None:
    w = World.create([ALICE], btc=0)
    assert w.run(BTC_ISSUER, Mint("BTC", ALICE.address, limits.amount_max)) is Code.OK
    assert w.run(BTC_ISSUER, Mint("BTC", BOB.address, 1)) is not Code.OK


# --- burn / withdraw ----------------------------------------------------------------------


def test_burn_withdraws_available_funds() -> None:
    w = world()
    receipt = w.receipt(ALICE, Burn("BTC", 1_000, "bc1qexample"))
    assert receipt.code is Code.OK
    assert receipt.events == (Withdrawn("BTC", ALICE.address, 1_000, "bc1qexample"),)
    assert w.available(ALICE, "BTC") == BTC0 - 1_000
    assert w.exchange.state.burned["BTC"] == 1_000


def test_burn_cannot_spend_locked_funds() -> None:
    w = World.create([ALICE], btc=5 * 10_000)
    w.order(ALICE, Side.SELL, 100, 3)
    assert w.run(ALICE, Burn("BTC", 2 * 10_000 + 1, "x")) is Code.INSUFFICIENT_FUNDS
    assert w.run(ALICE, Burn("BTC", 2 * 10_000, "x")) is Code.OK
    assert w.locked(ALICE, "BTC") == 3 * 10_000


def test_burn_of_zero_or_unknown_asset_is_rejected() -> None:
    w = world()
    assert w.run(ALICE, Burn("BTC", 0, "x")) is Code.INVALID_AMOUNT
    assert w.run(ALICE, Burn("DOGE", 1, "x")) is Code.UNKNOWN_ASSET


# --- transfer -------------------------------------------------------------------------------


def test_transfer_moves_available_funds() -> None:
    w = world()
    receipt = w.receipt(ALICE, Transfer("BTC", BOB.address, 42))
    assert receipt.code is Code.OK
    assert receipt.events == (Transferred("BTC", ALICE.address, BOB.address, 42),)
    assert w.available(ALICE, "BTC") == BTC0 - 42
    assert w.available(BOB, "BTC") == BTC0 + 42


def test_transfer_of_the_whole_available_balance() -> None:
    w = world()
    assert w.run(ALICE, Transfer("BTC", BOB.address, BTC0)) is Code.OK
    assert "BTC" not in w.exchange.balances(ALICE.address)
    assert w.run(ALICE, Transfer("BTC", BOB.address, 1)) is Code.INSUFFICIENT_FUNDS


def test_transfer_cannot_spend_locked_funds() -> None:
    w = World.create([ALICE, BOB], usd=1_000)
    w.order(ALICE, Side.BUY, 100, 9)  # locks 900
    assert w.run(ALICE, Transfer("USD", BOB.address, 101)) is Code.INSUFFICIENT_FUNDS
    assert w.run(ALICE, Transfer("USD", BOB.address, 100)) is Code.OK


def test_transfer_to_self_is_rejected() -> None:
    w = world()
    assert w.run(ALICE, Transfer("BTC", ALICE.address, 1)) is Code.INVALID_RECIPIENT


def test_transfer_of_zero_or_unknown_asset_is_rejected() -> None:
    w = world()
    assert w.run(ALICE, Transfer("BTC", BOB.address, 0)) is Code.INVALID_AMOUNT
    assert w.run(ALICE, Transfer("DOGE", BOB.address, 1)) is Code.UNKNOWN_ASSET


def test_spending_chain_in_one_block_uses_funds_received_earlier_in_it() -> None:
    """Alice's transfer to Bob executes before Bob's second tx in canonical order."""
    w = World.create([ALICE, BOB], usd=100)
    give = w.tx(ALICE, Transfer("USD", BOB.address, 100))
    bob_first = w.tx(BOB, Transfer("USD", ALICE.address, 100))
    bob_second = w.tx(BOB, Transfer("USD", ALICE.address, 100))
    result = w.block([bob_second, give, bob_first])
    codes = {(r.sender, r.nonce): r.code for r in result.receipts}
    assert codes[(ALICE.address, 0)] is Code.OK
    assert codes[(BOB.address, 0)] is Code.OK
    assert codes[(BOB.address, 1)] in (Code.OK, Code.INSUFFICIENT_FUNDS)
    assert w.available(ALICE, "USD") + w.available(BOB, "USD") == 200


# --- check_tx -------------------------------------------------------------------------------


def test_check_tx_accepts_a_valid_tx_without_changing_the_state() -> None:
    w = world()
    root = w.exchange.state_root()
    assert w.exchange.check_tx(w.tx(ALICE, BUY)) is Code.OK
    assert w.exchange.state_root() == root
    assert w.exchange.nonce(ALICE.address) == 0


def test_check_tx_rejects_a_tampered_signature() -> None:
    w = world()
    tx = w.tx(ALICE, BUY)
    flipped = bytes([tx.signature[0] ^ 1]) + tx.signature[1:]
    tampered = dataclasses.replace(tx, signature=flipped)
    assert w.exchange.check_tx(tampered) is Code.BAD_SIGNATURE
    assert w.exchange.check_tx(tampered, verify_signature=False) is Code.OK


def test_check_tx_rejects_a_malleated_signature() -> None:
    """S + L verifies under lax Ed25519; accepting it would give one tx two hashes."""
    group_order = 2**252 + 27742317777372353535851937790883648493
    w = world()
    tx = w.tx(ALICE, BUY)
    s_value = int.from_bytes(tx.signature[32:], "little") + group_order
    malleated = tx.signature[:32] + s_value.to_bytes(32, "little")
    assert w.exchange.check_tx(dataclasses.replace(tx, signature=malleated)) is Code.BAD_SIGNATURE
    assert w.exchange.check_tx(tx) is Code.OK


def test_check_tx_rejects_a_signature_by_another_key() -> None:
    w = world()
    tx = w.tx(ALICE, BUY)
    stolen = dataclasses.replace(tx, signature=BOB.sign(tx.signing_bytes()))
    assert w.exchange.check_tx(stolen) is Code.BAD_SIGNATURE


def test_check_tx_rejects_a_changed_body_under_the_original_signature() -> None:
    w = world()
    tx = w.tx(ALICE, Transfer("BTC", BOB.address, 1))
    greedy = dataclasses.replace(tx, body=Transfer("BTC", BOB.address, 1_000_000))
    assert w.exchange.check_tx(greedy) is Code.BAD_SIGNATURE


def test_check_tx_admits_nonces_a_little_ahead_but_not_far_ahead() -> None:
    w = world()
    assert w.exchange.check_tx(w.tx(ALICE, BUY, nonce=1)) is Code.OK
    assert w.exchange.check_tx(w.tx(ALICE, BUY, nonce=limits.nonce_ahead_max - 1)) is Code.OK
    assert w.exchange.check_tx(w.tx(ALICE, BUY, nonce=limits.nonce_ahead_max)) is Code.NONCE_GAP


def test_check_tx_rejects_a_used_nonce() -> None:
    w = world()
    tx = w.tx(ALICE, BUY)
    w.block([tx])
    assert w.exchange.check_tx(tx) is Code.NONCE_USED


def test_check_tx_checks_funds_and_kind_rules() -> None:
    w = World.create([ALICE, BOB], usd=99)
    assert w.exchange.check_tx(w.tx(ALICE, BUY, nonce=0)) is Code.INSUFFICIENT_FUNDS
    assert w.exchange.check_tx(w.tx(ALICE, CancelOrder(0), nonce=0)) is Code.UNKNOWN_ORDER
    bad_market = PlaceOrder("DOGE/USD", Side.BUY, OrderType.LIMIT, 1, 1, 0)
    assert w.exchange.check_tx(w.tx(ALICE, bad_market, nonce=0)) is Code.UNKNOWN_MARKET
    mint = Mint("BTC", ALICE.address, 1)
    assert w.exchange.check_tx(w.tx(ALICE, mint, nonce=0)) is Code.NOT_ISSUER
    register = Register(OUTSIDER.address)
    assert w.exchange.check_tx(w.tx(ALICE, register, nonce=0)) is Code.NOT_REGISTRAR
    assert w.exchange.check_tx(w.tx(REGISTRAR, register, nonce=0)) is Code.OK


def test_check_tx_rejects_a_wrong_chain_before_the_signature() -> None:
    w = world()
    tx = decode_tx(sign_tx(ALICE, "elsewhere", 0, BUY))
    assert w.exchange.check_tx(tx, verify_signature=False) is Code.WRONG_CHAIN


def test_check_tx_of_a_new_account_in_open_mode_creates_nothing() -> None:
    w = world(permissioned=False)
    root = w.exchange.state_root()
    assert w.exchange.check_tx(w.tx(OUTSIDER, BUY, nonce=0)) is Code.INSUFFICIENT_FUNDS
    assert OUTSIDER.address not in w.exchange.state.accounts
    assert w.exchange.state_root() == root


# --- decode_block ------------------------------------------------------------------------------


def signed(w: World, signer: object, body: object, nonce: int) -> bytes:
    return sign_tx(signer, CHAIN_ID, nonce, body)  # type: ignore[arg-type]


def test_decode_block_returns_the_decoded_txs_in_order() -> None:
    w = world()
    datas = [signed(w, ALICE, BUY, 0), signed(w, BOB, BUY, 0), signed(w, ALICE, BUY, 1)]
    decoded = w.exchange.decode_block(datas)
    assert isinstance(decoded, list)
    assert [(tx.sender, tx.nonce) for tx in decoded] == [
        (ALICE.address, 0),
        (BOB.address, 0),
        (ALICE.address, 1),
    ]
    assert w.exchange.decode_block([]) == []


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00", b"\xc1", b"\x96" + b"\x00" * 5, b"\xff" * 600],
    ids=["empty", "nil-ish", "reserved-byte", "wrong-shape", "oversized"],
)
def test_decode_block_rejects_a_malformed_tx_with_its_index(garbage: bytes) -> None:
    w = world()
    good = signed(w, ALICE, BUY, 0)
    rejection = w.exchange.decode_block([good, garbage, good])
    assert isinstance(rejection, BlockRejection)
    assert (rejection.index, rejection.code) == (1, Code.MALFORMED)
    assert rejection.reason


def test_decode_block_rejects_a_truncated_tx() -> None:
    w = world()
    good = signed(w, ALICE, BUY, 0)
    rejection = w.exchange.decode_block([good[:-1]])
    assert isinstance(rejection, BlockRejection) and rejection.code is Code.MALFORMED


def test_decode_block_rejects_trailing_bytes() -> None:
    w = world()
    rejection = w.exchange.decode_block([signed(w, ALICE, BUY, 0) + b"\x00"])
    assert isinstance(rejection, BlockRejection) and rejection.code is Code.MALFORMED


def test_decode_block_rejects_a_wrong_chain_tx() -> None:
    w = world()
    datas = [signed(w, ALICE, BUY, 0), sign_tx(BOB, "bftx-other", 0, BUY)]
    rejection = w.exchange.decode_block(datas)
    assert isinstance(rejection, BlockRejection)
    assert (rejection.index, rejection.code) == (1, Code.WRONG_CHAIN)


def test_decode_block_rejects_a_bad_signature() -> None:
    w = world()
    good = signed(w, ALICE, BUY, 0)
    bad = good[:-1] + bytes([good[-1] ^ 0x80])  # the signature is the last field
    rejection = w.exchange.decode_block([good, good, bad])
    assert isinstance(rejection, BlockRejection)
    assert (rejection.index, rejection.code) == (2, Code.BAD_SIGNATURE)


def test_decode_block_skips_signatures_already_verified() -> None:
    """The mempool's cache vouches for a hash; only a hash it has seen skips the check."""
    w = world()
    good = signed(w, ALICE, BUY, 0)
    bad = good[:-1] + bytes([good[-1] ^ 0x80])
    bad_hash = decode_tx(bad).hash
    assert isinstance(w.exchange.decode_block([bad], verified={bad_hash}), list)
    assert isinstance(
        w.exchange.decode_block([bad], verified={decode_tx(good).hash}), BlockRejection
    )


def test_decode_block_rejects_too_many_txs() -> None:
    w = world()
    rejection = w.exchange.decode_block([b""] * (limits.txs_per_block_max + 1))
    assert isinstance(rejection, BlockRejection) and rejection.code is Code.MALFORMED


def test_decode_block_reports_the_first_bad_tx() -> None:
    w = world()
    good = signed(w, ALICE, BUY, 0)
    rejection = w.exchange.decode_block([good, sign_tx(BOB, "x", 0, BUY), b"junk"])
    assert isinstance(rejection, BlockRejection) and rejection.index == 1


def test_cumulative_mints_and_burns_beyond_64_bits_do_not_halt_the_chain() -> None:
    """The supply outstanding is bounded by supply_max, but minted and burned only grow.

    Deposits and withdrawals that add up past 2**64 smallest units (a few
    round trips of 4 units of an 18-decimal asset at amount_max) must keep
    executing: a state root that cannot be computed stops every validator.
    """
    w = World.create([ALICE], btc=0)
    for _ in range(6):
        assert w.run(BTC_ISSUER, Mint("BTC", ALICE.address, limits.amount_max)) is Code.OK
        assert w.run(ALICE, Burn("BTC", limits.amount_max, "out")) is Code.OK
    assert w.exchange.state.minted["BTC"] == 6 * limits.amount_max
    assert w.exchange.state.minted["BTC"] > 2**64
    twin = World.create([ALICE], btc=0)
    assert twin.exchange.state_root() != w.exchange.state_root()


def test_a_peek_reads_the_account_and_nonce_a_tx_claims_without_checking_it() -> None:
    tx = sign_tx(ALICE, CHAIN_ID, 7, BUY)
    assert peek_sender_and_nonce(tx) == (ALICE.address, 7) == (decode_tx(tx).sender, 7)
    forged = codec.encode(("any-chain", BOB.public_key, 3, 99, (), b"not a signature"))
    assert peek_sender_and_nonce(forged) == (BOB.address, 3), "a hint: nothing is checked"


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\xc1",
        b"\x96" + b"\x00" * 5,  # six fields, no key
        codec.encode(("c", b"k" * 31, 1, 1, (), b"")),  # a key of the wrong size
        codec.encode(("c", b"k" * 32, "1", 1, (), b"")),  # a nonce that is not an integer
        codec.encode(("c", b"k" * 32, 1, 1, ())),  # five fields
        b"\x81\x01\x02",  # a map
        b"\x96" + b"\xff" * 5000,  # past the size of any tx
    ],
)
def test_a_peek_at_what_is_not_a_tx_finds_nothing(garbage: bytes) -> None:
    assert peek_sender_and_nonce(garbage) is None
