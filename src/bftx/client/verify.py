"""The offline verifier of state proofs: from the genesis alone, no network.

A proof bundle (what ``GET /v1/proofs`` returns, and what ``bftx verify
--proof FILE`` reads) holds three byte strings, hex encoded:
``proof`` (`bftx.exchange.proofs`), ``header`` (a block header's canonical
bytes) and ``certificate`` (the header's commit certificate). `verify_bundle`
checks, in order:

1. the certificate: 2f+1 distinct validators of the genesis signed
   COMMIT(view, height, digest) (`bftx.lightblock.verify_light_block`);
2. the header: it is for the genesis chain, its digest is the certified one,
   it is not a null block, and it anchors the proof's height (a header at
   height h commits to the state after h - ``pipeline_depth_blocks``);
3. the proof: its bucket and sibling path lead to exactly that state root, and
   the entry is present with that value or (absence) not in its bucket.

Any failure raises `ProofInvalid` saying which check failed. The bundle's
other fields (``key``, ``height``, ``present``, ``value``) are for reading and
must agree with the proof.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bftx import codec, limits
from bftx.chain import Genesis
from bftx.client.errors import ClientError
from bftx.errors import DecodeError
from bftx.exchange.proofs import StateProof, decode_proof
from bftx.lightblock import BlockHeader, decode_light_block, verify_light_block


class ProofInvalid(ClientError):
    def __init__(self, message: str) -> None:
        super().__init__(message, "proof_invalid")


@dataclass(frozen=True, slots=True)
class VerifiedEntry:
    """What a valid bundle proves: in the state after ``height``, ``key`` held ``value``
    (None: the key was absent), under ``state_root``, certified at ``certified_height``."""

    key: bytes
    value: bytes | None
    height: int
    state_root: bytes
    certified_height: int
    header: BlockHeader


def verify_bundle(genesis: Genesis, bundle: Mapping[str, Any]) -> VerifiedEntry:
    """Check a proof bundle against ``genesis``; `ProofInvalid` if anything does not hold."""
    proof_bytes = _bytes(bundle, "proof")
    header_bytes = _bytes(bundle, "header")
    certificate_bytes = _bytes(bundle, "certificate")
    try:
        proof = decode_proof(proof_bytes)
        light = decode_light_block(header_bytes, certificate_bytes, genesis.chain_id)
    except DecodeError as error:
        raise ProofInvalid(f"the bundle does not decode: {error}") from error
    refusal = verify_light_block(light, tuple(v.public_key for v in genesis.validators))
    if refusal is not None:
        raise ProofInvalid(refusal.replace("the validators", "the genesis validators"))
    header = light.header
    if header.height - limits.pipeline_depth_blocks != proof.height:
        raise ProofInvalid(
            f"the header at {header.height} commits to the state after "
            f"{header.height - limits.pipeline_depth_blocks}, the proof is for {proof.height}"
        )
    root = proof.compute_root()
    if root is None or root != header.anchor_state_root:
        raise ProofInvalid("the proof does not lead to the state root the header commits to")
    _check_readable_fields(bundle, proof)
    return VerifiedEntry(proof.key, proof.value, proof.height, root, header.height, header)


def _check_readable_fields(bundle: Mapping[str, Any], proof: StateProof) -> None:
    expected = {
        "key_hex": proof.key.hex(),
        "height": proof.height,
        "present": proof.value is not None,
        "value": None if proof.value is None else proof.value.hex(),
    }
    for name, value in expected.items():
        if name in bundle and bundle[name] != value:
            raise ProofInvalid(f"the bundle's {name} does not match its proof")


def _bytes(bundle: Mapping[str, Any], name: str) -> bytes:
    text = bundle.get(name)
    if not isinstance(text, str):
        raise ProofInvalid(f"the bundle has no {name} (hex)")
    try:
        return bytes.fromhex(text.removeprefix("0x"))
    except ValueError as error:
        raise ProofInvalid(f"the bundle's {name} is not hex") from error


def describe_value(key: bytes, value: bytes | None) -> Any:
    """A proven entry's value decoded for reading (the canonical value shapes of the state)."""
    if value is None:
        return None
    try:
        return _readable(codec.decode(value, len(value) + 1))
    except DecodeError:
        return value.hex()


def _readable(value: codec.Value) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return [_readable(item) for item in value]
    return value
