"""State proofs: membership and real absence proofs at recent heights, and their mutations.

The verifier side with headers and certificates is tests/client/test_verify.py.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bftx import crypto, limits
from bftx.errors import DecodeError
from bftx.exchange import HtlcLock, Transfer, compute_contract_id
from bftx.exchange.commitment import StateCommitment, compute_proof_root
from bftx.exchange.proofs import StateProof, decode_proof, encode_proof, parse_key
from bftx.exchange.state import account_key, contract_key

from .support import ALICE, BOB, OUTSIDER, World

LOG2 = limits.state_buckets_log2


def busy_world() -> tuple[World, list[bytes]]:
    """A world after a few blocks; the state root after each height, from 0."""
    w = World.create([ALICE, BOB])
    roots = [w.exchange.state_root()]
    for amount in (5, 7, 11):
        w.run(ALICE, Transfer("BTC", BOB.address, amount))
        roots.append(w.exchange.state_root())
    return w, roots


def test_membership_proof_leads_to_the_root_of_its_height() -> None:
    w, roots = busy_world()
    for height, root in enumerate(roots):
        proof = w.exchange.prove(account_key(ALICE.address), height)
        assert proof is not None and proof.value is not None
        assert compute_proof_root(proof, LOG2) == root


def test_a_past_height_proves_the_value_it_had_then() -> None:
    w, _roots = busy_world()
    values = [w.exchange.prove(account_key(BOB.address), h) for h in range(4)]
    assert len({proof.value for proof in values if proof}) == 4  # each transfer changed it


def test_absence_proof_of_an_unknown_account_is_real() -> None:
    w, roots = busy_world()
    proof = w.exchange.prove(account_key(OUTSIDER.address), 3)
    assert proof is not None and proof.value is None
    assert compute_proof_root(proof, LOG2) == roots[3]


def test_withholding_an_entry_to_fake_absence_fails() -> None:
    w, roots = busy_world()
    present = w.exchange.prove(account_key(ALICE.address), 3)
    assert present is not None
    withheld = replace(
        present,
        value=None,
        entries=tuple(entry for entry in present.entries if entry[0] != present.key),
    )
    assert compute_proof_root(withheld, LOG2) != roots[3]
    claimed_absent = replace(present, value=None)
    assert compute_proof_root(claimed_absent, LOG2) is None


def test_a_contract_created_later_is_absent_at_an_earlier_height() -> None:
    w, _roots = busy_world()
    contract_id = compute_contract_id(ALICE.address, w.next_nonce(ALICE))
    body = HtlcLock("BTC", 10, BOB.address, crypto.sha256(bytes(32)), w.timestamp_ms + 60_000)
    w.run(ALICE, body)
    height = w.exchange.height
    before = w.exchange.prove(contract_key(contract_id), height - 1)
    after = w.exchange.prove(contract_key(contract_id), height)
    assert before is not None and before.value is None
    assert after is not None and after.value is not None


def test_only_the_last_heights_are_kept() -> None:
    commitment = StateCommitment(4)
    for height in range(limits.proof_heights_max + 10):
        commitment.put(b"k", height.to_bytes(8, "big"))
        commitment.seal(height)
    assert commitment.prove(b"k", 5) is None
    kept = commitment.provable_heights()
    assert len(kept) == limits.proof_heights_max and kept[-1] == limits.proof_heights_max + 9
    proof = commitment.prove(b"k", kept[0])
    assert proof is not None and proof.value == kept[0].to_bytes(8, "big")


def test_proof_bytes_round_trip() -> None:
    w, _roots = busy_world()
    bucket = w.exchange.prove(account_key(ALICE.address), 2)
    assert bucket is not None
    proof = StateProof(2, bucket)
    assert decode_proof(encode_proof(proof)) == proof


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_changed_byte_of_a_proof_is_detected(data: st.DataObject) -> None:
    w, roots = _WORLD
    height = data.draw(st.integers(0, 3))
    who = data.draw(st.sampled_from([ALICE, BOB, OUTSIDER]))
    bucket = w.exchange.prove(account_key(who.address), height)
    assert bucket is not None
    encoded = bytearray(encode_proof(StateProof(height, bucket)))
    index = data.draw(st.integers(0, len(encoded) - 1))
    encoded[index] ^= data.draw(st.integers(1, 255))
    try:
        changed = decode_proof(bytes(encoded))
    except DecodeError:
        return
    assert changed.height != height or changed.compute_root() != roots[height]


_WORLD = busy_world()


@pytest.mark.parametrize(
    "text",
    [
        "account:12",
        "htlc:zz",
        "order:" + "00" * 20 + ":-1",
        "supply:",
        "counters:x",
        "raw:",
        "x",
        # numbers of interchain keys are ASCII digits: str.isdigit() also admits these
        "ibc-commitment:client-0:\u00b2",
        "ibc-receipt:client-0:client-1:\u00b3",
        "ibc-ack:client-0:client-1:\u0661",
        "ibc-consensus:client-0:" + "1" * 19,
        # an order's nonce and every hex part alike: int() reads these, fromhex() skips spaces
        "order:" + "00" * 20 + ":\u0661",
        "order:" + "00" * 20 + ": 1",
        "order:" + "00" * 20 + ":1_0",
        "order:" + "00" * 20 + ":+1",
        "account:" + "00 " * 20,
        "raw:ab cd",
    ],
)
def test_bad_key_texts_are_refused(text: str) -> None:
    with pytest.raises(DecodeError):
        parse_key(text)


def test_key_texts_name_the_state_entries() -> None:
    address = ALICE.address
    assert parse_key(f"account:{address.hex()}") == account_key(address)
    assert parse_key(f"deal:0x{'11' * 32}") == contract_key(bytes([0x11]) * 32)
    assert parse_key("supply:BTC") == b"sBTC"
    assert parse_key("counters") == b"g"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.integers(0, 40), st.one_of(st.none(), st.binary(min_size=1, max_size=8))),
            max_size=12,
        ),
        min_size=1,
        max_size=limits.proof_heights_max + 4,
    ),
    st.data(),
)
def test_every_kept_height_proves_exactly_what_it_held(
    blocks: list[list[tuple[int, bytes | None]]], data: st.DataObject
) -> None:
    """Random puts and deletes over many heights: a proof of any key at any kept height shows
    the value it had then (or its absence) and leads to that height's root."""
    commitment = StateCommitment(3)  # 8 buckets: many keys share one
    commitment.seal(0)
    history: list[tuple[bytes, dict[bytes, bytes]]] = [(commitment.root(), {})]
    current: dict[bytes, bytes] = {}
    for height, changes in enumerate(blocks, start=1):
        for number, value in changes:
            key = b"k" + bytes([number])
            if value is None:
                commitment.delete(key)
                current.pop(key, None)
            else:
                commitment.put(key, value)
                current[key] = value
        commitment.seal(height)
        history.append((commitment.root(), dict(current)))
    for height in commitment.provable_heights():
        root, held = history[height]
        key = b"k" + bytes([data.draw(st.integers(0, 40))])
        proof = commitment.prove(key, height)
        assert proof is not None and proof.value == held.get(key)
        assert compute_proof_root(proof, 3) == root


def test_a_cancelled_order_is_present_before_and_absent_after() -> None:
    from bftx.exchange import CancelOrder, Side
    from bftx.exchange.state import order_key

    w = World.create([ALICE, BOB])
    nonce = w.next_nonce(ALICE)
    assert w.place(ALICE, Side.BUY, 100, 1).code.name == "OK"
    placed_at = w.exchange.height
    w.run(ALICE, CancelOrder(nonce))
    before = w.exchange.prove(order_key(ALICE.address, nonce), placed_at)
    after = w.exchange.prove(order_key(ALICE.address, nonce), w.exchange.height)
    assert before is not None and before.value is not None
    assert after is not None and after.value is None
