"""Who may read what through a node's APIs: the access policy and the request signature.

A network's genesis may carry an ``"api"`` section:

    "api": {"reads": "permissioned", "auditors": ["<address>", ...], "operators": ["<address>", ...]}

``reads`` is ``"open"`` (the default: anyone who can reach a node reads
everything, as before) or ``"permissioned"``: every API request but the
health check must be signed by a key, an account's balances, orders and fills
are visible to that account and to auditors only, and public market data to
every participant. Validators are operators.

A signed request carries three headers (gRPC: the same names as metadata):
``x-bftx-key`` (the Ed25519 public key, hex), ``x-bftx-timestamp`` (ms since
the epoch), ``x-bftx-nonce`` (16 random bytes, hex) and ``x-bftx-signature``
(hex), the signature of `compute_signing_payload`: the scheme name, the
method, the authority (the ``Host`` the client sent to), the request target
(path and query, as sent), the timestamp, the nonce and the SHA-256 of the
body, one per line. This follows the
shape of RFC 9421 HTTP Message Signatures (covered components ``@method``,
``@authority``, ``@request-target``, ``created`` and a content digest) with
fixed components, so a client needs no structured-field parser.

Pure: no I/O and no clock. The node's `bftx.api.access` checks signatures;
the SDK's `bftx.client.signing` makes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bftx import crypto
from bftx.errors import ConfigError

SCHEME = "bftx-request-v1"
HEADER_KEY = "x-bftx-key"
HEADER_TIMESTAMP = "x-bftx-timestamp"
HEADER_SIGNATURE = "x-bftx-signature"
HEADER_NONCE = "x-bftx-nonce"  # random per request: two equal requests in one ms differ
NONCE_HEX_CHARS = 32

READS = ("open", "permissioned")
ROLE_PARTICIPANT = "participant"
ROLE_AUDITOR = "auditor"
ROLE_OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    permissioned: bool = False
    auditors: frozenset[bytes] = frozenset()
    operators: frozenset[bytes] = frozenset()

    @staticmethod
    def from_document(document: Any, where: str = "genesis.api") -> AccessPolicy:
        if document is None:
            return AccessPolicy()
        if not isinstance(document, Mapping):
            raise ConfigError(f"{where}: expected an object")
        unknown = set(document) - {"reads", "auditors", "operators"}
        if unknown:
            raise ConfigError(f"{where}: unknown field {sorted(unknown)[0]!r}")
        reads = document.get("reads", "open")
        if reads not in READS:
            raise ConfigError(f"{where}.reads: expected one of {', '.join(READS)}")
        return AccessPolicy(
            permissioned=reads == "permissioned",
            auditors=_addresses(document.get("auditors", []), f"{where}.auditors"),
            operators=_addresses(document.get("operators", []), f"{where}.operators"),
        )

    def to_document(self) -> dict[str, Any] | None:
        """The genesis section, or None for the default (open reads, no roles)."""
        if self == AccessPolicy():
            return None
        return {
            "reads": "permissioned" if self.permissioned else "open",
            "auditors": sorted(address.hex() for address in self.auditors),
            "operators": sorted(address.hex() for address in self.operators),
        }


def compute_signing_payload(
    method: str, authority: str, target: str, timestamp_ms: int, nonce: str, body: bytes
) -> bytes:
    """The bytes a request's signature covers (see the module docstring)."""
    lines = (
        SCHEME,
        method.upper(),
        authority.lower(),
        target,
        str(timestamp_ms),
        nonce,
        crypto.sha256(body).hex(),
    )
    return "\n".join(lines).encode()


def sign_request(
    key: crypto.KeyPair,
    method: str,
    authority: str,
    target: str,
    timestamp_ms: int,
    body: bytes,
    nonce: bytes,
) -> dict[str, str]:
    """The headers that sign one request as ``key``; ``nonce`` is 16 fresh random bytes."""
    assert len(nonce) * 2 == NONCE_HEX_CHARS
    payload = compute_signing_payload(method, authority, target, timestamp_ms, nonce.hex(), body)
    return {
        HEADER_KEY: key.public_key.hex(),
        HEADER_TIMESTAMP: str(timestamp_ms),
        HEADER_NONCE: nonce.hex(),
        HEADER_SIGNATURE: key.sign(payload).hex(),
    }


def _addresses(value: Any, where: str) -> frozenset[bytes]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of addresses in hex")
    found = set()
    for index, text in enumerate(value):
        try:
            address = bytes.fromhex(text) if isinstance(text, str) else b""
        except ValueError:
            address = b""
        if len(address) != crypto.ADDRESS_BYTES:
            raise ConfigError(f"{where}[{index}]: expected {crypto.ADDRESS_BYTES} bytes in hex")
        found.add(address)
    return frozenset(found)
