"""The swap protocol end to end between two real EVMs (two eth-tester chains, A and B).

The driver does not know which chains it drives, so these tests pin down the
protocol itself: success, each failure path, the timing rules, and restarts
from the state file. Chain clocks move only when a test advances them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from bftx.errors import ConfigError
from bftx.ethereum import WEI_PER_ETHER, DevChain, EthereumHtlc
from bftx.swap import (
    ChainTiming,
    EthereumLeg,
    Phase,
    SwapDriver,
    SwapTiming,
    UnsafeSwap,
    load_state,
)

TIMING = SwapTiming(
    initiator_chain=ChainTiming("A", 1_000),
    responder_chain=ChainTiming("B", 1_000),
    clock_drift_ms=1_000,
    reaction_ms=1_000,
)  # margin 5 s, responder window 5 s, reveal window 3 s
WINDOW_MS = 60_000
GIVE = 3 * WEI_PER_ETHER  # the initiator's, on A
TAKE = 2 * WEI_PER_ETHER  # the responder's, on B


@dataclass
class Party:
    on_a: LocalAccount
    on_b: LocalAccount


@dataclass
class World:
    a: DevChain
    b: DevChain
    htlc_a: EthereumHtlc
    htlc_b: EthereumHtlc
    alice: Party  # the initiator
    bob: Party  # the responder

    def legs(self, party: Party, own_chain: str) -> tuple[EthereumLeg, EthereumLeg]:
        leg_a = EthereumLeg(self.htlc_a, party.on_a, finality_ms=1_000)
        leg_b = EthereumLeg(self.htlc_b, party.on_b, finality_ms=1_000)
        return (leg_a, leg_b) if own_chain == "A" else (leg_b, leg_a)


@pytest.fixture
def world() -> World:
    a, b = DevChain(), DevChain()
    alice = Party(a.new_account(10), b.new_account(1))
    bob = Party(a.new_account(1), b.new_account(10))
    return World(
        a,
        b,
        EthereumHtlc.deploy(a.web3, alice.on_a),
        EthereumHtlc.deploy(b.web3, bob.on_b),
        alice,
        bob,
    )


def initiate(world: World, path: Path | None = None) -> SwapDriver:
    own, other = world.legs(world.alice, "A")
    return SwapDriver.initiate(
        own_leg=own,
        other_leg=other,
        timing=TIMING,
        amount=GIVE,
        counterparty_receiver=world.bob.on_a.address,
        counterparty_sender=world.bob.on_b.address,
        counterparty_amount=TAKE,
        responder_window_ms=WINDOW_MS,
        path=path,
    )


def respond(world: World, initiator: SwapDriver, path: Path | None = None) -> SwapDriver:
    own, other = world.legs(world.bob, "B")
    return SwapDriver.respond(
        initiator.state.terms, own_leg=own, other_leg=other, timing=TIMING, path=path
    )


def advance_past(chain: DevChain, expiry_ms: int) -> None:
    chain.advance_time(max(1, expiry_ms // 1000 - chain.timestamp_s() + 1))


def test_swap_succeeds_and_each_party_gets_the_other_leg(world: World) -> None:
    bob_a, alice_b = (
        world.htlc_a.balance_wei(world.bob.on_a.address),
        world.htlc_b.balance_wei(world.alice.on_b.address),
    )
    alice = initiate(world)
    assert alice.step() is Phase.LOCKED
    bob = respond(world, alice)
    assert bob.step() is Phase.LOCKED
    assert bob.step() is Phase.LOCKED  # nothing revealed yet
    assert alice.step() is Phase.CLAIMED
    assert bob.step() is Phase.CLAIMED
    assert bob.state.secret == alice.state.secret
    gas_max = WEI_PER_ETHER // 100  # each claimer pays the gas of its claim
    assert TAKE - gas_max < world.htlc_b.balance_wei(world.alice.on_b.address) - alice_b < TAKE
    assert GIVE - gas_max < world.htlc_a.balance_wei(world.bob.on_a.address) - bob_a < GIVE


def test_responder_never_locks_so_the_initiator_refunds_after_expiry(world: World) -> None:
    before = world.htlc_a.balance_wei(world.alice.on_a.address)
    alice = initiate(world)
    alice.step()
    assert world.htlc_a.balance_wei(world.alice.on_a.address) < before - GIVE + 1
    assert alice.step() is Phase.LOCKED  # still waiting
    advance_past(world.a, alice.state.terms.initiator_expiry_ms)
    assert alice.step() is Phase.REFUNDED
    assert before - world.htlc_a.balance_wei(world.alice.on_a.address) < WEI_PER_ETHER // 100


def test_initiator_never_claims_so_both_refund(world: World) -> None:
    alice = initiate(world)
    alice.step()
    bob = respond(world, alice)
    bob.step()
    advance_past(world.b, bob.state.terms.responder_expiry_ms)
    assert bob.step() is Phase.REFUNDED
    assert alice.step() is Phase.LOCKED  # the responder's lock is gone; nothing to claim
    assert "the responder's lock was refunded" in alice.state.log[-1]["event"]
    advance_past(world.a, alice.state.terms.initiator_expiry_ms)
    assert alice.step() is Phase.REFUNDED


def test_initiator_keeps_the_secret_when_it_is_too_late_to_reveal(world: World) -> None:
    alice = initiate(world)
    alice.step()
    bob = respond(world, alice)
    bob.step()
    # B's clock moves to 2 s before T_R: less than the 3 s reveal window (rule 3)
    world.b.advance_time(bob.state.terms.responder_expiry_ms // 1000 - world.b.timestamp_s() - 2)
    assert alice.step() is Phase.LOCKED
    assert alice.step() is Phase.LOCKED
    events = [entry["event"] for entry in alice.state.log]
    assert sum("too late to reveal" in event for event in events) == 1  # noted once, not per poll
    assert world.htlc_b.revealed_preimage(bytes.fromhex(bob.state.own_lock_id[2:])) is None  # type: ignore[index]


def test_watcher_resumes_from_the_state_file_after_a_restart(world: World, tmp_path: Path) -> None:
    alice_file, bob_file = tmp_path / "alice.json", tmp_path / "bob.json"
    alice = initiate(world, alice_file)
    alice.step()
    bob = respond(world, alice, bob_file)
    bob.step()
    del alice, bob  # both watchers "crash"; only their files remain
    alice_own, alice_other = world.legs(world.alice, "A")
    alice = SwapDriver.resume(
        load_state(alice_file),
        own_leg=alice_own,
        other_leg=alice_other,
        timing=TIMING,
        path=alice_file,
    )
    assert alice.step() is Phase.CLAIMED
    bob_own, bob_other = world.legs(world.bob, "B")
    bob = SwapDriver.resume(
        load_state(bob_file), own_leg=bob_own, other_leg=bob_other, timing=TIMING
    )
    assert bob.step() is Phase.CLAIMED
    assert load_state(alice_file).phase is Phase.CLAIMED


def test_restart_after_the_lock_was_sent_but_not_saved_does_not_lock_twice(
    world: World, tmp_path: Path
) -> None:
    path = tmp_path / "alice.json"
    alice = initiate(world, path)
    terms = alice.state.terms
    alice.state.phase = Phase.LOCKING  # saved before sending, then the lock went out: crash
    alice.save()
    lock_id = alice.own_leg.lock(
        terms.initiator_receiver, terms.hashlock, terms.initiator_expiry_ms, terms.initiator_amount
    )
    balance = world.htlc_a.balance_wei(world.alice.on_a.address)
    own, other = world.legs(world.alice, "A")
    resumed = SwapDriver.resume(
        load_state(path), own_leg=own, other_leg=other, timing=TIMING, path=path
    )
    assert resumed.step() is Phase.LOCKED
    assert resumed.state.own_lock_id == lock_id
    assert world.htlc_a.balance_wei(world.alice.on_a.address) == balance  # no second lock


def test_responder_refuses_timelocks_closer_than_the_margin(world: World) -> None:
    alice = initiate(world)
    alice.step()
    terms = alice.state.terms
    greedy = replace(terms, responder_expiry_ms=terms.initiator_expiry_ms - TIMING.margin_ms + 1000)
    own, other = world.legs(world.bob, "B")
    with pytest.raises(UnsafeSwap, match="at least 5 s after the responder's"):
        SwapDriver.respond(greedy, own_leg=own, other_leg=other, timing=TIMING)


def test_responder_refuses_an_offer_the_lock_does_not_back(world: World) -> None:
    alice = initiate(world)
    alice.step()
    own, other = world.legs(world.bob, "B")
    inflated = replace(alice.state.terms, initiator_amount=GIVE + 1)
    with pytest.raises(UnsafeSwap, match="holds"):
        SwapDriver.respond(inflated, own_leg=own, other_leg=other, timing=TIMING)
    unlocked = replace(alice.state.terms, initiator_lock_id="0x" + "11" * 32)
    with pytest.raises(UnsafeSwap, match="not final"):
        SwapDriver.respond(unlocked, own_leg=own, other_leg=other, timing=TIMING)
    for_someone_else = replace(alice.state.terms, responder_sender=world.alice.on_b.address)
    with pytest.raises(UnsafeSwap, match="not this key"):
        SwapDriver.respond(for_someone_else, own_leg=own, other_leg=other, timing=TIMING)
    other_asset = replace(alice.state.terms, responder_asset="BTC")
    with pytest.raises(UnsafeSwap, match="asks for BTC"):
        SwapDriver.respond(other_asset, own_leg=own, other_leg=other, timing=TIMING)


def test_responder_abandons_when_the_window_closed_before_it_locked(world: World) -> None:
    alice = initiate(world)
    alice.step()
    bob = respond(world, alice)
    world.b.advance_time(WINDOW_MS // 1000)  # bob's watcher was down; T_R is (nearly) here
    assert bob.step() is Phase.ABANDONED
    assert bob.state.own_lock_id is None


def test_initiator_refuses_a_window_shorter_than_rule_2(world: World) -> None:
    own, other = world.legs(world.alice, "A")
    with pytest.raises(UnsafeSwap, match="window must be at least"):
        SwapDriver.initiate(
            own_leg=own,
            other_leg=other,
            timing=TIMING,
            amount=GIVE,
            counterparty_receiver=world.bob.on_a.address,
            counterparty_sender=world.bob.on_b.address,
            counterparty_amount=TAKE,
            responder_window_ms=TIMING.responder_window_ms - 1,
        )
    with pytest.raises(UnsafeSwap, match="not an Ethereum address"):
        SwapDriver.initiate(
            own_leg=own,
            other_leg=other,
            timing=TIMING,
            amount=GIVE,
            counterparty_receiver="bob",
            counterparty_sender=world.bob.on_b.address,
            counterparty_amount=TAKE,
            responder_window_ms=WINDOW_MS,
        )


def test_state_file_is_replaced_whole_and_bad_files_are_refused(
    world: World, tmp_path: Path
) -> None:
    path = tmp_path / "swap.json"
    alice = initiate(world, path)
    assert load_state(path).secret == alice.state.secret
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["swap.json"]  # no temporary file left
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not JSON"):
        load_state(path)
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(ConfigError, match="version 99"):
        load_state(path)


def test_responder_back_in_locking_rechecks_the_window_before_sending(
    world: World, tmp_path: Path
) -> None:
    """Saved `locking`, crashed before the lock went out, back after T_R is close: abandon."""
    path = tmp_path / "bob.json"
    alice = initiate(world)
    alice.step()
    bob = respond(world, alice, path)
    bob.state.phase = Phase.LOCKING
    bob.save()
    world.b.advance_time(WINDOW_MS // 1000)
    own, other = world.legs(world.bob, "B")
    resumed = SwapDriver.resume(load_state(path), own_leg=own, other_leg=other, timing=TIMING)
    assert resumed.step() is Phase.ABANDONED
    assert resumed.state.own_lock_id is None
