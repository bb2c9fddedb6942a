"""One leg of a swap: an HTLC on one chain, seen through one interface.

The driver (`bftx.swap.driver`) never knows which chain it talks to. A `Leg`
locks, claims and refunds for its owner, and reads locks, revealed preimages
and the chain's clock *as far as they are final*. Amounts are integers in the
asset's smallest unit (wei on Ethereum), times are ms, lock ids and addresses
are hex strings, so a swap's state is plain JSON.
"""

from __future__ import annotations

import contextlib
import enum
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import httpx
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address
from web3.exceptions import Web3Exception

from bftx import crypto
from bftx.client import Client, ClientError
from bftx.client.signing import RequestPolicy
from bftx.errors import BftxError
from bftx.ethereum.htlc import EthereumHtlc, LockState, compute_lock_id
from bftx.exchange import compute_contract_id

FIRST_BLOCK_WAIT_S = 10.0  # how long now_ms waits for a new chain's first block


class LockStatus(enum.Enum):
    OPEN = "open"
    CLAIMED = "claimed"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class LockView:
    """A lock as its chain has it, final."""

    lock_id: str
    sender: str
    receiver: str
    asset: str
    amount: int
    hashlock: bytes
    expiry_ms: int
    status: LockStatus
    preimage: bytes | None


class Leg(Protocol):
    """An HTLC on one chain, driven by one party (`address`)."""

    chain: str  # "bftx" or "ethereum": shown to people and saved in the swap state
    asset: str
    decimals: int

    @property
    def address(self) -> str:
        """The owner's address on this chain (where it receives, what it locks from)."""
        ...

    def normalize_address(self, address: str) -> str:
        """The canonical form of an address on this chain; ValueError if it is not one."""
        ...

    def now_ms(self) -> int:
        """The chain's clock: the timestamp of its latest final block."""
        ...

    def lock(self, receiver: str, hashlock: bytes, expiry_ms: int, amount: int) -> str:
        """Lock ``amount`` for ``receiver``; returns the lock id once the lock is final."""
        ...

    def find_lock(self, lock_id: str) -> LockView | None: ...

    def find_lock_for(
        self, sender: str, receiver: str, hashlock: bytes, amount: int, expiry_ms: int
    ) -> LockView | None:
        """The final lock with exactly these terms, if the chain lets one look it up."""
        ...

    def revealed_preimage(self, lock_id: str) -> bytes | None: ...

    def claim(self, lock_id: str, preimage: bytes) -> None: ...

    def refund(self, lock_id: str) -> None: ...

    def balance(self, address: str) -> int: ...


class LegError(BftxError):
    """A call on one leg's chain failed (unreachable node, rejected tx); the watcher retries."""


@contextlib.contextmanager
def _ethereum_errors() -> Iterator[None]:
    try:
        yield
    except (Web3Exception, OSError) as error:
        raise LegError(f"ethereum: {error}") from error


class EthereumLeg:
    """Ether in the HashedTimelock contract. Timelocks are whole seconds on Ethereum: an
    expiry in ms is rounded down to one, and the lock reports the rounded value."""

    chain = "ethereum"
    asset = "ETH"
    decimals = 18

    def __init__(self, htlc: EthereumHtlc, account: LocalAccount, *, finality_ms: int) -> None:
        self.htlc = htlc
        self.account = account
        self.finality_ms = finality_ms

    @property
    def address(self) -> str:
        return str(self.account.address)

    def normalize_address(self, address: str) -> str:
        if not is_address(address):
            raise ValueError(f"{address!r} is not an Ethereum address")
        return str(to_checksum_address(address))

    def now_ms(self) -> int:
        with _ethereum_errors():
            return self.htlc.final_timestamp_s() * 1000

    def lock(self, receiver: str, hashlock: bytes, expiry_ms: int, amount: int) -> str:
        with _ethereum_errors():
            lock_id = self.htlc.lock(self.account, receiver, hashlock, expiry_ms // 1000, amount)
            return "0x" + lock_id.hex()

    def find_lock(self, lock_id: str) -> LockView | None:
        with _ethereum_errors():
            found = self.htlc.get_lock(bytes.fromhex(lock_id.removeprefix("0x")))
            if found is None:
                return None
            status = {
                LockState.OPEN: LockStatus.OPEN,
                LockState.WITHDRAWN: LockStatus.CLAIMED,
                LockState.REFUNDED: LockStatus.REFUNDED,
            }[found.state]
            return LockView(
                lock_id="0x" + found.id.hex(),
                sender=found.sender,
                receiver=found.receiver,
                asset=self.asset,
                amount=found.amount_wei,
                hashlock=found.hashlock,
                expiry_ms=found.timelock_s * 1000,
                status=status,
                preimage=found.preimage,
            )

    def find_lock_for(
        self, sender: str, receiver: str, hashlock: bytes, amount: int, expiry_ms: int
    ) -> LockView | None:
        with _ethereum_errors():
            lock_id = compute_lock_id(sender, receiver, amount, hashlock, expiry_ms // 1000)
            return self.find_lock("0x" + lock_id.hex())

    def revealed_preimage(self, lock_id: str) -> bytes | None:
        with _ethereum_errors():
            return self.htlc.revealed_preimage(bytes.fromhex(lock_id.removeprefix("0x")))

    def claim(self, lock_id: str, preimage: bytes) -> None:
        with _ethereum_errors():
            self.htlc.withdraw(self.account, bytes.fromhex(lock_id.removeprefix("0x")), preimage)

    def refund(self, lock_id: str) -> None:
        with _ethereum_errors():
            self.htlc.refund(self.account, bytes.fromhex(lock_id.removeprefix("0x")))

    def balance(self, address: str) -> int:
        with _ethereum_errors():
            return self.htlc.balance_wei(address)


class BftxLeg:
    """An asset in a bftx HTLC, through the SDK (`bftx.client.Client`). Every SDK call waits
    for the tx's block to be committed, which on bftx is final."""

    chain = "bftx"
    nonce_scan_max = 32  # a sender's most recent txs searched for a lock with given terms

    def __init__(self, client: Client, asset: str, *, timeout_s: float = 10.0) -> None:
        self.client = client
        self.asset = asset
        # Reads the SDK has no method for (chain time, any account's nonce) go straight to
        # the REST API the client uses, signed and patient on 429 like the SDK's requests.
        self._http = httpx.Client(
            base_url=client.url, timeout=timeout_s, auth=RequestPolicy(client.key)
        )
        assets = {entry["symbol"]: int(entry["decimals"]) for entry in self._read("/v1/assets")}
        if asset not in assets:
            raise LegError(f"bftx has no asset {asset!r}; assets: {', '.join(sorted(assets))}")
        self.decimals = assets[asset]
        self._scanned_to: dict[str, int] = {}  # sender -> nonces below this held no match

    @property
    def address(self) -> str:
        return self.client.address

    def normalize_address(self, address: str) -> str:
        text = address.lower().removeprefix("0x")
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if len(raw) != crypto.ADDRESS_BYTES:
            raise ValueError(
                f"{address!r} is not a bftx address ({crypto.ADDRESS_BYTES} bytes hex)"
            )
        return raw.hex()

    def now_ms(self) -> int:
        """The chain's time: the latest block's timestamp (a new chain's first block is awaited)."""
        deadline = time.monotonic() + FIRST_BLOCK_WAIT_S
        while True:
            response = self._http.get("/v1/blocks/latest")
            if response.status_code != 404 or time.monotonic() > deadline:
                break
            time.sleep(0.1)  # no block committed yet: a fresh chain's first comes within a second
        try:
            response.raise_for_status()
            return int(response.json()["timestamp_ms"])
        except (httpx.HTTPError, ValueError, KeyError) as error:
            raise LegError(f"bftx: GET /v1/blocks/latest failed: {error}") from error

    def lock(self, receiver: str, hashlock: bytes, expiry_ms: int, amount: int) -> str:
        locked = self._call(
            self.client.htlc_lock, self.asset, self._decimal(amount), receiver, hashlock, expiry_ms
        )
        return str(locked["id"])

    def find_lock(self, lock_id: str) -> LockView | None:
        try:
            found = self.client.fetch_htlc(lock_id)
        except ClientError as error:
            if error.status == 404:
                return None
            raise LegError(f"bftx: {error}") from error
        return LockView(
            lock_id=str(found["id"]),
            sender=str(found["sender"]),
            receiver=str(found["receiver"]),
            asset=str(found["asset"]),
            amount=int(found["amount_units"]),
            hashlock=bytes.fromhex(str(found["hashlock"]).removeprefix("0x")),
            expiry_ms=int(found["expiry_ms"]),
            status=LockStatus(str(found["status"])),
            preimage=bytes.fromhex(str(found["preimage"])) if found.get("preimage") else None,
        )

    def find_lock_for(
        self, sender: str, receiver: str, hashlock: bytes, amount: int, expiry_ms: int
    ) -> LockView | None:
        """A contract's id is `compute_contract_id(sender, nonce)` of the tx that made it, so
        the sender's most recent nonces name every lock it can have just made. A used nonce's
        contract never changes its terms, so nonces already searched are not asked again."""
        sender_hex = self.normalize_address(sender)
        forbidden = (
            f"bftx: the responder's account {sender_hex} is not readable here (the network's "
            "reads are permissioned), so its lock cannot be looked up by its terms; ask the "
            "responder for its lock id and run `bftx swap watch --state FILE --counterparty-lock ID`"
        )
        next_nonce = int(self._read(f"/v1/accounts/{sender_hex}", forbidden=forbidden)["nonce"])
        lowest = max(0, next_nonce - self.nonce_scan_max, self._scanned_to.get(sender_hex, 0))
        wanted = (self.normalize_address(receiver), hashlock, amount, expiry_ms, self.asset)
        for nonce in range(next_nonce - 1, lowest - 1, -1):
            found = self.find_lock(compute_contract_id(bytes.fromhex(sender_hex), nonce).hex())
            if found is None:
                continue
            terms = (found.receiver, found.hashlock, found.amount, found.expiry_ms, found.asset)
            if terms == wanted:
                return found
        self._scanned_to[sender_hex] = next_nonce
        return None

    def revealed_preimage(self, lock_id: str) -> bytes | None:
        found = self.find_lock(lock_id)
        return None if found is None else found.preimage

    def claim(self, lock_id: str, preimage: bytes) -> None:
        self._call(self.client.htlc_claim, lock_id, preimage)

    def refund(self, lock_id: str) -> None:
        self._call(self.client.htlc_refund, lock_id)

    def balance(self, address: str) -> int:
        account = self._read(f"/v1/accounts/{self.normalize_address(address)}")
        for entry in account["balances"]:
            if entry["asset"] == self.asset:
                return int(entry["available_units"]) + int(entry["locked_units"])
        return 0

    def close(self) -> None:
        """Close this leg's connections, the client's too."""
        self._http.close()
        self.client.close()

    def _read(self, path: str, *, forbidden: str | None = None) -> Any:
        """GET ``path`` as JSON; a 403 raises ``forbidden`` (when given) as the error."""
        try:
            response = self._http.get(path)
            if response.status_code == 403 and forbidden is not None:
                raise LegError(forbidden)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise LegError(f"bftx: GET {path} failed: {error}") from error

    def _decimal(self, amount: int) -> Decimal:
        return Decimal(amount).scaleb(-self.decimals)

    @staticmethod
    def _call(function: Callable[..., Any], *arguments: Any) -> Any:
        try:
            return function(*arguments)
        except ClientError as error:
            raise LegError(f"bftx: {error}") from error
