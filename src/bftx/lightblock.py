"""Light blocks: a block header and its commit certificate, decoded and checked from bytes alone.

A shared foundation (DESIGN.md section 2): the consensus engine encodes and
decodes headers and commit certificates with the records and decoders of this
module, and every light client checks them with `verify_light_block`: the
offline proof verifier (`bftx.client.verify`) and the interchain module of the
exchange (`bftx.exchange.interchain`), which may not import `bftx.consensus`.
It owns the wire shape of a header (`BlockHeader`), of a commit certificate
(`CommitCertificate`), the bytes a validator signs for a COMMIT vote, and the
quorum rule (2f+1 distinct validators of n, f = (n-1)//3).
It must never keep state, read a clock or decide anything beyond "does this
certificate prove this header under this validator set?".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bftx import codec, crypto, limits
from bftx.codec import Value
from bftx.errors import DecodeError

SIGNING_DOMAIN = b"bftx/consensus/v1"
COMMIT_KIND = 3  # the COMMIT vote's kind number in signed consensus messages
STATE_ROOT_BYTES_MAX = 64
HEADER_BYTES_MAX = 4_096
CERTIFICATE_BYTES_MAX = 65_536

# (public key, payload, signature) -> valid? A pure function, so a runtime may memoize it.
SignatureCheck = Callable[[bytes, bytes, bytes], bool]


@dataclass(frozen=True, slots=True)
class BlockHeader:
    chain_id: str
    height: int
    view: int  # the view the block was first proposed in
    anchor_hash: bytes  # digest of the block at height - pipeline depth
    anchor_state_root: bytes  # application state root after the anchor block
    txs_root: bytes  # crypto.merkle_root of the txs
    proposer: int  # validator index
    timestamp_ms: int  # the proposer's clock, bounded by every voter's clock
    is_null: bool  # a NEW-VIEW filler for a sequence number nobody prepared

    def to_value(self) -> Value:
        return (
            self.chain_id,
            self.height,
            self.view,
            self.anchor_hash,
            self.anchor_state_root,
            self.txs_root,
            self.proposer,
            self.timestamp_ms,
            self.is_null,
        )


def compute_header_digest(header: BlockHeader) -> bytes:
    return crypto.sha256(codec.encode(header.to_value()))


@dataclass(frozen=True, slots=True)
class SignatureShare:
    signer: int
    signature: bytes

    def to_value(self) -> Value:
        return (self.signer, self.signature)


def compute_shares_value(shares: tuple[SignatureShare, ...]) -> Value:
    return tuple((share.signer, share.signature) for share in shares)


@dataclass(frozen=True, slots=True)
class CommitCertificate:
    """2f+1 signed COMMITs for (view, seq, digest): the block at ``seq`` is final."""

    view: int
    seq: int
    digest: bytes
    shares: tuple[SignatureShare, ...]

    def to_value(self) -> Value:
        return (self.view, self.seq, self.digest, compute_shares_value(self.shares))


# --- quorums --------------------------------------------------------------------------


def compute_quorum(validator_count: int) -> int:
    """2f+1 for n = 3f+1; in general the smallest count any two of which share an honest member."""
    assert validator_count >= 1
    return validator_count - (validator_count - 1) // 3


def compute_commit_payload(chain_id: str, view: int, seq: int, digest: bytes) -> bytes:
    """The bytes a validator signs for COMMIT(view, seq, digest) on ``chain_id``."""
    return codec.encode((SIGNING_DOMAIN, chain_id, COMMIT_KIND, (view, seq, digest)))


def has_quorum_of_shares(
    public_keys: Sequence[bytes],
    payload: bytes,
    shares: tuple[SignatureShare, ...],
    check: SignatureCheck = crypto.verify,
    quorum: int | None = None,
) -> bool:
    """At least ``quorum`` (default 2f+1) distinct validators signed ``payload``; every share
    must be a distinct validator's valid signature."""
    needed = compute_quorum(len(public_keys)) if quorum is None else quorum
    if len(shares) < needed:
        return False
    count = len(public_keys)
    signers: set[int] = set()
    for share in shares:
        if not 0 <= share.signer < count or share.signer in signers:
            return False
        signers.add(share.signer)
    return all(check(public_keys[share.signer], payload, share.signature) for share in shares)


# --- light blocks ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LightBlock:
    """A decoded header and its commit certificate (not yet checked against validators)."""

    header: BlockHeader
    certificate: CommitCertificate
    digest: bytes  # the header's digest


def decode_light_block(header_bytes: bytes, certificate_bytes: bytes, chain_id: str) -> LightBlock:
    """Strictly decode a light block of ``chain_id``; `DecodeError` says what is wrong.

    The header must be in canonical form (its bytes are exactly its encoding), so
    one header has one digest."""
    header = decode_header(header_bytes, chain_id)
    if codec.encode(header.to_value()) != header_bytes:
        raise DecodeError("the header is not in canonical form")
    certificate = decode_commit_certificate(certificate_bytes)
    return LightBlock(header, certificate, compute_header_digest(header))


def verify_light_block(
    light: LightBlock, public_keys: Sequence[bytes], check: SignatureCheck = crypto.verify
) -> str | None:
    """Why ``light`` is not a final block of the chain these validators run; None if it is.

    The certificate must be for this header (height and digest) and carry 2f+1
    distinct valid signatures of COMMIT(view, height, digest); a null block is
    refused, as it commits to no state."""
    header, certificate = light.header, light.certificate
    if certificate.seq != header.height or certificate.digest != light.digest:
        return "the certificate is not for this header"
    payload = compute_commit_payload(
        header.chain_id, certificate.view, certificate.seq, certificate.digest
    )
    if not has_quorum_of_shares(public_keys, payload, certificate.shares, check):
        return "the certificate is not signed by a quorum of the validators"
    if header.is_null:
        return "a null block's header commits to no state"
    return None


# --- strict decoding -------------------------------------------------------------------


def decode_header(data: bytes, chain_id: str) -> BlockHeader:
    """A block header alone from its canonical bytes (what a light block carries)."""
    return decode_header_value(codec.decode(data, HEADER_BYTES_MAX), chain_id)


def decode_header_value(header_value: Value, chain_id: str) -> BlockHeader:
    fields = codec.expect_tuple(header_value, 9, "block header")
    header = BlockHeader(
        chain_id=codec.expect_str(fields[0], "chain id", limits.chain_id_bytes_max),
        height=decode_int(fields[1], "height"),
        view=decode_int(fields[2], "block view"),
        anchor_hash=decode_hash(fields[3], "anchor hash"),
        anchor_state_root=decode_state_root(fields[4], "anchor state root"),
        txs_root=decode_hash(fields[5], "txs root"),
        proposer=codec.expect_int(fields[6], "proposer", 0, limits.validators_max - 1),
        timestamp_ms=decode_int(fields[7], "timestamp"),
        is_null=codec.expect_bool(fields[8], "is null"),
    )
    if header.chain_id != chain_id:
        raise DecodeError(f"block for chain {header.chain_id!r}, expected {chain_id!r}")
    return header


def decode_commit_certificate(data: bytes) -> CommitCertificate:
    return decode_commit_certificate_value(codec.decode(data, CERTIFICATE_BYTES_MAX))


def decode_commit_certificate_value(value: Value) -> CommitCertificate:
    view, seq, digest, shares = codec.expect_tuple(value, 4, "commit certificate")
    return CommitCertificate(
        decode_int(view, "view"),
        decode_int(seq, "seq"),
        decode_hash(digest, "digest"),
        decode_shares(shares),
    )


def decode_shares(value: Value) -> tuple[SignatureShare, ...]:
    items = codec.expect_list(value, limits.validators_max, "signatures")
    shares = []
    for item in items:
        signer, signature = codec.expect_tuple(item, 2, "signature share")
        shares.append(
            SignatureShare(
                codec.expect_int(signer, "share signer", 0, limits.validators_max - 1),
                codec.expect_bytes(signature, "share signature", size=crypto.SIGNATURE_BYTES),
            )
        )
    return tuple(shares)


def decode_int(value: Value, what: str) -> int:
    return codec.expect_int(value, what, 0, 2**63 - 1)


def decode_hash(value: Value, what: str) -> bytes:
    return codec.expect_bytes(value, what, size=crypto.HASH_BYTES)


def decode_state_root(value: Value, what: str) -> bytes:
    return codec.expect_bytes(value, what, max_size=STATE_ROOT_BYTES_MAX)
