"""State proofs: naming a state entry, and the canonical bytes of a membership or absence proof.

Owns the text form of state keys (what ``GET /v1/proofs?key=`` takes), the
encoding of a proof, and the check of a proof against a state root. It must
never decide which root to trust: that is the light-block check of the
verifier (`bftx.client.verify`), which takes the root from a certified header.

Proof bytes (`encode_proof`): the canonical encoding of
``(height, key, value or None, bucket_index, ((key, sha256(value)), ...), (sibling, ...))``
where ``height`` is the block after which the state held it (docs/settlement.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bftx import codec, crypto, limits
from bftx.errors import DecodeError
from bftx.exchange.commitment import BucketProof, compute_proof_root
from bftx.exchange.keys import (
    COUNTERS_KEY,
    account_key,
    contract_key,
    order_key,
    parse_interchain_key,
    supply_key,
)

proof_bytes_max = 1024 * 1024  # a bucket of a few thousand entries at the very most
_KEY_BYTES_MAX = 64
# ASCII only: int() also reads '١', ' 1' or '1_0', bytes.fromhex() skips spaces
_NONCE_TEXT = re.compile(r"[0-9]{1,20}")
_HEX_TEXT = re.compile(r"(0x)?[0-9a-fA-F]*")


@dataclass(frozen=True, slots=True)
class StateProof:
    height: int
    bucket: BucketProof

    @property
    def key(self) -> bytes:
        return self.bucket.key

    @property
    def value(self) -> bytes | None:
        return self.bucket.value

    def compute_root(self) -> bytes | None:
        """The state root this proof leads to; None when it is inconsistent in itself."""
        return compute_proof_root(self.bucket, limits.state_buckets_log2)


def parse_key(text: str) -> bytes:
    """A state key from its text form; `DecodeError` says what is wrong.

    ``account:<address hex>``, ``htlc:<id hex>``, ``deal:<id hex>`` (or
    ``contract:<id hex>``), ``order:<owner hex>:<nonce>``, ``supply:<SYMBOL>``,
    ``counters``, ``raw:<key hex>``, or an interchain key (``ibc-client:<client>``,
    ``ibc-consensus:<client>:<height>``, ``ibc-commitment:<client>:<sequence>``,
    ``ibc-receipt:<client>:<source client>:<sequence>``, ``ibc-ack:...`` alike).
    """
    kind, _, rest = text.partition(":")
    if kind.startswith("ibc-"):
        found = parse_interchain_key(kind, rest)
        if found is not None:
            return found
    try:
        if kind == "account":
            return account_key(_hex(rest, crypto.ADDRESS_BYTES))
        if kind in ("htlc", "deal", "contract"):
            return contract_key(_hex(rest, crypto.HASH_BYTES))
        if kind == "order":
            owner, _, nonce = rest.partition(":")
            if _NONCE_TEXT.fullmatch(nonce) is None or int(nonce) > limits.nonce_max:
                raise ValueError
            number = int(nonce)
            return order_key(_hex(owner, crypto.ADDRESS_BYTES), number)
        if kind == "supply" and rest and len(rest.encode()) <= limits.asset_symbol_bytes_max:
            return supply_key(rest)
        if kind == "counters" and not rest:
            return COUNTERS_KEY
        if kind == "raw":
            raw = _hex(rest, len(rest.removeprefix("0x")) // 2)
            if 1 <= len(raw) <= _KEY_BYTES_MAX:
                return raw
    except ValueError:
        pass
    raise DecodeError(
        f"key {text[:80]!r}: expected account:<address hex>, htlc:<id hex>, deal:<id hex>, "
        "order:<owner hex>:<nonce>, supply:<SYMBOL>, counters or raw:<hex>"
    )


def _hex(text: str, size: int) -> bytes:
    if _HEX_TEXT.fullmatch(text) is None:
        raise ValueError
    value = bytes.fromhex(text.removeprefix("0x"))
    if len(value) != size:
        raise ValueError
    return value


def encode_proof(proof: StateProof) -> bytes:
    bucket = proof.bucket
    return codec.encode(
        (
            proof.height,
            bucket.key,
            bucket.value,
            bucket.bucket_index,
            tuple((key, value_hash) for key, value_hash in bucket.entries),
            bucket.siblings,
        )
    )


def decode_proof(data: bytes) -> StateProof:
    """Strictly decode proof bytes; `DecodeError` says what is wrong."""
    value = codec.decode(data, proof_bytes_max)
    height, key, entry_value, index, entries, siblings = codec.expect_tuple(value, 6, "proof")
    decoded_entries = []
    for item in codec.expect_list(entries, limits.decode_container_items_max, "proof.entries"):
        entry_key, value_hash = codec.expect_tuple(item, 2, "proof.entry")
        decoded_entries.append(
            (
                codec.expect_bytes(entry_key, "proof.entry.key", max_size=_KEY_BYTES_MAX),
                codec.expect_bytes(value_hash, "proof.entry.value_hash", size=crypto.HASH_BYTES),
            )
        )
    return StateProof(
        codec.expect_int(height, "proof.height", 0, 2**62),
        BucketProof(
            codec.expect_bytes(key, "proof.key", max_size=_KEY_BYTES_MAX),
            None
            if entry_value is None
            else codec.expect_bytes(entry_value, "proof.value", max_size=proof_bytes_max),
            codec.expect_int(index, "proof.bucket_index", 0, 2**32),
            tuple(decoded_entries),
            tuple(
                codec.expect_bytes(sibling, "proof.sibling", size=crypto.HASH_BYTES)
                for sibling in codec.expect_list(siblings, 64, "proof.siblings")
            ),
        ),
    )
