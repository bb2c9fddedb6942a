"""A chain's genesis document: its id, its validators, and the application's initial state.

The genesis file is JSON. This module reads the chain-level part (chain id,
genesis time, the validator set with each validator's Ed25519 public key) and
keeps the application's part (``"exchange"``) as the raw document for
`bftx.exchange.ExchangeGenesis` to read, so the foundations never depend on a
subsystem. Errors are `ConfigError` naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bftx import crypto, limits
from bftx.access import AccessPolicy
from bftx.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Validator:
    """A member of the network: a voting validator, or a follower (``genesis.followers``).

    ``certificate`` is the PEM of the self-signed TLS certificate that carries
    ``public_key`` (`bftx.p2p.identity`); peers pin it.
    """

    name: str
    public_key: bytes
    certificate: str = ""

    @property
    def address(self) -> bytes:
        return crypto.address_of(self.public_key)


@dataclass(frozen=True, slots=True)
class Genesis:
    chain_id: str
    genesis_time_ms: int
    validators: tuple[Validator, ...]
    exchange: Mapping[str, Any]
    followers: tuple[Validator, ...] = ()
    access: AccessPolicy = field(default_factory=AccessPolicy)  # who may read what (APIs)

    def validator_index(self, public_key: bytes) -> int | None:
        for index, validator in enumerate(self.validators):
            if validator.public_key == public_key:
                return index
        return None

    def to_document(self) -> dict[str, Any]:
        document = {
            "chain_id": self.chain_id,
            "genesis_time_ms": self.genesis_time_ms,
            "validators": [_member_document(member) for member in self.validators],
            "followers": [_member_document(member) for member in self.followers],
            "exchange": dict(self.exchange),
        }
        api = self.access.to_document()
        if api is not None:  # absent by default, so older genesis files keep their hash
            document["api"] = api
        return document

    @staticmethod
    def from_document(document: Any) -> Genesis:
        if not isinstance(document, Mapping):
            raise ConfigError("genesis: expected a JSON object")
        chain_id = document.get("chain_id")
        if (
            not isinstance(chain_id, str)
            or not chain_id
            or len(chain_id.encode()) > limits.chain_id_bytes_max
        ):
            raise ConfigError(
                f"genesis.chain_id: expected a string of 1 to {limits.chain_id_bytes_max} bytes"
            )
        genesis_time_ms = document.get("genesis_time_ms", 0)
        if (
            not isinstance(genesis_time_ms, int)
            or isinstance(genesis_time_ms, bool)
            or genesis_time_ms < 0
        ):
            raise ConfigError("genesis.genesis_time_ms: expected a non-negative integer")
        entries = document.get("validators")
        if not isinstance(entries, list) or not 1 <= len(entries) <= limits.validators_max:
            raise ConfigError(
                f"genesis.validators: expected a list of 1 to {limits.validators_max} validators"
            )
        validators = tuple(
            _validator(entry, f"genesis.validators[{index}]") for index, entry in enumerate(entries)
        )
        follower_entries = document.get("followers", [])
        if not isinstance(follower_entries, list) or len(follower_entries) > limits.validators_max:
            raise ConfigError(
                f"genesis.followers: expected a list of at most {limits.validators_max}"
            )
        followers = tuple(
            _validator(entry, f"genesis.followers[{index}]")
            for index, entry in enumerate(follower_entries)
        )
        members = validators + followers
        if len({v.public_key for v in members}) != len(members):
            raise ConfigError("genesis: validator and follower public keys must be distinct")
        if len({v.name for v in members}) != len(members):
            raise ConfigError("genesis: validator and follower names must be distinct")
        exchange = document.get("exchange")
        if not isinstance(exchange, Mapping):
            raise ConfigError("genesis.exchange: expected an object")
        if exchange.get("chain_id", chain_id) != chain_id:
            raise ConfigError("genesis.exchange.chain_id: must equal genesis.chain_id")
        return Genesis(
            chain_id,
            genesis_time_ms,
            validators,
            {**exchange, "chain_id": chain_id},
            followers,
            AccessPolicy.from_document(document.get("api")),
        )

    def compute_hash(self) -> bytes:
        """SHA-256 of the genesis document in canonical JSON: the store is bound to it."""
        canonical = json.dumps(self.to_document(), sort_keys=True, separators=(",", ":"))
        return crypto.sha256(canonical.encode())

    @staticmethod
    def load(path: Path) -> Genesis:
        try:
            document = json.loads(path.read_text())
        except OSError as error:
            raise ConfigError(f"{path}: cannot read genesis: {error.strerror}") from error
        except UnicodeDecodeError as error:
            raise ConfigError(f"{path}: not valid JSON: not UTF-8 text ({error.reason})") from error
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}: not valid JSON: {error}") from error
        return Genesis.from_document(document)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_document(), indent=2) + "\n")


def _validator(entry: Any, where: str) -> Validator:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected an object")
    name = entry.get("name")
    if not isinstance(name, str) or not name or len(name) > 64:
        raise ConfigError(f"{where}.name: expected a non-empty string of at most 64 characters")
    key_text = entry.get("public_key")
    try:
        public_key = bytes.fromhex(key_text) if isinstance(key_text, str) else b""
    except ValueError:
        public_key = b""
    if len(public_key) != crypto.PUBLIC_KEY_BYTES:
        raise ConfigError(f"{where}.public_key: expected {crypto.PUBLIC_KEY_BYTES} bytes in hex")
    certificate = entry.get("certificate", "")
    if not isinstance(certificate, str) or len(certificate) > 16_384:
        raise ConfigError(f"{where}.certificate: expected a PEM string")
    return Validator(name, public_key, certificate)


def _member_document(member: Validator) -> dict[str, str]:
    document = {"name": member.name, "public_key": member.public_key.hex()}
    if member.certificate:
        document["certificate"] = member.certificate
    return document
