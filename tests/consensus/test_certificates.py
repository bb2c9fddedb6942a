from __future__ import annotations

from dataclasses import replace

from bftx.consensus import verify_commit_certificate
from bftx.consensus.messages import Commit, CommitCertificate, SignatureShare
from tests.consensus.support import make_chain, make_first_block, sign

CONFIG, KEYS = make_chain()
VALIDATORS = CONFIG.validators
BLOCK = make_first_block()


def certificate_from(signers: list[int], digest: bytes = BLOCK.digest) -> CommitCertificate:
    shares = tuple(
        SignatureShare(signer, sign(KEYS, signer, Commit(0, 1, digest)).signature)
        for signer in signers
    )
    return CommitCertificate(0, 1, digest, shares)


def test_certificate_from_a_quorum_verifies() -> None:
    assert VALIDATORS.quorum == 3
    assert verify_commit_certificate(VALIDATORS, certificate_from([0, 1, 3]), BLOCK)


def test_certificate_with_a_forged_signature_is_rejected() -> None:
    certificate = certificate_from([0, 1, 2])
    forged = SignatureShare(2, bytes(64))
    tampered = replace(certificate, shares=(*certificate.shares[:2], forged))
    assert not verify_commit_certificate(VALIDATORS, tampered, BLOCK)


def test_certificate_with_too_few_signatures_is_rejected() -> None:
    assert not verify_commit_certificate(VALIDATORS, certificate_from([0, 1]), BLOCK)


def test_certificate_repeating_one_signer_is_rejected() -> None:
    certificate = certificate_from([0, 1])
    repeated = replace(certificate, shares=(*certificate.shares, certificate.shares[0]))
    assert not verify_commit_certificate(VALIDATORS, repeated, BLOCK)


def test_certificate_with_an_unknown_signer_is_rejected() -> None:
    certificate = certificate_from([0, 1, 2])
    stranger = SignatureShare(7, certificate.shares[2].signature)
    tampered = replace(certificate, shares=(*certificate.shares[:2], stranger))
    assert not verify_commit_certificate(VALIDATORS, tampered, BLOCK)


def test_certificate_for_another_block_is_rejected() -> None:
    other = make_first_block(txs=(b"tx:other",))
    assert not verify_commit_certificate(VALIDATORS, certificate_from([0, 1, 2]), other)
    assert not verify_commit_certificate(
        VALIDATORS, certificate_from([0, 1, 2], digest=other.digest), BLOCK
    )


def test_signatures_for_another_view_do_not_count() -> None:
    certificate = certificate_from([0, 1, 2])
    assert not verify_commit_certificate(VALIDATORS, replace(certificate, view=1), BLOCK)
