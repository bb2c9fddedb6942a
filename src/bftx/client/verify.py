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

Any failure raises `ProofInvalid` saying which check failed.

The bundle's other fields are for reading (``key``, ``key_hex``, ``height``,
``present``, ``value``, ``certified_height``), and nothing in them is taken on
trust: either the bundle has none of them (a bare bundle: the three byte
strings alone, as gRPC's ``GetProof`` gives them) or it has every one, and
each must say exactly what was verified: ``key`` must parse
(`bftx.exchange.proofs.parse_key`) to the proven key, ``key_hex`` must be that
key, ``height`` and ``present``/``value`` the proof's, ``certified_height``
the certified header's height. A bundle with some of them, or with any other
field, is refused too: a field the verifier cannot check is never passed on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bftx import codec, limits
from bftx.chain import Genesis
from bftx.client.errors import ClientError
from bftx.errors import DecodeError
from bftx.exchange.proofs import StateProof, decode_proof, parse_key
from bftx.lightblock import BlockHeader, decode_light_block, verify_light_block


class ProofInvalid(ClientError):
    def __init__(self, message: str) -> None:
        super().__init__(message, "proof_invalid")


@dataclass(frozen=True, slots=True)
class VerifiedEntry:
    """What a valid bundle proves: in the state after ``height``, ``key`` held ``value``
    (None: the key was absent), under ``state_root``, certified at ``certified_height``.

    ``key_text`` names ``key`` for reading: the bundle's ``key`` (checked to parse to
    ``key``), or ``raw:<key hex>`` for a bare bundle."""

    key: bytes
    value: bytes | None
    height: int
    state_root: bytes
    certified_height: int
    header: BlockHeader
    key_text: str


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
    key_text = _check_readable_fields(bundle, proof, header.height)
    return VerifiedEntry(
        proof.key, proof.value, proof.height, root, header.height, header, key_text
    )


_BYTE_FIELDS = ("proof", "header", "certificate")
_READABLE_FIELDS = ("key", "key_hex", "height", "present", "value", "certified_height")


def _check_readable_fields(
    bundle: Mapping[str, Any], proof: StateProof, certified_height: int
) -> str:
    """The key's text form once every readable field agrees with what was verified."""
    unknown = sorted(str(name) for name in bundle if name not in _BYTE_FIELDS + _READABLE_FIELDS)
    if unknown:
        raise ProofInvalid(f"the bundle has fields the verifier cannot check: {', '.join(unknown)}")
    given = [name for name in _READABLE_FIELDS if name in bundle]
    if not given:
        return f"raw:{proof.key.hex()}"
    missing = [name for name in _READABLE_FIELDS if name not in bundle]
    if missing:
        raise ProofInvalid(
            f"the bundle has no {', '.join(missing)}: a bundle carries all of "
            f"{', '.join(_READABLE_FIELDS)} or none of them"
        )
    key_text = bundle["key"]
    if not isinstance(key_text, str):
        raise ProofInvalid("the bundle's key is not text")
    try:
        named = parse_key(key_text)
    except DecodeError as error:
        raise ProofInvalid(f"the bundle's key does not parse: {error}") from error
    if named != proof.key:
        raise ProofInvalid(f"the bundle's key {key_text[:80]!r} is not the key its proof is for")
    if _hex_field(bundle, "key_hex") != proof.key:
        raise ProofInvalid("the bundle's key_hex is not the key its proof is for")
    if _int_field(bundle, "height") != proof.height:
        raise ProofInvalid(f"the bundle's height is not the proof's height {proof.height}")
    if _int_field(bundle, "certified_height") != certified_height:
        raise ProofInvalid(
            f"the bundle's certified_height is not the certified header's height {certified_height}"
        )
    present = bundle["present"]
    if not isinstance(present, bool) or present != (proof.value is not None):
        raise ProofInvalid("the bundle's present does not match its proof")
    value = None if bundle["value"] is None else _hex_field(bundle, "value")
    if value != proof.value:
        raise ProofInvalid("the bundle's value does not match its proof")
    return key_text


def _hex_field(bundle: Mapping[str, Any], name: str) -> bytes:
    text = bundle[name]
    if not isinstance(text, str):
        raise ProofInvalid(f"the bundle's {name} is not hex")
    try:
        return bytes.fromhex(text.removeprefix("0x"))
    except ValueError as error:
        raise ProofInvalid(f"the bundle's {name} is not hex") from error


def _int_field(bundle: Mapping[str, Any], name: str) -> int:
    number = bundle[name]
    if isinstance(number, bool) or not isinstance(number, int):
        raise ProofInvalid(f"the bundle's {name} is not an integer")
    return number


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
