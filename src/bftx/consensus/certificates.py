"""The validator set, quorums and the standalone certificate verifiers.

This module owns the question "do these signatures prove it?". Anyone holding
the validator set (a follower, a light client, the simulator's checker) can
verify a commit certificate with `verify_commit_certificate` and nothing else.
It must never keep state between calls or decide what a replica does next.
"""

from __future__ import annotations

from dataclasses import dataclass

from bftx import crypto
from bftx.consensus.messages import (
    Block,
    Body,
    Checkpoint,
    CheckpointProof,
    Commit,
    CommitCertificate,
    Prepare,
    PreparedCertificate,
    SignatureShare,
    SignedMessage,
    compute_signing_payload,
)
from bftx.lightblock import SignatureCheck as SignatureCheck
from bftx.lightblock import compute_quorum, has_quorum_of_shares


@dataclass(frozen=True, slots=True)
class ValidatorSet:
    chain_id: str
    public_keys: tuple[bytes, ...]  # validator index -> Ed25519 public key

    def __post_init__(self) -> None:
        assert len(self.public_keys) >= 1
        assert len(set(self.public_keys)) == len(self.public_keys), "validator keys are distinct"

    @property
    def size(self) -> int:
        return len(self.public_keys)

    @property
    def fault_tolerance(self) -> int:
        """f: the most byzantine validators the protocol tolerates."""
        return (self.size - 1) // 3

    @property
    def quorum(self) -> int:
        """2f+1 for n = 3f+1; in general the smallest count any two of which share an honest member."""
        return compute_quorum(self.size)

    def primary_of(self, view: int) -> int:
        return view % self.size

    def is_validator(self, index: int) -> bool:
        return 0 <= index < self.size


def is_signed_by(
    validators: ValidatorSet, message: SignedMessage, check: SignatureCheck = crypto.verify
) -> bool:
    """The message's signer is a validator and its signature covers the body."""
    if not validators.is_validator(message.signer):
        return False
    payload = message.compute_payload(validators.chain_id)
    return check(validators.public_keys[message.signer], payload, message.signature)


def is_quorum_of_shares(
    validators: ValidatorSet,
    body: Body,
    shares: tuple[SignatureShare, ...],
    check: SignatureCheck = crypto.verify,
    quorum: int | None = None,
) -> bool:
    """At least ``quorum`` (default 2f+1) distinct validators signed ``body``."""
    payload = compute_signing_payload(validators.chain_id, body)
    return has_quorum_of_shares(validators.public_keys, payload, shares, check, quorum)


def verify_commit_certificate(
    validators: ValidatorSet,
    certificate: CommitCertificate,
    block: Block | None = None,
    check: SignatureCheck = crypto.verify,
    quorum: int | None = None,
) -> bool:
    """2f+1 validators signed COMMIT(view, seq, digest); with ``block``, it is that block."""
    if block is not None and (
        block.digest != certificate.digest or block.height != certificate.seq
    ):
        return False
    body = Commit(certificate.view, certificate.seq, certificate.digest)
    return is_quorum_of_shares(validators, body, certificate.shares, check, quorum)


def verify_prepared_certificate(
    validators: ValidatorSet,
    certificate: PreparedCertificate,
    check: SignatureCheck = crypto.verify,
    quorum: int | None = None,
) -> bool:
    block = certificate.block
    if block.height != certificate.seq or block.header.chain_id != validators.chain_id:
        return False
    body = Prepare(certificate.view, certificate.seq, block.digest)
    return is_quorum_of_shares(validators, body, certificate.shares, check, quorum)


def verify_checkpoint_proof(
    validators: ValidatorSet,
    proof: CheckpointProof,
    check: SignatureCheck = crypto.verify,
    quorum: int | None = None,
) -> bool:
    checkpoint: Checkpoint = proof.checkpoint
    return is_quorum_of_shares(validators, checkpoint, proof.shares, check, quorum)
