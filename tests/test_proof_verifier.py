"""The offline verifier (`bftx.client.verify`): certificate, header and proof from the genesis alone.

(Here rather than in tests/client, whose fixtures start a live cluster for every test.)

A 4-validator chain is built here without a network: an exchange executes a
few blocks, a header at height h + 4 anchors the state after h, and 3 of the 4
validators sign its COMMIT. Any changed byte of proof, header or certificate
must make verification fail (property test), and so must each broken rule.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bftx import codec, limits
from bftx.chain import Genesis, Validator
from bftx.client import ProofInvalid, verify_bundle
from bftx.consensus.messages import (
    BlockHeader,
    Commit,
    CommitCertificate,
    SignatureShare,
    compute_header_digest,
    compute_signing_payload,
)
from bftx.crypto import KeyPair, merkle_root
from bftx.exchange import Transfer
from bftx.exchange.proofs import StateProof, encode_proof
from bftx.exchange.state import account_key
from tests.exchange.support import ALICE, BOB, CHAIN_ID, OUTSIDER, World

KEYS = [KeyPair.from_seed(bytes([200 + index]) * 32) for index in range(4)]
GENESIS = Genesis(
    CHAIN_ID,
    0,
    tuple(Validator(f"v{index}", key.public_key) for index, key in enumerate(KEYS)),
    {},
)
STATE_HEIGHT = 2


def certify(header: BlockHeader, signers: tuple[int, ...] = (0, 1, 2)) -> CommitCertificate:
    digest = compute_header_digest(header)
    payload = compute_signing_payload(CHAIN_ID, Commit(0, header.height, digest))
    shares = tuple(SignatureShare(index, KEYS[index].sign(payload)) for index in signers)
    return CommitCertificate(0, header.height, digest, shares)


def make_header(
    state_root: bytes, height: int = STATE_HEIGHT + limits.pipeline_depth_blocks
) -> BlockHeader:
    return BlockHeader(
        chain_id=CHAIN_ID,
        height=height,
        view=0,
        anchor_hash=bytes(32),
        anchor_state_root=state_root,
        txs_root=merkle_root(()),
        proposer=0,
        timestamp_ms=123,
        is_null=False,
    )


def make_bundle(who: bytes = ALICE.address) -> dict[str, Any]:
    w = World.create([ALICE, BOB])
    roots = [w.exchange.state_root()]
    for amount in (3, 4, 5):
        w.run(ALICE, Transfer("BTC", BOB.address, amount))
        roots.append(w.exchange.state_root())
    bucket = w.exchange.prove(account_key(who), STATE_HEIGHT)
    assert bucket is not None
    header = make_header(roots[STATE_HEIGHT])
    return bundle_of(StateProof(STATE_HEIGHT, bucket), header, certify(header))


def bundle_of(
    proof: StateProof, header: BlockHeader, certificate: CommitCertificate
) -> dict[str, Any]:
    return {
        "proof": encode_proof(proof).hex(),
        "header": codec.encode(header.to_value()).hex(),
        "certificate": codec.encode(certificate.to_value()).hex(),
    }


BUNDLE = make_bundle()
ABSENT = make_bundle(OUTSIDER.address)


def test_a_valid_bundle_verifies() -> None:
    verified = verify_bundle(GENESIS, BUNDLE)
    assert verified.height == STATE_HEIGHT and verified.value is not None
    assert verify_bundle(GENESIS, ABSENT).value is None


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["proof", "header", "certificate"]),
    st.booleans(),
    st.data(),
)
def test_flipping_any_byte_of_proof_header_or_certificate_fails(
    field: str, absent: bool, data: st.DataObject
) -> None:
    bundle = ABSENT if absent else BUNDLE
    raw = bytearray(bytes.fromhex(bundle[field]))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(ProofInvalid):
        verify_bundle(GENESIS, {**bundle, field: raw.hex()})


def _header_and_root() -> tuple[BlockHeader, StateProof]:
    from bftx.consensus.messages import decode_header
    from bftx.exchange.proofs import decode_proof

    return (
        decode_header(bytes.fromhex(BUNDLE["header"]), CHAIN_ID),
        decode_proof(bytes.fromhex(BUNDLE["proof"])),
    )


def test_two_signatures_of_four_are_not_a_quorum() -> None:
    header, proof = _header_and_root()
    with pytest.raises(ProofInvalid, match="quorum"):
        verify_bundle(GENESIS, bundle_of(proof, header, certify(header, (0, 1))))


def test_signatures_by_keys_outside_the_genesis_fail() -> None:
    header, proof = _header_and_root()
    other = Genesis(
        CHAIN_ID,
        0,
        tuple(
            Validator(f"x{i}", KeyPair.from_seed(bytes([90 + i]) * 32).public_key) for i in range(4)
        ),
        {},
    )
    with pytest.raises(ProofInvalid, match="quorum"):
        verify_bundle(other, bundle_of(proof, header, certify(header)))


def test_a_header_for_another_height_fails_even_when_certified() -> None:
    header, proof = _header_and_root()
    moved = make_header(header.anchor_state_root, header.height + 1)
    with pytest.raises(ProofInvalid, match="commits to the state after"):
        verify_bundle(GENESIS, bundle_of(proof, moved, certify(moved)))


def test_a_null_header_fails() -> None:
    header, proof = _header_and_root()
    null = replace(header, is_null=True)
    with pytest.raises(ProofInvalid, match="null"):
        verify_bundle(GENESIS, bundle_of(proof, null, certify(null)))


def test_a_certified_header_with_another_root_fails() -> None:
    header, proof = _header_and_root()
    other = replace(header, anchor_state_root=bytes(32))
    with pytest.raises(ProofInvalid, match="state root"):
        verify_bundle(GENESIS, bundle_of(proof, other, certify(other)))


def test_readable_fields_must_agree_with_the_proof() -> None:
    with pytest.raises(ProofInvalid, match="present"):
        verify_bundle(GENESIS, {**BUNDLE, "present": False})
