"""Certificates that carry the validator's Ed25519 key, their files, and the TLS contexts."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from bftx.crypto import KeyPair
from bftx.errors import ConfigError
from bftx.p2p import (
    Identity,
    Peer,
    certificate_public_key,
    create_certificate,
    load_certificate,
    load_identity,
    save_identity,
)
from bftx.p2p.identity import client_context, server_context

KEY = KeyPair.from_seed(b"\x07" * 32)
OTHER = KeyPair.from_seed(b"\x08" * 32)


def test_certificate_carries_the_validator_key_and_is_deterministic() -> None:
    pem = create_certificate(KEY, "validator-0")
    assert certificate_public_key(pem) == KEY.public_key
    assert create_certificate(KEY, "validator-0") == pem
    certificate = x509.load_pem_x509_certificate(pem)
    assert certificate.subject.rfc4514_string() == "CN=validator-0"
    assert certificate.issuer == certificate.subject


def test_identity_files_round_trip_with_a_private_key_only_the_owner_reads(tmp_path: Path) -> None:
    identity = Identity.create(KEY, "validator-0")
    save_identity(identity, tmp_path / "node.crt", tmp_path / "node.key")
    assert (tmp_path / "node.key").stat().st_mode & 0o777 == 0o600
    assert load_identity(tmp_path / "node.crt", tmp_path / "node.key") == identity
    assert load_certificate(tmp_path / "node.crt") == identity.certificate_pem
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        save_identity(identity, tmp_path / "node.crt", tmp_path / "node.key")


def test_a_private_key_others_can_read_is_refused(tmp_path: Path) -> None:
    save_identity(Identity.create(KEY, "v"), tmp_path / "node.crt", tmp_path / "node.key")
    (tmp_path / "node.key").chmod(0o644)
    with pytest.raises(ConfigError, match="too open"):
        load_identity(tmp_path / "node.crt", tmp_path / "node.key")


def test_a_certificate_for_another_key_is_refused(tmp_path: Path) -> None:
    save_identity(Identity.create(KEY, "v"), tmp_path / "a.crt", tmp_path / "a.key")
    save_identity(Identity.create(OTHER, "w"), tmp_path / "b.crt", tmp_path / "b.key")
    with pytest.raises(ConfigError, match="does not match"):
        load_identity(tmp_path / "b.crt", tmp_path / "a.key")
    peer = Peer(KEY.public_key, "v", "127.0.0.1", 1, create_certificate(OTHER, "w"))
    with pytest.raises(ConfigError, match="another public key"):
        peer.check()


def test_a_certificate_not_signed_by_its_own_key_is_refused() -> None:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "forged")])
    signer = Ed25519PrivateKey.from_private_bytes(OTHER.seed)
    forged = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(Ed25519PrivateKey.from_private_bytes(KEY.seed).public_key())
        .serial_number(1)
        .not_valid_before(datetime.datetime(2020, 1, 1))
        .not_valid_after(datetime.datetime(2100, 1, 1))
        .sign(signer, None)
    )
    with pytest.raises(ConfigError, match="not self-signed"):
        certificate_public_key(forged.public_bytes(serialization.Encoding.PEM))


def test_a_non_ed25519_certificate_is_refused() -> None:
    private_key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ecdsa")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private_key.public_key())
        .serial_number(1)
        .not_valid_before(datetime.datetime(2020, 1, 1))
        .not_valid_after(datetime.datetime(2100, 1, 1))
        .sign(private_key, hashes.SHA256())
    )
    with pytest.raises(ConfigError, match="not an Ed25519 key"):
        certificate_public_key(certificate.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(ConfigError, match="not a PEM certificate"):
        certificate_public_key(b"-----BEGIN CERTIFICATE-----\nnope\n")


def test_tls_contexts_require_tls13_and_a_peer_certificate() -> None:
    identity = Identity.create(KEY, "v")
    peers = [Peer.from_certificate("w", "127.0.0.1", 9, create_certificate(OTHER, "w"))]
    for context in (server_context(identity, peers), client_context(identity, peers)):
        assert context.minimum_version == ssl.TLSVersion.TLSv1_3
        assert context.verify_mode == ssl.CERT_REQUIRED
        # the pinned certificates are the only trust anchors
        assert context.cert_store_stats()["x509"] == 1


def test_peer_record_checks() -> None:
    certificate = create_certificate(OTHER, "w")
    assert Peer.from_certificate("w", None, None, certificate).public_key == OTHER.public_key
    with pytest.raises(ConfigError, match="both host and port"):
        Peer(OTHER.public_key, "w", "127.0.0.1", None, certificate).check()
    with pytest.raises(ConfigError, match="out of range"):
        Peer(OTHER.public_key, "w", "127.0.0.1", 70_000, certificate).check()
    with pytest.raises(ConfigError, match="certificate name"):
        create_certificate(KEY, "")
