"""Validator identity on the wire: self-signed X.509 certificates and pinned TLS 1.3 contexts.

Owns: the certificate that carries a validator's Ed25519 key (the same key it
signs consensus messages with), the certificate and private key PEM files,
the pinned peer records taken from genesis, and the `ssl.SSLContext` for both
ends of a link: TLS 1.3 only, a certificate required from both sides, and the
pinned peers' certificates as the *only* trust anchors.

Must never: trust a certificate authority, a hostname or anything outside the
pinned set; accept a TLS version below 1.3; write a private key that others
can read. Deciding that an authenticated key is allowed on a given link is
the network's job (`bftx.p2p.network`), with `peer_public_key` from here.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import ssl
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bftx.crypto import PUBLIC_KEY_BYTES, KeyPair
from bftx.errors import ConfigError

NAME_BYTES_MAX = 64

# Fixed validity window: the certificate's trust comes from genesis, not from
# dates. 9999-12-31 is RFC 5280's "no well-defined expiration date".
_NOT_BEFORE = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
_NOT_AFTER = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)
_SERIAL_DOMAIN = b"bftx/p2p/certificate-serial/v1"


@dataclass(frozen=True, slots=True)
class Identity:
    """This node's key pair and the certificate that carries its public key."""

    key: KeyPair
    certificate_pem: bytes

    @staticmethod
    def create(key: KeyPair, name: str) -> Identity:
        return Identity(key=key, certificate_pem=create_certificate(key, name))

    @property
    def public_key(self) -> bytes:
        return self.key.public_key

    def __repr__(self) -> str:  # never print the seed
        return f"Identity(public_key={self.key.public_key.hex()})"


@dataclass(frozen=True, slots=True)
class Peer:
    """A pinned validator from genesis. ``host``/``port`` are None for a peer that only dials."""

    public_key: bytes
    name: str
    host: str | None
    port: int | None
    certificate_pem: bytes

    @staticmethod
    def from_certificate(
        name: str, host: str | None, port: int | None, certificate_pem: bytes
    ) -> Peer:
        """A peer whose public key is read from (and checked against) its certificate."""
        public_key = certificate_public_key(certificate_pem)
        return Peer(public_key, name, host, port, certificate_pem)

    @property
    def has_address(self) -> bool:
        return self.host is not None and self.port is not None

    def check(self) -> None:
        """Raise `ConfigError` unless the record is usable: the certificate carries ``public_key``."""
        if len(self.public_key) != PUBLIC_KEY_BYTES:
            raise ConfigError(f"peer {self.name!r}: a public key is {PUBLIC_KEY_BYTES} bytes")
        if (self.host is None) != (self.port is None):
            raise ConfigError(f"peer {self.name!r}: give both host and port, or neither")
        if self.port is not None and not 0 < self.port < 65_536:
            raise ConfigError(f"peer {self.name!r}: port {self.port} is out of range")
        if certificate_public_key(self.certificate_pem) != self.public_key:
            raise ConfigError(f"peer {self.name!r}: the certificate carries another public key")


# --- certificates ------------------------------------------------------------


def create_certificate(key: KeyPair, name: str) -> bytes:
    """The self-signed PEM certificate of ``key``, named ``name``.

    Deterministic: the same key and name always give the same bytes (Ed25519
    signatures are deterministic, the serial is derived from the key and the
    validity window is fixed), so a node can rebuild the certificate that
    genesis pins from its key file alone.
    """
    if not name or len(name.encode()) > NAME_BYTES_MAX:
        raise ConfigError(f"a certificate name is 1 to {NAME_BYTES_MAX} bytes, got {name!r}")
    private_key = Ed25519PrivateKey.from_private_bytes(key.seed)
    public_key = private_key.public_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    serial = int.from_bytes(hashlib.sha256(_SERIAL_DOMAIN + key.public_key).digest()[:16]) >> 1
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    purposes = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(private_key, None)
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def certificate_public_key(certificate_pem: bytes) -> bytes:
    """The raw Ed25519 public key of a self-signed certificate; `ConfigError` otherwise."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError as error:
        raise ConfigError(f"not a PEM certificate: {error}") from error
    return _self_signed_ed25519_key(certificate)


def certificate_public_key_der(certificate_der: bytes) -> bytes:
    """As `certificate_public_key`, for the DER bytes a TLS connection reports."""
    try:
        certificate = x509.load_der_x509_certificate(certificate_der)
    except ValueError as error:
        raise ConfigError(f"not a DER certificate: {error}") from error
    return _self_signed_ed25519_key(certificate)


def _self_signed_ed25519_key(certificate: x509.Certificate) -> bytes:
    public_key = certificate.public_key()
    if not isinstance(public_key, Ed25519PublicKey):
        raise ConfigError("the certificate's key is not an Ed25519 key")
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature) as error:
        raise ConfigError("the certificate is not self-signed by its own key") from error
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def peer_public_key(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> bytes | None:
    """The Ed25519 key of the certificate the other end presented, or None if there is none."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    try:
        return certificate_public_key_der(der)
    except ConfigError:
        return None


# --- files ---------------------------------------------------------------------


def private_key_pem(key: KeyPair) -> bytes:
    """``key`` as an unencrypted PKCS#8 PEM (what TLS libraries load)."""
    return Ed25519PrivateKey.from_private_bytes(key.seed).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def save_identity(identity: Identity, certificate_path: Path, private_key_path: Path) -> None:
    """Write the certificate (0644) and the private key (0600). Never overwrites either."""
    _write_new(private_key_path, private_key_pem(identity.key), 0o600)
    _write_new(certificate_path, identity.certificate_pem, 0o644)


def load_certificate(path: Path) -> bytes:
    """A pinned peer's certificate file, checked to be a self-signed Ed25519 certificate."""
    try:
        certificate_pem = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read certificate: {error.strerror}") from error
    try:
        certificate_public_key(certificate_pem)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from error
    return certificate_pem


def load_identity(certificate_path: Path, private_key_path: Path) -> Identity:
    """Read files written by `save_identity`; refuse a key others can read or a mismatched pair."""
    try:
        mode = private_key_path.stat().st_mode
        key_pem = private_key_path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{private_key_path}: cannot read key: {error.strerror}") from error
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{private_key_path}: key file permissions {stat.S_IMODE(mode):o} are too open; "
            f"run chmod 600 {private_key_path}"
        )
    try:
        private_key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{private_key_path}: not a PEM private key ({error})") from error
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ConfigError(f"{private_key_path}: not an Ed25519 private key")
    key = KeyPair.from_seed(private_key.private_bytes_raw())
    certificate_pem = load_certificate(certificate_path)
    if certificate_public_key(certificate_pem) != key.public_key:
        raise ConfigError(f"{certificate_path}: the certificate does not match {private_key_path}")
    return Identity(key=key, certificate_pem=certificate_pem)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as error:
        raise ConfigError(f"{path}: already exists; refusing to overwrite it") from error
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


# --- TLS contexts ------------------------------------------------------------------


def server_context(identity: Identity, peers: list[Peer]) -> ssl.SSLContext:
    """The listening side: TLS 1.3, a certificate from a pinned peer required."""
    return _context(ssl.PROTOCOL_TLS_SERVER, identity, peers)


def client_context(identity: Identity, peers: list[Peer]) -> ssl.SSLContext:
    """The dialing side: TLS 1.3, the server's certificate must be a pinned peer's."""
    return _context(ssl.PROTOCOL_TLS_CLIENT, identity, peers)


def _context(protocol: ssl._SSLMethod, identity: Identity, peers: list[Peer]) -> ssl.SSLContext:
    context = ssl.SSLContext(protocol)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    # Identity is the pinned key, checked after the handshake; names mean nothing here.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    context.options |= ssl.OP_NO_TICKET
    anchors = b"".join(peer.certificate_pem for peer in peers)
    if anchors:
        context.load_verify_locations(cadata=anchors.decode("ascii"))
    _load_identity_into(context, identity)
    return context


def _load_identity_into(context: ssl.SSLContext, identity: Identity) -> None:
    # The ssl module loads keys only from files: use a private directory (0700)
    # that is removed as soon as the key is loaded.
    with tempfile.TemporaryDirectory(prefix="bftx-tls-") as directory:
        certificate_path = Path(directory) / "certificate.pem"
        key_path = Path(directory) / "key.pem"
        _write_new(certificate_path, identity.certificate_pem, 0o600)
        _write_new(key_path, private_key_pem(identity.key), 0o600)
        try:
            context.load_cert_chain(certificate_path, key_path)
        except ssl.SSLError as error:
            raise ConfigError(f"the certificate does not match the key: {error}") from error
