"""A swap's terms and its party's progress, saved as JSON that survives a crash.

`save_state` writes a temporary file beside the target, fsyncs it, renames it
over the target and fsyncs the directory, so a reader (or a restarted
watcher) sees either the old state or the new one, never half of one. The
file holds the initiator's secret until the swap is over: it is created
readable by its owner only.
"""

from __future__ import annotations

import enum
import json
import os
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bftx.errors import ConfigError

STATE_VERSION = 1
LOG_ENTRIES_MAX = 200


class Role(enum.Enum):
    INITIATOR = "initiator"
    RESPONDER = "responder"


class Phase(enum.Enum):
    NEW = "new"  # terms saved (the initiator's secret too); nothing sent yet
    LOCKING = "locking"  # this party's lock was (maybe) sent; not yet seen final
    LOCKED = "locked"  # this party's lock is final; waiting for the other side
    CLAIMED = "claimed"  # this party claimed the other leg: the swap succeeded for it
    REFUNDED = "refunded"  # this party's lock came back after its expiry
    ABANDONED = "abandoned"  # the responder refused the offer before locking anything

    @property
    def is_final(self) -> bool:
        return self in (Phase.CLAIMED, Phase.REFUNDED, Phase.ABANDONED)


@dataclass(frozen=True, slots=True)
class Terms:
    """What both parties agreed. Chain A is the initiator's (it locks there, the responder
    claims there); chain B is the responder's. Addresses are each chain's own form."""

    hashlock: bytes
    initiator_chain: str
    initiator_asset: str
    initiator_amount: int
    initiator_sender: str  # the initiator's address on A
    initiator_receiver: str  # the responder's address on A
    initiator_expiry_ms: int  # T_I, by A's block timestamps
    responder_chain: str
    responder_asset: str
    responder_amount: int
    responder_sender: str  # the responder's address on B
    responder_receiver: str  # the initiator's address on B
    responder_expiry_ms: int  # T_R, by B's block timestamps
    initiator_lock_id: str | None = None  # known once the initiator's lock is sent

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {item.name: getattr(self, item.name) for item in fields(self)}
        document["hashlock"] = "0x" + self.hashlock.hex()
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Terms:
        try:
            values: dict[str, Any] = {item.name: document.get(item.name) for item in fields(cls)}
            values["hashlock"] = _hex_bytes(str(document["hashlock"]), 32, "hashlock")
            for name in (
                "initiator_amount",
                "initiator_expiry_ms",
                "responder_amount",
                "responder_expiry_ms",
            ):
                values[name] = int(document[name])
            for name in (
                "initiator_chain",
                "initiator_asset",
                "initiator_sender",
                "initiator_receiver",
                "responder_chain",
                "responder_asset",
                "responder_sender",
                "responder_receiver",
            ):
                values[name] = str(document[name])
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"not valid swap terms: {error}") from error
        return cls(**values)

    def with_initiator_lock(self, lock_id: str) -> Terms:
        return replace(self, initiator_lock_id=lock_id)


@dataclass(slots=True)
class SwapState:
    """One party's view of one swap."""

    role: Role
    terms: Terms
    phase: Phase = Phase.NEW
    secret: bytes | None = None  # the initiator's from the start; the responder's once revealed
    own_lock_id: str | None = None
    counterparty_lock_id: str | None = None
    connections: dict[str, Any] = field(default_factory=dict)  # how to reach both chains again
    log: list[dict[str, Any]] = field(default_factory=list)

    def note(self, message: str) -> None:
        self.log.append(
            {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "event": message}
        )
        del self.log[:-LOG_ENTRIES_MAX]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "role": self.role.value,
            "phase": self.phase.value,
            "terms": self.terms.to_json(),
            "secret": None if self.secret is None else "0x" + self.secret.hex(),
            "own_lock_id": self.own_lock_id,
            "counterparty_lock_id": self.counterparty_lock_id,
            "connections": self.connections,
            "log": self.log,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> SwapState:
        if document.get("version") != STATE_VERSION:
            raise ConfigError(f"swap state version {document.get('version')!r} is not supported")
        try:
            secret = document.get("secret")
            return cls(
                role=Role(document["role"]),
                terms=Terms.from_json(document["terms"]),
                phase=Phase(document["phase"]),
                secret=None if secret is None else _hex_bytes(str(secret), 32, "secret"),
                own_lock_id=document.get("own_lock_id"),
                counterparty_lock_id=document.get("counterparty_lock_id"),
                connections=dict(document.get("connections") or {}),
                log=list(document.get("log") or []),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"not a valid swap state: {error}") from error


def save_state(state: SwapState, path: Path) -> None:
    """Replace ``path`` with ``state`` atomically and durably."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = json.dumps(state.to_json(), indent=2).encode() + b"\n"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def load_state(path: Path) -> SwapState:
    try:
        document = json.loads(path.read_text())
    except OSError as error:
        raise ConfigError(f"cannot read the swap state {path}: {error}") from error
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path} is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise ConfigError(f"{path} is not a swap state")
    return SwapState.from_json(document)


def _hex_bytes(text: str, size: int, what: str) -> bytes:
    value = bytes.fromhex(text.removeprefix("0x"))
    if len(value) != size:
        raise ValueError(f"{what} must be {size} bytes, not {len(value)}")
    return value
