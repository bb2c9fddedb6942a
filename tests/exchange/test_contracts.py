"""The contracts module: HTLC lock/claim/refund and deals, each result code reached by a real tx.

`CONTRACT_SCENARIOS` joins test_rejections' table, so every code stays covered.
"""

from __future__ import annotations

from collections.abc import Callable

from bftx import crypto, limits
from bftx.errors import Code
from bftx.exchange import (
    DealCancel,
    DealFund,
    DealPropose,
    HtlcClaim,
    HtlcLock,
    HtlcRefund,
    Transfer,
    compute_contract_id,
)
from bftx.exchange.contracts import DealStatus, HtlcStatus, closed_htlc
from bftx.exchange.events import DealClosed, DealRefunded, DealSettled, HtlcClaimed
from bftx.exchange.ledger import CONTRACTS_ACCOUNT
from bftx.exchange.snapshot import decode_snapshot, encode_snapshot

from .support import ALICE, BOB, CAROL, OUTSIDER, World, compute_root_from_scratch, events_of

SECRET = bytes(range(32))
HASHLOCK = crypto.sha256(SECRET)
HOUR_MS = 3_600_000


def world() -> World:
    return World.create([ALICE, BOB, CAROL])


def lock_body(w: World, amount: int = 1_000, expiry_in_ms: int = HOUR_MS) -> HtlcLock:
    return HtlcLock("BTC", amount, BOB.address, HASHLOCK, w.timestamp_ms + expiry_in_ms)


def locked_htlc(w: World, expiry_in_ms: int = HOUR_MS) -> bytes:
    contract_id = compute_contract_id(ALICE.address, w.next_nonce(ALICE))
    assert w.run(ALICE, lock_body(w, expiry_in_ms=expiry_in_ms)) is Code.OK
    return contract_id


def proposed_deal(w: World, deadline_in_ms: int = HOUR_MS) -> bytes:
    contract_id = compute_contract_id(ALICE.address, w.next_nonce(ALICE))
    body = DealPropose(BOB.address, "BTC", 500, "USD", 7_000, w.timestamp_ms + deadline_in_ms)
    assert w.run(ALICE, body) is Code.OK
    return contract_id


# --- one scenario per code -----------------------------------------------------------


def unknown_contract() -> Code:
    return world().run(BOB, HtlcClaim(bytes(32), SECRET))


def invalid_expiry() -> Code:
    w = world()
    past = HtlcLock("BTC", 1, BOB.address, HASHLOCK, w.timestamp_ms)
    assert w.run(ALICE, past) is Code.INVALID_EXPIRY
    beyond = lock_body(w, expiry_in_ms=limits.contract_horizon_ms_max + 2_000)
    return w.run(ALICE, beyond)


def invalid_preimage() -> Code:
    w = world()
    return w.run(BOB, HtlcClaim(locked_htlc(w), SECRET[:31]))


def wrong_preimage() -> Code:
    w = world()
    return w.run(BOB, HtlcClaim(locked_htlc(w), bytes(32)))


def contract_expired() -> Code:
    w = world()
    contract_id = locked_htlc(w, expiry_in_ms=1_500)  # the next block is 1 s later, then 2 s
    w.block([])
    return w.run(BOB, HtlcClaim(contract_id, SECRET))


def contract_not_expired() -> Code:
    w = world()
    return w.run(ALICE, HtlcRefund(locked_htlc(w)))


def contract_closed() -> Code:
    w = world()
    contract_id = locked_htlc(w)
    assert w.run(CAROL, HtlcClaim(contract_id, SECRET)) is Code.OK
    return w.run(BOB, HtlcClaim(contract_id, SECRET))


def not_contract_party() -> Code:
    w = world()
    contract_id = locked_htlc(w, expiry_in_ms=1_500)
    w.block([])
    return w.run(BOB, HtlcRefund(contract_id))


def leg_already_funded() -> Code:
    w = world()
    deal = proposed_deal(w)
    assert w.run(ALICE, DealFund(deal)) is Code.OK
    return w.run(ALICE, DealFund(deal))


def other_leg_funded() -> Code:
    w = world()
    deal = proposed_deal(w)
    assert w.run(BOB, DealFund(deal)) is Code.OK
    return w.run(ALICE, DealCancel(deal))


def too_many_contracts() -> Code:
    w = world()
    w.check_invariants = False  # a thousand blocks: checked once at the end instead
    body = lock_body(w, amount=1, expiry_in_ms=limits.contract_horizon_ms_max // 2)
    txs = [w.tx(ALICE, body) for _ in range(limits.contracts_open_per_account_max)]
    for start in range(0, len(txs), 200):  # nonce_ahead_max bounds a block's run of one sender
        assert all(r.code is Code.OK for r in w.block(txs[start : start + 200]).receipts)
    return w.run(ALICE, body)


CONTRACT_SCENARIOS: dict[Code, Callable[[], Code]] = {
    Code.UNKNOWN_CONTRACT: unknown_contract,
    Code.INVALID_EXPIRY: invalid_expiry,
    Code.INVALID_PREIMAGE: invalid_preimage,
    Code.WRONG_PREIMAGE: wrong_preimage,
    Code.CONTRACT_EXPIRED: contract_expired,
    Code.CONTRACT_NOT_EXPIRED: contract_not_expired,
    Code.CONTRACT_CLOSED: contract_closed,
    Code.NOT_CONTRACT_PARTY: not_contract_party,
    Code.LEG_ALREADY_FUNDED: leg_already_funded,
    Code.OTHER_LEG_FUNDED: other_leg_funded,
    Code.TOO_MANY_CONTRACTS: too_many_contracts,
}


# --- HTLC behaviour ---------------------------------------------------------------------


def test_lock_moves_funds_into_the_contracts_account() -> None:
    w = world()
    before = w.available(ALICE, "BTC")
    contract_id = locked_htlc(w)
    assert w.available(ALICE, "BTC") == before - 1_000
    assert w.exchange.balances(CONTRACTS_ACCOUNT)["BTC"].available == 1_000
    htlc = w.exchange.htlc(contract_id)
    assert htlc is not None and htlc.status is HtlcStatus.OPEN and htlc.receiver == BOB.address


def test_claim_by_a_third_party_pays_the_receiver_and_records_the_preimage() -> None:
    w = world()
    contract_id = locked_htlc(w)
    bob_before, carol_before = w.available(BOB, "BTC"), w.available(CAROL, "BTC")
    receipt = w.receipt(CAROL, HtlcClaim(contract_id, SECRET))
    assert receipt.code is Code.OK
    assert w.available(BOB, "BTC") == bob_before + 1_000
    assert w.available(CAROL, "BTC") == carol_before
    htlc = w.exchange.htlc(contract_id)
    assert htlc is not None and htlc.status is HtlcStatus.CLAIMED and htlc.preimage == SECRET
    (claimed,) = receipt.events
    assert isinstance(claimed, HtlcClaimed) and claimed.preimage == SECRET
    assert claimed.claimer == CAROL.address


def test_claim_at_exactly_the_expiry_is_too_late_and_refund_then_works() -> None:
    w = world()
    contract_id = locked_htlc(w, expiry_in_ms=2_000)
    w.block([])  # timestamp + 1 s
    assert w.run(BOB, HtlcClaim(contract_id, SECRET)) is Code.CONTRACT_EXPIRED  # + 2 s: expiry
    before = w.available(ALICE, "BTC")
    assert w.run(ALICE, HtlcRefund(contract_id)) is Code.OK
    assert w.available(ALICE, "BTC") == before + 1_000
    assert w.run(ALICE, HtlcRefund(contract_id)) is Code.CONTRACT_CLOSED


def test_zero_and_out_of_range_amounts_are_invalid() -> None:
    w = world()
    assert w.run(ALICE, lock_body(w, amount=0)) is Code.INVALID_AMOUNT
    assert w.run(ALICE, lock_body(w, amount=limits.amount_max + 1)) is Code.INVALID_AMOUNT
    assert w.run(ALICE, lock_body(w, amount=10**18)) is Code.INSUFFICIENT_FUNDS


def test_receiver_must_be_someone_else_and_registered() -> None:
    w = world()
    expiry = w.timestamp_ms + HOUR_MS
    to_self = HtlcLock("BTC", 1, ALICE.address, HASHLOCK, expiry)
    assert w.run(ALICE, to_self) is Code.INVALID_RECIPIENT
    to_module = HtlcLock("BTC", 1, CONTRACTS_ACCOUNT, HASHLOCK, expiry)
    assert w.run(ALICE, to_module) is Code.INVALID_RECIPIENT
    to_outsider = HtlcLock("BTC", 1, OUTSIDER.address, HASHLOCK, expiry)
    assert w.run(ALICE, to_outsider) is Code.RECIPIENT_NOT_REGISTERED
    assert w.run(ALICE, HtlcLock("XYZ", 1, BOB.address, HASHLOCK, expiry)) is Code.UNKNOWN_ASSET


def test_nobody_can_pay_into_the_contracts_account_directly() -> None:
    w = world()
    assert w.run(ALICE, Transfer("BTC", CONTRACTS_ACCOUNT, 1)) is Code.INVALID_RECIPIENT


def test_rejected_contract_txs_change_no_balance() -> None:
    w = world()
    contract_id = locked_htlc(w)
    before = {who.address: w.exchange.balances(who.address) for who in (ALICE, BOB, CAROL)}
    for signer, body in (
        (BOB, HtlcClaim(contract_id, bytes(32))),
        (ALICE, HtlcRefund(contract_id)),
        (BOB, HtlcRefund(contract_id)),
    ):
        assert w.run(signer, body) is not Code.OK
    after = {who.address: w.exchange.balances(who.address) for who in (ALICE, BOB, CAROL)}
    assert after == before


# --- deals -----------------------------------------------------------------------------------


def test_deal_settles_in_the_block_that_funds_the_second_leg_in_either_order() -> None:
    for first, second in ((ALICE, BOB), (BOB, ALICE)):
        w = world()
        deal = proposed_deal(w)
        alice_btc, alice_usd = w.available(ALICE, "BTC"), w.available(ALICE, "USD")
        bob_btc, bob_usd = w.available(BOB, "BTC"), w.available(BOB, "USD")
        assert w.run(first, DealFund(deal)) is Code.OK
        receipt = w.receipt(second, DealFund(deal))
        assert receipt.code is Code.OK
        assert any(isinstance(event, DealSettled) for event in receipt.events)
        assert (w.available(ALICE, "BTC"), w.available(ALICE, "USD")) == (
            alice_btc - 500,
            alice_usd + 7_000,
        )
        assert (w.available(BOB, "BTC"), w.available(BOB, "USD")) == (
            bob_btc + 500,
            bob_usd - 7_000,
        )
        found = w.exchange.deal(deal)
        assert found is not None and found.status is DealStatus.SETTLED


def test_unsettled_deal_refunds_the_funded_leg_at_the_deadline() -> None:
    w = world()
    deal = proposed_deal(w, deadline_in_ms=2_500)
    before = w.available(BOB, "USD")
    assert w.run(BOB, DealFund(deal)) is Code.OK
    assert w.available(BOB, "USD") == before - 7_000
    result = w.block([])  # the block that reaches the deadline
    assert w.available(BOB, "USD") == before
    assert [type(e) for e in result.block_events] == [DealRefunded, DealClosed]
    found = w.exchange.deal(deal)
    assert found is not None and found.status is DealStatus.EXPIRED
    assert w.run(ALICE, DealFund(deal)) is Code.CONTRACT_CLOSED


def test_cancel_before_the_other_leg_refunds_the_own_leg() -> None:
    w = world()
    deal = proposed_deal(w)
    before = w.available(ALICE, "BTC")
    assert w.run(ALICE, DealFund(deal)) is Code.OK
    assert w.run(CAROL, DealCancel(deal)) is Code.NOT_CONTRACT_PARTY
    assert w.run(ALICE, DealCancel(deal)) is Code.OK
    assert w.available(ALICE, "BTC") == before
    assert w.run(BOB, DealFund(deal)) is Code.CONTRACT_CLOSED


def test_deal_proposal_checks_parties_assets_amounts_and_deadline() -> None:
    w = world()
    late = w.timestamp_ms + HOUR_MS
    assert (
        w.run(ALICE, DealPropose(ALICE.address, "BTC", 1, "USD", 1, late)) is Code.INVALID_RECIPIENT
    )
    assert (
        w.run(ALICE, DealPropose(OUTSIDER.address, "BTC", 1, "USD", 1, late))
        is Code.RECIPIENT_NOT_REGISTERED
    )
    assert w.run(ALICE, DealPropose(BOB.address, "BTC", 1, "XYZ", 1, late)) is Code.UNKNOWN_ASSET
    assert w.run(ALICE, DealPropose(BOB.address, "BTC", 0, "USD", 1, late)) is Code.INVALID_AMOUNT
    past = DealPropose(BOB.address, "BTC", 1, "USD", 1, w.timestamp_ms)
    assert w.run(ALICE, past) is Code.INVALID_EXPIRY


def test_funding_needs_the_available_balance_of_the_leg() -> None:
    w = World.create([ALICE, BOB], usd=6_999)
    deal = proposed_deal(w)
    assert w.run(BOB, DealFund(deal)) is Code.INSUFFICIENT_FUNDS


# --- state root and snapshots ---------------------------------------------------------------


def test_contracts_are_in_the_state_root_and_survive_a_snapshot() -> None:
    w = world()
    claimed = locked_htlc(w)
    assert w.run(BOB, HtlcClaim(claimed, SECRET)) is Code.OK
    open_htlc = locked_htlc(w)
    deal = proposed_deal(w)
    assert w.run(BOB, DealFund(deal)) is Code.OK
    state = w.exchange.state
    root = w.exchange.state_root()
    assert compute_root_from_scratch(state) == root
    restored = decode_snapshot(state.genesis, encode_snapshot(state))
    assert restored.compute_state_root() == root
    assert restored.contracts.htlcs[open_htlc].status is HtlcStatus.OPEN
    assert restored.contracts.htlcs[claimed].preimage == SECRET
    assert restored.contracts.open_counts == state.contracts.open_counts
    assert restored.contracts.deadlines == sorted(state.contracts.deadlines)


def test_a_changed_contract_changes_the_state_root() -> None:
    w = world()
    contract_id = locked_htlc(w)
    root = w.exchange.state_root()
    state = w.exchange.state
    htlc = state.contracts.htlcs[contract_id]
    from dataclasses import replace

    state.contracts.add_htlc(replace(htlc, expiry_ms=htlc.expiry_ms + 1))
    assert w.exchange.state_root() != root


def test_the_contract_events_are_encoded_and_decoded() -> None:
    from bftx.exchange.events import decode_block_result, encode_block_result

    w = world()
    contract_id = locked_htlc(w)
    result = w.block([w.tx(CAROL, HtlcClaim(contract_id, SECRET))])
    assert decode_block_result(encode_block_result(result)) == result
    assert events_of(result)


def test_escrow_check_reports_funds_the_open_contracts_do_not_account_for() -> None:
    from bftx.exchange.invariants import find_escrow_mismatches, find_violations

    w = world()
    contract_id = locked_htlc(w)
    state = w.exchange.state
    assert find_violations(state) == []
    state.accounts[CONTRACTS_ACCOUNT].balances["BTC"][0] += 1
    assert find_escrow_mismatches(state)
    state.accounts[CONTRACTS_ACCOUNT].balances["BTC"][0] -= 1
    htlc = state.contracts.htlcs[contract_id]
    state.contracts.htlcs[contract_id] = closed_htlc(htlc, HtlcStatus.REFUNDED, b"")
    assert find_escrow_mismatches(state)
